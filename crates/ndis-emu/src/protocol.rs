//! A protocol (CoNDIS client) driver's registration with NDIS, as NDIS
//! checks it: its characteristics (NdisRegisterProtocolDriver), the CoNDIS
//! blocks it registers in ProtocolSetOptions (NdisSetOptionalHandlers: the
//! CO protocol characteristics and the client's optional handlers) and its
//! deregistration (NdisDeregisterProtocolDriver): rules `proto.*`.
//!
//! The protocol-side twin of `crate::registration` (a miniport's
//! registration). Each function is a DDI's body after its shim
//! (`crate::ffi::protocol`, and `crate::ffi::exports` for
//! NdisSetOptionalHandlers) has read the raw blocks into values: it checks
//! the rules and records the registration in the world
//! (`crate::world::ProtocolRec`). It also owns the binding's rules: NDIS
//! runs a bind (`begin_op`, ProtocolBindAdapterEx), in which the protocol
//! opens the adapter (`open_adapter`, NdisOpenAdapterEx), and an unbind, in
//! which it closes it (`close_adapter`, NdisCloseAdapterEx); either may
//! pend and be completed (`complete_op`, NdisComplete(Un)BindAdapterEx).
//! `crate::lifecycle` calls the driver between these steps. What it must
//! not do: call into the driver or read C memory. Address families and the
//! client's `NdisCl*`/`NdisCo*` requests are not emulated yet.

use ndis_sys::*;

use crate::condis::{AfState, Answer, ClientId, ClientKind, ClientRec, DriverClient, SapState};
use crate::world::{BindOp, BindOpKind, BindingRec, HandleKind, ProtocolRec, World};

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
    PROTO_OPEN_IN_BIND, "proto.open-in-bind", false, "nf-ndis-ndisopenadapterex [D]", "proto_open_in_bind_fires_from_driver_entry",
        "NdisOpenAdapterEx is called in the context of ProtocolBindAdapterEx, with the BindContext NDIS passed to it, while that bind is in progress (\"NDIS fails any attempt to call NdisOpenAdapterEx outside the context of ProtocolBindAdapterEx\").";
    PROTO_COMPLETE_ONLY_PENDED, "proto.complete-only-pended", true, "nf-ndis-ndiscompletebindadapterex, nf-ndis-ndiscompleteunbindadapterex [D]", "proto_complete_only_pended_fires_on_completing_a_synchronous_bind",
        "NdisCompleteBindAdapterEx (NdisCompleteUnbindAdapterEx) completes, once, a bind (unbind) whose ProtocolBindAdapterEx (ProtocolUnbindAdapterEx) returned NDIS_STATUS_PENDING.";
    PROTO_OP_COMPLETES, "proto.op-completes", false, "nc-ndis-protocol_bind_adapter_ex, nc-ndis-protocol_unbind_adapter_ex [D]", "proto_op_completes_fires_on_a_bind_never_completed",
        "A bind or unbind whose handler returned NDIS_STATUS_PENDING is completed (NdisCompleteBindAdapterEx, NdisCompleteUnbindAdapterEx) once the driver's deferred work has run.";
    PROTO_UNBIND_CLOSES, "proto.unbind-closes", false, "nc-ndis-protocol_unbind_adapter_ex [D]", "proto_unbind_closes_fires_when_unbind_keeps_the_binding",
        "By the time an unbind completes, the protocol has closed its binding with NdisCloseAdapterEx (\"ProtocolUnbindAdapterEx must call the NdisCloseAdapterEx function\").";
    PROTO_AF_AFTER_NOTIFY, "proto.af-after-notify", false, "nf-ndis-ndisclopenaddressfamilyex [D]", "proto_af_after_notify_fires_on_an_af_never_offered",
        "NdisClOpenAddressFamilyEx opens an AF NDIS offered on that binding through ProtocolCoAfRegisterNotify (\"A CoNDIS client calls NdisClOpenAddressFamilyEx from its ProtocolCoAfRegisterNotify function\").";
    PROTO_CLOSE_AF_EMPTY, "proto.close-af-empty", true, "nf-ndis-ndisclcloseaddressfamily [D]", "proto_close_af_empty_fires_on_closing_an_af_with_a_sap",
        "A driver client calls NdisClCloseAddressFamily after it deregistered its SAPs on that AF (\"after it closes all the client's open VCs on the binding with calls to NdisClCloseCall and/or NdisClDeregisterSap\").";
    PROTO_CLOSE_ADAPTER_AFTER_AFS, "proto.close-adapter-after-afs", true, "nf-ndis-ndisclcloseaddressfamily [D]", "proto_close_adapter_after_afs_fires_on_closing_with_an_af_open",
        "NdisCloseAdapterEx comes after the client closed (or began closing) every AF it opened on that binding (\"a client should release all the resources it allocated for connection-oriented communications through the miniport driver before its ProtocolUnbindAdapterEx function calls NdisCloseAdapterEx\").";
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
    driver_context: usize,
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
        driver_context,
        bind: chars.BindAdapterHandlerEx,
        unbind: chars.UnbindAdapterHandlerEx,
        co: None,
        client: None,
        deregistered: false,
        op: None,
        binding: None,
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

