//! A connected call's QoS change: ProtocolCmModifyCallQoS, on either end
//! of a call or an echo call. The new flows are read by `super::params`,
//! checked against the link by the core ([`check_flows`]), and the peer is
//! re-activated with them and told (NdisMCmDispatchIncomingCallQoSChange).
//!
//! Must not: change a call block's flows unless the core marked the VC (and
//! its peer) changing for this handler, or hold the adapter lock across an
//! NDIS call.

use crate::flight::event::Ddi;
use ndis_sys::*;

use super::call_block::CallBlock;
use super::cm_context::{Signed, VcContext};
use super::effects::{on_vc, perform};
use super::params::read_qos_flows;
use super::recorder::{Span, keep_alive};
use super::trace::{ERROR, WARN};
use crate::call_manager::check_flows;
use crate::config;

handler! {
    #[flight(ProtocolCmModifyCallQoS, vc_ctx: VcContext, span)]
    pub(super) unsafe fn modify_call_qos(
        vc_ctx: NDIS_HANDLE,
        params: PCO_CALL_PARAMETERS,
    ) -> NDIS_STATUS => modify_call_qos_impl;
}

/// ProtocolCmModifyCallQoS on a connected call (either end, or an echo
/// call). Reads only the two fixed FLOWSPECs of CallMgrParameters (the
/// CallMgrSpecific tail and MediaParameters are not read, so no client
/// length is trusted) and checks them against the link
/// ([`crate::call_manager::check_flows`]: TokenRate and PeakBandwidth
/// at most 1 Gb/s = 125,000,000 bytes/s, MaxSduSize at most the MTU).
/// A flow beyond the link is refused, not clamped, with
/// NDIS_STATUS_INCOMPATABLE_QOS, and nothing changes. Accepted: the VC is
/// re-activated with its new flows (NdisMCmActivateVc, contract §3.3
/// "QoS, client side"), the peer re-activated with them swapped and told
/// (NdisMCmActivateVc then NdisMCmDispatchIncomingCallQoSChange, §3.3
/// "QoS, remote side"), and the handler returns SUCCESS; it never pends.
/// Should NdisMCmActivateVc fail, the old flows are restored and the
/// change refused with INCOMPATABLE_QOS. No CallMgrParameters:
/// NDIS_STATUS_INVALID_DATA. A VC with no active call, or one whose call
/// is already changing its QoS: NDIS_STATUS_FAILURE.
///
/// # Lifetime
/// The adapter, reached through the VC's context (`vc_ctx`), lives through
/// the body: `handler!` runs it inside this handler's span, which holds a
/// `Running` count on the adapter it found through that same context until
/// the entry records the return, after the body; [`keep_alive`] checks that
/// the span is on the adapter the body validated, and takes a count of its
/// own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn modify_call_qos_impl(
    span: Option<&Span<'_>>,
    vc_ctx: NDIS_HANDLE,
    params: PCO_CALL_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: the CallMgrVcContext covmini gave NDIS.
    let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
        trace!(ERROR, "ProtocolCmModifyCallQoS: not a VC context: {:p}", vc_ctx);
        return NDIS_STATUS_FAILURE;
    };
    // SAFETY: NDIS's CO_CALL_PARAMETERS for this request, or NULL
    // (refused inside).
    let Some((tx, rx)) = (unsafe { read_qos_flows(params) }) else {
        return NDIS_STATUS_INVALID_DATA;
    };
    if let Err(e) = check_flows(&tx, &rx, config::LINK_SPEED_BPS, config::MTU) {
        trace!(WARN, "ProtocolCmModifyCallQoS({:p}): {:?}", vc_ctx, e);
        return e.status();
    }
    // First act on the VC's context, as a send's (`super::data`, "The
    // handshake"): a close waits for this change until the core pins
    // the VC, or this change saw the close begin (a VC with no active
    // call: FAILURE).
    let (inside, closing) = vc.enter();
    if closing {
        inside.leave();
        return NDIS_STATUS_FAILURE;
    }
    let adapter = vc.adapter();
    let _running = keep_alive(span, adapter);
    let peer = on_vc(vc, |cm| cm.modify_qos_begin(vc.id()));
    inside.leave();
    let peer = match peer {
        Ok(p) => p,
        Err(r) => {
            trace!(WARN, "ProtocolCmModifyCallQoS({:p}): {:?}", vc_ctx, r);
            return NDIS_STATUS_FAILURE;
        }
    };
    // SAFETY: the core pinned the VC (and the peer) for this change:
    // their calls cannot end, nor their blocks go, before modify_qos_end.
    let status = match unsafe { vc.call() } {
        // SAFETY: the core marked this VC changing for this handler.
        Some(own) => unsafe { change_qos(vc, own, &tx, &rx, peer.map(|(_, t)| t)) },
        None => {
            trace!(
                ERROR,
                "ProtocolCmModifyCallQoS({:p}): a call with no call block", vc_ctx
            );
            NDIS_STATUS_FAILURE
        }
    };
    let fx = adapter.cm().modify_qos_end(vc.id(), peer.map(|(p, _)| p));
    perform(adapter, &fx);
    status
}

