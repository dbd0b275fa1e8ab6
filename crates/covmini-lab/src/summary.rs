//! The end of a run: the unmet expectations and violations, each with its
//! rule id and the step (its words and scenario line) it happened in, then
//! the summary table — steps, calls made/accepted/rejected (and those that
//! found no route, when a run has any), parties joined
//! and left (when a run has any), NBLs and bytes
//! each way, handler and DDI calls, violations, leaks, and the verdict.
//!
//! Plain text; it owns the wording of the verdict and nothing else.

use std::fmt::Write;

use ndis_emu::Report;

use crate::steps::{Counters, Step};

/// Rules whose violations are leaks (found at the unload check).
const LEAK_RULES: &[&str] = &["memory.ledger", "sched.leak", "nbl.leak", "lookaside.not-deleted"];

/// Whether a violation of `rule` is a leak.
#[must_use]
pub fn is_leak(rule: &str) -> bool {
    LEAK_RULES.contains(&rule)
}

/// Where violation `index` happened: `in step n "text" (line L)`, or after
/// the last step.
#[must_use]
pub fn where_violation(steps: &[Step], index: usize) -> String {
    steps
        .iter()
        .enumerate()
        .find(|(_, s)| s.violations.contains(&index))
        .map_or_else(
            || "after the last step (the unload leak check)".to_owned(),
            |(i, s)| format!("in {}", s.name(i + 1)),
        )
}

