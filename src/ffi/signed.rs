//! [`Signed`]: what every call-manager context (and call block) has, a
//! signature checked whenever NDIS hands it back, and the token the core
//! names it by.
//!
//! Must not: know any context type (each implements the trait in its own
//! module).

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use ndis_sys::NDIS_HANDLE;

use crate::pool::SIG_FREED;

/// What every call-manager context has: a signature checked whenever NDIS
/// hands the context back.
///
/// # Safety
/// Implementers are `repr(C)` with the signature as their first field, so a
/// freed entry (whose first bytes the lookaside list reuses for its link) is
/// never mistaken for a live one.
pub(crate) unsafe trait Signed: Sized {
    /// The live signature.
    const SIGNATURE: u32;
    /// The signature field.
    fn signature(&self) -> &AtomicU32;

    /// Recovers a context NDIS hands back; None for NULL or anything without
    /// the live signature of this kind.
    ///
    /// # Safety
    /// `handle` is NULL or a context of this driver that NDIS got from it
    /// (readable memory of at least `size_of::<Self>()` bytes).
    unsafe fn from_handle<'a>(handle: NDIS_HANDLE) -> Option<&'a Self> {
        let this = NonNull::new(handle.cast::<Self>())?;
        // SAFETY: non-null and readable (precondition).
        let this = unsafe { this.as_ref() };
        (this.signature().load(Ordering::Acquire) == Self::SIGNATURE).then_some(this)
    }

    /// The context named by a core token.
    ///
    /// # Safety
    /// `token` came from [`Self::token`] of a context that is still alive:
    /// the core keeps a token only while the object lives, and emits the
    /// effect that frees it after every other effect naming it.
    unsafe fn from_token<'a>(token: usize) -> &'a Self {
        // SAFETY: a live context's address (precondition).
        unsafe { &*(token as *const Self) }
    }

    /// The token the core stores for this context.
    fn token(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }

    /// The handle NDIS stores for this context.
    fn as_handle(&self) -> NDIS_HANDLE {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// Marks the context dead before it goes back to its list.
    fn kill(&self) {
        self.signature().store(SIG_FREED, Ordering::Release);
    }
}
