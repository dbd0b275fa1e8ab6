//! The data path: a send on one VC is indicated on its peer (or, for an
//! echo call, on the same VC; for a multipoint root, on every connected
//! leaf) without copying a byte and without allocating.
//!
//! # Design
//!
//! * **Receive NBLs.** At the adapter's first AF open (not at
//!   MiniportInitializeEx, so an adapter no client uses allocates nothing)
//!   covmini makes one NBL pool
//!   (`NdisAllocateNetBufferListPool`, fAllocateNetBuffer TRUE, DataSize 0,
//!   tag `CvmR`) and takes [`RX_NBLS`] NBLs from it, each with one empty
//!   NET_BUFFER (`NdisAllocateNetBufferAndNetBufferList` over no MDL). They
//!   wait on an adapter-wide free list (linked through `NBL->Next`, under
//!   its own spin lock) and go back to the pool at MiniportHaltEx. The
//!   send path pops from that list: it never allocates.
//! * **Zero copy.** For each NET_BUFFER of a send NBL one receive NBL is
//!   taken and its own NET_BUFFER re-pointed at the sender's data (MdlChain,
//!   CurrentMdl, CurrentMdlOffset, DataOffset, DataLength): the receiver
//!   reads the sender's MDLs. One NET_BUFFER per receive NBL is the NDIS
//!   receive convention; covmini's own NET_BUFFER (rather than the sender's)
//!   keeps the receiver's ProtocolReserved from landing on the sender's.
//! * **Fan-out.** A multipoint root's send NBL of n NET_BUFFERs takes n
//!   receive NBLs per connected leaf, all at once (every leaf gets it, or
//!   none), each leaf's n indicated together on that leaf's VC.
//! * **Lending and completion.** The receive NBLs of one send NBL for one
//!   target are indicated together (SourceHandle = the target's
//!   NdisVcHandle). The send NBL stays covmini's until the last of them
//!   (over all targets) comes back through
//!   MiniportReturnNetBufferLists, which completes it with SUCCESS. Its
//!   MiniportReserved holds the count of receive NBLs out (`[0]`, updated
//!   atomically: returns may run on several CPUs) and the sender's VC
//!   context (`[1]`); each receive NBL's MiniportReserved holds the send
//!   NBL (`[0]`) and the receiving VC context (`[1]`).
//! * **Running low.** When the free list falls under [`RX_LOW_WATER`], the
//!   indication carries NDIS_RECEIVE_FLAGS_RESOURCES: the NBLs are covmini's
//!   again when the indication returns, go straight back to the list, and
//!   the send completes there and then. A send NBL for which the list has
//!   too few NBLs is completed at once with NDIS_STATUS_RESOURCES.
//! * **Drain.** Every send NBL held pins the sender and every receive NBL
//!   out pins the target in the call manager ([`crate::call_manager`]'s
//!   `route`/`unpin`); a close pends until its VC has no pin, so no VC is
//!   deactivated with a send held or a receive unreturned (contract §3.3),
//!   and a VC named by an NBL in flight is never freed. A send that is
//!   inside the handler but holds no pin yet (it has not reached the call
//!   manager) holds its VC through the handshake below.
//! * **The handshake.** NDIS may call MiniportCoSendNetBufferLists on one
//!   CPU while the VC's close runs on another (the peer hung up, the
//!   client closes). The send's first act, before any lock or NDIS call,
//!   is to count itself in the VC context's handshake word
//!   (`VcContext::enter`); ProtocolCmCloseCall, under the adapter lock,
//!   raises the word's CLOSING bit and reads the count in the same
//!   read-modify-write (`VcContext::begin_close`). The two are atomic
//!   operations on one word, so one comes first: either the close sees the
//!   send and pends (`CallManager::close_call_with_handlers`: the core
//!   waits for the handlers as for a pin, and the last one out,
//!   `Inside::leave`, finishes the close as the last `unpin` does), or the
//!   send sees CLOSING, takes nothing (no count in the word, no pin, no
//!   receive NBL: `VcContext::enter_unless_closing`) and completes at once
//!   with NDIS_STATUS_VC_NOT_ACTIVATED, its completion its only NDIS call,
//!   after which it touches the context no more. Either way no VC is
//!   deactivated, deleted or freed under a send covmini has started on,
//!   and the refusal paths (paused, closing, no route) write counters and
//!   complete on a context that lives. A callee's refusal of a make call
//!   (`ffi::offer`'s `answer_offer`) does the same handshake on both VCs,
//!   which the make call activated before the offer: with handlers inside
//!   one, the last one out deactivates it and fails the make call (the
//!   caller's) or deletes it (the callee's). So does a leaf's refusal of a
//!   party (on the leaf, and on the root of a multipoint make call), and a
//!   make call or add party whose NdisMCmActivateVc failed after another
//!   VC of it was activated. A VC's OID requests
//!   (MiniportCoOidRequest, ProtocolCoOidRequest) and QoS changes
//!   (ProtocolCmModifyCallQoS) take the same first step.
//! * **The window.** No driver can count a call before its handler's
//!   first instruction: between NDIS's call and that instruction the
//!   handler holds nothing. That window is NDIS's. NdisMCmDeactivateVc
//!   "notifies NDIS that there will be no further transfers on a
//!   particular active VC", and "When NdisMCmDeleteVc returns control, the
//!   NdisVcHandle is no longer valid. The MCM driver can release the
//!   resources it allocated to maintain state about the deleted VC"
//!   (Microsoft Learn, NdisMCmDeactivateVc and NdisMCmDeleteVc): a call NDIS
//!   has made with the context but the driver cannot have seen would make
//!   that permission unsound, so NDIS does not have one in flight when the
//!   deletion returns. The drain rule ("Before it deactivates a VC, the
//!   miniport driver must complete any pending transfers on the VC",
//!   NdisMCoDeactivateVcComplete) is about the sends the miniport has,
//!   which is why a send that sees CLOSING completes before it does
//!   anything else. ndis-emu models that window as NDIS's: it dispatches a
//!   send and enters its handler in one step, and until the handler has
//!   come back from a DDI call and made another it neither counts the send
//!   against a deactivation on another CPU nor lets the VC be deleted under
//!   it (ndis-emu's `ffi/data.rs`, "NDIS's window"). covmini counts itself
//!   before its first DDI call; a send that sees CLOSING makes its
//!   completion its only DDI call and writes nothing after it (a count it
//!   gave back after the completion could land in a context the close,
//!   which did not wait for it, freed meanwhile: `tests/send_race.rs`'s
//!   threaded test found that write).
//!
//! * **Pause.** Every send NBL is admitted through the adapter's data-path
//!   gate ([`crate::adapter::Lifecycle`]) and counted until it is
//!   completed. While the adapter is Pausing or Paused a send is refused,
//!   each NBL with NDIS_STATUS_PAUSED (MiniportPause \[D\]), so no new
//!   receive is indicated either. A pause that found sends held pends; the
//!   completion that releases the last of them (here, or in
//!   MiniportReturnNetBufferLists once the protocol returned the last
//!   receive NBL) calls NdisMPauseComplete, after the send completions.
//!
//! No send is ever queued: each one is either completed in the send handler
//! or lent to the receiver, and a lent receive cannot be recalled. So
//! MiniportCancelSend has nothing to cancel.

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use ndis_sys::*;

