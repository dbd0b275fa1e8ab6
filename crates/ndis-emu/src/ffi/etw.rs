//! The ETW DDIs a driver imports from ntoskrnl (EtwRegister,
//! EtwSetInformation, EtwWriteTransfer, EtwUnregister), the calls into a
//! provider's enable callback, the recording of what the ETW rules' checks
//! (`crate::etw`) find, and the starting and
//! stopping of the trace session ([`crate::Emulator::etw_enable`],
//! [`crate::Emulator::etw_disable`] delegate here).
//! `crate::etw` holds the registrations, the session and the captured events
//! as data, and decodes them.
//!
//! IRQL (wdm.h of WDK 10.0.22621): EtwRegister, EtwSetInformation and
//! EtwUnregister `_IRQL_requires_max_(PASSIVE_LEVEL)`; EtwWriteTransfer
//! `_IRQL_requires_max_(HIGH_LEVEL)`, so any. The enable callback is called at
//! PASSIVE_LEVEL (`ETWENABLECALLBACK` is `_IRQL_requires_max_(PASSIVE_LEVEL)`).
//!
//! What it must not do: hold the world lock while the driver's callback
//! runs, or trust a descriptor's pointer beyond the size it announces.

use ndis_sys::*;

use crate::etw::{Captured, Registration, Session, check_format};
use crate::trace::Detail;
use crate::world::{self, World};

use super::calls;

/// `STATUS_INVALID_HANDLE` (ntstatus.h) \[H\]: what EtwSetInformation's page
/// returns for a bad REGHANDLE.
const STATUS_INVALID_HANDLE: NTSTATUS = 0xC000_0008_u32.cast_signed();

/// The most data descriptors one event may have (ETW's own limit is 128;
/// covmini uses a handful).
const MAX_DESCRIPTORS: ULONG = 128;

/// Checks a handle the driver passed (`etw.handle-valid`).
fn check(w: &mut World, handle: u64, call: &'static str) -> bool {
    match w.etw.check_handle(handle) {
        None => true,
        Some((rule, why)) => {
            w.violate(rule, call, why, &[]);
            false
        }
    }
}

/// MiniportDriverUnload returned: every registration still open breaks
/// `etw.registered-at-unload`, and is closed here.
pub(crate) fn unload_done(w: &mut World, when: &'static str) {
    for (rule, why) in w.etw.close_at_unload() {
        w.violate(rule, when, why, &[]);
    }
}

/// Calls the enable callback of every registration of `provider` with
/// `code` and the session's level and keywords, one at a time, with no world
/// lock held.
pub(crate) fn notify(provider: GUID, code: ULONG, session: &Session) {
    let targets: Vec<(Option<PETWENABLECALLBACK>, usize)> = world::try_with(|w| {
        w.etw
            .registrations
            .values()
            .filter(|r| r.provider == provider)
            .map(|r| (r.callback, r.context))
            .collect()
    })
    .unwrap_or_default();
    for (callback, context) in targets {
        if let Some(cb) = callback {
            call_back(cb, provider, code, session, context);
        }
    }
}

/// One enable callback, at PASSIVE_LEVEL, as a handler frame.
fn call_back(cb: PETWENABLECALLBACK, provider: GUID, code: ULONG, s: &Session, context: usize) {
    let caller = calls::enter(
        "EtwEnableCallback",
        PASSIVE_LEVEL,
        crate::detail!(
            "code {} level {} any {x} all {x}",
            code,
            s.level,
            s.match_any,
            s.match_all
        ),
    );
    let id = provider;
    // SAFETY: the callback the driver registered with EtwRegister (still
    // registered: the caller read it from the registrations just now); the
    // GUID lives on this frame for the call; no filter data; the context the
    // driver gave; PASSIVE_LEVEL, as ETW calls it.
    unsafe {
        cb(
            &raw const id,
            code,
            s.level,
            s.match_any,
            s.match_all,
            core::ptr::null_mut(),
            context as PVOID,
        )
    };
    calls::leave("EtwEnableCallback", caller, Detail::EMPTY);
}

