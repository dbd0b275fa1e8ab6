//! DriverEntry, MiniportSetOptions and MiniportDriverUnload: registration
//! with NDIS (contract §1.1–§1.2, §1.4).

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use ndis_sys::*;

use super::trace::{ERROR, INFO};
use super::{adapter, adapter_events, af_sap, call, co, oid, party, qos, vc};
use crate::config;

/// The NdisMiniportDriverHandle, needed by MiniportDriverUnload (which NDIS
/// gives only the DRIVER_OBJECT). Written once by NDIS inside
/// NdisMRegisterMiniportDriver (before it calls MiniportSetOptions) and
/// cleared at unload.
static DRIVER_HANDLE: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// The NdisMiniportDriverHandle, or NULL before registration and after
/// unload: the handle the kernel image's allocator (`ffi::alloc`) passes to
/// NdisAllocateMemoryWithTagPriority.
#[cfg(all(windows, not(feature = "wdk")))]
pub(crate) fn driver_handle() -> NDIS_HANDLE {
    DRIVER_HANDLE.load(Ordering::Acquire)
}

/// The miniport driver characteristics: revision 2 (NDIS 6.1+), 152 bytes.
fn driver_characteristics() -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: config::NDIS_MAJOR_VERSION,
        MinorNdisVersion: config::NDIS_MINOR_VERSION,
        MajorDriverVersion: config::DRIVER_MAJOR_VERSION,
        MinorDriverVersion: config::DRIVER_MINOR_VERSION,
        Flags: 0,
        SetOptionsHandler: Some(set_options),
        InitializeHandlerEx: Some(adapter::initialize),
        HaltHandlerEx: Some(adapter::halt),
        UnloadHandler: Some(unload),
        PauseHandler: Some(adapter::pause),
        RestartHandler: Some(adapter::restart),
        // CoNDIS OIDs arrive through CoOidRequestHandler (contract §1.1 (6)).
        OidRequestHandler: None,
        // Required even for CoNDIS (contract §1.1 (3)).
        SendNetBufferListsHandler: Some(adapter_events::send_net_buffer_lists),
        ReturnNetBufferListsHandler: Some(adapter_events::return_net_buffer_lists),
        CancelSendHandler: Some(adapter_events::cancel_send),
        CheckForHangHandlerEx: None,
        ResetHandlerEx: None,
        DevicePnPEventNotifyHandler: Some(adapter_events::device_pnp_event_notify),
        ShutdownHandlerEx: Some(adapter_events::shutdown),
        CancelOidRequestHandler: Some(adapter_events::cancel_oid_request),
        // Both or neither (contract §1.1 (4)): neither.
        DirectOidRequestHandler: None,
        CancelDirectOidRequestHandler: None,
        SynchronousOidRequestHandler: None,
    }
}

/// The CoNDIS miniport handlers (contract §1.2 (a)). CoCreateVc and
/// CoDeleteVc stay NULL for an MCM: NDIS calls the call manager's
/// ProtocolCoCreateVc/ProtocolCoDeleteVc instead.
fn co_characteristics() -> NDIS_MINIPORT_CO_CHARACTERISTICS {
    NDIS_MINIPORT_CO_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_MINIPORT_CHARACTERISTICS,
            NDIS_MINIPORT_CO_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_MINIPORT_CO_CHARACTERISTICS_REVISION_1,
        ),
        Flags: 0,
        CoCreateVcHandler: None,
        CoDeleteVcHandler: None,
        CoActivateVcHandler: Some(co::activate_vc),
        CoDeactivateVcHandler: Some(co::deactivate_vc),
        CoSendNetBufferListsHandler: Some(co::send_net_buffer_lists),
        CoOidRequestHandler: Some(co::oid_request),
    }
}

/// The call-manager handlers (contract §1.2 (b)): every member non-NULL.
fn call_manager_handlers() -> NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {
    NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS,
            NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1,
            NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1,
        ),
        Reserved: 0,
        CmCreateVcHandler: Some(vc::create_vc),
        CmDeleteVcHandler: Some(vc::delete_vc),
        CmOpenAfHandler: Some(af_sap::open_af),
        CmCloseAfHandler: Some(af_sap::close_af),
        CmRegisterSapHandler: Some(af_sap::register_sap),
        CmDeregisterSapHandler: Some(af_sap::deregister_sap),
        CmMakeCallHandler: Some(call::make_call),
        CmCloseCallHandler: Some(call::close_call),
        CmIncomingCallCompleteHandler: Some(call::incoming_call_complete),
        CmAddPartyHandler: Some(party::add_party),
        CmDropPartyHandler: Some(party::drop_party),
        CmActivateVcCompleteHandler: Some(call::activate_vc_complete),
        CmDeactivateVcCompleteHandler: Some(call::deactivate_vc_complete),
        CmModifyCallQoSHandler: Some(qos::modify_call_qos),
        CmOidRequestHandler: Some(oid::oid_request),
        CmOidRequestCompleteHandler: Some(oid::oid_request_complete),
        CmNotifyCloseAfCompleteHandler: Some(af_sap::notify_close_af_complete),
    }
}

