//! A miniport driver's registration with NDIS, as NDIS checks it: its
//! characteristics (NdisMRegisterMiniportDriver), the optional handlers it
//! registers in MiniportSetOptions (NdisSetOptionalHandlers: the CO
//! miniport and call-manager blocks), its adapter's attributes
//! (NdisMSetMiniportAttributes) and the call manager's address families
//! (NdisMCmRegisterAddressFamilyEx): rules `reg.*`, `opt.*` and `init.*`
//! (declared in [`crate::rules`], contract §1.1–§1.3).
//!
//! Each function is a DDI's body after its shim (`crate::ffi::exports`)
//! has read the raw blocks into values: it checks the rules and records
//! the registration in the world. A protocol driver's registration
//! (NdisRegisterProtocolDriver and its characteristics) belongs beside
//! these. What it must not do: call into the driver or read C memory.

use ndis_sys::*;

use crate::rules;
use crate::world::{DriverRec, HandleKind, InitStep, World};

/// NDIS versions a miniport may register (contract §1.1 (2)): those
/// Windows 10 and 11 accept.
const SUPPORTED_VERSIONS: &[(u8, u8)] = &[
    (6, 0),
    (6, 1),
    (6, 20),
    (6, 30),
    (6, 40),
    (6, 50),
    (6, 51),
    (6, 52),
    (6, 60),
    (6, 70),
    (6, 80),
    (6, 81),
    (6, 82),
    (6, 83),
    (6, 84),
    (6, 85),
    (6, 86),
    (6, 87),
];

/// Checks the characteristics as real NDIS does (§1.1 (2)–(4)) and as the
/// contract requires (SetOptions). Returns the failure status, if any.
fn check_characteristics(
    w: &mut World,
    header: NDIS_OBJECT_HEADER,
    c: &NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
) -> Option<NDIS_STATUS> {
    const CALL: &str = "NdisMRegisterMiniportDriver";
    let version = (c.MajorNdisVersion, c.MinorNdisVersion);
    if !SUPPORTED_VERSIONS.contains(&version) {
        w.violate(
            rules::REG_CHARACTERISTICS_HEADER,
            CALL,
            format!("unknown NDIS version {}.{}", version.0, version.1),
            &[],
        );
        return Some(NDIS_STATUS_BAD_VERSION);
    }
    let size = usize::from(header.Size);
    let (need_rev, need_size) = match version {
        (6, 0) => (0, NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1),
        (6, m) if m >= 80 => (
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3,
        ),
        _ => (
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
    };
    let type_ok = version == (6, 0) || header.Type == NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS;
    if !type_ok || header.Revision < need_rev || size < need_size {
        w.violate(
            rules::REG_CHARACTERISTICS_HEADER,
            CALL,
            format!(
                "NDIS {}.{} needs type {:#x}, revision >= {need_rev}, size >= {need_size}; got type {:#x}, revision {}, size {size}",
                version.0, version.1, NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, header.Type, header.Revision
            ),
            &[],
        );
        return Some(NDIS_STATUS_BAD_CHARACTERISTICS);
    }
    let required: [(&str, bool); 11] = [
        ("InitializeHandlerEx", c.InitializeHandlerEx.is_some()),
        ("HaltHandlerEx", c.HaltHandlerEx.is_some()),
        ("UnloadHandler", c.UnloadHandler.is_some() || c.Flags & 0x10 != 0),
        ("PauseHandler", c.PauseHandler.is_some()),
        ("RestartHandler", c.RestartHandler.is_some()),
        ("SendNetBufferListsHandler", c.SendNetBufferListsHandler.is_some()),
        ("ReturnNetBufferListsHandler", c.ReturnNetBufferListsHandler.is_some()),
        ("CancelSendHandler", c.CancelSendHandler.is_some()),
        ("DevicePnPEventNotifyHandler", c.DevicePnPEventNotifyHandler.is_some()),
        ("ShutdownHandlerEx", c.ShutdownHandlerEx.is_some()),
        ("CancelOidRequestHandler", c.CancelOidRequestHandler.is_some()),
    ];
    let missing: Vec<&str> = required.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        w.violate(
            rules::REG_REQUIRED_HANDLERS,
            CALL,
            format!("NULL handler(s): {}", missing.join(", ")),
            &[],
        );
        return Some(NDIS_STATUS_BAD_CHARACTERISTICS);
    }
    if version != (6, 0) && c.DirectOidRequestHandler.is_some() != c.CancelDirectOidRequestHandler.is_some() {
        w.violate(
            rules::REG_DIRECT_OID_PAIR,
            CALL,
            "only one of DirectOidRequestHandler / CancelDirectOidRequestHandler is set",
            &[],
        );
        return Some(NDIS_STATUS_BAD_CHARACTERISTICS);
    }
    if c.SetOptionsHandler.is_none() {
        w.violate(
            rules::REG_SET_OPTIONS_REQUIRED,
            CALL,
            "SetOptionsHandler is NULL: no CoNDIS handler can be registered",
            &[],
        );
        return Some(NDIS_STATUS_BAD_CHARACTERISTICS);
    }
    None
}

