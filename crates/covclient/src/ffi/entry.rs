//! DriverEntry, ProtocolSetOptions and the driver's unload routine:
//! registration with NDIS as a CoNDIS client protocol.
//!
//! Sets the NdisProtocolHandle (`super::handle`) from
//! NdisRegisterProtocolDriver until unload. Must not: register anything but covclient's own handlers, or
//! deregister while NDIS may still call one (NDIS unbinds every binding
//! before NdisDeregisterProtocolDriver returns, its page \[D\]).

use core::ptr::null_mut;

use ndis_sys::*;

use super::handle::{protocol_handle, set_protocol_handle};
use super::trace::{ERROR, INFO};
use super::{binding, callbacks, device, incoming, objects, oid, send};
use crate::policy;

/// The protocol name, "covclient" in UTF-16; NDIS keeps a pointer to it
/// only for the registration call, but a static costs nothing.
static NAME: [u16; policy::PROTOCOL_NAME_UTF16.len()] = policy::PROTOCOL_NAME_UTF16;

/// The protocol driver characteristics: revision 2 (NDIS 6.1+), NDIS 6.30.
/// The connectionless handlers are required members (the structure's page
/// marks only ProtocolUninstall, ProtocolStatusEx and
/// ProtocolDirectOidRequestComplete optional); covclient's never see
/// traffic on a CoWAN binding and say so if they do.
fn characteristics() -> NDIS_PROTOCOL_DRIVER_CHARACTERISTICS {
    // CAST: 9 UTF-16 units, far below USHORT::MAX bytes.
    let bytes = (NAME.len() * 2) as USHORT;
    NDIS_PROTOCOL_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
            NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: policy::NDIS_MAJOR_VERSION,
        MinorNdisVersion: policy::NDIS_MINOR_VERSION,
        MajorDriverVersion: policy::DRIVER_MAJOR_VERSION,
        MinorDriverVersion: policy::DRIVER_MINOR_VERSION,
        Flags: 0,
        Name: NDIS_STRING {
            Length: bytes,
            MaximumLength: bytes,
            // NDIS reads the name only.
            Buffer: NAME.as_ptr().cast_mut(),
        },
        SetOptionsHandler: Some(set_options),
        BindAdapterHandlerEx: Some(binding::bind_adapter),
        UnbindAdapterHandlerEx: Some(binding::unbind_adapter),
        OpenAdapterCompleteHandlerEx: Some(binding::open_adapter_complete),
        CloseAdapterCompleteHandlerEx: Some(binding::close_adapter_complete),
        NetPnPEventHandler: Some(binding::net_pnp_event),
        UninstallHandler: None,
        OidRequestCompleteHandler: Some(callbacks::oid_request_complete),
        StatusHandlerEx: Some(callbacks::status_ex),
        ReceiveNetBufferListsHandler: Some(callbacks::receive_net_buffer_lists),
        SendNetBufferListsCompleteHandler: Some(callbacks::send_net_buffer_lists_complete),
        DirectOidRequestCompleteHandler: None,
    }
}

/// The CoNDIS protocol handlers (0x90 block).
fn co_characteristics() -> NDIS_PROTOCOL_CO_CHARACTERISTICS {
    NDIS_PROTOCOL_CO_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_PROTOCOL_CHARACTERISTICS,
            NDIS_PROTOCOL_CO_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_PROTOCOL_CO_CHARACTERISTICS_REVISION_1,
        ),
        Flags: 0,
        CoStatusHandlerEx: Some(callbacks::co_status_ex),
        CoAfRegisterNotifyHandler: Some(binding::af_register_notify),
        CoReceiveNetBufferListsHandler: Some(callbacks::co_receive_net_buffer_lists),
        CoSendNetBufferListsCompleteHandler: Some(callbacks::co_send_net_buffer_lists_complete),
    }
}

/// The CoNDIS client handlers (0xA6 block): every member set, as the
/// structure's page requires.
fn client_handlers() -> NDIS_CO_CLIENT_OPTIONAL_HANDLERS {
    NDIS_CO_CLIENT_OPTIONAL_HANDLERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_CLIENT_OPTIONAL_HANDLERS,
            NDIS_CO_CLIENT_OPTIONAL_HANDLERS_REVISION_1,
            NDIS_SIZEOF_CO_CLIENT_OPTIONAL_HANDLERS_REVISION_1,
        ),
        Reserved: 0,
        ClCreateVcHandler: Some(incoming::create_vc),
        ClDeleteVcHandler: Some(incoming::delete_vc),
        ClOidRequestHandler: Some(callbacks::co_oid_request),
        ClOidRequestCompleteHandler: Some(callbacks::co_oid_request_complete),
        ClOpenAfCompleteHandlerEx: Some(binding::open_af_complete),
        ClCloseAfCompleteHandler: Some(binding::close_af_complete),
        ClRegisterSapCompleteHandler: Some(callbacks::register_sap_complete),
        ClDeregisterSapCompleteHandler: Some(callbacks::deregister_sap_complete),
        ClMakeCallCompleteHandler: Some(callbacks::make_call_complete),
        ClModifyCallQoSCompleteHandler: Some(callbacks::modify_call_qos_complete),
        ClCloseCallCompleteHandler: Some(callbacks::close_call_complete),
        ClAddPartyCompleteHandler: Some(callbacks::add_party_complete),
        ClDropPartyCompleteHandler: Some(callbacks::drop_party_complete),
        ClIncomingCallHandler: Some(incoming::incoming_call),
        ClIncomingCallQoSChangeHandler: Some(callbacks::incoming_call_qos_change),
        ClIncomingCloseCallHandler: Some(callbacks::incoming_close_call),
        ClIncomingDropPartyHandler: Some(callbacks::incoming_drop_party),
        ClCallConnectedHandler: Some(callbacks::call_connected),
        ClNotifyCloseAfHandler: Some(binding::notify_close_af),
    }
}

