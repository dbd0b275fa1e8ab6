//! The receive side's views: covmini's receive NBLs one by one, chains of
//! them (the free list, a batch, a segment to indicate) and the chains NDIS
//! gives back. See the parent module for what these views own and must not
//! do.

use core::marker::PhantomData;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::Ordering;

use ndis_sys::{NDIS_HANDLE, NDIS_STATUS_SUCCESS, NET_BUFFER, PNET_BUFFER_LIST};

use super::send::{LentSend, Share};
use super::{Nbl, NetBuffers, Slot, Walk};

/// One NBL of covmini's receive pool, covmini's (not indicated, or back).
///
/// INVARIANT: `nbl` as [`Nbl`]'s INVARIANT; it is from covmini's receive
/// pool, so its NET_BUFFER (FirstNetBuffer: one, or NULL) is covmini's own,
/// and it is on no chain but, at most, the one [`RxChain`] holding it.
/// MiniportReserved\[0\] is NULL or the send NBL it lends a share of, \[1\]
/// the receiving VC's token, as [`RxChain::lend_front`] wrote them (after
/// an indication with NDIS_RECEIVE_FLAGS_RESOURCES they are left stale: that
/// share was accounted by [`LentSend::came_back`], and NDIS never returns
/// such an NBL, which was never NDIS's once the indication returned).
pub(crate) struct RxNbl {
    pub(super) nbl: Nbl,
}

impl RxNbl {
    /// An NBL fresh from covmini's receive pool, its tags cleared.
    ///
    /// # Safety
    /// 1. `nbl` is NULL or a live NBL NdisAllocateNetBufferAndNetBufferList
    ///    just made from covmini's receive pool (one NET_BUFFER, covmini's);
    /// 2. it was never indicated, and no other value names it.
    pub(crate) unsafe fn from_allocated(nbl: PNET_BUFFER_LIST) -> Option<Self> {
        let nbl = NonNull::new(nbl)?;
        // SAFETY: a live NBL of covmini's alone (preconditions 1 and 2).
        let nbl = unsafe { Nbl::new(nbl) };
        // INVARIANT: from covmini's pool, on no chain; tags cleared below.
        let mut rx = Self { nbl };
        rx.recycle();
        rx.nbl.pointer(Slot::First).store(null_mut(), Ordering::Relaxed);
        rx.nbl.word(Slot::Second).store(0, Ordering::Relaxed);
        Some(rx)
    }

    /// Empties its NET_BUFFER (forgets the sender's MDLs) and its
    /// SourceHandle: ready for the free list. (Its Next is NULL already: it
    /// is on no chain. Its tags are [`Self::take_share`]'s to clear.)
    pub(crate) fn recycle(&mut self) {
        self.with_net_buffer(|mine| {
            mine.MdlChain = null_mut();
            mine.CurrentMdl = null_mut();
            mine.CurrentMdlOffset = 0;
            mine.DataOffset = 0;
            mine.stDataLength = 0;
            mine.Next = null_mut();
        });
        self.nbl.set_source_handle(null_mut());
    }

    /// The tags [`RxChain::lend_front`] wrote, taken (cleared): the share of
    /// the send NBL it lent, and the receiving VC's token. None for an NBL
    /// covmini did not lend.
    pub(crate) fn take_share(&mut self) -> Option<(Share, usize)> {
        let send = self.nbl.pointer(Slot::First).swap(null_mut(), Ordering::Acquire);
        let receiver = self.nbl.word(Slot::Second).swap(0, Ordering::Acquire);
        let send = NonNull::new(send)?;
        if receiver == 0 {
            return None;
        }
        // INVARIANT: `lend_front` tagged this NBL with a send whose count
        // includes its share (RxNbl's INVARIANT); the tag is cleared, so the
        // share is taken once.
        Some((Share { send }, receiver))
    }

    /// Gives it up, to be freed to its pool.
    pub(crate) fn into_raw(self) -> PNET_BUFFER_LIST {
        self.nbl.raw()
    }

    /// Runs `f` on its own NET_BUFFER, if it has one.
    fn with_net_buffer(&mut self, f: impl FnOnce(&mut NET_BUFFER)) {
        // SAFETY: a receive NBL of covmini's pool (INVARIANT).
        if let Some(mine) = unsafe { own_net_buffer(&mut self.nbl) } {
            f(mine);
        }
    }
}

