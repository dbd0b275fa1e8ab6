//! An offered call's answer: the callee's (or a party's leaf's) status,
//! given to the core together with the close handshake a refusal needs on
//! the VCs the request activated ([`answer_offer`]). Shared by
//! point-to-point calls (`super::call`) and parties (`super::party`), so
//! neither depends on the other for it.
//!
//! Must not: call NDIS (the caller performs the effects it returns, once the
//! lock is dropped), or take the adapter lock (the caller holds it).

use ndis_sys::*;

use super::cm_context::{Signed, VcContext};
use super::context::Cm;
use crate::call_manager::{Effects, Handlers, Refusal};

/// The callee's answer `status` to the offer on `callee` (a point-to-point
/// callee or a party's leaf), given to the core with the adapter lock held
/// (`cm`); `own` is 1 if the answering handler is itself counted inside
/// `callee` (ProtocolCmIncomingCallComplete), else 0. A refusal takes the
/// callee down (deactivated, deleted) and, for a make call, the caller's VC
/// (a multipoint make call's root: deactivated, the make call failed), so
/// first it does the close's handshake on those contexts (`super::data`'s
/// module docs): handlers already inside (a send on either VC, which the
/// request activated before the offer) are waited for
/// ([`Cm::incoming_call_complete_with_handlers`]; the last one out,
/// `Inside::leave`, finishes that VC's part), and one that enters later sees
/// CLOSING and takes nothing. The caller's mark goes once its VC is
/// deactivated and idle, as the make call's failure reaches NDIS
/// (`call_result`, or the completion), as a client VC's close lowers it
/// (`VcContext::end_close`); the callee's stays until it is freed.
pub(super) fn answer_offer(
    cm: &mut Cm,
    callee: &VcContext,
    own: u32,
    status: NDIS_STATUS,
) -> Result<Effects<usize>, Refusal> {
    if status == NDIS_STATUS_SUCCESS {
        return cm.incoming_call_complete(callee.id(), status);
    }
    let caller = cm.offer_caller(callee.id()).map(|(_, token)| {
        // SAFETY: the core has this VC's make call waiting for the offer's
        // answer, with this context: a client's VC, freed only by
        // ProtocolCoDeleteVc, which removes it from the core under the lock
        // held here (and NDIS refuses to delete a VC whose make call is
        // outstanding).
        unsafe { VcContext::from_token(token) }
    });
    let (caller_was, caller_inside) = caller.map_or((true, false), |c| c.begin_close(cm, 0));
    let (callee_was, callee_inside) = callee.begin_close(cm, own);
    let inside = Handlers {
        caller: caller_inside,
        callee: callee_inside,
    };
    let answered = cm.incoming_call_complete_with_handlers(callee.id(), status, inside);
    if answered.is_err() {
        if let Some(c) = caller {
            c.restore_closing(caller_was);
        }
        callee.restore_closing(callee_was);
    }
    answered
}
