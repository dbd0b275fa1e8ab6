//! Every `unsafe` gives its own reason: the project's rule that "every
//! `unsafe` block has a `// SAFETY:` comment that gives the reason it holds
//! ("as above" is not one)", checked on the source text of `src/`, `tests/`
//! and every `crates/*/src` and `crates/*/tests`.
//!
//! Two checks:
//! - No `// SAFETY:` comment leans on another one: its text may not *begin*
//!   with "as above", "same as above", "see above", "ditto" or "likewise"
//!   (case-insensitive), nor with an "as for X" clause that ends the text or
//!   is ended by `.` or `;` ("as for restart.", "as for restart; the context
//!   is not used afterwards"). Such a comment names neither the object nor
//!   the precondition, and it goes stale the day the block above it (or X)
//!   changes. A comment may mention an earlier one, after stating its own
//!   reason; "as for X, ..." (a comma: "as regards X") is not flagged.
//!   Files rewritten elsewhere are listed in [`ALLOWED`]; the list only
//!   shrinks: a listed file with no such comment left fails, so its line
//!   gets removed and the file cannot regress.
//! - Every `unsafe {` block and `unsafe impl` has a `// SAFETY:` comment on
//!   its own line, or in the comment lines just above the statement it
//!   belongs to (walking up through the lines of that statement, which end
//!   in none of `;`, `{`, `}`, `,`, and through attributes). This is
//!   clippy's `undocumented_unsafe_blocks` (denied for the workspace)
//!   reduced to what the text shows, so it also covers code clippy never
//!   sees (other targets, `cfg`s off on this host, such as the kernel-only
//!   runtime).
//!
//! Comments and string literals are told apart from code by a small lexer
//! (line and nested block comments, plain, byte and raw strings, char
//! literals versus lifetimes), so a string holding `// SAFETY: as above`
//! or `unsafe {` is neither.

#[path = "support/lexer.rs"]
mod lexer;

use std::fs;
use std::path::{Path, PathBuf};

use lexer::{Kind, kinds};

/// Files allowed to keep "as above" or "as for X" comments for now
/// (repository-relative, `/`-separated). Empty: every file gives its
/// reasons. Should a file ever need a line here, the check fails once the
/// file has none left, until the line goes.
const ALLOWED: &[&str] = &[];

/// One line of a file: its text, the code alone (comments and string
/// contents blanked), and the comment that starts on it, from its opener to
/// the end of the line.
#[derive(Default)]
struct Line {
    text: String,
    code: String,
    comment: Option<String>,
}

fn lines(text: &str) -> Vec<Line> {
    let kinds = kinds(text);
    let mut out = Vec::new();
    let mut line = Line::default();
    let mut previous = Kind::Code;
    for (ch, kind) in text.chars().zip(kinds) {
        if ch == '\n' {
            out.push(std::mem::take(&mut line));
            previous = Kind::Code;
            continue;
        }
        line.text.push(ch);
        line.code.push(if kind == Kind::Code { ch } else { ' ' });
        match (&mut line.comment, kind) {
            (Some(comment), _) => comment.push(ch),
            (None, Kind::Comment) if previous != Kind::Comment => line.comment = Some(ch.to_string()),
            _ => {}
        }
        previous = kind;
    }
    out.push(line);
    out
}

/// The text of a plain `//` or `/*` comment, after its opener; None for a
/// doc comment (`///`, `//!`, `/**`, `/*!`).
fn plain_comment(comment: &str) -> Option<&str> {
    let body = comment.strip_prefix("//").or_else(|| comment.strip_prefix("/*"))?;
    (!body.starts_with(['/', '!', '*'])).then_some(body)
}

/// Whether a line is only a plain `//` or `/*` comment.
fn comment_line(line: &Line) -> bool {
    line.code.trim().is_empty() && line.comment.as_deref().and_then(plain_comment).is_some()
}

/// The text after `SAFETY:` when the line has a plain comment that starts
/// with it.
fn safety_marker(line: &Line) -> Option<&str> {
    plain_comment(line.comment.as_deref()?)?
        .trim_start()
        .strip_prefix("SAFETY:")
}

