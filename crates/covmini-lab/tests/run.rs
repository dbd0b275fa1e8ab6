//! The lab as a newcomer runs it: the built-in story (a call, a party
//! joining and leaving a multipoint call, an echo call) passes with zero
//! violations, each step is reported with its phase and line, the summary
//! table closes the output, `--trace`/`--diagram` write a JSON trace that
//! parses and an SVG that is well-formed XML with a lane per client, and a
//! reader that goes away ends the lab quietly.

mod common;

use common::{lab, temp_dir};

#[test]
fn the_built_in_story_runs_clean_and_ends_with_the_summary_table() {
    let (code, stdout, _) = lab(["run"]);
    assert_eq!(code, Some(0), "{stdout}");
    for step in [
        "caller makes call \"talk\" to \"lab-callee\" → SUCCESS",
        "callee sends 1 NBL of 1500 B on call \"talk\" → SUCCESS",
        "caller closes call \"talk\" → SUCCESS",
        "call     ok   caller makes multipoint call \"group\"; its first party: \"lab-callee\" → SUCCESS",
        "party    ok   a party joins: caller adds \"lab-leaf\" to call \"group\" → SUCCESS",
        "data     ok   caller sends 3 NBLs of 512 B on call \"group\" to both parties → SUCCESS",
        "party    ok   the party leaves: caller drops \"leaf\"; covmini closes its VC → SUCCESS",
        "caller closes call \"group\" with its last party → SUCCESS",
        "caller makes call \"echo\" to \"echo\" → SUCCESS",
        "NDIS halts the adapter",
        "unload the driver",
    ] {
        assert!(stdout.contains(step), "missing step {step:?}:\n{stdout}");
    }
    // Plain mode (stdout is a pipe): phase and counters on each step line.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(" data     ok ") && l.contains("[calls 1/1/0 · NBLs 2 · violations 0]")),
        "{stdout}"
    );
    let last: Vec<&str> = stdout.lines().rev().take(3).collect();
    assert!(last[0].starts_with("+---"), "the table is last:\n{stdout}");
    assert!(last[1].contains("| result") && last[1].contains("PASS"), "{stdout}");
    for row in [
        "| calls made ",
        "| calls accepted ",
        "| calls rejected ",
        "| data caller → callee ",
        "| data callee → caller ",
        "| data caller → echo → caller ",
        "| data caller → leaf ",
        "| parties joined ",
        "| parties left ",
        "| violations ",
        "| leaks ",
    ] {
        assert!(stdout.contains(row), "summary lacks {row:?}:\n{stdout}");
    }
}

