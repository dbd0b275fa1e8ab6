//! covmini-lab: the first thing a newcomer runs. It brings covmini up inside
//! ndis-emu, shows what NDIS and the driver said to each other, and exits
//! non-zero on any contract violation or leak.
//!
//! This version runs one built-in story against the host build: the adapter
//! initializes, two clients open covmini's AF, one registers a SAP, the
//! other calls it, the call connects, data flows both ways (zero copy), the
//! caller hangs up (both sides close), calls covmini's echo address and gets
//! its data back, and the adapter halts and the driver unloads.
//!
//! `run --trace FILE.json` writes the steps, every NDIS↔driver call and the
//! violations as JSON (see `trace`); `run --diagram FILE.svg` draws the same
//! run as a sequence diagram between the clients, NDIS and covmini (see
//! `diagram`). Scenario files, parties, `--sys` and benchmarks arrive with
//! issues #5 and #6.
#![forbid(unsafe_code)]

mod diagram;
mod steps;
mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use steps::Recorder;

use clap::{Parser, Subcommand};
use covmini::call_manager::{ECHO_ADDRESS, PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use ndis_emu::{CallSpec, CallState, Emulator};
use ndis_sys::{NDIS_STATUS, NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS};

/// Run covmini, a CoNDIS miniport with an integrated call manager, inside
/// ndis-emu, a user-mode NDIS that enforces the CoNDIS contract.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Print only the story's steps, the summary and violations, not the trace.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the built-in story (a call between two clients) and report (the
    /// default).
    Run {
        /// Write every NDIS↔driver call (with IRQL, arguments, statuses), the
        /// story's steps and the violations to FILE as JSON.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Write the message sequence between the clients, NDIS and covmini
        /// to FILE as an SVG sequence diagram.
        #[arg(long, value_name = "FILE")]
        diagram: Option<PathBuf>,
    },
    /// Print the ndis-emu rules catalog (Markdown).
    Rules,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run {
        trace: None,
        diagram: None,
    });
    match command {
        Command::Run { trace, diagram } => run(cli.quiet, &Outputs { trace, diagram }),
        Command::Rules => {
            print!("{}", ndis_emu::rules::catalog_markdown());
            ExitCode::SUCCESS
        }
    }
}

/// The called address of the story's callee (covmini's SAP format:
/// docs/call-manager.md).
const CALLEE: &[u8] = b"lab-callee";

/// Fails a story step with what it was and what NDIS said.
fn step(rec: &mut Recorder, what: &str, status: NDIS_STATUS, want: NDIS_STATUS, emu: &Emulator) -> Result<(), String> {
    if status == want {
        rec.record(emu, what, true);
        Ok(())
    } else {
        Err(format!("{what}: {status:#010x}, expected {want:#010x}"))
    }
}

