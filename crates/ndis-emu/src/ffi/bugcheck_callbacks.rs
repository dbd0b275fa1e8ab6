//! The kernel services of a driver's flight recorder and crash-dump data:
//! the clock and processor number it stamps events with, and bug-check
//! reason callbacks (KeRegisterBugCheckReasonCallback,
//! KeDeregisterBugCheckReasonCallback), which the emulator calls the way
//! Windows does when the driver bug-checks (the emulator's KeBugCheckEx) or a
//! test crashes it ([`secondary_dump_data`]).
//!
//! The dump protocol, from "Writing a Bug Check Callback Routine"
//! (learn.microsoft.com/windows-hardware/drivers/kernel/writing-a-bug-check-callback-routine,
//! "Implementing a KbCallbackSecondaryDumpData Callback Routine"):
//!
//! > The system sets the InBuffer, InBufferLength, OutBuffer, and
//! > MaximumAllowed members of the KBUGCHECK_SECONDARY_DUMP_DATA structure
//! > [...]. If the OutBuffer member of KBUGCHECK_SECONDARY_DUMP_DATA is NULL,
//! > the system is only requesting size information. The
//! > KbCallbackSecondaryDumpData routine fills in the OutBuffer and
//! > OutBufferLength members. If the OutBuffer member of
//! > KBUGCHECK_SECONDARY_DUMP_DATA equals the InBuffer member, the system is
//! > requesting the driver's secondary dump data. The
//! > KbCallbackSecondaryDumpData routine fills in the OutBuffer and
//! > OutBufferLength members, and writes the data to the buffer specified by
//! > OutBuffer.
//!
//! and a driver with more data than InBuffer holds "sets OutBuffer to point
//! to the driver's buffer" (nonpaged), which is what the emulator then reads.
//! Each block is "tagged with the value of the Guid member"; "a driver can
//! write multiple blocks with the same GUID [...] but this is very poor
//! practice, because only the first block will be accessible to the
//! debugger" (same page), and "if the driver can be unloaded, then it must
//! remove any registered callback routines in its DRIVER_UNLOAD callback".
//! Those rules are declared and checked in `crate::bugcheck`; this module
//! calls the callbacks and hands what they return to those checks.
//!
//! Must not: hold the world across a call into the driver's callback.

use std::sync::OnceLock;
use std::time::Instant;

use ndis_sys::*;

use crate::bugcheck;
use crate::ffi::calls;
use crate::trace::Detail;
use crate::world;
use crate::world::bugcheck::Registered;

/// `HIGH_LEVEL` on x64 and ARM64 (wdm.h: `#define HIGH_LEVEL 15`): the
/// IRQL bug-check callbacks run at.
const HIGH_LEVEL: KIRQL = 15;
/// The system buffer offered as InBuffer (the emulator's choice; Windows
/// documents it only as "a small buffer").
const IN_BUFFER_LEN: usize = 4096;
pub use crate::bugcheck::MAXIMUM_ALLOWED;

pub use crate::bugcheck::DumpBlock;

/// The emulated boot: interrupt time counts from the first query.
static BOOT: OnceLock<Instant> = OnceLock::new();

/// Reads a NUL-terminated ASCII string the driver passed (at most 256
/// bytes), or "" for NULL.
///
/// # Safety
/// `p` is NULL or a readable NUL-terminated string.
unsafe fn c_string(p: PUCHAR) -> String {
    let mut s = String::new();
    if p.is_null() {
        return s;
    }
    for i in 0..256 {
        // SAFETY: within the string, which ends at its NUL (precondition).
        let b = unsafe { p.wrapping_add(i).read() };
        if b == 0 {
            break;
        }
        s.push(char::from(b));
    }
    s
}

