//! The adapter context: allocated from nonpaged pool with its own tag,
//! handed to NDIS as `MiniportAdapterContext`, recovered and checked on every
//! handler entry, freed at halt or on a failed initialize.

use core::mem::{offset_of, size_of};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::ctrl_path::{AdapterInfo, HardwareStatus};

use ndis_sys::*;

use super::call_block::CallBlock;
use super::cm_context::{AfContext, Cm, PartyContext, SapContext, VcContext};
use super::counters::Counters;
use super::flight::{DumpHook, Ring};
use super::lookaside::Lookaside;
use super::rx_pool::RxPool;
use super::sync::{Event, SpinLock, SpinLockGuard};
use crate::adapter::{AdapterEvent, AdapterState, InvalidTransition, Lifecycle, PauseOutcome};
use crate::call_manager::CallManager;
use crate::pool::{SIG_ADAPTER, SIG_FREED, TAG_ADAPTER, TAG_AF, TAG_CALL, TAG_PARTY, TAG_SAP, TAG_VC};

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

/// The bit of `AdapterContext::halt_count` set from MiniportHaltEx's start;
/// the bits below it count.
const HALTING: u32 = 1 << 31;

/// A call-manager handler running on the adapter (see
/// [`AdapterContext::running`]): the adapter is not freed until it drops.
///
/// INVARIANT: holds one count of `adapter`'s `halt_count`, taken when it was
/// made and given back exactly once, by its drop.
pub(crate) struct Running {
    adapter: *const AdapterContext,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: the count this guard holds keeps HaltEx from freeing the
        // adapter until this call gives it back (the invariant); the guard
        // is dropped last in its handler, so nothing touches the adapter
        // after it.
        let _ = unsafe { AdapterContext::halt_release(self.adapter) };
    }
}

