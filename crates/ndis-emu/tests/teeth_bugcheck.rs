//! The bug-check callback rules (`bugcheck.*`, `ndis_emu::bugcheck`)
//! fire on a wrong driver, and stay quiet on a right one; and the emulated
//! crash calls a secondary dump data callback the way Windows does (a size
//! query with OutBuffer NULL, then the data request with OutBuffer =
//! InBuffer) and collects what it hands over, at HIGH_LEVEL (so a callback
//! calling a DDI limited below that breaks `irql.limit`); the emulator's
//! KeBugCheckEx does the same before the process ends.

use std::cell::Cell;
use std::ptr::null_mut;

use ndis_emu::bugcheck::{
    BUGCHECK_DUMP_TOO_LARGE, BUGCHECK_DUPLICATE_GUID, BUGCHECK_REGISTERED_AT_UNLOAD, MAXIMUM_ALLOWED,
};
use ndis_emu::{Emulator, secondary_dump_data};
use ndis_sys::*;

const GUID_A: GUID = GUID {
    Data1: 0x1111_1111,
    Data2: 1,
    Data3: 2,
    Data4: [1, 2, 3, 4, 5, 6, 7, 8],
};
static PAYLOAD: [u8; 5] = *b"hello";

thread_local! {
    /// What the test callback saw on each call: (OutBuffer was NULL,
    /// OutBuffer == InBuffer, InBufferLength, MaximumAllowed).
    static SEEN: Cell<[(bool, bool, u32, u32); 2]> = const { Cell::new([(false, false, 0, 0); 2]) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
    /// The OutBufferLength the callback claims (too large for the rule test).
    static CLAIM: Cell<u32> = const { Cell::new(5) };
}

ndis_fn! {
    /// A secondary dump callback handing over PAYLOAD under GUID_A, from its
    /// own (static) buffer, noting how it was called.
    unsafe fn dump_cb(reason: KBUGCHECK_CALLBACK_REASON, _record: PKBUGCHECK_REASON_CALLBACK_RECORD, data: PVOID, len: ULONG) {
        assert_eq!(reason, KbCallbackSecondaryDumpData);
        assert_eq!(len as usize, size_of::<KBUGCHECK_SECONDARY_DUMP_DATA>());
        // SAFETY: the emulator passes its KBUGCHECK_SECONDARY_DUMP_DATA.
        let d = unsafe { &mut *data.cast::<KBUGCHECK_SECONDARY_DUMP_DATA>() };
        let n = CALLS.with(|c| {
            let n = c.get();
            c.set(n + 1);
            n
        });
        SEEN.with(|s| {
            let mut v = s.get();
            if let Some(slot) = v.get_mut(n) {
                *slot = (d.OutBuffer.is_null(), d.OutBuffer == d.InBuffer, d.InBufferLength, d.MaximumAllowed);
            }
            s.set(v);
        });
        d.Guid = GUID_A;
        d.OutBuffer = PAYLOAD.as_ptr().cast_mut().cast();
        d.OutBufferLength = CLAIM.with(Cell::get);
    }
}

/// A zeroed record (State = BufferEmpty, as KeInitializeCallbackRecord
/// leaves it), leaked: the kernel keeps it until deregistered.
fn record() -> PKBUGCHECK_REASON_CALLBACK_RECORD {
    // SAFETY: all-zero is a valid record (NULL links, no routine, BufferEmpty).
    Box::leak(Box::new(unsafe {
        std::mem::zeroed::<KBUGCHECK_REASON_CALLBACK_RECORD>()
    }))
}

fn register(r: PKBUGCHECK_REASON_CALLBACK_RECORD) -> BOOLEAN {
    // SAFETY: a live record, the test's callback, a static component name.
    unsafe {
        KeRegisterBugCheckReasonCallback(
            r,
            dump_cb,
            KbCallbackSecondaryDumpData,
            c"test".as_ptr().cast_mut().cast(),
        )
    }
}

#[test]
fn a_crash_asks_for_the_size_then_the_data_and_collects_the_block() {
    let emu = Emulator::new();
    CALLS.with(|c| c.set(0));
    CLAIM.with(|c| c.set(5));
    let r = record();
    assert_eq!(register(r), TRUE);
    // SAFETY: the record is live; the emulator filled it as the kernel does.
    let state = unsafe { (*r).State };
    assert_eq!(state, BufferInserted);
    assert_eq!(register(r), FALSE, "a record registered twice is refused");
    let blocks = secondary_dump_data();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].guid, GUID_A);
    assert_eq!(blocks[0].component, "test");
    assert_eq!(blocks[0].data, b"hello");
    let seen = SEEN.with(Cell::get);
    assert_eq!(CALLS.with(Cell::get), 2, "a size query, then the data request");
    assert!(seen[0].0, "first call: OutBuffer NULL (the size query)");
    assert!(
        !seen[1].0 && seen[1].1,
        "second call: OutBuffer = InBuffer (the data request)"
    );
    assert!(seen[0].2 > 0 && seen[0].3 == MAXIMUM_ALLOWED);
    // SAFETY: registered above.
    assert_eq!(unsafe { KeDeregisterBugCheckReasonCallback(r) }, TRUE);
    // SAFETY: the test's live record, just deregistered: the DDI must refuse it.
    assert_eq!(unsafe { KeDeregisterBugCheckReasonCallback(r) }, FALSE);
    assert!(
        secondary_dump_data().is_empty(),
        "a deregistered callback is not called"
    );
    assert!(emu.finish().is_clean());
}

