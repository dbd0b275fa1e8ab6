//! The flight recorder's producers at the handler boundary: which
//! handlers record their entry and return ([`Span`], the `handler!` macro
//! that generates a recorded handler's one-call `extern` entry, as
//! `ndis_fn!`'s trampoline form does for the others: the body is an
//! ordinary function outside any macro), how a handler's context
//! leads to its adapter ([`Owner`]), and the bug-check callback that hands
//! the adapter's ring to the crash dump ([`dump_callback`]).
//!
//! Owns no state: the ring and the registration record are the adapter's
//! (`ffi::flight`). Must not: allocate, lock, or call any DDI but through
//! the adapter's `record`; the dump callback must touch nothing but the
//! adapter context (it runs at HIGH_LEVEL).

use core::mem::size_of;

use ndis_sys::*;

use super::cm_context::{AfContext, PartyContext, SapContext, Signed, VcContext};
use super::context::AdapterContext;
use super::flight::AsStatus;
use super::halt_wait::Running;
use crate::flight::Event;
use crate::flight::event::Handler;

/// A context NDIS hands a handler, from which the flight recorder finds
/// the adapter to record into.
pub(crate) trait Owner {
    /// The adapter of the context `handle`, if it is a live one of this kind.
    ///
    /// # Safety
    /// `handle` is NULL or a context of this kind that covmini gave NDIS.
    unsafe fn adapter_of<'a>(handle: NDIS_HANDLE) -> Option<&'a AdapterContext>;
}

impl Owner for AdapterContext {
    unsafe fn adapter_of<'a>(handle: NDIS_HANDLE) -> Option<&'a AdapterContext> {
        // SAFETY: NULL or a MiniportAdapterContext covmini gave NDIS
        // (precondition), what from_context requires.
        unsafe { AdapterContext::from_context(handle) }
    }
}

/// Implements [`Owner`] for the call-manager contexts, which know their
/// adapter.
macro_rules! owner_via_adapter {
    ($($ty:ty),*) => {$(
        impl Owner for $ty {
            unsafe fn adapter_of<'a>(handle: NDIS_HANDLE) -> Option<&'a AdapterContext> {
                // SAFETY: NULL or a context of this kind covmini gave NDIS
                // (precondition), what from_handle requires.
                let ctx = unsafe { <$ty as Signed>::from_handle(handle) }?;
                Some(ctx.adapter())
            }
        }
    )*};
}
owner_via_adapter!(AfContext, SapContext, VcContext, PartyContext);

/// A handler running on an adapter, as the flight recorder sees it: made by
/// [`Span::enter`] (records [`Event::Enter`]), ended by [`Span::leave`]
/// (records [`Event::Return`]). It holds a [`Running`] count, so HaltEx
/// cannot free the adapter before the return is recorded.
///
/// INVARIANT: `adapter` is live while `_running` is (the count it holds);
/// `_running` is the last field, so it is dropped last.
pub(crate) struct Span<'a> {
    adapter: &'a AdapterContext,
    handler: Handler,
    object: usize,
    _running: Running,
}

impl Span<'_> {
    /// The handler `handler` was entered on `handle`, a context of kind `T`:
    /// records it, or does nothing (None) if `handle` is not a live one.
    /// Any IRQL.
    ///
    /// # Safety
    /// `handle` is the context NDIS passed the handler: NULL or a context of
    /// kind `T` that covmini gave NDIS.
    pub(crate) unsafe fn enter<'a, T: Owner>(handle: NDIS_HANDLE, handler: Handler) -> Option<Span<'a>> {
        // SAFETY: the precondition is adapter_of's.
        let adapter = unsafe { T::adapter_of(handle) }?;
        let running = adapter.running();
        let object = handle.addr();
        adapter.record(Event::Enter { handler, object });
        Some(Span {
            adapter,
            handler,
            object,
            _running: running,
        })
    }

    /// Whether this span's [`Running`] count is on `adapter`.
    pub(crate) fn holds(&self, adapter: &AdapterContext) -> bool {
        core::ptr::eq(self.adapter, adapter)
    }

    /// The handler returns `ret`: records it, then gives the adapter back.
    pub(crate) fn leave(self, ret: &impl AsStatus) {
        let Self {
            adapter,
            handler,
            object,
            ..
        } = self;
        adapter.record(Event::Return {
            handler,
            object,
            status: ret.as_status(),
        });
    }
}

/// What keeps `adapter` alive while a handler body runs on it, the body
/// being one that `handler!` runs inside `span` (`#[flight(.., span)]`):
/// nothing of its own when the span holds its [`Running`] count on that
/// same adapter, since the `extern` entry leaves the span (which drops
/// the count) only after the body returned, so the span's count covers
/// the whole body; else a count of its own (no span: the recorder did
/// not find a live context, which the body's own check then refuses
/// before it uses an adapter; or a span on another adapter, which a body
/// that validates the same context as the span cannot see). A pointer
/// compare on the handler's path instead of a second count's atomic add
/// and release. Any IRQL.
pub(crate) fn keep_alive(span: Option<&Span<'_>>, adapter: &AdapterContext) -> Option<Running> {
    match span {
        Some(s) if s.holds(adapter) => None,
        _ => Some(adapter.running()),
    }
}