/// NDIS begins a bind or an unbind of the registered protocol: the context
/// handle it passes the handler, the handler, and the second argument
/// (ProtocolBindAdapterEx: the driver context; ProtocolUnbindAdapterEx: the
/// binding context). None when there is nothing to bind (no live protocol,
/// no adapter, a bind already in progress or done) or to unbind (no
/// binding).
pub(crate) fn begin_op(w: &mut World, kind: BindOpKind) -> Option<(usize, usize, OpHandler)> {
    let p = w.protocol.filter(|p| !p.deregistered && p.op.is_none())?;
    let (handler, second) = match kind {
        BindOpKind::Bind => {
            let adapter_up = w.adapter.as_ref().is_some_and(|a| !a.halted && !a.halting);
            if p.binding.is_some() || !adapter_up {
                return None;
            }
            (OpHandler::Bind(p.bind?), p.driver_context)
        }
        BindOpKind::Unbind => (OpHandler::Unbind(p.unbind?), p.binding?.context),
    };
    let (hkind, what) = match kind {
        BindOpKind::Bind => (HandleKind::BindContext, "BindContext of ProtocolBindAdapterEx"),
        BindOpKind::Unbind => (HandleKind::UnbindContext, "UnbindContext of ProtocolUnbindAdapterEx"),
    };
    let h = w.new_handle(hkind, what);
    if let Some(p) = w.protocol.as_mut() {
        p.op = Some(BindOp {
            kind,
            handle: h,
            returned_pending: false,
            completed: None,
        });
    }
    Some((h, second, handler))
}

/// The handler NDIS calls for a bind or an unbind.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OpHandler {
    Bind(PROTOCOL_BIND_ADAPTER_EX),
    Unbind(PROTOCOL_UNBIND_ADAPTER_EX),
}

/// The bind or unbind handler returned `status`: true if it pended (the
/// operation goes on until NdisComplete(Un)BindAdapterEx, which may already
/// have come); otherwise the operation is over and its context handle dead
/// (and a completion it already got was one too many).
pub(crate) fn handler_returned(w: &mut World, status: NDIS_STATUS) -> bool {
    let Some(op) = w.protocol.and_then(|p| p.op) else {
        return false;
    };
    if status == NDIS_STATUS_PENDING {
        if let Some(o) = w.protocol.as_mut().and_then(|p| p.op.as_mut()) {
            o.returned_pending = true;
        }
        return true;
    }
    if op.completed.is_some() {
        let handler = match op.kind {
            BindOpKind::Bind => "ProtocolBindAdapterEx",
            BindOpKind::Unbind => "ProtocolUnbindAdapterEx",
        };
        w.violate(
            PROTO_COMPLETE_ONLY_PENDED,
            handler,
            format!(
                "completed the operation, then returned {} rather than NDIS_STATUS_PENDING",
                crate::trace::Status(status)
            ),
            &[op.handle],
        );
    }
    w.kill(
        op.handle,
        &format!("the handler returned {}", crate::trace::Status(status)),
    );
    end_op(w, op.kind, status);
    false
}

