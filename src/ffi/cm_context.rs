//! The call manager's per-object contexts, handed to NDIS as
//! CallMgrAfContext, CallMgrSapContext, CallMgrVcContext (=
//! MiniportVcContext) and CallMgrPartyContext, each from its own lookaside
//! list with its own tag and signature (`crate::pool`). A context holds what the glue needs to talk to
//! NDIS about its object (the NDIS handle, the adapter) and the object's id
//! in the FFI-free [`CallManager`](crate::call_manager::CallManager), which
//! holds the object's state under the adapter lock.
//!
//! A context's *token* (its address as a `usize`) is what the core stores and
//! names in its effects.
//!
//! A VC carries its call's parameters (what covmini activates it with and
//! offers an incoming call with) in a [`CallBlock`] of its own, from a
//! fourth list (tag `CvmC`), only while it carries a call: an idle VC is
//! just its [`VcContext`]. The glue (`super::effects`: `take_call`,
//! `begin_call`, `end_call`) takes a block when a call begins on the VC and
//! gives it back when the call is over; this module
//! only says how a block is made, attached and read.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::mem::offset_of;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicPtr, AtomicU16, AtomicU32, Ordering};

use ndis_sys::*;

use super::context::{AdapterContext, Cm};
use super::data::Counters;
use super::effects::perform;
use super::lookaside::Lookaside;
use super::sync::SpinLockGuard;
use crate::call_manager::{AfId, Effects, MAX_ADDRESS_LEN, PARAM_TYPE_CALLED_ADDRESS, PartyId, SapId, VcId, VcState};
use crate::ctrl_path::WanLinkInfo;
use crate::pool::{SIG_AF, SIG_CALL, SIG_FREED, SIG_PARTY, SIG_SAP, SIG_VC};

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

/// One client's open of covmini's AF.
#[repr(C)]
pub(crate) struct AfContext {
    signature: AtomicU32,
    id: AtomicU16,
    adapter: NonNull<AdapterContext>,
    ndis: NDIS_HANDLE,
}

// SAFETY: repr(C), signature first.
unsafe impl Signed for AfContext {
    const SIGNATURE: u32 = SIG_AF;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl AfContext {
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_AF),
            id: AtomicU16::new(0),
            adapter: NonNull::from(adapter),
            ndis,
        }
    }
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: the adapter outlives every context it allocated (they are
        // all freed before HaltEx frees it).
        unsafe { self.adapter.as_ref() }
    }
    pub(crate) fn id(&self) -> AfId {
        AfId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: AfId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisAfHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis
    }
}

/// A registered SAP.
#[repr(C)]
pub(crate) struct SapContext {
    signature: AtomicU32,
    id: AtomicU16,
    adapter: NonNull<AdapterContext>,
    ndis: NDIS_HANDLE,
}

// SAFETY: repr(C), signature first.
unsafe impl Signed for SapContext {
    const SIGNATURE: u32 = SIG_SAP;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl SapContext {
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_SAP),
            id: AtomicU16::new(0),
            adapter: NonNull::from(adapter),
            ndis,
        }
    }
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: as AfContext::adapter.
        unsafe { self.adapter.as_ref() }
    }
    pub(crate) fn id(&self) -> SapId {
        SapId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: SapId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisSapHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis
    }
}

/// `CO_MEDIA_PARAMETERS` followed by room for a covmini address in its
/// MediaSpecific tail: the same layout, with `Parameters[1]` grown to
/// [`MAX_ADDRESS_LEN`] bytes.
#[repr(C, align(8))]
struct MediaWithAddress {
    flags: ULONG,
    receive_priority: ULONG,
    receive_size_hint: ULONG,
    pad: ULONG,
    param_type: ULONG,
    length: ULONG,
    address: [u8; MAX_ADDRESS_LEN],
}

const MEDIA_SPECIFIC: usize = offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific);
const _: () = {
    assert!(offset_of!(MediaWithAddress, flags) == offset_of!(CO_MEDIA_PARAMETERS, Flags));
    assert!(offset_of!(MediaWithAddress, receive_size_hint) == offset_of!(CO_MEDIA_PARAMETERS, ReceiveSizeHint));
    assert!(offset_of!(MediaWithAddress, param_type) == MEDIA_SPECIFIC + offset_of!(CO_SPECIFIC_PARAMETERS, ParamType));
    assert!(offset_of!(MediaWithAddress, length) == MEDIA_SPECIFIC + offset_of!(CO_SPECIFIC_PARAMETERS, Length));
    assert!(offset_of!(MediaWithAddress, address) == MEDIA_SPECIFIC + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters));
    assert!(core::mem::align_of::<MediaWithAddress>() >= core::mem::align_of::<CO_MEDIA_PARAMETERS>());
};

