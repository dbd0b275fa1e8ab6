//! A protocol (CoNDIS client) driver's registration with NDIS, as NDIS
//! checks it: its characteristics (NdisRegisterProtocolDriver), the CoNDIS
//! blocks it registers in ProtocolSetOptions (NdisSetOptionalHandlers: the
//! CO protocol characteristics and the client's optional handlers) and its
//! deregistration (NdisDeregisterProtocolDriver): rules `proto.*`.
//!
//! The protocol-side twin of [`crate::registration`] (a miniport's
//! registration). Each function is a DDI's body after its shim
//! (`crate::ffi::protocol`, and `crate::ffi::exports` for
//! NdisSetOptionalHandlers) has read the raw blocks into values: it checks
//! the rules and records the registration in the world
//! ([`crate::world::ProtocolRec`]). What it must not do: call into the
//! driver or read C memory. Binding, address families and the client's
//! `NdisCl*`/`NdisCo*` requests are not emulated yet.

use ndis_sys::*;

use crate::world::{HandleKind, ProtocolRec, World};

crate::define_rules! { PROTOCOL:
    PROTO_CHARACTERISTICS, "proto.characteristics", false, "nf-ndis-ndisregisterprotocoldriver [D]", "proto_characteristics_fires_on_ndis_5",
        "NdisRegisterProtocolDriver gets MajorNdisVersion 6 and a characteristics header of type NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS (0x95) with revision >= 1 and size >= NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 (120 on x64).";
    PROTO_REQUIRED_HANDLERS, "proto.required-handlers", false, "nc-ndis-protocol_bind_adapter_ex, nc-ndis-protocol_unbind_adapter_ex [D]", "proto_required_handlers_fires_without_unbind",
        "A protocol driver's BindAdapterHandlerEx and UnbindAdapterHandlerEx are non-NULL (each page: \"is a required function\").";
    PROTO_SET_OPTIONS_REQUIRED, "proto.set-options-required", true, "nf-ndis-ndisregisterprotocoldriver [D]", "proto_set_options_required_fires_without_set_options",
        "A CoNDIS client registers ProtocolSetOptions: its CO characteristics and client handlers can only be registered from inside it.";
    PROTO_ONLY_IN_SET_OPTIONS, "proto.only-in-set-options", false, "nf-ndis-ndisregisterprotocoldriver [D]", "proto_only_in_set_options_fires_from_driver_entry",
        "A protocol driver calls NdisSetOptionalHandlers only inside ProtocolSetOptions, with the NdisProtocolHandle NDIS passed to it.";
    PROTO_CL_ALL_HANDLERS, "proto.cl-all-handlers", true, "ns-ndis-_ndis_co_client_optional_handlers [D]", "proto_cl_all_handlers_fires_on_a_null_incoming_call",
        "Every Cl* handler of a CoNDIS client's NDIS_CO_CLIENT_OPTIONAL_HANDLERS is non-NULL, even for features it does not use (which return NDIS_STATUS_NOT_SUPPORTED).";
    PROTO_DEREGISTER_OUTSIDE_NDIS, "proto.deregister-outside-ndis", false, "nf-ndis-ndisderegisterprotocoldriver [D]", "proto_deregister_outside_ndis_fires_from_set_options",
        "NdisDeregisterProtocolDriver is called only from DriverEntry or the driver's Unload routine, never from an entry point NDIS calls (\"could cause a deadlock\").";
    PROTO_UNLOAD_DEREGISTERS, "proto.unload-deregisters", true, "nf-ndis-ndisderegisterprotocoldriver [D]", "proto_unload_deregisters_fires_when_unload_forgets",
        "A protocol driver's Unload routine leaves it deregistered (NdisDeregisterProtocolDriver with the handle NdisRegisterProtocolDriver gave).";
}

/// NdisRegisterProtocolDriver: the shim's name for reports.
const REGISTER: &str = "NdisRegisterProtocolDriver";
/// NdisSetOptionalHandlers: the shim's name for reports.
const SET_OPTIONAL: &str = "NdisSetOptionalHandlers";

/// NdisRegisterProtocolDriver with NULL characteristics or a NULL handle
/// slot (the page: NDIS_STATUS_BAD_CHARACTERISTICS, "Some members of the
/// structure at the ProtocolCharacteristics parameter are invalid").
pub(crate) fn null_characteristics(w: &mut World) {
    w.violate(
        PROTO_CHARACTERISTICS,
        REGISTER,
        "NULL characteristics or handle pointer",
        &[],
    );
}