/// NdisCompleteBindAdapterEx (`kind` Bind) or NdisCompleteUnbindAdapterEx
/// on context handle `h`. NdisCompleteBindAdapterEx's page: a protocol
/// driver calls it "to complete a binding operation for which the driver's
/// ProtocolBindAdapterEx function returned NDIS_STATUS_PENDING". Once the
/// handler returned something else, or after a first completion, it breaks
/// `proto.complete-only-pended`.
pub(crate) fn complete_op(w: &mut World, kind: BindOpKind, h: usize, status: NDIS_STATUS, call: &'static str) {
    let op = w
        .protocol
        .and_then(|p| p.op)
        .filter(|o| o.kind == kind && o.handle == h);
    let known = w
        .handles
        .get(&h)
        .is_some_and(|r| matches!(r.kind, HandleKind::BindContext | HandleKind::UnbindContext));
    match op {
        Some(o) if o.completed.is_none() => {
            if let Some(o) = w.protocol.as_mut().and_then(|p| p.op.as_mut()) {
                o.completed = Some(status);
            }
            w.note(h, format!("{call} {}", crate::trace::Status(status)));
        }
        Some(_) => w.violate(PROTO_COMPLETE_ONLY_PENDED, call, "completed a second time", &[h]),
        None if known => w.violate(
            PROTO_COMPLETE_ONLY_PENDED,
            call,
            format!(
                "{h:#x}: that operation is over (its handler did not return NDIS_STATUS_PENDING, or it was completed)"
            ),
            &[h],
        ),
        None => {
            let _ = w.check_handle(
                h,
                match kind {
                    BindOpKind::Bind => HandleKind::BindContext,
                    BindOpKind::Unbind => HandleKind::UnbindContext,
                },
                call,
            );
        }
    }
}

/// After a pended bind or unbind and the driver's deferred work: its
/// status, if it was completed; if not, `proto.op-completes` (the bind page:
/// "The protocol driver must call the NdisCompleteBindAdapterEx function
/// when the operation is complete"; the unbind page likewise for
/// NdisCompleteUnbindAdapterEx).
pub(crate) fn finish_pended(w: &mut World) -> Option<NDIS_STATUS> {
    let op = w.protocol.and_then(|p| p.op)?;
    match op.completed {
        Some(status) => {
            w.kill(op.handle, "completed");
            end_op(w, op.kind, status);
            Some(status)
        }
        None => {
            let call = match op.kind {
                BindOpKind::Bind => "ProtocolBindAdapterEx",
                BindOpKind::Unbind => "ProtocolUnbindAdapterEx",
            };
            w.violate(
                PROTO_OP_COMPLETES,
                call,
                "returned NDIS_STATUS_PENDING and never completed the operation",
                &[op.handle],
            );
            w.kill(op.handle, "never completed");
            end_op(w, op.kind, NDIS_STATUS_FAILURE);
            None
        }
    }
}

