//! Safe views over the data path's NDIS structures: NET_BUFFER_LIST chains,
//! single NBLs, their NET_BUFFERs and the MDL fields a NET_BUFFER points at.
//!
//! # What this module owns
//! Every raw pointer walk and field access of covmini's data path
//! (`super::data`): walking an NBL chain (reading each `Next` *before*
//! unlinking the NBL, so completing or lending one never loses the rest),
//! walking an NBL's NET_BUFFERs, reading DataLength, re-pointing a receive
//! NBL's own NET_BUFFER at a sender's MDLs (MdlChain, CurrentMdl,
//! CurrentMdlOffset, DataOffset, DataLength), Status, SourceHandle, and the
//! two MiniportReserved slots covmini uses:
//!
//! | NBL       | `MiniportReserved[0]`          | `MiniportReserved[1]`      |
//! |-----------|--------------------------------|----------------------------|
//! | a send    | receive NBLs out (its shares)  | the sending VC's token     |
//! | a receive | the send NBL whose data it lends | the receiving VC's token |
//!
//! Both slots are only reached atomically: returns run on several CPUs.
//!
//! Each type states what it holds in an `// INVARIANT:`. The only way in is
//! an `unsafe fn` constructor whose numbered `# Safety` list is what the
//! caller (the FFI seam in `super::data`) guarantees about a pointer NDIS or
//! covmini's pool handed it; every method after that is safe.
//!
//! # What it must not do
//! Call NDIS (the calls and their IRQL rules stay in `super::data`), take a
//! lock, allocate, copy a payload byte, or panic. Everything here is plain
//! memory access and runs at whatever IRQL its caller does (<=
//! DISPATCH_LEVEL on the data path).
//!
//! Field layouts are ndis-sys's (`ndis_sys::nbl`, asserted there against the
//! WDK's); nothing here guesses an offset.

use core::marker::PhantomData;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use ndis_sys::{
    NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_SUCCESS, NET_BUFFER, NET_BUFFER_LIST, PNET_BUFFER, PNET_BUFFER_LIST,
};

/// A NET_BUFFER's DataLength: the low 32 bits of its
/// `union { ULONG DataLength; SIZE_T stDataLength; }` (little-endian).
pub(crate) fn data_length(nb: &NET_BUFFER) -> u32 {
    // CAST: masked to 32 bits first.
    (nb.stDataLength & 0xFFFF_FFFF) as u32
}

/// Which MiniportReserved slot (the table in the module docs).
#[derive(Clone, Copy)]
enum Slot {
    First = 0,
    Second = 1,
}

/// One NBL covmini holds: the private core of every type below.
///
/// INVARIANT: `0` points to a live NET_BUFFER_LIST that covmini holds (NDIS
/// handed it over and it is not completed, or it is from covmini's receive
/// pool and not indicated) for as long as this value exists, and no other
/// `Nbl` names it. Its holder alone reaches its fields, except
/// MiniportReserved, which other CPUs may reach too, always atomically
/// (module docs).
struct Nbl(NonNull<NET_BUFFER_LIST>);