/// The own NET_BUFFER of one of covmini's receive NBLs, if it has one.
///
/// # Safety
/// `nbl` is an NBL of covmini's receive pool (an [`RxNbl`]'s, or one of an
/// [`RxChain`]'s): its NET_BUFFER is covmini's own, reached only by the
/// NBL's holder.
unsafe fn own_net_buffer(nbl: &mut Nbl) -> Option<&mut NET_BUFFER> {
    // SAFETY: NULL, or the NBL's own NET_BUFFER (precondition), live while
    // the NBL is and reached by nobody else while `nbl` is borrowed mutably,
    // which the returned reference keeps it.
    unsafe { nbl.first_net_buffer().as_mut() }
}

/// A chain of covmini's receive NBLs, with its length: the free list, a
/// batch taken from it, or a segment to indicate.
///
/// INVARIANT: `head` is NULL (then `len` is 0) or heads `len` NBLs linked
/// through `Next`, the last one's NULL, each as [`RxNbl`]'s INVARIANT. Only
/// this value names them.
pub(crate) struct RxChain {
    head: PNET_BUFFER_LIST,
    len: u32,
}

// SAFETY: the chain's NBLs are covmini's alone (INVARIANT) and tied to no
// thread: NDIS lets a driver use its NBLs on any CPU; moving the chain
// moves that sole ownership.
unsafe impl Send for RxChain {}

impl RxChain {
    /// An empty chain.
    pub(crate) const fn new() -> Self {
        Self {
            head: null_mut(),
            len: 0,
        }
    }

    /// How many NBLs it holds.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Puts `rx` at the front.
    pub(crate) fn push(&mut self, mut rx: RxNbl) {
        rx.nbl.set_next(self.head);
        self.head = rx.nbl.raw();
        self.len = self.len.saturating_add(1);
    }

    /// Takes the front NBL.
    pub(crate) fn pop(&mut self) -> Option<RxNbl> {
        let p = NonNull::new(self.head)?;
        // SAFETY: the head of this chain (INVARIANT); unlinked below, after
        // which the returned RxNbl alone names it.
        let mut nbl = unsafe { Nbl::new(p) };
        self.head = nbl.next();
        nbl.set_next(null_mut());
        self.len = self.len.saturating_sub(1);
        Some(RxNbl { nbl })
    }

    /// Takes the first `n` NBLs as a chain of their own; None (nothing
    /// taken) if it holds fewer, or `n` is 0.
    pub(crate) fn split_front(&mut self, n: u32) -> Option<RxChain> {
        if n == 0 || self.len < n {
            return None;
        }
        if n == self.len {
            return Some(core::mem::replace(self, Self::new()));
        }
        // n - 1 steps from the head: the cut's last NBL (n <= len, so there).
        let mut last = self.walk().nth(n as usize - 1)?;
        let rest = last.next();
        last.set_next(null_mut());
        let front = Self {
            head: self.head,
            len: n,
        };
        self.head = rest;
        self.len -= n;
        Some(front)
    }

    /// Cuts off the front NBLs, one per NET_BUFFER of `nbs` (at most `n`),
    /// each pointed at its NET_BUFFER's data (the MDLs of the lent send
    /// `send`, valid while the send is held: no copy) and tagged with
    /// `send`, its SourceHandle `target_ndis` and the receiving VC's token
    /// `target`; returns them as one chain, ready to indicate. One walk, in
    /// place: the cut is made after the last NBL lent.
    /// Cuts off the first NBLs, one per NET_BUFFER of `send` (at most `n`),
    /// points each one's own NET_BUFFER at that NET_BUFFER's data and tags
    /// it with the send and the target, for `target_ndis` (the SourceHandle
    /// of the indication). Returns them as one chain, ready to indicate.
    pub(crate) fn lend_segment(&mut self, send: &LentSend, n: u32, target_ndis: NDIS_HANDLE, target: usize) -> RxChain {
        let nbl = send.nbl();
        self.lend_front(nbl.net_buffers(), n, nbl.raw(), target_ndis, target)
    }