/// The operation ended with `status`: a failed bind leaves no binding (a
/// binding it opened is NDIS's to tear down: here, dropped), an unbind must
/// have closed its binding.
fn end_op(w: &mut World, kind: BindOpKind, status: NDIS_STATUS) {
    let binding = w.protocol.and_then(|p| p.binding);
    if let Some(p) = w.protocol.as_mut() {
        p.op = None;
    }
    match kind {
        BindOpKind::Bind if status != NDIS_STATUS_SUCCESS => {
            if let Some(b) = binding {
                w.kill(b.handle, "the bind failed");
                if let Some(p) = w.protocol.as_mut() {
                    p.binding = None;
                }
            }
        }
        BindOpKind::Bind => {}
        BindOpKind::Unbind => {
            if let Some(b) = binding {
                w.violate(
                    PROTO_UNBIND_CLOSES,
                    "ProtocolUnbindAdapterEx",
                    "the unbind completed with the binding still open (no NdisCloseAdapterEx)",
                    &[b.handle],
                );
                w.kill(b.handle, "unbound without NdisCloseAdapterEx");
                if let Some(p) = w.protocol.as_mut() {
                    p.binding = None;
                }
            }
        }
    }
}

/// NdisOpenAdapterEx by protocol `ph` in bind `bind_h`, offering
/// `mediums`: the binding handle and the index of the adapter's medium, or
/// the status NDIS fails it with (the page: NDIS_STATUS_UNSUPPORTED_MEDIA
/// when "the array specified in the MediumArray member ... did not include a
/// medium type that NDIS or the underlying driver supports";
/// NDIS_STATUS_FAILURE "for reasons other than those").
pub(crate) fn open_adapter(
    w: &mut World,
    ph: usize,
    context: usize,
    bind_h: usize,
    mediums: &[NDIS_MEDIUM],
) -> Result<(usize, u32), NDIS_STATUS> {
    const CALL: &str = "NdisOpenAdapterEx";
    let in_bind = w
        .protocol
        .and_then(|p| p.op)
        .is_some_and(|o| o.kind == BindOpKind::Bind && o.handle == bind_h && o.completed.is_none());
    if !in_bind {
        let at = w.current_handler().unwrap_or("no handler");
        w.violate(
            PROTO_OPEN_IN_BIND,
            CALL,
            format!("BindContext {bind_h:#x} is not a bind in progress (called from {at})"),
            &[bind_h],
        );
        return Err(NDIS_STATUS_FAILURE);
    }
    if !w.check_handle(ph, HandleKind::Protocol, CALL) {
        return Err(NDIS_STATUS_FAILURE);
    }
    if w.protocol.is_some_and(|p| p.binding.is_some()) {
        w.event("=>", CALL, "this bind already opened the adapter");
        return Err(NDIS_STATUS_FAILURE);
    }
    let Some(medium) = w.adapter.as_ref().map(|a| a.medium) else {
        return Err(NDIS_STATUS_ADAPTER_NOT_FOUND);
    };
    let Some(index) = mediums.iter().position(|m| *m == medium) else {
        return Err(NDIS_STATUS_UNSUPPORTED_MEDIA);
    };
    let index = u32::try_from(index).map_err(|_| NDIS_STATUS_FAILURE)?;
    let h = w.new_handle(HandleKind::Binding, "NdisOpenAdapterEx");
    if let Some(p) = w.protocol.as_mut() {
        p.binding = Some(BindingRec {
            handle: h,
            context,
            afs_offered: false,
            client: None,
        });
    }
    Ok((h, index))
}

/// NdisCloseAdapterEx of binding `h`: the handle dies at once (the unbind
/// page: "As soon as ProtocolUnbindAdapterEx calls NdisCloseAdapterEx, the
/// handle ... becomes invalid").
pub(crate) fn close_adapter(w: &mut World, h: usize) -> NDIS_STATUS {
    const CALL: &str = "NdisCloseAdapterEx";
    if !w.check_handle(h, HandleKind::Binding, CALL) {
        return NDIS_STATUS_FAILURE;
    }
    let client = w
        .protocol
        .and_then(|p| p.binding)
        .filter(|b| b.handle == h)
        .and_then(|b| b.client);
    let open: Vec<usize> = w
        .condis
        .afs
        .iter()
        .filter(|(_, a)| Some(a.client) == client && matches!(a.state, AfState::Open | AfState::Opening))
        .map(|(h, _)| *h)
        .collect();
    if !open.is_empty() {
        w.violate(
            PROTO_CLOSE_ADAPTER_AFTER_AFS,
            CALL,
            format!("AF(s) {open:#x?} of this binding are still open"),
            &[h],
        );
    }
    w.kill(h, "closed");
    if let Some(p) = w.protocol.as_mut()
        && p.binding.is_some_and(|b| b.handle == h)
    {
        p.binding = None;
    }
    NDIS_STATUS_SUCCESS
}