ddi_fn! {
    /// EtwRegister. PASSIVE_LEVEL. A new registration; if the session
    /// enables this provider, its enable callback runs before EtwRegister
    /// returns, as ETW does.
    #[unsafe(no_mangle)]
    pub unsafe fn EtwRegister(provider_id: LPCGUID, callback: Option<PETWENABLECALLBACK>, context: PVOID, handle: PREGHANDLE) -> NTSTATUS {
        const CALL: &str = "EtwRegister";
        if provider_id.is_null() || handle.is_null() {
            world::with(CALL, |w| w.check_irql(CALL, PASSIVE_LEVEL));
            return STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null; the caller's GUID, readable for its 16 bytes.
        let provider = unsafe { provider_id.read_unaligned() };
        let (h, session) = world::with(CALL, |w| {
            w.check_irql(CALL, PASSIVE_LEVEL);
            let h = w.etw.next_handle();
            let origin = w.current_handler().unwrap_or("DriverEntry").to_string();
            w.etw.registrations.insert(
                h,
                Registration {
                    provider,
                    callback,
                    context: context as usize,
                    traits: None,
                    origin,
                },
            );
            (h, w.etw.session.filter(|s| s.provider == provider))
        });
        // SAFETY: non-null; the caller's REGHANDLE slot.
        unsafe { handle.write_unaligned(h) };
        if let (Some(s), Some(cb)) = (session, callback) {
            call_back(cb, provider, EVENT_CONTROL_CODE_ENABLE_PROVIDER, &s, context as usize);
        }
        STATUS_SUCCESS
    }
}

ddi_fn! {
    /// EtwUnregister. PASSIVE_LEVEL. The callback is not called again.
    #[unsafe(no_mangle)]
    pub unsafe fn EtwUnregister(handle: REGHANDLE) -> NTSTATUS {
        const CALL: &str = "EtwUnregister";
        world::with(CALL, |w| {
            w.check_irql(CALL, PASSIVE_LEVEL);
            if !check(w, handle, CALL) {
                return STATUS_INVALID_HANDLE;
            }
            w.etw.registrations.remove(&handle);
            STATUS_SUCCESS
        })
    }
}

ddi_fn! {
    /// EtwSetInformation. PASSIVE_LEVEL. Only EventProviderSetTraits is
    /// modelled (kept with the registration); other classes are accepted
    /// and ignored.
    #[unsafe(no_mangle)]
    pub unsafe fn EtwSetInformation(handle: REGHANDLE, class: EVENT_INFO_CLASS, information: PVOID, length: ULONG) -> NTSTATUS {
        const CALL: &str = "EtwSetInformation";
        let traits = if class == EventProviderSetTraits && !information.is_null() {
            // SAFETY: the caller's buffer of `length` bytes (the DDI's
            // contract), only read.
            Some(unsafe { core::slice::from_raw_parts(information.cast::<u8>(), length as usize) }.to_vec())
        } else {
            None
        };
        world::with(CALL, |w| {
            w.check_irql(CALL, PASSIVE_LEVEL);
            if !check(w, handle, CALL) {
                return STATUS_INVALID_HANDLE;
            }
            if class == EventProviderSetTraits && traits.is_none() {
                return STATUS_INVALID_PARAMETER;
            }
            if let (Some(r), Some(t)) = (w.etw.registrations.get_mut(&handle), traits) {
                r.traits = Some(t);
            }
            STATUS_SUCCESS
        })
    }
}

ddi_fn! {
    /// EtwWriteTransfer. Any IRQL. The event is kept if the session enables
    /// the provider and wants its level and keyword; a TraceLogging event
    /// (first descriptor of type 2) must decode (`etw.event-format`).
    #[unsafe(no_mangle)]
    pub unsafe fn EtwWriteTransfer(
        handle: REGHANDLE,
        descriptor: PCEVENT_DESCRIPTOR,
        _activity: LPCGUID,
        _related: LPCGUID,
        count: ULONG,
        data: PEVENT_DATA_DESCRIPTOR,
    ) -> NTSTATUS {
        const CALL: &str = "EtwWriteTransfer";
        if descriptor.is_null() || count > MAX_DESCRIPTORS || (count > 0 && data.is_null()) {
            return STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null; the caller's EVENT_DESCRIPTOR.
        let d = unsafe { descriptor.read_unaligned() };
        let mut parts = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            // SAFETY: `data` holds `count` descriptors (the DDI's contract).
            let dd = unsafe { data.wrapping_add(i).read_unaligned() };
            let bytes = if dd.Size == 0 {
                Vec::new()
            } else if dd.Ptr == 0 {
                return STATUS_INVALID_PARAMETER;
            } else {
                // SAFETY: each descriptor names `Size` readable bytes at
                // `Ptr` (the DDI's contract); only read, copied at once.
                unsafe { core::slice::from_raw_parts(dd.Ptr as usize as *const u8, dd.Size as usize) }.to_vec()
            };
            parts.push((dd.Type, bytes));
        }
        world::with(CALL, |w| {
            if !check(w, handle, CALL) {
                return STATUS_INVALID_HANDLE;
            }
            let provider = w.etw.registrations.get(&handle).map(|r| r.provider).unwrap_or_default();
            let event = Captured {
                provider,
                descriptor: d,
                data: parts,
                cpu: world::cpu_id(),
                irql: world::irql(),
            };
            if let Some((rule, why)) = check_format(&event) {
                w.violate(rule, CALL, why, &[]);
            }
            let wanted = w.etw.session.is_some_and(|s| s.provider == provider && s.wants(&d));
            if wanted {
                w.etw.events.push(event);
            }
            STATUS_SUCCESS
        })
    }
}

/// Starts (or changes) the trace session and calls the enable callback of
/// every registration of `session.provider` ([`crate::Emulator::etw_enable`]).
pub(crate) fn enable_session(session: Session) {
    world::try_with(|w| w.etw.session = Some(session));
    notify(session.provider, EVENT_CONTROL_CODE_ENABLE_PROVIDER, &session);
}

/// Stops the trace session: the enable callbacks get DISABLE_PROVIDER
/// ([`crate::Emulator::etw_disable`]).
pub(crate) fn disable_session() {
    let session = world::try_with(|w| w.etw.session.take()).flatten();
    if let Some(s) = session {
        notify(s.provider, EVENT_CONTROL_CODE_DISABLE_PROVIDER, &s);
    }
}
