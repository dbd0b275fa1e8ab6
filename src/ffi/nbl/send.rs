//! The send side's views: the chain NDIS handed MiniportCoSendNetBufferLists,
//! its NBLs one by one, a send lent to receive NBLs, a share of it coming
//! back, and the NBLs completed at the end of a handler. See the parent
//! module for what these views own and must not do.

use core::ptr::{NonNull, null_mut};
use core::sync::atomic::Ordering;

use ndis_sys::{NDIS_STATUS, NET_BUFFER_LIST, PNET_BUFFER_LIST};

use super::{Nbl, NetBuffers, Slot, Walk, data_length};
use core::marker::PhantomData;

/// The NBL chain NDIS handed MiniportCoSendNetBufferLists.
///
/// INVARIANT: `head` heads a NULL-terminated chain of live NBLs, each with a
/// NULL-terminated NET_BUFFER chain, all covmini's alone until it completes
/// them; nobody writes their NET_BUFFERs meanwhile.
pub(crate) struct SendChain {
    head: NonNull<NET_BUFFER_LIST>,
}

impl SendChain {
    /// The chain at `head`, or None for NULL.
    ///
    /// # Safety
    /// 1. `head` is NULL or heads the chain NDIS handed covmini in
    ///    MiniportCoSendNetBufferLists, linked through `Next` to NULL, each
    ///    NBL's NET_BUFFERs linked through `Next` to NULL;
    /// 2. every NBL and NET_BUFFER of it is covmini's alone, live and
    ///    unwritten by anyone else until covmini completes it
    ///    (NdisMCoSendNetBufferListsComplete);
    /// 3. no other `SendChain` or [`SendNbl`] names any of them.
    pub(crate) unsafe fn from_raw(head: PNET_BUFFER_LIST) -> Option<Self> {
        // INVARIANT: preconditions 1 to 3.
        NonNull::new(head).map(|head| Self { head })
    }

    fn walk(&mut self) -> Walk<'_> {
        // INVARIANT: the chain is covmini's alone (INVARIANT), borrowed
        // mutably for the walk.
        Walk {
            next: self.head.as_ptr(),
            _chain: PhantomData,
        }
    }

    /// The number of NBLs and of NET_BUFFERs in the chain (saturating).
    pub(crate) fn count(&mut self) -> (u32, u32) {
        let (mut nbls, mut nbs) = (0u32, 0u32);
        for nbl in self.walk() {
            nbls = nbls.saturating_add(1);
            for _ in nbl.net_buffers() {
                nbs = nbs.saturating_add(1);
            }
        }
        (nbls, nbs)
    }

    /// Sets every NBL's Status (before the chain is completed whole).
    pub(crate) fn set_status(&mut self, status: NDIS_STATUS) {
        for mut nbl in self.walk() {
            nbl.set_status(status);
        }
    }

    /// The chain as NDIS gave it, for its completion: covmini gives it up.
    pub(crate) fn into_raw(self) -> PNET_BUFFER_LIST {
        self.head.as_ptr()
    }
}

impl IntoIterator for SendChain {
    type Item = SendNbl;
    type IntoIter = Detach;
    /// The NBLs one by one, each unlinked (Next NULL) once the next one's
    /// address was read, so each can be lent or completed on its own.
    fn into_iter(self) -> Detach {
        // INVARIANT: the whole chain, given up by `self`.
        Detach {
            next: self.head.as_ptr(),
        }
    }
}

/// A [`SendChain`] taken apart, front first.
///
/// INVARIANT: `next` is NULL or heads the rest of a chain as
/// [`SendChain`]'s INVARIANT, which only this value names.
pub(crate) struct Detach {
    next: PNET_BUFFER_LIST,
}

