//! covmini-lab's scenario parser (`crates/covmini-lab/src/scenario/parse.rs`)
//! on arbitrary text: it returns a scenario or errors, never panics, and
//! every error it reports points inside the text.

use crate::scenario::parse::parse;

/// One input: the text (lossily UTF-8: the lab reads files as UTF-8 and
/// refuses anything else before parsing).
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse("fuzz.toml", &text) {
        Ok(s) => {
            let _ = format!("{s:?}");
        }
        Err(errors) => {
            assert!(!errors.errors.is_empty(), "an Err with no error");
            let lines = text.lines().count().max(1);
            for e in &errors.errors {
                assert!(
                    (1..=lines + 1).contains(&e.line),
                    "line {} of {lines}: {}",
                    e.line,
                    e.message
                );
            }
            let _ = errors.to_string();
        }
    }
}