/// §1.2 (b): the CM's ProtocolCoOidRequest must not be the miniport's
/// CoOidRequest (under /OPT:ICF two identical bodies become one address).
fn check_oid_distinct(w: &mut World, h: usize) {
    let Some(d) = w.driver else { return };
    let co = d.co.and_then(|c| c.CoOidRequestHandler).map(|f| f as usize);
    let cm = d.cm.and_then(|c| c.CmOidRequestHandler).map(|f| f as usize);
    if let (Some(co), Some(cm)) = (co, cm)
        && co == cm
    {
        w.violate(
            rules::OPT_CM_OID_DISTINCT,
            "NdisSetOptionalHandlers",
            format!("CmOidRequestHandler and CoOidRequestHandler are both {co:#x}"),
            &[h],
        );
    }
}

/// Checks an adapter handle for the attribute/AF calls of initialization.
pub(crate) fn adapter_call_ok(w: &mut World, h: usize, call: &'static str) -> bool {
    // A halted adapter's handle is dead; say why rather than just "invalid".
    if w.adapter.as_ref().is_some_and(|a| a.handle == h && a.halted) {
        w.violate(rules::NOTHING_AFTER_HALT, call, "the adapter was already halted", &[h]);
        return false;
    }
    if !w.check_handle(h, HandleKind::Adapter, call) {
        return false;
    }
    if w.current_handler() != Some("MiniportInitializeEx") {
        let at = w.current_handler().unwrap_or("no handler");
        w.violate(
            rules::INIT_ATTRIBUTE_ORDER,
            call,
            format!("called from {at}, not inside MiniportInitializeEx"),
            &[h],
        );
    }
    true
}

/// NdisMRegisterMiniportDriver with NULL characteristics or a NULL handle
/// slot.
pub(crate) fn null_characteristics(w: &mut World) {
    w.violate(
        rules::REG_CHARACTERISTICS_HEADER,
        "NdisMRegisterMiniportDriver",
        "NULL characteristics or handle pointer",
        &[],
    );
}

/// NdisMRegisterMiniportDriver with these characteristics (`header`: as
/// the block's first 4 bytes say): checked, then the driver is registered;
/// its handle, or the failure status.
pub(crate) fn register_miniport(
    w: &mut World,
    header: NDIS_OBJECT_HEADER,
    chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    driver_context: usize,
) -> Result<usize, NDIS_STATUS> {
    const CALL: &str = "NdisMRegisterMiniportDriver";
    if let Some(status) = check_characteristics(w, header, &chars) {
        return Err(status);
    }
    // Injected failure. The NdisMRegisterMiniportDriver page:
    // "NDIS_STATUS_RESOURCES: NdisMRegisterMiniportDriver failed due
    // to insufficient resources." Nothing is registered and
    // MiniportSetOptions is not called.
    if crate::faults::call_fails(w, CALL) {
        return Err(NDIS_STATUS_RESOURCES);
    }
    let h = w.new_handle(HandleKind::Driver, "NdisMRegisterMiniportDriver");
    w.driver = Some(DriverRec {
        handle: h,
        chars,
        co: None,
        cm: None,
        driver_context,
        deregistered: false,
    });
    Ok(h)
}

