//! The Windows build of the lab, run under Wine (issue #12: "the Windows
//! lab binary builds in CI and passes its Wine smoke test").
//!
//! `scripts/windows-lab.sh` cross-builds covmini-lab.exe for
//! x86_64-pc-windows-gnu with mingw-w64, makes a throwaway Wine prefix under
//! target/, and runs these tests with `--ignored`, naming the Wine loader
//! and the .exe in `COVMINI_LAB_WINE` and `COVMINI_LAB_EXE`. A plain `cargo
//! test` skips them (ignored): they need both.
//!
//! What they prove about the .exe:
//! - it starts under Wine and `--help` and `help check` print the command
//!   line, every subcommand listed, with the Windows build's note;
//! - `check scenarios/*.toml` accepts every shipped scenario and prints
//!   exactly what the Linux build prints (same parser, same verdict);
//! - a malformed scenario is refused with exit 2 and the same error, naming
//!   the line, as the Linux build's;
//! - `run` (with or without a file), `rules`, `bench` and `flight` refuse
//!   with exit 2 and say why (and `run` that `--via covclient` will be the
//!   Windows backend), while `run --check` works.

mod common;

use std::ffi::OsStr;
use std::process::Command;

use common::{line_of, repo, shipped, temp_dir, write};

/// Runs the Windows build under Wine from the repository root: (exit code,
/// stdout, stderr). Wine's own noise is off (`WINEDEBUG=-all`); the prefix
/// is the caller's (`WINEPREFIX`, set by scripts/windows-lab.sh).
fn wine_lab<I, S>(args: I) -> (Option<i32>, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let wine = std::env::var_os("COVMINI_LAB_WINE")
        .expect("COVMINI_LAB_WINE: the Wine loader (scripts/windows-lab.sh sets it)");
    let exe =
        std::env::var_os("COVMINI_LAB_EXE").expect("COVMINI_LAB_EXE: covmini-lab.exe (scripts/windows-lab.sh sets it)");
    let out = Command::new(wine)
        .arg(exe)
        .args(args)
        .current_dir(repo())
        .env("WINEDEBUG", "-all")
        .output()
        .expect("run covmini-lab.exe under Wine");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the Linux build from the repository root, as [`wine_lab`] runs the
/// Windows one: (exit code, stdout, stderr).
fn linux_lab<I, S>(args: I) -> (Option<i32>, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_covmini-lab"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run the Linux build");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The shipped scenarios as the README writes them: `scenarios/NAME.toml`,
/// relative to the repository root.
fn shipped_relative() -> Vec<String> {
    shipped()
        .iter()
        .filter_map(|p| p.file_name().map(|n| format!("scenarios/{}", n.to_string_lossy())))
        .collect()
}

#[test]
#[ignore = "needs Wine and covmini-lab.exe: scripts/windows-lab.sh runs it"]
fn help_lists_every_subcommand_and_says_what_works_on_windows() {
    let (code, stdout, stderr) = wine_lab(["--help"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("Usage: covmini-lab.exe"), "{stdout}");
    for sub in ["run", "check", "rules", "bench", "flight", "help"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(&format!("{sub} "))),
            "--help lacks {sub}:\n{stdout}"
        );
    }
    assert!(stdout.contains("This is the Windows build"), "{stdout}");
    let (code, stdout, _) = wine_lab(["help", "check"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("Usage: covmini-lab.exe check <SCENARIO.toml>..."),
        "{stdout}"
    );
    assert_eq!(stdout, wine_lab(["check", "--help"]).1, "help check is check --help");
}

#[test]
#[ignore = "needs Wine and covmini-lab.exe: scripts/windows-lab.sh runs it"]
fn check_accepts_every_shipped_scenario_as_the_linux_build_does() {
    let files = shipped_relative();
    assert!(files.len() >= 8, "{files:?}");
    let args: Vec<&str> = std::iter::once("check")
        .chain(files.iter().map(String::as_str))
        .collect();
    let (code, stdout, stderr) = wine_lab(&args);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), files.len(), "{stdout}");
    for (line, file) in stdout.lines().zip(&files) {
        assert!(line.starts_with(&format!("{file}: ok: \"")), "{line}");
    }
    let (_, linux, _) = linux_lab(&args);
    assert_eq!(stdout, linux);
    // `run --check` too.
    let (code, one, _) = wine_lab(["run", "--check", "scenarios/story.toml"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        one,
        "scenarios/story.toml: ok: \"built-in story\", 3 client(s), 20 step(s)\n"
    );
}

#[test]
#[ignore = "needs Wine and covmini-lab.exe: scripts/windows-lab.sh runs it"]
fn a_malformed_scenario_is_refused_naming_its_line() {
    const BAD: &str =
        "name = \"bad\"\n\n[[client]]\nname = \"alice\"\n\n[[step]]\ndo = \"open_af\"\nclient = \"bob\"\n";
    let dir = temp_dir("wine-bad");
    let bad = write(&dir, "bad.toml", BAD);
    let args = ["check".as_ref(), bad.as_os_str(), "scenarios/echo.toml".as_ref()];
    let (code, stdout, stderr) = wine_lab(args);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let line = line_of(BAD, "\"bob\"");
    assert!(stderr.contains(&format!("{}:{line}:", bad.display())), "{stderr}");
    assert!(stderr.contains("1 of 2 file(s) refused"), "{stderr}");
    assert!(stdout.starts_with("scenarios/echo.toml: ok:"), "{stdout}");
    // Word for word the Linux build's error.
    let (linux_code, _, linux_stderr) = linux_lab(args);
    assert_eq!((code, stderr), (linux_code, linux_stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs Wine and covmini-lab.exe: scripts/windows-lab.sh runs it"]
fn the_emulator_subcommands_refuse_and_say_why() {
    let cases: [&[&str]; 6] = [
        &[],
        &["run", "scenarios/story.toml"],
        &["-q"],
        &["rules"],
        &["bench", "--quick"],
        &["flight", "dump.bin"],
    ];
    for args in cases {
        let (code, stdout, stderr) = wine_lab(args);
        assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(": not available on Windows: "), "{args:?}: {stderr}");
        assert!(stderr.contains("`check SCENARIO.toml...`"), "{args:?}: {stderr}");
        let is_run = args.first().is_none_or(|a| *a == "run" || a.starts_with('-'));
        assert_eq!(stderr.contains("`run --via covclient`"), is_run, "{args:?}: {stderr}");
    }
}