/// What covmini activates a VC with: its own copy of the call's parameters
/// (the client's block is the client's), MediaParameters always non-NULL
/// (contract §3.3: NdisMCmActivateVc dereferences it). `cp` comes first, so
/// the block's parameters start where the structure does.
#[repr(C)]
struct OwnedCallParams {
    cp: CO_CALL_PARAMETERS,
    cm: CO_CALL_MANAGER_PARAMETERS,
    media: MediaWithAddress,
}

const _: () = assert!(offset_of!(OwnedCallParams, cp) == 0);

/// The parts of a client's call parameters covmini keeps.
#[derive(Clone, Copy)]
pub(crate) struct CallShape {
    pub(crate) transmit: FLOWSPEC,
    pub(crate) receive: FLOWSPEC,
    pub(crate) media_flags: ULONG,
    pub(crate) receive_size_hint: ULONG,
}

impl CallShape {
    /// The other end's view: its transmit is this end's receive.
    pub(crate) fn swapped(&self) -> Self {
        Self {
            transmit: self.receive,
            receive: self.transmit,
            ..*self
        }
    }
}

/// One VC's call: the parameters covmini hands NDIS for it, in a block of
/// its own (tag `CvmC`) that the VC holds only while it carries a call.
///
/// Who reads the parameters, and so how long the block must live: NDIS
/// (and covmini, as the miniport NdisMCmActivateVc is about) inside
/// NdisMCmActivateVc, whose page asks for a caller-allocated buffer; the
/// callee's client from NdisMCmDispatchIncomingCall until it answers
/// (NdisClIncomingCallComplete hands the same pointer back to
/// ProtocolCmIncomingCallComplete); the peer's client inside
/// NdisMCmDispatchIncomingCallQoSChange. The glue takes the block before
/// the call's first NDIS call and gives it back only once the VC is
/// deactivated and its call's last request is being answered (a failed make
/// call, a close's completion) or the VC is deleted, so it outlives every
/// reader. 168 bytes on x64 (asserted below).
#[repr(C)]
pub(crate) struct CallBlock {
    signature: AtomicU32,
    /// Written only by the handler that owns the block: while making it
    /// ([`Self::alloc`]), and by the QoS change the core marked on its VC
    /// ([`Self::set_flows`]); read by NDIS through [`Self::params`].
    params: UnsafeCell<OwnedCallParams>,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<CallBlock>() == 168);

