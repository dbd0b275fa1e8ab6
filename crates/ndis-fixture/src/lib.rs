//! # ndis-fixture: the registration boilerplate of a small test MCM
//!
//! The ndis-emu fixture drivers (crates/ndis-emu/tests/fixture*) and the
//! bench's baseline (empty-mcm) are small CoNDIS miniports with an
//! integrated call manager written directly against ndis-sys. Each fills in
//! the same blocks: the miniport driver characteristics, the CoNDIS miniport
//! and call-manager optional handlers, the registration attributes. This
//! crate owns the well-formed, do-nothing version of each block and the
//! no-op handlers they point to; a driver takes a block and overwrites the
//! fields it really implements (or deliberately gets wrong).
//!
//! What it must not do: hold state, make NDIS calls, or know about any
//! fixture's faults. A fault belongs to its fixture, which changes the block
//! this crate returns (or does not use it). It is a host-only helper for
//! test drivers and the bench: never part of covmini or a kernel image.
//!
//! Its one NDIS call, [`set_co_and_cm_handlers`], is its FFI seam: an
//! `unsafe fn` whose caller vouches for the driver handle. The handlers are
//! `unsafe extern` functions only because NDIS's handler types are; none of
//! them touches its arguments.

use core::ptr::null_mut;

use ndis_sys::*;

/// The miniport driver characteristics of an NDIS 6.30 miniport (revision
/// 2): the four handlers every driver has its own of, and a no-op for each
/// other required one (pause and restart succeed, the rest do nothing).
/// No direct OID handlers.
#[must_use]
pub fn miniport_characteristics(
    set_options: MINIPORT_SET_OPTIONS,
    initialize: MINIPORT_INITIALIZE,
    halt: MINIPORT_HALT,
    unload: MINIPORT_UNLOAD,
) -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: 6,
        MinorNdisVersion: 30,
        SetOptionsHandler: Some(set_options),
        InitializeHandlerEx: Some(initialize),
        HaltHandlerEx: Some(halt),
        UnloadHandler: Some(unload),
        PauseHandler: Some(noop::pause),
        RestartHandler: Some(noop::restart),
        SendNetBufferListsHandler: Some(noop::send),
        ReturnNetBufferListsHandler: Some(noop::return_nbls),
        CancelSendHandler: Some(noop::cancel_send),
        DevicePnPEventNotifyHandler: Some(noop::pnp),
        ShutdownHandlerEx: Some(noop::shutdown),
        CancelOidRequestHandler: Some(noop::cancel_oid),
        ..Default::default()
    }
}

/// The CoNDIS miniport characteristics (revision 1) with no-op handlers:
/// activate, deactivate and OID requests answer NDIS_STATUS_NOT_SUPPORTED,
/// sends are dropped.
#[must_use]
pub fn co_characteristics() -> NDIS_MINIPORT_CO_CHARACTERISTICS {
    NDIS_MINIPORT_CO_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_MINIPORT_CHARACTERISTICS,
            NDIS_MINIPORT_CO_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_MINIPORT_CO_CHARACTERISTICS_REVISION_1,
        ),
        CoActivateVcHandler: Some(noop::co_activate),
        CoDeactivateVcHandler: Some(noop::co_deactivate),
        CoSendNetBufferListsHandler: Some(noop::co_send),
        CoOidRequestHandler: Some(noop::co_oid),
        ..Default::default()
    }
}

