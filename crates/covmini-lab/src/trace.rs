//! `--trace FILE.json`: the whole run as JSON — the story's steps, every
//! NDIS↔driver call in order (sequence number, IRQL, direction, handler or
//! DDI, arguments/status/objects) and every violation with its rule id.
//!
//! Written by hand (no serde): the shape is small and fixed, one object per
//! line so the file diffs well.
//!
//! ```json
//! {
//!   "tool": "covmini-lab",
//!   "clean": true,
//!   "steps": [
//!     {"n": 1, "text": "load the driver", "ok": true, "first_event": 0, "end_event": 8, "violations": []}
//!   ],
//!   "events": [
//!     {"seq": 0, "irql": 0, "dir": "->", "name": "DriverEntry", "detail": ""}
//!   ],
//!   "violations": [
//!     {"rule": "memory.ledger", "call": "unload", "step": null, "detail": "…", "history": []}
//!   ]
//! }
//! ```
//!
//! `dir` is `->` (NDIS calls a covmini handler), `<-` (the handler returns),
//! `=>` (covmini calls an NDIS DDI) or `!!` (a fault ndis-emu injected).
//! A violation's `step` is the 1-based step during which it was seen, or
//! `null` when it was found after the story (the leak check at unload).

use std::fmt::Write;

use ndis_emu::Report;

use crate::steps::Step;

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

/// The report and the story's steps as a JSON document.
#[must_use]
pub fn to_json(report: &Report, steps: &[Step]) -> String {
    let mut out = String::new();
    out.push_str("{\n  \"tool\": \"covmini-lab\",\n");
    let _ = writeln!(out, "  \"clean\": {},", report.is_clean());
    out.push_str("  \"steps\": [");
    for (i, s) in steps.iter().enumerate() {
        let v: Vec<String> = s.violations.clone().map(|v| v.to_string()).collect();
        let _ = write!(
            out,
            "{}\n    {{\"n\": {}, \"text\": {}, \"ok\": {}, \"first_event\": {}, \"end_event\": {}, \"violations\": [{}]}}",
            if i == 0 { "" } else { "," },
            i + 1,
            json_str(&s.text),
            s.ok,
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
            "{}\n    {{\"seq\": {}, \"irql\": {}, \"dir\": {}, \"name\": {}, \"detail\": {}}}",
            if i == 0 { "" } else { "," },
            e.seq,
            e.irql,
            json_str(e.dir),
            json_str(e.name),
            json_str(&e.detail)
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
    use ndis_emu::{Event, Violation};

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
                    detail: String::new(),
                },
                Event {
                    seq: 1,
                    cpu: 0,
                    irql: 2,
                    dir: "<-",
                    name: "DriverEntry",
                    detail: "0x00000000".to_owned(),
                },
            ],
            debug_output: Vec::new(),
        }
    }

    #[test]
    fn a_small_report_gives_exact_json() {
        let steps = [Step {
            text: "load \"it\"".to_owned(),
            ok: true,
            events: 0..2,
            violations: 0..1,
        }];
        let want = r#"{
  "tool": "covmini-lab",
  "clean": false,
  "steps": [
    {"n": 1, "text": "load \"it\"", "ok": true, "first_event": 0, "end_event": 2, "violations": [0]}
  ],
  "events": [
    {"seq": 0, "irql": 0, "dir": "->", "name": "DriverEntry", "detail": ""},
    {"seq": 1, "irql": 2, "dir": "<-", "name": "DriverEntry", "detail": "0x00000000"}
  ],
  "violations": [
    {"rule": "memory.ledger", "call": "unload", "step": 1, "detail": "leaked 24 bytes, tag \"CvmV\"", "history": ["line 1\nline 2"]}
  ]
}
"#;
        assert_eq!(to_json(&small_report(), &steps), want);
    }

    #[test]
    fn an_empty_report_is_valid_json_and_unattributed_violations_have_null_step() {
        let empty = Report {
            violations: Vec::new(),
            events: Vec::new(),
            debug_output: Vec::new(),
        };
        assert_eq!(
            to_json(&empty, &[]),
            "{\n  \"tool\": \"covmini-lab\",\n  \"clean\": true,\n  \"steps\": [],\n  \"events\": [],\n  \"violations\": []\n}\n"
        );
        assert!(to_json(&small_report(), &[]).contains("\"step\": null"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\nd\re\tf\u{1}g"), r#""a\"b\\c\nd\re\tf\u0001g""#);
        assert_eq!(json_str("×512 → ok"), "\"×512 → ok\"");
    }
}
