//! The lab's first run, as a newcomer runs it: the built-in story passes with
//! zero violations, every step is reported, and the exit status says so.

use std::process::Command;

#[test]
fn the_built_in_story_runs_clean_and_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_covmini-lab"))
        .args(["run", "-q"])
        .output()
        .expect("run covmini-lab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{stdout}", out.status.code());
    for step in [
        "caller calls the callee",
        "both ends connected",
        "callee told and closed its side",
        "halt:",
    ] {
        assert!(stdout.contains(step), "missing step {step:?}:\n{stdout}");
    }
    assert!(stdout.contains("clean: zero violations, zero leaks"), "{stdout}");
}

#[test]
fn the_rules_command_prints_the_catalog() {
    let out = Command::new(env!("CARGO_BIN_EXE_covmini-lab"))
        .arg("rules")
        .output()
        .expect("run covmini-lab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.starts_with("# ndis-emu rules catalog"), "{stdout}");
    assert!(stdout.contains("`cm.complete-only-pended`"), "{stdout}");
}