#[test]
fn no_command_runs_the_story_and_quiet_prints_only_the_summary() {
    let (code, stdout, _) = lab(["-q"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(!stdout.contains(" ok "), "quiet prints no step lines:\n{stdout}");
    assert!(stdout.contains("| result "), "{stdout}");
    // The callee got 2 × 64 B on the call and 3 × 512 B as the first
    // party of the multipoint call; the leaf the same 3 × 512 B.
    assert!(
        stdout.contains("| data caller → callee           | 5 NBLs, 1664 bytes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| data caller → leaf             | 3 NBLs, 1536 bytes"),
        "{stdout}"
    );
    assert!(stdout.contains("| parties joined                 | 2 "), "{stdout}");
    assert!(stdout.contains("| parties left                   | 2 "), "{stdout}");
}

#[test]
fn verbose_shows_every_driver_call_under_its_step() {
    let (code, stdout, _) = lab(["run", "--verbose"]);
    assert_eq!(code, Some(0), "{stdout}");
    let after = stdout
        .split("caller makes call \"talk\"")
        .nth(1)
        .expect("the make call step");
    let before_next = after.split(" data ").next().unwrap_or("");
    assert!(before_next.contains("-> ProtocolCmMakeCall"), "{before_next}");
}

#[test]
fn every_subcommand_has_help() {
    for args in [&["--help"][..], &["run", "--help"], &["rules", "--help"]] {
        let (code, stdout, _) = lab(args);
        assert_eq!(code, Some(0), "{args:?}");
        assert!(stdout.contains("Usage:"), "{args:?}: {stdout}");
    }
    let (_, stdout, _) = lab(["run", "--help"]);
    for flag in [
        "--sys",
        "--seed",
        "--trace",
        "--diagram",
        "--quiet",
        "--check",
        "SCENARIO.toml",
    ] {
        assert!(stdout.contains(flag), "run --help lacks {flag}:\n{stdout}");
    }
}

/// Each subcommand takes only its own options: `run`'s (`--sys`, `-q`,
/// `--trace`, ...) are refused by `rules` and `bench` with clap's usage
/// error (exit 2) before anything runs, and not offered in their help; a
/// `run` option before another subcommand is refused too. With no
/// subcommand, `run`'s options apply to the built-in story.
#[test]
fn each_subcommand_takes_only_its_own_options() {
    for (args, offender) in [
        (&["rules", "--sys", "covmini.sys"][..], "--sys"),
        (&["rules", "-q"][..], "-q"),
        (&["bench", "--sys", "covmini.sys"][..], "--sys"),
        (&["bench", "--quick", "--trace", "t.json"][..], "--trace"),
        (&["help", "--verbose"][..], "--verbose"),
        (&["run", "--quick"][..], "--quick"),
    ] {
        let (code, stdout, stderr) = lab(args);
        assert_eq!(code, Some(2), "{args:?}:\n{stdout}{stderr}");
        assert!(
            stderr.contains(&format!("unexpected argument '{offender}")),
            "{args:?}:\n{stderr}"
        );
        assert!(stdout.is_empty(), "{args:?} ran:\n{stdout}");
    }
    let (code, _, stderr) = lab(["--sys", "covmini.sys", "rules"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the subcommand 'rules' cannot be used with '--sys <FILE>'"),
        "{stderr}"
    );
    for sub in ["rules", "bench"] {
        let (code, stdout, _) = lab([sub, "--help"]);
        assert_eq!(code, Some(0), "{stdout}");
        for flag in ["--sys", "--quiet", "--trace", "--diagram", "--seed"] {
            assert!(!stdout.contains(flag), "{sub} --help offers {flag}:\n{stdout}");
        }
    }
    let (code, stdout, _) = lab(["--help"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("--sys <FILE>") && stdout.contains("--quiet"),
        "{stdout}"
    );
}

/// `help` is an ordinary subcommand: `help --help` explains it (clap's
/// built-in `help` refused it as an unknown subcommand), `help COMMAND`
/// prints that subcommand's help, and an unknown one is a usage error.
#[test]
fn help_explains_itself_and_each_subcommand() {
    let (code, stdout, stderr) = lab(["help", "--help"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("Usage: covmini-lab help [COMMAND]"), "{stdout}");
    for (sub, says) in [
        ("bench", "Usage: covmini-lab bench [OPTIONS]"),
        ("rules", "Usage: covmini-lab rules"),
        ("run", "Usage: covmini-lab run [OPTIONS] [SCENARIO.toml]"),
        ("check", "Usage: covmini-lab check <SCENARIO.toml>..."),
        ("flight", "Usage: covmini-lab flight [OPTIONS] <FILE>"),
    ] {
        let (code, stdout, _) = lab(["help", sub]);
        assert_eq!(code, Some(0), "{stdout}");
        assert!(stdout.contains(says), "help {sub}:\n{stdout}");
        let (_, own, _) = lab([sub, "--help"]);
        assert_eq!(stdout, own, "help {sub} is {sub} --help");
    }
    let (code, stdout, _) = lab(["help"]);
    assert_eq!(code, Some(0));
    for sub in ["run ", "check ", "rules ", "bench ", "flight ", "help "] {
        assert!(stdout.contains(sub), "{stdout}");
    }
    let (code, _, stderr) = lab(["help", "nope"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("possible values: run, check, rules, bench, flight, help"),
        "{stderr}"
    );
}

#[test]
fn the_rules_command_prints_the_catalog() {
    let (code, stdout, _) = lab(["rules"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("# ndis-emu rules catalog"), "{stdout}");
    assert!(stdout.contains("`cm.complete-only-pended`"), "{stdout}");
}

#[test]
fn run_writes_a_json_trace_and_an_svg_sequence_diagram() {
    let dir = temp_dir("artifacts");
    let (trace, diagram) = (dir.join("trace.json"), dir.join("story.svg"));
    let scenario = common::repo().join("scenarios/pended.toml");
    let (code, stdout, _) = lab([
        "run".as_ref(),
        scenario.as_os_str(),
        "-q".as_ref(),
        "--trace".as_ref(),
        trace.as_os_str(),
        "--diagram".as_ref(),
        diagram.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains(&trace.display().to_string()),
        "trace path not printed:\n{stdout}"
    );
    assert!(
        stdout.contains(&diagram.display().to_string()),
        "diagram path not printed:\n{stdout}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).expect("trace written")).expect("the trace is JSON");
    assert_eq!(json["scenario"]["name"], "pended answers");
    assert_eq!(json["passed"], true);
    assert_eq!(json["clean"], true);
    assert_eq!(json["violations"].as_array().map(Vec::len), Some(0));
    assert_eq!(json["counters"]["calls_made"], 2);
    assert_eq!(json["counters"]["calls_accepted"], 1);
    assert_eq!(json["counters"]["calls_rejected"], 1);
    let steps = json["steps"].as_array().expect("steps");
    let answer = steps
        .iter()
        .find(|s| s["text"].as_str().is_some_and(|t| t.starts_with("bob accepts")))
        .expect("the answer step");
    assert_eq!(answer["status"], "SUCCESS");
    assert_eq!(answer["phase"], "call");
    assert!(answer["line"].as_u64().is_some());
    // The answer step's events are the pended make call completing, in order.
    let events = json["events"].as_array().expect("events");
    let range =
        answer["first_event"].as_u64().unwrap_or(0) as usize..answer["end_event"].as_u64().unwrap_or(0) as usize;
    let names: Vec<&str> = events[range].iter().filter_map(|e| e["name"].as_str()).collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n} in {names:?}"))
    };
    assert!(pos("ProtocolCmIncomingCallComplete") < pos("NdisCmDispatchCallConnected"));
    assert!(pos("NdisCmDispatchCallConnected") < pos("NdisCmMakeCallComplete"));
    // Every event has its sequence number, IRQL and direction, in order.
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs.len(), events.len());
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(events.iter().all(|e| e["irql"].is_u64() && e["dir"].is_string()));
    assert!(
        events
            .iter()
            .any(|e| e["name"] == "NdisMCmActivateVc" && e["detail"].as_str().is_some_and(|d| d.contains("0x"))),
        "object ids in the arguments"
    );

    let svg = std::fs::read_to_string(&diagram).expect("diagram written");
    let doc = roxmltree::Document::parse(&svg).expect("the diagram is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for lane in ["alice", "bob", "NDIS (ndis-emu)", "covmini"] {
        assert!(texts.contains(&lane), "lane {lane:?} missing");
    }
    // bob's incoming call reaches bob's lane; alice's make call comes from hers.
    assert!(texts.contains(&"to bob") && texts.contains(&"from alice"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Step 7: bob accepts the first call later") && t.contains("(line ")),
        "a step band names its scenario line"
    );
    assert!(texts.contains(&"ProtocolCmMakeCall"), "the make call arrow");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_output_path_fails_the_run_and_says_why() {
    let dir = temp_dir("unwritable");
    let (code, stdout, _) = lab([
        "run".as_ref(),
        "-q".as_ref(),
        "--trace".as_ref(),
        dir.join("no-such-dir").join("trace.json").as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("could not write"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reader that goes away (`covmini-lab run | head -3`) ends the lab
/// quietly with 141, the status a shell reports for a filter killed by
/// SIGPIPE, not with a "Broken pipe" panic (101). The pipe's read end is
/// closed before the lab starts, so every one of its writes meets EPIPE
/// (closing it after the spawn would race with a short output that fits in
/// the pipe's buffer).
#[test]
fn a_closed_stdout_ends_the_lab_quietly_with_the_sigpipe_status() {
    use std::process::{Command, Stdio};
    for args in [&["run"][..], &["run", "-q"], &["rules"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let child = Command::new(env!("CARGO_BIN_EXE_covmini-lab"))
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .spawn()
            .expect("run covmini-lab");
        let out = child.wait_with_output().expect("wait for covmini-lab");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: nothing on stderr, got {stderr}");
    }
}

/// `scripts/lab.sh` shows progress while it builds: each stage announces
/// itself on stderr before it starts, and every cargo build it runs shows
/// cargo's own lines (no `--quiet` but on the final `cargo run`, which
/// comes after the release build and so has nothing to build). Read from
/// the script: running it here would rebuild the kernel images.
#[test]
fn lab_sh_announces_each_stage_and_lets_cargo_show_its_build() {
    let script = std::fs::read_to_string(common::repo().join("scripts/lab.sh")).expect("scripts/lab.sh");
    let lines: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let stage = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("lab.sh has no {needle:?}:\n{script}"))
    };
    let build = stage("cargo build --release -p covmini-lab");
    let run = stage("cargo run");
    for (work, announced) in [
        (stage("scripts/toolchain.sh"), "==> toolchain"),
        (stage("scripts/build-kernel.sh"), "==> kernel images"),
        (build, "==> covmini-lab (release build)"),
        (run, "==> covmini under ndis-emu"),
    ] {
        let echo = stage(announced);
        assert!(
            echo < work && lines[echo].starts_with("echo") && lines[echo].ends_with(">&2"),
            "{announced}"
        );
    }
    assert!(build < run, "the release build comes before the run");
    for l in &lines[..run] {
        assert!(
            !(l.contains("cargo ") && (l.contains("--quiet") || l.contains(" -q"))),
            "a quiet build: {l}"
        );
    }
}