ndis_fn! {
    #[unsafe(no_mangle)]
    pub unsafe fn DriverEntry(
        driver_object: PDRIVER_OBJECT,
        registry_path: PUNICODE_STRING,
    ) -> NTSTATUS => driver_entry;
}

/// DriverEntry: registers covmini as an NDIS 6.30 miniport driver.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL.
///
/// # Safety
/// Called by the kernel (or ndis-emu) with the driver's DRIVER_OBJECT and
/// registry path, which are passed to NDIS unchanged.
unsafe fn driver_entry(driver_object: PDRIVER_OBJECT, registry_path: PUNICODE_STRING) -> NTSTATUS {
    // The level until an adapter's InitializeEx reads its registry value
    // (a fresh image starts there anyway; the host build runs DriverEntry
    // once per emulator, in one process).
    super::trace::set_level(super::trace::DEFAULT_LEVEL);
    // The ETW provider first, so registration itself can be traced.
    super::etw::register();
    let mut chars = driver_characteristics();
    let mut handle: NDIS_HANDLE = null_mut();
    // SAFETY: the characteristics and the handle slot live on this stack
    // frame for the whole call; NDIS copies the characteristics. The
    // objects from the kernel are passed through unchanged; PASSIVE_LEVEL.
    let status = unsafe {
        NdisMRegisterMiniportDriver(
            driver_object,
            registry_path,
            null_mut(),
            &raw mut chars,
            &raw mut handle,
        )
    };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, "NdisMRegisterMiniportDriver failed: {:#010x}", status);
        // No unload follows a failed DriverEntry.
        super::etw::unregister();
        return status;
    }
    DRIVER_HANDLE.store(handle, Ordering::Release);
    STATUS_SUCCESS
}

ndis_fn! {
    unsafe fn set_options(driver_handle: NDIS_HANDLE, _driver_context: NDIS_HANDLE) -> NDIS_STATUS => set_options_impl;
}

/// MiniportSetOptions: registers the CoNDIS miniport handlers and the
/// call-manager handlers. NDIS fails registration with this status if it
/// is not SUCCESS.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL.
unsafe fn set_options_impl(driver_handle: NDIS_HANDLE, _driver_context: NDIS_HANDLE) -> NDIS_STATUS {
    // NDIS wrote *NdisMiniportDriverHandle before calling us (contract
    // §1.1 (5)); keep it for unload even if DriverEntry never returns.
    DRIVER_HANDLE.store(driver_handle, Ordering::Release);
    let mut co = co_characteristics();
    // SAFETY: `co` starts with its NDIS_OBJECT_HEADER (repr(C)), lives for
    // the call, and NDIS copies it; driver handle from NDIS; PASSIVE_LEVEL.
    let status = unsafe { NdisSetOptionalHandlers(driver_handle, (&raw mut co).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, "NdisSetOptionalHandlers(CO miniport) failed: {:#010x}", status);
        return status;
    }
    let mut cm = call_manager_handlers();
    // SAFETY: `cm` starts with its NDIS_OBJECT_HEADER (repr(C)), lives on
    // this stack for the call, and NDIS copies it; the same driver handle
    // NDIS passed to this MiniportSetOptions; PASSIVE_LEVEL (see # IRQL).
    let status = unsafe { NdisSetOptionalHandlers(driver_handle, (&raw mut cm).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, "NdisSetOptionalHandlers(call manager) failed: {:#010x}", status);
    }
    status
}

ndis_fn! {
    unsafe fn unload(_driver_object: PDRIVER_OBJECT) => unload_impl;
}

/// MiniportDriverUnload: deregisters the miniport driver and the ETW
/// provider. Every adapter has been halted by now.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL.
unsafe fn unload_impl(_driver_object: PDRIVER_OBJECT) {
    let handle = DRIVER_HANDLE.swap(null_mut(), Ordering::AcqRel);
    trace!(INFO, "Unload");
    if handle.is_null() {
        trace!(ERROR, "Unload without a driver handle: nothing to deregister");
    } else {
        // SAFETY: the handle NDIS gave at registration, used exactly once
        // (swapped out above); PASSIVE_LEVEL.
        unsafe { NdisMDeregisterMiniportDriver(handle) };
    }
    // Last: NDIS may call no handler of covmini's from here on.
    super::etw::unregister();
}