use super::cm_context::{Signed, VcContext};
use super::context::AdapterContext;
use super::effects::perform;
use super::sync::SpinLock;
use super::trace::{ERROR, WARN};
use crate::call_manager::{MAX_LEAVES, Refusal};
use crate::ctrl_path::Stats;
use crate::pool::TAG_RX;

/// Receive NBLs per adapter, allocated at initialize.
pub(crate) const RX_NBLS: u32 = 256;
/// Under this many free receive NBLs, indications carry
/// NDIS_RECEIVE_FLAGS_RESOURCES.
pub(crate) const RX_LOW_WATER: u32 = 32;

/// Traffic counters (adapter-wide or per VC), updated without a lock.
pub(crate) struct Counters {
    xmit_pdus_ok: AtomicU64,
    xmit_pdus_error: AtomicU64,
    rcv_pdus_ok: AtomicU64,
    bytes_xmit: AtomicU64,
    bytes_rcv: AtomicU64,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            xmit_pdus_ok: AtomicU64::new(0),
            xmit_pdus_error: AtomicU64::new(0),
            rcv_pdus_ok: AtomicU64::new(0),
            bytes_xmit: AtomicU64::new(0),
            bytes_rcv: AtomicU64::new(0),
        }
    }
    fn sent(&self, pdus: u64, bytes: u64) {
        self.xmit_pdus_ok.fetch_add(pdus, Ordering::Relaxed);
        self.bytes_xmit.fetch_add(bytes, Ordering::Relaxed);
    }
    fn failed(&self, pdus: u64) {
        self.xmit_pdus_error.fetch_add(pdus, Ordering::Relaxed);
    }
    fn received(&self, pdus: u64, bytes: u64) {
        self.rcv_pdus_ok.fetch_add(pdus, Ordering::Relaxed);
        self.bytes_rcv.fetch_add(bytes, Ordering::Relaxed);
    }
    /// A snapshot for the OID paths.
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            xmit_pdus_ok: self.xmit_pdus_ok.load(Ordering::Relaxed),
            rcv_pdus_ok: self.rcv_pdus_ok.load(Ordering::Relaxed),
            xmit_pdus_error: self.xmit_pdus_error.load(Ordering::Relaxed),
            bytes_xmit: self.bytes_xmit.load(Ordering::Relaxed),
            bytes_rcv: self.bytes_rcv.load(Ordering::Relaxed),
            ..Stats::ZERO
        }
    }
}