ddi_fn! {
    /// KeQueryInterruptTimePrecise (any IRQL, Learn "IRQL: Any level"): the
    /// time since the emulator's first query, in 100 ns units, and the same
    /// value (a performance counter of 10 MHz) in `*QpcTimeStamp`.
    #[unsafe(no_mangle)]
    pub unsafe fn KeQueryInterruptTimePrecise(qpc: *mut ULONG64) -> ULONG64 {
        let since = BOOT.get_or_init(Instant::now).elapsed();
        let ticks = u64::try_from(since.as_nanos() / 100).unwrap_or(u64::MAX);
        if !qpc.is_null() {
            // SAFETY: the DDI's contract: a writable ULONG64 ([out], not
            // optional; NULL is tolerated rather than crashing the run).
            unsafe { qpc.write(ticks) };
        }
        ticks
    }

    /// KeGetCurrentProcessorNumberEx (any IRQL): the calling emulated CPU's
    /// index; a `ProcNumber` buffer, if given, gets group 0 and that index.
    #[unsafe(no_mangle)]
    pub unsafe fn KeGetCurrentProcessorNumberEx(proc_number: PVOID) -> ULONG {
        let cpu = world::cpu_id();
        if !proc_number.is_null() {
            // PROCESSOR_NUMBER (wdm.h): USHORT Group; UCHAR Number; UCHAR Reserved.
            let bytes = [0, 0, u8::try_from(cpu).unwrap_or(u8::MAX), 0];
            // SAFETY: the caller passes room for a PROCESSOR_NUMBER (4 bytes).
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), proc_number.cast::<u8>(), 4) };
        }
        cpu
    }

    /// KeRegisterBugCheckReasonCallback: records the callback and fills the
    /// record as the kernel does (routine, component, reason, State =
    /// BufferInserted). Returns FALSE for a NULL record or routine, and for a
    /// record that is already registered.
    #[unsafe(no_mangle)]
    pub unsafe fn KeRegisterBugCheckReasonCallback(
        record: PKBUGCHECK_REASON_CALLBACK_RECORD,
        routine: KBUGCHECK_REASON_CALLBACK_ROUTINE,
        reason: KBUGCHECK_CALLBACK_REASON,
        component: PUCHAR,
    ) -> BOOLEAN {
        if record.is_null() {
            return FALSE;
        }
        // SAFETY: the DDI's contract: Component is a NUL-terminated string.
        let name = unsafe { c_string(component) };
        let entry = Registered { record: record as usize, routine, reason, component: name };
        let added = world::with("KeRegisterBugCheckReasonCallback", |w| {
            if w.bugcheck.registered.iter().any(|r| r.record == entry.record) {
                return false;
            }
            w.bugcheck.registered.push(entry);
            true
        });
        if !added {
            return FALSE;
        }
        // SAFETY: the DDI's contract: a writable KBUGCHECK_REASON_CALLBACK_RECORD
        // the driver keeps until it deregisters.
        let r = unsafe { &mut *record };
        r.CallbackRoutine = Some(routine);
        r.Component = component;
        r.Reason = reason;
        r.State = BufferInserted;
        TRUE
    }

    /// KeDeregisterBugCheckReasonCallback: TRUE and State = BufferEmpty if
    /// the record was registered, else FALSE.
    #[unsafe(no_mangle)]
    pub unsafe fn KeDeregisterBugCheckReasonCallback(record: PKBUGCHECK_REASON_CALLBACK_RECORD) -> BOOLEAN {
        let removed = world::with("KeDeregisterBugCheckReasonCallback", |w| {
            let before = w.bugcheck.registered.len();
            w.bugcheck.registered.retain(|r| r.record != record as usize);
            w.bugcheck.registered.len() != before
        });
        if !removed {
            return FALSE;
        }
        // SAFETY: the record was registered, so it is the driver's writable record.
        unsafe { (*record).State = BufferEmpty };
        TRUE
    }
}

/// Crashes the machine, as far as the driver's dump callbacks can tell: calls
/// every registered KbCallbackSecondaryDumpData callback at HIGH_LEVEL, first
/// for the size (OutBuffer NULL), then for the data (OutBuffer = InBuffer),
/// and returns the blocks they hand over, as a crash dump would hold them.
/// The emulator's KeBugCheckEx runs the same collection before it ends the
/// process. Rules checked (by `crate::bugcheck`): `bugcheck.dump-data-too-large`,
/// `bugcheck.duplicate-dump-guid`.
#[must_use]
pub fn secondary_dump_data() -> Vec<DumpBlock> {
    let registered = world::try_with(|w| w.bugcheck.registered.clone()).unwrap_or_default();
    let mut blocks: Vec<DumpBlock> = Vec::new();
    for r in registered.iter().filter(|r| r.reason == KbCallbackSecondaryDumpData) {
        if let Some(block) = collect_one(r) {
            world::try_with(|w| bugcheck::check_guid(w, &blocks, &block));
            blocks.push(block);
        }
    }
    blocks
}

