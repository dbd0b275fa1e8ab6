//! The rules catalog (RULES.md) and the import table stay true to the code.

use std::collections::BTreeSet;

#[test]
fn rules_catalog_is_in_sync() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/RULES.md");
    let generated = ndis_emu::catalog::catalog_markdown();
    if std::env::var_os("NDIS_EMU_BLESS").is_some() {
        std::fs::write(path, &generated).expect("write RULES.md");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "RULES.md is out of date: run `NDIS_EMU_BLESS=1 cargo test -p ndis-emu --test catalog`"
    );
}

/// Every function ndis-sys declares as an import, by (module, name), parsed
/// from its `ndis_import!` blocks.
fn ndis_sys_imports() -> BTreeSet<(String, String)> {
    let src = include_str!("../../ndis-sys/src/imports.rs");
    let mut out = BTreeSet::new();
    let mut module = None;
    for line in src.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ndis_import!(\"") {
            module = rest.split('"').next().map(str::to_string);
        } else if line == "});" {
            module = None;
        } else if let (Some(m), Some(rest)) = (&module, line.strip_prefix("pub fn ")) {
            let name = rest.split('(').next().unwrap_or_default();
            out.insert((m.clone(), name.to_string()));
        }
    }
    out
}

#[test]
fn the_import_table_implements_every_import_ndis_sys_declares() {
    let declared = ndis_sys_imports();
    assert!(declared.len() > 40, "parsed only {} imports", declared.len());
    let table: BTreeSet<(String, String)> = ndis_emu::ffi::table::table()
        .iter()
        .map(|i| (i.module.to_string(), i.name.to_string()))
        .collect();
    let missing: Vec<_> = declared.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "declared by ndis-sys but not implemented by ndis-emu: {missing:?}"
    );
    let extra: Vec<_> = table.difference(&declared).collect();
    assert!(extra.is_empty(), "in the table but not declared by ndis-sys: {extra:?}");
}

#[test]
fn the_import_table_resolves_names_and_refuses_unknown_ones() {
    assert!(ndis_emu::ffi::table::resolve("NDIS.SYS", "NdisMRegisterMiniportDriver").is_some());
    assert!(ndis_emu::ffi::table::resolve("ntoskrnl.exe", "KeBugCheckEx").is_some());
    assert!(ndis_emu::ffi::table::resolve("ndis.sys", "NdisNoSuchThing").is_none());
    assert!(ndis_emu::ffi::table::resolve("hal.dll", "KeBugCheckEx").is_none());
}

/// The names of the `#[test]` functions in this crate's test files.
fn test_names() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut tests = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("tests/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a test file");
        let mut after_test_attr = false;
        for line in text.lines().map(str::trim) {
            if line == "#[test]" {
                after_test_attr = true;
            } else if after_test_attr && let Some(rest) = line.strip_prefix("fn ") {
                tests.insert(rest.split('(').next().unwrap_or_default().to_owned());
                after_test_attr = false;
            } else if after_test_attr && !line.starts_with("#[") && !line.starts_with("///") {
                after_test_attr = false;
            }
        }
    }
    tests
}

/// Every rule's proving test exists: a `#[test]` function of that name in
/// one of this crate's test files (the catalog names it, so a renamed or
/// deleted teeth test would otherwise leave a rule that no test proves).
#[test]
fn every_rule_names_a_test_that_exists() {
    let tests = test_names();
    let missing: Vec<String> = ndis_emu::catalog::all()
        .iter()
        .map(|r| r.info())
        .filter(|i| !tests.contains(i.proving_test))
        .map(|i| format!("{} -> {}", i.id, i.proving_test))
        .collect();
    assert!(
        missing.is_empty(),
        "rules whose proving test does not exist: {missing:#?}"
    );
}

