//! A small Rust lexer for the tests that read the source as text
//! (tests/safety_comments.rs, tests/import_circles.rs): it tells code from
//! comments (line and nested block comments, doc comments included) and from
//! string literals (plain, byte and raw strings, char literals, not
//! lifetimes), so a check never mistakes a string or a comment holding
//! `unsafe {` or `crate::x` for code. It reads text only; it owns no check.

/// What a character of the source is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Code,
    Comment,
    Str,
}

/// The kind of every character of `text` (one entry per `char`).
pub fn kinds(text: &str) -> Vec<Kind> {
    let c: Vec<char> = text.chars().collect();
    let mut out = vec![Kind::Code; c.len()];
    let at = |i: usize| c.get(i).copied();
    let ident = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
    let mut i = 0;
    while i < c.len() {
        let start = i;
        let kind = match (c[i], at(i + 1)) {
            ('/', Some('/')) => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
                Kind::Comment
            }
            ('/', Some('*')) => {
                let mut depth = 0usize;
                while i < c.len() {
                    match (c[i], at(i + 1)) {
                        ('/', Some('*')) => {
                            depth += 1;
                            i += 2;
                        }
                        ('*', Some('/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => i += 1,
                    }
                }
                Kind::Comment
            }
            // r"..", r#".."#, br"..": no escapes; ends at `"` and the same
            // number of `#`.
            ('r', _) | ('b', Some('r')) if !ident(i.checked_sub(1).and_then(at)) => {
                let mut j = if c[i] == 'b' { i + 2 } else { i + 1 };
                let mut hashes = 0;
                while at(j) == Some('#') {
                    hashes += 1;
                    j += 1;
                }
                if at(j) != Some('"') {
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    match at(j) {
                        None => break,
                        Some('"') if (1..=hashes).all(|k| at(j + k) == Some('#')) => {
                            j += 1 + hashes;
                            break;
                        }
                        Some(_) => j += 1,
                    }
                }
                i = j;
                Kind::Str
            }
            ('"', _) => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                Kind::Str
            }
            // A char literal ('x', '\n', '\u{1F600}'), not a lifetime ('a).
            ('\'', Some('\\')) => {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                Kind::Str
            }
            ('\'', Some(_)) if at(i + 2) == Some('\'') => {
                i += 3;
                Kind::Str
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let end = i.min(c.len());
        for k in out.iter_mut().take(end).skip(start) {
            *k = kind;
        }
    }
    out
}

/// The text without comments (doc comments included: an intra-doc link is
/// not a dependency), each string or char literal reduced to `""`.
#[allow(dead_code)] // used by tests/import_circles.rs only
pub fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = Kind::Code;
    for (ch, kind) in text.chars().zip(kinds(text)) {
        match kind {
            Kind::Code => out.push(ch),
            Kind::Str if previous != Kind::Str => out.push_str("\"\""),
            Kind::Str | Kind::Comment => {}
        }
        previous = kind;
    }
    out
}
