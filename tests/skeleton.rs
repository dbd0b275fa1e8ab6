//! covmini's registration skeleton under ndis-emu (the host build): every
//! step of the NDIS lifecycle a CoNDIS MCM goes through, with zero contract
//! violations and zero leaks.

mod common;

use common::scenario::with_adapter;

use ndis_emu::{Emulator, rules};

/// Runs load → add adapter → halt → unload and returns the report.
fn lifecycle() -> ndis_emu::Report {
    let mut emu = Emulator::new();
    // INFO lines on (the adapter's TraceLevel registry value, 3 = INFO).
    emu.set_adapter_parameter("TraceLevel", 3);
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("MiniportInitializeEx + MiniportRestart");
    emu.halt_adapter().expect("MiniportPause + MiniportHaltEx");
    emu.unload().expect("MiniportDriverUnload");
    emu.finish()
}

#[test]
fn covmini_registers_initializes_halts_and_unloads_with_no_violation_or_leak() {
    let report = lifecycle();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn registration_runs_every_step_in_the_order_the_contract_requires() {
    let report = lifecycle();
    let steps: Vec<&str> = report
        .events
        .iter()
        .filter(|e| e.dir != "=>" || !e.name.starts_with("Dbg"))
        .filter(|e| e.dir != "<-")
        .map(|e| e.name)
        .filter(|n| !n.contains("SpinLock") && !n.contains("Memory"))
        .collect();
    assert_eq!(
        steps,
        [
            "DriverEntry",
            "NdisMRegisterMiniportDriver",
            "MiniportSetOptions",
            "NdisSetOptionalHandlers",
            "NdisSetOptionalHandlers",
            "MiniportInitializeEx",
            // The trace level: the adapter's TraceLevel registry value.
            "NdisOpenConfigurationEx",
            "NdisReadConfiguration",
            "NdisCloseConfiguration",
            // One lookaside list per call-manager context: AF, SAP, VC,
            // party, and the call blocks.
            "ExInitializeNPagedLookasideList",
            "ExInitializeNPagedLookasideList",
            "ExInitializeNPagedLookasideList",
            "ExInitializeNPagedLookasideList",
            "ExInitializeNPagedLookasideList",
            // The event HaltEx waits on for the clients' notify-close.
            "NdisInitializeEvent",
            "NdisMSetMiniportAttributes",
            "NdisMSetMiniportAttributes",
            "NdisMCmRegisterAddressFamilyEx",
            "MiniportRestart",
            "MiniportPause",
            "MiniportHaltEx",
            // No client opened the AF, so there is nothing to notify:
            // HaltEx's own count sets the event and its wait returns at
            // once. The lists go with the adapter.
            "NdisSetEvent",
            "NdisWaitEvent",
            "ExDeleteNPagedLookasideList",
            "ExDeleteNPagedLookasideList",
            "ExDeleteNPagedLookasideList",
            "ExDeleteNPagedLookasideList",
            "ExDeleteNPagedLookasideList",
            "MiniportDriverUnload",
            "NdisMDeregisterMiniportDriver",
        ]
    );
}

#[test]
fn covmini_registers_its_private_af_as_version_1_0() {
    let report = lifecycle();
    let af = report
        .events
        .iter()
        .find(|e| e.name == "NdisMCmRegisterAddressFamilyEx")
        .expect("AF registration");
    assert!(af.detail().ends_with("AF 0xc0c0 v1.0"), "{}", af.detail);
    let registrations = report
        .events
        .iter()
        .filter(|e| e.name == "NdisMCmRegisterAddressFamilyEx")
        .count();
    assert_eq!(registrations, 1, "one AF, registered once");
    assert_eq!(report.of(rules::INIT_AF_REGISTRATION).count(), 0, "{report}");
}

#[test]
fn covmini_prints_through_dbgprintex_and_the_emulator_captures_it() {
    let report = lifecycle();
    assert!(
        report
            .debug_output
            .iter()
            .any(|l| l == "covmini: InitializeEx (NDIS 6.30)"),
        "{:?}",
        report.debug_output
    );
    assert!(
        report.debug_output.iter().any(|l| l == "covmini: HaltEx (action 0)"),
        "{:?}",
        report.debug_output
    );
}

#[test]
fn the_adapter_context_is_allocated_with_its_own_tag_and_freed_at_halt() {
    let report = lifecycle();
    let alloc = report
        .events
        .iter()
        .find(|e| e.name == "NdisAllocateMemoryWithTagPriority")
        .expect("adapter allocation");
    assert!(alloc.detail().contains("tag CvmA"), "{}", alloc.detail);
    let free = report
        .events
        .iter()
        .find(|e| e.name == "NdisFreeMemoryWithTagPriority")
        .expect("adapter free");
    assert!(free.detail().contains("tag CvmA"), "{}", free.detail);
    assert_eq!(report.of(rules::MEMORY_LEDGER).count(), 0, "{report}");
}

#[test]
fn the_miniport_answers_adapter_oids_from_its_single_table() {
    use ndis_sys::*;
    let report = with_adapter(|emu| {
        let (_, media) = emu.oid_query(None, None, OID_GEN_CO_MEDIA_IN_USE, 4).expect("query");
        assert_eq!((media.status, media.bytes_done), (NDIS_STATUS_SUCCESS, 4));
        assert_eq!(media.data, (NdisMediumCoWan as u32).to_ne_bytes());
        let (_, list) = emu
            .oid_query(None, None, OID_GEN_CO_SUPPORTED_LIST, 256)
            .expect("query");
        assert_eq!(list.status, NDIS_STATUS_SUCCESS);
        let oids: Vec<u32> = list.data[..list.bytes_done as usize]
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(
            oids,
            covmini::ctrl_path::SUPPORTED_OIDS,
            "the list NDIS gets is the table that answers"
        );
        let (_, short) = emu.oid_query(None, None, OID_GEN_CO_VENDOR_ID, 2).expect("query");
        assert_eq!(
            (short.status, short.bytes_done, short.bytes_needed),
            (NDIS_STATUS_BUFFER_TOO_SHORT, 0, 4)
        );
        let (_, unknown) = emu.oid_query(None, None, 0x0101_0101, 4).expect("query");
        assert_eq!(unknown.status, NDIS_STATUS_INVALID_OID);
        let (_, set) = emu
            .oid_set(None, None, OID_GEN_CO_PROTOCOL_OPTIONS, &1u32.to_ne_bytes())
            .expect("set");
        assert_eq!((set.status, set.bytes_done), (NDIS_STATUS_SUCCESS, 4));
    });
    assert!(report.is_clean(), "{report}");
}
