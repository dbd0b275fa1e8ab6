//! `--trace FILE.json`: the whole run as JSON — the scenario, its steps
//! (with their scenario line, phase, status and any unmet expectation), the
//! counters, every NDIS↔driver call in order (sequence number, IRQL,
//! direction, handler or DDI, arguments/status/object ids) and every
//! violation with its rule id and step.
//!
//! Written by hand (no serde): the shape is small and fixed, one object per
//! line so the file diffs well.
//!
//! ```json
//! {
//!   "tool": "covmini-lab",
//!   "scenario": {"name": "echo", "file": "scenarios/echo.toml", "seed": 0},
//!   "passed": true,
//!   "clean": true,
//!   "counters": {"calls_made": 1, "calls_accepted": 1, "calls_rejected": 0, "calls_unrouted": 0, "parties_joined": 0, "parties_left": 0, "handler_calls": 80, "ddi_calls": 700, "violations": 0,
//!                "flows": [{"label": "alice → echo → alice", "nbls": 4, "bytes": 256}]},
//!   "steps": [
//!     {"n": 1, "line": null, "phase": "driver", "text": "load the driver", "status": "SUCCESS", "ok": true, "skipped": false, "failure": null, "first_event": 0, "end_event": 8, "violations": []}
//!   ],
//!   "events": [
//!     {"seq": 0, "cpu": 0, "irql": 0, "dir": "->", "name": "DriverEntry", "detail": ""}
//!   ],
//!   "violations": [
//!     {"rule": "memory.ledger", "call": "unload", "step": null, "detail": "…", "history": []}
//!   ]
//! }
//! ```
//!
//! A step that was not run (an earlier step failed) is `"skipped": true`,
//! with no status and no events. A handler's return (`<-`) carries its
//! status by name (`PENDING`); every status prints by name when it has one.
//!
//! `dir` is `->` (NDIS calls a covmini handler), `<-` (the handler returns),
//! `=>` (covmini calls an NDIS DDI) or `!!` (a fault ndis-emu injected).
//! `cpu` is the emulated processor the event ran on: 0 is the thread that
//! drives the scenario; ndis-emu's threaded mode numbers its other threads
//! from 1.
//! A step's `line` is its line in the scenario file (`null` for the lab's
//! own steps: load, add adapter, the final halt and unload). A violation's
//! `step` is the 1-based step during which it was seen, or `null` when it
//! was found after the last step (the leak check at unload).

use std::fmt::Write;

use ndis_emu::Report;

use crate::runner::Outcome;
use crate::steps::{Counters, Step};

/// `text` as a JSON string literal, quotes included.
#[must_use]
pub fn json_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The 1-based step during which violation `index` was seen.
fn step_of_violation(steps: &[Step], index: usize) -> Option<usize> {
    steps.iter().position(|s| s.violations.contains(&index)).map(|i| i + 1)
}

fn opt_str(text: Option<&str>) -> String {
    text.map_or_else(|| "null".to_owned(), json_str)
}

fn counters_json(c: &Counters) -> String {
    let flows: Vec<String> = c
        .flows
        .iter()
        .map(|f| {
            format!(
                "{{\"label\": {}, \"nbls\": {}, \"bytes\": {}}}",
                json_str(&f.label),
                f.nbls,
                f.bytes
            )
        })
        .collect();
    format!(
        "{{\"calls_made\": {}, \"calls_accepted\": {}, \"calls_rejected\": {}, \"calls_unrouted\": {}, \"parties_joined\": {}, \"parties_left\": {}, \"handler_calls\": {}, \"ddi_calls\": {}, \"violations\": {}, \"failed_steps\": {}, \"flows\": [{}]}}",
        c.calls_made,
        c.calls_accepted,
        c.calls_rejected,
        c.calls_unrouted,
        c.parties_joined,
        c.parties_left,
        c.handler_calls,
        c.ddi_calls,
        c.violations,
        c.failed_steps,
        flows.join(", ")
    )
}

/// A run of scenario `name` from `file` with `seed` as a JSON document.
#[must_use]
pub fn to_json(outcome: &Outcome, name: &str, file: &str, seed: u64) -> String {
    let head = format!(
        "  \"scenario\": {{\"name\": {}, \"file\": {}, \"seed\": {seed}}},\n  \"passed\": {},\n  \"counters\": {},\n",
        json_str(name),
        json_str(file),
        outcome.passed(),
        counters_json(&outcome.counters)
    );
    document(&outcome.report, &outcome.steps, &head)
}

