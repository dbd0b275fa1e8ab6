//! The ETW TraceLogging provider at run time: registration (EtwRegister and
//! EtwSetInformation at DriverEntry, EtwUnregister at unload), the enable
//! callback that keeps what the listening sessions asked for, and
//! EtwWriteTransfer of one event (`crate::etw` has the provider's identity,
//! the event catalogue and the metadata).
//!
//! **Nothing is done for an event no session wants.** [`etw_event!`] checks
//! the filter the enable callback stored (a few relaxed atomic loads, legal at
//! any IRQL) before it evaluates the event's field expressions or builds a
//! descriptor; only a passing event reaches [`write`]. This is the filtering
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

use crate::etw::{EventKind, Filter, MAX_FIELDS, PROVIDER_ID, PROVIDER_TRAITS, Value};

/// `etw_event!(KIND, field, …)`: writes one event of `KIND` (a
/// `crate::etw::EventKind`) with the fields in catalogue order, only if a
/// session wants it; otherwise the field expressions are not evaluated.
macro_rules! etw_event {
    ($kind:expr $(, $value:expr)* $(,)?) => {{
        let kind: &'static $crate::etw::EventKind = &$kind;
        if $crate::ffi::etw::enabled(kind) {
            $crate::ffi::etw::write(kind, &[$($crate::etw::Value::from($value)),*]);
        }
    }};
}

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

/// Whether some session wants events of `kind`. Any IRQL.
#[inline]
pub(crate) fn enabled(kind: &EventKind) -> bool {
    ENABLED.load(Ordering::Relaxed) && filter().passes(kind.level, kind.keyword)
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
        trace!(
            super::trace::WARN,
            "EtwRegister failed: {:#010x}; no ETW events", status
        );
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
        trace!(super::trace::WARN, "EtwSetInformation(traits) failed: {:#010x}", status);
    }
}

/// Unregisters the provider, if registered. After it returns ETW calls the
/// enable callback no more.
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
        trace!(super::trace::WARN, "EtwUnregister failed: {:#010x}", status);
    }
}

fn set_filter(f: Filter) {
    LEVEL.store(f.level, Ordering::Relaxed);
    MATCH_ANY.store(f.match_any, Ordering::Relaxed);
    MATCH_ALL.store(f.match_all, Ordering::Relaxed);
    ENABLED.store(f.enabled, Ordering::Release);
}

ndis_fn! {
    /// The ETWENABLECALLBACK: keeps what the sessions asked for. ETW merges
    /// the sessions' requests before it calls (evntprov.h: "the ETW runtime
    /// will adjust the Level, MatchAnyKeyword, and MatchAllKeyword parameters
    /// to the least-restrictive values set by any subscribed session").
    /// CAPTURE_STATE is ignored: covmini has no state to rundown.
    ///
    /// # IRQL
    /// PASSIVE_LEVEL (wdm.h: `_IRQL_requires_max_(PASSIVE_LEVEL)`).
    unsafe fn enable_callback(
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
}

/// One descriptor over `len` bytes at `ptr`.
fn descriptor(ptr: *const c_void, len: usize, ty: UCHAR) -> EVENT_DATA_DESCRIPTOR {
    EVENT_DATA_DESCRIPTOR {
        Ptr: ptr as usize as u64,
        // CAST: every field and metadata blob is far below 4 GiB (a CStr
        // here is a static name or reason).
        Size: len as ULONG,
        Type: ty,
        Reserved1: 0,
        Reserved2: 0,
    }
}

/// The descriptor of one field's value, pointing at it in place.
fn field(value: &Value<'_>) -> EVENT_DATA_DESCRIPTOR {
    let none = EVENT_DATA_DESCRIPTOR_TYPE_NONE;
    match value {
        Value::U8(v) => descriptor((v as *const u8).cast(), 1, none),
        Value::U32(v) => descriptor((v as *const u32).cast(), 4, none),
        Value::U64(v) => descriptor((v as *const u64).cast(), 8, none),
        Value::Str(s) => descriptor(s.as_ptr().cast(), s.count_bytes() + 1, none),
    }
}

/// Writes one event with EtwWriteTransfer: the provider traits, the event's
/// metadata, then `values` in the catalogue's field order. Call it through
/// [`etw_event!`], which checks [`enabled`] first. An event whose values do
/// not match its fields (a covmini bug) is dropped, not written garbled.
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
    let mut data = [EVENT_DATA_DESCRIPTOR::default(); 2 + MAX_FIELDS];
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
    for (slot, d) in data.iter_mut().zip(headers.into_iter().chain(values.iter().map(field))) {
        *slot = d;
    }
    let event = kind.descriptor();
    // CAST: 2 + at most MAX_FIELDS (4) descriptors.
    let count = (2 + values.len()) as ULONG;
    // SAFETY: a registered handle; the event descriptor and `data` live on
    // this frame for the call, and every descriptor points at a static or at
    // `values`, which outlive the call; no activity ids (NULL); any IRQL.
    unsafe { EtwWriteTransfer(handle, &raw const event, null(), null(), count, data.as_mut_ptr()) };
}
