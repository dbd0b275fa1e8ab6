//! The ETW TraceLogging provider at run time: registration (EtwRegister and
//! EtwSetInformation at DriverEntry, EtwUnregister at unload), the enable
//! callback that keeps what the listening sessions asked for, and
//! EtwWriteTransfer of one event (`crate::etw` has the provider's identity,
//! the event catalogue and the metadata).
//!
//! **Nothing is done for an event no session wants.** [`emit`] checks the
//! filter the enable callback stored (a few relaxed atomic loads, legal at
//! any IRQL) before it looks at the event's fields or builds a descriptor;
//! only a passing event reaches [`write`]. This is the filtering
//! evntprov.h recommends ("checking a few global variables ... before
//! preparing the data to be sent to ETW"), the same that
//! TraceLoggingProviderEnabled does. ETW filters again per session, so a
//! filter read while the callback is storing a new one costs at most one
//! event written or skipped.
//!
//! What it must not do: allocate, format, block, or copy a field's value
//! (each data descriptor points at the value where it lies).

use core::ffi::c_void;
use core::ptr::null;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use ndis_sys::{
    EVENT_CONTROL_CODE_DISABLE_PROVIDER, EVENT_CONTROL_CODE_ENABLE_PROVIDER, EVENT_DATA_DESCRIPTOR,
    EVENT_DATA_DESCRIPTOR_TYPE_EVENT_METADATA, EVENT_DATA_DESCRIPTOR_TYPE_NONE,
    EVENT_DATA_DESCRIPTOR_TYPE_PROVIDER_METADATA, EtwRegister, EtwSetInformation, EtwUnregister, EtwWriteTransfer,
    EventProviderSetTraits, LPCGUID, PEVENT_FILTER_DESCRIPTOR, PVOID, REGHANDLE, STATUS_SUCCESS, UCHAR, ULONG,
};

use ndis_sys::ndis_fn;

use super::trace::WARN;

use crate::etw::{EventKind, Filter, MAX_FIELDS, PROVIDER_ID, PROVIDER_TRAITS, Value, kind_of, values};
use crate::flight::Event;

/// The registration handle (0: not registered).
static HANDLE: AtomicU64 = AtomicU64::new(0);
/// The filter, as the enable callback last stored it (see [`Filter`]).
static ENABLED: AtomicBool = AtomicBool::new(false);
static LEVEL: AtomicU8 = AtomicU8::new(0);
static MATCH_ANY: AtomicU64 = AtomicU64::new(0);
static MATCH_ALL: AtomicU64 = AtomicU64::new(0);

/// The filter now. Any IRQL.
pub(crate) fn filter() -> Filter {
    Filter {
        enabled: ENABLED.load(Ordering::Relaxed),
        level: LEVEL.load(Ordering::Relaxed),
        match_any: MATCH_ANY.load(Ordering::Relaxed),
        match_all: MATCH_ALL.load(Ordering::Relaxed),
    }
}

/// Registers the provider and its traits (which also tells ETW to honour
/// the descriptor types of [`write`], evntprov.h's EventProviderSetTraits).
/// A failure leaves covmini without tracing, never without a driver.
///
/// # IRQL
/// PASSIVE_LEVEL (EtwRegister, EtwSetInformation): DriverEntry.
pub(crate) fn register() {
    set_filter(Filter::default());
    let mut handle: REGHANDLE = 0;
    // SAFETY: the GUID is a static; the callback has the ETWENABLECALLBACK
    // signature and touches only atomics (it may run before EtwRegister
    // returns); the context is unused (NULL); the handle slot lives on this
    // frame for the call; PASSIVE_LEVEL.
    let status = unsafe {
        EtwRegister(
            &PROVIDER_ID,
            Some(enable_callback),
            core::ptr::null_mut(),
            &raw mut handle,
        )
    };
    if status != STATUS_SUCCESS {
        trace!(WARN, "EtwRegister failed: {:#010x}; no ETW events", status);
        return;
    }
    HANDLE.store(handle, Ordering::Release);
    // CAST: the traits are at most metadata::CAPACITY (160) bytes.
    let len = PROVIDER_TRAITS.len() as ULONG;
    // SAFETY: the handle EtwRegister just gave; the traits are a static of
    // `len` bytes that ETW only reads; PASSIVE_LEVEL.
    let status = unsafe {
        EtwSetInformation(
            handle,
            EventProviderSetTraits,
            PROVIDER_TRAITS.as_bytes().as_ptr().cast_mut().cast(),
            len,
        )
    };
    if status != STATUS_SUCCESS {
        trace!(WARN, "EtwSetInformation(traits) failed: {:#010x}", status);
    }
}