/// The document: `head` (whole lines) after `tool`, then the rest.
fn document(report: &Report, steps: &[Step], head: &str) -> String {
    let mut out = String::new();
    out.push_str("{\n  \"tool\": \"covmini-lab\",\n");
    out.push_str(head);
    let _ = writeln!(out, "  \"clean\": {},", report.is_clean());
    out.push_str("  \"steps\": [");
    for (i, s) in steps.iter().enumerate() {
        let v: Vec<String> = s.violations.clone().map(|v| v.to_string()).collect();
        let _ = write!(
            out,
            "{}\n    {{\"n\": {}, \"line\": {}, \"phase\": {}, \"text\": {}, \"status\": {}, \"ok\": {}, \"skipped\": {}, \"failure\": {}, \"first_event\": {}, \"end_event\": {}, \"violations\": [{}]}}",
            if i == 0 { "" } else { "," },
            i + 1,
            s.line.map_or_else(|| "null".to_owned(), |l| l.to_string()),
            json_str(s.phase),
            json_str(&s.text),
            opt_str(s.status.as_deref()),
            s.ok(),
            s.skipped,
            opt_str(s.failure.as_deref()),
            s.events.start,
            s.events.end,
            v.join(", ")
        );
    }
    out.push_str(if steps.is_empty() { "],\n" } else { "\n  ],\n" });
    out.push_str("  \"events\": [");
    for (i, e) in report.events.iter().enumerate() {
        let _ = write!(
            out,
            "{}\n    {{\"seq\": {}, \"cpu\": {}, \"irql\": {}, \"dir\": {}, \"name\": {}, \"detail\": {}}}",
            if i == 0 { "" } else { "," },
            e.seq,
            e.cpu,
            e.irql,
            json_str(e.dir),
            json_str(e.name),
            json_str(&e.detail())
        );
    }
    out.push_str(if report.events.is_empty() { "],\n" } else { "\n  ],\n" });
    out.push_str("  \"violations\": [");
    for (i, v) in report.violations.iter().enumerate() {
        let history: Vec<String> = v.history.iter().map(|h| json_str(h)).collect();
        let step = step_of_violation(steps, i).map_or_else(|| "null".to_owned(), |n| n.to_string());
        let _ = write!(
            out,
            "{}\n    {{\"rule\": {}, \"call\": {}, \"step\": {step}, \"detail\": {}, \"history\": [{}]}}",
            if i == 0 { "" } else { "," },
            json_str(v.rule.id()),
            json_str(v.call),
            json_str(&v.detail),
            history.join(", ")
        );
    }
    out.push_str(if report.violations.is_empty() { "]\n" } else { "\n  ]\n" });
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use ndis_emu::rules::MEMORY_LEDGER;
    use ndis_emu::{Detail, Event, Violation};

    use super::*;

    fn small_report() -> Report {
        Report {
            violations: vec![Violation {
                rule: MEMORY_LEDGER,
                call: "unload",
                detail: "leaked 24 bytes, tag \"CvmV\"".to_owned(),
                history: vec!["line 1\nline 2".to_owned()],
                cpu: 0,
            }],
            events: vec![
                Event {
                    seq: 0,
                    cpu: 0,
                    irql: 0,
                    dir: "->",
                    name: "DriverEntry",
                    detail: Detail::EMPTY,
                },
                Event {
                    seq: 1,
                    cpu: 0,
                    irql: 2,
                    dir: "<-",
                    name: "DriverEntry",
                    detail: Detail::status(0),
                },
            ],
            debug_output: Vec::new(),
        }
    }

    #[test]
    fn a_small_report_gives_exact_json() {
        let steps = vec![Step {
            text: "load \"it\"".to_owned(),
            phase: "driver",
            line: Some(7),
            client: None,
            status: Some("SUCCESS".to_owned()),
            failure: Some("expected \"x\"".to_owned()),
            skipped: false,
            events: 0..2,
            violations: 0..1,
        }];
        let mut counters = Counters {
            calls_made: 1,
            ..Counters::default()
        };
        counters.add_flow("a → b", 2, 3);
        let outcome = Outcome {
            steps,
            counters,
            report: small_report(),
            lanes: crate::steps::Lanes::default(),
        };
        let want = r#"{
  "tool": "covmini-lab",
  "scenario": {"name": "s", "file": "f.toml", "seed": 9},
  "passed": false,
  "counters": {"calls_made": 1, "calls_accepted": 0, "calls_rejected": 0, "calls_unrouted": 0, "parties_joined": 0, "parties_left": 0, "handler_calls": 0, "ddi_calls": 0, "violations": 0, "failed_steps": 0, "flows": [{"label": "a → b", "nbls": 2, "bytes": 3}]},
  "clean": false,
  "steps": [
    {"n": 1, "line": 7, "phase": "driver", "text": "load \"it\"", "status": "SUCCESS", "ok": false, "skipped": false, "failure": "expected \"x\"", "first_event": 0, "end_event": 2, "violations": [0]}
  ],
  "events": [
    {"seq": 0, "cpu": 0, "irql": 0, "dir": "->", "name": "DriverEntry", "detail": ""},
    {"seq": 1, "cpu": 0, "irql": 2, "dir": "<-", "name": "DriverEntry", "detail": "SUCCESS"}
  ],
  "violations": [
    {"rule": "memory.ledger", "call": "unload", "step": 1, "detail": "leaked 24 bytes, tag \"CvmV\"", "history": ["line 1\nline 2"]}
  ]
}
"#;
        assert_eq!(to_json(&outcome, "s", "f.toml", 9), want);
    }

    #[test]
    fn an_empty_report_is_valid_json_and_unattributed_violations_have_null_step() {
        let empty = Report {
            violations: Vec::new(),
            events: Vec::new(),
            debug_output: Vec::new(),
        };
        assert_eq!(
            document(&empty, &[], ""),
            "{\n  \"tool\": \"covmini-lab\",\n  \"clean\": true,\n  \"steps\": [],\n  \"events\": [],\n  \"violations\": []\n}\n"
        );
        assert!(document(&small_report(), &[], "").contains("\"step\": null"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\nd\re\tf\u{1}g"), r#""a\"b\\c\nd\re\tf\u0001g""#);
        assert_eq!(json_str("×512 → ok"), "\"×512 → ok\"");
    }
}