/// Defines the `extern` entry of a handler NDIS calls, as `ndis_fn!`'s
/// trampoline form does, whose entry and return the flight recorder
/// records: `#[flight(Handler, arg: Kind)]` names the [`Handler`] and the
/// argument holding the context (of [`Owner`] kind `Kind`) that leads to the
/// adapter; `=> path` names the ordinary function holding the handler's
/// body (and its documentation). The generated entry records Enter, calls
/// that function with its arguments unchanged, records Return with its
/// status. `#[flight(Handler, arg: Kind, span)]` also passes the body the
/// span first (`Option<&Span>`, None when the context was not live), for
/// [`keep_alive`]: a body that keeps the adapter alive through it needs
/// no [`Running`] count of its own.
///
/// ```text
/// handler! {
///     #[flight(ProtocolCoDeleteVc, vc_ctx: VcContext)]
///     pub(super) unsafe fn delete_vc(vc_ctx: NDIS_HANDLE) -> NDIS_STATUS => delete_vc_impl;
/// }
/// /// ProtocolCoDeleteVc: ... # IRQL ...
/// unsafe fn delete_vc_impl(vc_ctx: NDIS_HANDLE) -> NDIS_STATUS { ... }
/// ```
macro_rules! handler {
    ($(
        #[flight($h:ident, $owner:ident: $kind:ty $(, $span:ident)?)]
        $(#[$m:meta])*
        $vis:vis unsafe fn $name:ident($($arg:ident: $argty:ty),* $(,)?) $(-> $ret:ty)? => $imp:path;
    )*) => {
        ndis_fn! {
            $(
                #[doc = concat!(
                    "The `extern` entry NDIS calls: records entry and return in the flight recorder \
                     around [`", stringify!($imp), "`]."
                )]
                $(#[$m])* $vis unsafe fn $name($($arg: $argty),*) $(-> $ret)? {
                    // SAFETY: `$owner` is the context NDIS passed this
                    // handler, which is what Span::enter requires.
                    let span = unsafe {
                        $crate::ffi::recorder::Span::enter::<$kind>($owner, $crate::flight::event::Handler::$h)
                    };
                    // SAFETY: this handler's own contract (NDIS's call),
                    // which is `$imp`'s, passed on unchanged.
                    let ret = unsafe {
                        $imp($({ let _: &str = stringify!($span); span.as_ref() },)? $($arg),*)
                    };
                    if let Some(span) = span {
                        span.leave(&ret);
                    }
                    ret
                }
            )*
        }
    };
}

ndis_fn! {
    pub(super) unsafe fn dump_callback(
        reason: KBUGCHECK_CALLBACK_REASON,
        record: PKBUGCHECK_REASON_CALLBACK_RECORD,
        data: PVOID,
        length: ULONG,
    ) => dump_callback_impl;
}

/// KbCallbackSecondaryDumpData: hands the adapter's ring to the crash
/// dump, as it is (no copy): on the size query (OutBuffer NULL) and on
/// the data request (OutBuffer = InBuffer) alike, it sets Guid to the
/// adapter's block GUID, OutBuffer to the ring and OutBufferLength to its
/// size ("a driver that must write an amount of data that is larger than
/// InBufferLength can use its own buffer" in nonpaged memory, and "sets
/// OutBuffer to point to the driver's buffer": Writing a Bug Check
/// Callback Routine). It offers nothing when the ring exceeds
/// MaximumAllowed, or for a record that is not an adapter's.
///
/// # IRQL
/// Runs at HIGH_LEVEL, other processors stopped: reads only the adapter
/// context (nonpaged pool), takes no lock, calls nothing, cannot panic.
unsafe fn dump_callback_impl(
    reason: KBUGCHECK_CALLBACK_REASON,
    record: PKBUGCHECK_REASON_CALLBACK_RECORD,
    data: PVOID,
    length: ULONG,
) {
    // CAST: ULONG to usize, lossless.
    let short = (length as usize) < size_of::<KBUGCHECK_SECONDARY_DUMP_DATA>();
    if reason != KbCallbackSecondaryDumpData || data.is_null() || short {
        return;
    }
    // SAFETY: `record` is the one covmini registered, inside an adapter
    // context that stays allocated while registered (it is deregistered
    // before the context is freed).
    let Some(adapter) = (unsafe { super::context::AdapterContext::from_dump_record(record) }) else {
        return;
    };
    // SAFETY: the kernel passes its KBUGCHECK_SECONDARY_DUMP_DATA for
    // this call (length checked above), which only this callback touches
    // during the call.
    let d = unsafe { &mut *data.cast::<KBUGCHECK_SECONDARY_DUMP_DATA>() };
    let (blob, size) = adapter.flight().as_blob();
    // CAST: ULONG to usize, lossless.
    if size > d.MaximumAllowed as usize {
        return;
    }
    d.Guid = adapter.dump_hook().guid();
    d.OutBuffer = blob.cast_mut().cast();
    // CAST: the blob is 8 KiB + 32 bytes.
    d.OutBufferLength = size as ULONG;
}
