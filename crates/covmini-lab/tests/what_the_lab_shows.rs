//! What a run shows, read from ndis-emu's structured trace: every handler
//! return carries its status by name (in the trace and the diagram), no
//! status that has a name prints as hex anywhere in a run's output, a call
//! with no route is not counted as rejected, the steps after a failure are
//! named as skipped, and the diagram of the data scenario is folded to a
//! size a viewer opens.

mod common;

use std::path::{Path, PathBuf};

use common::{lab, repo, shipped, temp_dir, write};
use ndis_emu::trace::STATUS_NAMES;

/// Runs `file` with the trace and the diagram written to `dir`: (exit
/// code, stdout, trace JSON, diagram SVG).
fn run_with_outputs(dir: &Path, file: &Path) -> (Option<i32>, String, serde_json::Value, String) {
    let (trace, diagram) = (dir.join("trace.json"), dir.join("diagram.svg"));
    let (code, stdout, stderr) = lab([
        "run".as_ref(),
        "--trace".as_ref(),
        trace.as_os_str(),
        "--diagram".as_ref(),
        diagram.as_os_str(),
        file.as_os_str(),
    ]);
    let json = std::fs::read_to_string(&trace).unwrap_or_else(|e| panic!("{}: {e}\n{stdout}{stderr}", file.display()));
    let json = serde_json::from_str(&json).expect("the trace is JSON");
    let svg = std::fs::read_to_string(&diagram).expect("the diagram is written");
    (code, stdout, json, svg)
}

fn scenario(name: &str) -> PathBuf {
    repo().join("scenarios").join(name)
}

fn events(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["events"].as_array().expect("events")
}

/// A pended make call: the trace's return event of ProtocolCmMakeCall says
/// PENDING, and the diagram's arrow reads "ProtocolCmMakeCall returns
/// PENDING". Every call-manager handler that returns a status returns it by
/// name (they used to return blank).
#[test]
fn a_pended_make_call_returns_pending_by_name_in_the_trace_and_the_diagram() {
    let dir = temp_dir("pended-returns");
    let (code, stdout, json, svg) = run_with_outputs(&dir, &scenario("pended.toml"));
    assert_eq!(code, Some(0), "{stdout}");
    let returns: Vec<(&str, &str)> = events(&json)
        .iter()
        .filter(|e| e["dir"] == "<-")
        .map(|e| (e["name"].as_str().unwrap_or(""), e["detail"].as_str().unwrap_or("")))
        .collect();
    assert!(returns.contains(&("ProtocolCmMakeCall", "PENDING")), "{returns:?}");
    assert!(
        svg.contains("ProtocolCmMakeCall returns PENDING"),
        "the diagram's arrow"
    );
    // Every handler that returns an NDIS_STATUS carries it by name; the
    // VOID ones (send, return, halt, unload, the completion handlers) carry
    // nothing.
    let void = [
        "MiniportCoSendNetBufferLists",
        "MiniportReturnNetBufferLists",
        "MiniportHaltEx",
        "MiniportDriverUnload",
        "ProtocolCmIncomingCallComplete",
        "ProtocolCmNotifyCloseAfComplete",
    ];
    for (name, detail) in returns {
        if void.contains(&name) {
            assert_eq!(detail, "", "{name} returns nothing");
        } else {
            assert!(
                STATUS_NAMES.iter().any(|(n, _)| *n == detail),
                "{name} returns {detail:?}, not a status by name"
            );
        }
    }
}

/// The hex spellings a status with a name could take: `0x10003`,
/// `0x00010003`, `0xc0010029`.
fn hex_spellings() -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for (name, v) in STATUS_NAMES {
        // SUCCESS (0) is also a NULL pointer's spelling; its place is
        // checked where a status goes (returns, completions) below.
        if *v == 0 {
            continue;
        }
        let bits = *v as u32;
        out.push((format!("{bits:#x}"), *name));
        out.push((format!("{bits:#010x}"), *name));
    }
    out
}

/// No shipped scenario's output (progress and summary, trace, diagram)
/// prints a status that has a name as hex: every hex word in it is a
/// handle, address, flags or count, never a named status; and where a
/// status goes (a handler's return, a completion's first word) there is a
/// name.
#[test]
fn no_status_with_a_name_prints_as_hex() {
    let spellings = hex_spellings();
    for file in shipped() {
        let dir = temp_dir(&format!(
            "hex-{}",
            file.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default()
        ));
        let (code, stdout, json, svg) = run_with_outputs(&dir, &file);
        assert_eq!(code, Some(0), "{}:\n{stdout}", file.display());
        let text = format!("{stdout}\n{json}\n{svg}");
        for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            let lower = word.to_ascii_lowercase();
            if let Some((_, name)) = spellings.iter().find(|(h, _)| *h == lower) {
                panic!("{}: {name} printed as {word}", file.display());
            }
        }
        for e in events(&json) {
            let (dir, name) = (e["dir"].as_str().unwrap_or(""), e["name"].as_str().unwrap_or(""));
            let first = e["detail"].as_str().unwrap_or("").split(' ').next().unwrap_or("");
            let status_first = dir == "<-" || (dir == "=>" && name.starts_with("NdisCm") && name.ends_with("Complete"));
            assert!(
                !(status_first && first.starts_with("0x")),
                "{}: {dir} {name} {first}: a status as hex",
                file.display()
            );
        }
    }
}