    fn lend_front(
        &mut self,
        nbs: NetBuffers<'_>,
        n: u32,
        send: PNET_BUFFER_LIST,
        target_ndis: NDIS_HANDLE,
        target: usize,
    ) -> RxChain {
        let mut lent = 0u32;
        let mut last = None;
        for (theirs, mut nbl) in nbs.zip(self.walk()).take(n as usize) {
            // SAFETY: an NBL of this chain, so of covmini's receive pool
            // (INVARIANT).
            if let Some(mine) = unsafe { own_net_buffer(&mut nbl) } {
                mine.MdlChain = theirs.MdlChain;
                mine.CurrentMdl = theirs.CurrentMdl;
                mine.CurrentMdlOffset = theirs.CurrentMdlOffset;
                mine.DataOffset = theirs.DataOffset;
                // The DataLength union's low 32 bits.
                mine.stDataLength = theirs.stDataLength & 0xFFFF_FFFF;
            }
            nbl.set_source_handle(target_ndis);
            nbl.set_status(NDIS_STATUS_SUCCESS);
            nbl.pointer(Slot::First).store(send, Ordering::Release);
            nbl.word(Slot::Second).store(target, Ordering::Release);
            lent += 1;
            last = Some(nbl);
        }
        let Some(mut last) = last else {
            return RxChain::new();
        };
        let rest = last.next();
        last.set_next(null_mut());
        let front = Self {
            head: self.head,
            len: lent,
        };
        self.head = rest;
        self.len = self.len.saturating_sub(lent);
        front
    }

    /// Puts all of `front` before this chain's NBLs. Walks `front` to its
    /// last NBL: for the NBLs made at the first AF open, never on the data
    /// path.
    pub(crate) fn prepend(&mut self, mut front: RxChain) {
        let Some(mut last) = front.walk().last() else { return };
        last.set_next(self.head);
        self.head = front.head;
        self.len = self.len.saturating_add(front.len);
    }

    /// The chain's head, given up for an indication of its
    /// [`Self::len`] NBLs (NdisMCoIndicateReceiveNetBufferLists).
    pub(crate) fn into_raw(self) -> PNET_BUFFER_LIST {
        self.head
    }

    fn walk(&mut self) -> Walk<'_> {
        // INVARIANT: this chain's NBLs are covmini's and only it names them
        // (INVARIANT), borrowed mutably for the walk.
        Walk {
            next: self.head,
            _chain: PhantomData,
        }
    }
}

impl Iterator for RxChain {
    type Item = RxNbl;
    fn next(&mut self) -> Option<RxNbl> {
        self.pop()
    }
}

/// Receive NBLs NDIS gave back, taken apart front first.
///
/// INVARIANT: `next` is NULL or heads a NULL-terminated chain of covmini's
/// receive NBLs that covmini holds again, which only this value names.
pub(crate) struct Returned {
    next: PNET_BUFFER_LIST,
}

impl Returned {
    /// # Safety
    /// 1. `head` is NULL or heads a chain, linked through `Next` to NULL, of
    ///    NBLs of covmini's receive pool that covmini indicated;
    /// 2. NDIS gave them back: in MiniportReturnNetBufferLists, or by
    ///    returning from an indication made with
    ///    NDIS_RECEIVE_FLAGS_RESOURCES; so each is covmini's alone again,
    ///    its tags as [`RxChain::lend_front`] left them.
    pub(crate) unsafe fn from_raw(head: PNET_BUFFER_LIST) -> Self {
        // INVARIANT: preconditions 1 and 2.
        Self { next: head }
    }
}

impl Iterator for Returned {
    type Item = RxNbl;
    fn next(&mut self) -> Option<RxNbl> {
        let p = NonNull::new(self.next)?;
        // SAFETY: a returned receive NBL covmini holds alone (INVARIANT);
        // from here the returned RxNbl alone names it.
        let mut nbl = unsafe { Nbl::new(p) };
        // Read the next pointer before it is unlinked (and recycled).
        self.next = nbl.next();
        nbl.set_next(null_mut());
        // INVARIANT: one receive NBL of covmini's, back and detached.
        Some(RxNbl { nbl })
    }
}