/// Checks the characteristics (`header`: as the block's first 4 bytes say).
/// The NdisRegisterProtocolDriver page: NDIS_STATUS_BAD_VERSION "The version
/// specified in the MajorNdisVersion member of the structure at
/// ProtocolCharacteristics is invalid", NDIS_STATUS_BAD_CHARACTERISTICS
/// "Some members of the structure at the ProtocolCharacteristics parameter
/// are invalid". Returns the failure status, if any.
fn check_characteristics(
    w: &mut World,
    header: NDIS_OBJECT_HEADER,
    c: &NDIS_PROTOCOL_DRIVER_CHARACTERISTICS,
) -> Option<NDIS_STATUS> {
    if c.MajorNdisVersion != 6 {
        w.violate(
            PROTO_CHARACTERISTICS,
            REGISTER,
            format!(
                "MajorNdisVersion {}: an NDIS 6 protocol driver registers 6",
                c.MajorNdisVersion
            ),
            &[],
        );
        return Some(NDIS_STATUS_BAD_VERSION);
    }
    let size = usize::from(header.Size);
    if header.Type != NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS
        || header.Revision < NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1
        || size < NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1
    {
        w.violate(
            PROTO_CHARACTERISTICS,
            REGISTER,
            format!(
                "needs type {:#x}, revision >= 1, size >= {}; got type {:#x}, revision {}, size {size}",
                NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
                NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
                header.Type,
                header.Revision
            ),
            &[],
        );
        return Some(NDIS_STATUS_BAD_CHARACTERISTICS);
    }
    let required: [(&str, bool); 2] = [
        ("BindAdapterHandlerEx", c.BindAdapterHandlerEx.is_some()),
        ("UnbindAdapterHandlerEx", c.UnbindAdapterHandlerEx.is_some()),
    ];
    let missing: Vec<&str> = required.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        w.violate(
            PROTO_REQUIRED_HANDLERS,
            REGISTER,
            format!("NULL handler(s): {}", missing.join(", ")),
            &[],
        );
        return Some(NDIS_STATUS_BAD_CHARACTERISTICS);
    }
    if c.SetOptionsHandler.is_none() {
        w.violate(
            PROTO_SET_OPTIONS_REQUIRED,
            REGISTER,
            "SetOptionsHandler is NULL: no CoNDIS client handler can be registered",
            &[],
        );
        return Some(NDIS_STATUS_BAD_CHARACTERISTICS);
    }
    None
}

/// NdisRegisterProtocolDriver with these characteristics: checked, then the
/// protocol is registered; its handle, or the failure status.
pub(crate) fn register_protocol(
    w: &mut World,
    header: NDIS_OBJECT_HEADER,
    chars: &NDIS_PROTOCOL_DRIVER_CHARACTERISTICS,
) -> Result<usize, NDIS_STATUS> {
    if let Some(status) = check_characteristics(w, header, chars) {
        return Err(status);
    }
    // Injected failure. The page: "NDIS_STATUS_RESOURCES:
    // NdisRegisterProtocolDriver failed due to insufficient resources."
    if crate::faults::call_fails(w, REGISTER) {
        return Err(NDIS_STATUS_RESOURCES);
    }
    let h = w.new_handle(HandleKind::Protocol, REGISTER);
    w.protocol = Some(ProtocolRec {
        handle: h,
        co: None,
        client: None,
        deregistered: false,
    });
    Ok(h)
}

/// ProtocolSetOptions of protocol `h` returned `status`: a failure undoes
/// the registration (the page: NDIS calls ProtocolSetOptions "within the
/// context of NdisRegisterProtocolDriver", whose status it becomes).
pub(crate) fn set_options_returned(w: &mut World, h: usize, status: NDIS_STATUS) -> NDIS_STATUS {
    if status != NDIS_STATUS_SUCCESS {
        w.kill(
            h,
            &format!(
                "ProtocolSetOptions failed {}: deregistered",
                crate::trace::Status(status)
            ),
        );
        w.protocol = None;
    }
    status
}

/// NdisDeregisterProtocolDriver of `h`. Its page: "Protocol drivers must
/// not call NdisDeregisterProtocolDriver from any entry point that NDIS
/// calls. Calling NdisDeregisterProtocolDriver from such an entry point
/// could cause a deadlock." DriverEntry (after an error) and Unload are
/// the kernel's, not NDIS's.
pub(crate) fn deregister_protocol(w: &mut World, h: usize) {
    const CALL: &str = "NdisDeregisterProtocolDriver";
    if let Some(at) = w.current_handler()
        && at != "DriverEntry"
        && at != "Unload"
    {
        w.violate(
            PROTO_DEREGISTER_OUTSIDE_NDIS,
            CALL,
            format!("called from {at}, an entry point NDIS calls"),
            &[h],
        );
    }
    if w.check_handle(h, HandleKind::Protocol, CALL) {
        w.kill(h, "deregistered");
        if let Some(p) = w.protocol.as_mut() {
            p.deregistered = true;
        }
    }
}

/// Whether `h` names a protocol driver (so NdisSetOptionalHandlers takes a
/// protocol's blocks rather than a miniport's).
pub(crate) fn is_protocol_handle(w: &World, h: usize) -> bool {
    w.handles.get(&h).is_some_and(|r| r.kind == HandleKind::Protocol)
}