// SAFETY: repr(C), signature first.
unsafe impl Signed for CallBlock {
    const SIGNATURE: u32 = SIG_CALL;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl CallBlock {
    /// The parameters of a call to `address` with `shape`, their links not
    /// yet set (they point into the block, whose address is not known yet).
    fn new(shape: &CallShape, address: &[u8]) -> Self {
        let n = address.len().min(MAX_ADDRESS_LEN);
        let mut bytes = [0; MAX_ADDRESS_LEN];
        if let (Some(dst), Some(src)) = (bytes.get_mut(..n), address.get(..n)) {
            dst.copy_from_slice(src);
        }
        Self {
            signature: AtomicU32::new(SIG_CALL),
            params: UnsafeCell::new(OwnedCallParams {
                cp: CO_CALL_PARAMETERS {
                    Flags: 0,
                    CallMgrParameters: null_mut(),
                    MediaParameters: null_mut(),
                },
                cm: CO_CALL_MANAGER_PARAMETERS {
                    Transmit: shape.transmit,
                    Receive: shape.receive,
                    CallMgrSpecific: CO_SPECIFIC_PARAMETERS {
                        ParamType: 0,
                        Length: 0,
                        Parameters: [0],
                    },
                },
                media: MediaWithAddress {
                    flags: shape.media_flags,
                    receive_priority: 0,
                    receive_size_hint: shape.receive_size_hint,
                    pad: 0,
                    param_type: PARAM_TYPE_CALLED_ADDRESS,
                    // CAST: n <= MAX_ADDRESS_LEN (32).
                    length: n as ULONG,
                    address: bytes,
                },
            }),
        }
    }

    /// A block from `list` holding the parameters of a call to `address`
    /// with `shape`, ready to hand to NDIS; None when pool is exhausted.
    /// Never on the data path: a call's setup takes it.
    pub(crate) fn alloc(list: &Lookaside<Self>, shape: &CallShape, address: &[u8]) -> Option<NonNull<Self>> {
        let block = list.alloc(Self::new(shape, address))?;
        // SAFETY: a fresh entry holding a CallBlock (Lookaside::alloc).
        let this = unsafe { block.as_ref() };
        // SAFETY: just allocated: nobody else has the block yet.
        let owned = unsafe { &mut *this.params.get() };
        owned.cp.CallMgrParameters = &raw mut owned.cm;
        // CAST: MediaWithAddress has CO_MEDIA_PARAMETERS's layout, extended
        // (asserted above).
        owned.cp.MediaParameters = (&raw mut owned.media).cast();
        Some(block)
    }

    /// Gives a block back to `list`.
    ///
    /// # Safety
    /// `block` came from [`Self::alloc`] on `list`, and nothing reads it
    /// any more, nor will: no NDIS call holds its parameters (see the type's
    /// docs) and no VC holds it.
    pub(crate) unsafe fn free(list: &Lookaside<Self>, block: NonNull<Self>) {
        // SAFETY: a live block (precondition).
        unsafe { block.as_ref() }.kill();
        // SAFETY: from this list, not used after (precondition).
        unsafe { list.free(block) };
    }

    /// The parameters, for NdisMCmActivateVc, NdisMCmDispatchIncomingCall
    /// and NdisMCmDispatchIncomingCallQoSChange: alive as long as the block.
    pub(crate) fn params(&self) -> PCO_CALL_PARAMETERS {
        // CAST: `cp` is at offset 0 of the repr(C) OwnedCallParams (asserted).
        self.params.get().cast()
    }

    /// Replaces the flows (a QoS change), returning the old ones (to
    /// restore on failure).
    ///
    /// # Safety
    /// The caller is the QoS change the core marked on this block's VC
    /// (`modify_qos_begin`): no other handler writes the block, and NDIS
    /// reads it only inside the NdisMCmActivateVc and dispatch calls the
    /// caller makes next.
    pub(crate) unsafe fn set_flows(&self, transmit: FLOWSPEC, receive: FLOWSPEC) -> (FLOWSPEC, FLOWSPEC) {
        // SAFETY: the only writer now, and no reader (precondition).
        let owned = unsafe { &mut *self.params.get() };
        let old = (owned.cm.Transmit, owned.cm.Receive);
        owned.cm.Transmit = transmit;
        owned.cm.Receive = receive;
        old
    }
}

/// [`VcContext`]'s `entry` bit that says a close has begun on the VC (the
/// bits below count the handlers inside).
const CLOSING: u32 = 1 << 31;

/// A VC: client-created (ProtocolCoCreateVc) or covmini-created for an
/// incoming call (NdisMCmCreateVc). 136 bytes on x64 (asserted below): an
/// idle VC holds no call parameters ([`CallBlock`]).
///
/// INVARIANT: while `entry` counts a handler ([`Self::enter`] until its
/// [`Inside`] leaves), the context is not freed and no close deactivates
/// or deletes its VC: a close that raises [`CLOSING`] in `entry` while
/// the count is non-zero pends until the last one leaves
/// ([`Inside::leave`]), and a handler whose count enters after that sees
/// [`CLOSING`] and takes nothing (the handshake in `super::data`'s module
/// docs).
#[repr(C)]
pub(crate) struct VcContext {
    signature: AtomicU32,
    id: AtomicU32,
    /// The handshake word: the handlers inside covmini with this context
    /// (sends, and the VC's OID and QoS requests), counted as their first
    /// act, in the low bits; [`CLOSING`]: a close has begun on the VC (an
    /// entering handler takes nothing), cleared when a new call begins on
    /// it ([`Self::attach_call`]). One word, so a handler's entry and a
    /// close's start are read-modify-writes of the same location: one of
    /// the two comes first in its modification order and the other sees it.
    entry: AtomicU32,
    /// Whether the client created this VC (ProtocolCoCreateVc): only
    /// ProtocolCoDeleteVc frees it, never a close. Set at creation, never
    /// changed (it sits in what was padding before `adapter`).
    client_created: bool,
    adapter: NonNull<AdapterContext>,
    /// The NdisVcHandle (for an MCM VC, known once NdisMCmCreateVc returns).
    ndis: AtomicPtr<c_void>,
    /// The client's CO_CALL_PARAMETERS of a pended make call, for
    /// NdisMCmMakeCallComplete.
    client_params: AtomicPtr<CO_CALL_PARAMETERS>,
    /// The NdisPartyHandle a multipoint root's close came with (its last
    /// party), for NdisMCmCloseCallComplete; NULL for a point-to-point call.
    close_party: AtomicPtr<c_void>,
    /// The call's block while the VC carries a call, else NULL. Set by the
    /// handler that sets up a call on the VC, taken back by the one that
    /// ends it (`super::effects`).
    call: AtomicPtr<CallBlock>,
    /// This VC's traffic counters (per-VC statistics OIDs).
    counters: Counters,
    /// What OID_WAN_CO_SET_LINK_INFO stored; read and written only with the
    /// adapter's call-manager lock held (see [`Self::link_info`]).
    link_info: UnsafeCell<Option<WanLinkInfo>>,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<VcContext>() == 136);

// SAFETY: repr(C), signature first.
unsafe impl Signed for VcContext {
    const SIGNATURE: u32 = SIG_VC;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl VcContext {
    /// A VC context: `ndis` is the client's NdisVcHandle for a VC the
    /// client creates (ProtocolCoCreateVc), or NULL for one covmini creates
    /// (its handle comes with NdisMCmCreateVc).
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_VC),
            id: AtomicU32::new(0),
            entry: AtomicU32::new(0),
            client_created: !ndis.is_null(),
            adapter: NonNull::from(adapter),
            ndis: AtomicPtr::new(ndis),
            client_params: AtomicPtr::new(null_mut()),
            close_party: AtomicPtr::new(null_mut()),
            call: AtomicPtr::new(null_mut()),
            counters: Counters::new(),
            link_info: UnsafeCell::new(None),
        }
    }
    /// This VC's traffic counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }
    /// The stored link info; `_cm` proves the adapter lock is held.
    pub(crate) fn link_info(&self, _cm: &SpinLockGuard<'_, Cm>) -> Option<WanLinkInfo> {
        // SAFETY: only touched with the adapter's call-manager lock held,
        // which the guard proves; no reference escapes.
        unsafe { *self.link_info.get() }
    }
    /// Stores link info; `_cm` proves the adapter lock is held.
    pub(crate) fn set_link_info(&self, _cm: &SpinLockGuard<'_, Cm>, info: WanLinkInfo) {
        // SAFETY: as link_info.
        unsafe { *self.link_info.get() = Some(info) };
    }
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: as AfContext::adapter.
        unsafe { self.adapter.as_ref() }
    }
    pub(crate) fn id(&self) -> VcId {
        VcId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: VcId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisVcHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis.load(Ordering::Acquire)
    }
    pub(crate) fn set_ndis(&self, handle: NDIS_HANDLE) {
        self.ndis.store(handle, Ordering::Release);
    }
    pub(crate) fn client_params(&self) -> PCO_CALL_PARAMETERS {
        self.client_params.load(Ordering::Acquire)
    }
    pub(crate) fn set_client_params(&self, params: PCO_CALL_PARAMETERS) {
        self.client_params.store(params, Ordering::Release);
    }
    /// The NdisPartyHandle to complete a close with (NULL: point to point).
    pub(crate) fn close_party(&self) -> NDIS_HANDLE {
        self.close_party.load(Ordering::Acquire)
    }
    pub(crate) fn set_close_party(&self, party: NDIS_HANDLE) {
        self.close_party.store(party, Ordering::Release);
    }

    /// Attaches the block of the call that begins on this VC; returns the
    /// block it held before, which is None unless a call's end forgot to
    /// take its block back.
    ///
    /// Only the handler the core let set up a new call on the VC calls it
    /// (make_call_begin, party_begin, make_call_echo): one at a time.
    pub(crate) fn attach_call(&self, block: NonNull<CallBlock>) -> Option<NonNull<CallBlock>> {
        self.entry.fetch_and(!CLOSING, Ordering::AcqRel);
        NonNull::new(self.call.swap(block.as_ptr(), Ordering::AcqRel))
    }

    /// The first act of every handler NDIS hands this context to (before
    /// any NDIS call and any lock): counts it inside, and says whether a
    /// close has begun (then the handler takes nothing: it answers at once
    /// and leaves, with no NDIS call but its answer before it leaves).
    ///
    /// The handshake with the close (`super::data`'s module docs): the
    /// count and the close's mark are one word, changed by one
    /// read-modify-write each, so either the close's comes first (this
    /// handler sees [`CLOSING`]) or this one does (the close sees the
    /// count and waits).
    pub(crate) fn enter(&self) -> (Inside<'_>, bool) {
        let before = self.entry.fetch_add(1, Ordering::AcqRel);
        (Inside { vc: self }, before & CLOSING != 0)
    }

    /// [`Self::enter`] for a handler that must make an NDIS call even when
    /// the close has begun (a send completes its NBLs): counted inside
    /// only if no close has begun, else None and nothing written. A close
    /// that began first did not wait for this handler, and may delete and
    /// free the VC once this handler has made an NDIS call; with no count
    /// taken there is nothing to give back after that call, so the handler
    /// reads what it needs, makes its one call and touches the context no
    /// more (`super::data`, "The window").
    pub(crate) fn enter_unless_closing(&self) -> Option<Inside<'_>> {
        self.entry
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |e| {
                (e & CLOSING == 0).then_some(e + 1)
            })
            .ok()
            .map(|_| Inside { vc: self })
    }

    /// ProtocolCmCloseCall's side of the handshake (and a refusal's, which
    /// takes the VC down too), with the adapter lock held (`_cm`, the core
    /// as its guard lends it): raises [`CLOSING`] and says whether handlers
    /// were inside at that instant, besides the caller's `own` (1 if the
    /// handler calling this is itself counted in this context, else 0).
    /// Also returns whether it was raised already, for
    /// [`Self::restore_closing`] should the core refuse.
    pub(crate) fn begin_close(&self, _cm: &Cm, own: u32) -> (bool, bool) {
        self.begin_close_in_core(own)
    }

    /// [`Self::begin_close`] asked for by the core itself (its `Marks`,
    /// `super::setup`), while it runs under the adapter lock: the guard
    /// is lent to the core, so the lock is held though no `&Cm` can be
    /// shown.
    pub(crate) fn begin_close_in_core(&self, own: u32) -> (bool, bool) {
        let before = self.entry.fetch_or(CLOSING, Ordering::AcqRel);
        (before & CLOSING != 0, before & !CLOSING > own)
    }

    /// Lowers [`CLOSING`] again after a refused close, unless it was
    /// raised before (`was`).
    pub(crate) fn restore_closing(&self, was: bool) {
        if !was {
            self.entry.fetch_and(!CLOSING, Ordering::AcqRel);
        }
    }

    /// Lowers [`CLOSING`] once a client VC's close is over (or the refusal
    /// of its make call, which raised it the same way): the VC is idle
    /// and stays (only ProtocolCoDeleteVc frees it), so a handler that
    /// enters it now is answered as on any idle VC (an OID is answered, a
    /// send refused by the core with nothing taken). Only with the adapter
    /// lock held (`cm`), only while the core still has the VC idle (a
    /// VC the call manager created is gone from the core by then, and
    /// keeps the mark until it is freed), and before the close's (or the
    /// make call's) completion reaches NDIS: after it, the client may
    /// delete the VC.
    pub(crate) fn end_close(&self, cm: &Cm) {
        if cm.vc_is(self.id(), self.token()) && cm.vc_state(self.id()) == Some(VcState::Idle) {
            self.entry.fetch_and(!CLOSING, Ordering::AcqRel);
        }
    }

    /// Whether an OID request that entered ([`Self::enter`]) after a close
    /// began may still read this context: a client's VC is freed only by
    /// ProtocolCoDeleteVc, which NDIS does not run under the client's own
    /// request on the VC, so its context outlives the close (statistics
    /// stay readable until the client deletes the VC). A VC covmini created
    /// is deleted and freed by its close, which may not have seen the
    /// request: such a request touches the context no more.
    pub(crate) fn readable_while_closing(&self) -> bool {
        self.client_created
    }

    /// Takes the call's block off the VC (None if it has none).
    pub(crate) fn detach_call(&self) -> Option<NonNull<CallBlock>> {
        NonNull::new(self.call.swap(null_mut(), Ordering::AcqRel))
    }

    /// The block of the call on this VC, if it carries one.
    ///
    /// # Safety
    /// The call cannot end while the reference is used: the caller is the
    /// handler setting the call up, or holds a pin of the VC that its close
    /// waits for (a QoS change).
    pub(crate) unsafe fn call(&self) -> Option<&CallBlock> {
        let block = NonNull::new(self.call.load(Ordering::Acquire))?;
        // SAFETY: an attached block is alive until detached, which only the
        // call's end does (precondition: not while this is used).
        let block = unsafe { block.as_ref() };
        (block.signature().load(Ordering::Acquire) == SIG_CALL).then_some(block)
    }
}