/// Every `// SAFETY:` comment: its 1-based line and its whole text (the
/// comment lines that continue it joined), for comments whose text begins by
/// pointing at another comment instead of giving a reason.
fn leaning(text: &str) -> Vec<(usize, String)> {
    let lines = lines(text);
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(first) = safety_marker(line) else { continue };
        let mut reason = first.trim().to_owned();
        for next in lines.iter().skip(n + 1) {
            let t = next.text.trim_start();
            if !comment_line(next) || ["SAFETY:", "CAST:", "INVARIANT:"].iter().any(|m| t.contains(m)) {
                break;
            }
            reason.push(' ');
            reason.push_str(t.trim_start_matches('/').trim());
        }
        let lower = reason.to_lowercase();
        let lower = lower.trim_start_matches(|c: char| !c.is_alphanumeric());
        const LEANING: &[&str] = &[
            "as above",
            "same as above",
            "the same as above",
            "see above",
            "ditto",
            "likewise",
        ];
        if LEANING.iter().any(|p| {
            lower
                .strip_prefix(p)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric()))
        }) || as_for_only(lower)
        {
            out.push((n + 1, reason));
        }
    }
    out
}

/// Whether a (lower-cased) reason begins with a bare back reference "as for
/// X": "as for" and a name, then the end of the text, `.` or `;`. A comma
/// after the name reads "as regards X, <reason>" and is not one.
fn as_for_only(lower: &str) -> bool {
    let Some(rest) = lower.strip_prefix("as for ") else {
        return false;
    };
    // The name ends at `,`, `.`, `;` or a `:` that is not half of a path's `::`.
    let b = rest.as_bytes();
    let name_end = (0..b.len())
        .find(|&i| match b[i] {
            b',' | b'.' | b';' => true,
            b':' => b.get(i + 1) != Some(&b':') && (i == 0 || b[i - 1] != b':'),
            _ => false,
        })
        .unwrap_or(b.len());
    let (name, after) = rest.split_at(name_end);
    !name.trim().is_empty() && (after.is_empty() || after.starts_with(['.', ';']))
}

/// Every `unsafe {` block and `unsafe impl` with no `// SAFETY:` comment on
/// its line or above its statement: 1-based lines.
fn undocumented(text: &str) -> Vec<usize> {
    let lines = lines(text);
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if !unsafe_block_or_impl(&line.code) {
            continue;
        }
        if safety_marker(line).is_some() {
            continue;
        }
        let mut documented = false;
        for above in lines.iter().take(n).rev() {
            let code = above.code.trim();
            if comment_line(above) {
                if safety_marker(above).is_some() {
                    documented = true;
                    break;
                }
                continue;
            }
            if code.starts_with("#[") || code.starts_with("#![") {
                continue;
            }
            // A blank line, or the end of the previous statement, item or
            // match arm: no comment for this one.
            if above.text.trim().is_empty() || code.ends_with([';', '{', '}', ',']) {
                break;
            }
        }
        if !documented {
            out.push(n + 1);
        }
    }
    out
}

/// Whether the code of a line opens an `unsafe` block or an `unsafe impl`
/// (not an `unsafe fn`, `unsafe extern` or `unsafe trait`).
fn unsafe_block_or_impl(code: &str) -> bool {
    let mut rest = code;
    while let Some(at) = rest.find("unsafe") {
        let before_ok = rest
            .get(..at)
            .and_then(|b| b.chars().last())
            .is_none_or(|ch| !(ch.is_alphanumeric() || ch == '_'));
        let after = rest.get(at + "unsafe".len()..).unwrap_or_default();
        let after_trim = after.trim_start();
        let word_end = !after.starts_with(|ch: char| ch.is_alphanumeric() || ch == '_');
        if before_ok
            && word_end
            && (after_trim.starts_with('{') || after_trim.starts_with("impl ") || after_trim.starts_with("impl<"))
        {
            return true;
        }
        rest = after;
    }
    false
}

/// The `.rs` files the checks read, repository-relative and sorted.
fn rust_files(repo: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut roots = vec![repo.join("src"), repo.join("tests")];
    for krate in fs::read_dir(repo.join("crates")).expect("crates/") {
        let krate = krate.expect("entry").path();
        roots.push(krate.join("src"));
        roots.push(krate.join("tests"));
    }
    let mut files = Vec::new();
    for root in roots {
        walk(&root, &mut files);
    }
    let mut files: Vec<PathBuf> = files
        .into_iter()
        .map(|p| p.strip_prefix(repo).expect("under the repository").to_path_buf())
        .collect();
    files.sort();
    files
}

