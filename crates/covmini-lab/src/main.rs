//! covmini-lab: the first thing a newcomer runs. It brings covmini up inside
//! ndis-emu, shows what NDIS and the driver said to each other, and exits
//! non-zero on any contract violation or leak.
//!
//! This first version runs the registration lifecycle (load, initialize,
//! restart, pause, halt, unload) against the host build; scenarios, traces,
//! diagrams, `--sys` and benchmarks arrive with issues #5 and #6.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ndis_emu::{Emulator, Report};

/// Run covmini, a CoNDIS miniport with an integrated call manager, inside
/// ndis-emu, a user-mode NDIS that enforces the CoNDIS contract.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Bring covmini up and down through the NDIS lifecycle and report
    /// (the default).
    Run {
        /// Print only the summary and violations, not the trace.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Print the ndis-emu rules catalog (Markdown).
    Rules,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run { quiet: false }) {
        Command::Run { quiet } => run(quiet),
        Command::Rules => {
            print!("{}", ndis_emu::rules::catalog_markdown());
            ExitCode::SUCCESS
        }
    }
}

/// One step of the lifecycle.
type Step = fn(&mut Emulator) -> Result<(), ndis_emu::EmuError>;

/// One lifecycle; each step that fails stops the run, as NDIS would.
fn lifecycle() -> Result<Report, (String, Report)> {
    let mut emu = Emulator::new();
    let steps: [(&str, Step); 4] = [
        ("load the driver (DriverEntry)", |e| e.load(covmini::DriverEntry)),
        ("add the adapter (InitializeEx, Restart)", Emulator::add_adapter),
        ("halt the adapter (Pause, HaltEx)", Emulator::halt_adapter),
        ("unload the driver (Unload)", Emulator::unload),
    ];
    for (what, step) in steps {
        if let Err(e) = step(&mut emu) {
            return Err((format!("{what}: {e}"), emu.finish()));
        }
    }
    Ok(emu.finish())
}

fn run(quiet: bool) -> ExitCode {
    println!(
        "covmini-lab: covmini (host build) under ndis-emu, {} rules enforced",
        ndis_emu::rules::all().len()
    );
    let (failure, report) = match lifecycle() {
        Ok(r) => (None, r),
        Err((f, r)) => (Some(f), r),
    };
    if !quiet {
        println!("\ntrace ('->' NDIS calls the driver, '<-' the driver returns, '=>' the driver calls NDIS):");
        for e in &report.events {
            println!("  {e}");
        }
    }
    let handlers = report.events.iter().filter(|e| e.dir == "->").count();
    let calls = report.events.iter().filter(|e| e.dir == "=>").count();
    println!("\nsummary");
    println!("  handlers NDIS called   {handlers}");
    println!("  NDIS calls by driver   {calls}");
    println!("  driver debug lines     {}", report.debug_output.len());
    println!("  violations (and leaks) {}", report.violations.len());
    for v in &report.violations {
        println!("  VIOLATION {v}");
    }
    if let Some(f) = &failure {
        println!("  FAILED at: {f}");
    }
    if failure.is_some() || !report.is_clean() {
        ExitCode::FAILURE
    } else {
        println!("  result                 clean: zero violations, zero leaks");
        ExitCode::SUCCESS
    }
}