/// The call-manager optional handlers (revision 1), every one present and a
/// no-op: requests answer NDIS_STATUS_NOT_SUPPORTED (OID requests
/// NDIS_STATUS_INVALID_OID), completions and notifications do nothing.
#[must_use]
pub fn cm_handlers() -> NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {
    NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS,
            NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1,
            NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1,
        ),
        Reserved: 0,
        CmCreateVcHandler: Some(noop::cm_create_vc),
        CmDeleteVcHandler: Some(noop::cm_delete_vc),
        CmOpenAfHandler: Some(noop::cm_open_af),
        CmCloseAfHandler: Some(noop::cm_close_af),
        CmRegisterSapHandler: Some(noop::cm_reg_sap),
        CmDeregisterSapHandler: Some(noop::cm_dereg_sap),
        CmMakeCallHandler: Some(noop::cm_make_call),
        CmCloseCallHandler: Some(noop::cm_close_call),
        CmIncomingCallCompleteHandler: Some(noop::cm_incoming_complete),
        CmAddPartyHandler: Some(noop::cm_add_party),
        CmDropPartyHandler: Some(noop::cm_drop_party),
        CmActivateVcCompleteHandler: Some(noop::cm_activate_complete),
        CmDeactivateVcCompleteHandler: Some(noop::cm_deactivate_complete),
        CmModifyCallQoSHandler: Some(noop::cm_modify_qos),
        CmOidRequestHandler: Some(noop::cm_oid),
        CmOidRequestCompleteHandler: Some(noop::cm_oid_complete),
        CmNotifyCloseAfCompleteHandler: Some(noop::cm_notify_close_af_complete),
    }
}

/// The registration attributes (revision 1) of an internal adapter with
/// `context` as its MiniportAdapterContext, the given AttributeFlags and no
/// check-for-hang timer.
#[must_use]
pub fn registration_attributes(context: NDIS_HANDLE, flags: ULONG) -> NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
        ),
        MiniportAdapterContext: context,
        AttributeFlags: flags,
        CheckForHangTimeInSeconds: 0,
        InterfaceType: NdisInterfaceInternal,
    }
}

/// The general attributes (revision 2) of a connected, full-duplex CoWAN
/// point-to-point adapter: MTU and lookahead 1500, 1 Mb/s both ways, no MAC
/// address, no OID list, no power management or receive scaling.
#[must_use]
pub fn general_attributes() -> NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
        ),
        Flags: 0,
        MediaType: NdisMediumCoWan,
        PhysicalMediumType: 0,
        MtuSize: 1500,
        MaxXmitLinkSpeed: 1_000_000,
        XmitLinkSpeed: 1_000_000,
        MaxRcvLinkSpeed: 1_000_000,
        RcvLinkSpeed: 1_000_000,
        MediaConnectState: MediaConnectStateConnected,
        MediaDuplexState: MediaDuplexStateFull,
        LookaheadSize: 1500,
        PowerManagementCapabilities: null_mut(),
        MacOptions: 0,
        SupportedPacketFilters: 0,
        MaxMulticastListSize: 0,
        MacAddressLength: 0,
        PermanentMacAddress: [0; 32],
        CurrentMacAddress: [0; 32],
        RecvScaleCapabilities: null_mut(),
        AccessType: NET_IF_ACCESS_POINT_TO_POINT,
        DirectionType: NET_IF_DIRECTION_SENDRECEIVE,
        ConnectionType: NET_IF_CONNECTION_DEDICATED,
        IfType: IF_TYPE_OTHER,
        IfConnectorPresent: FALSE,
        SupportedStatistics: 0,
        SupportedPauseFunctions: 0,
        DataBackFillSize: 0,
        ContextBackFillSize: 0,
        SupportedOidList: null_mut(),
        SupportedOidListLength: 0,
        AutoNegotiationFlags: 0,
        PowerManagementCapabilitiesEx: null_mut(),
    }
}

