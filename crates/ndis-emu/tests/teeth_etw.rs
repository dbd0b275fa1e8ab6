//! The ETW rules' teeth: a small driver that registers an ETW provider in
//! DriverEntry and is wrong in exactly one way per test (forgets to
//! unregister, writes after unregistering, writes a TraceLogging event whose
//! payload is shorter than its metadata says), and the same driver, well
//! behaved, breaking none. No adapter is added: DriverEntry and
//! MiniportDriverUnload are all these rules need.

use core::cell::Cell;
use core::ptr::null_mut;

use ndis_emu::etw::{ETW_EVENT_FORMAT, ETW_HANDLE_VALID, ETW_REGISTERED_AT_UNLOAD, decode};
use ndis_emu::{Emulator, Report, Rule};
use ndis_sys::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    None,
    UnloadForgets,
    WriteAfterUnregister,
    ShortField,
}

thread_local! {
    static FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
    static DRIVER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static ETW: Cell<REGHANDLE> = const { Cell::new(0) };
}

const PROVIDER: GUID = GUID {
    Data1: 0x1234_5678,
    Data2: 0x9abc,
    Data3: 0x5def,
    Data4: [1, 2, 3, 4, 5, 6, 7, 8],
};

/// Provider traits "P"; an event "E" with one UINT64 field "v".
const TRAITS: &[u8] = b"\x04\x00P\x00";
const META: &[u8] = b"\x08\x00\x00E\x00v\x00\x0a";

fn desc(bytes: &[u8], ty: UCHAR) -> EVENT_DATA_DESCRIPTOR {
    EVENT_DATA_DESCRIPTOR {
        Ptr: bytes.as_ptr() as u64,
        Size: bytes.len() as ULONG,
        Type: ty,
        ..Default::default()
    }
}

/// Writes the event "E" with `payload` as its one field's bytes.
fn write_event(handle: REGHANDLE, payload: &[u8]) -> NTSTATUS {
    let event = EVENT_DESCRIPTOR {
        Channel: WINEVENT_CHANNEL_TRACELOGGING,
        Level: WINEVENT_LEVEL_INFO,
        Keyword: 1,
        ..Default::default()
    };
    let mut data = [
        desc(TRAITS, EVENT_DATA_DESCRIPTOR_TYPE_PROVIDER_METADATA),
        desc(META, EVENT_DATA_DESCRIPTOR_TYPE_EVENT_METADATA),
        desc(payload, EVENT_DATA_DESCRIPTOR_TYPE_NONE),
    ];
    // SAFETY: the descriptors and what they point at live across the call.
    unsafe {
        EtwWriteTransfer(
            handle,
            &raw const event,
            core::ptr::null(),
            core::ptr::null(),
            3,
            data.as_mut_ptr(),
        )
    }
}

fn run(f: Fault) -> (Report, Vec<ndis_emu::etw::Captured>) {
    FAULT.with(|c| c.set(f));
    let mut emu = Emulator::new();
    emu.etw_enable(PROVIDER, 0, u64::MAX, 0);
    emu.load(driver_entry).expect("load");
    emu.unload().expect("unload");
    let events = emu.etw_events();
    (emu.finish(), events)
}

fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

ndis_fn! {
    unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        let mut handle: REGHANDLE = 0;
        // SAFETY: a static GUID and a local handle slot; no callback.
        let status = unsafe { EtwRegister(&PROVIDER, None, null_mut(), &raw mut handle) };
        assert_eq!(status, STATUS_SUCCESS);
        ETW.with(|c| c.set(handle));
        let v = 7u64.to_le_bytes();
        let payload: &[u8] = if FAULT.with(Cell::get) == Fault::ShortField { &v[..4] } else { &v };
        write_event(handle, payload);
        let mut c = ndis_fixture::miniport_characteristics(set_options, initialize, halt, unload);
        let mut driver = null_mut();
        // SAFETY: characteristics and handle slot live across the call.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut driver) };
        DRIVER.with(|d| d.set(driver));
        status
    }
}

ndis_fn! {
    unsafe fn set_options(driver: NDIS_HANDLE, _c: NDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: inside MiniportSetOptions with its driver handle.
        unsafe { ndis_fixture::set_co_and_cm_handlers(driver, ndis_fixture::co_characteristics(), ndis_fixture::cm_handlers()) }
    }
}

ndis_fn! {
    unsafe fn initialize(_h: NDIS_HANDLE, _c: NDIS_HANDLE, _p: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        NDIS_STATUS_FAILURE
    }
}

ndis_fn! {
    unsafe fn halt(_c: NDIS_HANDLE, _a: NDIS_HALT_ACTION) {}
}

ndis_fn! {
    unsafe fn unload(_o: PDRIVER_OBJECT) {
        // SAFETY: the driver handle NDIS gave, once.
        unsafe { NdisMDeregisterMiniportDriver(DRIVER.with(Cell::get)) };
        let handle = ETW.with(Cell::get);
        match FAULT.with(Cell::get) {
            Fault::UnloadForgets => {}
            Fault::WriteAfterUnregister => {
                // SAFETY: the handle EtwRegister gave, unregistered once.
                unsafe { EtwUnregister(handle) };
                write_event(handle, &7u64.to_le_bytes());
            }
            Fault::None | Fault::ShortField => {
                // SAFETY: the handle this driver's EtwRegister gave, still
                // registered, unregistered exactly once here.
                unsafe { EtwUnregister(handle) };
            }
        }
    }
}

/// Registered, written, unregistered: no rule fires, and the session
/// captured the event, which decodes to its field.
#[test]
fn the_well_behaved_etw_driver_breaks_no_rule() {
    let (report, events) = run(Fault::None);
    assert!(report.is_clean(), "{report}");
    assert_eq!(events.len(), 1);
    let d = decode(&events[0]).expect("decodes");
    assert_eq!(d.to_string(), "P/E v=7");
}

#[test]
fn etw_registered_at_unload_fires_when_unload_forgets() {
    let (report, _) = run(Fault::UnloadForgets);
    only(&report, ETW_REGISTERED_AT_UNLOAD);
    assert!(
        report.violations[0]
            .detail
            .contains("{12345678-9abc-5def-0102-030405060708}"),
        "{report}"
    );
}

#[test]
fn etw_handle_valid_fires_on_a_write_after_unregister() {
    let (report, _) = run(Fault::WriteAfterUnregister);
    only(&report, ETW_HANDLE_VALID);
    assert!(report.violations[0].detail.contains("already unregistered"), "{report}");
}

#[test]
fn etw_event_format_fires_on_a_short_field() {
    let (report, _) = run(Fault::ShortField);
    only(&report, ETW_EVENT_FORMAT);
    assert!(report.violations[0].detail.contains("8 bytes wanted"), "{report}");
}