/// NdisSetOptionalHandlers on protocol handle `h`: false (NOT_SUPPORTED)
/// for a dead handle; outside ProtocolSetOptions it breaks
/// `proto.only-in-set-options`.
pub(crate) fn admit_optional_handlers(w: &mut World, h: usize) -> bool {
    if !w.check_handle(h, HandleKind::Protocol, SET_OPTIONAL) {
        return false;
    }
    if w.current_handler() != Some("ProtocolSetOptions") {
        let at = w.current_handler().unwrap_or("no handler");
        w.violate(
            PROTO_ONLY_IN_SET_OPTIONS,
            SET_OPTIONAL,
            format!("called from {at}, not from ProtocolSetOptions"),
            &[h],
        );
    }
    true
}

/// The CO protocol characteristics (0x90) registered for protocol `h`.
pub(crate) fn co_characteristics(w: &mut World, h: usize, co: NDIS_PROTOCOL_CO_CHARACTERISTICS) {
    w.note(h, "CO protocol characteristics registered");
    if let Some(p) = w.protocol.as_mut() {
        p.co = Some(co);
    }
}

/// The client's optional handlers (0xA6) registered for protocol `h`: every
/// one must be set. NDIS_CO_CLIENT_OPTIONAL_HANDLERS' page: "even if the
/// call manager does not support incoming calls, outgoing calls, or
/// point-to-multipoint connections ... its placeholder ProtocolXxx
/// functions should return NDIS_STATUS_NOT_SUPPORTED".
pub(crate) fn client_handlers(w: &mut World, h: usize, cl: NDIS_CO_CLIENT_OPTIONAL_HANDLERS) {
    let handlers: [(&str, bool); 19] = [
        ("ClCreateVcHandler", cl.ClCreateVcHandler.is_some()),
        ("ClDeleteVcHandler", cl.ClDeleteVcHandler.is_some()),
        ("ClOidRequestHandler", cl.ClOidRequestHandler.is_some()),
        ("ClOidRequestCompleteHandler", cl.ClOidRequestCompleteHandler.is_some()),
        ("ClOpenAfCompleteHandlerEx", cl.ClOpenAfCompleteHandlerEx.is_some()),
        ("ClCloseAfCompleteHandler", cl.ClCloseAfCompleteHandler.is_some()),
        (
            "ClRegisterSapCompleteHandler",
            cl.ClRegisterSapCompleteHandler.is_some(),
        ),
        (
            "ClDeregisterSapCompleteHandler",
            cl.ClDeregisterSapCompleteHandler.is_some(),
        ),
        ("ClMakeCallCompleteHandler", cl.ClMakeCallCompleteHandler.is_some()),
        (
            "ClModifyCallQoSCompleteHandler",
            cl.ClModifyCallQoSCompleteHandler.is_some(),
        ),
        ("ClCloseCallCompleteHandler", cl.ClCloseCallCompleteHandler.is_some()),
        ("ClAddPartyCompleteHandler", cl.ClAddPartyCompleteHandler.is_some()),
        ("ClDropPartyCompleteHandler", cl.ClDropPartyCompleteHandler.is_some()),
        ("ClIncomingCallHandler", cl.ClIncomingCallHandler.is_some()),
        (
            "ClIncomingCallQoSChangeHandler",
            cl.ClIncomingCallQoSChangeHandler.is_some(),
        ),
        ("ClIncomingCloseCallHandler", cl.ClIncomingCloseCallHandler.is_some()),
        ("ClIncomingDropPartyHandler", cl.ClIncomingDropPartyHandler.is_some()),
        ("ClCallConnectedHandler", cl.ClCallConnectedHandler.is_some()),
        ("ClNotifyCloseAfHandler", cl.ClNotifyCloseAfHandler.is_some()),
    ];
    let missing: Vec<&str> = handlers.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        w.violate(
            PROTO_CL_ALL_HANDLERS,
            SET_OPTIONAL,
            format!("NULL {}", missing.join(", ")),
            &[h],
        );
    }
    w.note(h, "CoNDIS client handlers registered");
    if let Some(p) = w.protocol.as_mut() {
        p.client = Some(cl);
    }
}

/// Whether a protocol registered and completed its CoNDIS client
/// registration (CO characteristics and client handlers) and is still
/// registered.
pub(crate) fn client_registered(w: &World) -> bool {
    w.protocol
        .is_some_and(|p| !p.deregistered && p.co.is_some() && p.client.is_some())
}

/// The protocol's Unload routine returned. The NdisDeregisterProtocolDriver
/// page: "Registered protocol drivers typically call
/// NdisDeregisterProtocolDriver when the driver's Unload routine has been
/// called"; one still registered after it breaks `proto.unload-deregisters`.
pub(crate) fn unloaded(w: &mut World) {
    if let Some(p) = w.protocol
        && !p.deregistered
    {
        w.violate(
            PROTO_UNLOAD_DEREGISTERS,
            "Unload",
            "the protocol driver unloaded without NdisDeregisterProtocolDriver",
            &[p.handle],
        );
    }
}
