//! The command line (clap types only; `main` turns them into actions).
//! A new subcommand is one more [`Command`] variant with its own `Args`
//! struct, and one more arm in `main`.
//!
//! Every build, the Windows one included, has the same command line, so
//! `--help` lists every subcommand everywhere; a subcommand the build cannot
//! run says why when it is used (`windows`).
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
#[cfg_attr(
    windows,
    command(
        after_help = "This is the Windows build: `check`, `run --check` and `help` work here; \
`run`, `rules`, `bench` and `flight` need ndis-emu and the covmini crate, which only the Linux \
build has, and say so. On Windows, `run --via covclient` will drive the real driver \
(docs/windows.md)."
    )
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
    /// Check scenario files without running them: a line per valid file;
    /// errors name the file, line and column, and the exit status is 2 when
    /// any file is malformed or unreadable. Works in every build, Windows
    /// included.
    Check(CheckArgs),
    /// Print the ndis-emu rules catalog (Markdown).
    Rules,
    /// Measure covmini against the empty-MCM baseline: call rate, data
    /// path, payload copies, scaling with live VCs, memory per VC and party,
    /// NDIS calls per operation (host build only; see BENCHMARKS.md). Exit
    /// status 1 when a target the run checks is missed.
    Bench(BenchArgs),
    /// Decode a covmini flight recorder blob (its secondary crash dump
    /// data, or a copy of an adapter's ring) and print its events, newest
    /// first. Exit status 2 for a file that is not one (the error says what
    /// is wrong, at which offset).
    Flight(FlightArgs),
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
    /// Checking scenario files.
    Check,
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
            Self::Check => "check",
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

/// `check`'s arguments.
#[derive(Args)]
pub struct CheckArgs {
    /// The scenario files to check.
    #[arg(value_name = "SCENARIO.toml", required = true)]
    pub files: Vec<PathBuf>,
}

/// `flight`'s arguments.
#[derive(Args)]
pub struct FlightArgs {
    /// The blob: covmini's secondary dump data, or a copy of an adapter's
    /// ring.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print at most the N newest events.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Measures covmini against the empty-MCM baseline (see BENCHMARKS.md).
///
/// Exit status 1 when covmini misses a target the run checks, or when a
/// measured operation fails, a session ends with a violation or a leak. A
/// full run checks every target; `--quick` checks those that are counts
/// and bytes (payload copies, memory per VC and per party, NDIS calls per
/// operation) and shows the wall-clock ones (per call, per NBL, scaling)
/// without checking them: its counts are too small for timings.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Small counts (a second or two): for tests, not for figures. Checks
    /// the count and byte targets only, not the wall-clock ones.
    #[arg(long)]
    pub quick: bool,
    /// Run only this path, --iterations times, after the setup, and print
    /// nothing else: for instruction counts (scripts/bench-callgrind.sh).
    #[arg(long, value_enum, value_name = "PATH")]
    pub callgrind_path: Option<BenchPath>,
    /// How many times --callgrind-path runs its path.
    #[arg(long, default_value_t = 1000)]
    pub iterations: u32,
    /// Which driver --callgrind-path runs.
    #[arg(long, value_enum, default_value_t = BenchDriver::Covmini)]
    pub driver: BenchDriver,
    /// VCs a background client holds open while --callgrind-path runs.
    #[arg(long, default_value_t = 0)]
    pub background: u32,
}

/// One measured path, for `bench --callgrind-path`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchPath {
    /// Call setup and teardown.
    Call,
    /// One 64-byte NBL sent, indicated, returned, completed.
    Nbl64,
    /// One 1500-byte NBL.
    Nbl1500,
}

/// A driver under test, for `bench --driver`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchDriver {
    /// covmini, host build.
    Covmini,
    /// The empty MCM.
    Baseline,
}