/// Every Microsoft NDIS rule of `data/ms-ndis-rules.txt` has exactly one
/// mapping in `src/compliance.rs` and every mapping names a rule of that
/// list; every enforced mapping names ndis-emu rules that exist and a
/// proving test that exists. The list keeps the rule sets the issue names
/// (DDI usage, IRQL, Locking, Memory usage, Miscellaneous, OidProcessing).
#[test]
fn the_compliance_table_covers_every_microsoft_rule() {
    use ndis_emu::compliance::{self, Verdict};
    let ms = compliance::ms_rules().expect("data/ms-ndis-rules.txt is well formed");
    let names: BTreeSet<&str> = ms.iter().map(|r| r.name).collect();
    assert_eq!(names.len(), ms.len(), "a Microsoft rule is listed twice");
    for set in [
        "DDI usage",
        "IRQL",
        "Locking",
        "Memory usage",
        "Miscellaneous",
        "OidProcessing",
    ] {
        assert!(ms.iter().any(|r| r.set == set), "no rule of the {set} set in the list");
    }
    let unmapped: Vec<&str> = ms
        .iter()
        .map(|r| r.name)
        .filter(|n| compliance::MAPPINGS.iter().filter(|m| m.name == *n).count() != 1)
        .collect();
    assert!(
        unmapped.is_empty(),
        "Microsoft rules without exactly one mapping: {unmapped:?}"
    );
    let stray: Vec<&str> = compliance::MAPPINGS
        .iter()
        .map(|m| m.name)
        .filter(|n| !names.contains(n))
        .collect();
    assert!(stray.is_empty(), "mappings of no Microsoft rule in the list: {stray:?}");

    let ids: BTreeSet<&str> = ndis_emu::catalog::all().iter().map(|r| r.id()).collect();
    let tests = test_names();
    let mut wrong = Vec::new();
    for m in compliance::MAPPINGS {
        if let Verdict::Enforced { rules, test } = m.verdict {
            assert!(!rules.is_empty(), "{} is enforced by no rule", m.name);
            for id in rules {
                if !ids.contains(id) {
                    wrong.push(format!("{} -> rule {id}, which does not exist", m.name));
                }
            }
            if !tests.contains(test) {
                wrong.push(format!("{} -> test {test}, which does not exist", m.name));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The files of `src/` (paths relative to it) whose code names each rule's
/// constant, by rule id: where the rule is reported or checked. Comments,
/// string literals, the `define_rules!` blocks that declare the rules and
/// each file's trailing `#[cfg(test)]` module are left out, so a
/// declaration, a doc link or a unit test is not an enforcement site.
fn enforcement_sites() -> std::collections::BTreeMap<&'static str, BTreeSet<String>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    /// The text without comments, string contents and `define_rules!`
    /// blocks, up to the file's `#[cfg(test)]` module.
    fn code(text: &str) -> String {
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(at) => &text[..at],
            None => text,
        };
        let b = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < b.len() {
            if b[i..].starts_with(b"//") {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            } else if b[i..].starts_with(b"/*") {
                i += 2;
                while i < b.len() && !b[i..].starts_with(b"*/") {
                    i += 1;
                }
                i += 2;
            } else if b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            } else if b[i..].starts_with(b"define_rules! {") {
                let mut depth = 0;
                while i < b.len() {
                    match b[i] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            } else {
                out.push(b[i] as char);
                i += 1;
            }
        }
        out
    }
    let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files = Vec::new();
    walk(src, &mut files);
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, code(&std::fs::read_to_string(p).expect("read a source file")))
        })
        .collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    ndis_emu::catalog::all()
        .iter()
        .map(|r| {
            let name = r.info().name;
            let sites = texts
                .iter()
                .filter(|(_, text)| {
                    text.match_indices(name).any(|(at, _)| {
                        !text[..at].ends_with(is_ident) && !text[at + name.len()..].starts_with(is_ident)
                    })
                })
                .map(|(rel, _)| rel.clone())
                .collect();
            (r.id(), sites)
        })
        .collect()
}

/// Every rule is enforced somewhere, and RULES.md's "enforced in" column
/// (`ndis_emu::catalog::ENFORCED_IN`) names exactly the files whose code
/// names the rule's constant ([`enforcement_sites`]). On a mismatch the
/// message prints the table as it should read.
#[test]
fn every_rule_is_enforced_where_the_catalog_says() {
    let found = enforcement_sites();
    let unenforced: Vec<&str> = found.iter().filter(|(_, s)| s.is_empty()).map(|(id, _)| *id).collect();
    assert!(unenforced.is_empty(), "rules no code reports or checks: {unenforced:?}");
    let listed: std::collections::BTreeMap<&str, BTreeSet<String>> = ndis_emu::catalog::ENFORCED_IN
        .iter()
        .map(|(id, files)| (*id, files.iter().map(|f| (*f).to_owned()).collect()))
        .collect();
    if listed != found {
        let mut table = String::new();
        for r in ndis_emu::catalog::all() {
            let files: Vec<String> = found[r.id()].iter().map(|f| format!("{f:?}")).collect();
            table.push_str(&format!("    ({:?}, &[{}]),\n", r.id(), files.join(", ")));
        }
        panic!("catalog::ENFORCED_IN differs from the sources; it should read:\n{table}");
    }
}