fn slash(path: &Path) -> String {
    path.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// No `// SAFETY:` comment outside [`ALLOWED`] begins by pointing at another
/// comment ("as above", "same as above", "ditto", a bare "as for X", ...),
/// and every file of [`ALLOWED`] still has one (else its entry must go).
/// Fails listing each.
#[test]
fn no_safety_comment_says_only_as_above() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = rust_files(repo);
    assert!(files.len() > 100, "the walk found only {} files", files.len());
    let mut problems = Vec::new();
    let mut allowed_hits = vec![0usize; ALLOWED.len()];
    for file in &files {
        let name = slash(file);
        let text = fs::read_to_string(repo.join(file)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let found = leaning(&text);
        match ALLOWED.iter().position(|a| *a == name) {
            Some(k) => allowed_hits[k] += found.len(),
            None => problems.extend(
                found
                    .into_iter()
                    .map(|(line, reason)| format!("{name}:{line}: SAFETY: {reason}")),
            ),
        }
    }
    for (file, hits) in ALLOWED.iter().zip(&allowed_hits) {
        if *hits == 0 {
            problems.push(format!(
                "{file} is in ALLOWED but has no \"as above\" or \"as for X\" SAFETY comment left: remove it from ALLOWED"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "SAFETY comments must give their own reason (name the object, the precondition it meets):\n{}",
        problems.join("\n")
    );
}

/// Every `unsafe {` block and `unsafe impl` in the repository's Rust sources
/// has a `// SAFETY:` comment on its line or just above its statement. Fails
/// listing each that has none.
#[test]
fn every_unsafe_block_has_a_safety_comment() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut blocks = 0usize;
    for file in rust_files(repo) {
        let name = slash(&file);
        let text = fs::read_to_string(repo.join(&file)).unwrap_or_else(|e| panic!("{name}: {e}"));
        blocks += lines(&text).iter().filter(|l| unsafe_block_or_impl(&l.code)).count();
        problems.extend(undocumented(&text).into_iter().map(|line| format!("{name}:{line}")));
    }
    assert!(blocks > 500, "the reader found only {blocks} unsafe blocks");
    assert!(
        problems.is_empty(),
        "unsafe without a // SAFETY: comment:\n{}",
        problems.join("\n")
    );
}

/// The reader flags what it should and nothing else: "as above" forms
/// (alone, with a tail, capitalised, "ditto", on a `/*` comment) and a bare
/// "as for X" (alone or before `;`), but not a reason that mentions an
/// earlier comment later, nor "as for X, <reason>", nor a string or doc
/// comment; an undocumented `unsafe {` and `unsafe impl`, but not one whose
/// comment sits above a multi-line statement, nor `unsafe fn`, nor
/// `unsafe {` inside a string, a char-literal-bearing line or a comment.
#[test]
fn the_reader_tells_reasons_from_back_references() {
    let sample = r##"
fn f<'a>(x: &'a u8) {
    // SAFETY: as above.
    unsafe { a() };
    // SAFETY: As above: the same block.
    unsafe { b() };
    // SAFETY: ditto
    unsafe { c() };
    /* SAFETY: same as above */
    unsafe { d() };
    // SAFETY: `p` is live (precondition 1); the same lock as above.
    unsafe { e() };
    // SAFETY: `q` is the NBL the chain above held,
    // as above in spirit but named.
    unsafe { g() };
    let s = "// SAFETY: as above";
    /// SAFETY: as above (a doc comment, not a SAFETY comment)
    let q = '"';
    let t = "unsafe { not code }";
    // unsafe { in a comment }
    let r = r#"unsafe { raw "string" }"#;
    let v = foo(
        1,
        unsafe { h() },
    );
    // SAFETY: the comment above a statement covers its lines.
    let w = foo(
        unsafe { i() },
    );
    let z = 1;
    unsafe { j() };
    unsafe fn k() {}
}
// SAFETY: asabove is one word: a reason (of sorts), not a back reference.
unsafe impl Send for A {}
unsafe impl<T> Sync for A<T> {}
// SAFETY: as for restart.
unsafe impl Send for B {}
// SAFETY: As for `Self::restart`; the context is not used afterwards.
unsafe impl Send for C {}
// SAFETY: as for the buffer, it lives until the call returns.
unsafe impl Send for D {}
// SAFETY: as for the lock: held by this CPU.
unsafe impl Send for E {}
"##;
    let found: Vec<usize> = leaning(sample).into_iter().map(|(line, _)| line).collect();
    assert_eq!(found, [3, 5, 7, 9, 37, 39], "leaning comments");
    let undocumented = undocumented(sample);
    // foo's argument (no comment above `let v`), `j()` after `let z = 1;`,
    // and the second impl.
    assert_eq!(undocumented, [24, 31, 36], "undocumented unsafe");
}