#[test]
fn bugcheck_dump_data_too_large_fires_on_an_oversized_block() {
    let emu = Emulator::new();
    CALLS.with(|c| c.set(0));
    CLAIM.with(|c| c.set(MAXIMUM_ALLOWED + 1));
    let r = record();
    assert_eq!(register(r), TRUE);
    assert!(secondary_dump_data().is_empty(), "the oversized block is dropped");
    // SAFETY: registered above.
    let _ = unsafe { KeDeregisterBugCheckReasonCallback(r) };
    let report = emu.finish();
    assert_eq!(report.of(BUGCHECK_DUMP_TOO_LARGE).count(), 1, "{report}");
}

#[test]
fn bugcheck_duplicate_dump_guid_fires_on_two_blocks_with_one_guid() {
    let emu = Emulator::new();
    CALLS.with(|c| c.set(0));
    CLAIM.with(|c| c.set(5));
    let (a, b) = (record(), record());
    assert_eq!(register(a), TRUE);
    assert_eq!(register(b), TRUE);
    assert_eq!(
        secondary_dump_data().len(),
        2,
        "both blocks are collected, as Windows writes both"
    );
    // SAFETY: `a` was registered above and is live.
    let _ = unsafe { KeDeregisterBugCheckReasonCallback(a) };
    // SAFETY: `b` was registered above and is live.
    let _ = unsafe { KeDeregisterBugCheckReasonCallback(b) };
    let report = emu.finish();
    assert_eq!(report.of(BUGCHECK_DUPLICATE_GUID).count(), 1, "{report}");
}

// --- A minimal miniport whose unload forgets (or not) its callback ---------------

thread_local! {
    static DRIVER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static HOOK: Cell<PKBUGCHECK_REASON_CALLBACK_RECORD> = const { Cell::new(null_mut()) };
    static FORGETS: Cell<bool> = const { Cell::new(false) };
}

ndis_fn! {
    unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        let mut c = ndis_fixture::miniport_characteristics(set_options, initialize, halt, unload);
        let mut handle = null_mut();
        // SAFETY: characteristics and handle slot live across the call.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut handle) };
        DRIVER.with(|d| d.set(handle));
        let r = record();
        HOOK.with(|h| h.set(r));
        assert_eq!(register(r), TRUE);
        status
    }

    unsafe fn set_options(handle: NDIS_HANDLE, _ctx: NDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: inside MiniportSetOptions with its driver handle.
        unsafe { ndis_fixture::set_co_and_cm_handlers(handle, ndis_fixture::co_characteristics(), ndis_fixture::cm_handlers()) }
    }

    unsafe fn initialize(_h: NDIS_HANDLE, _d: NDIS_HANDLE, _p: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        NDIS_STATUS_FAILURE
    }

    unsafe fn halt(_ctx: NDIS_HANDLE, _action: NDIS_HALT_ACTION) {}

    unsafe fn unload(_object: PDRIVER_OBJECT) {
        if !FORGETS.with(Cell::get) {
            // SAFETY: the record DriverEntry registered.
            let _ = unsafe { KeDeregisterBugCheckReasonCallback(HOOK.with(Cell::get)) };
        }
        // SAFETY: the driver handle from DriverEntry.
        unsafe { NdisMDeregisterMiniportDriver(DRIVER.with(Cell::get)) };
    }
}

