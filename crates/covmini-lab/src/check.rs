//! Reading a scenario (a file, or the built-in story) and checking it
//! without running it: `covmini-lab check FILE...` and `run --check`.
//!
//! This module owns the reading and the verdict lines; the format itself is
//! `scenario`'s. It must not run anything, nor depend on the emulator: it is
//! what the Windows build has of the lab today (docs/windows.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::EXIT_BAD_INPUT;
use crate::scenario::{Scenario, parse};

/// The built-in story: scenarios/story.toml.
const STORY: &str = include_str!("../../../scenarios/story.toml");
/// How the built-in story is named in errors and the summary.
const STORY_NAME: &str = "scenarios/story.toml, built in";

/// The scenario at `path` (the built-in story for `None`) and how to name
/// it, or, after saying on stderr why (the file cannot be read; every error
/// of a malformed file, each naming its line and column), the exit status
/// for it.
///
/// # Errors
/// [`EXIT_BAD_INPUT`] for an unreadable or malformed file.
pub fn load(path: Option<&Path>) -> Result<(String, Scenario), ExitCode> {
    let (file, text) = match path {
        None => (STORY_NAME.to_owned(), STORY.to_owned()),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (path.display().to_string(), t),
            Err(e) => {
                eprintln!("covmini-lab: cannot read {}: {e}", path.display());
                return Err(ExitCode::from(EXIT_BAD_INPUT));
            }
        },
    };
    match parse::parse(&file, &text) {
        Ok(s) => Ok((file, s)),
        Err(errors) => {
            eprintln!("{errors}");
            Err(ExitCode::from(EXIT_BAD_INPUT))
        }
    }
}

/// The line a valid scenario gets: its file, name and size.
pub fn ok_line(file: &str, scenario: &Scenario) -> String {
    format!(
        "{file}: ok: {:?}, {} client(s), {} step(s)\n",
        scenario.name,
        scenario.clients.len(),
        scenario.steps.len()
    )
}

/// `check FILE...`: every file is checked, in order, even after a bad one;
/// a line on stdout per valid file, the errors of the others on stderr.
/// Exit status 0 when all are valid, else [`EXIT_BAD_INPUT`].
pub fn main(files: &[PathBuf]) -> ExitCode {
    let mut bad = 0_usize;
    for path in files {
        match load(Some(path)) {
            Ok((file, scenario)) => crate::out::print(&ok_line(&file, &scenario)),
            Err(_) => bad = bad.saturating_add(1),
        }
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("covmini-lab check: {bad} of {} file(s) refused", files.len());
        ExitCode::from(EXIT_BAD_INPUT)
    }
}
