//! NDIS and ntoskrnl functions, as ndis-emu implements them.
//!
//! Each states the DDI's IRQL limit (ndis-ddi-irql.txt), what real NDIS does
//! ([B] in the contract) and what the emulator checks beyond that.
//! A registration DDI's shim reads the driver's blocks and hands them to
//! `crate::registration`, which checks the `reg.*`, `opt.*` and `init.*`
//! rules and records the registration; spin locks, pool memory, debug
//! output and bug checks are still checked here.

use std::alloc::{Layout, alloc_zeroed, dealloc};

use ndis_sys::*;

use super::calls;
use super::zero::read_prefix;
use crate::detail;
use crate::registration;
use crate::rules;
use crate::trace::tag_str;
use crate::world::{self, Allocation, HandleKind};

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
            world::with(CALL, registration::null_characteristics);
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
            registration::register_miniport(w, header, chars, driver_context as usize)
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
        let status = world::with(CALL, |w| registration::set_options_returned(w, handle, &chars, status));
        if status != NDIS_STATUS_SUCCESS {
            world::with(CALL, |w| registration::registration_failed(w, handle));
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
            registration::deregister_miniport(w, handle as usize);
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
        if world::with(CALL, |w| crate::protocol::is_protocol_handle(w, h)) {
            // SAFETY: the driver's block (or NULL) as it passed it.
            return unsafe { protocol_optional_handlers(h, block, header) };
        }
        let ok = world::with(CALL, |w| {
            let what = match header.map(|hd| hd.Type) {
                Some(NDIS_OBJECT_TYPE_CO_MINIPORT_CHARACTERISTICS) => "CO miniport characteristics (0x91)".to_string(),
                Some(NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS) => "call-manager handlers (0xA5)".to_string(),
                Some(t) => format!("object type {t:#x}"),
                None => "NULL".to_string(),
            };
            w.event("=>", CALL, format!("{handle:p} {what}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            registration::admit_optional_handlers(w, h)
        });
        if !ok {
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        let Some(header) = header else {
            world::with(CALL, |w| registration::unknown_optional_block(w, h, None));
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
                world::with(CALL, |w| registration::co_characteristics(w, h, co));
                NDIS_STATUS_SUCCESS
            }
            NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS => {
                if !world::with(CALL, |w| registration::cm_header_ok(w, h, header)) {
                    return STATUS_INVALID_PARAMETER;
                }
                // Real NDIS copies all 144 bytes [B].
                // SAFETY: non-null block of at least 136 bytes announced; NDIS
                // reads the full 144-byte structure, and so do we.
                let cm = unsafe { read_prefix(block.cast::<NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS>(), core::mem::size_of::<NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS>()) };
                world::with(CALL, |w| registration::cm_handlers(w, h, cm));
                NDIS_STATUS_SUCCESS
            }
            other => {
                world::with(CALL, |w| registration::unknown_optional_block(w, h, Some(other)));
                NDIS_STATUS_NOT_SUPPORTED
            }
        }
    }
}

/// NdisSetOptionalHandlers on protocol handle `h` (a CoNDIS client's
/// ProtocolSetOptions): the CO protocol characteristics (0x90) and the
/// client's optional handlers (0xA6), checked by [`crate::protocol`]. Any
/// other block is NOT_SUPPORTED, as a miniport's unknown block is.
///
/// # Safety
/// `block` is NULL or the driver's block, readable for the size of its
/// object type; `header` is its first 4 bytes (None when NULL).
unsafe fn protocol_optional_handlers(
    h: usize,
    block: PNDIS_DRIVER_OPTIONAL_HANDLERS,
    header: Option<NDIS_OBJECT_HEADER>,
) -> NDIS_STATUS {
    const CALL: &str = "NdisSetOptionalHandlers";
    let ok = world::with(CALL, |w| {
        let what = match header.map(|hd| hd.Type) {
            Some(NDIS_OBJECT_TYPE_CO_PROTOCOL_CHARACTERISTICS) => "CO protocol characteristics (0x90)".to_string(),
            Some(NDIS_OBJECT_TYPE_CO_CLIENT_OPTIONAL_HANDLERS) => "client handlers (0xA6)".to_string(),
            Some(t) => format!("object type {t:#x}"),
            None => "NULL".to_string(),
        };
        w.event("=>", CALL, format!("{h:#x} {what}"));
        w.check_irql(CALL, PASSIVE_LEVEL);
        crate::protocol::admit_optional_handlers(w, h)
    });
    if !ok {
        return NDIS_STATUS_NOT_SUPPORTED;
    }
    let Some(header) = header else {
        return STATUS_INVALID_PARAMETER;
    };
    if world::with(CALL, |w| crate::faults::call_fails(w, CALL)) {
        return NDIS_STATUS_RESOURCES;
    }
    match header.Type {
        NDIS_OBJECT_TYPE_CO_PROTOCOL_CHARACTERISTICS => {
            // SAFETY: non-null block of this type (caller's contract), 40 bytes.
            let co = unsafe {
                read_prefix(
                    block.cast::<NDIS_PROTOCOL_CO_CHARACTERISTICS>(),
                    core::mem::size_of::<NDIS_PROTOCOL_CO_CHARACTERISTICS>(),
                )
            };
            world::with(CALL, |w| crate::protocol::co_characteristics(w, h, co));
            NDIS_STATUS_SUCCESS
        }
        NDIS_OBJECT_TYPE_CO_CLIENT_OPTIONAL_HANDLERS => {
            // SAFETY: non-null block of this type (caller's contract), 160 bytes.
            let cl = unsafe {
                read_prefix(
                    block.cast::<NDIS_CO_CLIENT_OPTIONAL_HANDLERS>(),
                    core::mem::size_of::<NDIS_CO_CLIENT_OPTIONAL_HANDLERS>(),
                )
            };
            world::with(CALL, |w| crate::protocol::client_handlers(w, h, cl));
            NDIS_STATUS_SUCCESS
        }
        _ => NDIS_STATUS_NOT_SUPPORTED,
    }
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
            registration::adapter_call_ok(w, h, CALL)
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        let Some(header) = header else {
            world::with(CALL, |w| registration::null_attributes(w, h));
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
                world::with(CALL, |w| registration::registration_attributes(w, h, reg));
                NDIS_STATUS_SUCCESS
            }
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES => {
                let Some(size) = world::with(CALL, |w| registration::general_attributes_size(w, h, header)) else {
                    return STATUS_INVALID_PARAMETER;
                };
                // SAFETY: non-null block of at least the revision's size.
                let general = unsafe { read_prefix(attributes.cast::<NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES>(), size) };
                world::with(CALL, |w| registration::general_attributes(w, h, general))
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
            registration::adapter_call_ok(w, h, CALL)
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        world::with(CALL, |w| registration::register_af(w, h, af_value))
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
