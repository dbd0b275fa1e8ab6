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

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::mem::offset_of;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicPtr, AtomicU16, AtomicU32, Ordering};

use ndis_sys::*;

use super::context::{AdapterContext, Cm};
use super::data::Counters;
use super::sync::SpinLockGuard;
use crate::call_manager::{AfId, MAX_ADDRESS_LEN, PARAM_TYPE_CALLED_ADDRESS, PartyId, SapId, VcId};
use crate::ctrl_path::WanLinkInfo;
use crate::pool::{SIG_AF, SIG_FREED, SIG_PARTY, SIG_SAP, SIG_VC};

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
/// (contract §3.3: NdisMCmActivateVc dereferences it).
#[repr(C)]
struct OwnedCallParams {
    cp: CO_CALL_PARAMETERS,
    cm: CO_CALL_MANAGER_PARAMETERS,
    media: MediaWithAddress,
}

/// The parts of a client's call parameters covmini keeps.
#[derive(Clone, Copy)]
pub(crate) struct CallShape {
    pub(crate) transmit: FLOWSPEC,
    pub(crate) receive: FLOWSPEC,
    pub(crate) media_flags: ULONG,
    pub(crate) receive_size_hint: ULONG,
}

/// A VC: client-created (ProtocolCoCreateVc) or covmini-created for an
/// incoming call (NdisMCmCreateVc).
#[repr(C)]
pub(crate) struct VcContext {
    signature: AtomicU32,
    id: AtomicU32,
    adapter: NonNull<AdapterContext>,
    /// The NdisVcHandle (for an MCM VC, known once NdisMCmCreateVc returns).
    ndis: AtomicPtr<c_void>,
    /// The client's CO_CALL_PARAMETERS of a pended make call, for
    /// NdisMCmMakeCallComplete.
    client_params: AtomicPtr<CO_CALL_PARAMETERS>,
    /// The NdisPartyHandle a multipoint root's close came with (its last
    /// party), for NdisMCmCloseCallComplete; NULL for a point-to-point call.
    close_party: AtomicPtr<c_void>,
    /// Written only by the make call handler that sets up a call on this VC,
    /// before NDIS is given a pointer to it; read by NDIS afterwards.
    params: UnsafeCell<OwnedCallParams>,
    /// This VC's traffic counters (per-VC statistics OIDs).
    counters: Counters,
    /// What OID_WAN_CO_SET_LINK_INFO stored; read and written only with the
    /// adapter's call-manager lock held (see [`Self::link_info`]).
    link_info: UnsafeCell<Option<WanLinkInfo>>,
}

// SAFETY: repr(C), signature first.
unsafe impl Signed for VcContext {
    const SIGNATURE: u32 = SIG_VC;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

const NO_FLOW: FLOWSPEC = FLOWSPEC {
    TokenRate: QOS_NOT_SPECIFIED,
    TokenBucketSize: QOS_NOT_SPECIFIED,
    PeakBandwidth: QOS_NOT_SPECIFIED,
    Latency: QOS_NOT_SPECIFIED,
    DelayVariation: QOS_NOT_SPECIFIED,
    ServiceType: SERVICETYPE_BESTEFFORT,
    MaxSduSize: QOS_NOT_SPECIFIED,
    MinimumPolicedSize: QOS_NOT_SPECIFIED,
};

impl VcContext {
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_VC),
            id: AtomicU32::new(0),
            adapter: NonNull::from(adapter),
            ndis: AtomicPtr::new(ndis),
            client_params: AtomicPtr::new(null_mut()),
            close_party: AtomicPtr::new(null_mut()),
            params: UnsafeCell::new(OwnedCallParams {
                cp: CO_CALL_PARAMETERS {
                    Flags: 0,
                    CallMgrParameters: null_mut(),
                    MediaParameters: null_mut(),
                },
                cm: CO_CALL_MANAGER_PARAMETERS {
                    Transmit: NO_FLOW,
                    Receive: NO_FLOW,
                    CallMgrSpecific: CO_SPECIFIC_PARAMETERS {
                        ParamType: 0,
                        Length: 0,
                        Parameters: [0],
                    },
                },
                media: MediaWithAddress {
                    flags: 0,
                    receive_priority: 0,
                    receive_size_hint: 0,
                    pad: 0,
                    param_type: 0,
                    length: 0,
                    address: [0; MAX_ADDRESS_LEN],
                },
            }),
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

    /// Fills this VC's own call parameters for a call to `address`, and
    /// returns them for NdisMCmActivateVc / NdisMCmDispatchIncomingCall.
    ///
    /// # Safety
    /// No NDIS call holds a pointer to this VC's parameters: the caller is
    /// the make call handler setting up a new call on the VC (NDIS runs one
    /// make call per VC at a time, and a previous call is closed).
    pub(crate) unsafe fn fill_params(&self, shape: &CallShape, address: &[u8]) -> PCO_CALL_PARAMETERS {
        let p = self.params.get();
        // SAFETY: nobody else reads or writes the block now (precondition).
        let owned = unsafe { &mut *p };
        owned.cm.Transmit = shape.transmit;
        owned.cm.Receive = shape.receive;
        owned.media.flags = shape.media_flags;
        owned.media.receive_size_hint = shape.receive_size_hint;
        owned.media.param_type = PARAM_TYPE_CALLED_ADDRESS;
        let n = address.len().min(MAX_ADDRESS_LEN);
        owned.media.address = [0; MAX_ADDRESS_LEN];
        if let (Some(dst), Some(src)) = (owned.media.address.get_mut(..n), address.get(..n)) {
            dst.copy_from_slice(src);
        }
        // CAST: n <= MAX_ADDRESS_LEN (32).
        owned.media.length = n as ULONG;
        owned.cp.Flags = 0;
        owned.cp.CallMgrParameters = &raw mut owned.cm;
        // CAST: MediaWithAddress has CO_MEDIA_PARAMETERS's layout, extended
        // (asserted above).
        owned.cp.MediaParameters = (&raw mut owned.media).cast();
        &raw mut owned.cp
    }

    /// Replaces the flows of this VC's own parameters (a QoS change),
    /// returning the old ones (to restore on failure) and the parameters to
    /// re-activate the VC with.
    ///
    /// # Safety
    /// The caller is the QoS change the core marked on this VC
    /// (`modify_qos_begin`): no other handler writes the block, and NDIS
    /// reads it only inside the NdisMCmActivateVc and dispatch calls the
    /// caller makes next.
    pub(crate) unsafe fn set_flows(
        &self,
        transmit: FLOWSPEC,
        receive: FLOWSPEC,
    ) -> ((FLOWSPEC, FLOWSPEC), PCO_CALL_PARAMETERS) {
        let p = self.params.get();
        // SAFETY: the only writer now (precondition).
        let owned = unsafe { &mut *p };
        let old = (owned.cm.Transmit, owned.cm.Receive);
        owned.cm.Transmit = transmit;
        owned.cm.Receive = receive;
        (old, &raw mut owned.cp)
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
