//! The blocks covclient hands NDIS for a call manager to read, built in
//! place in the context that keeps them alive until the completion
//! (NdisClRegisterSap's CO_SAP, NdisClMakeCall's, NdisClAddParty's and
//! NdisClModifyCallQoS's CO_CALL_PARAMETERS with its
//! CO_CALL_MANAGER_PARAMETERS and CO_MEDIA_PARAMETERS). No FFI and no
//! unsafe: a block's pointers are to its own fields, taken with `&raw mut`,
//! so a block is filled where it stays ([`CallBlock::fill`] takes `&mut
//! self`) and is valid for as long as it does not move.
//!
//! The format is the one covmini reads (`src/ffi/params.rs`,
//! `call_manager::check_sap_header` and `check_called_address_header`): a
//! CO_SAP of SapType [`COVMINI_SAP_TYPE_ADDRESS`](covclient_abi::COVMINI_SAP_TYPE_ADDRESS) whose `Sap` bytes are the
//! address; a CO_MEDIA_PARAMETERS whose MediaSpecific has ParamType
//! [`COVMINI_PARAM_TYPE_CALLED_ADDRESS`](covclient_abi::COVMINI_PARAM_TYPE_CALLED_ADDRESS) and the called address as its
//! `Parameters` bytes; the FLOWSPECs in CO_CALL_MANAGER_PARAMETERS, with an
//! empty CallMgrSpecific. covclient passes the client's values as given
//! (a wrong type or length reaches covmini, which refuses it: the lab tests
//! covmini's refusals through covclient).
//!
//! Must not: point outside the block, or be moved after [`CallBlock::fill`].

use core::mem::offset_of;
use core::ptr::null_mut;

use covclient_abi::{
    COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS, COVCLIENT_CALL_NO_MEDIA_PARAMETERS, CallParameters, Flowspec,
};
use ndis_sys::{
    CO_CALL_MANAGER_PARAMETERS, CO_CALL_PARAMETERS, CO_MEDIA_PARAMETERS, CO_SAP, CO_SPECIFIC_PARAMETERS, FLOWSPEC,
    PCO_CALL_PARAMETERS, PCO_SAP,
};

/// Address bytes a block carries (`COVCLIENT_MAX_ADDRESS_BYTES`).
pub const ADDRESS_BYTES: usize = 64;

/// A CO_SAP with room for [`ADDRESS_BYTES`] of address.
///
/// INVARIANT: the layout of CO_SAP (SapType at 0, SapLength at 4, Sap at 8;
/// asserted below), so a pointer to it is a `PCO_SAP` whose tail holds
/// `bytes`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
pub struct SapBlock {
    sap_type: u32,
    sap_length: u32,
    bytes: [u8; ADDRESS_BYTES],
}

const _: () = {
    assert!(offset_of!(SapBlock, sap_type) == offset_of!(CO_SAP, SapType));
    assert!(offset_of!(SapBlock, sap_length) == offset_of!(CO_SAP, SapLength));
    assert!(offset_of!(SapBlock, bytes) == offset_of!(CO_SAP, Sap));
};

impl SapBlock {
    /// A CO_SAP of `sap_type` with the first `sap_length` of `bytes` (the
    /// length as the client gave it: the parser bounds it by 64).
    #[must_use]
    pub const fn new(sap_type: u32, sap_length: u32, bytes: [u8; ADDRESS_BYTES]) -> Self {
        Self {
            sap_type,
            sap_length,
            bytes,
        }
    }

    /// The block as NdisClRegisterSap's `Sap`.
    pub fn as_co_sap(&mut self) -> PCO_SAP {
        (&raw mut *self).cast()
    }
}

/// A CO_MEDIA_PARAMETERS whose MediaSpecific has room for
/// [`ADDRESS_BYTES`] of called address.
///
/// INVARIANT: the layout of CO_MEDIA_PARAMETERS up to
/// `MediaSpecific.Parameters` (asserted below), so `bytes` is the
/// `Parameters` tail.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
struct MediaBlock {
    flags: u32,
    receive_priority: u32,
    receive_size_hint: u32,
    pad: u32,
    param_type: u32,
    length: u32,
    bytes: [u8; ADDRESS_BYTES],
}