/// MiniportSetOptions of driver `handle` returned `status`: the status of
/// the registration (a miniport needs an OID handler, its own or a CO one).
pub(crate) fn set_options_returned(
    w: &mut World,
    handle: usize,
    chars: &NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    status: NDIS_STATUS,
) -> NDIS_STATUS {
    const CALL: &str = "NdisMRegisterMiniportDriver";
    if status != NDIS_STATUS_SUCCESS {
        w.note(
            handle,
            format!(
                "MiniportSetOptions failed {}: deregistered",
                crate::trace::Status(status)
            ),
        );
        return status;
    }
    let has_co_oid = w
        .driver
        .and_then(|d| d.co)
        .and_then(|co| co.CoOidRequestHandler)
        .is_some();
    if chars.OidRequestHandler.is_none() && !has_co_oid {
        w.violate(
            rules::REG_OID_HANDLER,
            CALL,
            "neither OidRequestHandler nor a CoOidRequestHandler after MiniportSetOptions",
            &[handle],
        );
        return NDIS_STATUS_BAD_CHARACTERISTICS;
    }
    NDIS_STATUS_SUCCESS
}

/// The registration of driver `handle` failed after it was recorded: it is
/// gone.
pub(crate) fn registration_failed(w: &mut World, handle: usize) {
    if let Some(r) = w.handles.get_mut(&handle) {
        r.alive = false;
    }
    w.driver = None;
}

/// NdisMDeregisterMiniportDriver of `h`.
pub(crate) fn deregister_miniport(w: &mut World, h: usize) {
    if w.check_handle(h, HandleKind::Driver, "NdisMDeregisterMiniportDriver") {
        w.note(h, "deregistered");
        if let Some(r) = w.handles.get_mut(&h) {
            r.alive = false;
        }
        if let Some(d) = w.driver.as_mut() {
            d.deregistered = true;
        }
    }
}

/// NdisSetOptionalHandlers on driver handle `h`: false (NOT_SUPPORTED) for
/// a handle that is not the driver's; outside MiniportSetOptions it breaks
/// `opt.only-in-set-options`.
pub(crate) fn admit_optional_handlers(w: &mut World, h: usize) -> bool {
    const CALL: &str = "NdisSetOptionalHandlers";
    if !w.check_handle(h, HandleKind::Driver, CALL) {
        return false;
    }
    if w.current_handler() != Some("MiniportSetOptions") {
        let at = w.current_handler().unwrap_or("no handler");
        w.violate(
            rules::OPT_ONLY_IN_SET_OPTIONS,
            CALL,
            format!("called from {at}, not from MiniportSetOptions"),
            &[h],
        );
    }
    true
}

/// NdisSetOptionalHandlers with a block that is NULL (`None`) or of an
/// object type that is neither a CO miniport nor a call-manager block.
pub(crate) fn unknown_optional_block(w: &mut World, h: usize, object_type: Option<UCHAR>) {
    const CALL: &str = "NdisSetOptionalHandlers";
    match object_type {
        None => w.violate(rules::OPT_UNKNOWN_TYPE, CALL, "NULL block", &[h]),
        Some(other) => w.violate(
            rules::OPT_UNKNOWN_TYPE,
            CALL,
            format!("object type {other:#x} is not a CO miniport (0x91) or call-manager (0xA5) block"),
            &[h],
        ),
    }
}

/// The CO miniport characteristics (all 56 bytes, as real NDIS copies
/// them) registered for driver `h`.
pub(crate) fn co_characteristics(w: &mut World, h: usize, co: NDIS_MINIPORT_CO_CHARACTERISTICS) {
    let mut missing = Vec::new();
    if co.CoSendNetBufferListsHandler.is_none() {
        missing.push("CoSendNetBufferListsHandler");
    }
    if co.CoOidRequestHandler.is_none() {
        missing.push("CoOidRequestHandler");
    }
    if !missing.is_empty() {
        w.violate(
            rules::OPT_CO_REQUIRED_HANDLERS,
            "NdisSetOptionalHandlers",
            format!("NULL {}", missing.join(", ")),
            &[h],
        );
    }
    w.note(h, "CO miniport characteristics registered");
    if let Some(d) = w.driver.as_mut() {
        d.co = Some(co);
    }
    check_oid_distinct(w, h);
}

/// Whether a call-manager block's header (revision, size) is one NDIS
/// takes; if not, `opt.cm-header` (NDIS fails it with
/// STATUS_INVALID_PARAMETER).
pub(crate) fn cm_header_ok(w: &mut World, h: usize, header: NDIS_OBJECT_HEADER) -> bool {
    if header.Revision == 0 || usize::from(header.Size) < NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1 {
        w.violate(
            rules::OPT_CM_HEADER,
            "NdisSetOptionalHandlers",
            format!(
                "revision {} size {}; needs revision >= 1 and size >= {}",
                header.Revision, header.Size, NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1
            ),
            &[h],
        );
        return false;
    }
    true
}

