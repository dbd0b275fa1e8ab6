//! No new import circle between the files of a crate (issue #11).
//!
//! A file `a.rs` that names `crate::b::…` (in a `use` or inline) depends on
//! `b.rs`; a circle is a set of files each reachable from the others through
//! such edges (a strongly connected component of more than one file). Circles
//! make a module impossible to read, test or replace on its own, so the
//! project allows none. [`KNOWN`] listed the ones that predated this check;
//! the redesign of issue #11 removed them all, so it is empty, and stays so.
//!
//! The check is a ratchet. It fails when
//! - a circle appears that is not inside a known one (a new circle, or a
//!   known one that grew a file),
//! - a known circle has shrunk or gone (then [`KNOWN`] must shrink with it,
//!   so the list stays the truth and cannot hide a circle that comes back).
//!
//! Edges are read from the source text: every `crate::`, `super::` and
//! `self::` path outside comments, `use` trees with their braces expanded,
//! resolved to the longest module prefix that is a file (`ffi/data.rs` or
//! `ffi/data/mod.rs` is module `ffi/data`; `lib.rs`/`main.rs` is the root, which
//! is left out: every file reaches the root by its `mod` line). The same
//! reading as `import-circles.py` in the team's shared tools, in Rust so the
//! suite needs nothing else.

#[path = "support/lexer.rs"]
mod lexer;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use lexer::code_only;

/// The circles tolerated, by source directory (relative to the repository
/// root) and files (module paths): none since issue #11's redesign removed
/// the last (`src`'s ffi/cm_context, ffi/context, ffi/data, ffi/effects).
const KNOWN: &[(&str, &[&str])] = &[];

type Module = Vec<String>;

/// Every `.rs` file under `src`, by module path.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(src).expect("under src").with_extension("");
            let mut module: Module = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|l| l == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                module.clear();
            }
            (module, path)
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Star,
    Other,
}

fn tokens(code: &str) -> Vec<Tok> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
            continue;
        }
        out.push(match ch {
            ':' if c.get(i + 1) == Some(&':') => {
                i += 1;
                Tok::Path
            }
            '{' => Tok::Open,
            '}' => Tok::Close,
            ',' => Tok::Comma,
            '*' => Tok::Star,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Tok::Other,
        });
        i += 1;
    }
    out
}

