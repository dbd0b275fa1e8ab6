//! The bug-check callback rules (`bugcheck.*`) and their checks: a driver
//! deregisters its bug-check reason callbacks before its unload returns,
//! its KbCallbackSecondaryDumpData callbacks write at most MaximumAllowed
//! bytes, and the blocks of one crash have distinct GUIDs ("Writing a Bug
//! Check Callback Routine" \[D\]; the quotes are in the rules). Also the
//! values a crash hands over ([`DumpBlock`], [`MAXIMUM_ALLOWED`]).
//!
//! It owns those checks over the world; registering, deregistering and
//! calling the callbacks is `crate::ffi::bugcheck_callbacks`, which runs
//! them, and the registered list is `crate::world::bugcheck`. What it must
//! not do: call into the driver.

use ndis_sys::*;

use crate::world::World;
use crate::world::bugcheck::Registered;

crate::define_rules! { BUGCHECK:
    BUGCHECK_REGISTERED_AT_UNLOAD, "bugcheck.callback-registered-at-unload", false,
        "Writing a Bug Check Callback Routine [D]: \"must remove any registered callback routines in its DRIVER_UNLOAD\"",
        "bugcheck_callback_registered_at_unload_fires_when_unload_forgets",
        "Every bug-check reason callback the driver registered is deregistered (KeDeregisterBugCheckReasonCallback) by the time its unload routine returns.";
    BUGCHECK_DUMP_TOO_LARGE, "bugcheck.dump-data-too-large", false,
        "KBUGCHECK_SECONDARY_DUMP_DATA [D]: MaximumAllowed is \"the maximum amount of data that the KbCallbackSecondaryDumpData routine can write\"",
        "bugcheck_dump_data_too_large_fires_on_an_oversized_block",
        "A KbCallbackSecondaryDumpData callback's OutBufferLength is at most MaximumAllowed.";
    BUGCHECK_DUPLICATE_GUID, "bugcheck.duplicate-dump-guid", true,
        "Writing a Bug Check Callback Routine [D]: \"only the first block will be accessible to the debugger\"",
        "bugcheck_duplicate_dump_guid_fires_on_two_blocks_with_one_guid",
        "The secondary dump data blocks of one crash have distinct GUIDs.";
}

/// MaximumAllowed: the emulator's choice (64 KiB). Windows documents only
/// that it is "the maximum amount of data" the callback may write.
pub const MAXIMUM_ALLOWED: ULONG = 0x1_0000;

/// One block of secondary crash dump data, as the debugger's `.enumtag`
/// would list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpBlock {
    /// The block's tag (KBUGCHECK_SECONDARY_DUMP_DATA.Guid).
    pub guid: GUID,
    /// The Component string the callback was registered with.
    pub component: String,
    /// The bytes the callback handed over.
    pub data: Vec<u8>,
}

/// The driver's unload returned: every callback still registered breaks
/// `bugcheck.callback-registered-at-unload` (on Windows the kernel would call into
/// unloaded code at the next bug check).
pub(crate) fn at_unload(w: &mut World) {
    let left: Vec<Registered> = w.bugcheck.registered.clone();
    for r in left {
        w.violate(
            BUGCHECK_REGISTERED_AT_UNLOAD,
            "MiniportDriverUnload",
            format!(
                "the bug-check callback \"{}\" (record {:#x}) is still registered",
                r.component, r.record
            ),
            &[],
        );
    }
}

/// A crash's block `block`, after the `earlier` ones: its GUID must be new.
pub(crate) fn check_guid(w: &mut World, earlier: &[DumpBlock], block: &DumpBlock) {
    if earlier.iter().any(|b| b.guid == block.guid) {
        w.violate(
            BUGCHECK_DUPLICATE_GUID,
            "KbCallbackSecondaryDumpData",
            format!(
                "\"{}\" tagged its block with a GUID an earlier block has: {:?}",
                block.component, block.guid
            ),
            &[],
        );
    }
}

/// The OutBufferLength `len` the callback of `component` set: within
/// MaximumAllowed (true), or the block is not taken (false).
pub(crate) fn check_size(w: &mut World, component: &str, len: ULONG) -> bool {
    if len > MAXIMUM_ALLOWED {
        w.violate(
            BUGCHECK_DUMP_TOO_LARGE,
            "KbCallbackSecondaryDumpData",
            format!("\"{component}\" set OutBufferLength {len}, MaximumAllowed is {MAXIMUM_ALLOWED}"),
            &[],
        );
        return false;
    }
    true
}
