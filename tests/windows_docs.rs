//! docs/windows.md and docs/pooltag.txt against the code: every fact in them
//! that comes from the code is read from the code and compared.
//!
//! * **Pool tags.** Every `TAG_*` constant of `src/` (`pool_tag(b"....")`)
//!   has a row in the pool-tag table of docs/windows.md and a line in
//!   docs/pooltag.txt, and every tag in either is such a constant.
//!   docs/pooltag.txt is in the debugger's format
//!   (`<PoolTag> - <binary-name> - <Description>`, `rem` comments).
//! * **Signatures.** The signatures docs/windows.md lists are exactly the
//!   `SIG_*` constants.
//! * **The Kd mask.** covmini prints under one `DPFLTR_<NAME>_ID` (read from
//!   `src/`); every `ed nt!Kd_..._Mask <value>` in docs/windows.md, README.md
//!   and `src/` names `Kd_<NAME>_Mask`, and its value has the bit of every
//!   level covmini prints at (the levels of the `trace!` calls in `src/`).
//!   The persistent form (the `Debug Print Filter` registry value) is named
//!   `<NAME>`.
//! * **The trace level.** The registry value covmini reads its trace level
//!   from (`TRACE_LEVEL_VALUE` in `src/`) is the one the INF installs (as
//!   an `HKR` `REG_DWORD` equal to the default level, `DEFAULT_LEVEL`) and
//!   the one docs/windows.md names.
//! * **GUIDs.** Every GUID in docs/windows.md appears in `src/` or the INF,
//!   and every GUID in `src/` appears in docs/windows.md.
//! * **The ETW provider.** The provider name and GUID docs/windows.md and
//!   docs/covmini.wprp give are `covmini::etw::PROVIDER_NAME` and the GUID
//!   the code computes (`PROVIDER_ID`, not its text), and the event table
//!   has exactly the catalogue's events, each with its level, keyword and
//!   field names.
//!
//! Each check is a function from texts to findings; the tests at the end
//! show that each fires on a wrong text.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, with its text, sorted by path.
fn rust_sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = read(&path);
                files.push((path, text));
            }
        }
    }
    files.sort();
    files
}

fn src_texts() -> Vec<String> {
    rust_sources(&repo().join("src")).into_iter().map(|(_, t)| t).collect()
}

// ===========================================================================
// Pool tags and signatures
// ===========================================================================

/// `(name, tag)` of every `const NAME: ... = pool_tag(b"XXXX");` in `text`.
fn pool_tag_constants(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in text.lines() {
        let Some(at) = line.find("pool_tag(b\"") else { continue };
        let Some(const_at) = line.find("const ") else { continue };
        let rest = &line[const_at + "const ".len()..];
        let Some(name) = rest.split(':').next() else { continue };
        let tag: String = line[at + "pool_tag(b\"".len()..]
            .chars()
            .take_while(|&c| c != '"')
            .collect();
        found.push((name.trim().to_string(), tag));
    }
    found
}

/// The tags (`TAG_*`) and signatures (`SIG_*`) defined in `texts`.
fn code_tags_and_signatures(texts: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut tags = BTreeSet::new();
    let mut sigs = BTreeSet::new();
    for text in texts {
        for (name, tag) in pool_tag_constants(text) {
            if name.starts_with("TAG_") {
                tags.insert(tag);
            } else if name.starts_with("SIG_") {
                sigs.insert(tag);
            }
        }
    }
    (tags, sigs)
}

/// The first-column tags of the markdown table whose header is
/// `| Tag | Context |`.
fn doc_table_tags(doc: &str) -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    let mut in_table = false;
    for line in doc.lines() {
        let line = line.trim();
        if line.starts_with("| Tag | Context |") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let first = line.trim_start_matches('|').split('|').next().unwrap_or("").trim();
        if let Some(tag) = first.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
            tags.insert(tag.to_string());
        }
    }
    tags
}

