//! covmini-lab: the first thing a newcomer runs. It brings covmini up inside
//! ndis-emu, runs a scenario — the built-in story, or a TOML file (format:
//! `scenarios/README.md`) — as scripted CoNDIS clients, shows a line per
//! step and a summary table, and exits non-zero on any unmet expectation,
//! contract violation or leak, naming the rule id and the step.
//!
//! The built-in story is `scenarios/story.toml`, compiled in: three clients
//! open covmini's AF, the caller calls the callee, data flows both ways
//! (zero copy), the caller hangs up; a multipoint call to the callee, where
//! a party (the third client) joins, gets the caller's data and leaves; an
//! echo call; and the adapter halts and the driver unloads.
//!
//! Modules: `cli` (the clap types), `scenario` (the file format: parsing
//! and checking, apart from running), `runner` (runs a scenario on the
//! emulator), `image` (`--sys`: host build or a loaded kernel image),
//! `out` (stdout: a reader that goes away ends the lab quietly, status
//! 141), `progress` (the live view), `summary` (the closing table), `trace`
//! (`--trace FILE.json`), `diagram` (`--diagram FILE.svg`) and `bench`
//! (`covmini-lab bench`: covmini against the empty-MCM baseline, see
//! BENCHMARKS.md) and `flight` (`covmini-lab flight FILE`: decodes covmini's
//! flight recorder blob).
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod diagram;
mod flight;
mod image;
mod out;
mod progress;
mod runner;
mod scenario;
mod steps;
mod summary;
mod trace;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, RunOptions};

/// The built-in story: scenarios/story.toml.
const STORY: &str = include_str!("../../../scenarios/story.toml");
/// How the built-in story is named in errors and the summary.
const STORY_NAME: &str = "scenarios/story.toml, built in";

/// Exit status for a malformed scenario, an unreadable file or an image
/// that cannot be loaded (clap uses the same for a bad command line).
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => run(None, &cli.run),
        Some(Command::Run(args)) => run(args.scenario.as_deref(), &args.options),
        Some(Command::Rules) => {
            out::print(&ndis_emu::catalog::catalog_markdown());
            ExitCode::SUCCESS
        }
        Some(Command::Bench(args)) => bench::main(&args),
        Some(Command::Flight(args)) => flight::main(&args),
        Some(Command::Help(args)) => help(args.command),
    }
}

/// `help [COMMAND]`: what `covmini-lab [COMMAND] --help` prints.
fn help(topic: Option<cli::Topic>) -> ExitCode {
    use clap::CommandFactory;
    let mut args = vec!["covmini-lab"];
    args.extend(topic.map(cli::Topic::name));
    args.push("--help");
    match Cli::command().try_get_matches_from(args) {
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            out::print(&e.render().to_string());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("covmini-lab help: clap printed no help for {topic:?}");
            ExitCode::FAILURE
        }
    }
}

fn run(scenario: Option<&Path>, args: &RunOptions) -> ExitCode {
    let (quiet, sys) = (args.quiet, args.sys.as_deref());
    let (file, text) = match scenario {
        None => (STORY_NAME.to_owned(), STORY.to_owned()),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (path.display().to_string(), t),
            Err(e) => {
                eprintln!("covmini-lab: cannot read {}: {e}", path.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
    };
    let scenario = match scenario::parse::parse(&file, &text) {
        Ok(s) => s,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if args.check {
        out::print(&format!(
            "{file}: ok: {:?}, {} client(s), {} step(s)\n",
            scenario.name,
            scenario.clients.len(),
            scenario.steps.len()
        ));
        return ExitCode::SUCCESS;
    }
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
    let mut view = progress::View::new(mode, args.verbose, runner::planned_steps(&scenario));
    let outcome = runner::run(&scenario, entry, seed, |i, step, counters, events| {
        view.step(i, step, counters, events);
    });
    view.finish();

    let mut written = true;
    let mut artifacts = String::new();
    if let Some(path) = &args.trace {
        let json = trace::to_json(&outcome, &scenario.name, &file, seed);
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
