//! The Windows build's backend (docs/windows.md): the subcommands that need
//! the emulator, each saying why this build does not have it, with exit
//! status 2 ([`EXIT_BAD_INPUT`], as for a bad command line).
//!
//! They need ndis-emu, a Linux user-mode NDIS, and the covmini crate, which
//! on Windows targets is the kernel image (no_std, its own panic handler)
//! and cannot be linked into a program. On Windows the lab will drive the
//! real driver through covclient's device (`run --via covclient`, issue
//! #12), which is not built yet. What works here is `check`, `run --check`
//! and the help.
//!
//! This module must not pretend: nothing here runs, and nothing succeeds.

use std::process::ExitCode;

use crate::EXIT_BAD_INPUT;
use crate::cli::{BenchArgs, FlightArgs, RunOptions};
use crate::scenario::Scenario;

/// Why the emulator side is missing, for every message below.
const WHY: &str = "this Windows build has no emulator: ndis-emu is a Linux \
user-mode NDIS, and the covmini crate is the kernel image on Windows targets";

/// What does work here.
const WHAT_WORKS: &str = "`check SCENARIO.toml...` and `run --check` validate \
scenario files here; see docs/windows.md";

/// Says that `what` is unavailable and why, with `then`, and fails.
fn unavailable(what: &str, then: &str) -> ExitCode {
    eprintln!("covmini-lab {what}: not available on Windows: {WHY}. {then}");
    eprintln!("covmini-lab: {WHAT_WORKS}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// `run` (without `--check`): no backend yet.
pub fn run(scenario: &Scenario, file: &str, _args: &RunOptions) -> ExitCode {
    unavailable(
        "run",
        &format!(
            "On Windows, `run --via covclient` will run {:?} ({file}) against the \
             real driver through the \\\\.\\covclient device; that backend is not built \
             yet. Run scenarios under ndis-emu with the Linux build.",
            scenario.name
        ),
    )
}

/// `rules`: the catalog is ndis-emu's.
pub fn rules() -> ExitCode {
    unavailable(
        "rules",
        "The rules catalog is ndis-emu's: run `covmini-lab rules` on Linux.",
    )
}

/// `bench`: measures covmini under ndis-emu.
pub fn bench(_args: &BenchArgs) -> ExitCode {
    unavailable(
        "bench",
        "The benchmark measures covmini under ndis-emu: run it on Linux.",
    )
}

/// `flight`: the decoder is the covmini crate's (`covmini::flight`).
pub fn flight(args: &FlightArgs) -> ExitCode {
    unavailable(
        "flight",
        &format!(
            "The flight recorder's decoder is in the covmini crate: decode {} with \
             the Linux build.",
            args.file.display()
        ),
    )
}