/// The backticked words of the paragraph that lists the signatures
/// ("Each context starts with a signature: ...", up to the first `.`).
fn doc_signatures(doc: &str) -> BTreeSet<String> {
    let Some(start) = doc.find("Each context starts with a signature:") else {
        return BTreeSet::new();
    };
    let rest = &doc[start..];
    let end = rest.find(". ").unwrap_or(rest.len());
    rest[..end].split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The tags of a pooltag.txt-format file, or the lines that break its format.
fn pooltag_file_tags(text: &str) -> Result<BTreeSet<String>, Vec<String>> {
    let mut tags = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed == "rem" || trimmed.starts_with("rem ") {
            continue;
        }
        let fields: Vec<&str> = trimmed.splitn(3, " - ").map(str::trim).collect();
        match fields.as_slice() {
            [tag, binary, description]
                if tag.len() == 4 && tag.is_ascii() && *binary == "covmini.sys" && !description.is_empty() =>
            {
                if !tags.insert(tag.to_string()) {
                    errors.push(format!("line {}: tag {tag} twice", i + 1));
                }
            }
            _ => errors.push(format!(
                "line {}: not `<PoolTag> - covmini.sys - <Description>`: {line:?}",
                i + 1
            )),
        }
    }
    if errors.is_empty() { Ok(tags) } else { Err(errors) }
}

/// The differences between the code's set and a document's, both ways.
fn compare(what: &str, code: &BTreeSet<String>, doc_name: &str, doc: &BTreeSet<String>) -> Vec<String> {
    let mut findings = Vec::new();
    for t in code.difference(doc) {
        findings.push(format!("{what} {t} is in src/ but not in {doc_name}"));
    }
    for t in doc.difference(code) {
        findings.push(format!("{what} {t} is in {doc_name} but not in src/"));
    }
    findings
}

fn tag_findings(src: &[String], windows_md: &str, pooltag_txt: &str) -> Vec<String> {
    let (tags, sigs) = code_tags_and_signatures(src);
    let mut findings = Vec::new();
    if tags.is_empty() {
        findings.push("no TAG_* pool tag constant found in src/".to_string());
    }
    findings.extend(compare(
        "pool tag",
        &tags,
        "docs/windows.md's table",
        &doc_table_tags(windows_md),
    ));
    match pooltag_file_tags(pooltag_txt) {
        Ok(file_tags) => findings.extend(compare("pool tag", &tags, "docs/pooltag.txt", &file_tags)),
        Err(errors) => findings.extend(errors.into_iter().map(|e| format!("docs/pooltag.txt {e}"))),
    }
    findings.extend(compare(
        "signature",
        &sigs,
        "docs/windows.md",
        &doc_signatures(windows_md),
    ));
    findings
}

// ===========================================================================
// The Kd mask
// ===========================================================================

/// The distinct `DPFLTR_<NAME>_ID` identifiers in `texts`.
fn component_ids(texts: &[String]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for text in texts {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("DPFLTR_") {
            let word: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if word.ends_with("_ID") {
                ids.insert(word.clone());
            }
            rest = &rest[at + word.len().max(1)..];
        }
    }
    ids
}

/// The level (a `DPFLTR_*_LEVEL` value) of every `trace!(LEVEL, ...)` in
/// `texts`, by the names `src/ffi/trace.rs` gives them.
fn traced_levels(texts: &[String]) -> Result<BTreeSet<u32>, String> {
    let mut levels = BTreeSet::new();
    for text in texts {
        for piece in text.split("trace!(").skip(1) {
            let name: String = piece
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let level = match name.as_str() {
                "ERROR" => ndis_sys::DPFLTR_ERROR_LEVEL,
                "WARN" => ndis_sys::DPFLTR_WARNING_LEVEL,
                "INFO" => ndis_sys::DPFLTR_INFO_LEVEL,
                // The macro's own definition: `trace!(LEVEL, "fmt", args…)`.
                "LEVEL" => continue,
                other => return Err(format!("trace!({other}, ...): unknown level name")),
            };
            levels.insert(level);
        }
    }
    Ok(levels)
}

