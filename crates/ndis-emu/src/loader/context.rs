//! What the emulator knows about a crash inside the image: the handler the
//! driver was running, the NDIS objects the faulting registers and address
//! name (with their histories), where they point into the driver's memory,
//! the violations so far and the last events of the trace.
//!
//! Plain safe code over a `&World`: the crash handler (`crash`) calls it on
//! its report stack, after the async-signal-safe part of the report has been
//! written, and only when the faulting thread cannot be holding the world
//! (see `crash`'s module docs). It allocates; it never writes to the world.

use core::fmt::Write as _;

use crate::world::World;

/// How many trace events and violations the report repeats.
const LAST_EVENTS: usize = 8;
const LAST_VIOLATIONS: usize = 4;
const LAST_HISTORY: usize = 6;

/// Handles are 16 apart (`world::HANDLE_BASE + n << 4`): an address inside
/// one of those slots names that handle (a driver read `[handle + 8]`).
const HANDLE_SLOT: usize = 16;

/// The handle whose slot `value` lies in, with its description.
fn handle_of(w: &World, value: usize) -> Option<(usize, String)> {
    let h = value & !(HANDLE_SLOT - 1);
    let record = w.handles.get(&h)?;
    let state = if record.alive { "alive" } else { "no longer valid" };
    Some((h, format!("NDIS {:?} handle {h:#x} ({state})", record.kind)))
}

/// The allocation `value` points into, described.
fn allocation_of(w: &World, value: usize) -> Option<String> {
    let (&base, a) = w.ledger.range(..=value).next_back()?;
    let offset = value - base;
    (offset < a.size.max(1)).then(|| {
        let tag = a.tag.to_le_bytes().map(|b| if b.is_ascii_graphic() { b } else { b'.' });
        format!(
            "+{offset:#x} into a {}-byte pool block tagged '{}' (allocated in {})",
            a.size,
            String::from_utf8_lossy(&tag),
            a.origin
        )
    })
}

