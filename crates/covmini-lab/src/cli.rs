//! The command line (clap types only; `main` turns them into actions).
//! A new subcommand is one more [`Command`] variant with its own `Args`
//! struct, and one more arm in `main`.
//!
//! Each subcommand takes only its own options: `run`'s (`--sys`, `-q`,
//! `--trace`, ...) belong to `run` and to the command line with no
//! subcommand (which is `run`), and are not offered to `rules`, `bench`,
//! `flight` or `help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run covmini, a CoNDIS miniport with an integrated call manager, inside
/// ndis-emu, a user-mode NDIS that enforces the CoNDIS contract.
///
/// With no command, runs the built-in story: `run`, with `run`'s options.
#[derive(Parser)]
#[command(
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// `run`'s options, for the command line with no subcommand (the
    /// built-in story; a scenario file needs `run`).
    #[command(flatten)]
    pub run: RunOptions,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run a scenario (a TOML file, see scenarios/README.md; the built-in
    /// story when none is given) and report: a line per step, a summary
    /// table, and exit status 1 on any unmet expectation, violation or leak
    /// (2 for a malformed scenario or an image that cannot be loaded).
    Run(RunArgs),
    /// Print the ndis-emu rules catalog (Markdown).
    Rules,
    /// Measure covmini against the empty-MCM baseline: call rate, data
    /// path, payload copies, scaling with live VCs, memory per VC and party,
    /// NDIS calls per operation (host build only; see BENCHMARKS.md). Exit
    /// status 1 when a target the run checks is missed.
    Bench(crate::bench::Args),
    /// Decode a covmini flight recorder blob (its secondary crash dump
    /// data, or a copy of an adapter's ring) and print its events, newest
    /// first. Exit status 2 for a file that is not one (the error says what
    /// is wrong, at which offset).
    Flight(crate::flight::Args),
    /// Print this message or the help of the given subcommand.
    Help(HelpArgs),
}

/// `help`'s arguments.
#[derive(Args)]
pub struct HelpArgs {
    /// The subcommand whose help to print (default: the whole command line).
    #[arg(value_enum, value_name = "COMMAND")]
    pub command: Option<Topic>,
}

/// What `help` can explain: each subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Topic {
    /// Running a scenario.
    Run,
    /// The rules catalog.
    Rules,
    /// The benchmark.
    Bench,
    /// Decoding a flight recorder blob.
    Flight,
    /// This subcommand.
    Help,
}

impl Topic {
    /// The subcommand's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Rules => "rules",
            Self::Bench => "bench",
            Self::Flight => "flight",
            Self::Help => "help",
        }
    }
}

/// `run`'s arguments.
#[derive(Args, Default)]
pub struct RunArgs {
    /// The scenario file (default: the built-in story, scenarios/story.toml).
    #[arg(value_name = "SCENARIO.toml")]
    pub scenario: Option<PathBuf>,
    /// The options.
    #[command(flatten)]
    pub options: RunOptions,
}

/// `run`'s options (all but the scenario file).
#[derive(Args, Default)]
pub struct RunOptions {
    /// Print no progress: only failures, violations and the summary table.
    #[arg(short, long)]
    pub quiet: bool,
    /// Run this kernel image (covmini.sys, x64), loaded into the process by
    /// ndis-emu's PE loader, instead of the host build (x86_64 Linux only).
    #[arg(long, value_name = "FILE")]
    pub sys: Option<PathBuf>,
    /// The scheduler seed (overrides the scenario's `seed`).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Write every NDIS↔driver call (with IRQL, arguments, statuses, object
    /// ids), the steps and the violations to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the message sequence between the clients, NDIS and covmini to
    /// FILE as an SVG sequence diagram.
    #[arg(long, value_name = "FILE")]
    pub diagram: Option<PathBuf>,
    /// Also print every NDIS↔driver call under the step that caused it.
    #[arg(short, long)]
    pub verbose: bool,
    /// Only check the scenario file (errors name the line), run nothing.
    #[arg(long)]
    pub check: bool,
}