/// A handler's place inside a VC context ([`VcContext::enter`]): the
/// context stays alive and its VC undeactivated while it exists. It must be
/// given back with [`Self::leave`] or [`Self::leave_locked`]; after that
/// the handler touches the context no more (a close that waited for it may
/// free it).
///
/// INVARIANT: from [`VcContext::enter`] until [`Self::leave`] or
/// [`Self::leave_locked`] (which consume it), this handler is counted in
/// `vc`'s handshake word, exactly once.
#[must_use = "a handler inside a VC context must leave it, or its close never finishes"]
pub(crate) struct Inside<'a> {
    vc: &'a VcContext,
}

impl Inside<'_> {
    /// Leaves, with no lock held. Should this be the last handler out of a
    /// VC whose close waits for them, finishes the close (takes the
    /// adapter lock, performs the core's effects).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(crate) fn leave(self) {
        let (adapter, id, token) = (self.vc.adapter(), self.vc.id(), self.vc.token());
        if self.vc.entry.fetch_sub(1, Ordering::AcqRel) & !CLOSING != 1 {
            return;
        }
        // From here the context may be gone (a close that did not wait for
        // this handler): only the adapter, and the core, which says whether
        // the VC still waits for handlers, and so still lives.
        let fx = {
            let mut cm = adapter.cm();
            Self::last_out(&mut cm, self.vc, id, token)
        };
        perform(adapter, fx);
    }

    /// Leaves with the adapter lock held (`cm`), which finishing the close
    /// needs: returns the core's effects, to perform once the lock is
    /// dropped (among them, perhaps, the VC's deletion).
    pub(crate) fn leave_locked(self, cm: &mut Cm) -> Effects<usize> {
        let (id, token) = (self.vc.id(), self.vc.token());
        if self.vc.entry.fetch_sub(1, Ordering::AcqRel) & !CLOSING != 1 {
            return Effects::new();
        }
        Self::last_out(cm, self.vc, id, token)
    }

    /// The last handler is out: a close waiting for handlers finishes,
    /// unless one entered meanwhile (it sees the close, and is last out in
    /// its turn).
    fn last_out(cm: &mut Cm, vc: &VcContext, id: VcId, token: usize) -> Effects<usize> {
        // A close waits for handlers only on a VC the core still has, whose
        // context is therefore alive: `vc` is read only then.
        if cm.vc_is(id, token) && cm.waits_for_handlers(id) && vc.entry.load(Ordering::Acquire) & !CLOSING == 0 {
            cm.handlers_left(id)
        } else {
            Effects::new()
        }
    }
}

