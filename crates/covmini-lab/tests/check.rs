//! `covmini-lab check FILE...`, the scenario checker every build has (the
//! Windows one included, see tests/wine.rs): every shipped scenario is
//! valid, a line each, in order; a malformed file is refused with exit 2
//! and an error naming its line, while the valid files around it still get
//! their lines; `check` with no file is a usage error; `help check` works.

mod common;

use common::{lab, line_of, repo, shipped, temp_dir, write};

/// A file whose one error is on a known line (an unknown step kind).
const BAD: &str = "name = \"bad\"\n\n[[client]]\nname = \"alice\"\n\n[[step]]\ndo = \"fly\"\nclient = \"alice\"\n";

#[test]
fn every_shipped_scenario_checks_with_a_line_each_in_order() {
    let files = shipped();
    assert!(files.len() >= 8, "{files:?}");
    let (code, stdout, stderr) = lab(std::iter::once("check".as_ref()).chain(files.iter().map(|f| f.as_os_str())));
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), files.len(), "{stdout}");
    for (line, file) in lines.iter().zip(&files) {
        assert!(line.starts_with(&format!("{}: ok: \"", file.display())), "{line}");
        assert!(line.ends_with(" step(s)"), "{line}");
    }
    // The same verdict as `run --check` gives each one.
    let story = repo().join("scenarios/story.toml");
    let (_, one, _) = lab(["run".as_ref(), "--check".as_ref(), story.as_os_str()]);
    assert!(lines.contains(&one.trim_end()), "{one}");
}

#[test]
fn a_malformed_file_is_refused_naming_its_line_and_the_others_still_checked() {
    let dir = temp_dir("check-bad");
    let bad = write(&dir, "bad.toml", BAD);
    let good = repo().join("scenarios/echo.toml");
    let (code, stdout, stderr) = lab(["check".as_ref(), bad.as_os_str(), good.as_os_str()]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let line = line_of(BAD, "\"fly\"");
    assert!(
        stderr.contains(&format!("{}:{line}:", bad.display())) && stderr.contains("unknown step"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 2 file(s) refused"), "{stderr}");
    assert!(
        stdout.starts_with(&format!("{}: ok: \"echo\"", good.display())),
        "{stdout}"
    );
    assert!(!stdout.contains("bad.toml"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_file_is_refused() {
    let missing = temp_dir("check-missing").join("none.toml");
    let (code, stdout, stderr) = lab(["check".as_ref(), missing.as_os_str()]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stderr.contains(&format!("cannot read {}", missing.display())),
        "{stderr}"
    );
}

#[test]
fn check_needs_a_file_and_has_help() {
    let (code, _, stderr) = lab(["check"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("<SCENARIO.toml>..."), "{stderr}");
    for args in [&["check", "--help"][..], &["help", "check"]] {
        let (code, stdout, _) = lab(args);
        assert_eq!(code, Some(0), "{args:?}");
        assert!(
            stdout.contains("Usage: covmini-lab check <SCENARIO.toml>..."),
            "{stdout}"
        );
    }
}
