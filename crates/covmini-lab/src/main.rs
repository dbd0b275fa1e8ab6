//! covmini-lab: the first thing a newcomer runs. It brings covmini up inside
//! ndis-emu, shows what NDIS and the driver said to each other, and exits
//! non-zero on any contract violation or leak.
//!
//! This version runs one built-in story against the host build: the adapter
//! initializes, two clients open covmini's AF, one registers a SAP, the
//! other calls it, the call connects, data flows both ways (zero copy), the
//! caller hangs up (both sides close), calls covmini's echo address and gets
//! its data back, and the adapter halts and the driver unloads. Scenario
//! files, parties, traces, diagrams, `--sys` and benchmarks arrive with
//! issues #5 and #6.
#![forbid(unsafe_code)]

use std::process::ExitCode;

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
    Run,
    /// Print the ndis-emu rules catalog (Markdown).
    Rules,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(cli.quiet),
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
fn step(what: &str, status: NDIS_STATUS, want: NDIS_STATUS) -> Result<(), String> {
    if status == want {
        println!("  ok   {what}");
        Ok(())
    } else {
        Err(format!("{what}: {status:#010x}, expected {want:#010x}"))
    }
}

/// The built-in story; each failed step stops it.
fn story(emu: &mut Emulator) -> Result<(), String> {
    fn e(what: &'static str) -> impl Fn(ndis_emu::EmuError) -> String {
        move |err| format!("{what}: {err}")
    }
    emu.load(covmini::DriverEntry)
        .map_err(e("load the driver (DriverEntry)"))?;
    println!("  ok   load the driver: DriverEntry registered an NDIS 6.30 CoNDIS miniport");
    emu.add_adapter().map_err(e("add the adapter"))?;
    println!("  ok   add the adapter: InitializeEx, then Restart");
    let caller = emu.client("caller");
    let callee = emu.client("callee");
    let caller_af = emu
        .open_af(caller, covmini::config::AF)
        .map_err(|s| format!("caller opens the AF: {s:#x}"))?;
    let callee_af = emu
        .open_af(callee, covmini::config::AF)
        .map_err(|s| format!("callee opens the AF: {s:#x}"))?;
    println!("  ok   two clients open AF {:#x} v1.0", covmini::config::COVMINI_AF);
    let sap = emu
        .register_sap(callee_af, SAP_TYPE_ADDRESS, CALLEE)
        .map_err(|s| format!("callee registers its SAP: {s:#x}"))?;
    println!("  ok   callee registers SAP {:?}", String::from_utf8_lossy(CALLEE));
    let vc = emu
        .create_vc(caller_af)
        .map_err(|s| format!("caller creates a VC: {s:#x}"))?;
    let mut spec = CallSpec::best_effort(125_000_000, 1500);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = CALLEE.to_vec();
    step(
        "caller calls the callee (make call)",
        emu.make_call(vc, &spec),
        NDIS_STATUS_SUCCESS,
    )?;
    let offered = emu.offered_vcs(callee);
    let connected = emu.vc_state(vc) == Some((CallState::Connected, true))
        && offered.first().and_then(|v| emu.vc_state(*v)) == Some((CallState::Connected, true));
    step(
        "both ends connected and active",
        if connected { 0 } else { NDIS_STATUS_FAILURE },
        0,
    )?;
    emu.send(vc, &[b"hello, callee", b"second NBL"])
        .map_err(|s| format!("caller sends: {s:#x}"))?;
    let got = emu.received(callee);
    let ok = got == [b"hello, callee".to_vec(), b"second NBL".to_vec()];
    step(
        "caller sends two NBLs; the callee receives them (zero copy)",
        if ok { 0 } else { NDIS_STATUS_FAILURE },
        0,
    )?;
    if let Some(back) = offered.first() {
        emu.send(*back, &[b"hello, caller"])
            .map_err(|s| format!("callee sends: {s:#x}"))?;
    }
    let ok = emu.received(caller) == [b"hello, caller".to_vec()]
        && emu.send_results(caller) == [NDIS_STATUS_SUCCESS; 2]
        && emu.send_results(callee) == [NDIS_STATUS_SUCCESS];
    step(
        "callee answers; every send completes with SUCCESS",
        if ok { 0 } else { NDIS_STATUS_FAILURE },
        0,
    )?;
    step(
        "caller hangs up (close call)",
        emu.close_call(vc, &[]),
        NDIS_STATUS_SUCCESS,
    )?;
    let closed = emu.inbox(callee).iter().any(|l| l.starts_with("IncomingCloseCall"));
    step(
        "callee told and closed its side",
        if closed { 0 } else { NDIS_STATUS_FAILURE },
        0,
    )?;
    step("caller deletes its VC", emu.delete_vc(vc), NDIS_STATUS_SUCCESS)?;
    let echo_vc = emu
        .create_vc(caller_af)
        .map_err(|s| format!("caller creates a VC: {s:#x}"))?;
    let mut echo = spec.clone();
    echo.media_specific = ECHO_ADDRESS.to_vec();
    step(
        "caller calls the echo address",
        emu.make_call(echo_vc, &echo),
        NDIS_STATUS_SUCCESS,
    )?;
    emu.send(echo_vc, &[b"ping"])
        .map_err(|s| format!("caller sends to echo: {s:#x}"))?;
    let ok = emu.received(caller).last().map(Vec::as_slice) == Some(b"ping".as_slice());
    step(
        "covmini echoes what it receives",
        if ok { 0 } else { NDIS_STATUS_FAILURE },
        0,
    )?;
    step(
        "caller closes the echo call",
        emu.close_call(echo_vc, &[]),
        NDIS_STATUS_SUCCESS,
    )?;
    step(
        "caller deletes the echo VC",
        emu.delete_vc(echo_vc),
        NDIS_STATUS_SUCCESS,
    )?;
    step(
        "callee deregisters its SAP",
        emu.deregister_sap(sap),
        NDIS_STATUS_SUCCESS,
    )?;
    step("caller closes its AF", emu.close_af(caller_af), NDIS_STATUS_SUCCESS)?;
    emu.halt_adapter().map_err(e("halt the adapter"))?;
    println!("  ok   halt: covmini notifies the callee, which closes its AF; HaltEx returns");
    emu.unload().map_err(e("unload"))?;
    println!("  ok   unload: MiniportDriverUnload deregistered the driver");
    Ok(())
}

fn run(quiet: bool) -> ExitCode {
    println!(
        "covmini-lab: covmini (host build) under ndis-emu, {} rules enforced",
        ndis_emu::rules::all().len()
    );
    println!("\nstory:");
    let mut emu = Emulator::new();
    let failure = story(&mut emu).err();
    let report = emu.finish();
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