/// What NDIS notifies a bound protocol of: its ProtocolCoAfRegisterNotify,
/// the binding context and the AFs the call manager registered on the
/// adapter. None if the protocol is not bound or has no such handler.
pub(crate) fn af_notifications(w: &World) -> Option<(PROTOCOL_CO_AF_REGISTER_NOTIFY, usize, Vec<CO_ADDRESS_FAMILY>)> {
    let p = w.protocol?;
    let notify = p.co?.CoAfRegisterNotifyHandler?;
    let binding = p.binding?;
    let afs = w.adapter.as_ref().map(|a| a.afs.clone()).unwrap_or_default();
    Some((notify, binding.context, afs))
}

/// Whether the protocol is bound to the adapter now.
pub(crate) fn is_bound(w: &World) -> bool {
    w.protocol.is_some_and(|p| p.binding.is_some())
}

/// NDIS is about to offer the bound protocol the adapter's AFs.
pub(crate) fn offering_afs(w: &mut World) {
    if let Some(b) = w.protocol.as_mut().and_then(|p| p.binding.as_mut()) {
        b.afs_offered = true;
    }
}

/// NdisClOpenAddressFamilyEx on binding `bh` for AF `family`, before NDIS
/// routes it like any client's: the binding is live and was offered that AF;
/// the binding's client (made at its first open). The page: "A CoNDIS
/// client calls NdisClOpenAddressFamilyEx from its
/// ProtocolCoAfRegisterNotify function, after the client checks the input
/// buffer that is pointed to by the AddressFamily parameter".
pub(crate) fn admit_open_af(w: &mut World, bh: usize, family: NDIS_AF) -> Result<ClientId, NDIS_STATUS> {
    const CALL: &str = "NdisClOpenAddressFamilyEx";
    if !w.check_handle(bh, HandleKind::Binding, CALL) {
        return Err(NDIS_STATUS_FAILURE);
    }
    let Some((binding, client_handlers)) = w
        .protocol
        .and_then(|p| Some((p.binding.filter(|b| b.handle == bh)?, p.client?)))
    else {
        return Err(NDIS_STATUS_FAILURE);
    };
    let registered = w
        .adapter
        .as_ref()
        .is_some_and(|a| a.afs.iter().any(|x| x.AddressFamily == family));
    if !binding.afs_offered || !registered {
        w.violate(
            PROTO_AF_AFTER_NOTIFY,
            CALL,
            format!("AF {family:#x} was never offered on binding {bh:#x}"),
            &[bh],
        );
        return Err(NDIS_STATUS_FAILURE);
    }
    if let Some(c) = binding.client {
        return Ok(c);
    }
    w.condis.clients.push(ClientRec {
        name: format!("protocol driver (binding {bh:#x})"),
        kind: ClientKind::Driver(DriverClient {
            binding: bh,
            handlers: client_handlers,
        }),
        answer: Answer::Sync,
        notify_close_answer: Answer::Sync,
        incoming_call_status: NDIS_STATUS_SUCCESS,
        create_vc_status: NDIS_STATUS_SUCCESS,
        inbox: Vec::new(),
        received: Vec::new(),
        send_results: Vec::new(),
        // A driver reacts in its own handlers, not through the scripted
        // clients' reactions.
        reacts_inside: false,
    });
    let c = w.condis.clients.len() - 1;
    if let Some(b) = w.protocol.as_mut().and_then(|p| p.binding.as_mut()) {
        b.client = Some(c);
    }
    Ok(c)
}