const MEDIA_SPECIFIC: usize = offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific);
const _: () = {
    assert!(offset_of!(MediaBlock, flags) == offset_of!(CO_MEDIA_PARAMETERS, Flags));
    assert!(offset_of!(MediaBlock, receive_size_hint) == offset_of!(CO_MEDIA_PARAMETERS, ReceiveSizeHint));
    assert!(offset_of!(MediaBlock, param_type) == MEDIA_SPECIFIC + offset_of!(CO_SPECIFIC_PARAMETERS, ParamType));
    assert!(offset_of!(MediaBlock, length) == MEDIA_SPECIFIC + offset_of!(CO_SPECIFIC_PARAMETERS, Length));
    assert!(offset_of!(MediaBlock, bytes) == MEDIA_SPECIFIC + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters));
};

/// A CO_CALL_PARAMETERS with the two blocks it points at.
///
/// INVARIANT: after [`Self::fill`], `params.CallMgrParameters` is NULL or
/// `&cm`, and `params.MediaParameters` NULL or `&media`, of this block at
/// the address it was filled at.
#[repr(C)]
#[derive(Debug)]
pub struct CallBlock {
    params: CO_CALL_PARAMETERS,
    cm: CO_CALL_MANAGER_PARAMETERS,
    media: MediaBlock,
}

/// An all-zero FLOWSPEC (an empty block's).
const NO_FLOW: FLOWSPEC = FLOWSPEC {
    TokenRate: 0,
    TokenBucketSize: 0,
    PeakBandwidth: 0,
    Latency: 0,
    DelayVariation: 0,
    ServiceType: 0,
    MaxSduSize: 0,
    MinimumPolicedSize: 0,
};

/// A FLOWSPEC from the ABI's.
const fn flowspec(f: &Flowspec) -> FLOWSPEC {
    FLOWSPEC {
        TokenRate: f.token_rate,
        TokenBucketSize: f.token_bucket_size,
        PeakBandwidth: f.peak_bandwidth,
        Latency: f.latency,
        DelayVariation: f.delay_variation,
        ServiceType: f.service_type,
        MaxSduSize: f.max_sdu_size,
        MinimumPolicedSize: f.minimum_policed_size,
    }
}