/// Unregisters the provider, if registered. After it returns ETW calls the
/// enable callback no more. No write races it: it runs in
/// MiniportDriverUnload (every adapter halted, so no handler records an
/// event) or on DriverEntry's failure path (no adapter yet).
///
/// # IRQL
/// PASSIVE_LEVEL (EtwUnregister): unload, or DriverEntry's failure path.
pub(crate) fn unregister() {
    let handle = HANDLE.swap(0, Ordering::AcqRel);
    set_filter(Filter::default());
    if handle == 0 {
        return;
    }
    // SAFETY: the handle EtwRegister gave, unregistered exactly once (swapped
    // out above, so no new write uses it); PASSIVE_LEVEL.
    let status = unsafe { EtwUnregister(handle) };
    if status != STATUS_SUCCESS {
        trace!(WARN, "EtwUnregister failed: {:#010x}", status);
    }
}

fn set_filter(f: Filter) {
    LEVEL.store(f.level, Ordering::Relaxed);
    MATCH_ANY.store(f.match_any, Ordering::Relaxed);
    MATCH_ALL.store(f.match_all, Ordering::Relaxed);
    ENABLED.store(f.enabled, Ordering::Release);
}

ndis_fn! {
    unsafe fn enable_callback(
        _source_id: LPCGUID,
        control_code: ULONG,
        level: UCHAR,
        match_any: u64,
        match_all: u64,
        _filter_data: PEVENT_FILTER_DESCRIPTOR,
        _context: PVOID,
    ) => enable_callback_impl;
}

/// The ETWENABLECALLBACK: keeps what the sessions asked for. ETW merges
/// the sessions' requests before it calls (evntprov.h: "the ETW runtime
/// will adjust the Level, MatchAnyKeyword, and MatchAllKeyword parameters
/// to the least-restrictive values set by any subscribed session").
/// CAPTURE_STATE is ignored: covmini has no state to rundown.
///
/// # IRQL
/// PASSIVE_LEVEL (wdm.h: `_IRQL_requires_max_(PASSIVE_LEVEL)`).
unsafe fn enable_callback_impl(
    _source_id: LPCGUID,
    control_code: ULONG,
    level: UCHAR,
    match_any: u64,
    match_all: u64,
    _filter_data: PEVENT_FILTER_DESCRIPTOR,
    _context: PVOID,
) {
    match control_code {
        EVENT_CONTROL_CODE_ENABLE_PROVIDER => set_filter(Filter {
            enabled: true,
            level,
            match_any,
            match_all,
        }),
        EVENT_CONTROL_CODE_DISABLE_PROVIDER => set_filter(Filter::default()),
        _ => {}
    }
}

/// Writes `event` (one of the flight recorder's, from `ffi::flight::emit`)
/// as its ETW event, if some session wants that event's level and keyword;
/// otherwise returns at once, having built nothing.
///
/// # IRQL
/// Any.
#[inline]
pub(crate) fn emit(event: &Event) {
    // No session enabled the provider (the usual case): nothing else is
    // read, not even which kind of event this is.
    if ENABLED.load(Ordering::Relaxed) {
        emit_enabled(event);
    }
}

/// [`emit`] once some session enabled the provider: the event's own
/// level and keyword against the sessions' filter, then the write. Out of
/// line, so the recorder's path with no session (the usual one) carries
/// none of its frame.
#[cold]
#[inline(never)]
fn emit_enabled(event: &Event) {
    let kind = kind_of(event);
    if !filter().passes(kind.level, kind.keyword) {
        return;
    }
    let values = values(event);
    write(kind, values.get(..kind.fields.len()).unwrap_or(&[]));
}

/// One descriptor over `len` bytes at `ptr`.
fn descriptor(ptr: *const c_void, len: usize, ty: UCHAR) -> EVENT_DATA_DESCRIPTOR {
    EVENT_DATA_DESCRIPTOR {
        Ptr: ptr as usize as u64,
        // CAST: every field and metadata blob is far below 4 GiB (a text is
        // at most u16::MAX bytes).
        Size: len as ULONG,
        Type: ty,
        Reserved1: 0,
        Reserved2: 0,
    }
}

