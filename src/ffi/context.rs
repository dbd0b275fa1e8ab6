//! The adapter context: allocated from nonpaged pool with its own tag,
//! handed to NDIS as `MiniportAdapterContext`, recovered and checked on every
//! handler entry, freed at halt or on a failed initialize.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::ctrl_path::{AdapterInfo, HardwareStatus};

use ndis_sys::*;

use super::sync::SpinLock;
use crate::adapter::{AdapterEvent, AdapterState, InvalidTransition};
use crate::pool::{SIG_ADAPTER, SIG_FREED, TAG_ADAPTER};

/// Per-adapter state.
///
/// INVARIANT: `signature == SIG_ADAPTER` from `allocate` until `free`, which
/// overwrites it with `SIG_FREED`; `miniport_handle` is the NdisMiniportHandle
/// of MiniportInitializeEx.
#[repr(C)]
pub(crate) struct AdapterContext {
    signature: AtomicU32,
    miniport_handle: NDIS_HANDLE,
    state: SpinLock<AdapterState>,
    /// OID_GEN_CO_PROTOCOL_OPTIONS as last set.
    protocol_options: AtomicU32,
}

impl AdapterContext {
    /// Allocates and initializes a context for the adapter whose NDIS handle
    /// is `miniport_handle`. Runs at IRQL = PASSIVE_LEVEL.
    pub(crate) fn allocate(miniport_handle: NDIS_HANDLE) -> Result<NonNull<Self>, NDIS_STATUS> {
        // CAST: the context is a few dozen bytes.
        let size = core::mem::size_of::<Self>() as UINT;
        // SAFETY: NdisAllocateMemoryWithTagPriority takes the miniport handle
        // NDIS gave MiniportInitializeEx and runs at <= DISPATCH_LEVEL.
        let raw = unsafe { NdisAllocateMemoryWithTagPriority(miniport_handle, size, TAG_ADAPTER, NormalPoolPriority) };
        let Some(this) = NonNull::new(raw.cast::<Self>()) else {
            return Err(NDIS_STATUS_RESOURCES);
        };
        let value = Self {
            signature: AtomicU32::new(SIG_ADAPTER),
            miniport_handle,
            state: SpinLock::new(AdapterState::Initializing),
            protocol_options: AtomicU32::new(0),
        };
        // SAFETY: `this` is a fresh, exclusively owned pool block of the right
        // size; pool blocks are 16-byte aligned, more than Self needs.
        unsafe { this.as_ptr().write(value) };
        // SAFETY: just initialized above.
        let this_ref = unsafe { this.as_ref() };
        // SAFETY: the lock is at its final address (the pool block) and unused.
        unsafe { this_ref.state.init() };
        // INVARIANT: signature set, handle stored, lock initialized.
        Ok(this)
    }

    /// Recovers the context NDIS hands back, refusing null and anything
    /// without the live adapter signature.
    ///
    /// # Safety
    /// `ctx` is null or a MiniportAdapterContext this driver gave NDIS (a
    /// pointer to readable memory of at least `size_of::<Self>()` bytes).
    pub(crate) unsafe fn from_context<'a>(ctx: NDIS_HANDLE) -> Option<&'a Self> {
        let this = NonNull::new(ctx.cast::<Self>())?;
        // SAFETY: non-null and readable by the precondition.
        let this = unsafe { this.as_ref() };
        (this.signature.load(Ordering::Acquire) == SIG_ADAPTER).then_some(this)
    }

    /// The NdisMiniportHandle of this adapter.
    pub(crate) fn miniport_handle(&self) -> NDIS_HANDLE {
        self.miniport_handle
    }

    /// Applies a lifecycle event; the state is unchanged when it is refused.
    pub(crate) fn transition(&self, event: AdapterEvent) -> Result<AdapterState, InvalidTransition> {
        let mut state = self.state.lock();
        let next = state.on(event)?;
        *state = next;
        Ok(next)
    }

    /// The adapter as the OID paths see it, now. The fabric carries no
    /// traffic yet (the data path is issue #4), so the counters are zero.
    pub(crate) fn info(&self) -> AdapterInfo {
        let state = *self.state.lock();
        AdapterInfo {
            hardware_status: HardwareStatus::from(state),
            ..AdapterInfo::covmini()
        }
    }

    /// Stores OID_GEN_CO_PROTOCOL_OPTIONS.
    pub(crate) fn set_protocol_options(&self, options: u32) {
        self.protocol_options.store(options, Ordering::Release);
    }

    /// Releases the context. Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// `this` came from [`Self::allocate`], no reference to it is used after
    /// this call, and NDIS will not hand it back again.
    pub(crate) unsafe fn free(this: NonNull<Self>) {
        // SAFETY: `this` is a live context (precondition).
        let this_ref = unsafe { this.as_ref() };
        // SAFETY: no guard exists and the lock is not used again (precondition).
        unsafe { this_ref.state.free() };
        // INVARIANT: the signature changes only here, at the end of life, so a
        // stale pointer is recognisable.
        this_ref.signature.store(SIG_FREED, Ordering::Release);
        let handle = this_ref.miniport_handle;
        let p = this.as_ptr();
        // SAFETY: the block came from NdisAllocateMemoryWithTagPriority with
        // this handle and tag (allocate) and is not used afterwards.
        unsafe { NdisFreeMemoryWithTagPriority(handle, p.cast(), TAG_ADAPTER) };
    }
}