/// Parses one use tree at `toks[*at..]` with `prefix` before it, pushing
/// every full path it names.
fn use_tree(toks: &[Tok], at: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*at) {
            Some(Tok::Ident(name)) => {
                path.push(name.clone());
                *at += 1;
            }
            Some(Tok::Open) => {
                *at += 1;
                loop {
                    match toks.get(*at) {
                        Some(Tok::Close) => {
                            *at += 1;
                            return;
                        }
                        Some(Tok::Comma) => *at += 1,
                        Some(_) => use_tree(toks, at, &path, out),
                        None => return,
                    }
                }
            }
            Some(Tok::Star) => {
                *at += 1;
                out.push(path);
                return;
            }
            // Anything else ends the tree; step over it so a caller's loop
            // always advances.
            _ => {
                *at += 1;
                out.push(path);
                return;
            }
        }
        // `as alias` ends a path; `::` goes on.
        match toks.get(*at) {
            Some(Tok::Path) => *at += 1,
            Some(Tok::Ident(kw)) if kw == "as" => {
                *at += 2;
                out.push(path);
                return;
            }
            Some(Tok::Star) => {
                *at += 1;
                out.push(path);
                return;
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// A path named in the code, with the inline modules (`mod tests { … }`)
/// it sits in, which `self::` and `super::` are relative to.
struct Named {
    inline: Vec<String>,
    path: Vec<String>,
}

/// Every path starting with `crate`, `super` or `self` in the code.
fn paths(toks: &[Tok]) -> Vec<Named> {
    let mut out = Vec::new();
    // The inline modules open here, each with the brace depth its body is at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let names = |inline: &[(String, usize)]| inline.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    while i < toks.len() {
        match &toks[i] {
            Tok::Ident(kw) if kw == "use" => {
                i += 1;
                let mut found = Vec::new();
                use_tree(toks, &mut i, &[], &mut found);
                out.extend(found.into_iter().map(|path| Named {
                    inline: names(&inline),
                    path,
                }));
                continue;
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Open)) = (toks.get(i + 1), toks.get(i + 2)) {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(first)
                if matches!(first.as_str(), "crate" | "super" | "self") && toks.get(i + 1) == Some(&Tok::Path) =>
            {
                let mut path = vec![first.clone()];
                i += 1;
                while toks.get(i) == Some(&Tok::Path) {
                    match toks.get(i + 1) {
                        Some(Tok::Ident(seg)) => path.push(seg.clone()),
                        _ => break,
                    }
                    i += 2;
                }
                out.push(Named {
                    inline: names(&inline),
                    path,
                });
                continue;
            }
            Tok::Open => depth += 1,
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The file-to-file edges of one crate.
fn edges(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mods = modules(src);
    let mut graph = BTreeMap::new();
    for (module, file) in &mods {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut out = BTreeSet::new();
        for Named { inline, path } in paths(&tokens(&code_only(&text))) {
            // The module the path is written in: the file's, or an inline
            // module inside it. `super::` is that module's parent (for
            // `x/mod.rs` at top level that is x's parent, as for `x.rs`).
            let here: Module = module.iter().chain(&inline).cloned().collect();
            let parent = &here[..here.len().saturating_sub(1)];
            let (head, rest) = path.split_first().expect("non-empty");
            let absolute: Module = match head.as_str() {
                "crate" => rest.to_vec(),
                "self" => here.iter().chain(rest).cloned().collect(),
                "super" => parent.iter().chain(rest).cloned().collect(),
                _ => continue,
            };
            let target = (0..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|prefix| mods.contains_key(prefix));
            if let Some(target) = target
                && &target != module
                && !target.is_empty()
            {
                out.insert(target);
            }
        }
        graph.insert(module.clone(), out);
    }
    graph
}

/// Strongly connected components of more than one node (Tarjan).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    struct State<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        out: Vec<BTreeSet<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.graph[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.insert(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn show(circle: &BTreeSet<Module>) -> String {
    circle.iter().map(|m| m.join("/")).collect::<Vec<_>>().join(", ")
}

fn source_dirs(repo: &Path) -> Vec<String> {
    let mut dirs = vec!["src".to_owned()];
    let mut crates: Vec<_> = fs::read_dir(repo.join("crates"))
        .expect("crates/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("src").is_dir())
        .map(|p| format!("crates/{}/src", p.file_name().expect("name").to_string_lossy()))
        .collect();
    crates.sort();
    dirs.extend(crates);
    dirs
}

/// Every circle in the repository is one of [`KNOWN`], file for file: a new
/// circle, a known one grown or shrunk, or a known one gone fails, naming it.
#[test]
fn no_import_circle_but_the_known_ones() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for dir in source_dirs(repo) {
        for circle in circles(&edges(&repo.join(&dir))) {
            let names: BTreeSet<String> = circle.iter().map(|m| m.join("/")).collect();
            let known = KNOWN.iter().position(|(d, files)| {
                *d == dir && files.iter().map(|f| (*f).to_owned()).collect::<BTreeSet<_>>() == names
            });
            match known {
                Some(k) => {
                    seen.insert(k);
                }
                None => problems.push(format!(
                    "{dir}: circle of {} files not in KNOWN (new, or a known one changed): {}",
                    circle.len(),
                    show(&circle)
                )),
            }
        }
    }
    for (k, (dir, files)) in KNOWN.iter().enumerate() {
        if !seen.contains(&k) {
            problems.push(format!(
                "{dir}: the known circle {files:?} is no longer there as listed: remove or shrink its KNOWN entry"
            ));
        }
    }
    assert!(problems.is_empty(), "import circles:\n{}", problems.join("\n"));
}

/// The reader finds a circle when there is one and none when there is none:
/// a throwaway crate where `a` uses `crate::m::b` in a nested use tree and
/// `b` names `super::a` inline (a circle; a commented-out `use` and a string
/// are not edges), and `c` uses both in a braced tree (no circle). Inside an
/// inline `mod tests`, `super::` is the file's own module.
#[test]
fn the_reader_sees_use_trees_inline_paths_and_super() {
    let dir = std::env::temp_dir().join(format!("covmini-import-circles-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("m")).expect("mkdir");
    fs::write(src.join("lib.rs"), "mod m; mod c;").expect("write");
    fs::write(src.join("m/mod.rs"), "pub mod a; pub mod b;").expect("write");
    fs::write(
        src.join("m/a.rs"),
        "use crate::m::{b::{self, X as Y}, *};\n// use crate::c;\n",
    )
    .expect("write");
    fs::write(
        src.join("m/b.rs"),
        "fn f() { let _ = super::a::Z; }\nconst S: &str = \"crate::c\";",
    )
    .expect("write");
    fs::write(
        src.join("c.rs"),
        "use crate::m::{a::Z, b};\n#[cfg(test)]\nmod tests { use super::*; use super::super::m::a; }",
    )
    .expect("write");
    fs::write(src.join("m/d.rs"), "mod tests { use super::*; }\nuse super::a;").expect("write");
    let graph = edges(&src);
    let found: Vec<String> = circles(&graph).iter().map(show).collect();
    fs::remove_dir_all(&dir).expect("cleanup");
    assert_eq!(found, vec!["m/a, m/b".to_owned()], "graph: {graph:?}");
    let edges_of = |m: &str| -> Vec<String> {
        let module: Module = m.split('/').map(str::to_owned).collect();
        graph[&module].iter().map(|t| t.join("/")).collect()
    };
    // c: its braced use, and its tests module's `super::super::m::a`.
    assert_eq!(edges_of("c"), ["m/a", "m/b"]);
    // d: its tests module's `super::*` is d itself; its own `super::a` is m/a.
    assert_eq!(edges_of("m/d"), ["m/a"]);
}
