//! The adapter context: allocated from nonpaged pool with its own tag,
//! handed to NDIS as `MiniportAdapterContext`, recovered and checked on every
//! handler entry, freed at halt or on a failed initialize.
//!
//! Owns: the context's memory and the order its parts are made and
//! released in (each part's own rules are its type's: the lifecycle gate
//! `crate::adapter`, the call manager, the contexts' lists, the receive
//! pool `super::rx_pool`, the counters, the halt wait `super::halt_wait`,
//! the flight recorder), and the accessors the handlers reach them by.
//!
//! Must not: decide anything a part decides, hold a lock across an NDIS
//! call, or be taken apart while a handler runs on it (`free`'s
//! preconditions).

use core::mem::{offset_of, size_of};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::ctrl_path::{AdapterInfo, HardwareStatus};

use ndis_sys::*;

use super::call_block::CallBlock;
use super::cm_context::{AfContext, Cm, PartyContext, SapContext, VcContext};
use super::cm_lists::CmLists;
use super::counters::Counters;
use super::flight::{DumpHook, Ring};
use super::halt_wait::{HaltWait, Running};
use super::lookaside::Lookaside;
use super::rx_pool::RxPool;
use super::sync::{SpinLock, SpinLockGuard};
use crate::adapter::{AdapterEvent, AdapterState, InvalidTransition, Lifecycle, PauseOutcome};
use crate::call_manager::CallManager;
use crate::pool::{SIG_ADAPTER, SIG_FREED, TAG_ADAPTER};

/// The adapter's call manager as initialization writes it: built at compile
/// time and copied into place, never assembled on the stack.
#[expect(
    clippy::declare_interior_mutable_const,
    reason = "copied once into the adapter context by value, never borrowed"
)]
const EMPTY_CM: SpinLock<Cm> = SpinLock::new(CallManager::new());

/// Writes one field of a context under construction.
///
/// # Safety
/// `base` points to writable, suitably aligned storage for an `S`, and
/// `offset` is the offset of a field of type `T` in `S`.
#[inline(always)]
unsafe fn init_field<S, T>(base: *mut S, offset: usize, value: T) {
    let field = base.cast::<u8>().wrapping_add(offset).cast::<T>();
    // SAFETY: in bounds and aligned for T (precondition); nothing to drop.
    unsafe { field.write(value) };
}

/// Per-adapter state.
///
/// INVARIANT: `signature == SIG_ADAPTER` from `allocate` until `free`, which
/// overwrites it with `SIG_FREED`; `miniport_handle` is the NdisMiniportHandle
/// of MiniportInitializeEx; HaltEx frees the context only after `halt`'s
/// wait returned (every count of it given back, see [`HaltWait`]).
#[repr(C)]
pub(crate) struct AdapterContext {
    signature: AtomicU32,
    miniport_handle: NDIS_HANDLE,
    /// The lifecycle state and the count of send NBLs held (the data-path
    /// gate of `crate::adapter`): taken alone, never with another lock.
    state: SpinLock<Lifecycle>,
    /// OID_GEN_CO_PROTOCOL_OPTIONS as last set.
    protocol_options: AtomicU32,
    /// Every AF open, SAP and VC of the adapter, and the links between them
    /// (the SAP table, caller/callee pairs). Handlers lock it only to ask the
    /// core what to do, never across a call into NDIS.
    cm: SpinLock<Cm>,
    /// One lookaside list per kind of call-manager context, each with its
    /// tag, and the call blocks'.
    lists: CmLists,
    /// The data path's receive NBLs.
    rx: RxPool,
    /// Adapter-wide traffic counters.
    counters: Counters,
    /// What MiniportHaltEx waits for: the call-manager handlers running
    /// now ([`Running`]), and from HaltEx's start HaltEx itself while it
    /// notifies, and each AF it waits for (each released by the core's
    /// `Effect::HaltAfDone`).
    halt: HaltWait,
    /// The flight recorder: the adapter's last events (`ffi::flight`),
    /// written lock-free at any IRQL.
    flight: Ring,
    /// The flight recorder's bug-check callback registration (`ffi::flight`).
    dump: DumpHook,
}

// `allocate` writes the context into a pool block, which is aligned to
// MEMORY_ALLOCATION_ALIGNMENT (16 on x64 and ARM64) and no more: the context
// must need no more than that (the lookaside lists, which need 64 or 128,
// are byte buffers inside it for this reason).
const _: () = assert!(core::mem::align_of::<AdapterContext>() <= 16);