impl Nbl {
    /// # Safety
    /// 1. `nbl` points to a live NBL that covmini holds until this value (or
    ///    whatever it is turned into) gives it up;
    /// 2. no other `Nbl` names it meanwhile; other CPUs reach at most its
    ///    MiniportReserved slots, atomically.
    unsafe fn new(nbl: NonNull<NET_BUFFER_LIST>) -> Self {
        // INVARIANT: preconditions 1 and 2.
        Self(nbl)
    }
    fn raw(&self) -> PNET_BUFFER_LIST {
        self.0.as_ptr()
    }
    fn next(&self) -> PNET_BUFFER_LIST {
        // SAFETY: a live NBL covmini holds (INVARIANT); `Next` is only
        // written by its holder, which is borrowed here.
        unsafe { (*self.raw()).Next }
    }
    fn set_next(&mut self, next: PNET_BUFFER_LIST) {
        // SAFETY: a live NBL covmini holds alone (INVARIANT), borrowed
        // mutably: nothing else reads `Next` now.
        unsafe { (*self.raw()).Next = next };
    }
    fn first_net_buffer(&self) -> PNET_BUFFER {
        // SAFETY: a live NBL covmini holds (INVARIANT); FirstNetBuffer is
        // not written while covmini holds it.
        unsafe { (*self.raw()).FirstNetBuffer }
    }
    fn set_status(&mut self, status: NDIS_STATUS) {
        // SAFETY: a live NBL covmini holds alone (INVARIANT), borrowed
        // mutably; `Status` is read by NDIS only after the completion.
        unsafe { (*self.raw()).Status = status };
    }
    fn set_source_handle(&mut self, handle: NDIS_HANDLE) {
        // SAFETY: a live NBL covmini holds alone (INVARIANT), borrowed
        // mutably; NDIS reads SourceHandle only once it is indicated.
        unsafe { (*self.raw()).SourceHandle = handle };
    }
    /// The address of a MiniportReserved slot (no read or write).
    fn slot(&self, slot: Slot) -> *mut PNET_BUFFER_LIST {
        // SAFETY: a live NBL (INVARIANT): the address of one of its fields,
        // taken without reading it or making a reference.
        let slots = unsafe { &raw mut (*self.raw()).MiniportReserved.0 };
        // In bounds: `Slot` is 0 or 1 of the two PVOID slots.
        slots.cast::<PNET_BUFFER_LIST>().wrapping_add(slot as usize)
    }
    /// A slot holding a number (a count or a VC token).
    fn word(&self, slot: Slot) -> &AtomicUsize {
        let p = self.slot(slot).cast::<usize>();
        // SAFETY: a PVOID slot of a live NBL (INVARIANT), valid for as long
        // as `self` is borrowed, pointer-sized and pointer-aligned as
        // AtomicUsize needs, and only ever reached atomically (INVARIANT).
        unsafe { AtomicUsize::from_ptr(p) }
    }
    /// A slot holding an NBL's address.
    fn pointer(&self, slot: Slot) -> &AtomicPtr<NET_BUFFER_LIST> {
        let p = self.slot(slot);
        // SAFETY: a PVOID slot of a live NBL (INVARIANT), valid for as long
        // as `self` is borrowed, pointer-sized and aligned, and only ever
        // reached atomically (INVARIANT).
        unsafe { AtomicPtr::from_ptr(p) }
    }
    /// The NBL's NET_BUFFERs, read-only, for as long as `self` is borrowed.
    fn net_buffers(&self) -> NetBuffers<'_> {
        // INVARIANT: the NET_BUFFER chain of an NBL covmini holds, which
        // nobody writes while it does (the types that hand this out say so).
        NetBuffers {
            next: self.first_net_buffer(),
            _nbl: PhantomData,
        }
    }
}

/// The NET_BUFFERs of an NBL covmini holds, read-only.
///
/// INVARIANT: `next` is NULL or a live NET_BUFFER of a NULL-terminated chain
/// that nobody writes for `'a`.
pub(crate) struct NetBuffers<'a> {
    next: PNET_BUFFER,
    _nbl: PhantomData<&'a NET_BUFFER>,
}

impl<'a> Iterator for NetBuffers<'a> {
    type Item = &'a NET_BUFFER;
    fn next(&mut self) -> Option<&'a NET_BUFFER> {
        // SAFETY: NULL, or live and unwritten for 'a (INVARIANT), so a shared
        // reference for 'a is sound.
        let nb = unsafe { self.next.as_ref() }?;
        // INVARIANT: the next of a NULL-terminated chain.
        self.next = nb.Next;
        Some(nb)
    }
}

/// A walk over a chain's NBLs that does not unlink them.
///
/// INVARIANT: `next` is NULL or a live NBL of a NULL-terminated chain that
/// covmini holds alone for `'a`.
struct Walk<'a> {
    next: PNET_BUFFER_LIST,
    _chain: PhantomData<&'a mut NET_BUFFER_LIST>,
}