/// `(mask name, value)` of every `ed nt!Kd_..._Mask <value>` in `text`.
fn ed_mask_commands(text: &str) -> Vec<(String, Option<u32>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("ed nt!") {
        let after = &rest[at + "ed nt!".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let value_text: String = after[name.len()..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let value = value_text
            .strip_prefix("0x")
            .or_else(|| value_text.strip_prefix("0X"))
            .map_or_else(|| value_text.parse().ok(), |hex| u32::from_str_radix(hex, 16).ok());
        found.push((name, value));
        rest = after;
    }
    found
}

fn mask_findings(src: &[String], docs: &[(&str, &str)]) -> Vec<String> {
    let ids = component_ids(src);
    let [id] = ids.iter().collect::<Vec<_>>()[..] else {
        return vec![format!(
            "src/ should print under exactly one DPFLTR_*_ID, found {ids:?}"
        )];
    };
    let component = &id["DPFLTR_".len()..id.len() - "_ID".len()];
    let mask = format!("Kd_{component}_Mask");
    let levels = match traced_levels(src) {
        Ok(levels) => levels,
        Err(e) => return vec![e],
    };
    let mut findings = Vec::new();
    let mut commands = 0;
    for (name, text) in docs {
        for (ed_name, value) in ed_mask_commands(text) {
            commands += 1;
            if ed_name != mask {
                findings.push(format!(
                    "{name}: `ed nt!{ed_name}`, but covmini prints under {id}: the mask is {mask}"
                ));
                continue;
            }
            match value {
                Some(v) => {
                    for level in &levels {
                        if v & (1 << level) == 0 {
                            findings.push(format!(
                                "{name}: `ed nt!{mask} {v:#x}` hides level {level}, at which covmini prints"
                            ));
                        }
                    }
                }
                None => findings.push(format!("{name}: `ed nt!{mask}` without a value")),
            }
        }
    }
    if commands == 0 {
        findings.push("no `ed nt!Kd_..._Mask` command in the docs".to_string());
    }
    if let Some((name, text)) = docs.iter().find(|(n, _)| *n == "docs/windows.md")
        && text.contains("Debug Print Filter")
        && !text.contains(&format!("`{component}`"))
    {
        findings.push(format!(
            "{name}: the Debug Print Filter registry value must be named `{component}`"
        ));
    }
    findings
}

// ===========================================================================
// The trace level
// ===========================================================================

/// The value of `const NAME: ... = <rhs>;` in `texts` (the text between `=`
/// and `;`, trimmed), if exactly one such line exists.
fn const_rhs<'a>(texts: &'a [String], name: &str) -> Option<&'a str> {
    let needle = format!("const {name}:");
    let mut found = texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| l.contains(&needle))
        .filter_map(|l| {
            l.split_once('=')
                .map(|(_, rhs)| rhs.trim().trim_end_matches(';').trim())
        });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn level_value(name: &str) -> Option<u32> {
    match name {
        "ERROR" => Some(ndis_sys::DPFLTR_ERROR_LEVEL),
        "WARN" => Some(ndis_sys::DPFLTR_WARNING_LEVEL),
        "INFO" => Some(ndis_sys::DPFLTR_INFO_LEVEL),
        other => other.parse().ok(),
    }
}

