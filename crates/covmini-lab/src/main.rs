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
//! Modules, in every build: `cli` (the clap types), `scenario` (the file
//! format: parsing and checking, apart from running), `check` (reading a
//! scenario, `check FILE...` and `run --check`) and `out` (stdout: a reader
//! that goes away ends the lab quietly, status 141).
//!
//! The emulator side, not in the Windows build (docs/windows.md): `emulated`
//! (`run` and `rules` under ndis-emu), `runner` (runs a scenario on the
//! emulator), `image` (`--sys`: host build or a loaded kernel image),
//! `progress` (the live view), `summary` (the closing table), `steps` (what a
//! run records per step), `trace` (`--trace FILE.json`), `diagram`
//! (`--diagram FILE.svg`), `bench` (`covmini-lab bench`: covmini against the
//! empty-MCM baseline, see BENCHMARKS.md) and `flight` (`covmini-lab flight
//! FILE`: decodes covmini's flight recorder blob). They need ndis-emu or the
//! covmini crate, and on Windows targets the covmini crate is the kernel
//! image (no_std, its own panic handler), which no program can link. The
//! Windows build has `windows` instead: the same subcommands, each saying
//! why it is unavailable there.
#![forbid(unsafe_code)]

mod check;
mod cli;
mod out;
// What the runner and the summary use of a scenario (step descriptions,
// phases, status names) is unused in the Windows build, which only checks.
#[cfg_attr(windows, allow(dead_code))]
mod scenario;

#[cfg(not(windows))]
mod bench;
#[cfg(not(windows))]
mod diagram;
#[cfg(not(windows))]
mod emulated;
#[cfg(not(windows))]
mod flight;
#[cfg(not(windows))]
mod image;
#[cfg(not(windows))]
mod progress;
#[cfg(not(windows))]
mod runner;
#[cfg(not(windows))]
mod steps;
#[cfg(not(windows))]
mod summary;
#[cfg(not(windows))]
mod trace;

#[cfg(windows)]
mod windows;

/// What runs scenarios, rules, bench and flight in this build.
#[cfg(not(windows))]
use emulated as backend;
/// What runs scenarios, rules, bench and flight in this build.
#[cfg(windows)]
use windows as backend;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, RunOptions};

/// Exit status for a malformed scenario, an unreadable file or an image
/// that cannot be loaded (clap uses the same for a bad command line), and
/// for a subcommand this build does not have (the Windows build's `run`).
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => run(None, &cli.run),
        Some(Command::Run(args)) => run(args.scenario.as_deref(), &args.options),
        Some(Command::Check(args)) => check::main(&args.files),
        Some(Command::Rules) => backend::rules(),
        Some(Command::Bench(args)) => backend::bench(&args),
        Some(Command::Flight(args)) => backend::flight(&args),
        Some(Command::Help(args)) => help(args.command),
    }
}

/// `help [COMMAND]`: what `covmini-lab [COMMAND] --help` prints, under the
/// name the lab was started by (`covmini-lab.exe` on Windows).
fn help(topic: Option<cli::Topic>) -> ExitCode {
    use clap::CommandFactory;
    let argv0 = std::env::args_os().next().unwrap_or_else(|| "covmini-lab".into());
    let mut args = vec![argv0];
    args.extend(topic.map(|t| t.name().into()));
    args.push("--help".into());
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

/// `run [SCENARIO.toml]` (the built-in story without one): with `--check`,
/// only checks the file; else runs it on this build's backend.
fn run(scenario: Option<&Path>, args: &RunOptions) -> ExitCode {
    let (file, scenario) = match check::load(scenario) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if args.check {
        out::print(&check::ok_line(&file, &scenario));
        return ExitCode::SUCCESS;
    }
    backend::run(&scenario, &file, args)
}