impl Iterator for Walk<'_> {
    type Item = Nbl;
    fn next(&mut self) -> Option<Nbl> {
        let p = NonNull::new(self.next)?;
        // SAFETY: an NBL of a chain covmini holds alone (INVARIANT); the
        // `Nbl` is the only one naming it until the next step, which reads
        // `Next` through it first.
        let nbl = unsafe { Nbl::new(p) };
        self.next = nbl.next();
        Some(nbl)
    }
}

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
    nbl: Nbl,
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
    /// Cuts the first NBLs off `rx`, one per NET_BUFFER of the send (at most
    /// `n`), points each one's own NET_BUFFER at that NET_BUFFER's data and
    /// tags it with this send and the target, for `target_ndis` (the
    /// SourceHandle of the indication). Returns them as one chain, ready to
    /// indicate.
    pub(crate) fn lend_segment(&self, rx: &mut RxChain, n: u32, target_ndis: NDIS_HANDLE, target: usize) -> RxChain {
        rx.lend_front(self.nbl.net_buffers(), n, self.nbl.raw(), target_ndis, target)
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
    send: NonNull<NET_BUFFER_LIST>,
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
    nbl: Nbl,
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

    /// The tags [`RxChain::lend_front`] wrote, taken (cleared): the share of the send
    /// NBL it lent, and the receiving VC's token. None for an NBL covmini
    /// did not lend.
    pub(crate) fn take_share(&mut self) -> Option<(Share, usize)> {
        let send = self.nbl.pointer(Slot::First).swap(null_mut(), Ordering::Acquire);
        let receiver = self.nbl.word(Slot::Second).swap(0, Ordering::Acquire);
        let send = NonNull::new(send)?;
        if receiver == 0 {
            return None;
        }
        // INVARIANT: `lend` tagged this NBL with a send whose count includes
        // its share (RxNbl's INVARIANT); the tag is cleared, so the share is
        // taken once.
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
    ///    its tags as [`RxNbl::lend`] left them.
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

#[cfg(test)]
mod tests {
    //! The wrapper over NBLs built in test memory (boxed, zeroed as NDIS
    //! allocates them): the walks, the unlinking, the lending and the share
    //! counting that `super::super::data` relies on. Under Miri (with
    //! strict provenance, scripts/miri.sh) these also prove that no walk
    //! reads freed or out-of-bounds memory or breaks the aliasing rules.
    use super::*;
    use ndis_sys::{MDL, NDIS_STATUS_RESOURCES};
    use std::boxed::Box;
    use std::vec;
    use std::vec::Vec;

    fn zeroed_nbl() -> Box<NET_BUFFER_LIST> {
        // SAFETY: NET_BUFFER_LIST is integers and raw pointers only: all
        // zeroes is a valid value of it.
        Box::new(unsafe { core::mem::zeroed() })
    }
    fn zeroed_nb() -> Box<NET_BUFFER> {
        // SAFETY: NET_BUFFER is integers and raw pointers only: all zeroes
        // is a valid value of it.
        Box::new(unsafe { core::mem::zeroed() })
    }

    /// Test memory for NBLs and NET_BUFFERs, freed at the end of a test,
    /// addressed through raw pointers taken once (so the wrapper's accesses
    /// keep their provenance).
    struct Arena {
        nbls: Vec<*mut NET_BUFFER_LIST>,
        nbs: Vec<*mut NET_BUFFER>,
    }
    impl Arena {
        fn new() -> Self {
            Self {
                nbls: Vec::new(),
                nbs: Vec::new(),
            }
        }
        /// A send NBL over NET_BUFFERs of these lengths (MdlChain set to a
        /// distinct fake MDL address per NET_BUFFER, never dereferenced).
        fn send(&mut self, lengths: &[u64], mdl: *mut MDL) -> PNET_BUFFER_LIST {
            let nbl = Box::into_raw(zeroed_nbl());
            self.nbls.push(nbl);
            let mut prev: PNET_BUFFER = null_mut();
            for (i, &len) in lengths.iter().enumerate() {
                let nb = Box::into_raw(zeroed_nb());
                self.nbs.push(nb);
                // SAFETY: just allocated, ours.
                let r = unsafe { &mut *nb };
                r.stDataLength = len as _;
                r.MdlChain = mdl.wrapping_add(i);
                r.CurrentMdl = mdl.wrapping_add(i);
                r.CurrentMdlOffset = 3;
                r.DataOffset = 7 + i as u32;
                if prev.is_null() {
                    // SAFETY: just allocated, ours.
                    unsafe { (*nbl).FirstNetBuffer = nb };
                } else {
                    // SAFETY: allocated above, ours.
                    unsafe { (*prev).Next = nb };
                }
                prev = nb;
            }
            nbl
        }
        /// Links NBLs through Next, returns the head.
        fn chain(&self, nbls: &[PNET_BUFFER_LIST]) -> PNET_BUFFER_LIST {
            for w in nbls.windows(2) {
                // SAFETY: NBLs of this arena.
                unsafe { (*w[0]).Next = w[1] };
            }
            nbls.first().copied().unwrap_or(null_mut())
        }
        /// A receive NBL as the pool makes it: one empty NET_BUFFER.
        fn rx(&mut self) -> RxNbl {
            let nbl = self.send(&[0], null_mut());
            // SAFETY: a fresh NBL of this arena with one NET_BUFFER, named
            // by nothing else.
            unsafe { RxNbl::from_allocated(nbl) }.expect("not NULL")
        }
    }
    impl Drop for Arena {
        fn drop(&mut self) {
            for &p in &self.nbls {
                // SAFETY: from Box::into_raw, freed once.
                drop(unsafe { Box::from_raw(p) });
            }
            for &p in &self.nbs {
                // SAFETY: from Box::into_raw, freed once.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
    fn next_of(nbl: PNET_BUFFER_LIST) -> PNET_BUFFER_LIST {
        // SAFETY: a live NBL of the test's arena.
        unsafe { (*nbl).Next }
    }
    fn status_of(nbl: PNET_BUFFER_LIST) -> NDIS_STATUS {
        // SAFETY: a live NBL of the test's arena.
        unsafe { (*nbl).Status }
    }

    /// A send chain counts its NBLs and NET_BUFFERs, sets every Status, and
    /// comes apart front first with each NBL unlinked only after its
    /// successor was read (none is lost, none keeps a Next).
    #[test]
    fn send_chain_counts_sets_status_and_detaches_in_order() {
        let mut a = Arena::new();
        let mdl = null_mut::<MDL>();
        let nbls = [a.send(&[64, 1500], mdl), a.send(&[], mdl), a.send(&[9], mdl)];
        let head = a.chain(&nbls);
        // SAFETY: a NULL-terminated chain of the arena's, named by nothing else.
        let mut chain = unsafe { SendChain::from_raw(head) }.expect("not NULL");
        assert_eq!(chain.count(), (3, 3));
        chain.set_status(NDIS_STATUS_RESOURCES);
        assert!(nbls.iter().all(|&n| status_of(n) == NDIS_STATUS_RESOURCES));
        let mut seen = Vec::new();
        for send in chain {
            seen.push((send.nbl.raw(), send.measure()));
            assert!(send.nbl.next().is_null(), "detached");
        }
        assert_eq!(seen, vec![(nbls[0], (2, 1564)), (nbls[1], (0, 0)), (nbls[2], (1, 9))]);
        // SAFETY: NULL is no chain.
        assert!(unsafe { SendChain::from_raw(null_mut()) }.is_none());
    }

    /// DataLength is the low 32 bits of the union: garbage above it (the
    /// SIZE_T view) is neither counted nor lent.
    #[test]
    fn data_length_is_the_low_32_bits() {
        let mut nb = zeroed_nb();
        nb.stDataLength = 0x0000_0001_0000_0040u64 as _;
        assert_eq!(data_length(&nb), 64);
    }

    /// The free list: push is LIFO at the front, split_front takes exactly
    /// n (or nothing when fewer are there), prepend keeps both orders.
    #[test]
    fn rx_chain_push_pop_split_prepend() {
        let mut a = Arena::new();
        let rx: Vec<RxNbl> = (0..5).map(|_| a.rx()).collect();
        let addrs: Vec<_> = rx.iter().map(|r| r.nbl.raw()).collect();
        let mut list = RxChain::new();
        for r in rx {
            list.push(r);
        }
        assert_eq!(list.len(), 5);
        assert!(list.split_front(6).is_none());
        assert!(list.split_front(0).is_none());
        assert_eq!(list.len(), 5);
        let front = list.split_front(2).expect("5 >= 2");
        assert_eq!(front.len(), 2);
        assert_eq!(list.len(), 3);
        assert!(next_of(addrs[3]).is_null(), "the cut ends its chain");
        let front_addrs: Vec<_> = front.map(|r| r.into_raw()).collect();
        assert_eq!(front_addrs, vec![addrs[4], addrs[3]]);
        let all = list.split_front(3).expect("exactly 3");
        assert_eq!(list.len(), 0);
        assert!(list.pop().is_none());
        list.prepend(all);
        let mut extra = RxChain::new();
        // SAFETY: arena NBLs taken back out of `front` above, named by
        // nothing else now.
        extra.push(unsafe { RxNbl::from_allocated(addrs[4]) }.expect("not NULL"));
        list.prepend(extra);
        let order: Vec<_> = list.map(|r| r.into_raw()).collect();
        assert_eq!(order, vec![addrs[4], addrs[2], addrs[1], addrs[0]]);
    }

    /// Lending a two-NET_BUFFER send to two targets: each receive NBL's
    /// own NET_BUFFER points at the sender's data (no copy), carries the
    /// target's SourceHandle and the tags; the handler keeps the send until
    /// its last target's indication, after which only the returns hold it,
    /// and the last return (not an earlier one) gets it back with the
    /// sender's token.
    #[test]
    fn lend_to_two_targets_then_the_last_return_completes() {
        let mut a = Arena::new();
        // A fake address, never read (no provenance: never dereferenced).
        let mdl = core::ptr::without_provenance_mut::<MDL>(0x1000);
        let send = a.send(&[64, 1500], mdl);
        let mut free = RxChain::new();
        for _ in 0..4 {
            free.push(a.rx());
        }
        // SAFETY: a one-NBL chain of the arena's.
        let chain = unsafe { SendChain::from_raw(send) }.expect("not NULL");
        let one = chain.into_iter().next().expect("one NBL");
        let (n, _) = one.measure();
        let mut batch = free.split_front(n * 2).expect("4 free");
        let mut lent = one.lend(n * 2, 0xAB);
        let mut indicated = Vec::new();
        for (target, token) in [(0x10usize, 1usize), (0x20, 2)] {
            let target_ndis: NDIS_HANDLE = core::ptr::without_provenance_mut(target);
            let seg = lent.lend_segment(&mut batch, n, target_ndis, token);
            assert_eq!(seg.len(), n);
            let head = seg.into_raw();
            indicated.push(head);
            let mut rx = head;
            let mut i = 0;
            while !rx.is_null() {
                // SAFETY: the arena's receive NBL, read only by the test.
                let nbl = unsafe { &*rx };
                // SAFETY: its NET_BUFFER, the arena's, read only by the test.
                let nb = unsafe { &*nbl.FirstNetBuffer };
                assert_eq!(nbl.SourceHandle, target_ndis);
                assert_eq!(nb.MdlChain, mdl.wrapping_add(i));
                assert_eq!(nb.DataOffset, 7 + i as u32);
                assert_eq!(nb.stDataLength as u64, [64, 1500][i]);
                rx = nbl.Next;
                i += 1;
            }
            assert_eq!(i, 2);
            lent = match lent.lent_out(n) {
                Some(l) => l,
                None => {
                    assert_eq!(token, 2, "lent out only after the last target");
                    break;
                }
            };
        }
        assert_eq!(batch.len(), 0);
        let mut completed = Vec::new();
        let mut returns = 0;
        for head in indicated {
            // SAFETY: receive NBLs "returned" by the test, as NDIS would.
            for mut rx in unsafe { Returned::from_raw(head) } {
                let (share, receiver) = rx.take_share().expect("lent");
                assert!(receiver == 1 || receiver == 2);
                assert!(rx.take_share().is_none(), "a share is taken once");
                rx.recycle();
                free.push(rx);
                returns += 1;
                if let Some((back, sender)) = share.release() {
                    completed.push((returns, back.finish(NDIS_STATUS_SUCCESS), sender));
                }
            }
        }
        assert_eq!(
            completed,
            vec![(4, send, 0xAB)],
            "completed at the 4th return, not before"
        );
        assert_eq!(status_of(send), NDIS_STATUS_SUCCESS);
        assert_eq!(free.len(), 4);
        for rx in free {
            let p = rx.into_raw();
            // SAFETY: the arena's receive NBL, read only by the test.
            let first = unsafe { (*p).FirstNetBuffer };
            // SAFETY: its NET_BUFFER, the arena's, read only by the test.
            let nb = unsafe { &*first };
            assert!(nb.MdlChain.is_null() && nb.stDataLength == 0, "recycled");
        }
    }

    /// With NDIS_RECEIVE_FLAGS_RESOURCES every share comes back at the
    /// indication: the send is the handler's again after the last target,
    /// not before.
    #[test]
    fn resources_indications_bring_the_send_back_after_the_last_target() {
        let mut a = Arena::new();
        let send = a.send(&[64], null_mut());
        // SAFETY: a one-NBL chain of the arena's.
        let one = unsafe { SendChain::from_raw(send) }
            .expect("not NULL")
            .into_iter()
            .next()
            .expect("one");
        let lent = one.lend(3, 7);
        let AfterIndication::Held(lent) = lent.came_back(1) else {
            panic!("2 shares left")
        };
        let AfterIndication::Held(lent) = lent.came_back(1) else {
            panic!("1 share left")
        };
        let AfterIndication::Back(back) = lent.came_back(1) else {
            panic!("all back")
        };
        let mut done = Completions::new();
        assert!(Completions::new().into_raw().is_none());
        done.push(back, NDIS_STATUS_SUCCESS);
        assert_eq!(done.count(), 1);
        assert_eq!(done.into_raw(), Some(send));
    }

    /// Completions keep push order, link through Next and set each Status.
    #[test]
    fn completions_chain_in_order_with_statuses() {
        let mut a = Arena::new();
        let nbls = [
            a.send(&[1], null_mut()),
            a.send(&[2], null_mut()),
            a.send(&[3], null_mut()),
        ];
        let head = a.chain(&nbls);
        // SAFETY: a NULL-terminated chain of the arena's.
        let chain = unsafe { SendChain::from_raw(head) }.expect("not NULL");
        let mut done = Completions::new();
        for (i, send) in chain.into_iter().enumerate() {
            done.push(
                send,
                if i == 1 {
                    NDIS_STATUS_RESOURCES
                } else {
                    NDIS_STATUS_SUCCESS
                },
            );
        }
        assert_eq!(done.count(), 3);
        let head = done.into_raw().expect("3 NBLs");
        assert_eq!(head, nbls[0]);
        assert_eq!(next_of(nbls[0]), nbls[1]);
        assert_eq!(next_of(nbls[1]), nbls[2]);
        assert!(next_of(nbls[2]).is_null());
        assert_eq!(status_of(nbls[1]), NDIS_STATUS_RESOURCES);
        assert_eq!(status_of(nbls[2]), NDIS_STATUS_SUCCESS);
    }

    /// An NBL covmini never lent carries no share: the return path can tell.
    #[test]
    fn an_unlent_receive_nbl_has_no_share() {
        let mut a = Arena::new();
        let mut rx = a.rx();
        assert!(rx.take_share().is_none());
    }
}