impl Iterator for Detach {
    type Item = SendNbl;
    fn next(&mut self) -> Option<SendNbl> {
        let p = NonNull::new(self.next)?;
        // SAFETY: the head of the rest of a send chain covmini holds alone
        // (INVARIANT); from here the returned SendNbl alone names it.
        let mut nbl = unsafe { Nbl::new(p) };
        // Read the next pointer before the NBL is unlinked (and perhaps
        // completed or lent by the caller).
        self.next = nbl.next();
        nbl.set_next(null_mut());
        // INVARIANT: one NBL of a send chain, detached.
        Some(SendNbl { nbl })
    }
}

/// One send NBL, detached from its chain (Next NULL), covmini's until it is
/// completed or lent.
///
/// INVARIANT: `nbl` as [`Nbl`]'s INVARIANT; its Next is NULL; its
/// NET_BUFFER chain is NULL-terminated and nobody writes it while covmini
/// holds the NBL.
pub(crate) struct SendNbl {
    pub(super) nbl: Nbl,
}

impl SendNbl {
    /// Its NET_BUFFERs.
    pub(crate) fn net_buffers(&self) -> NetBuffers<'_> {
        self.nbl.net_buffers()
    }

    /// The number of its NET_BUFFERs and their bytes (saturating).
    pub(crate) fn measure(&self) -> (u32, u64) {
        let (mut n, mut bytes) = (0u32, 0u64);
        for nb in self.net_buffers() {
            n = n.saturating_add(1);
            bytes = bytes.saturating_add(u64::from(data_length(nb)));
        }
        (n, bytes)
    }

    /// Lends it to `shares` receive NBLs (all of them still to come, and the
    /// caller's until indicated): its count of shares out and the sending
    /// VC's token go into its MiniportReserved.
    pub(crate) fn lend(self, shares: u32, sender: usize) -> LentSend {
        // CAST: u32 into usize (at least 32 bits on every target).
        self.nbl.word(Slot::First).store(shares as usize, Ordering::Release);
        self.nbl.word(Slot::Second).store(sender, Ordering::Release);
        // INVARIANT: the count is `shares`, all held by the caller.
        LentSend {
            nbl: self.nbl,
            held: shares,
        }
    }

    /// Sets its Status and gives it up, for its completion.
    pub(crate) fn finish(mut self, status: NDIS_STATUS) -> PNET_BUFFER_LIST {
        self.nbl.set_status(status);
        self.nbl.raw()
    }
}

/// A send NBL lent to covmini's receive NBLs, seen from the send handler.
///
/// INVARIANT: `nbl` is a live send NBL (no longer covmini's *alone*: the
/// receive NBLs already indicated hold shares of it). Its
/// MiniportReserved\[0\] counts the shares not yet back, \[1\] is the sending
/// VC's token. `held` of those shares are this value's (lent to receive
/// NBLs it has not indicated yet, or not lent yet), and `held > 0`: so the
/// count cannot reach zero, the send is not completed and stays live, and
/// its NET_BUFFERs stay unwritten, while this value exists.
pub(crate) struct LentSend {
    nbl: Nbl,
    held: u32,
}

/// Where a send stands after an indication whose receive NBLs came back at
/// once ([`LentSend::came_back`]).
pub(crate) enum AfterIndication {
    /// Shares are still the handler's: more targets to indicate.
    Held(LentSend),
    /// No share is held and not all are back: the send may be completed on
    /// another CPU and must not be touched.
    Lent,
    /// Every share came back: the send is covmini's alone again.
    Back(SendNbl),
}

impl LentSend {
    /// The lent send, for `RxChain::lend_segment`: live, its NET_BUFFERs
    /// unwritten, while `self` is borrowed (INVARIANT).
    pub(super) fn nbl(&self) -> &Nbl {
        &self.nbl
    }