ndis_fn! {
    #[unsafe(no_mangle)]
    pub unsafe fn DriverEntry(driver_object: PDRIVER_OBJECT, registry_path: PUNICODE_STRING) -> NTSTATUS => driver_entry;
}

/// DriverEntry: registers covclient as an NDIS 6.30 protocol driver, then
/// its control device (`device`), and sets its unload routine. A failed
/// device registration fails the load (the protocol is deregistered).
///
/// # IRQL
/// PASSIVE_LEVEL.
///
/// # Safety
/// Called by the kernel with covclient's DRIVER_OBJECT.
unsafe fn driver_entry(driver_object: PDRIVER_OBJECT, _registry_path: PUNICODE_STRING) -> NTSTATUS {
    // Before the registration: binds can start inside it.
    objects::init();
    oid::init();
    let mut chars = characteristics();
    let mut handle: NDIS_HANDLE = null_mut();
    // SAFETY: the characteristics and the handle slot live on this frame
    // for the call (NDIS copies the characteristics; the name is static);
    // PASSIVE_LEVEL.
    let status = unsafe { NdisRegisterProtocolDriver(null_mut(), &raw mut chars, &raw mut handle) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, c"NdisRegisterProtocolDriver failed");
        set_protocol_handle(null_mut());
        objects::delete();
        oid::delete();
        return status;
    }
    set_protocol_handle(handle);
    send::init(handle);
    if let Err(status) = device::register(handle) {
        // SAFETY: the handle just registered, deregistered once; nothing is
        // bound yet that NDIS would have to unbind; PASSIVE_LEVEL.
        unsafe { NdisDeregisterProtocolDriver(handle) };
        send::delete(handle);
        set_protocol_handle(null_mut());
        objects::delete();
        oid::delete();
        return status;
    }
    let fields = driver_object.cast::<DRIVER_OBJECT_FIELDS>();
    // SAFETY: `driver_object` is the kernel's DRIVER_OBJECT of this driver,
    // whose layout DRIVER_OBJECT_FIELDS asserts; a driver sets DriverUnload
    // in DriverEntry, before anything can unload it.
    unsafe { (*fields).DriverUnload = Some(unload) };
    trace!(INFO, c"registered");
    STATUS_SUCCESS
}

ndis_fn! {
    unsafe fn set_options(driver_handle: NDIS_HANDLE, _driver_context: NDIS_HANDLE) -> NDIS_STATUS => set_options_impl;
}

/// ProtocolSetOptions: registers the CoNDIS protocol handlers, then the
/// client handlers. A failure fails NdisRegisterProtocolDriver with it.
///
/// # IRQL
/// PASSIVE_LEVEL.
unsafe fn set_options_impl(driver_handle: NDIS_HANDLE, _driver_context: NDIS_HANDLE) -> NDIS_STATUS {
    // NDIS calls this inside NdisRegisterProtocolDriver with the handle it
    // is about to return; keep it at once.
    set_protocol_handle(driver_handle);
    let mut co = co_characteristics();
    // SAFETY: `co` starts with its NDIS_OBJECT_HEADER (repr(C)), lives for
    // the call and NDIS copies it; the driver handle NDIS passed; PASSIVE_LEVEL.
    let status = unsafe { NdisSetOptionalHandlers(driver_handle, (&raw mut co).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, c"NdisSetOptionalHandlers(CO protocol) failed");
        return status;
    }
    let mut client = client_handlers();
    // SAFETY: `client` starts with its NDIS_OBJECT_HEADER (repr(C)), lives on
    // this frame for the call and NDIS copies it; the same driver handle;
    // PASSIVE_LEVEL.
    let status = unsafe { NdisSetOptionalHandlers(driver_handle, (&raw mut client).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, c"NdisSetOptionalHandlers(CO client) failed");
    }
    status
}

ndis_fn! {
    unsafe fn unload(driver_object: PDRIVER_OBJECT) => unload_impl;
}

/// DriverUnload: deregisters the control device (no handle to it is open:
/// the I/O manager does not unload a driver whose device is open), then the
/// protocol; NDIS unbinds every binding
/// (ProtocolUnbindAdapterEx) before NdisDeregisterProtocolDriver returns.
///
/// # IRQL
/// PASSIVE_LEVEL.
unsafe fn unload_impl(_driver_object: PDRIVER_OBJECT) {
    device::deregister();
    let handle = protocol_handle();
    if handle.is_null() {
        trace!(ERROR, c"unload without a protocol handle");
        return;
    }
    // SAFETY: the handle NdisRegisterProtocolDriver returned, deregistered
    // once; PASSIVE_LEVEL. The handle stays readable until it returns: the
    // unbinds it runs free their contexts through it.
    unsafe { NdisDeregisterProtocolDriver(handle) };
    send::delete(handle);
    set_protocol_handle(null_mut());
    // Every unbind ran: no context is NDIS's any more.
    objects::delete();
    oid::delete();
    trace!(INFO, c"unloaded");
}