/// The descriptors of one field's value (a text has two: its count, then
/// its bytes), pointing at it in place; the second is None for a scalar.
fn field(value: &Value<'_>) -> [Option<EVENT_DATA_DESCRIPTOR>; 2] {
    let none = EVENT_DATA_DESCRIPTOR_TYPE_NONE;
    match value {
        Value::U32(v) => [Some(descriptor((v as *const u32).cast(), 4, none)), None],
        Value::Hex(v) => [Some(descriptor((v as *const u64).cast(), 8, none)), None],
        Value::Text(len, s) => [
            Some(descriptor((len as *const u16).cast(), 2, none)),
            Some(descriptor(s.as_ptr().cast(), usize::from(*len), none)),
        ],
    }
}

/// Writes one event with EtwWriteTransfer: the provider traits, the event's
/// metadata, then `values` in the catalogue's field order. [`emit`] checks
/// the filter first. An event whose values do not match its fields (a
/// covmini bug) is dropped, not written garbled.
///
/// # IRQL
/// Any (EtwWriteTransfer: `_IRQL_requires_max_(HIGH_LEVEL)`); everything it
/// points at is nonpaged (statics and the caller's stack).
pub(crate) fn write(kind: &'static EventKind, values: &[Value<'_>]) {
    let handle = HANDLE.load(Ordering::Acquire);
    if handle == 0 || values.len() != kind.fields.len() || values.len() > MAX_FIELDS {
        return;
    }
    if !values.iter().zip(kind.fields).all(|(v, f)| v.fits(f.in_type)) {
        return;
    }
    let traits = PROVIDER_TRAITS.as_bytes();
    let meta = kind.metadata.as_bytes();
    let headers = [
        descriptor(
            traits.as_ptr().cast(),
            traits.len(),
            EVENT_DATA_DESCRIPTOR_TYPE_PROVIDER_METADATA,
        ),
        descriptor(
            meta.as_ptr().cast(),
            meta.len(),
            EVENT_DATA_DESCRIPTOR_TYPE_EVENT_METADATA,
        ),
    ];
    let all = headers.into_iter().chain(values.iter().flat_map(field).flatten());
    let mut data = [EVENT_DATA_DESCRIPTOR::default(); 2 + 2 * MAX_FIELDS];
    let mut count: ULONG = 0;
    for (slot, d) in data.iter_mut().zip(all) {
        *slot = d;
        count += 1;
    }
    let event = kind.descriptor();
    // SAFETY: a registered handle; the event descriptor and `data` (whose
    // first `count` entries are set) live on this frame for the call, and
    // every descriptor points at a static or into `values`, which outlive
    // the call; no activity ids (NULL); any IRQL.
    unsafe { EtwWriteTransfer(handle, &raw const event, null(), null(), count, data.as_mut_ptr()) };
}

#[cfg(test)]
mod tests {
    use ndis_emu::etw::{FieldValue, decode};
    use ndis_sys::{NDIS_STATUS_PENDING, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS};

    use super::*;
    use crate::etw::{KINDS, WINEVENT_LEVEL_VERBOSE, WINEVENT_LEVEL_WARNING, keyword};
    use crate::flight::event::{AdapterStateCode, Ddi, Handler, Machine, Reason};

    const OBJECT: usize = 0xffff_a000_1234_5670_u64 as usize;