/// The call manager's handlers (all 144 bytes, as real NDIS copies them)
/// registered for driver `h`: every one must be set.
pub(crate) fn cm_handlers(w: &mut World, h: usize, cm: NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS) {
    let handlers: [(&str, bool); 17] = [
        ("CmCreateVcHandler", cm.CmCreateVcHandler.is_some()),
        ("CmDeleteVcHandler", cm.CmDeleteVcHandler.is_some()),
        ("CmOpenAfHandler", cm.CmOpenAfHandler.is_some()),
        ("CmCloseAfHandler", cm.CmCloseAfHandler.is_some()),
        ("CmRegisterSapHandler", cm.CmRegisterSapHandler.is_some()),
        ("CmDeregisterSapHandler", cm.CmDeregisterSapHandler.is_some()),
        ("CmMakeCallHandler", cm.CmMakeCallHandler.is_some()),
        ("CmCloseCallHandler", cm.CmCloseCallHandler.is_some()),
        (
            "CmIncomingCallCompleteHandler",
            cm.CmIncomingCallCompleteHandler.is_some(),
        ),
        ("CmAddPartyHandler", cm.CmAddPartyHandler.is_some()),
        ("CmDropPartyHandler", cm.CmDropPartyHandler.is_some()),
        ("CmActivateVcCompleteHandler", cm.CmActivateVcCompleteHandler.is_some()),
        (
            "CmDeactivateVcCompleteHandler",
            cm.CmDeactivateVcCompleteHandler.is_some(),
        ),
        ("CmModifyCallQoSHandler", cm.CmModifyCallQoSHandler.is_some()),
        ("CmOidRequestHandler", cm.CmOidRequestHandler.is_some()),
        ("CmOidRequestCompleteHandler", cm.CmOidRequestCompleteHandler.is_some()),
        (
            "CmNotifyCloseAfCompleteHandler",
            cm.CmNotifyCloseAfCompleteHandler.is_some(),
        ),
    ];
    let missing: Vec<&str> = handlers.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        w.violate(
            rules::OPT_CM_ALL_HANDLERS,
            "NdisSetOptionalHandlers",
            format!("NULL {}", missing.join(", ")),
            &[h],
        );
    }
    w.note(h, "call-manager handlers registered");
    if let Some(d) = w.driver.as_mut() {
        d.cm = Some(cm);
    }
    check_oid_distinct(w, h);
}

/// NdisMSetMiniportAttributes with NULL attributes.
pub(crate) fn null_attributes(w: &mut World, h: usize) {
    w.violate(
        rules::INIT_ATTRIBUTE_ORDER,
        "NdisMSetMiniportAttributes",
        "NULL attributes",
        &[h],
    );
}

/// The adapter's registration attributes: first, once, CoNDIS, with a
/// context.
pub(crate) fn registration_attributes(w: &mut World, h: usize, reg: NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES) {
    const CALL: &str = "NdisMSetMiniportAttributes";
    let step = w.adapter.as_ref().map(|a| a.step);
    if step != Some(InitStep::Started) {
        w.violate(
            rules::INIT_ATTRIBUTE_ORDER,
            CALL,
            format!("registration attributes set at step {step:?}; they come first, once"),
            &[h],
        );
    }
    if reg.AttributeFlags & NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS != 0 {
        w.violate(
            rules::INIT_NOT_CO_NDIS,
            CALL,
            format!("AttributeFlags {:#x} include NOT_CO_NDIS", reg.AttributeFlags),
            &[h],
        );
    }
    if reg.MiniportAdapterContext.is_null() {
        w.violate(
            rules::INIT_ADAPTER_CONTEXT,
            CALL,
            "MiniportAdapterContext is NULL",
            &[h],
        );
    }
    w.note(
        h,
        format!(
            "registration attributes: context {:p}, flags {:#x}",
            reg.MiniportAdapterContext, reg.AttributeFlags
        ),
    );
    if let Some(a) = w.adapter.as_mut() {
        a.context = reg.MiniportAdapterContext as usize;
        a.attribute_flags = reg.AttributeFlags;
        a.step = a.step.max(InitStep::RegistrationAttributes);
    }
}

