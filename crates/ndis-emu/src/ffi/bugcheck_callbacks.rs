//! The kernel services of a driver's flight recorder and crash-dump data:
//! the clock and processor number it stamps events with, and bug-check
//! reason callbacks (KeRegisterBugCheckReasonCallback and
//! KeDeregisterBugCheckReasonCallback), which the emulator calls the way
//! Windows does when the driver bug-checks or a test crashes it
//! ([`crate::crash`]).

use std::sync::OnceLock;
use std::time::Instant;

use ndis_sys::*;

use crate::world;

/// The emulated boot: interrupt time counts from the first query.
static BOOT: OnceLock<Instant> = OnceLock::new();

ddi_fn! {
    /// KeQueryInterruptTimePrecise (any IRQL, Learn "IRQL: Any level"): the
    /// time since the emulator's first query, in 100 ns units, and the same
    /// value (a performance counter of 10 MHz) in `*QpcTimeStamp`.
    #[unsafe(no_mangle)]
    pub unsafe fn KeQueryInterruptTimePrecise(qpc: *mut ULONG64) -> ULONG64 {
        let since = BOOT.get_or_init(Instant::now).elapsed();
        let ticks = u64::try_from(since.as_nanos() / 100).unwrap_or(u64::MAX);
        if !qpc.is_null() {
            // SAFETY: the DDI's contract: a writable ULONG64 ([out], not optional;
            // NULL is tolerated here rather than crashing the test process).
            unsafe { qpc.write(ticks) };
        }
        ticks
    }

    /// KeGetCurrentProcessorNumberEx (any IRQL): the calling emulated CPU's
    /// index; `ProcNumber` (optional) is not filled: covmini passes NULL, and
    /// a driver that passes a buffer gets group 0 written as zeros.
    #[unsafe(no_mangle)]
    pub unsafe fn KeGetCurrentProcessorNumberEx(proc_number: PVOID) -> ULONG {
        if !proc_number.is_null() {
            // SAFETY: PROCESSOR_NUMBER is 4 bytes (USHORT Group, UCHAR Number,
            // UCHAR Reserved; wdm.h) and the caller passes room for one.
            unsafe { proc_number.cast::<u8>().write_bytes(0, 4) };
        }
        world::cpu_id()
    }
}