fn trace_level_findings(src: &[String], inf: &str, windows_md: &str) -> Vec<String> {
    let Some(name) =
        const_rhs(src, "TRACE_LEVEL_VALUE").and_then(|rhs| rhs.strip_prefix("b\"").and_then(|r| r.strip_suffix('"')))
    else {
        return vec!["src/ has no single `const TRACE_LEVEL_VALUE: ... = b\"...\";`".to_string()];
    };
    let Some(default) = const_rhs(src, "DEFAULT_LEVEL").and_then(level_value) else {
        return vec!["src/ has no single `const DEFAULT_LEVEL` with a known level".to_string()];
    };
    let mut findings = Vec::new();
    // `HKR, <subkey>, <name>, <flags>, <data>` lines of the INF.
    let installed: Vec<Vec<&str>> = inf
        .lines()
        .map(|l| l.split(';').next().unwrap_or(""))
        .map(|l| l.split(',').map(str::trim).collect::<Vec<_>>())
        .filter(|f| f.len() == 5 && f[0].eq_ignore_ascii_case("HKR") && f[2].eq_ignore_ascii_case(name))
        .collect();
    match installed.as_slice() {
        [] => findings.push(format!("the INF installs no HKR value {name}")),
        [fields] => {
            if !fields[1].is_empty() {
                findings.push(format!(
                    "the INF puts {name} under subkey {:?}, not the adapter's key",
                    fields[1]
                ));
            }
            if fields[3] != "0x00010001" {
                findings.push(format!(
                    "the INF's {name} has flags {}, not REG_DWORD (0x00010001)",
                    fields[3]
                ));
            }
            if fields[4].parse::<u32>().ok() != Some(default) {
                findings.push(format!(
                    "the INF's {name} is {}, not the default level {default}",
                    fields[4]
                ));
            }
        }
        _ => findings.push(format!("the INF installs {name} more than once")),
    }
    if !windows_md.contains(&format!("`{name}`")) {
        findings.push(format!("docs/windows.md does not name the registry value `{name}`"));
    }
    findings
}

// ===========================================================================
// GUIDs
// ===========================================================================

/// Every GUID (8-4-4-4-12 hex digits) in `text`, lower-cased.
fn guids(text: &str) -> BTreeSet<String> {
    let groups = [8, 4, 4, 4, 12];
    let bytes = text.as_bytes();
    let mut found = BTreeSet::new();
    let len = 36;
    for start in 0..bytes.len().saturating_sub(len - 1) {
        let Some(candidate) = text.get(start..start + len) else {
            continue;
        };
        let mut parts = candidate.split('-');
        let ok = groups.iter().all(|&n| {
            parts
                .next()
                .is_some_and(|p| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
        }) && parts.next().is_none();
        let boundary_before = start == 0 || !bytes[start - 1].is_ascii_hexdigit();
        let boundary_after = bytes.get(start + len).is_none_or(|b| !b.is_ascii_hexdigit());
        if ok && boundary_before && boundary_after {
            found.insert(candidate.to_ascii_lowercase());
        }
    }
    found
}

fn guid_findings(src: &[String], inf: &str, windows_md: &str) -> Vec<String> {
    let code: BTreeSet<String> = src.iter().flat_map(|t| guids(t)).collect();
    let known: BTreeSet<String> = code.union(&guids(inf)).cloned().collect();
    let doc = guids(windows_md);
    let mut findings = Vec::new();
    for g in doc.difference(&known) {
        findings.push(format!(
            "GUID {g} is in docs/windows.md but neither in src/ nor in the INF"
        ));
    }
    for g in code.difference(&doc) {
        findings.push(format!("GUID {g} is in src/ but not in docs/windows.md"));
    }
    findings
}

// ===========================================================================
// The ETW provider
// ===========================================================================

/// `{xxxxxxxx-...}` of a GUID value, lower-case.
fn guid_text(g: &ndis_sys::GUID) -> String {
    ndis_emu::etw::guid_string(g).trim_matches(['{', '}']).to_string()
}

/// The rows of the ETW event table: (`Name`, level, keyword, fields).
fn etw_rows(doc: &str) -> Vec<(String, String, String, String)> {
    doc.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [name, level, keyword, fields] = cells.as_slice() else {
                return None;
            };
            let name = name.strip_prefix('`')?.strip_suffix('`')?;
            let is_event = covmini::etw::KINDS.iter().any(|k| k.name == name)
                || (level.parse::<u8>().is_ok() && keyword.starts_with("0x"));
            is_event.then(|| {
                (
                    name.to_string(),
                    level.to_string(),
                    keyword.to_string(),
                    fields.to_string(),
                )
            })
        })
        .collect()
}