impl AdapterContext {
    /// Allocates and initializes a context for the adapter whose NDIS handle
    /// is `miniport_handle`. Runs at IRQL = PASSIVE_LEVEL.
    pub(crate) fn allocate(miniport_handle: NDIS_HANDLE) -> Result<NonNull<Self>, NDIS_STATUS> {
        // CAST: the context is a few kilobytes (the call manager's tables).
        let size = core::mem::size_of::<Self>() as UINT;
        // SAFETY: NdisAllocateMemoryWithTagPriority takes the miniport handle
        // NDIS gave MiniportInitializeEx and runs at <= DISPATCH_LEVEL.
        let raw = unsafe { NdisAllocateMemoryWithTagPriority(miniport_handle, size, TAG_ADAPTER, NormalPoolPriority) };
        let Some(this) = NonNull::new(raw.cast::<Self>()) else {
            return Err(NDIS_STATUS_RESOURCES);
        };
        let p = this.as_ptr();
        // SAFETY: `p` is a fresh pool block of size_of::<Self>() bytes, so
        // writable for a Self, that no other CPU can reach (NDIS gets it only
        // when this returns), 16-byte aligned (pool's
        // MEMORY_ALLOCATION_ALIGNMENT, asserted enough for Self above).
        unsafe { Self::write_fields(p, miniport_handle) };
        // SAFETY: `this` is non-null and aligned, and write_fields wrote
        // every field of Self, so it points to a valid Self; the pool block
        // lives until `free`, and from here on the context is only reached
        // through shared references (its mutable parts are atomics, locks and
        // UnsafeCells).
        let this_ref = unsafe { this.as_ref() };
        // SAFETY: init_parts' precondition: called once, here, before NDIS
        // (or any handler) has the context, by MiniportInitializeEx
        // (PASSIVE_LEVEL), with the context in the pool block, which never
        // moves and is freed only by `free`.
        unsafe { this_ref.init_parts() };
        this_ref.flight.init(p as usize);
        // INVARIANT: signature set, handle stored, locks, lists and the halt
        // event initialized.
        Ok(this)
    }

