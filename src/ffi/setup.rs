//! A call's set-up, performed: [`drive`] runs the loop the core
//! (`crate::call_manager`'s setup module) leads for a make call, an echo
//! call and a party's leaf: perform a step's effects with the adapter lock
//! released (the set-up's own NDIS calls, NdisMCmCreateVc,
//! NdisMCmActivateVc and NdisMCmDispatchIncomingCall, here; the rest
//! through `super::effects`), report their statuses to
//! `CallManager::resume` under the lock, until the core answers with the
//! handler's status.
//! [`ContextMarks`] is the close's handshake on the VC contexts, which the
//! core asks for when it takes a set-up down (or a callee refuses,
//! [`answer_offer`]), under the same lock as its decision.
//!
//! Must not: decide what comes next (the core does), or hold the adapter
//! lock across an NDIS call.

use core::ptr::null_mut;

use ndis_sys::*;

use crate::flight::event::Ddi;

use super::call_block::CallBlock;
use super::cm_context::{AfContext, Cm, SapContext, Signed, VcContext};
use super::context::AdapterContext;
use super::effects::{perform, perform_one};
use super::trace::{ERROR, WARN};
use crate::call_manager::{Begun, Effect, Effects, MAX_STEP_CALLS, Marks, Next, Refusal};

/// The close's handshake on VC contexts named by the core's tokens
/// (`VcContext::begin_close_in_core`).
pub(super) struct ContextMarks;

impl Marks<usize> for ContextMarks {
    fn begin_close(&mut self, vc: usize, own: u32) -> (bool, bool) {
        // SAFETY: a live VC token from the core, which asks under the lock
        // for a VC it holds (the set-up's, or an offer's ends).
        unsafe { VcContext::from_token(vc) }.begin_close_in_core(own)
    }
    fn restore_closing(&mut self, vc: usize, was: bool) {
        // SAFETY: a live VC token from the core, which asks under the lock
        // for a VC whose answer it just refused (so it still holds it).
        unsafe { VcContext::from_token(vc) }.restore_closing(was);
    }
}

/// Runs the set-up the core began to its end and returns the handler's status.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) fn drive<P>(adapter: &AdapterContext, begun: Begun<usize, P>) -> NDIS_STATUS {
    let Begun {
        mut setup, mut next, ..
    } = begun;
    loop {
        // Borrowed, not moved out: the effects are performed in place.
        match &next {
            Next::Step(fx) => {
                let statuses = perform_step(adapter, fx);
                next = adapter.cm().resume(&mut setup, statuses.as_slice(), &mut ContextMarks);
            }
            Next::Return(status, fx) => {
                perform(adapter, fx);
                return *status;
            }
        }
    }
}

/// What a step's NDIS calls returned, in order.
///
/// INVARIANT: `len <= MAX_STEP_CALLS`; `all[..len]` are the statuses
/// reported, in the order the calls were made.
struct Statuses {
    all: [NDIS_STATUS; MAX_STEP_CALLS],
    len: usize,
}

impl Statuses {
    fn push(&mut self, status: NDIS_STATUS) {
        if let Some(slot) = self.all.get_mut(self.len) {
            *slot = status;
            // INVARIANT: the slot just filled was at `len < MAX_STEP_CALLS`.
            self.len += 1;
        }
    }
    fn as_slice(&self) -> &[NDIS_STATUS] {
        self.all.get(..self.len).unwrap_or(&[])
    }
}

/// Performs `fx` in order (a set-up's step, `CallManager::resume`) and
/// returns the status of each of its step effects (NdisMCmCreateVc,
/// NdisMCmActivateVc, NdisMCmDispatchIncomingCall); a failed
/// NdisMCmCreateVc ends the step (`Next::Step`). Called with the adapter
/// lock released.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
fn perform_step(adapter: &AdapterContext, fx: &Effects<usize>) -> Statuses {
    if fx.overflowed() {
        trace!(ERROR, "call manager: effects overflowed (a core bug): some were lost");
    }
    let mut statuses = Statuses {
        all: [NDIS_STATUS_FAILURE; MAX_STEP_CALLS],
        len: 0,
    };
    for effect in fx.iter() {
        match effect {
            Effect::CreateVc { vc, af } => {
                let created = create_vc(adapter, vc, af);
                statuses.push(created);
                if created != NDIS_STATUS_SUCCESS {
                    break;
                }
            }
            Effect::ActivateVc(vc) => statuses.push(activate_vc(adapter, vc)),
            Effect::DispatchIncomingCall { sap, vc } => statuses.push(dispatch_incoming_call(adapter, sap, vc)),
            other => perform_one(adapter, other),
        }
    }
    statuses
}