/// A driver client's request on AF, SAP or VC handle `h` (`call`): the handle
/// is of that kind and belongs to a driver client (a scripted client's
/// object, or any other handle, breaks `handle.valid`).
pub(crate) fn admit_driver_object(w: &mut World, h: usize, kind: HandleKind, call: &'static str) -> bool {
    if !w.check_handle(h, kind, call) {
        return false;
    }
    let af = match kind {
        HandleKind::Sap => w.condis.saps.get(&h).map(|s| s.af),
        HandleKind::Vc => w.condis.vcs.get(&h).map(|v| v.af),
        _ => Some(h),
    };
    let driver = af
        .and_then(|a| w.condis.afs.get(&a))
        .and_then(|a| w.condis.clients.get(a.client))
        .is_some_and(|c| matches!(c.kind, ClientKind::Driver(_)));
    if !driver {
        w.violate(
            crate::rules::HANDLE_VALID,
            call,
            format!("{h:#x} is a {kind:?} handle of another client"),
            &[h],
        );
    }
    driver
}

/// A driver client's SAP `h` was admitted: its ProtocolSapContext and
/// CO_SAP address, for ProtocolClRegisterSapComplete.
pub(crate) fn sap_registered(w: &mut World, h: usize, context: usize, sap: usize) {
    if let Some(s) = w.condis.saps.get_mut(&h) {
        s.client_context = context;
        s.client_sap = sap;
    }
}

/// A driver client's NdisClCloseAddressFamily of `af`: it deregistered its
/// SAPs on it first (`proto.close-af-empty`).
pub(crate) fn check_close_af(w: &mut World, af: usize) {
    let saps: Vec<usize> = w
        .condis
        .saps
        .iter()
        .filter(|(_, s)| s.af == af && matches!(s.state, SapState::Registered | SapState::Registering))
        .map(|(h, _)| *h)
        .collect();
    if !saps.is_empty() {
        w.violate(
            PROTO_CLOSE_AF_EMPTY,
            "NdisClCloseAddressFamily",
            format!("SAP(s) {saps:#x?} are still registered on AF {af:#x}"),
            &[af],
        );
    }
}

/// A driver client's NdisCoCreateVc on binding `bh` and AF `af`: the
/// binding is its own and live, and the AF is a driver client's.
pub(crate) fn admit_create_vc(w: &mut World, bh: usize, af: usize) -> bool {
    const CALL: &str = "NdisCoCreateVc";
    if !w.check_handle(bh, HandleKind::Binding, CALL) {
        return false;
    }
    admit_driver_object(w, af, HandleKind::Af, CALL)
}

/// A driver client's VC `h` was created: its ProtocolVcContext.
pub(crate) fn vc_created(w: &mut World, h: usize, context: usize) {
    if let Some(v) = w.condis.vcs.get_mut(&h) {
        v.client_context = context;
    }
}

/// NdisCmNotifyCloseAddressFamily on AF `h`: true if a driver client
/// opened it. NDIS would call that driver's ProtocolClNotifyCloseAf, which
/// ndis-emu does not deliver yet, so the run fails loudly
/// (`emu.unimplemented-ddi`) rather than let a scripted client's teardown
/// answer for the driver; the notification then fails as if the AF were
/// already closing.
pub(crate) fn notify_close_unrouted(w: &mut World, h: usize) -> bool {
    let driver = w
        .condis
        .afs
        .get(&h)
        .and_then(|a| w.condis.clients.get(a.client))
        .is_some_and(|c| matches!(c.kind, ClientKind::Driver(_)));
    if driver {
        w.violate(
            crate::rules::UNIMPLEMENTED_DDI,
            "NdisCmNotifyCloseAddressFamily",
            format!("AF {h:#x} is a driver client's: its ProtocolClNotifyCloseAf is not delivered by ndis-emu yet"),
            &[h],
        );
    }
    driver
}