/// The built-in story; each failed step stops it.
fn story(emu: &mut Emulator, rec: &mut Recorder) -> Result<(), String> {
    fn e(what: &'static str) -> impl Fn(ndis_emu::EmuError) -> String {
        move |err| format!("{what}: {err}")
    }
    emu.load(covmini::DriverEntry)
        .map_err(e("load the driver (DriverEntry)"))?;
    rec.record(
        emu,
        "load the driver: DriverEntry registered an NDIS 6.30 CoNDIS miniport",
        true,
    );
    emu.add_adapter().map_err(e("add the adapter"))?;
    rec.record(emu, "add the adapter: InitializeEx, then Restart", true);
    let caller = emu.client("caller");
    let callee = emu.client("callee");
    let caller_af = emu
        .open_af(caller, covmini::config::AF)
        .map_err(|s| format!("caller opens the AF: {s:#x}"))?;
    let callee_af = emu
        .open_af(callee, covmini::config::AF)
        .map_err(|s| format!("callee opens the AF: {s:#x}"))?;
    rec.record(
        emu,
        &format!("two clients open AF {:#x} v1.0", covmini::config::COVMINI_AF),
        true,
    );
    let sap = emu
        .register_sap(callee_af, SAP_TYPE_ADDRESS, CALLEE)
        .map_err(|s| format!("callee registers its SAP: {s:#x}"))?;
    rec.record(
        emu,
        &format!("callee registers SAP {:?}", String::from_utf8_lossy(CALLEE)),
        true,
    );
    let vc = emu
        .create_vc(caller_af)
        .map_err(|s| format!("caller creates a VC: {s:#x}"))?;
    let mut spec = CallSpec::best_effort(125_000_000, 1500);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = CALLEE.to_vec();
    step(
        rec,
        "caller calls the callee (make call)",
        emu.make_call(vc, &spec),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    let offered = emu.offered_vcs(callee);
    let connected = emu.vc_state(vc) == Some((CallState::Connected, true))
        && offered.first().and_then(|v| emu.vc_state(*v)) == Some((CallState::Connected, true));
    step(
        rec,
        "both ends connected and active",
        if connected { 0 } else { NDIS_STATUS_FAILURE },
        0,
        emu,
    )?;
    emu.send(vc, &[b"hello, callee", b"second NBL"])
        .map_err(|s| format!("caller sends: {s:#x}"))?;
    let got = emu.received(callee);
    let ok = got == [b"hello, callee".to_vec(), b"second NBL".to_vec()];
    step(
        rec,
        "caller sends two NBLs; the callee receives them (zero copy)",
        if ok { 0 } else { NDIS_STATUS_FAILURE },
        0,
        emu,
    )?;
    if let Some(back) = offered.first() {
        emu.send(*back, &[b"hello, caller"])
            .map_err(|s| format!("callee sends: {s:#x}"))?;
    }
    let ok = emu.received(caller) == [b"hello, caller".to_vec()]
        && emu.send_results(caller) == [NDIS_STATUS_SUCCESS; 2]
        && emu.send_results(callee) == [NDIS_STATUS_SUCCESS];
    step(
        rec,
        "callee answers; every send completes with SUCCESS",
        if ok { 0 } else { NDIS_STATUS_FAILURE },
        0,
        emu,
    )?;
    step(
        rec,
        "caller hangs up (close call)",
        emu.close_call(vc, &[]),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    let closed = emu.inbox(callee).iter().any(|l| l.starts_with("IncomingCloseCall"));
    step(
        rec,
        "callee told and closed its side",
        if closed { 0 } else { NDIS_STATUS_FAILURE },
        0,
        emu,
    )?;
    step(
        rec,
        "caller deletes its VC",
        emu.delete_vc(vc),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    let echo_vc = emu
        .create_vc(caller_af)
        .map_err(|s| format!("caller creates a VC: {s:#x}"))?;
    let mut echo = spec.clone();
    echo.media_specific = ECHO_ADDRESS.to_vec();
    step(
        rec,
        "caller calls the echo address",
        emu.make_call(echo_vc, &echo),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    emu.send(echo_vc, &[b"ping"])
        .map_err(|s| format!("caller sends to echo: {s:#x}"))?;
    let ok = emu.received(caller).last().map(Vec::as_slice) == Some(b"ping".as_slice());
    step(
        rec,
        "covmini echoes what it receives",
        if ok { 0 } else { NDIS_STATUS_FAILURE },
        0,
        emu,
    )?;
    step(
        rec,
        "caller closes the echo call",
        emu.close_call(echo_vc, &[]),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    step(
        rec,
        "caller deletes the echo VC",
        emu.delete_vc(echo_vc),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    step(
        rec,
        "callee deregisters its SAP",
        emu.deregister_sap(sap),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    step(
        rec,
        "caller closes its AF",
        emu.close_af(caller_af),
        NDIS_STATUS_SUCCESS,
        emu,
    )?;
    emu.halt_adapter().map_err(e("halt the adapter"))?;
    rec.record(
        emu,
        "halt: covmini notifies the callee, which closes its AF; HaltEx returns",
        true,
    );
    emu.unload().map_err(e("unload"))?;
    rec.record(emu, "unload: MiniportDriverUnload deregistered the driver", true);
    Ok(())
}

/// Where `run` writes its artifacts.
struct Outputs {
    trace: Option<PathBuf>,
    diagram: Option<PathBuf>,
}

fn run(quiet: bool, out: &Outputs) -> ExitCode {
    println!(
        "covmini-lab: covmini (host build) under ndis-emu, {} rules enforced",
        ndis_emu::rules::all().len()
    );
    println!("\nstory:");
    let mut emu = Emulator::new();
    let mut rec = Recorder::default();
    let failure = story(&mut emu, &mut rec).err();
    if let Some(f) = &failure {
        rec.record(&emu, f, false);
    }
    let report = emu.finish();
    let steps = rec.steps;
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
    let mut written = true;
    if let Some(path) = &out.trace {
        written &= write_artifact("trace (JSON)", path, &trace::to_json(&report, &steps));
    }
    if let Some(path) = &out.diagram {
        let svg = diagram::render(
            &report,
            &steps,
            "covmini-lab: built-in story (two clients, a call, data, echo, halt)",
        );
        written &= write_artifact("diagram (SVG)", path, &svg);
    }
    if let Some(f) = &failure {
        println!("  FAILED at: {f}");
    }
    if failure.is_some() || !report.is_clean() || !written {
        ExitCode::FAILURE
    } else {
        println!("  result                 clean: zero violations, zero leaks");
        ExitCode::SUCCESS
    }
}

/// Writes one output file and says where; false when it could not.
fn write_artifact(what: &str, path: &Path, text: &str) -> bool {
    match std::fs::write(path, text) {
        Ok(()) => {
            println!("  {what:<22} {}", path.display());
            true
        }
        Err(err) => {
            println!("  {what:<22} could not write {}: {err}", path.display());
            false
        }
    }
}