/// Calls to addresses nobody registered (or covmini cannot route) are
/// counted as calls with no route, not as rejected calls: nobody refused
/// them. A call the callee refuses is still a rejection.
#[test]
fn a_call_with_no_route_is_not_counted_as_rejected() {
    let dir = temp_dir("no-route-counts");
    let (code, stdout, json, _) = run_with_outputs(&dir, &scenario("no-route.toml"));
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(json["counters"]["calls_made"], 3);
    assert_eq!(json["counters"]["calls_rejected"], 0, "{stdout}");
    assert_eq!(json["counters"]["calls_unrouted"], 3);
    let row = |stdout: &str, name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {name} ")))
            .map(|l| l.split('|').nth(2).unwrap_or("").trim().to_owned())
    };
    assert_eq!(row(&stdout, "calls rejected").as_deref(), Some("0"), "{stdout}");
    assert_eq!(row(&stdout, "calls with no route").as_deref(), Some("3"), "{stdout}");

    let dir = temp_dir("rejected-counts");
    let (code, stdout, json, _) = run_with_outputs(&dir, &scenario("rejected.toml"));
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(json["counters"]["calls_rejected"], 1, "{stdout}");
    assert_eq!(json["counters"]["calls_unrouted"], 0);
    assert_eq!(row(&stdout, "calls with no route"), None, "{stdout}");
}

/// The run stops at its first failure; each scenario step after it is
/// shown as skipped: in the progress lines, the problems list, the
/// summary, the trace (`"skipped": true`, no status, no events) and the
/// diagram.
#[test]
fn steps_after_a_failure_are_named_as_skipped() {
    let dir = temp_dir("skipped");
    let text = std::fs::read_to_string(scenario("rejected.toml")).expect("shipped");
    let file = write(
        &dir,
        "unmet.toml",
        &text.replacen("expect = \"NOT_ACCEPTED\"", "expect = \"SUCCESS\"", 1),
    );
    let (code, stdout, json, svg) = run_with_outputs(&dir, &file);
    assert_eq!(code, Some(1), "{stdout}");
    let steps = json["steps"].as_array().expect("steps");
    let failed = steps
        .iter()
        .position(|s| !s["failure"].is_null())
        .expect("a failed step");
    let scenario_steps = text.matches("[[step]]").count();
    // load + add + the scenario steps up to the failure, then the rest of
    // them skipped; then the lab's own halt and unload.
    let skipped: Vec<&serde_json::Value> = steps.iter().filter(|s| s["skipped"] == true).collect();
    assert_eq!(skipped.len(), scenario_steps - (failed - 1), "{stdout}");
    for s in &skipped {
        assert!(s["status"].is_null() && s["ok"] == false, "{s}");
        assert_eq!(s["first_event"], s["end_event"], "{s}");
        assert!(s["line"].as_u64().is_some(), "{s}");
    }
    assert!(steps[..=failed].iter().all(|s| s["skipped"] == false));
    let skip_lines = stdout
        .lines()
        .filter(|l| l.contains(" skip ") && l.contains("skipped: not run"))
        .count();
    assert_eq!(skip_lines, skipped.len(), "{stdout}");
    assert_eq!(stdout.matches("SKIPPED step ").count(), skipped.len(), "{stdout}");
    assert!(
        stdout.contains(&format!("{} skipped (not run after a failure)", skipped.len())),
        "{stdout}"
    );
    assert_eq!(
        svg.matches("→ skipped: not run, an earlier step failed").count(),
        skipped.len()
    );
}

/// The data scenario (100 NBLs each way at two sizes, 40 268 px of
/// diagram before) folds each send's repeated rows into one group shown
/// ×100: the diagram stays under 6 000 px and says what it folded.
#[test]
fn the_data_diagram_is_folded_to_a_size_a_viewer_opens() {
    let dir = temp_dir("data-fold");
    let (code, stdout, _, svg) = run_with_outputs(&dir, &scenario("data.toml"));
    assert_eq!(code, Some(0), "{stdout}");
    let height: u32 = svg
        .split("height=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .and_then(|h| h.parse().ok())
        .expect("the svg's height");
    assert!(height < 6_000, "{height} px");
    assert!(svg.contains("ran ×100 in a row"), "the folds are named");
}
