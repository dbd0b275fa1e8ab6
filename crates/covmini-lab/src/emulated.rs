//! The emulator backend (every build but Windows): `run` brings covmini up
//! inside ndis-emu (the host build, or a kernel image with `--sys`) and runs
//! a checked scenario as scripted clients; `rules` prints ndis-emu's rules
//! catalog; `bench` and `flight` are their modules'.
//!
//! It owns what a run prints around the runner (the header, the live view,
//! the artifacts, the summary) and its exit status. The Windows build has
//! `windows` instead, with the same functions.

use std::path::Path;
use std::process::ExitCode;

use crate::EXIT_BAD_INPUT;
use crate::cli::RunOptions;
use crate::scenario::Scenario;
use crate::{diagram, image, out, progress, runner, summary, trace};

pub use crate::bench::main as bench;
pub use crate::flight::main as flight;

/// `rules`: ndis-emu's rules catalog, as Markdown.
pub fn rules() -> ExitCode {
    out::print(&ndis_emu::catalog::catalog_markdown());
    ExitCode::SUCCESS
}

/// `run`: runs `scenario` (read from `file`) under ndis-emu and reports.
/// Exit status 1 on any unmet expectation, violation or leak, or an
/// artifact that could not be written; 2 for an image that cannot be loaded.
pub fn run(scenario: &Scenario, file: &str, args: &RunOptions) -> ExitCode {
    let (quiet, sys) = (args.quiet, args.sys.as_deref());
    let (entry, build) = match image::driver_entry(sys) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("covmini-lab: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let mode = progress::Mode::pick(quiet);
    if mode != progress::Mode::Quiet {
        out::print(&format!(
            "covmini-lab: {:?} ({file}) against covmini ({build}) under ndis-emu, {} rules enforced, seed {seed}\n",
            scenario.name,
            ndis_emu::catalog::all().len()
        ));
        if mode == progress::Mode::Plain {
            out::print(&format!(
                "each step: its phase, outcome, status and line; then {}\n",
                progress::COMPACT_LEGEND
            ));
        }
        out::print("\n");
    }
    let mut view = progress::View::new(mode, args.verbose, runner::planned_steps(scenario));
    let outcome = runner::run(scenario, entry, seed, |i, step, counters, events| {
        view.step(i, step, counters, events);
    });
    view.finish();

    let mut written = true;
    let mut artifacts = String::new();
    if let Some(path) = &args.trace {
        let json = trace::to_json(&outcome, &scenario.name, file, seed);
        written &= write_artifact(&mut artifacts, "trace (JSON)", path, &json);
    }
    if let Some(path) = &args.diagram {
        let svg = diagram::render(
            &outcome.report,
            &outcome.steps,
            &outcome.lanes,
            &format!("covmini-lab: {}", scenario.name),
        );
        written &= write_artifact(&mut artifacts, "diagram (SVG)", path, &svg);
    }
    let problems = summary::problems(&outcome.steps, &outcome.report);
    let mut end = format!("\n{problems}");
    if !problems.is_empty() {
        end.push('\n');
    }
    if !artifacts.is_empty() {
        end.push_str(&artifacts);
        end.push('\n');
    }
    end.push_str(&summary::table(
        &format!("{:?} ({file}), covmini {build}, seed {seed}", scenario.name),
        &outcome.steps,
        &outcome.counters,
        &outcome.report,
    ));
    out::print(&end);
    if outcome.passed() && written {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes one output file and says where (or why not) in `log`; false when
/// it could not.
fn write_artifact(log: &mut String, what: &str, path: &Path, text: &str) -> bool {
    use std::fmt::Write;
    match std::fs::write(path, text) {
        Ok(()) => {
            let _ = writeln!(log, "{what:<14} written to {}", path.display());
            true
        }
        Err(err) => {
            let _ = writeln!(log, "{what:<14} could not write {}: {err}", path.display());
            false
        }
    }
}
