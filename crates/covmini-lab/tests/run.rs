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

/// A fresh, empty directory under the system temp dir for one test.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("covmini-lab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Structural JSON check: brackets balance outside strings, strings close,
/// and escapes are JSON's.
fn assert_json_structure(json: &str) {
    let mut stack = Vec::new();
    let mut chars = json.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next().expect("unterminated string") {
                    '"' => break,
                    '\\' => {
                        let e = chars.next().expect("dangling escape");
                        assert!("\"\\/bfnrtu".contains(e), "bad escape \\{e}");
                    }
                    c => assert!(u32::from(c) >= 0x20, "raw control character in a string"),
                }
            },
            '{' | '[' => stack.push(c),
            '}' => assert_eq!(stack.pop(), Some('{')),
            ']' => assert_eq!(stack.pop(), Some('[')),
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unbalanced: {stack:?}");
}

#[test]
fn run_writes_a_json_trace_and_an_svg_sequence_diagram() {
    let dir = temp_dir("artifacts");
    let (trace, diagram) = (dir.join("trace.json"), dir.join("story.svg"));
    let out = Command::new(env!("CARGO_BIN_EXE_covmini-lab"))
        .args(["run", "-q", "--trace"])
        .arg(&trace)
        .arg("--diagram")
        .arg(&diagram)
        .output()
        .expect("run covmini-lab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{stdout}", out.status.code());
    assert!(
        stdout.contains(&trace.display().to_string()),
        "trace path not printed:\n{stdout}"
    );
    assert!(
        stdout.contains(&diagram.display().to_string()),
        "diagram path not printed:\n{stdout}"
    );

    let json = std::fs::read_to_string(&trace).expect("trace written");
    assert_json_structure(&json);
    assert!(json.trim_start().starts_with('{') && json.trim_end().ends_with('}'));
    for want in [
        "\"clean\": true",
        "\"violations\": []",
        "\"dir\": \"->\", \"name\": \"DriverEntry\"",
        "\"name\": \"ProtocolCmMakeCall\"",
        "\"text\": \"caller calls the callee (make call)\", \"ok\": true",
    ] {
        assert!(json.contains(want), "trace lacks {want:?}");
    }
    assert!(json.matches("\"seq\": ").count() > 100, "the trace has every event");

    let svg = std::fs::read_to_string(&diagram).expect("diagram written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for want in ["client(s)", "NDIS (ndis-emu)", "covmini", "ProtocolCmMakeCall", "×512"] {
        assert!(svg.contains(want), "diagram lacks {want:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_output_path_fails_the_run_and_says_why() {
    let dir = temp_dir("unwritable");
    let out = Command::new(env!("CARGO_BIN_EXE_covmini-lab"))
        .args(["run", "-q", "--trace"])
        .arg(dir.join("no-such-dir").join("trace.json"))
        .output()
        .expect("run covmini-lab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("could not write"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