/// MiniportSetOptions's work for a CoNDIS MCM: hands NDIS the CoNDIS
/// miniport characteristics `co`, then, if NDIS took them, the call-manager
/// optional handlers `cm`. Returns the first status that is not
/// NDIS_STATUS_SUCCESS, or NDIS_STATUS_SUCCESS.
///
/// # Safety
/// `driver` is the NdisMiniportDriverHandle NDIS passed to the caller's
/// MiniportSetOptions, and this runs inside it (IRQL = PASSIVE_LEVEL).
pub unsafe fn set_co_and_cm_handlers(
    driver: NDIS_HANDLE,
    mut co: NDIS_MINIPORT_CO_CHARACTERISTICS,
    mut cm: NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS,
) -> NDIS_STATUS {
    // SAFETY: the driver handle inside MiniportSetOptions (precondition); the
    // header-first block lives across the call.
    let status = unsafe { NdisSetOptionalHandlers(driver, (&raw mut co).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        return status;
    }
    // SAFETY: the same driver handle, still inside MiniportSetOptions at
    // PASSIVE_LEVEL (precondition); `cm`, the call-manager block, is
    // header-first and lives in this frame across the call.
    unsafe { NdisSetOptionalHandlers(driver, (&raw mut cm).cast()) }
}

/// The no-op handlers the blocks above point to. Private: a driver that
/// needs a handler of its own writes it and overwrites the field.
#[rustfmt::skip]
mod noop {
    use ndis_sys::*;

    ndis_fn! {
        pub unsafe fn pause(_c: NDIS_HANDLE, _p: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_SUCCESS }
        pub unsafe fn restart(_c: NDIS_HANDLE, _p: PNDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_SUCCESS }
        pub unsafe fn send(_c: NDIS_HANDLE, _n: PNET_BUFFER_LIST, _p: NDIS_PORT_NUMBER, _f: ULONG) {}
        pub unsafe fn return_nbls(_c: NDIS_HANDLE, _n: PNET_BUFFER_LIST, _f: ULONG) {}
        pub unsafe fn cancel_send(_c: NDIS_HANDLE, _id: PVOID) {}
        pub unsafe fn pnp(_c: NDIS_HANDLE, _e: PNET_DEVICE_PNP_EVENT) {}
        pub unsafe fn shutdown(_c: NDIS_HANDLE, _a: NDIS_SHUTDOWN_ACTION) {}
        pub unsafe fn cancel_oid(_c: NDIS_HANDLE, _id: PVOID) {}
        pub unsafe fn co_activate(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn co_deactivate(_v: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn co_send(_v: NDIS_HANDLE, _n: PNET_BUFFER_LIST, _f: ULONG) {}
        pub unsafe fn co_oid(_c: NDIS_HANDLE, _v: NDIS_HANDLE, _r: PNDIS_OID_REQUEST) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_create_vc(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _c: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_delete_vc(_v: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_open_af(_b: NDIS_HANDLE, _af: PCO_ADDRESS_FAMILY, _h: NDIS_HANDLE, _c: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_close_af(_a: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_reg_sap(_a: NDIS_HANDLE, _s: PCO_SAP, _h: NDIS_HANDLE, _c: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_dereg_sap(_s: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_make_call(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS, _ph: NDIS_HANDLE, _pc: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_close_call(_v: NDIS_HANDLE, _p: NDIS_HANDLE, _d: PVOID, _s: UINT) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_incoming_complete(_s: NDIS_STATUS, _v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {}
        pub unsafe fn cm_add_party(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS, _ph: NDIS_HANDLE, _pc: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_drop_party(_p: NDIS_HANDLE, _d: PVOID, _s: UINT) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_activate_complete(_s: NDIS_STATUS, _v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {}
        pub unsafe fn cm_deactivate_complete(_s: NDIS_STATUS, _v: NDIS_HANDLE) {}
        pub unsafe fn cm_modify_qos(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
        pub unsafe fn cm_oid(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _p: NDIS_HANDLE, _r: PNDIS_OID_REQUEST) -> NDIS_STATUS { NDIS_STATUS_INVALID_OID }
        pub unsafe fn cm_oid_complete(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _p: NDIS_HANDLE, _r: PNDIS_OID_REQUEST, _s: NDIS_STATUS) {}
        pub unsafe fn cm_notify_close_af_complete(_a: NDIS_HANDLE, _s: NDIS_STATUS) {}
    }
}