/// ProtocolCmModifyCallQoS's change, once the core marked it: `vc`
/// re-activated with the new flows (`own` is its call block), the peer
/// (`peer`'s token) re-activated with them swapped and told. Returns the
/// handler's status; on a failed activation the old flows are back.
///
/// # Safety
/// The core marked `vc` and `peer` changing and pinned them for the
/// caller (`modify_qos_begin`), and `own` is `vc`'s call block.
unsafe fn change_qos(
    vc: &VcContext,
    own: &CallBlock,
    tx: &FLOWSPEC,
    rx: &FLOWSPEC,
    peer: Option<usize>,
) -> NDIS_STATUS {
    // SAFETY: the only writer of the block now (precondition).
    let old = unsafe { own.set_flows(*tx, *rx) };
    // SAFETY: the VC's NdisVcHandle (pinned active) and its own parameters.
    if vc.adapter().ddi(Ddi::NdisMCmActivateVc, vc.ndis(), unsafe {
        NdisMCmActivateVc(vc.ndis(), own.params())
    }) != NDIS_STATUS_SUCCESS
    {
        trace!(
            ERROR,
            "ProtocolCmModifyCallQoS({:p}): NdisMCmActivateVc failed; old QoS kept",
            vc.as_handle()
        );
        // SAFETY: still the only writer (marked changing).
        let _ = unsafe { own.set_flows(old.0, old.1) };
        return NDIS_STATUS_INCOMPATABLE_QOS;
    }
    if let Some(token) = peer {
        // SAFETY: the core pinned the peer `token` and marked it changing
        // for this change (this function's precondition).
        unsafe { change_peer_qos(vc, token, tx, rx) };
    }
    NDIS_STATUS_SUCCESS
}

/// The peer's side of a QoS change `vc`'s client asked for: the peer's
/// block gets the flows the other way round (its transmit is `vc`'s
/// receive), NdisMCmActivateVc applies them to the peer's VC, and
/// NdisMCmDispatchIncomingCallQoSChange tells the peer's client. A failure
/// is traced, not returned: `vc`'s own change already holds.
///
/// # Safety
/// The core pinned the peer `token` for this change (its call cannot end
/// before modify_qos_end) and marked it changing for this handler, so
/// this is its block's only writer.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, without the adapter lock.
unsafe fn change_peer_qos(vc: &VcContext, token: usize, tx: &FLOWSPEC, rx: &FLOWSPEC) {
    // SAFETY: the core pinned the peer for this change.
    let other = unsafe { VcContext::from_token(token) };
    // SAFETY: pinned: its call cannot end before modify_qos_end.
    let Some(theirs) = (unsafe { other.call() }) else {
        trace!(
            ERROR,
            "ProtocolCmModifyCallQoS: the peer {:p} has no call block",
            other.ndis()
        );
        return;
    };
    // SAFETY: the core marked the peer changing for this handler.
    let _ = unsafe { theirs.set_flows(*rx, *tx) };
    // SAFETY: the peer's NdisVcHandle (pinned) and its own parameters.
    if vc.adapter().ddi(Ddi::NdisMCmActivateVc, other.ndis(), unsafe {
        NdisMCmActivateVc(other.ndis(), theirs.params())
    }) == NDIS_STATUS_SUCCESS
    {
        // SAFETY: the peer's NdisVcHandle (the core pinned the peer for
        // this change, so its VC is alive and its call up) and its own
        // parameters, alive until its call ends; the client accepts the
        // change by returning.
        unsafe { NdisMCmDispatchIncomingCallQoSChange(other.ndis(), theirs.params()) };
        vc.adapter().called(
            Ddi::NdisMCmDispatchIncomingCallQoSChange,
            other.ndis(),
            NDIS_STATUS_SUCCESS,
        );
    } else {
        trace!(
            ERROR,
            "ProtocolCmModifyCallQoS: NdisMCmActivateVc on the peer {:p} failed",
            other.ndis()
        );
    }
}