/// The free list: NBL addresses linked through `Next` (usize, so the lock's
/// data is Send).
struct FreeList {
    head: usize,
    count: u32,
}

/// The adapter's receive NBLs.
///
/// INVARIANT: `pool` is the NBL pool (or NULL) from [`Self::init`] until
/// [`Self::release`]; every NBL on the list came from it and is covmini's
/// (not indicated).
pub(crate) struct RxPool {
    pool: AtomicPtr<core::ffi::c_void>,
    allocated: AtomicU32,
    free: SpinLock<FreeList>,
}

impl RxPool {
    pub(crate) const fn new() -> Self {
        Self {
            pool: AtomicPtr::new(null_mut()),
            allocated: AtomicU32::new(0),
            free: SpinLock::new(FreeList { head: 0, count: 0 }),
        }
    }

    /// Initializes the free list's lock. Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// Called once, from MiniportInitializeEx, with the pool at its final
    /// address.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: at its final address, unused (precondition).
        unsafe { self.free.init() };
    }

    /// Makes the NBL pool and its NBLs, once: on the first AF open, so an
    /// adapter no client uses costs nothing (and never on the data path).
    ///
    /// # IRQL and locks
    /// Runs at IRQL <= DISPATCH_LEVEL (ProtocolCmOpenAf). The pool and its
    /// [`RX_NBLS`] NBLs are allocated with no lock held (no allocation
    /// loop under a spin lock, which would hold the CPU at DISPATCH_LEVEL
    /// for all of it); the free-list lock is taken only to publish them.
    /// Should two first opens race on two CPUs, the one that publishes
    /// second frees what it made, so the adapter keeps exactly one pool.
    pub(crate) fn ensure(&self, handle: NDIS_HANDLE) -> Result<(), NDIS_STATUS> {
        if !self.pool.load(Ordering::Acquire).is_null() {
            return Ok(());
        }
        let mut params = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: TRUE,
            ContextSize: 0,
            PoolTag: TAG_RX,
            DataSize: 0,
        };
        // SAFETY: the miniport handle and a parameter block alive for the call.
        let pool = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut params) };
        if pool.is_null() {
            return Err(NDIS_STATUS_RESOURCES);
        }
        // A private list, linked through Next: `tail` is the first NBL made.
        let (mut head, mut tail, mut count): (PNET_BUFFER_LIST, PNET_BUFFER_LIST, u32) = (null_mut(), null_mut(), 0);
        for _ in 0..RX_NBLS {
            // SAFETY: our pool (fAllocateNetBuffer, DataSize 0); no MDL yet.
            let nbl = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null_mut(), 0, 0) };
            if nbl.is_null() {
                // Fewer NBLs: indications go with RESOURCES sooner.
                break;
            }
            // SAFETY: a fresh NBL of ours, on no list yet.
            unsafe { (*nbl).Next = head };
            if tail.is_null() {
                tail = nbl;
            }
            head = nbl;
            count += 1;
        }
        let published = {
            let mut f = self.free.lock();
            if self.pool.load(Ordering::Acquire).is_null() {
                if !tail.is_null() {
                    // SAFETY: the last NBL of the private list, ours.
                    unsafe { (*tail).Next = f.head as PNET_BUFFER_LIST };
                    f.head = head.addr();
                    f.count += count;
                }
                self.allocated.fetch_add(count, Ordering::Relaxed);
                self.pool.store(pool, Ordering::Release);
                true
            } else {
                false
            }
        };
        if !published {
            // Another CPU's first open won: give back what this one made.
            while !head.is_null() {
                // SAFETY: on the private list, ours, never indicated.
                let next = unsafe { (*head).Next };
                // SAFETY: as above; freed once, then dropped from the list.
                unsafe { NdisFreeNetBufferList(head) };
                head = next;
            }
            // SAFETY: every NBL of this pool was freed just above.
            unsafe { NdisFreeNetBufferListPool(pool) };
        }
        Ok(())
    }

    /// Frees the NBLs and the pool. Runs at IRQL = PASSIVE_LEVEL. Should an
    /// NBL still be lent (NDIS never returned it), pool and NBLs are leaked
    /// rather than freed under NDIS's feet.
    ///
    /// # Safety
    /// Called once, at halt (or a failed initialize after [`Self::init`]).
    pub(crate) unsafe fn release(&self) {
        let pool = self.pool.swap(null_mut(), Ordering::AcqRel);
        let out = {
            let f = self.free.lock();
            self.allocated.load(Ordering::Relaxed).saturating_sub(f.count)
        };
        if out > 0 {
            trace!(ERROR, "HaltEx: {} receive NBL(s) never returned: the pool is kept", out);
        } else {
            while let Some(nbl) = self.take() {
                // SAFETY: ours, from the pool, not indicated (INVARIANT).
                unsafe { NdisFreeNetBufferList(nbl) };
            }
            if !pool.is_null() {
                // SAFETY: every NBL of the pool was freed just above.
                unsafe { NdisFreeNetBufferListPool(pool) };
            }
        }
        // SAFETY: no guard exists, the lock is not used again.
        unsafe { self.free.free() };
    }

    /// Pushes an NBL of ours on the list.
    ///
    /// # Safety
    /// `nbl` is one of this pool's NBLs that covmini holds.
    unsafe fn put(&self, nbl: PNET_BUFFER_LIST) {
        let mut f = self.free.lock();
        // SAFETY: ours (precondition).
        unsafe { (*nbl).Next = f.head as PNET_BUFFER_LIST };
        f.head = nbl.addr();
        f.count += 1;
    }

    fn take(&self) -> Option<PNET_BUFFER_LIST> {
        let mut f = self.free.lock();
        let nbl = f.head as PNET_BUFFER_LIST;
        if nbl.is_null() {
            return None;
        }
        // SAFETY: on the list, so ours (INVARIANT).
        f.head = unsafe { (*nbl).Next }.addr();
        f.count -= 1;
        // SAFETY: as above.
        unsafe { (*nbl).Next = null_mut() };
        Some(nbl)
    }

    /// Takes `n` NBLs chained through Next; None (nothing taken) if the list
    /// has fewer. Also says whether the list is now under the low water.
    fn take_chain(&self, n: u32) -> Option<(PNET_BUFFER_LIST, bool)> {
        let mut f = self.free.lock();
        if n == 0 || f.count < n {
            return None;
        }
        let head = f.head as PNET_BUFFER_LIST;
        let mut last = head;
        for _ in 1..n {
            // SAFETY: on the list (INVARIANT); the count says n are there.
            last = unsafe { (*last).Next };
        }
        // SAFETY: as above.
        f.head = unsafe { (*last).Next }.addr();
        // SAFETY: as above: the chain now ends at `last`.
        unsafe { (*last).Next = null_mut() };
        f.count -= n;
        Some((head, f.count < RX_LOW_WATER))
    }
}

