//! `covmini-lab flight FILE`: decodes a covmini flight recorder blob (the
//! secondary crash dump data covmini writes under its GUID, saved with
//! WinDbg's `.enumtag`, or a `.writemem` of an adapter's ring) and prints its
//! events newest first, one a line: event index, interrupt time and its
//! distance back from the newest event, CPU, what happened and the object.
//!
//! The format and the decoder are covmini's own (`covmini::flight`): this
//! module only reads the file and prints. A file that is not a blob gets an
//! error naming what is wrong and at which offset, and exit status 2.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use covmini::flight::Event;
use covmini::flight::decode::{Blob, Entry};
use covmini::flight::event::{AdapterStateCode, Machine};
use ndis_emu::trace::Status;

use crate::EXIT_BAD_INPUT;
use crate::cli::FlightArgs as Args;

/// Runs `flight`.
pub fn main(args: &Args) -> ExitCode {
    match render(&args.file, args.limit) {
        Ok(text) => {
            crate::out::print(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("covmini-lab flight: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// The decoded listing of `path`, or an error naming the file and what is
/// wrong where.
pub fn render(path: &Path, limit: Option<usize>) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let blob = Blob::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(listing(&blob, limit))
}

/// The listing of a checked blob.
pub fn listing(blob: &Blob<'_>, limit: Option<usize>) -> String {
    let entries: Vec<Entry> = blob.newest_first().take(limit.unwrap_or(usize::MAX)).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "covmini flight recorder: adapter {:#x}, {} events recorded, {} shown (capacity {}), newest first",
        blob.adapter(),
        blob.written(),
        entries.len(),
        blob.capacity()
    );
    let newest = entries.first().map_or(0, |e| e.time);
    for e in &entries {
        // Interrupt time is in 100 ns units.
        let back_us = newest.saturating_sub(e.time) / 10;
        let _ = writeln!(
            s,
            "#{:<6} t={}.{:07}s  -{}us  cpu {:<2} {}",
            e.index,
            e.time / 10_000_000,
            e.time % 10_000_000,
            back_us,
            e.cpu,
            describe(e)
        );
    }
    s
}

/// One event in words.
fn describe(e: &Entry) -> String {
    match e.event {
        Ok(Event::Enter { handler, object }) => format!("-> {} ({object:#x})", handler.name()),
        Ok(Event::Return {
            handler,
            object,
            status,
        }) => {
            format!("<- {} ({object:#x}) = {}", handler.name(), Status(status))
        }
        Ok(Event::Ddi { ddi, object, status }) => format!("   {}({object:#x}) = {}", ddi.name(), Status(status)),
        Ok(Event::Transition {
            machine,
            object,
            from,
            to,
        }) => {
            let name = |c: u16| match machine {
                Machine::Adapter => AdapterStateCode::from_code(c).map_or("?", AdapterStateCode::name),
            };
            format!("   {} {object:#x}: {} -> {}", machine.name(), name(from), name(to))
        }
        Ok(Event::Refused {
            handler,
            object,
            reason,
            status,
        }) => format!(
            "   refused in {} ({object:#x}): {} = {}",
            handler.name(),
            reason.name(),
            Status(status)
        ),
        Err(raw) => format!(
            "   unknown record kind {} code {} value {:#x} object {:#x} (a newer format?)",
            raw.kind, raw.code, raw.value, raw.object
        ),
    }
}
