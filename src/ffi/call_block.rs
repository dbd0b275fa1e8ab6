//! A VC's call parameters: [`CallBlock`], the block covmini activates a VC
//! with and offers an incoming call with, from its own lookaside list (tag
//! `CvmC`), and [`CallShape`], the parts of a client's call parameters
//! covmini keeps. The glue (`super::effects`: `take_call`, `begin_call`,
//! `end_call`) takes a block when a call begins on a VC and gives it back
//! when the call is over; this module only says how a block is made and
//! read (`super::cm_context` attaches it to a VC).
//!
//! Must not: read a client's block (`super::params` does), or decide when
//! a block is taken or given back.

use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::AtomicU32;

use ndis_sys::*;

use super::lookaside::Lookaside;
use super::signed::Signed;
use crate::call_manager::{MAX_ADDRESS_LEN, PARAM_TYPE_CALLED_ADDRESS};
use crate::pool::SIG_CALL;

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