fn etw_findings(doc: &str, wprp: &str) -> Vec<String> {
    use covmini::etw::{KINDS, PROVIDER_ID, PROVIDER_NAME};
    let mut findings = Vec::new();
    let guid = guid_text(&PROVIDER_ID);
    if !doc.contains(&format!("| Provider name | `{PROVIDER_NAME}` |")) {
        findings.push(format!("docs/windows.md does not name the provider `{PROVIDER_NAME}`"));
    }
    if !doc.contains(&format!("| Provider GUID | `{{{guid}}}` |")) {
        findings.push(format!("docs/windows.md does not give the provider GUID {{{guid}}}"));
    }
    for g in guids(doc).into_iter().chain(guids(wprp)) {
        let known =
            g == guid || g == "ce5fa4ea-ab00-5402-8b76-9f76ac858fb5" || g == "482c2db2-c390-47c8-87f8-1a15bfc130fb";
        if !known && (doc.contains(&format!("-p {{{g}}}")) || doc.contains(&format!("#{g}")) || wprp.contains(&g)) {
            findings.push(format!(
                "a capture command or the .wprp names GUID {g}, not covmini's {guid}"
            ));
        }
    }
    if !wprp.contains(&format!("Name=\"{guid}\"")) {
        findings.push(format!("docs/covmini.wprp does not enable {guid}"));
    }
    let rows = etw_rows(doc);
    for k in KINDS {
        let fields: Vec<&str> = k.fields.iter().map(|f| f.name).collect();
        let want = (
            k.name.to_string(),
            k.level.to_string(),
            format!("{:#x}", k.keyword),
            fields.join(", "),
        );
        match rows.iter().find(|r| r.0 == k.name) {
            None => findings.push(format!("event {} is not in the ETW table", k.name)),
            Some(r) if *r != want => {
                findings.push(format!("event {}: the table says {r:?}, the code {want:?}", k.name))
            }
            Some(_) => {}
        }
    }
    for r in &rows {
        if !KINDS.iter().any(|k| k.name == r.0) {
            findings.push(format!("the ETW table lists {}, which covmini does not write", r.0));
        }
    }
    findings
}

// ===========================================================================
// The real files
// ===========================================================================

fn windows_md() -> String {
    read(&repo().join("docs/windows.md"))
}