/// The size of a general-attributes block whose header NDIS takes (a
/// known revision, at least its size); None (`init.general-attributes`)
/// otherwise.
pub(crate) fn general_attributes_size(w: &mut World, h: usize, header: NDIS_OBJECT_HEADER) -> Option<usize> {
    let size = usize::from(header.Size);
    let need = match header.Revision {
        NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1 => {
            Some(NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1)
        }
        NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2 => {
            Some(NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2)
        }
        _ => None,
    };
    if need.is_none_or(|need| size < need) {
        w.violate(
            rules::INIT_GENERAL_ATTRIBUTES,
            "NdisMSetMiniportAttributes",
            format!("general attributes revision {} size {size}", header.Revision),
            &[h],
        );
        return None;
    }
    Some(size)
}

/// The adapter's general attributes: after the registration attributes,
/// with a CoNDIS medium.
pub(crate) fn general_attributes(
    w: &mut World,
    h: usize,
    general: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
) -> NDIS_STATUS {
    const CALL: &str = "NdisMSetMiniportAttributes";
    let step = w.adapter.as_ref().map(|a| a.step);
    if step != Some(InitStep::RegistrationAttributes) {
        w.violate(
            rules::INIT_ATTRIBUTE_ORDER,
            CALL,
            format!("general attributes set at step {step:?}; registration attributes come first"),
            &[h],
        );
    }
    if general.MediaType != NdisMediumCoWan && general.MediaType != NdisMediumAtm {
        w.violate(
            rules::INIT_GENERAL_ATTRIBUTES,
            CALL,
            format!(
                "MediaType {} is not a CoNDIS medium (CoWan 12, Atm 8)",
                general.MediaType
            ),
            &[h],
        );
        return NDIS_STATUS_UNSUPPORTED_MEDIA;
    }
    w.note(
        h,
        format!(
            "general attributes: medium {}, MTU {}",
            general.MediaType, general.MtuSize
        ),
    );
    if let Some(a) = w.adapter.as_mut() {
        a.medium = general.MediaType;
        a.step = a.step.max(InitStep::GeneralAttributes);
    }
    NDIS_STATUS_SUCCESS
}

/// NdisMCmRegisterAddressFamilyEx on adapter `h` of `af` (None: NULL): the
/// call manager registered its handlers, the general attributes came
/// first, and the AF is new.
pub(crate) fn register_af(w: &mut World, h: usize, af: Option<CO_ADDRESS_FAMILY>) -> NDIS_STATUS {
    const CALL: &str = "NdisMCmRegisterAddressFamilyEx";
    let Some(af) = af else {
        w.violate(rules::INIT_AF_REGISTRATION, CALL, "NULL address family", &[h]);
        return NDIS_STATUS_FAILURE;
    };
    if w.driver.and_then(|d| d.cm).is_none() {
        w.violate(
            rules::INIT_AF_REGISTRATION,
            CALL,
            "no call-manager handlers were registered in MiniportSetOptions",
            &[h],
        );
        return NDIS_STATUS_BAD_CHARACTERISTICS;
    }
    let step = w.adapter.as_ref().map(|a| a.step);
    if step < Some(InitStep::GeneralAttributes) {
        w.violate(
            rules::INIT_ATTRIBUTE_ORDER,
            CALL,
            format!("AF registered at step {step:?}, before the general attributes"),
            &[h],
        );
    }
    // Injected failure: real NDIS returns NDIS_STATUS_RESOURCES when
    // it cannot allocate the AF block (contract §1.3 [B]: "Out of
    // memory → RESOURCES"). Nothing is registered.
    if crate::faults::call_fails(w, CALL) {
        return NDIS_STATUS_RESOURCES;
    }
    let duplicate = w.adapter.as_ref().is_some_and(|a| a.afs.contains(&af));
    if duplicate {
        w.violate(
            rules::INIT_AF_REGISTRATION,
            CALL,
            format!(
                "AF {:#x} v{}.{} is already registered",
                af.AddressFamily, af.MajorVersion, af.MinorVersion
            ),
            &[h],
        );
        return NDIS_STATUS_FAILURE;
    }
    w.note(
        h,
        format!(
            "AF {:#x} v{}.{} registered",
            af.AddressFamily, af.MajorVersion, af.MinorVersion
        ),
    );
    if let Some(a) = w.adapter.as_mut() {
        a.afs.push(af);
        a.step = a.step.max(InitStep::AddressFamily);
    }
    NDIS_STATUS_SUCCESS
}