/// Per-adapter state.
///
/// INVARIANT: `signature == SIG_ADAPTER` from `allocate` until `free`, which
/// overwrites it with `SIG_FREED`; `miniport_handle` is the NdisMiniportHandle
/// of MiniportInitializeEx; the bits of `halt_count` below [`HALTING`] are the
/// live [`Running`] guards plus, once HALTING is set, HaltEx's own count while
/// it notifies and the core's halt holds not yet released, and HaltEx frees
/// the context only after they all reached zero.
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
    /// One lookaside list per kind of call-manager context, each with its tag.
    afs: Lookaside<AfContext>,
    saps: Lookaside<SapContext>,
    vcs: Lookaside<VcContext>,
    parties: Lookaside<PartyContext>,
    /// The call blocks of the VCs that carry a call (never the data path's).
    calls: Lookaside<CallBlock>,
    /// The data path's receive NBLs.
    rx: RxPool,
    /// Adapter-wide traffic counters.
    counters: Counters,
    /// What MiniportHaltEx waits for, as a count: the call-manager handlers
    /// running now ([`Running`]), and from HaltEx's start ([`HALTING`] set)
    /// one for HaltEx itself while it notifies, and one per AF it waits for
    /// (each released by the core's `Effect::HaltAfDone`).
    halt_count: AtomicU32,
    /// Set when `halt_count` drops to [`HALTING`] alone (MiniportHaltEx
    /// waits on it).
    halt_done: Event,
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
        // The context is written field by field, each from a constant or a
        // small value: built as one value it would be a multi-kilobyte stack
        // temporary (and the ARM64 image has no __chkstk to probe it with).
        // SAFETY: init_field's precondition, for this call and the twelve
        // below: `p` is a fresh pool block of size_of::<Self>() bytes, so
        // writable for a Self, and no other CPU can reach it (NDIS gets it
        // only when this returns); it is 16-byte aligned (pool's
        // MEMORY_ALLOCATION_ALIGNMENT), which no field of Self exceeds (the
        // lookaside lists, which need 64 or 128, are byte buffers for that
        // reason); `signature` is an `AtomicU32`, the type of the value.
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
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `Lookaside<AfContext>`, the type of `afs`.
        unsafe { init_field(p, offset_of!(Self, afs), Lookaside::<AfContext>::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `Lookaside<SapContext>`, the type of `saps`.
        unsafe { init_field(p, offset_of!(Self, saps), Lookaside::<SapContext>::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `Lookaside<VcContext>`, the type of `vcs`.
        unsafe { init_field(p, offset_of!(Self, vcs), Lookaside::<VcContext>::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `Lookaside<PartyContext>`, the type of `parties`.
        unsafe { init_field(p, offset_of!(Self, parties), Lookaside::<PartyContext>::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `Lookaside<CallBlock>`, the type of `calls`.
        unsafe { init_field(p, offset_of!(Self, calls), Lookaside::<CallBlock>::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is an `RxPool`, the type of `rx`.
        unsafe { init_field(p, offset_of!(Self, rx), RxPool::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is a `Counters`, the type of `counters`.
        unsafe { init_field(p, offset_of!(Self, counters), Counters::new()) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is an `AtomicU32`, the type of `halt_count`.
        unsafe { init_field(p, offset_of!(Self, halt_count), AtomicU32::new(0)) };
        // SAFETY: `p` is the fresh pool block, writable and aligned for Self;
        // the value is an `Event`, the type of `halt_done`.
        unsafe { init_field(p, offset_of!(Self, halt_done), Event::new()) };
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
        // SAFETY: `this` is non-null and aligned, and every field of Self was
        // written just above, so it points to a valid Self; the pool block
        // lives until `free`, and from here on the context is only reached
        // through shared references (its mutable parts are atomics, locks and
        // UnsafeCells).
        let this_ref = unsafe { this.as_ref() };
        // SAFETY: SpinLock::init 1: called once, here, before any `lock`
        // (only this type's methods take `state`, and NDIS cannot call one
        // before it has the context), with the lock inside the pool block,
        // which never moves and is freed only after `free` frees the lock;
        // 2: MiniportInitializeEx, allocate's caller, runs at PASSIVE_LEVEL.
        unsafe { this_ref.state.init() };
        // SAFETY: SpinLock::init 1: called once, here, before any `lock`
        // (`cm()` needs the context, which no handler has before allocate
        // returns), with the lock inside the pool block, which never moves
        // and is freed only after `free` frees the lock; 2: PASSIVE_LEVEL
        // (MiniportInitializeEx).
        unsafe { this_ref.cm.init() };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (AF opens come through NDIS, which has no context yet), with the
        // list inside the pool block, which never moves and is freed only
        // after `free` deletes the list; 2: PASSIVE_LEVEL
        // (MiniportInitializeEx).
        unsafe { this_ref.afs.init(TAG_AF) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a SAP is registered on an open AF, and none can be open yet), with
        // the list inside the pool block, which never moves and is freed only
        // after `free` deletes the list; 2: PASSIVE_LEVEL
        // (MiniportInitializeEx).
        unsafe { this_ref.saps.init(TAG_SAP) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a VC is created on an open AF, and none can be open yet), with the
        // list inside the pool block, which never moves and is freed only
        // after `free` deletes the list; 2: PASSIVE_LEVEL
        // (MiniportInitializeEx).
        unsafe { this_ref.vcs.init(TAG_VC) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a party is added on a VC's call, and no VC exists yet), with the
        // list inside the pool block, which never moves and is freed only
        // after `free` deletes the list; 2: PASSIVE_LEVEL
        // (MiniportInitializeEx).
        unsafe { this_ref.parties.init(TAG_PARTY) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a call block is taken for a call on a VC, and no VC exists yet),
        // with the list inside the pool block, which never moves and is freed
        // only after `free` deletes the list; 2: PASSIVE_LEVEL
        // (MiniportInitializeEx).
        unsafe { this_ref.calls.init(TAG_CALL) };
        // SAFETY: RxPool::init's precondition: called once, here, from
        // MiniportInitializeEx (allocate's only caller), with the pool inside
        // the pool block, which never moves and is freed only after `free`
        // releases the pool.
        unsafe { this_ref.rx.init() };
        // SAFETY: Event::init's precondition: called once, here, before any
        // set or wait (`set_raw` comes only from `halt_release` once
        // `begin_halt` set HALTING, and the wait is HaltEx's), with the event
        // inside the pool block, which never moves while the context lives;
        // no CPU can be waiting, since no other CPU has the context yet.
        unsafe { this_ref.halt_done.init() };
        this_ref.flight.init(p as usize);
        // INVARIANT: signature set, handle stored, locks, lists and the halt
        // event initialized.
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
            // SAFETY: the adapter's own handle; the pause returned PENDING
            // (the gate says Pausing) and this is its only completion (the
            // gate moved to Paused under its lock); <= DISPATCH_LEVEL, as
            // NdisMPauseComplete allows.
            unsafe { NdisMPauseComplete(self.miniport_handle) };
            self.record(crate::flight::Event::Ddi {
                ddi: crate::flight::event::Ddi::NdisMPauseComplete,
                object: core::ptr::from_ref(self) as usize,
                status: NDIS_STATUS_SUCCESS,
            });
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
        &self.afs
    }
    /// The SAP contexts' list.
    pub(crate) fn sap_list(&self) -> &Lookaside<SapContext> {
        &self.saps
    }
    /// The VC contexts' list.
    pub(crate) fn vc_list(&self) -> &Lookaside<VcContext> {
        &self.vcs
    }
    /// The party contexts' list.
    pub(crate) fn party_list(&self) -> &Lookaside<PartyContext> {
        &self.parties
    }
    /// The call blocks' list.
    pub(crate) fn call_list(&self) -> &Lookaside<CallBlock> {
        &self.calls
    }

    // --- Halt's wait ----------------------------------------------------------
    //
    // `halt_count` counts what HaltEx must not free the adapter under: each
    // call-manager handler while it runs (`running`, also outside halt), and
    // once HaltEx begins (`begin_halt` sets HALTING) HaltEx itself while it
    // notifies, and each AF the core decided to wait for (`hold_for_halt`).
    // Each handler's end, each AF the core releases (Effect::HaltAfDone) and
    // the end of HaltEx's notifying take one off (`halt_release`); the one
    // that leaves HALTING alone sets `halt_done`. So HaltEx's wait cannot
    // miss a release that came before it started waiting, nor wake before
    // the last one; and since an AF's release happens inside a handler (or
    // HaltEx), whose own count still holds, the event is set only by a
    // handler's very last act, never while a handler is still running on
    // the adapter (a client's NdisClDeregisterSap may end a pended AF close
    // and then still free the SAP context on its CPU).

    /// MiniportHaltEx begins: from now on the count reaching [`HALTING`]
    /// alone sets `halt_done`; HaltEx counts itself until it has sent its
    /// notifications. Runs at PASSIVE_LEVEL.
    pub(crate) fn begin_halt(&self) {
        self.halt_count.fetch_add(HALTING + 1, Ordering::AcqRel);
    }

    /// Adds `holds` AFs for HaltEx to wait for. Called with the call manager
    /// locked, where the core decided them, so no release can come first.
    pub(crate) fn hold_for_halt(&self, holds: u32) {
        self.halt_count.fetch_add(holds, Ordering::AcqRel);
    }

    /// A call-manager handler starts running on the adapter: HaltEx does not
    /// free the adapter until the returned guard is dropped, which must be
    /// the handler's very last act (declare it first, so it drops last).
    /// Not taken on the data path: NDIS halts only a paused adapter with no
    /// send or receive outstanding, so no data-path handler runs during halt.
    pub(crate) fn running(&self) -> Running {
        self.halt_count.fetch_add(1, Ordering::AcqRel);
        // INVARIANT: one count taken for this guard, given back by its drop.
        Running { adapter: self }
    }

    /// One count of `halt_count` is given back: a handler ended, halt's hold
    /// on an AF was released, or HaltEx finished notifying. The one that
    /// leaves [`HALTING`] alone sets `halt_done`. Returns false, touching
    /// nothing, if no count was held (a core or glue bug). Runs at IRQL <=
    /// DISPATCH_LEVEL, with no lock held.
    ///
    /// # Safety
    /// `this` is a live adapter context. Setting the event lets MiniportHaltEx
    /// free it on another CPU at once, so the caller gives back a count it
    /// holds (so the context lives until this call), holds no reference into
    /// the context across this call unless another count it holds keeps it
    /// alive, and otherwise does not touch it (or any context it owns)
    /// afterwards; this function reaches it only through `this`.
    pub(crate) unsafe fn halt_release(this: *const Self) -> bool {
        // SAFETY: `this` is a live context (precondition: the caller holds a
        // count, so HaltEx cannot free it before the fetch_update below);
        // this reference is last used by that fetch_update, before the set.
        let counter = unsafe { &(*this).halt_count };
        let taken = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n & !HALTING).checked_sub(1).map(|_| n - 1)
        });
        let Ok(before) = taken else {
            return false;
        };
        if before == HALTING + 1 {
            // SAFETY: still live: the caller's count kept it so until the
            // fetch_update (precondition), and HaltEx frees it only after its
            // wait on `halt_done` returns, which needs the set below; a place
            // projection, no reference made.
            let event = unsafe { &raw const (*this).halt_done };
            // SAFETY: the halt event of a live context, initialized in
            // `allocate`; nothing here touches the context after it
            // (precondition), since HaltEx may free it as soon as it is set.
            unsafe { Event::set_raw(event) };
        }
        true
    }

    /// Whether HaltEx has begun (for a completion that came outside halt).
    pub(crate) fn halting(&self) -> bool {
        self.halt_count.load(Ordering::Acquire) & HALTING != 0
    }

    /// MiniportHaltEx's wait for `halt_done`, without timeout. Runs at IRQL =
    /// PASSIVE_LEVEL with no lock held. TRUE once every count was given back.
    pub(crate) fn wait_for_halt(&self) -> bool {
        self.halt_done.wait_forever()
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
        // SAFETY: Lookaside::delete: every AF context went back to the list
        // (precondition 3: every AF was closed), nothing uses the list
        // afterwards (precondition 2), and `free` runs at PASSIVE_LEVEL.
        unsafe { this_ref.afs.delete() };
        // SAFETY: Lookaside::delete: every SAP context went back to the list
        // (precondition 3: every SAP was deregistered), nothing uses the list
        // afterwards (precondition 2), and `free` runs at PASSIVE_LEVEL.
        unsafe { this_ref.saps.delete() };
        // SAFETY: Lookaside::delete: every VC context went back to the list
        // (precondition 3: every VC was deleted), nothing uses the list
        // afterwards (precondition 2), and `free` runs at PASSIVE_LEVEL.
        unsafe { this_ref.vcs.delete() };
        // SAFETY: Lookaside::delete: every party context went back to the
        // list (precondition 3: every party was dropped), nothing uses the
        // list afterwards (precondition 2), and `free` runs at PASSIVE_LEVEL.
        unsafe { this_ref.parties.delete() };
        // SAFETY: Lookaside::delete: every call block went back to the list
        // (precondition 3; a block goes back when its call ends or its VC is
        // freed), nothing uses the list afterwards (precondition 2), and
        // `free` runs at PASSIVE_LEVEL.
        unsafe { this_ref.calls.delete() };
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