    /// Hands `n` held shares to NDIS with the receive NBLs about to be
    /// indicated without NDIS_RECEIVE_FLAGS_RESOURCES: call it *before* the
    /// indication. What is still held keeps the send live after it; None
    /// when nothing is (the last target): then the send may be completed on
    /// another CPU as soon as the indication is made, and is not touched
    /// again.
    pub(crate) fn lent_out(self, n: u32) -> Option<LentSend> {
        let held = self.held.saturating_sub(n);
        // INVARIANT: `held` > 0 of the shares are still this value's.
        (held > 0).then_some(Self { nbl: self.nbl, held })
    }

    /// Accounts `n` held shares whose receive NBLs came back at once (the
    /// indication carried NDIS_RECEIVE_FLAGS_RESOURCES and returned): call
    /// it *after* the indication.
    pub(crate) fn came_back(self, n: u32) -> AfterIndication {
        let held = self.held.saturating_sub(n);
        // CAST: u32 into usize.
        let shares = n as usize;
        if self.nbl.word(Slot::First).fetch_sub(shares, Ordering::AcqRel) == shares {
            // INVARIANT: the last share is back: no receive NBL names it.
            return AfterIndication::Back(SendNbl { nbl: self.nbl });
        }
        if held == 0 {
            // Shares are out with NDIS (none held, not all back).
            AfterIndication::Lent
        } else {
            // INVARIANT: `held` > 0 of the shares are still this value's.
            AfterIndication::Held(Self { nbl: self.nbl, held })
        }
    }
}

/// One share of a lent send NBL, carried back by a receive NBL.
///
/// INVARIANT: `send` is a lent send NBL whose count of shares out
/// (MiniportReserved\[0\]) includes this one, so it is live and not
/// completed while this value exists.
#[must_use = "a share not released keeps its send NBL from ever completing"]
pub(crate) struct Share {
    /// Set only by `RxNbl::take_share`, which takes the tag once.
    pub(super) send: NonNull<NET_BUFFER_LIST>,
}

impl Share {
    /// Gives the share back. The last one gets the send NBL, covmini's alone
    /// again, and the sending VC's token.
    pub(crate) fn release(self) -> Option<(SendNbl, usize)> {
        // SAFETY: a lent send NBL, live while its count includes this share
        // (INVARIANT); `Nbl` names it for this call only, and touches only
        // its MiniportReserved slots, atomically, until the share is the
        // last, from when it is the only `Nbl` naming it.
        let nbl = unsafe { Nbl::new(self.send) };
        if nbl.word(Slot::First).fetch_sub(1, Ordering::AcqRel) == 1 {
            let sender = nbl.word(Slot::Second).load(Ordering::Acquire);
            // INVARIANT: the last share: nothing else names the send.
            Some((SendNbl { nbl }, sender))
        } else {
            None
        }
    }
}

/// Send NBLs to complete at the end of a handler, in order, on one VC.
///
/// INVARIANT: `head` is NULL (then `tail` is None and `count` 0) or heads
/// `count` detached send NBLs, each covmini's alone with its Status set,
/// linked through `Next` and ending at `tail`.
pub(crate) struct Completions {
    head: PNET_BUFFER_LIST,
    tail: Option<Nbl>,
    count: u32,
}

impl Completions {
    /// No NBL yet.
    pub(crate) const fn new() -> Self {
        Self {
            head: null_mut(),
            tail: None,
            count: 0,
        }
    }

    /// Adds `send`, completed with `status`.
    pub(crate) fn push(&mut self, mut send: SendNbl, status: NDIS_STATUS) {
        send.nbl.set_status(status);
        match &mut self.tail {
            Some(tail) => tail.set_next(send.nbl.raw()),
            None => self.head = send.nbl.raw(),
        }
        self.tail = Some(send.nbl);
        self.count = self.count.saturating_add(1);
    }

    /// How many NBLs it holds.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The chain to complete (NdisMCoSendNetBufferListsComplete), or None
    /// when empty: covmini gives every NBL of it up.
    pub(crate) fn into_raw(self) -> Option<PNET_BUFFER_LIST> {
        (!self.head.is_null()).then_some(self.head)
    }
}