    /// Writes every field of the context at `p`, each from a constant or a
    /// small value: built as one value it would be a multi-kilobyte stack
    /// temporary (and the ARM64 image has no __chkstk to probe it with).
    /// Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// `p` is a fresh pool block of `size_of::<Self>()` bytes, 16-byte
    /// aligned, that no other CPU can reach.
    unsafe fn write_fields(p: *mut Self, miniport_handle: NDIS_HANDLE) {
        // SAFETY: init_field's precondition, for this call and the ones
        // below: `p` is writable for a Self (precondition); it is 16-byte
        // aligned, which no field of Self exceeds (the lookaside lists,
        // which need 64 or 128, are byte buffers for that reason);
        // `signature` is an `AtomicU32`, the type of the value.
        unsafe { init_field(p, offset_of!(Self, signature), AtomicU32::new(SIG_ADAPTER)) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is an `NDIS_HANDLE`, the type of `miniport_handle`.
        unsafe { init_field(p, offset_of!(Self, miniport_handle), miniport_handle) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `SpinLock<Lifecycle>`, the type of `state`.
        unsafe { init_field(p, offset_of!(Self, state), SpinLock::new(Lifecycle::new())) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is an `AtomicU32`, the type of `protocol_options`.
        unsafe { init_field(p, offset_of!(Self, protocol_options), AtomicU32::new(0)) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `SpinLock<Cm>` (EMPTY_CM's type), the type of `cm`.
        unsafe { init_field(p, offset_of!(Self, cm), EMPTY_CM) };
        // SAFETY: CmLists::write's precondition: `p` is writable, 16-byte
        // aligned for a Self and unreachable by other CPUs (precondition), so
        // its `lists` field is (repr(C): at its offset, inside the block).
        unsafe { CmLists::write(p.cast::<u8>().wrapping_add(offset_of!(Self, lists)).cast()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is an `RxPool`, the type of `rx`.
        unsafe { init_field(p, offset_of!(Self, rx), RxPool::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `Counters`, the type of `counters`.
        unsafe { init_field(p, offset_of!(Self, counters), Counters::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `HaltWait`, the type of `halt`.
        unsafe { init_field(p, offset_of!(Self, halt), HaltWait::new()) };
        // SAFETY: `p` is the fresh pool block, writable for a Self, so the
        // `size_of::<Ring>()` bytes at `flight`'s offset are inside it; all
        // zero bytes are a valid Ring (atomics), empty until `init` below.
        unsafe {
            p.cast::<u8>()
                .wrapping_add(offset_of!(Self, flight))
                .write_bytes(0, size_of::<Ring>())
        };
        // SAFETY: `p` is the fresh pool block, writable for a Self, so the
        // `size_of::<DumpHook>()` bytes at `dump`'s offset are inside it; all
        // zero is a valid DumpHook (NULL pointers, no routine,
        // State = BufferEmpty, not registered).
        unsafe {
            p.cast::<u8>()
                .wrapping_add(offset_of!(Self, dump))
                .write_bytes(0, size_of::<DumpHook>())
        };
    }

    /// Initializes the locks, lists, receive pool and halt event of a
    /// context whose fields are written. Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// Called once, from `allocate` in MiniportInitializeEx, before NDIS
    /// (or any handler) has the context, which is at its final address.
    unsafe fn init_parts(&self) {
        // SAFETY: SpinLock::init 1: called once, here, before any `lock`
        // (only this type's methods take `state`, and NDIS cannot call one
        // before it has the context), with the lock inside the pool block,
        // which never moves and is freed only after `free` frees the lock;
        // 2: MiniportInitializeEx, allocate's caller, runs at PASSIVE_LEVEL.
        unsafe { self.state.init() };
        // SAFETY: SpinLock::init 1: called once, here, before any `lock`
        // (`cm()` needs the context, which no handler has before allocate
        // returns), with the lock inside the pool block, which never moves
        // and is freed only after `free` frees the lock; 2: PASSIVE_LEVEL
        // (MiniportInitializeEx).
        unsafe { self.cm.init() };
        // SAFETY: CmLists::init's precondition: called once, here, from
        // allocate in MiniportInitializeEx (PASSIVE_LEVEL), before any
        // handler can take from a list (NDIS has no context yet), with the
        // lists in the pool block, which never moves and is freed only after
        // `free` deletes them.
        unsafe { self.lists.init() };
        // SAFETY: RxPool::init's precondition: called once, here, from
        // MiniportInitializeEx (allocate's only caller), with the pool inside
        // the pool block, which never moves and is freed only after `free`
        // releases the pool.
        unsafe { self.rx.init() };
        // SAFETY: HaltWait::init's precondition: called once, here, before
        // any other method (those come from handlers and HaltEx, and NDIS
        // has no context yet), with the wait inside the pool block, which
        // never moves while the context lives; no CPU can be waiting.
        unsafe { self.halt.init() };
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
        self.observed(|l| l.transition(event))
    }

    /// Runs `op` on the lifecycle under its lock, then records the state
    /// change it made, if any, in the flight recorder (after the unlock).
    fn observed<R>(&self, op: impl FnOnce(&mut Lifecycle) -> R) -> R {
        let (from, result, to) = {
            let mut l = self.state.lock();
            let from = l.state();
            let result = op(&mut l);
            (from, result, l.state())
        };
        if from != to {
            self.record(crate::flight::Event::Transition {
                machine: crate::flight::event::Machine::Adapter,
                object: core::ptr::from_ref(self) as usize,
                from: crate::flight::event::AdapterStateCode::from(from).code(),
                to: crate::flight::event::AdapterStateCode::from(to).code(),
            });
        }
        result
    }

    /// MiniportPause: Complete (Paused now) or Pending (Pausing until the
    /// last send in flight is released, see [`Self::release_sends`]).
    pub(crate) fn pause(&self) -> Result<PauseOutcome, InvalidTransition> {
        self.observed(Lifecycle::pause)
    }

    /// Admits `sends` send NBLs into the data path; Err(state) while the
    /// adapter is not Running (the sends are then refused, each with
    /// NDIS_STATUS_PAUSED). Runs at IRQL <= DISPATCH_LEVEL.
    pub(crate) fn admit_sends(&self, sends: u32) -> Result<(), AdapterState> {
        self.state.lock().admit(sends)
    }

    /// `sends` admitted send NBLs were completed (their
    /// NdisMCoSendNetBufferListsComplete already made). When that was the
    /// last of a pending pause, completes it with NdisMPauseComplete, once,
    /// with no lock held. Runs at IRQL <= DISPATCH_LEVEL.
    pub(crate) fn release_sends(&self, sends: u32) {
        if sends == 0 {
            return;
        }
        let completes_pause = self.observed(|l| l.release(sends));
        if completes_pause {
            // Recorded first: once the pause is complete NDIS may halt the
            // adapter and free this context on another CPU, so nothing here
            // touches `self` after the call (NdisMPauseComplete returns no
            // status to record).
            let handle = self.miniport_handle;
            self.record(crate::flight::Event::Ddi {
                ddi: crate::flight::event::Ddi::NdisMPauseComplete,
                object: core::ptr::from_ref(self) as usize,
                status: NDIS_STATUS_SUCCESS,
            });
            // SAFETY: the adapter's own handle; the pause returned PENDING
            // (the gate says Pausing) and this is its only completion (the
            // gate moved to Paused under its lock); <= DISPATCH_LEVEL, as
            // NdisMPauseComplete allows. `self` is not touched afterwards.
            unsafe { NdisMPauseComplete(handle) };
        }
    }

    /// The adapter as the OID paths see it, now, with its traffic counters.
    pub(crate) fn info(&self) -> AdapterInfo {
        let state = self.state.lock().state();
        AdapterInfo {
            hardware_status: HardwareStatus::from(state),
            stats: self.counters.snapshot(),
            ..AdapterInfo::covmini()
        }
    }

    /// Stores OID_GEN_CO_PROTOCOL_OPTIONS.
    pub(crate) fn set_protocol_options(&self, options: u32) {
        self.protocol_options.store(options, Ordering::Release);
    }

    /// Records `event` in the adapter's flight recorder (and every other
    /// sink, see [`super::flight::emit`]). Any IRQL, no lock.
    pub(crate) fn record(&self, event: crate::flight::Event) {
        super::flight::emit(&self.flight, event);
    }

    /// covmini made the call `ddi` on `object` (an NDIS handle) with the
    /// outcome `status` (a completion's status, SUCCESS for a call that has
    /// none): records it. Any IRQL.
    pub(crate) fn called(&self, ddi: crate::flight::event::Ddi, object: NDIS_HANDLE, status: NDIS_STATUS) {
        super::flight::completed(&self.flight, ddi, object, status);
    }

    /// covmini called `ddi` on `object`, which returned `ret`: records it and
    /// passes `ret` on. Any IRQL.
    pub(crate) fn ddi(&self, ddi: crate::flight::event::Ddi, object: NDIS_HANDLE, ret: NDIS_STATUS) -> NDIS_STATUS {
        super::flight::ddi(&self.flight, ddi, object, ret)
    }

    /// The adapter's flight recorder ring.
    pub(crate) fn flight(&self) -> &Ring {
        &self.flight
    }

    /// The adapter's bug-check callback registration.
    pub(crate) fn dump_hook(&self) -> &DumpHook {
        &self.dump
    }

    /// The adapter whose [`DumpHook`] record `record` is, if it is a live
    /// adapter's. Any IRQL (the bug-check callback's HIGH_LEVEL included).
    ///
    /// # Safety
    /// `record` is the record of a registered DumpHook (so it lies inside
    /// an allocated adapter context).
    pub(crate) unsafe fn from_dump_record<'a>(record: PKBUGCHECK_REASON_CALLBACK_RECORD) -> Option<&'a Self> {
        // The record is the first field of the hook (repr(C)).
        let base = record
            .cast::<u8>()
            .wrapping_sub(offset_of!(Self, dump))
            .cast::<core::ffi::c_void>();
        // SAFETY: `base` is the start of the adapter context holding the
        // hook (precondition), readable for a whole context.
        unsafe { Self::from_context(base) }
    }

    /// The call manager, locked. Runs at IRQL <= DISPATCH_LEVEL; the guard
    /// must be dropped before any call into NDIS.
    pub(crate) fn cm(&self) -> SpinLockGuard<'_, Cm> {
        self.cm.lock()
    }

    /// The data path's receive NBLs.
    pub(crate) fn rx(&self) -> &RxPool {
        &self.rx
    }
    /// Adapter-wide traffic counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The AF contexts' list.
    pub(crate) fn af_list(&self) -> &Lookaside<AfContext> {
        &self.lists.afs
    }
    /// The SAP contexts' list.
    pub(crate) fn sap_list(&self) -> &Lookaside<SapContext> {
        &self.lists.saps
    }
    /// The VC contexts' list.
    pub(crate) fn vc_list(&self) -> &Lookaside<VcContext> {
        &self.lists.vcs
    }
    /// The party contexts' list.
    pub(crate) fn party_list(&self) -> &Lookaside<PartyContext> {
        &self.lists.parties
    }
    /// The call blocks' list.
    pub(crate) fn call_list(&self) -> &Lookaside<CallBlock> {
        &self.lists.calls
    }

    // --- Halt's wait (`super::halt_wait` has the rules) ----------------------

    /// MiniportHaltEx begins ([`HaltWait::begin`]). Runs at PASSIVE_LEVEL.
    pub(crate) fn begin_halt(&self) {
        self.halt.begin();
    }

    /// Adds `holds` AFs for HaltEx to wait for ([`HaltWait::hold`]), with
    /// the call manager locked.
    pub(crate) fn hold_for_halt(&self, holds: u32) {
        self.halt.hold(holds);
    }

    /// A call-manager handler starts running on the adapter
    /// ([`HaltWait::running`]): the guard must be its very last drop. Not
    /// taken on the data path.
    pub(crate) fn running(&self) -> Running {
        self.halt.running()
    }

    /// One count of the halt wait is given back ([`HaltWait::release`]).
    /// Runs at IRQL <= DISPATCH_LEVEL, with no lock held.
    ///
    /// # Safety
    /// `this` is a live adapter context, and the caller meets
    /// [`HaltWait::release`]'s precondition for its `halt`.
    pub(crate) unsafe fn halt_release(this: *const Self) -> bool {
        // SAFETY: `this` is live (precondition), so its `halt` is: a place
        // projection, no reference made.
        let halt = unsafe { &raw const (*this).halt };
        // SAFETY: the HaltWait of a live context; the caller gives back a
        // count it holds and touches the context no more (precondition).
        unsafe { HaltWait::release(halt) }
    }

    /// Whether HaltEx has begun (for a completion that came outside halt).
    pub(crate) fn halting(&self) -> bool {
        self.halt.halting()
    }

    /// MiniportHaltEx's wait ([`HaltWait::wait`]), without timeout. Runs at
    /// IRQL = PASSIVE_LEVEL with no lock held.
    pub(crate) fn wait_for_halt(&self) -> bool {
        self.halt.wait()
    }

    /// Releases the context. Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// 1. `this` came from [`Self::allocate`] and is freed once;
    /// 2. no reference to it is used during or after this call (no handler
    ///    is running on it), and NDIS will not hand it back again;
    /// 3. every context and call block taken from its lists went back (every
    ///    AF closed, every SAP, VC, party and call gone), as at the end of
    ///    HaltEx's wait, or none was ever taken (a failed initialize).
    pub(crate) unsafe fn free(this: NonNull<Self>) {
        // SAFETY: `this` came from `allocate` (precondition 1), which wrote
        // every field, and the block is freed only at the end of this
        // function; no one mutates the context except through its atomics,
        // locks and UnsafeCells, so a shared reference is sound.
        let this_ref = unsafe { this.as_ref() };
        // The kernel must not call the dump callback into a freed context.
        if this_ref.dump.deregister() {
            this_ref.record(crate::flight::Event::Ddi {
                ddi: crate::flight::event::Ddi::KeDeregisterBugCheckReasonCallback,
                object: this.as_ptr() as usize,
                status: NDIS_STATUS_SUCCESS,
            });
        }
        // The VC table's chunks (pool tag CvmT in the kernel images) go back
        // before the lock that guards them is freed.
        this_ref.cm.lock().release_vc_table();
        // SAFETY: SpinLock::free: no guard of `state` exists, since each is a
        // temporary inside one of this type's methods (transition, pause,
        // admit_sends, release_sends, info), dropped before it returns, and
        // none is running (precondition 2); the lock is not used again
        // (precondition 2: nothing uses the context after this call).
        unsafe { this_ref.state.free() };
        // SAFETY: SpinLock::free: no guard of `cm` exists: the one taken just
        // above was a temporary, and the handlers' guards (from `cm()`) live
        // inside handlers, none of which is running (precondition 2); the
        // lock is not used again (precondition 2).
        unsafe { this_ref.cm.free() };
        // SAFETY: RxPool::release's precondition: called once (precondition
        // 1: `free` runs once per context), at halt or on a failed initialize
        // after `allocate` ran `rx.init`.
        unsafe { this_ref.rx.release() };
        // SAFETY: CmLists::delete's precondition: called once (precondition
        // 1), after `allocate` initialized the lists; every context and call
        // block went back (precondition 3); nothing uses the lists during or
        // after this call (precondition 2); PASSIVE_LEVEL.
        unsafe { this_ref.lists.delete() };
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