    /// One event of every kind, with the values each field must decode to.
    fn every_kind() -> [(Event, std::vec::Vec<(&'static str, FieldValue)>); 5] {
        use FieldValue::{Hex, Str, UInt};
        let obj = || Hex(OBJECT as u64);
        let st = |s: i32| UInt(u64::from(s.cast_unsigned()), 14);
        [
            (
                Event::Enter {
                    handler: Handler::ProtocolCmMakeCall,
                    object: OBJECT,
                },
                std::vec![("handler", Str("ProtocolCmMakeCall".into())), ("object", obj())],
            ),
            (
                Event::Return {
                    handler: Handler::ProtocolCmMakeCall,
                    object: OBJECT,
                    status: NDIS_STATUS_PENDING,
                },
                std::vec![
                    ("handler", Str("ProtocolCmMakeCall".into())),
                    ("object", obj()),
                    ("status", st(NDIS_STATUS_PENDING)),
                ],
            ),
            (
                Event::Ddi {
                    ddi: Ddi::NdisMCmActivateVc,
                    object: OBJECT,
                    status: NDIS_STATUS_SUCCESS,
                },
                std::vec![
                    ("ddi", Str("NdisMCmActivateVc".into())),
                    ("object", obj()),
                    ("status", st(NDIS_STATUS_SUCCESS)),
                ],
            ),
            (
                Event::Transition {
                    machine: Machine::Adapter,
                    object: OBJECT,
                    from: AdapterStateCode::Paused.code(),
                    to: AdapterStateCode::Running.code(),
                },
                std::vec![
                    ("machine", Str("Adapter".into())),
                    ("object", obj()),
                    ("from", Str("Paused".into())),
                    ("to", Str("Running".into())),
                ],
            ),
            (
                Event::Refused {
                    handler: Handler::ProtocolCmRegisterSap,
                    object: OBJECT,
                    reason: Reason::DuplicateSap,
                    status: NDIS_STATUS_RESOURCES,
                },
                std::vec![
                    ("handler", Str("ProtocolCmRegisterSap".into())),
                    ("object", obj()),
                    ("reason", Str("DuplicateSap".into())),
                    ("status", st(NDIS_STATUS_RESOURCES)),
                ],
            ),
        ]
    }

    fn writes() -> u64 {
        ndis_emu::ddi_calls().get("EtwWriteTransfer").copied().unwrap_or(0)
    }

    /// Every kind of event, written through the emulator's EtwWriteTransfer
    /// with a session on at VERBOSE and every keyword, decodes (by the
    /// format's published description, ndis_emu::etw::decode) to the
    /// provider's name, the kind's name, level and keyword, and each field's
    /// name and value; the session's enable reached the callback.
    #[test]
    #[cfg_attr(miri, ignore = "drives the ETW DDIs through ndis-emu")]
    fn every_event_kind_decodes_to_its_names_and_values() {
        let mut emu = ndis_emu::Emulator::new();
        register();
        assert!(!filter().enabled, "no session yet");
        emu.etw_enable(PROVIDER_ID, WINEVENT_LEVEL_VERBOSE, keyword::ALL, 0);
        assert_eq!(
            filter(),
            Filter {
                enabled: true,
                level: WINEVENT_LEVEL_VERBOSE,
                match_any: keyword::ALL,
                match_all: 0
            },
            "the enable callback kept the session's request"
        );
        let cases = every_kind();
        for (event, _) in &cases {
            emit(event);
        }
        let captured = emu.etw_events();
        assert_eq!(captured.len(), cases.len());
        for ((event, expected), c) in cases.iter().zip(&captured) {
            let kind = kind_of(event);
            let d = decode(c).unwrap_or_else(|e| panic!("{}: {e}", kind.name));
            assert_eq!(d.provider, crate::etw::PROVIDER_NAME);
            assert_eq!(d.name, kind.name);
            assert_eq!((d.level, d.keyword, d.channel), (kind.level, kind.keyword, 11));
            let got: std::vec::Vec<(&str, &FieldValue)> = d.fields.iter().map(|(n, _, v)| (n.as_str(), v)).collect();
            let want: std::vec::Vec<(&str, &FieldValue)> = expected.iter().map(|(n, v)| (*n, v)).collect();
            assert_eq!(got, want, "{}", kind.name);
        }
        let mut names: std::vec::Vec<&str> = cases.iter().map(|(e, _)| kind_of(e).name).collect();
        names.dedup();
        assert_eq!(names, KINDS.map(|k| k.name), "every kind of the catalogue, once");
        unregister();
        assert!(emu.finish().is_clean());
    }

    /// With no session, or a session that wants only warnings about
    /// refusals, an event it does not want costs no EtwWriteTransfer (the
    /// gate is before any descriptor is built) and is not captured; the
    /// wanted one is. After the session stops, the callback's DISABLE turns
    /// writing off again.
    #[test]
    #[cfg_attr(miri, ignore = "drives the ETW DDIs through ndis-emu")]
    fn nothing_is_written_while_no_session_wants_it() {
        let mut emu = ndis_emu::Emulator::new();
        register();
        let cases = every_kind();
        let before = writes();
        for (event, _) in &cases {
            emit(event);
        }
        assert_eq!(writes(), before, "no session: no EtwWriteTransfer");

        emu.etw_enable(PROVIDER_ID, WINEVENT_LEVEL_WARNING, keyword::REFUSAL, 0);
        for (event, _) in &cases {
            emit(event);
        }
        assert_eq!(
            writes(),
            before + 1,
            "only the refusal passes level WARNING, keyword REFUSAL"
        );
        let captured = emu.etw_events();
        assert_eq!(captured.len(), 1);
        assert_eq!(decode(&captured[0]).map(|d| d.name).as_deref(), Ok("Refusal"));

        emu.etw_disable();
        assert!(!filter().enabled);
        for (event, _) in &cases {
            emit(event);
        }
        assert_eq!(writes(), before + 1, "disabled again");
        unregister();
        assert!(emu.finish().is_clean());
    }
}