/// The `[i]` MiniportReserved slot of an NBL, as an atomic word.
///
/// # Safety
/// `nbl` is an NBL covmini holds (its MiniportReserved is covmini's).
unsafe fn reserved<'a>(nbl: PNET_BUFFER_LIST, i: usize) -> &'a AtomicUsize {
    // SAFETY: a live NBL (precondition): the field's address, no read.
    let slots = unsafe { &raw mut (*nbl).MiniportReserved.0 };
    // In bounds of the two slots (i < 2 at every call site); a PVOID slot is
    // pointer-sized and aligned, as AtomicUsize needs.
    let slot = slots.cast::<usize>().wrapping_add(i);
    // SAFETY: valid, aligned, and only reached atomically while covmini holds it.
    unsafe { AtomicUsize::from_ptr(slot) }
}

/// The NET_BUFFERs of an NBL and their bytes.
///
/// # Safety
/// `nbl` is a live NBL whose NET_BUFFER chain covmini may read.
unsafe fn measure(nbl: PNET_BUFFER_LIST) -> (u32, u64) {
    let (mut n, mut bytes) = (0u32, 0u64);
    // SAFETY: live NBL (precondition).
    let mut nb = unsafe { (*nbl).FirstNetBuffer };
    while !nb.is_null() {
        n = n.saturating_add(1);
        // SAFETY: a NET_BUFFER of the chain.
        let len = unsafe { (*nb).stDataLength } & 0xFFFF_FFFF;
        // CAST: at most 32 bits (masked).
        bytes = bytes.saturating_add(len as u64);
        // SAFETY: as above.
        nb = unsafe { (*nb).Next };
    }
    (n, bytes)
}

