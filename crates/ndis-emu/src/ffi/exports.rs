//! NDIS and ntoskrnl functions, as ndis-emu implements them.
//!
//! Each states the DDI's IRQL limit (ndis-ddi-irql.txt), what real NDIS does
//! ([B] in the contract) and what the emulator checks beyond that.

use std::alloc::{Layout, alloc_zeroed, dealloc};

use ndis_sys::*;

use super::calls;
use super::zero::read_prefix;
use crate::detail;
use crate::rules;
use crate::trace::tag_str;
use crate::world::{self, Allocation, DriverRec, HandleKind, InitStep};

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
    w: &mut world::World,
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

ddi_fn! {
    /// NdisMRegisterMiniportDriver. PASSIVE_LEVEL.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMRegisterMiniportDriver(
        driver_object: PDRIVER_OBJECT,
        _registry_path: PUNICODE_STRING,
        driver_context: NDIS_HANDLE,
        characteristics: PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
        driver_handle_out: PNDIS_HANDLE,
    ) -> NDIS_STATUS {
        const CALL: &str = "NdisMRegisterMiniportDriver";
        world::with(CALL, |w| w.check_irql(CALL, PASSIVE_LEVEL));
        if driver_object.is_null() {
            world::with(CALL, |w| w.event("=>", CALL, "NULL DriverObject"));
            return NDIS_STATUS_FAILURE;
        }
        if characteristics.is_null() || driver_handle_out.is_null() {
            world::with(CALL, |w| w.violate(rules::REG_CHARACTERISTICS_HEADER, CALL, "NULL characteristics or handle pointer", &[]));
            return NDIS_STATUS_BAD_CHARACTERISTICS;
        }
        // SAFETY: non-null; the header is the first 4 bytes of the block.
        let header = unsafe { read_prefix(characteristics.cast::<NDIS_OBJECT_HEADER>(), 4) };
        // SAFETY: non-null; NDIS reads as many bytes as the header announces.
        let chars = unsafe { read_prefix(characteristics, usize::from(header.Size)) };
        let failed = world::with(CALL, |w| {
            w.event(
                "=>",
                CALL,
                detail!("NDIS {}.{}, characteristics rev {} size {}", chars.MajorNdisVersion, chars.MinorNdisVersion, header.Revision, header.Size),
            );
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
            w.driver = Some(DriverRec { handle: h, chars, co: None, cm: None, driver_context: driver_context as usize, deregistered: false });
            Ok(h)
        });
        let handle = match failed {
            Ok(h) => h,
            Err(status) => return status,
        };
        // NDIS writes the handle before it calls MiniportSetOptions (§1.1 (5)).
        // SAFETY: checked non-null above; the driver passed a handle slot.
        unsafe { driver_handle_out.write(handle as NDIS_HANDLE) };
        let Some(set_options) = chars.SetOptionsHandler else {
            return NDIS_STATUS_BAD_CHARACTERISTICS;
        };
        let status = calls::set_options(set_options, handle, driver_context);
        let status = world::with(CALL, |w| {
            if status != NDIS_STATUS_SUCCESS {
                w.note(handle, format!("MiniportSetOptions failed {}: deregistered", crate::trace::Status(status)));
                return status;
            }
            let has_co_oid = w.driver.and_then(|d| d.co).and_then(|co| co.CoOidRequestHandler).is_some();
            if chars.OidRequestHandler.is_none() && !has_co_oid {
                w.violate(rules::REG_OID_HANDLER, CALL, "neither OidRequestHandler nor a CoOidRequestHandler after MiniportSetOptions", &[handle]);
                return NDIS_STATUS_BAD_CHARACTERISTICS;
            }
            NDIS_STATUS_SUCCESS
        });
        if status != NDIS_STATUS_SUCCESS {
            world::with(CALL, |w| {
                if let Some(r) = w.handles.get_mut(&handle) {
                    r.alive = false;
                }
                w.driver = None;
            });
        }
        status
    }
}

ddi_fn! {
    /// NdisMDeregisterMiniportDriver. PASSIVE_LEVEL.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMDeregisterMiniportDriver(handle: NDIS_HANDLE) {
        const CALL: &str = "NdisMDeregisterMiniportDriver";
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", handle));
            w.check_irql(CALL, PASSIVE_LEVEL);
            let h = handle as usize;
            if w.check_handle(h, HandleKind::Driver, CALL) {
                w.note(h, "deregistered");
                if let Some(r) = w.handles.get_mut(&h) {
                    r.alive = false;
                }
                if let Some(d) = w.driver.as_mut() {
                    d.deregistered = true;
                }
            }
        });
    }
}