/// Runs one callback's two calls; None if it offers no data.
fn collect_one(r: &Registered) -> Option<DumpBlock> {
    let routine = r.routine;
    let mut in_buffer = vec![0u8; IN_BUFFER_LEN];
    let fresh = |out: PVOID, in_ptr: PVOID| KBUGCHECK_SECONDARY_DUMP_DATA {
        InBuffer: in_ptr,
        InBufferLength: ULONG::try_from(IN_BUFFER_LEN).unwrap_or(0),
        MaximumAllowed: MAXIMUM_ALLOWED,
        Guid: GUID::default(),
        OutBuffer: out,
        OutBufferLength: 0,
    };
    let in_ptr: PVOID = in_buffer.as_mut_ptr().cast();
    // The size query.
    let mut data = fresh(core::ptr::null_mut(), in_ptr);
    call(routine, r.record, &mut data);
    if data.OutBufferLength == 0 {
        return None;
    }
    // The data request.
    let mut data = fresh(in_ptr, in_ptr);
    call(routine, r.record, &mut data);
    let len = data.OutBufferLength;
    if len == 0 || data.OutBuffer.is_null() {
        return None;
    }
    if !world::try_with(|w| bugcheck::check_size(w, &r.component, len)).unwrap_or(len <= MAXIMUM_ALLOWED) {
        return None;
    }
    let len = usize::try_from(len).unwrap_or(0);
    // SAFETY: the callback's contract: OutBuffer points to OutBufferLength
    // readable bytes (InBuffer, or the driver's own nonpaged buffer), alive
    // at bug check, i.e. now.
    let bytes = unsafe { core::slice::from_raw_parts(data.OutBuffer.cast::<u8>(), len) }.to_vec();
    Some(DumpBlock {
        guid: data.Guid,
        component: r.component.clone(),
        data: bytes,
    })
}

/// One call of the callback at HIGH_LEVEL, as a driver-handler frame.
fn call(routine: KBUGCHECK_REASON_CALLBACK_ROUTINE, record: usize, data: &mut KBUGCHECK_SECONDARY_DUMP_DATA) {
    const NAME: &str = "KbCallbackSecondaryDumpData";
    let caller = calls::enter(NAME, HIGH_LEVEL, Detail::EMPTY);
    let size = ULONG::try_from(core::mem::size_of::<KBUGCHECK_SECONDARY_DUMP_DATA>()).unwrap_or(0);
    // SAFETY: the driver's registered callback, called as the kernel calls
    // it: its own record, a KBUGCHECK_SECONDARY_DUMP_DATA alive across the
    // call, and that structure's size.
    unsafe {
        routine(
            KbCallbackSecondaryDumpData,
            record as PKBUGCHECK_REASON_CALLBACK_RECORD,
            core::ptr::from_mut(data).cast(),
            size,
        )
    };
    calls::leave(NAME, caller, Detail::EMPTY);
}

/// The emulator's KeBugCheckEx, before the process ends: collects the
/// secondary dump data, lists each block on stderr and, when the
/// environment variable `NDIS_EMU_DUMP_DIR` names a directory, writes each
/// block there as `<guid>.bin` (what a test of a crashing process reads).
pub(crate) fn on_bug_check() {
    let blocks = secondary_dump_data();
    let dir = std::env::var_os("NDIS_EMU_DUMP_DIR");
    for b in &blocks {
        let name = guid_text(&b.guid);
        eprintln!(
            "ndis-emu: secondary dump data {name} (\"{}\"): {} bytes",
            b.component,
            b.data.len()
        );
        if let Some(dir) = &dir {
            let path = std::path::Path::new(dir).join(format!("{}.bin", name.trim_matches(['{', '}'])));
            if let Err(e) = std::fs::write(&path, &b.data) {
                eprintln!("ndis-emu: cannot write {}: {e}", path.display());
            }
        }
    }
}

/// A GUID in registry format, `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`.
#[must_use]
pub fn guid_text(g: &GUID) -> String {
    let d = g.Data4;
    format!(
        "{{{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
        g.Data1, g.Data2, g.Data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
    )
}