/// NdisMCmCreateVc for the context `vc` on the AF `af` (both tokens from
/// the core); on SUCCESS the context keeps the new NdisVcHandle.
fn create_vc(adapter: &AdapterContext, vc: usize, af: usize) -> NDIS_STATUS {
    // SAFETY: the callee's (or leaf's) context, reserved in the core by the
    // set-up running this effect: freed only by a later effect of it.
    let vc = unsafe { VcContext::from_token(vc) };
    // SAFETY: the core holds the AF while a VC is being created on it.
    let af = unsafe { AfContext::from_token(af) };
    let mut ndis_vc: NDIS_HANDLE = null_mut();
    // SAFETY: the adapter's NdisMiniportHandle, an open AF's handle, the
    // VC's context (which covmini keeps until it deletes the VC), an out
    // slot initialized to NULL; IRQL <= DISPATCH_LEVEL.
    let created = unsafe { NdisMCmCreateVc(adapter.miniport_handle(), af.ndis(), vc.as_handle(), &raw mut ndis_vc) };
    adapter.called(Ddi::NdisMCmCreateVc, af.ndis(), created);
    if created == NDIS_STATUS_SUCCESS {
        vc.set_ndis(ndis_vc);
    } else {
        trace!(WARN, "NdisMCmCreateVc: {:#010x}", created);
    }
    created
}

/// NdisMCmActivateVc on the VC `t` with covmini's own parameters for its
/// call (the block the set-up attached).
fn activate_vc(adapter: &AdapterContext, t: usize) -> NDIS_STATUS {
    // SAFETY: a VC of the set-up running this effect (the caller's, whose
    // make call is outstanding, or one the core holds for the callee).
    let vc = unsafe { VcContext::from_token(t) };
    // SAFETY: the set-up attached the block and its call cannot end
    // before the set-up does (the VC is not connected yet).
    let Some(params) = (unsafe { vc.call() }).map(CallBlock::params) else {
        trace!(
            ERROR,
            "NdisMCmActivateVc({:p}): no call block (a covmini bug)",
            vc.ndis()
        );
        return NDIS_STATUS_FAILURE;
    };
    // SAFETY: the VC's NdisVcHandle and covmini's own parameters,
    // MediaParameters non-NULL, alive until the call ends.
    let s = unsafe { NdisMCmActivateVc(vc.ndis(), params) };
    adapter.called(Ddi::NdisMCmActivateVc, vc.ndis(), s);
    if s != NDIS_STATUS_SUCCESS {
        trace!(ERROR, "NdisMCmActivateVc({:p}): {:#010x}", vc.ndis(), s);
    }
    s
}

/// NdisMCmDispatchIncomingCall on the SAP `sap` for the activated VC `t`.
fn dispatch_incoming_call(adapter: &AdapterContext, sap: usize, t: usize) -> NDIS_STATUS {
    // SAFETY: the SAP cannot go while the core counts this offer.
    let sap = unsafe { SapContext::from_token(sap) };
    // SAFETY: the callee's (or leaf's) VC, which the core holds for the
    // set-up: only its client's answer, inside the call below, can lead
    // to its deletion, and the context is not used after that call.
    let vc = unsafe { VcContext::from_token(t) };
    // SAFETY: the set-up attached the block to this VC before its first
    // step, and the callee's call cannot end before it has answered.
    let Some(params) = (unsafe { vc.call() }).map(CallBlock::params) else {
        trace!(
            ERROR,
            "NdisMCmDispatchIncomingCall({:p}): no call block (a covmini bug)",
            vc.ndis()
        );
        return NDIS_STATUS_FAILURE;
    };
    let ndis_vc = vc.ndis();
    // SAFETY: a registered SAP's handle, the activated MCM VC and its
    // parameters (alive until the callee's call ends, after its answer).
    // The client may answer inside: ProtocolCmIncomingCallComplete then
    // runs before this returns, and `vc` is not used after.
    let offered = unsafe { NdisMCmDispatchIncomingCall(sap.ndis(), ndis_vc, params) };
    adapter.called(Ddi::NdisMCmDispatchIncomingCall, sap.ndis(), offered);
    if offered != NDIS_STATUS_PENDING {
        // NDIS refused the offer, so no ProtocolCmIncomingCallComplete
        // will come: the offer's status is the callee's answer.
        trace!(WARN, "NdisMCmDispatchIncomingCall: {:#010x}", offered);
    }
    offered
}

/// The callee's answer `status` to the offer on `callee`
/// (`CallManager::answer_offer`), with the adapter lock held (`cm`); `own`
/// is 1 if the answering handler is itself counted inside `callee`
/// (ProtocolCmIncomingCallComplete), else 0. The caller's mark of a
/// refusal goes once its VC is deactivated and idle, as the make call's
/// failure reaches NDIS (`call_result`, or the completion), as a client
/// VC's close lowers it (`VcContext::end_close`); the callee's stays until
/// it is freed.
pub(super) fn answer_offer(
    cm: &mut Cm,
    callee: &VcContext,
    own: u32,
    status: NDIS_STATUS,
) -> Result<Effects<usize>, Refusal> {
    cm.answer_offer(callee.id(), own, status, &mut ContextMarks)
}