fn load_and_unload(forgets: bool) -> ndis_emu::Report {
    FORGETS.with(|f| f.set(forgets));
    let mut emu = Emulator::new();
    emu.load(driver_entry).expect("DriverEntry");
    emu.unload().expect("unload");
    emu.finish()
}

#[test]
fn bugcheck_callback_registered_at_unload_fires_when_unload_forgets() {
    let report = load_and_unload(true);
    assert_eq!(report.of(BUGCHECK_REGISTERED_AT_UNLOAD).count(), 1, "{report}");
    let report = load_and_unload(false);
    assert_eq!(report.of(BUGCHECK_REGISTERED_AT_UNLOAD).count(), 0, "{report}");
    assert!(report.is_clean(), "{report}");
}

// --- The emulator's KeBugCheckEx collects the dump data before it exits --------

#[test]
fn a_bug_check_writes_each_block_to_the_dump_dir() {
    let dir = std::env::temp_dir().join(format!("ndis-emu-dump-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dump dir");
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "bug_check_with_a_callback_child",
            "--nocapture",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("NDIS_EMU_BUGCHECK_CALLBACK_CHILD", "1")
        .env("NDIS_EMU_DUMP_DIR", &dir)
        .output()
        .expect("run child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "the bug check ends the process: {stderr}");
    assert!(
        stderr.contains("secondary dump data {11111111-0001-0002-0102-030405060708} (\"test\"): 5 bytes"),
        "{stderr}"
    );
    let block = std::fs::read(dir.join("11111111-0001-0002-0102-030405060708.bin")).expect("the block's file");
    assert_eq!(block, b"hello");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child half of `a_bug_check_writes_each_block_to_the_dump_dir`: a
/// "driver" registers its callback, then bug-checks.
#[test]
#[ignore = "runs only as the child of a_bug_check_writes_each_block_to_the_dump_dir"]
fn bug_check_with_a_callback_child() {
    if std::env::var_os("NDIS_EMU_BUGCHECK_CALLBACK_CHILD").is_some() {
        let _emu = Emulator::new();
        CALLS.with(|c| c.set(0));
        CLAIM.with(|c| c.set(5));
        assert_eq!(register(record()), TRUE);
        // SAFETY: KeBugCheckEx takes plain numbers; it does not return.
        unsafe { KeBugCheckEx(0xdead_f1c5, 1, 2, 3, 4) };
    }
}

// --- A callback runs at HIGH_LEVEL: a DDI limited below it is caught ------------

ndis_fn! {
    /// A wrong dump callback: allocates memory at bug check (HIGH_LEVEL), which
    /// "Writing a Bug Check Callback Routine" forbids and whose DDI allows at
    /// most DISPATCH_LEVEL.
    unsafe fn allocating_cb(_reason: KBUGCHECK_CALLBACK_REASON, _record: PKBUGCHECK_REASON_CALLBACK_RECORD, _data: PVOID, _len: ULONG) {
        // SAFETY: a NULL handle, which the emulator refuses without touching
        // anything (tests/irql_limits.rs calls every DDI so).
        let _ = unsafe { NdisAllocateMemoryWithTagPriority(null_mut(), 8, 0x7473_6554, NormalPoolPriority) };
    }
}

#[test]
fn a_callback_calling_a_dispatch_level_ddi_breaks_the_irql_limit() {
    let emu = Emulator::new();
    let r = record();
    // SAFETY: a live record, the wrong callback, a static component name.
    let ok = unsafe {
        KeRegisterBugCheckReasonCallback(
            r,
            allocating_cb,
            KbCallbackSecondaryDumpData,
            c"bad".as_ptr().cast_mut().cast(),
        )
    };
    assert_eq!(ok, TRUE);
    assert!(secondary_dump_data().is_empty(), "it offered no data");
    // SAFETY: registered above.
    let _ = unsafe { KeDeregisterBugCheckReasonCallback(r) };
    let report = emu.finish();
    assert!(
        report
            .of(ndis_emu::rules::IRQL_LIMIT)
            .any(|v| v.call == "NdisAllocateMemoryWithTagPriority" && v.detail.contains("IRQL 15")),
        "{report}"
    );
}