/// Sets an NBL chain's Status.
///
/// # Safety
/// Every NBL of the chain is covmini's until it is completed.
unsafe fn set_status(mut nbl: PNET_BUFFER_LIST, status: NDIS_STATUS) {
    while !nbl.is_null() {
        // SAFETY: ours (precondition).
        unsafe { (*nbl).Status = status };
        // SAFETY: as above.
        nbl = unsafe { (*nbl).Next };
    }
}

/// Send NBLs to complete at the end of a handler, on one VC.
struct Done {
    head: PNET_BUFFER_LIST,
    tail: PNET_BUFFER_LIST,
    count: u32,
}

impl Done {
    const fn new() -> Self {
        Self {
            head: null_mut(),
            tail: null_mut(),
            count: 0,
        }
    }
    /// # Safety
    /// `nbl` is a detached send NBL covmini holds.
    unsafe fn push(&mut self, nbl: PNET_BUFFER_LIST, status: NDIS_STATUS) {
        // SAFETY: ours (precondition).
        unsafe { (*nbl).Status = status };
        if self.tail.is_null() {
            self.head = nbl;
        } else {
            // SAFETY: the previous tail is ours too.
            unsafe { (*self.tail).Next = nbl };
        }
        self.tail = nbl;
        self.count += 1;
    }
    fn complete(self, ndis_vc: NDIS_HANDLE, flags: ULONG) {
        if !self.head.is_null() {
            // SAFETY: send NBLs NDIS gave covmini on this VC, each completed
            // once, Status set.
            unsafe { NdisMCoSendNetBufferListsComplete(ndis_vc, self.head, flags) };
        }
    }
}