/// One party of a point-to-multipoint call (CallMgrPartyContext): what
/// the glue needs to talk to NDIS about it. Its state (root, leaf, where it
/// is) is the core's party record. 32 bytes on x64 (asserted below).
#[repr(C)]
pub(crate) struct PartyContext {
    signature: AtomicU32,
    id: AtomicU16,
    adapter: NonNull<AdapterContext>,
    /// The NdisPartyHandle.
    ndis: NDIS_HANDLE,
    /// The client's CO_CALL_PARAMETERS of the make call or add party that
    /// adds the party, for its completion.
    client_params: AtomicPtr<CO_CALL_PARAMETERS>,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<PartyContext>() == 32);

// SAFETY: repr(C), signature first.
unsafe impl Signed for PartyContext {
    const SIGNATURE: u32 = SIG_PARTY;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl PartyContext {
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_PARTY),
            id: AtomicU16::new(0),
            adapter: NonNull::from(adapter),
            ndis,
            client_params: AtomicPtr::new(null_mut()),
        }
    }
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: as AfContext::adapter.
        unsafe { self.adapter.as_ref() }
    }
    pub(crate) fn id(&self) -> PartyId {
        PartyId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: PartyId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisPartyHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis
    }
    pub(crate) fn client_params(&self) -> PCO_CALL_PARAMETERS {
        self.client_params.load(Ordering::Acquire)
    }
    pub(crate) fn set_client_params(&self, params: PCO_CALL_PARAMETERS) {
        self.client_params.store(params, Ordering::Release);
    }
}