#[test]
fn every_pool_tag_and_signature_is_documented_and_nothing_else() {
    let findings = tag_findings(&src_texts(), &windows_md(), &read(&repo().join("docs/pooltag.txt")));
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn the_documented_kd_mask_is_the_component_covmini_prints_under() {
    let readme = read(&repo().join("README.md"));
    let windows = windows_md();
    let src = src_texts();
    let mut docs = vec![("docs/windows.md", windows.as_str()), ("README.md", readme.as_str())];
    docs.extend(src.iter().map(|t| ("src/", t.as_str())));
    let findings = mask_findings(&src, &docs);
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn the_trace_level_value_is_the_one_the_inf_installs_and_the_docs_name() {
    let findings = trace_level_findings(&src_texts(), &read(&repo().join("inf/covmini.inx")), &windows_md());
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn the_etw_provider_and_events_are_documented_as_the_code_defines_them() {
    let findings = etw_findings(&windows_md(), &read(&repo().join("docs/covmini.wprp")));
    assert!(findings.is_empty(), "{}", findings.join("\n"));
    let readme = read(&repo().join("README.md"));
    let guid = guid_text(&covmini::etw::PROVIDER_ID);
    assert!(
        readme.contains(&format!("`{}` (`{{{guid}}}`", covmini::etw::PROVIDER_NAME)),
        "README.md's debugging notes name the provider and its GUID {{{guid}}}"
    );
}

/// A wrong digit in the GUID, a wrong level, a missing field, an event that
/// does not exist: each is reported.
#[test]
fn a_wrong_etw_fact_in_the_docs_is_reported() {
    let doc = windows_md();
    let wprp = read(&repo().join("docs/covmini.wprp"));
    assert!(etw_findings(&doc, &wprp).is_empty());
    let guid = guid_text(&covmini::etw::PROVIDER_ID);
    let wrong = guid.replacen('9', "8", 1);
    let findings = etw_findings(&doc.replace(&guid, &wrong), &wprp);
    assert!(findings.iter().any(|f| f.contains("provider GUID")), "{findings:?}");
    let findings = etw_findings(&doc, &wprp.replace(&guid, &wrong));
    assert!(findings.iter().any(|f| f.contains("covmini.wprp")), "{findings:?}");
    let findings = etw_findings(&doc.replace("| `Refusal` | 3 |", "| `Refusal` | 4 |"), &wprp);
    assert!(findings.iter().any(|f| f.contains("event Refusal")), "{findings:?}");
    let findings = etw_findings(&doc.replace("machine, object, from, to", "machine, object, to"), &wprp);
    assert!(findings.iter().any(|f| f.contains("event StateChange")), "{findings:?}");
    let extra = doc.replace("| `Refusal` |", "| `Dropped` | 3 | 0x4 | x |\n| `Refusal` |");
    let findings = etw_findings(&extra, &wprp);
    assert!(findings.iter().any(|f| f.contains("Dropped")), "{findings:?}");
}

#[test]
fn every_documented_guid_comes_from_the_code() {
    let findings = guid_findings(&src_texts(), &read(&repo().join("inf/covmini.inx")), &windows_md());
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

// ===========================================================================
// Each check fires
// ===========================================================================

const SRC: &str = r#"
pub const TAG_ADAPTER: ULONG = pool_tag(b"CvmA");
pub const TAG_RX: ULONG = pool_tag(b"CvmR");
pub const SIG_ADAPTER: u32 = pool_tag(b"cvmA");
fn f() { DbgPrintEx(DPFLTR_IHVNETWORK_ID, 0, ...); trace!(INFO, "x"); trace!(ERROR, "y"); }
"#;

const DOC: &str = "
| Tag | Context |
|---|---|
| `CvmA` | adapter |
| `CvmR` | receive pool |

Each context starts with a signature: `cvmA`. Useful commands.

ed nt!Kd_IHVNETWORK_Mask 0xF
";

const POOLTAG: &str = "rem header\nCvmA - covmini.sys - adapter\nCvmR - covmini.sys - receive pool\n";

fn src() -> Vec<String> {
    vec![SRC.to_string()]
}

#[test]
fn the_synthetic_docs_are_consistent() {
    assert_eq!(tag_findings(&src(), DOC, POOLTAG), Vec::<String>::new());
    assert_eq!(mask_findings(&src(), &[("doc", DOC)]), Vec::<String>::new());
    assert_eq!(guid_findings(&src(), "", DOC), Vec::<String>::new());
}

#[test]
fn a_tag_missing_from_the_table_or_the_file_is_reported() {
    let doc = DOC.replace("| `CvmR` | receive pool |\n", "");
    let findings = tag_findings(&src(), &doc, POOLTAG);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("CvmR") && findings[0].contains("table"));

    let file = POOLTAG.replace("CvmR - covmini.sys - receive pool\n", "");
    let findings = tag_findings(&src(), DOC, &file);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("CvmR") && findings[0].contains("pooltag.txt"));
}

#[test]
fn a_documented_tag_the_code_lacks_is_reported() {
    let doc = DOC.replace("| `CvmR` |", "| `CvmR` | x |\n| `CvmZ` |");
    let findings = tag_findings(&src(), &doc, &format!("{POOLTAG}CvmZ - covmini.sys - gone\n"));
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(findings.iter().all(|f| f.contains("CvmZ") && f.contains("not in src/")));
}

#[test]
fn a_malformed_pooltag_line_is_reported() {
    for bad in [
        "CvmRR - covmini.sys - x",
        "CvmR - other.sys - x",
        "CvmR - covmini.sys -",
        "CvmR covmini.sys x",
    ] {
        let file = POOLTAG.replace("CvmR - covmini.sys - receive pool", bad);
        let findings = tag_findings(&src(), DOC, &file);
        assert!(
            findings.iter().any(|f| f.contains("not `<PoolTag>")),
            "{bad}: {findings:?}"
        );
    }
}

#[test]
fn a_signature_mismatch_is_reported() {
    let doc = DOC.replace("signature: `cvmA`", "signature: `cvmA`, `cvmQ`");
    let findings = tag_findings(&src(), &doc, POOLTAG);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("cvmQ"));
}

#[test]
fn the_wrong_mask_or_a_value_hiding_a_level_is_reported() {
    let default = DOC.replace("Kd_IHVNETWORK_Mask 0xF", "Kd_DEFAULT_Mask 0xFFFFFFFF");
    let findings = mask_findings(&src(), &[("doc", &default)]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("Kd_IHVNETWORK_Mask"));

    // 0x3 hides INFO (3), which the code uses.
    let narrow = DOC.replace("0xF", "0x3");
    let findings = mask_findings(&src(), &[("doc", &narrow)]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("level 3"));

    // No command at all.
    let none = DOC.replace("ed nt!Kd_IHVNETWORK_Mask 0xF", "");
    assert_eq!(mask_findings(&src(), &[("doc", &none)]).len(), 1);

    // The code printing under another component changes the expected mask.
    let other = vec![SRC.replace("DPFLTR_IHVNETWORK_ID", "DPFLTR_IHVDRIVER_ID")];
    let findings = mask_findings(&other, &[("doc", DOC)]);
    assert!(findings.iter().any(|f| f.contains("Kd_IHVDRIVER_Mask")), "{findings:?}");
}

#[test]
fn a_trace_level_value_the_inf_or_the_docs_get_wrong_is_reported() {
    let src = vec![
        "pub(crate) const DEFAULT_LEVEL: ULONG = WARN;\npub(crate) const TRACE_LEVEL_VALUE: &[u8; 10] = b\"TraceLevel\";".to_string(),
    ];
    let inf = "[r]\nHKR, , TraceLevel, 0x00010001, 1 ; comment\n";
    let doc = "the value `TraceLevel`";
    assert_eq!(trace_level_findings(&src, inf, doc), Vec::<String>::new());
    for (bad_inf, needle) in [
        ("[r]\n", "installs no"),
        ("HKR, , TraceLevel, 0x00010001, 3\n", "not the default level 1"),
        ("HKR, Params, TraceLevel, 0x00010001, 1\n", "subkey"),
        ("HKR, , TraceLevel, 0, 1\n", "REG_DWORD"),
        (
            "HKR, , TraceLevel, 0x00010001, 1\nHKR, , TraceLevel, 0x00010001, 1\n",
            "more than once",
        ),
    ] {
        let findings = trace_level_findings(&src, bad_inf, doc);
        assert!(findings.iter().any(|f| f.contains(needle)), "{bad_inf:?}: {findings:?}");
    }
    let findings = trace_level_findings(&src, inf, "the value `DebugLevel`");
    assert!(findings.iter().any(|f| f.contains("does not name")), "{findings:?}");
    let renamed = vec![src[0].replace("TraceLevel", "DebugLevel")];
    assert!(!trace_level_findings(&renamed, inf, doc).is_empty());
}

#[test]
fn an_undocumented_or_unknown_guid_is_reported() {
    let guid = "0a1b2c3d-0000-1111-2222-333344445555";
    let code = vec![format!("{SRC}\nconst PROVIDER: &str = \"{guid}\";")];
    let findings = guid_findings(&code, "", DOC);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("not in docs/windows.md"));

    let doc = format!("{DOC}\nprovider {{{guid}}}\n");
    let findings = guid_findings(&src(), "", &doc);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("neither in src/"));
    assert!(guid_findings(&code, "", &doc.to_uppercase()).is_empty());
}