/// MiniportCoSendNetBufferLists, past the context check.
///
/// Each send NBL of n NET_BUFFERs is indicated to every target of the route
/// (one for a point-to-point or echo call, every connected leaf for a
/// multipoint root): n receive NBLs per target, all taken at once, so a
/// send reaches every target or (too few receive NBLs) none and completes
/// with NDIS_STATUS_RESOURCES. The send's outstanding count is n × targets
/// from the start; whoever brings it to zero (the last return, or this
/// handler after an indication with NDIS_RECEIVE_FLAGS_RESOURCES) completes
/// it. The send is not read after its last share was indicated.
///
/// # Safety
/// `nbls` is the chain NDIS handed MiniportCoSendNetBufferLists on `vc`.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) unsafe fn send(vc: &VcContext, nbls: PNET_BUFFER_LIST, send_flags: ULONG) {
    // First act, before any lock or NDIS call: the handshake with the close
    // (module docs). From here until `inside` leaves, `vc` lives and its VC
    // is not deactivated under this send. A send that finds the close begun
    // takes no count (`VcContext::enter_unless_closing`).
    let inside = vc.enter_unless_closing();
    let adapter = vc.adapter();
    let at_dispatch = send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0;
    let complete_flags = if at_dispatch {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    let receive_flags = if at_dispatch {
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    let (mut sends, mut receives) = (0u32, 0u32);
    let mut nbl = nbls;
    while !nbl.is_null() {
        // SAFETY: NDIS's chain, ours until completed (precondition).
        let (n, _) = unsafe { measure(nbl) };
        sends = sends.saturating_add(1);
        receives = receives.saturating_add(n);
        // SAFETY: as above.
        nbl = unsafe { (*nbl).Next };
    }
    let Some(inside) = inside else {
        // The VC is closing (contract §3.3 [I]: VC_NOT_ACTIVATED). The close
        // began before this handler entered and did not wait for it, and no
        // count was taken: nothing is taken, everything this handler needs
        // from the context is read before its one NDIS call, the
        // completion, and nothing is touched after it (module docs, "The
        // window"): the close may delete and free the VC once it is made.
        // SAFETY: NDIS's chain, ours until this completion.
        unsafe { set_status(nbls, NDIS_STATUS_VC_NOT_ACTIVATED) };
        vc.counters().failed(u64::from(sends));
        adapter.counters().failed(u64::from(sends));
        let ndis_vc = vc.ndis();
        // SAFETY: the chain as NDIS gave it, completed once on its VC. Its
        // handle is valid: NDIS does not finish deleting a VC under a call it
        // made with it that the driver has not yet seen through an NDIS call
        // (module docs, "The window"), and this is this call's first.
        unsafe { NdisMCoSendNetBufferListsComplete(ndis_vc, nbls, complete_flags) };
        return;
    };
    if let Err(state) = adapter.admit_sends(sends) {
        // Pausing or paused: "Rejects all new send requests ... It should set
        // the complete status in each NET_BUFFER_LIST to NDIS_STATUS_PAUSED"
        // (MiniportPause [D]). Nothing was pinned or taken.
        trace!(WARN, "CoSendNetBufferLists while {:?}: {} NBL(s) refused", state, sends);
        // SAFETY: NDIS's chain, ours until this completion.
        unsafe { set_status(nbls, NDIS_STATUS_PAUSED) };
        vc.counters().failed(u64::from(sends));
        adapter.counters().failed(u64::from(sends));
        // SAFETY: the chain as NDIS gave it, completed once on its VC.
        unsafe { NdisMCoSendNetBufferListsComplete(vc.ndis(), nbls, complete_flags) };
        inside.leave();
        return;
    }
    let route = {
        let mut cm = adapter.cm();
        if cm.vc_is(vc.id(), vc.token()) {
            cm.route(vc.id(), sends, receives)
        } else {
            Err(Refusal::Invalid)
        }
    };
    let route = match route {
        Ok(r) => r,
        Err(r) => {
            // A leaf does not send (the call carries data root to leaves):
            // FAILURE, NET_BUFFER_LIST.Status's "any other reason". Not
            // active, closing, or its peer is going: VC_NOT_ACTIVATED
            // (contract §3.3 [I]).
            let status = if r == Refusal::LeafSend {
                r.status()
            } else {
                NDIS_STATUS_VC_NOT_ACTIVATED
            };
            // SAFETY: NDIS's chain, ours until this completion.
            unsafe { set_status(nbls, status) };
            // The context lives and the VC is not deactivated (let alone
            // deleted) while this handler is inside, though the core may
            // have let the VC go closing.
            vc.counters().failed(u64::from(sends));
            adapter.counters().failed(u64::from(sends));
            // SAFETY: the chain as NDIS gave it, completed once on its VC,
            // whose handle is valid while this handler is inside.
            unsafe { NdisMCoSendNetBufferListsComplete(vc.ndis(), nbls, complete_flags) };
            inside.leave();
            adapter.release_sends(sends);
            return;
        }
    };
    // CAST: at most MAX_LEAVES (16) targets.
    let k = route.len() as u32;
    let mut done = Done::new();
    // Pins given back at the end: sends completed here, receives back here
    // (per target, in route order).
    let mut sends_back = 0u32;
    let mut receives_back = [0u32; MAX_LEAVES];
    let mut nbl = nbls;
    while !nbl.is_null() {
        let send = nbl;
        // SAFETY: NDIS's chain, ours until completed; detach before lending.
        nbl = unsafe { (*send).Next };
        // SAFETY: as above.
        unsafe { (*send).Next = null_mut() };
        // SAFETY: as above.
        let (n, bytes) = unsafe { measure(send) };
        if n == 0 {
            // Nothing to deliver: an empty NBL is sent (to nobody) at once.
            // SAFETY: detached send NBL of ours.
            unsafe { done.push(send, NDIS_STATUS_SUCCESS) };
            sends_back += 1;
            continue;
        }
        let total = n.saturating_mul(k);
        let Some((rx_head, low)) = adapter.rx().take_chain(total) else {
            // SAFETY: as above.
            unsafe { done.push(send, NDIS_STATUS_RESOURCES) };
            vc.counters().failed(1);
            adapter.counters().failed(1);
            sends_back += 1;
            for back in receives_back.iter_mut() {
                *back += n;
            }
            continue;
        };
        // SAFETY: ours until completed: the outstanding count and the sender.
        unsafe { reserved(send, 0) }.store(total as usize, Ordering::Release);
        // SAFETY: as above.
        unsafe { reserved(send, 1) }.store(vc.token(), Ordering::Release);
        vc.counters().sent(u64::from(n), bytes);
        adapter.counters().sent(u64::from(n), bytes);
        let flags = receive_flags | if low { NDIS_RECEIVE_FLAGS_RESOURCES } else { 0 };
        let mut rx = rx_head;
        for ((_, token), back) in route.targets().zip(receives_back.iter_mut()) {
            // SAFETY: the core pinned the target for these receives: it lives.
            let target = unsafe { VcContext::from_token(token) };
            // SAFETY: `rx` heads the untaken rest of our chain, n per target
            // left (total = n × k); the send is held (its count includes the
            // shares not yet indicated).
            let (seg, rest) = unsafe { lend_segment(rx, n, send, target) };
            rx = rest;
            target.counters().received(u64::from(n), bytes);
            adapter.counters().received(u64::from(n), bytes);
            // SAFETY: covmini's own receive NBLs, SourceHandle = the target's
            // NdisVcHandle, on a VC the core says is active and pinned; n NBLs.
            unsafe { NdisMCoIndicateReceiveNetBufferLists(target.ndis(), seg, n, flags) };
            if low {
                // With RESOURCES the NBLs are ours again now: take them back
                // (the sender's data was only borrowed during the indication).
                let mut r = seg;
                while !r.is_null() {
                    // SAFETY: ours again (RESOURCES).
                    let next = unsafe { (*r).Next };
                    // SAFETY: as above.
                    unsafe { recycle(adapter, r) };
                    r = next;
                }
                *back += n;
                // SAFETY: the send is held until its count reaches zero.
                if unsafe { reserved(send, 0) }.fetch_sub(n as usize, Ordering::AcqRel) == n as usize {
                    // SAFETY: the last share is back: the send is ours alone.
                    unsafe { done.push(send, NDIS_STATUS_SUCCESS) };
                    sends_back += 1;
                }
            }
            // Otherwise, after the last target's indication the send may be
            // completed on another CPU already: it is not touched again here.
        }
    }
    let completed_here = done.count;
    done.complete(vc.ndis(), complete_flags);
    let fx = {
        let mut cm = adapter.cm();
        let mut fx = cm.unpin(vc.id(), sends_back);
        for ((target, _), back) in route.targets().zip(receives_back) {
            fx.extend(cm.unpin(target, back));
        }
        // Last use of `vc`: the effects may delete it.
        fx.extend(inside.leave_locked(&mut cm));
        fx
    };
    perform(adapter, fx);
    // Last: a pending pause completes after the completions it waited for.
    adapter.release_sends(completed_here);
}

/// Lends the first `n` receive NBLs of the chain at `rx` over the n
/// NET_BUFFERs of `send`, cut off as their own chain; returns it and the
/// rest of the chain.
///
/// # Safety
/// `rx` heads a chain of at least `n` receive NBLs covmini holds; `send` is
/// a send NBL of `n` NET_BUFFERs covmini holds until they come back.
unsafe fn lend_segment(
    rx: PNET_BUFFER_LIST,
    n: u32,
    send: PNET_BUFFER_LIST,
    target: &VcContext,
) -> (PNET_BUFFER_LIST, PNET_BUFFER_LIST) {
    let mut cur = rx;
    let mut last = null_mut();
    // SAFETY: the send NBL's chain of n NET_BUFFERs (precondition).
    let mut nb = unsafe { (*send).FirstNetBuffer };
    let mut i = 0;
    while i < n && !cur.is_null() && !nb.is_null() {
        // SAFETY: a receive NBL of ours and a NET_BUFFER of the held send.
        unsafe { lend(cur, nb, send, target) };
        last = cur;
        // SAFETY: as above.
        cur = unsafe { (*cur).Next };
        // SAFETY: as above.
        nb = unsafe { (*nb).Next };
        i += 1;
    }
    if !last.is_null() {
        // SAFETY: ours: end the segment here.
        unsafe { (*last).Next = null_mut() };
    }
    (rx, cur)
}

/// Points receive NBL `rx`'s NET_BUFFER at the data of `nb` (a NET_BUFFER
/// of `send`) and tags it for the return path.
///
/// # Safety
/// `rx` is a receive NBL covmini holds; `nb` a NET_BUFFER of the send NBL
/// `send` covmini holds until `rx` comes back.
unsafe fn lend(rx: PNET_BUFFER_LIST, nb: PNET_BUFFER, send: PNET_BUFFER_LIST, target: &VcContext) {
    // SAFETY: ours (precondition): its single NET_BUFFER.
    let mine = unsafe { (*rx).FirstNetBuffer };
    // SAFETY: a live NET_BUFFER of the sender's (precondition), read once.
    let theirs = unsafe { nb.read() };
    if !mine.is_null() {
        // SAFETY: our NET_BUFFER; the MDLs stay valid while the send is held.
        unsafe {
            (*mine).MdlChain = theirs.MdlChain;
        }
        // SAFETY: as above.
        unsafe { (*mine).CurrentMdl = theirs.CurrentMdl };
        // SAFETY: as above.
        unsafe { (*mine).CurrentMdlOffset = theirs.CurrentMdlOffset };
        // SAFETY: as above.
        unsafe { (*mine).DataOffset = theirs.DataOffset };
        // SAFETY: as above (the DataLength union, low 32 bits).
        unsafe { (*mine).stDataLength = theirs.stDataLength & 0xFFFF_FFFF };
    }
    // SAFETY: ours.
    unsafe { (*rx).SourceHandle = target.ndis() };
    // SAFETY: as above.
    unsafe { (*rx).Status = NDIS_STATUS_SUCCESS };
    // SAFETY: as above.
    unsafe { reserved(rx, 0) }.store(send.addr(), Ordering::Release);
    // SAFETY: as above.
    unsafe { reserved(rx, 1) }.store(target.token(), Ordering::Release);
}

/// Empties a receive NBL's NET_BUFFER and puts it back on the free list.
///
/// # Safety
/// `rx` is a receive NBL of the adapter's pool that covmini holds again.
unsafe fn recycle(adapter: &AdapterContext, rx: PNET_BUFFER_LIST) {
    // SAFETY: ours (precondition).
    let mine = unsafe { (*rx).FirstNetBuffer };
    if !mine.is_null() {
        // SAFETY: our NET_BUFFER: forget the sender's MDLs.
        unsafe { (*mine).MdlChain = null_mut() };
        // SAFETY: as above.
        unsafe { (*mine).CurrentMdl = null_mut() };
        // SAFETY: as above.
        unsafe { (*mine).CurrentMdlOffset = 0 };
        // SAFETY: as above.
        unsafe { (*mine).DataOffset = 0 };
        // SAFETY: as above.
        unsafe { (*mine).stDataLength = 0 };
        // SAFETY: as above.
        unsafe { (*mine).Next = null_mut() };
    }
    // SAFETY: ours.
    unsafe { (*rx).SourceHandle = null_mut() };
    // SAFETY: one of the pool's NBLs, held (precondition).
    unsafe { adapter.rx().put(rx) };
}

/// MiniportReturnNetBufferLists: each receive NBL goes back on the free
/// list; a send whose last receive came back is completed with SUCCESS; the
/// pins are dropped, which may finish a pended close; the send leaves the
/// data-path gate, which may complete a pending pause.
///
/// # Safety
/// `nbls` is a chain of receive NBLs covmini indicated (without RESOURCES).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) unsafe fn return_nbls(adapter: &AdapterContext, nbls: PNET_BUFFER_LIST, return_flags: ULONG) {
    let complete_flags = if return_flags & NDIS_RETURN_FLAGS_DISPATCH_LEVEL != 0 {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    let mut rx = nbls;
    while !rx.is_null() {
        // SAFETY: ours again (precondition).
        let next = unsafe { (*rx).Next };
        // SAFETY: as above: the tags `lend` wrote.
        let send = unsafe { reserved(rx, 0) }.load(Ordering::Acquire) as PNET_BUFFER_LIST;
        // SAFETY: as above.
        let receiver = unsafe { reserved(rx, 1) }.load(Ordering::Acquire);
        // SAFETY: as above.
        unsafe { recycle(adapter, rx) };
        rx = next;
        if send.is_null() || receiver == 0 {
            trace!(WARN, "ReturnNetBufferLists: an NBL covmini did not lend");
            continue;
        }
        // SAFETY: a send NBL covmini holds until its last receive is back.
        let left = unsafe { reserved(send, 0) }.fetch_sub(1, Ordering::AcqRel);
        let mut fx = {
            // SAFETY: the receiving VC, pinned while this NBL was out.
            let receiver = unsafe { VcContext::from_token(receiver) };
            adapter.cm().unpin(receiver.id(), 1)
        };
        if left == 1 {
            // SAFETY: as above: the last receive, so the send is ours alone.
            let sender_token = unsafe { reserved(send, 1) }.load(Ordering::Acquire);
            // SAFETY: the sender, pinned while this send is held.
            let sender = unsafe { VcContext::from_token(sender_token) };
            // SAFETY: a detached send NBL of ours.
            unsafe { (*send).Status = NDIS_STATUS_SUCCESS };
            // SAFETY: NDIS's send NBL on the VC it was sent on, once.
            unsafe { NdisMCoSendNetBufferListsComplete(sender.ndis(), send, complete_flags) };
            fx.extend(adapter.cm().unpin(sender.id(), 1));
            perform(adapter, fx);
            // The send is completed: a pending pause may complete now.
            adapter.release_sends(1);
        } else {
            perform(adapter, fx);
        }
    }
}