impl CallBlock {
    /// An empty block (both pointers NULL), for a context's initial value.
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            params: CO_CALL_PARAMETERS {
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
            media: MediaBlock {
                flags: 0,
                receive_priority: 0,
                receive_size_hint: 0,
                pad: 0,
                param_type: 0,
                length: 0,
                bytes: [0; ADDRESS_BYTES],
            },
        }
    }

    /// Fills the block in place for a make call or an add party: the
    /// FLOWSPECs (unless `COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS`) and the
    /// called address (unless `COVCLIENT_CALL_NO_MEDIA_PARAMETERS`), as
    /// the client gave them. Returns the CO_CALL_PARAMETERS to pass.
    pub fn fill(&mut self, p: &CallParameters) -> PCO_CALL_PARAMETERS {
        *self = Self::empty();
        if p.flags & COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS == 0 {
            self.cm.Transmit = flowspec(&p.transmit);
            self.cm.Receive = flowspec(&p.receive);
            self.params.CallMgrParameters = &raw mut self.cm;
        }
        if p.flags & COVCLIENT_CALL_NO_MEDIA_PARAMETERS == 0 {
            self.media.param_type = p.param_type;
            self.media.length = p.address_length;
            self.media.bytes = p.address;
            self.params.MediaParameters = (&raw mut self.media).cast();
        }
        &raw mut self.params
    }

    /// Fills the block in place for a modify QoS: the FLOWSPECs (when
    /// `with_cm`), no media parameters.
    pub fn fill_qos(&mut self, with_cm: bool, transmit: &Flowspec, receive: &Flowspec) -> PCO_CALL_PARAMETERS {
        *self = Self::empty();
        if with_cm {
            self.cm.Transmit = flowspec(transmit);
            self.cm.Receive = flowspec(receive);
            self.params.CallMgrParameters = &raw mut self.cm;
        }
        &raw mut self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use covclient_abi::{COVMINI_ECHO_ADDRESS, COVMINI_PARAM_TYPE_CALLED_ADDRESS, COVMINI_SAP_TYPE_ADDRESS};
    use std::boxed::Box;

    const ZERO: Flowspec = Flowspec {
        token_rate: 0,
        token_bucket_size: 0,
        peak_bandwidth: 0,
        latency: 0,
        delay_variation: 0,
        service_type: 0,
        max_sdu_size: 0,
        minimum_policed_size: 0,
    };

    fn echo_params(flags: u32) -> CallParameters {
        let mut address = [0u8; ADDRESS_BYTES];
        address[..4].copy_from_slice(COVMINI_ECHO_ADDRESS);
        let mut transmit = ZERO;
        transmit.peak_bandwidth = 1000;
        let mut receive = ZERO;
        receive.max_sdu_size = 1500;
        CallParameters {
            flags,
            param_type: COVMINI_PARAM_TYPE_CALLED_ADDRESS,
            address_length: 4,
            reserved: 0,
            address,
            transmit,
            receive,
        }
    }

    /// Proves a CO_SAP reads back, at CO_SAP's offsets, as covmini's echo
    /// SAP: the type, the length and the address bytes.
    #[test]
    fn a_sap_block_is_a_co_sap_with_the_address_in_its_tail() {
        let mut bytes = [0u8; ADDRESS_BYTES];
        bytes[..4].copy_from_slice(COVMINI_ECHO_ADDRESS);
        let mut b = Box::new(SapBlock::new(COVMINI_SAP_TYPE_ADDRESS, 4, bytes));
        let p = b.as_co_sap();
        assert_eq!(p.cast::<SapBlock>(), &raw mut *b);
        // The fields sit at CO_SAP's offsets (the const assertions above).
        assert_eq!(b.sap_type, COVMINI_SAP_TYPE_ADDRESS);
        assert_eq!(b.sap_length, 4);
        assert_eq!(&b.bytes[..4], COVMINI_ECHO_ADDRESS);
    }

    /// Proves a make call's block points at its own CM and media parts and
    /// that they hold what covmini checks: the called-address ParamType,
    /// the length, the bytes at MediaSpecific.Parameters, the FLOWSPECs.
    #[test]
    fn a_call_block_points_at_its_own_parts_in_covmini_s_format() {
        let mut b = Box::new(CallBlock::empty());
        let cp = b.fill(&echo_params(0));
        assert_eq!(cp, &raw mut b.params);
        assert_eq!(b.params.CallMgrParameters, &raw mut b.cm);
        assert_eq!(b.params.MediaParameters.cast::<MediaBlock>(), &raw mut b.media);
        // MediaSpecific's fields sit at CO_MEDIA_PARAMETERS' offsets (the
        // const assertions above).
        assert_eq!(b.media.param_type, COVMINI_PARAM_TYPE_CALLED_ADDRESS);
        assert_eq!(b.media.length, 4);
        assert_eq!(&b.media.bytes[..4], COVMINI_ECHO_ADDRESS);
        assert_eq!(b.cm.Transmit.PeakBandwidth, 1000);
        assert_eq!(b.cm.Receive.MaxSduSize, 1500);
        assert_eq!(b.cm.CallMgrSpecific.Length, 0);
        assert_eq!(b.params.Flags, 0);
    }

    /// Proves the two "leave it out" flags give NULL pointers (so covmini's
    /// NULL-parameter refusals can be reached), and a refill clears the
    /// previous call's parts.
    #[test]
    fn the_no_parameters_flags_pass_null_and_a_refill_starts_clean() {
        let mut b = Box::new(CallBlock::empty());
        b.fill(&echo_params(0));
        b.fill(&echo_params(
            COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS | COVCLIENT_CALL_NO_MEDIA_PARAMETERS,
        ));
        assert!(b.params.CallMgrParameters.is_null());
        assert!(b.params.MediaParameters.is_null());
        assert_eq!(b.media.length, 0);
        assert_eq!(b.cm.Transmit, FLOWSPEC::default());
    }

    /// Proves a modify QoS passes only the FLOWSPECs, or nothing.
    #[test]
    fn a_qos_block_has_flows_and_no_media() {
        let p = echo_params(0);
        let mut b = Box::new(CallBlock::empty());
        b.fill_qos(true, &p.transmit, &p.receive);
        assert_eq!(b.params.CallMgrParameters, &raw mut b.cm);
        assert!(b.params.MediaParameters.is_null());
        assert_eq!(b.cm.Receive.MaxSduSize, 1500);
        b.fill_qos(false, &p.transmit, &p.receive);
        assert!(b.params.CallMgrParameters.is_null());
    }
}
