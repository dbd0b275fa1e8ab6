//! NDIS callbacks about the client core's objects, routed to the core.
//!
//! The ProtocolXxxContext covclient passes NDIS for a core object (a SAP,
//! VC or party) is the object's covclient-abi handle value itself: NDIS
//! treats a context as opaque, and the handle's tag, kind and generation
//! let [`handle_of`] tell a core object's context from anything else
//! (binding contexts are pool addresses, whose top byte is never the tag
//! 0xC7 on x64 or ARM64 kernel address spaces) and refuse a stale one, with
//! nothing dereferenced. `calls` hands NDIS these values ([`ctx_of`]); the
//! objects' NDIS handles and blocks are in their contexts (`objects`).
//!
//! Must not: dereference a context, or complete IRPs under the lock.

use covclient_abi::{Handle, HandleKind};
use ndis_sys::{NDIS_HANDLE, NDIS_STATUS};

use super::control::locked;
use super::waiter;
use crate::core::incoming::Completion;

/// The core handle `ctx` carries, if it is a handle of `kind`.
pub(super) fn handle_of(ctx: NDIS_HANDLE, kind: HandleKind) -> Option<Handle> {
    // CAST: a pointer-sized value widened to the handle's 64 bits.
    Handle::parse(ctx.addr() as u64, &[kind]).ok()
}

/// The ProtocolXxxContext covclient passes NDIS for the core object `h`:
/// the handle's value (never dereferenced: the module's rule).
pub(super) fn ctx_of(h: Handle) -> NDIS_HANDLE {
    core::ptr::without_provenance_mut(usize::try_from(h.raw()).unwrap_or(0))
}

/// An NDIS_STATUS as the ABI carries it.
pub(super) const fn status(s: NDIS_STATUS) -> u32 {
    // CAST: the same 32 bits.
    s as u32
}

/// Applies `c` to the core and wakes the open it concerns. `false` when the
/// core refused it (an object it does not hold or not waiting for this:
/// NDIS broke the protocol; the caller traces it).
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn complete(c: Completion) -> bool {
    match locked(|inner| inner.core.complete(c)) {
        Some(Ok(wake)) => {
            if let Some(file) = wake {
                waiter::wake(file);
            }
            true
        }
        _ => false,
    }
}

/// Routes a callback whose context is a `kind` handle: `make` builds the
/// completion from it. `false` if the context is not one, or the core
/// refused.
pub(super) fn on(ctx: NDIS_HANDLE, kind: HandleKind, make: impl FnOnce(Handle) -> Completion) -> bool {
    handle_of(ctx, kind).is_some_and(|h| complete(make(h)))
}