/// The faulting CPU as the report shows it: number, IRQL, and the handlers
/// running on it, outermost first ([`crate::world::cpu_snapshot`]).
pub(crate) type CpuView = (crate::world::CpuId, ndis_sys::KIRQL, Vec<&'static str>);

/// The lines the report adds from the world. `cpu` is the faulting thread's
/// CPU, if it is one; `registers` its general registers, by name; `fault`
/// the faulting address (for a SIGSEGV/SIGBUS), if any.
pub(crate) fn describe(w: &World, cpu: Option<CpuView>, registers: &[(&str, usize)], fault: Option<usize>) -> String {
    let mut out = String::new();
    match cpu {
        Some((cpu, irql, handlers)) => {
            // CPU 0 (the emulator's own thread) goes unnamed, as in traces.
            let on = if cpu == 0 {
                String::new()
            } else {
                format!(" on CPU {cpu}")
            };
            match handlers.last() {
                Some(current) => {
                    let _ = writeln!(
                        out,
                        "ndis-emu: the driver was running {current}{on} at IRQL {irql} (handlers: {})",
                        handlers.join(" > ")
                    );
                }
                None => {
                    let _ = writeln!(out, "ndis-emu: no driver handler was running{on} (IRQL {irql})");
                }
            }
        }
        None => {
            let _ = writeln!(out, "ndis-emu: the faulting thread is none of the emulator's CPUs");
        }
    }

    let mut involved = Vec::new();
    if let Some(address) = fault {
        if let Some((h, what)) = handle_of(w, address) {
            let _ = writeln!(
                out,
                "ndis-emu: the fault address {address:#x} is inside {what}: a handle is opaque, never dereference it"
            );
            involved.push(h);
        } else if let Some(what) = allocation_of(w, address) {
            let _ = writeln!(out, "ndis-emu: the fault address {address:#x} is {what}");
        }
    }
    for &(name, value) in registers {
        if let Some((h, what)) = handle_of(w, value) {
            let _ = writeln!(out, "ndis-emu: {name} = {value:#x}: {what}");
            if !involved.contains(&h) {
                involved.push(h);
            }
        } else if let Some(what) = allocation_of(w, value) {
            let _ = writeln!(out, "ndis-emu: {name} = {value:#x}: {what}");
        }
    }
    for h in involved {
        if let Some(record) = w.handles.get(&h) {
            let skip = record.history.len().saturating_sub(LAST_HISTORY);
            for line in record.history.iter().skip(skip) {
                let _ = writeln!(out, "ndis-emu:   history of {h:#x}: {line}");
            }
        }
    }

    let skip = w.violations.len().saturating_sub(LAST_VIOLATIONS);
    let _ = writeln!(out, "ndis-emu: {} rule violation(s) so far", w.violations.len());
    for v in w.violations.iter().skip(skip) {
        let _ = writeln!(out, "ndis-emu:   {v}");
    }
    let skip = w.events.len().saturating_sub(LAST_EVENTS);
    if !w.events.is_empty() {
        let _ = writeln!(out, "ndis-emu: the last events of the trace:");
    }
    for e in w.events.iter().skip(skip) {
        let _ = writeln!(out, "ndis-emu:   {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;
    use crate::world::{Allocation, HandleKind};

    fn world() -> (World, usize, usize) {
        let mut w = World::default();
        let vc = w.new_handle(HandleKind::Vc, "NdisMCmCreateVc by covmini");
        w.note(vc, "activated");
        let block = 0x5000_0000usize;
        w.ledger.insert(
            block,
            Allocation {
                size: 64,
                tag: u32::from_le_bytes(*b"CvmV"),
                origin: "MiniportCoCreateVc",
            },
        );
        w.event("->", "MiniportCoSendNetBufferLists", "vc");
        w.violate(rules::BUG_CHECK, "KeBugCheckEx", "an earlier one", &[]);
        (w, vc, block)
    }

    #[test]
    fn a_handle_in_the_fault_address_and_registers_is_named_with_its_history() {
        let (w, vc, block) = world();
        let text = describe(
            &w,
            Some((0, 2, vec!["MiniportInitializeEx", "MiniportCoSendNetBufferLists"])),
            &[("rcx", vc), ("rdx", block + 0x10), ("r8", 7)],
            Some(vc + 8),
        );
        assert!(
            text.contains("running MiniportCoSendNetBufferLists at IRQL 2 (handlers: MiniportInitializeEx > MiniportCoSendNetBufferLists)"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "fault address {:#x} is inside NDIS Vc handle {vc:#x} (alive)",
                vc + 8
            )),
            "{text}"
        );
        assert!(text.contains(&format!("rcx = {vc:#x}: NDIS Vc handle")), "{text}");
        assert!(
            text.contains(
                "rdx = 0x50000010: +0x10 into a 64-byte pool block tagged 'CvmV' (allocated in MiniportCoCreateVc)"
            ),
            "{text}"
        );
        assert!(!text.contains("r8 ="), "a plain number is not an object: {text}");
        // One history, though two places name the handle.
        assert_eq!(text.matches("history of").count(), 2, "{text}");
        assert!(
            text.contains("NdisMCmCreateVc by covmini") && text.contains("activated"),
            "{text}"
        );
        assert!(
            text.contains("1 rule violation(s) so far") && text.contains("an earlier one"),
            "{text}"
        );
        assert!(text.contains("-> MiniportCoSendNetBufferLists vc"), "{text}");
    }

    #[test]
    fn a_worker_cpu_is_named() {
        let text = describe(&World::default(), Some((3, 0, vec!["WorkItemRoutine"])), &[], None);
        assert!(text.contains("running WorkItemRoutine on CPU 3 at IRQL 0"), "{text}");
        let text = describe(&World::default(), None, &[], None);
        assert!(text.contains("none of the emulator's CPUs"), "{text}");
    }

    #[test]
    fn an_empty_world_says_no_handler_ran() {
        let text = describe(&World::default(), Some((0, 0, Vec::new())), &[("rax", 0)], Some(0));
        assert!(text.contains("no driver handler was running"), "{text}");
        assert!(text.contains("0 rule violation(s)"), "{text}");
    }
}