ddi_fn! {
    /// NdisSetOptionalHandlers. PASSIVE_LEVEL. Real NDIS: NOT_SUPPORTED for a
    /// wrong handle kind, STATUS_INVALID_PARAMETER for a bad CM header; the CO
    /// miniport block is copied without checks (§1.2) [B].
    #[unsafe(no_mangle)]
    pub unsafe fn NdisSetOptionalHandlers(handle: NDIS_HANDLE, block: PNDIS_DRIVER_OPTIONAL_HANDLERS) -> NDIS_STATUS {
        const CALL: &str = "NdisSetOptionalHandlers";
        let h = handle as usize;
        // SAFETY: read only when non-null; the header is the first 4 bytes of any block.
        let header = (!block.is_null()).then(|| unsafe { read_prefix(block.cast::<NDIS_OBJECT_HEADER>(), 4) });
        let ok = world::with(CALL, |w| {
            let what = match header.map(|hd| hd.Type) {
                Some(NDIS_OBJECT_TYPE_CO_MINIPORT_CHARACTERISTICS) => "CO miniport characteristics (0x91)".to_string(),
                Some(NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS) => "call-manager handlers (0xA5)".to_string(),
                Some(t) => format!("object type {t:#x}"),
                None => "NULL".to_string(),
            };
            w.event("=>", CALL, format!("{handle:p} {what}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            if !w.check_handle(h, HandleKind::Driver, CALL) {
                return false;
            }
            if w.current_handler() != Some("MiniportSetOptions") {
                let at = w.current_handler().unwrap_or("no handler");
                w.violate(rules::OPT_ONLY_IN_SET_OPTIONS, CALL, format!("called from {at}, not from MiniportSetOptions"), &[h]);
            }
            true
        });
        if !ok {
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        let Some(header) = header else {
            world::with(CALL, |w| w.violate(rules::OPT_UNKNOWN_TYPE, CALL, "NULL block", &[h]));
            return STATUS_INVALID_PARAMETER;
        };
        // Injected failure. The NdisSetOptionalHandlers page:
        // "NDIS_STATUS_RESOURCES: NdisSetOptionalHandlers failed due to
        // insufficient resources." Nothing is registered.
        if world::with(CALL, |w| crate::faults::call_fails(w, CALL)) {
            return NDIS_STATUS_RESOURCES;
        }
        match header.Type {
            NDIS_OBJECT_TYPE_CO_MINIPORT_CHARACTERISTICS => {
                // Real NDIS copies all 56 bytes whatever the header says [B].
                // SAFETY: non-null block of this type, which is 56 bytes.
                let co = unsafe { read_prefix(block.cast::<NDIS_MINIPORT_CO_CHARACTERISTICS>(), core::mem::size_of::<NDIS_MINIPORT_CO_CHARACTERISTICS>()) };
                world::with(CALL, |w| {
                    let mut missing = Vec::new();
                    if co.CoSendNetBufferListsHandler.is_none() {
                        missing.push("CoSendNetBufferListsHandler");
                    }
                    if co.CoOidRequestHandler.is_none() {
                        missing.push("CoOidRequestHandler");
                    }
                    if !missing.is_empty() {
                        w.violate(rules::OPT_CO_REQUIRED_HANDLERS, CALL, format!("NULL {}", missing.join(", ")), &[h]);
                    }
                    w.note(h, "CO miniport characteristics registered");
                    if let Some(d) = w.driver.as_mut() {
                        d.co = Some(co);
                    }
                    check_oid_distinct(w, h);
                });
                NDIS_STATUS_SUCCESS
            }
            NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS => {
                if header.Revision == 0 || usize::from(header.Size) < NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1 {
                    world::with(CALL, |w| {
                        w.violate(
                            rules::OPT_CM_HEADER,
                            CALL,
                            format!("revision {} size {}; needs revision >= 1 and size >= {}", header.Revision, header.Size, NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1),
                            &[h],
                        )
                    });
                    return STATUS_INVALID_PARAMETER;
                }
                // Real NDIS copies all 144 bytes [B].
                // SAFETY: non-null block of at least 136 bytes announced; NDIS
                // reads the full 144-byte structure, and so do we.
                let cm = unsafe { read_prefix(block.cast::<NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS>(), core::mem::size_of::<NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS>()) };
                world::with(CALL, |w| {
                    let handlers: [(&str, bool); 17] = [
                        ("CmCreateVcHandler", cm.CmCreateVcHandler.is_some()),
                        ("CmDeleteVcHandler", cm.CmDeleteVcHandler.is_some()),
                        ("CmOpenAfHandler", cm.CmOpenAfHandler.is_some()),
                        ("CmCloseAfHandler", cm.CmCloseAfHandler.is_some()),
                        ("CmRegisterSapHandler", cm.CmRegisterSapHandler.is_some()),
                        ("CmDeregisterSapHandler", cm.CmDeregisterSapHandler.is_some()),
                        ("CmMakeCallHandler", cm.CmMakeCallHandler.is_some()),
                        ("CmCloseCallHandler", cm.CmCloseCallHandler.is_some()),
                        ("CmIncomingCallCompleteHandler", cm.CmIncomingCallCompleteHandler.is_some()),
                        ("CmAddPartyHandler", cm.CmAddPartyHandler.is_some()),
                        ("CmDropPartyHandler", cm.CmDropPartyHandler.is_some()),
                        ("CmActivateVcCompleteHandler", cm.CmActivateVcCompleteHandler.is_some()),
                        ("CmDeactivateVcCompleteHandler", cm.CmDeactivateVcCompleteHandler.is_some()),
                        ("CmModifyCallQoSHandler", cm.CmModifyCallQoSHandler.is_some()),
                        ("CmOidRequestHandler", cm.CmOidRequestHandler.is_some()),
                        ("CmOidRequestCompleteHandler", cm.CmOidRequestCompleteHandler.is_some()),
                        ("CmNotifyCloseAfCompleteHandler", cm.CmNotifyCloseAfCompleteHandler.is_some()),
                    ];
                    let missing: Vec<&str> = handlers.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
                    if !missing.is_empty() {
                        w.violate(rules::OPT_CM_ALL_HANDLERS, CALL, format!("NULL {}", missing.join(", ")), &[h]);
                    }
                    w.note(h, "call-manager handlers registered");
                    if let Some(d) = w.driver.as_mut() {
                        d.cm = Some(cm);
                    }
                    check_oid_distinct(w, h);
                });
                NDIS_STATUS_SUCCESS
            }
            other => {
                world::with(CALL, |w| {
                    w.violate(rules::OPT_UNKNOWN_TYPE, CALL, format!("object type {other:#x} is not a CO miniport (0x91) or call-manager (0xA5) block"), &[h])
                });
                NDIS_STATUS_NOT_SUPPORTED
            }
        }
    }
}

/// §1.2 (b): the CM's ProtocolCoOidRequest must not be the miniport's
/// CoOidRequest (under /OPT:ICF two identical bodies become one address).
fn check_oid_distinct(w: &mut world::World, h: usize) {
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
fn adapter_call_ok(w: &mut world::World, h: usize, call: &'static str) -> bool {
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

ddi_fn! {
    /// NdisMSetMiniportAttributes. PASSIVE_LEVEL. Registration attributes
    /// first, then general attributes (§1.3).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMSetMiniportAttributes(handle: NDIS_HANDLE, attributes: PNDIS_MINIPORT_ADAPTER_ATTRIBUTES) -> NDIS_STATUS {
        const CALL: &str = "NdisMSetMiniportAttributes";
        let h = handle as usize;
        // SAFETY: read only when non-null; the header is the first 4 bytes of the union.
        let header = (!attributes.is_null()).then(|| unsafe { read_prefix(attributes.cast::<NDIS_OBJECT_HEADER>(), 4) });
        let ok = world::with(CALL, |w| {
            let what = match header.map(|hd| hd.Type) {
                Some(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES) => "registration attributes (0x9E)".to_string(),
                Some(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES) => "general attributes (0x9F)".to_string(),
                Some(t) => format!("object type {t:#x}"),
                None => "NULL".to_string(),
            };
            w.event("=>", CALL, format!("{handle:p} {what}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            adapter_call_ok(w, h, CALL)
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        let Some(header) = header else {
            world::with(CALL, |w| w.violate(rules::INIT_ATTRIBUTE_ORDER, CALL, "NULL attributes", &[h]));
            return STATUS_INVALID_PARAMETER;
        };
        // Injected failure. The NdisMSetMiniportAttributes page documents
        // one failure: "NDIS_STATUS_BAD_VERSION: Indicates that NDIS does
        // not support the version that is specified in the Revision member
        // of the structure". Nothing is recorded.
        if world::with(CALL, |w| crate::faults::call_fails(w, CALL)) {
            return NDIS_STATUS_BAD_VERSION;
        }
        match header.Type {
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES => {
                // Real NDIS does no size check here [B]; it reads the fields.
                // SAFETY: non-null registration-attributes block (28 bytes used).
                let reg = unsafe { read_prefix(attributes.cast::<NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES>(), NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1) };
                world::with(CALL, |w| {
                    let step = w.adapter.as_ref().map(|a| a.step);
                    if step != Some(InitStep::Started) {
                        w.violate(rules::INIT_ATTRIBUTE_ORDER, CALL, format!("registration attributes set at step {step:?}; they come first, once"), &[h]);
                    }
                    if reg.AttributeFlags & NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS != 0 {
                        w.violate(rules::INIT_NOT_CO_NDIS, CALL, format!("AttributeFlags {:#x} include NOT_CO_NDIS", reg.AttributeFlags), &[h]);
                    }
                    if reg.MiniportAdapterContext.is_null() {
                        w.violate(rules::INIT_ADAPTER_CONTEXT, CALL, "MiniportAdapterContext is NULL", &[h]);
                    }
                    w.note(h, format!("registration attributes: context {:p}, flags {:#x}", reg.MiniportAdapterContext, reg.AttributeFlags));
                    if let Some(a) = w.adapter.as_mut() {
                        a.context = reg.MiniportAdapterContext as usize;
                        a.attribute_flags = reg.AttributeFlags;
                        a.step = a.step.max(InitStep::RegistrationAttributes);
                    }
                });
                NDIS_STATUS_SUCCESS
            }
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES => {
                let size = usize::from(header.Size);
                let need = match header.Revision {
                    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1 => Some(NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1),
                    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2 => Some(NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2),
                    _ => None,
                };
                if need.is_none_or(|need| size < need) {
                    world::with(CALL, |w| {
                        w.violate(rules::INIT_GENERAL_ATTRIBUTES, CALL, format!("general attributes revision {} size {size}", header.Revision), &[h])
                    });
                    return STATUS_INVALID_PARAMETER;
                }
                // SAFETY: non-null block of at least the revision's size.
                let general = unsafe { read_prefix(attributes.cast::<NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES>(), size) };
                world::with(CALL, |w| {
                    let step = w.adapter.as_ref().map(|a| a.step);
                    if step != Some(InitStep::RegistrationAttributes) {
                        w.violate(rules::INIT_ATTRIBUTE_ORDER, CALL, format!("general attributes set at step {step:?}; registration attributes come first"), &[h]);
                    }
                    if general.MediaType != NdisMediumCoWan && general.MediaType != NdisMediumAtm {
                        w.violate(rules::INIT_GENERAL_ATTRIBUTES, CALL, format!("MediaType {} is not a CoNDIS medium (CoWan 12, Atm 8)", general.MediaType), &[h]);
                        return NDIS_STATUS_UNSUPPORTED_MEDIA;
                    }
                    w.note(h, format!("general attributes: medium {}, MTU {}", general.MediaType, general.MtuSize));
                    if let Some(a) = w.adapter.as_mut() {
                        a.medium = general.MediaType;
                        a.step = a.step.max(InitStep::GeneralAttributes);
                    }
                    NDIS_STATUS_SUCCESS
                })
            }
            _ => STATUS_INVALID_PARAMETER,
        }
    }
}

ddi_fn! {
    /// NdisMCmRegisterAddressFamilyEx. PASSIVE_LEVEL. Real NDIS:
    /// BAD_CHARACTERISTICS without a CM block, FAILURE on a duplicate [B].
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCmRegisterAddressFamilyEx(handle: NDIS_HANDLE, af: PCO_ADDRESS_FAMILY) -> NDIS_STATUS {
        const CALL: &str = "NdisMCmRegisterAddressFamilyEx";
        let h = handle as usize;
        // SAFETY: read only when non-null: a CO_ADDRESS_FAMILY (12 bytes).
        let af_value = (!af.is_null()).then(|| unsafe { read_prefix(af, core::mem::size_of::<CO_ADDRESS_FAMILY>()) });
        let ok = world::with(CALL, |w| {
            let what = af_value.map_or("NULL".to_string(), |a| format!("AF {:#x} v{}.{}", a.AddressFamily, a.MajorVersion, a.MinorVersion));
            w.event("=>", CALL, format!("{handle:p} {what}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            adapter_call_ok(w, h, CALL)
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        let Some(af) = af_value else {
            world::with(CALL, |w| w.violate(rules::INIT_AF_REGISTRATION, CALL, "NULL address family", &[h]));
            return NDIS_STATUS_FAILURE;
        };
        world::with(CALL, |w| {
            if w.driver.and_then(|d| d.cm).is_none() {
                w.violate(rules::INIT_AF_REGISTRATION, CALL, "no call-manager handlers were registered in MiniportSetOptions", &[h]);
                return NDIS_STATUS_BAD_CHARACTERISTICS;
            }
            let step = w.adapter.as_ref().map(|a| a.step);
            if step < Some(InitStep::GeneralAttributes) {
                w.violate(rules::INIT_ATTRIBUTE_ORDER, CALL, format!("AF registered at step {step:?}, before the general attributes"), &[h]);
            }
            // Injected failure: real NDIS returns NDIS_STATUS_RESOURCES when
            // it cannot allocate the AF block (contract §1.3 [B]: "Out of
            // memory → RESOURCES"). Nothing is registered.
            if crate::faults::call_fails(w, CALL) {
                return NDIS_STATUS_RESOURCES;
            }
            let duplicate = w.adapter.as_ref().is_some_and(|a| a.afs.contains(&af));
            if duplicate {
                w.violate(rules::INIT_AF_REGISTRATION, CALL, format!("AF {:#x} v{}.{} is already registered", af.AddressFamily, af.MajorVersion, af.MinorVersion), &[h]);
                return NDIS_STATUS_FAILURE;
            }
            w.note(h, format!("AF {:#x} v{}.{} registered", af.AddressFamily, af.MajorVersion, af.MinorVersion));
            if let Some(a) = w.adapter.as_mut() {
                a.afs.push(af);
                a.step = a.step.max(InitStep::AddressFamily);
            }
            NDIS_STATUS_SUCCESS
        })
    }
}

ddi_fn! {
    /// NdisGetVersion: the NDIS version of the emulated Windows, 6.82
    /// (Windows 10 1809, the oldest build covmini supports). <= DISPATCH_LEVEL.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisGetVersion() -> UINT {
        world::with("NdisGetVersion", |w| w.check_irql("NdisGetVersion", DISPATCH_LEVEL));
        (6 << 16) | 82
    }
}

// --- Registry configuration (crate::config) -------------------------------

ddi_fn! {
    /// NdisOpenConfigurationEx. PASSIVE_LEVEL (its page: "IRQL: PASSIVE_LEVEL").
    /// ndis-emu models the adapter's key only: the NdisHandle must be the
    /// MiniportAdapterHandle (a driver handle, which Windows also accepts,
    /// breaks `handle.valid` here). The header must be
    /// NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT, revision >= 1, size >=
    /// NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1; otherwise, and for a bad
    /// handle, NDIS_STATUS_FAILURE ("if none of the preceding values
    /// applies"). Can be made to fail with NDIS_STATUS_RESOURCES ("failed due
    /// to insufficient resources").
    #[unsafe(no_mangle)]
    pub unsafe fn NdisOpenConfigurationEx(object: PNDIS_CONFIGURATION_OBJECT, handle_out: PNDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisOpenConfigurationEx";
        // SAFETY: read only when non-null; the driver passes a whole object.
        let obj = (!object.is_null()).then(|| unsafe { object.read() });
        let result = world::with(CALL, |w| {
            w.check_irql(CALL, PASSIVE_LEVEL);
            let Some(obj) = obj.filter(|_| !handle_out.is_null()) else {
                w.event("=>", CALL, "NULL object or handle pointer");
                return Err(NDIS_STATUS_FAILURE);
            };
            let h = obj.NdisHandle as usize;
            w.event("=>", CALL, format!("{h:#x}"));
            let header = obj.Header;
            if header.Type != NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT
                || header.Revision < NDIS_CONFIGURATION_OBJECT_REVISION_1
                || usize::from(header.Size) < NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1
            {
                w.note(h, format!("{CALL}: bad header (type {:#x}, revision {}, size {})", header.Type, header.Revision, header.Size));
                return Err(NDIS_STATUS_FAILURE);
            }
            if !w.check_handle(h, HandleKind::Adapter, CALL) {
                return Err(NDIS_STATUS_FAILURE);
            }
            if crate::faults::call_fails(w, CALL) {
                return Err(NDIS_STATUS_RESOURCES);
            }
            let origin = w.current_handler().unwrap_or("no handler").to_string();
            let key = w.new_handle(HandleKind::Config, format!("{CALL} in {origin}"));
            w.config.open.insert(key, crate::config::OpenKey { owner: h, origin, blocks: Vec::new() });
            w.note(h, format!("configuration handle {key:#x} opened"));
            Ok(key)
        });
        match result {
            Ok(key) => {
                // SAFETY: checked non-null above; the driver's handle slot.
                unsafe { handle_out.write(key as NDIS_HANDLE) };
                NDIS_STATUS_SUCCESS
            }
            Err(status) => status,
        }
    }
}

ddi_fn! {
    /// NdisReadConfiguration. PASSIVE_LEVEL (its page). Integer values only
    /// (`NdisParameterInteger`, `NdisParameterHexInteger`; the block it
    /// returns says `NdisParameterInteger` for both, as the page of
    /// NDIS_CONFIGURATION_PARAMETER says); a value that is not set, or any
    /// other type, is NDIS_STATUS_FAILURE ("the requested information could
    /// not be found"). The block stays valid until NdisCloseConfiguration.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisReadConfiguration(
        status: PNDIS_STATUS,
        value_out: *mut PNDIS_CONFIGURATION_PARAMETER,
        handle: NDIS_HANDLE,
        keyword: PNDIS_STRING,
        parameter_type: NDIS_PARAMETER_TYPE,
    ) {
        const CALL: &str = "NdisReadConfiguration";
        let name = (!keyword.is_null()).then(|| {
            // SAFETY: non-null: the driver's NDIS_STRING, alive for the call.
            let k = unsafe { keyword.read() };
            if k.Buffer.is_null() {
                String::new()
            } else {
                // SAFETY: a counted string's Buffer holds Length bytes (the
                // NDIS_STRING contract), Length / 2 UTF-16 units.
                let units = unsafe { core::slice::from_raw_parts(k.Buffer, usize::from(k.Length) / 2) };
                String::from_utf16_lossy(units)
            }
        });
        let h = handle as usize;
        let result = world::with(CALL, |w| {
            w.check_irql(CALL, PASSIVE_LEVEL);
            w.event("=>", CALL, format!("{h:#x} {:?}", name.as_deref().unwrap_or("<NULL>")));
            if status.is_null() || value_out.is_null() {
                return None;
            }
            if !w.check_handle(h, HandleKind::Config, CALL) {
                return Some(Err(NDIS_STATUS_FAILURE));
            }
            let integer = parameter_type == NdisParameterInteger || parameter_type == NdisParameterHexInteger;
            let Some(value) = name.as_deref().and_then(|n| w.config.get(n)).filter(|_| integer) else {
                return Some(Err(NDIS_STATUS_FAILURE));
            };
            let block = NDIS_CONFIGURATION_PARAMETER {
                ParameterType: NdisParameterInteger,
                ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: value },
            };
            let block = super::ParamBlock::new(block);
            let ptr = block.as_ptr();
            Some(if w.config.keep(h, Box::new(block)) { Ok(ptr) } else { Err(NDIS_STATUS_FAILURE) })
        });
        match result {
            None => {}
            Some(Ok(block)) => {
                // SAFETY: non-null (checked in the closure); the driver's slot.
                unsafe { value_out.write(block) };
                // SAFETY: non-null (checked in the closure); the driver's slot.
                unsafe { status.write(NDIS_STATUS_SUCCESS) };
            }
            // SAFETY: non-null (checked in the closure); the driver's status slot.
            Some(Err(s)) => unsafe { status.write(s) },
        }
    }
}

ddi_fn! {
    /// NdisCloseConfiguration. PASSIVE_LEVEL (its page). Frees every block
    /// NdisReadConfiguration returned on the handle; the handle is dead after.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCloseConfiguration(handle: NDIS_HANDLE) {
        const CALL: &str = "NdisCloseConfiguration";
        let h = handle as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{h:#x}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            if w.check_handle(h, HandleKind::Config, CALL) {
                w.config.close(h);
                if let Some(r) = w.handles.get_mut(&h) {
                    r.alive = false;
                    r.history.push("closed".into());
                }
            }
        });
    }
}

// --- Memory ---------------------------------------------------------------

/// Pool blocks are 16-byte aligned on x64 (MEMORY_ALLOCATION_ALIGNMENT).
const POOL_ALIGN: usize = 16;

ddi_fn! {
    /// NdisAllocateMemoryWithTagPriority. <= DISPATCH_LEVEL. Recorded in the
    /// ledger with its tag and the handler that asked.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateMemoryWithTagPriority(handle: NDIS_HANDLE, length: UINT, tag: ULONG, _priority: EX_POOL_PRIORITY) -> PVOID {
        const CALL: &str = "NdisAllocateMemoryWithTagPriority";
        let h = handle as usize;
        let ok = world::with(CALL, |w| {
            w.check_irql(CALL, DISPATCH_LEVEL);
            crate::memory::check_tag(w, CALL, tag);
            let kind = w.handles.get(&h).map(|r| r.kind);
            match kind {
                Some(k) => w.check_handle(h, k, CALL),
                None => w.check_handle(h, HandleKind::Adapter, CALL),
            }
        });
        if !ok || length == 0 || world::with(CALL, |w| crate::faults::allocation_fails(w, CALL, Some(tag))) {
            return core::ptr::null_mut();
        }
        let Ok(layout) = Layout::from_size_align(length as usize, POOL_ALIGN) else {
            return core::ptr::null_mut();
        };
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc_zeroed(layout) };
        if p.is_null() {
            return core::ptr::null_mut();
        }
        world::with(CALL, |w| {
            let origin = w.current_handler().unwrap_or("outside any handler");
            w.event("=>", CALL, detail!("{} bytes, tag {t} -> {x}", length, tag, p));
            w.ledger.insert(p as usize, Allocation { size: length as usize, tag, origin });
        });
        p.cast()
    }
}

ddi_fn! {
    /// NdisFreeMemoryWithTagPriority. <= DISPATCH_LEVEL. The block must be a
    /// live allocation with this tag.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeMemoryWithTagPriority(_handle: NDIS_HANDLE, va: PVOID, tag: ULONG) {
        const CALL: &str = "NdisFreeMemoryWithTagPriority";
        let freed = world::with(CALL, |w| {
            w.check_irql(CALL, DISPATCH_LEVEL);
            w.event("=>", CALL, detail!("{x} tag {t}", va, tag));
            let freed = match w.ledger.get(&(va as usize)).cloned() {
                None => {
                    w.violate(rules::MEMORY_LEDGER, CALL, format!("{va:p} is not a live allocation (double free or never allocated)"), &[]);
                    None
                }
                Some(a) if a.tag != tag => {
                    w.violate(rules::MEMORY_LEDGER, CALL, format!("{va:p} was allocated with tag {} and freed with tag {}", tag_str(a.tag), tag_str(tag)), &[]);
                    w.ledger.remove(&(va as usize));
                    Some(a.size)
                }
                Some(a) => {
                    w.ledger.remove(&(va as usize));
                    Some(a.size)
                }
            };
            if let Some(size) = freed {
                // NDIS events in the block go with it.
                let handler = w.current_handler().unwrap_or("outside any handler");
                crate::sync::memory_freed(&mut w.sync, va as usize, size, handler);
            }
            freed
        });
        if let Some(size) = freed
            && let Ok(layout) = Layout::from_size_align(size, POOL_ALIGN)
        {
            // SAFETY: the ledger recorded this block as allocated with this
            // layout, and it was removed so it is freed once.
            unsafe { dealloc(va.cast(), layout) };
        }
    }
}

// --- Spin locks -------------------------------------------------------------
//
// NdisAcquireSpinLock and friends are inline code over these ntoskrnl exports
// (ndis-sys `sync`), as in the WDK. The emulator keeps each lock's owner (the
// CPU that holds it) by address, under the world lock, and mirrors it into the
// KSPIN_LOCK (1 = held), as a real lock word would show. A CPU that finds the
// lock held by another CPU spins, with the world lock released between tries,
// until that CPU releases it: in the threaded mode two CPUs really exclude each
// other. A CPU that finds it held by itself would spin forever on Windows; that
// is reported (rule `irql.balance`) and the acquire returns at once.

/// How long a CPU spins on a lock before ndis-emu calls it a deadlock and
/// stops the process (a lock held across a return and never released, or two
/// CPUs each waiting for a lock the other holds).
const DEADLOCK_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes the lock word (under the world lock, so two CPUs' writes never race).
fn set_word(lock: *mut KSPIN_LOCK, value: KSPIN_LOCK) {
    if !lock.is_null() {
        // SAFETY: a non-null KSPIN_LOCK the driver passed to a spin-lock DDI,
        // which by that DDI's contract is valid, writable lock storage.
        unsafe { lock.write(value) };
    }
}

/// What one try at a lock found.
enum Try {
    /// Taken; the IRQL before the acquire.
    Taken(KIRQL),
    /// Not taken, and not to be waited for (a NULL lock, or one this CPU
    /// holds: reported); the IRQL is unchanged.
    Refused(KIRQL),
    /// Held by another CPU: spin.
    Busy {
        owner: world::CpuId,
        taken_in: &'static str,
    },
}

/// Acquires `lock` for the calling CPU, raising to DISPATCH_LEVEL if `raise`
/// (KeAcquireSpinLockRaiseToDpc) or checking that the CPU is there already
/// (KeAcquireSpinLockAtDpcLevel). Returns the IRQL before the call.
fn acquire(call: &'static str, lock: *mut KSPIN_LOCK, raise: bool) -> KIRQL {
    let me = world::cpu_id();
    let mut first = true;
    let mut since = None;
    loop {
        let r = world::with(call, |w| {
            let irql = world::irql();
            if first {
                w.check_irql(call, DISPATCH_LEVEL);
                if lock.is_null() {
                    w.violate(rules::HANDLE_VALID, call, "NULL spin lock", &[]);
                    return Try::Refused(irql);
                }
                if !raise && irql != DISPATCH_LEVEL {
                    w.violate(
                        rules::IRQL_LIMIT,
                        call,
                        format!("called at IRQL {irql}; it requires DISPATCH_LEVEL"),
                        &[],
                    );
                }
            }
            let l = lock as usize;
            let rec = w.locks.entry(l).or_default();
            match rec.owner {
                Some(o) if o == me => {
                    w.violate(
                        rules::IRQL_BALANCE,
                        call,
                        format!("spin lock {l:#x} acquired while this CPU holds it: deadlock on Windows"),
                        &[],
                    );
                    Try::Refused(irql)
                }
                Some(owner) => Try::Busy {
                    owner,
                    taken_in: rec.taken_in,
                },
                None => {
                    rec.owner = Some(me);
                    rec.taken_in = world::current_handler().unwrap_or("outside any handler");
                    if raise {
                        world::set_irql(DISPATCH_LEVEL);
                    }
                    set_word(lock, 1);
                    Try::Taken(irql)
                }
            }
        });
        first = false;
        match r {
            Try::Taken(old) | Try::Refused(old) => return old,
            Try::Busy { owner, taken_in } => {
                let started = *since.get_or_insert_with(std::time::Instant::now);
                if started.elapsed() > DEADLOCK_AFTER {
                    eprintln!(
                        "ndis-emu: deadlock: CPU {me} ({}) has spun for {}s on spin lock {lock:p}, held by CPU {owner} since it took it in {taken_in}",
                        world::current_handler().unwrap_or("outside any handler"),
                        DEADLOCK_AFTER.as_secs()
                    );
                    std::process::abort();
                }
                // A script stopped by an interleaving holds it: let it run.
                crate::interleave::spinning(owner);
                std::thread::yield_now();
            }
        }
    }
}

/// Releases `lock` for the calling CPU, lowering to `new_irql` if given
/// (KeReleaseSpinLock; KeReleaseSpinLockFromDpcLevel leaves the IRQL).
fn release(call: &'static str, lock: *mut KSPIN_LOCK, new_irql: Option<KIRQL>) {
    let me = world::cpu_id();
    world::with(call, |w| {
        w.check_irql(call, DISPATCH_LEVEL);
        if lock.is_null() {
            w.violate(rules::HANDLE_VALID, call, "NULL spin lock", &[]);
            return;
        }
        let l = lock as usize;
        let rec = w.locks.entry(l).or_default();
        match rec.owner {
            Some(o) if o == me => {}
            Some(o) => {
                let taken_in = rec.taken_in;
                let here = world::current_handler().unwrap_or("outside any handler");
                // The word is cleared, as on Windows; CPU `o` never
                // released what it took.
                w.violate(
                    rules::IRQL_SPIN_LOCK_OWNER,
                    call,
                    format!(
                        "spin lock {l:#x} released by CPU {me} in {here}, but CPU {o} holds it (taken in {taken_in})"
                    ),
                    &[],
                );
            }
            None => {
                w.violate(
                    rules::IRQL_BALANCE,
                    call,
                    format!("spin lock {l:#x} released but not held"),
                    &[],
                );
                set_word(lock, 0);
                return;
            }
        }
        if let Some(rec) = w.locks.get_mut(&l) {
            rec.owner = None;
        }
        if let Some(irql) = new_irql {
            world::set_irql(irql);
        }
        set_word(lock, 0);
    });
}

ddi_fn! {
    /// KeAcquireSpinLockRaiseToDpc. <= DISPATCH_LEVEL; returns the old IRQL.
    /// Spins while another CPU holds the lock.
    #[unsafe(no_mangle)]
    pub unsafe fn KeAcquireSpinLockRaiseToDpc(lock: *mut KSPIN_LOCK) -> KIRQL {
        acquire("KeAcquireSpinLockRaiseToDpc", lock, true)
    }
}

ddi_fn! {
    /// KeReleaseSpinLock. Lowers to `new_irql`.
    #[unsafe(no_mangle)]
    pub unsafe fn KeReleaseSpinLock(lock: *mut KSPIN_LOCK, new_irql: KIRQL) {
        release("KeReleaseSpinLock", lock, Some(new_irql));
    }
}

ddi_fn! {
    /// KeAcquireSpinLockAtDpcLevel. Only at DISPATCH_LEVEL. Spins while
    /// another CPU holds the lock.
    #[unsafe(no_mangle)]
    pub unsafe fn KeAcquireSpinLockAtDpcLevel(lock: *mut KSPIN_LOCK) {
        let _ = acquire("KeAcquireSpinLockAtDpcLevel", lock, false);
    }
}

ddi_fn! {
    /// KeReleaseSpinLockFromDpcLevel. Only at DISPATCH_LEVEL; the IRQL stays.
    #[unsafe(no_mangle)]
    pub unsafe fn KeReleaseSpinLockFromDpcLevel(lock: *mut KSPIN_LOCK) {
        release("KeReleaseSpinLockFromDpcLevel", lock, None);
    }
}

// --- Debug output and bug checks -------------------------------------------

ddi_fn! {
    /// DbgPrintEx. Variadic in C; under the Windows x64 convention the
    /// integer arguments arrive exactly like fixed ones, so this reads up to
    /// six of them, as many as the format consumes: `%s`, `%.*s`, `%d`, `%u`,
    /// `%x`, `%p` and `%%` are understood; anything else is shown verbatim.
    #[unsafe(no_mangle)]
    pub unsafe fn DbgPrintEx(_component: ULONG, level: ULONG, format: PCSTR, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> ULONG {
        if format.is_null() {
            return 0;
        }
        // SAFETY: DbgPrintEx's contract: a NUL-terminated format string.
        let fmt = unsafe { core::ffi::CStr::from_ptr(format.cast()) }.to_bytes();
        // SAFETY: the arguments are the ones the format names (caller's contract).
        let line = unsafe { format_dbg(fmt, [a0, a1, a2, a3, a4, a5]) };
        let line = line.trim_end_matches('\n').to_string();
        world::with("DbgPrintEx", |w| {
            if w.verbose {
                eprintln!("[dbg {level}] {line}");
            }
            w.event("=>", "DbgPrintEx", line.clone());
            w.debug_output.push(line);
        });
        0
    }
}

/// A small printf for DbgPrintEx.
///
/// # Safety
/// Each `%s` argument is a NUL-terminated string and each `%.*s` pair is a
/// length and a pointer to that many readable bytes.
unsafe fn format_dbg(fmt: &[u8], args: [usize; 6]) -> String {
    let mut out = String::new();
    let mut args = args.into_iter();
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        if c != b'%' {
            out.push(c as char);
            i += 1;
            continue;
        }
        let rest = &fmt[i + 1..];
        if rest.starts_with(b".*s") {
            let len = args.next().unwrap_or(0) as u32 as usize;
            let ptr = args.next().unwrap_or(0) as *const u8;
            if !ptr.is_null() {
                // SAFETY: `%.*s` promises `len` readable bytes at `ptr`.
                let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
                out.push_str(&String::from_utf8_lossy(bytes));
            }
            i += 4;
        } else if rest.starts_with(b"s") {
            let ptr = args.next().unwrap_or(0) as *const core::ffi::c_char;
            if !ptr.is_null() {
                // SAFETY: `%s` promises a NUL-terminated string.
                out.push_str(&unsafe { core::ffi::CStr::from_ptr(ptr) }.to_string_lossy());
            }
            i += 2;
        } else if let Some(&conv) = rest.first().filter(|c| b"duxXp%".contains(c)) {
            match conv {
                b'%' => out.push('%'),
                b'd' => out.push_str(&(args.next().unwrap_or(0) as u32 as i32).to_string()),
                b'u' => out.push_str(&(args.next().unwrap_or(0) as u32).to_string()),
                b'x' | b'X' => out.push_str(&format!("{:x}", args.next().unwrap_or(0) as u32)),
                _ => out.push_str(&format!("{:#x}", args.next().unwrap_or(0))),
            }
            i += 2;
        } else {
            out.push('%');
            i += 1;
        }
    }
    out
}

ddi_fn! {
    /// KeBugCheckEx: on Windows the machine stops. The emulator reports the
    /// code and parameters, every violation so far, and ends the process.
    #[unsafe(no_mangle)]
    pub unsafe fn KeBugCheckEx(code: ULONG, p1: ULONG_PTR, p2: ULONG_PTR, p3: ULONG_PTR, p4: ULONG_PTR) -> ! {
        // As Windows does before writing the dump: the drivers' secondary
        // dump data callbacks (ffi::bugcheck_callbacks).
        super::bugcheck_callbacks::on_bug_check();
        let report = world::with("KeBugCheckEx", |w| {
            w.bug_check = Some((code, [p1, p2, p3, p4]));
            w.violate(rules::BUG_CHECK, "KeBugCheckEx", format!("bug check {code:#010x} ({p1:#x}, {p2:#x}, {p3:#x}, {p4:#x})"), &[]);
            w.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        });
        eprintln!("ndis-emu: the driver bug-checked: code {code:#010x}, parameters {p1:#x} {p2:#x} {p3:#x} {p4:#x}\n{report}");
        std::process::exit(101);
    }
}