/// One line per unmet expectation and per violation; empty when clean.
#[must_use]
pub fn problems(steps: &[Step], report: &Report) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(f) = &s.failure {
            let _ = writeln!(out, "FAILED {}: {f}", s.name(i + 1));
        }
        if s.skipped {
            let _ = writeln!(out, "SKIPPED {}: not run, an earlier step failed", s.name(i + 1));
        }
    }
    for (i, v) in report.violations.iter().enumerate() {
        let _ = writeln!(
            out,
            "VIOLATION [{}] {}: {}: {}",
            v.rule.id(),
            where_violation(steps, i),
            v.call,
            v.detail
        );
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary table.
#[must_use]
pub fn table(title: &str, steps: &[Step], counters: &Counters, report: &Report) -> String {
    let leaks = report.violations.iter().filter(|v| is_leak(v.rule.id())).count() as u64;
    let violations = report.violations.len() as u64 - leaks;
    let ok = steps.iter().filter(|s| s.ok()).count();
    let skipped = steps.iter().filter(|s| s.skipped).count();
    let ran = format!("{} run, {ok} as expected", steps.len() - skipped);
    let mut rows: Vec<(String, String)> = vec![
        (
            "steps".into(),
            if skipped > 0 {
                format!("{ran}, {skipped} skipped (not run after a failure)")
            } else {
                ran
            },
        ),
        ("calls made".into(), counters.calls_made.to_string()),
        ("calls accepted".into(), counters.calls_accepted.to_string()),
        ("calls rejected".into(), counters.calls_rejected.to_string()),
    ];
    if counters.calls_unrouted > 0 {
        rows.push(("calls with no route".into(), counters.calls_unrouted.to_string()));
    }
    if counters.parties_joined + counters.parties_left > 0 {
        rows.extend([
            ("parties joined".into(), counters.parties_joined.to_string()),
            ("parties left".into(), counters.parties_left.to_string()),
        ]);
    }
    if counters.flows.is_empty() {
        rows.push(("data".into(), "none sent".into()));
    }
    for f in &counters.flows {
        rows.push((
            format!("data {}", f.label),
            format!(
                "{}, {}",
                plural(f.nbls, "NBL", "NBLs"),
                plural(f.bytes, "byte", "bytes")
            ),
        ));
    }
    rows.extend([
        (
            "handler calls (NDIS → covmini)".into(),
            counters.handler_calls.to_string(),
        ),
        ("DDI calls (covmini → NDIS)".into(), counters.ddi_calls.to_string()),
        ("violations".into(), violations.to_string()),
        ("leaks".into(), leaks.to_string()),
    ]);
    let failed = counters.failed_steps;
    let verdict = if failed == 0 && report.violations.is_empty() {
        "PASS: every expectation met, zero violations, zero leaks".to_owned()
    } else {
        let mut why = Vec::new();
        if failed > 0 {
            why.push(plural(failed, "unmet expectation", "unmet expectations"));
        }
        if violations > 0 {
            why.push(plural(violations, "violation", "violations"));
        }
        if leaks > 0 {
            why.push(plural(leaks, "leak", "leaks"));
        }
        format!("FAIL: {}", why.join(", "))
    };
    rows.push(("result".into(), verdict));

    let w0 = rows.iter().map(|(a, _)| a.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|(_, b)| b.chars().count()).max().unwrap_or(0);
    let rule = format!("+{}+{}+", "-".repeat(w0 + 2), "-".repeat(w1 + 2));
    let mut out = String::new();
    let _ = writeln!(out, "summary: {title}");
    let _ = writeln!(out, "{rule}");
    for (i, (a, b)) in rows.iter().enumerate() {
        if i + 1 == rows.len() {
            let _ = writeln!(out, "{rule}");
        }
        let pad0 = w0 - a.chars().count();
        let pad1 = w1 - b.chars().count();
        let _ = writeln!(out, "| {a}{} | {b}{} |", " ".repeat(pad0), " ".repeat(pad1));
    }
    let _ = writeln!(out, "{rule}");
    out
}

#[cfg(test)]
mod tests {
    use ndis_emu::Violation;
    use ndis_emu::rules::MEMORY_LEDGER;

    use super::*;

    fn step(text: &str, line: Option<usize>, failure: Option<&str>, violations: std::ops::Range<usize>) -> Step {
        Step {
            text: text.to_owned(),
            phase: "call",
            line,
            client: None,
            status: None,
            failure: failure.map(str::to_owned),
            skipped: false,
            events: 0..0,
            violations,
        }
    }

    #[test]
    fn a_clean_run_passes_and_counts_each_way() {
        let mut c = Counters {
            calls_made: 2,
            calls_accepted: 1,
            calls_rejected: 1,
            ..Counters::default()
        };
        c.add_flow("a → b", 2, 128);
        c.add_flow("b → a", 1, 1500);
        c.add_flow("a → b", 1, 64);
        let t = table("t", &[step("x", Some(3), None, 0..0)], &c, &Report::default());
        assert!(t.contains("| data a → b "), "{t}");
        assert!(t.contains("3 NBLs, 192 bytes"), "{t}");
        assert!(t.contains("1 NBL, 1500 bytes"), "{t}");
        assert!(t.contains("| calls rejected "), "{t}");
        assert!(t.contains("PASS"), "{t}");
        // Every row is as wide as the rules.
        let widths: Vec<usize> = t.lines().skip(1).map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{t}");
    }

    #[test]
    fn failures_and_leaks_are_named_with_their_step_and_line() {
        let report = Report {
            violations: vec![
                Violation {
                    rule: MEMORY_LEDGER,
                    call: "unload",
                    detail: "leaked 8 bytes".to_owned(),
                    history: Vec::new(),
                    cpu: 0,
                },
                Violation {
                    rule: MEMORY_LEDGER,
                    call: "unload",
                    detail: "leaked 16 bytes".to_owned(),
                    history: Vec::new(),
                    cpu: 0,
                },
            ],
            ..Report::default()
        };
        let steps = [
            step(
                "alice calls",
                Some(12),
                Some("expected SUCCESS, got NOT_ACCEPTED"),
                0..1,
            ),
            step("halt", None, None, 1..1),
        ];
        let p = problems(&steps, &report);
        assert!(
            p.contains("FAILED step 1 (line 12) “alice calls”: expected SUCCESS, got NOT_ACCEPTED"),
            "{p}"
        );
        assert!(
            p.contains("VIOLATION [memory.ledger] in step 1 (line 12) “alice calls”"),
            "{p}"
        );
        assert!(
            p.contains("VIOLATION [memory.ledger] after the last step (the unload leak check): unload: leaked 16"),
            "{p}"
        );
        let c = Counters {
            failed_steps: 1,
            ..Counters::default()
        };
        let t = table("t", &steps, &c, &report);
        assert!(t.contains("FAIL: 1 unmet expectation, 2 leaks"), "{t}");
        assert!(t.contains("| leaks "), "{t}");
    }
}
