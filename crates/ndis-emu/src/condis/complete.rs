//! Completing a CoNDIS request: what NDIS does with the final status of a
//! request the call manager's handler returned (NDIS completes it), or
//! pended and then completed (`NdisMCm*Complete`), for every kind of
//! request at once ([`crate::condis::ReqKind`]); and the rules a completion
//! must keep (contract §2.3: only a pended request is completed, once,
//! never with PENDING; the make-call and add-party seed pages; an OID
//! request's byte counts and completion path).
//!
//! It owns the state changes a completion makes to the CoNDIS objects and
//! the clients' view of them, one place per request kind ([`apply`]). It is
//! side-neutral: the requests a protocol driver (a client) completes will
//! come through here too. What it must not do: call into the driver or
//! read C memory other than through `crate::ffi`'s checked readers.

use ndis_sys::*;

use super::rules as r;
use super::{AfState, CallState, ClientAction, CompletionVerdict, PartyState, ReqKind, ReturnVerdict, SapState};
use crate::detail;
use crate::ffi::oid_request::{OidCounts, oid_counts};
use crate::trace::Status;
use crate::world::{self, World};

/// Applies the final status of a request, from NDIS (synchronous return) or
/// from the MCM's completion; `ctx` is the context the completion carries.
pub(crate) fn apply(w: &mut World, kind: ReqKind, h: usize, status: NDIS_STATUS, ctx: Option<usize>) {
    let call = kind.completion();
    let ok = status == NDIS_STATUS_SUCCESS;
    w.note(h, format!("{} completed {}", kind.handler(), Status(status)));
    match kind {
        ReqKind::OpenAf => {
            let client = w.condis.afs.get(&h).map(|a| a.client);
            if let Some(a) = w.condis.afs.get_mut(&h) {
                if ok {
                    a.state = AfState::Open;
                    if let Some(c) = ctx {
                        a.cm_context = c;
                    }
                } else {
                    a.state = AfState::Closed;
                }
            }
            if !ok {
                w.kill(h, "open failed");
            }
            w.condis.inbox(client, format!("OpenAfComplete {status:#x}"));
        }
        ReqKind::CloseAf => {
            let client = w.condis.afs.get(&h).map(|a| a.client);
            let mut notify = false;
            if let Some(a) = w.condis.afs.get_mut(&h) {
                a.state = AfState::Closed;
                notify = core::mem::take(&mut a.notify_complete_on_close);
            }
            w.kill(h, "closed");
            w.condis.inbox(client, format!("CloseAfComplete {status:#x}"));
            if notify {
                // The client's pended ProtocolClNotifyCloseAf finishes on its
                // own thread, not inside this completion.
                w.condis.defer_later(ClientAction::CompleteNotifyClose { af: h });
                world::changed();
            }
        }
        ReqKind::RegisterSap => {
            if let Some(s) = w.condis.saps.get_mut(&h) {
                if ok {
                    s.state = SapState::Registered;
                    if let Some(c) = ctx {
                        s.cm_context = c;
                    }
                } else {
                    s.state = SapState::Deregistered;
                }
            }
            if !ok {
                w.kill(h, "registration failed");
            }
        }
        ReqKind::DeregisterSap => {
            if let Some(s) = w.condis.saps.get_mut(&h) {
                s.state = SapState::Deregistered;
            }
            w.kill(h, "deregistered");
        }
        ReqKind::MakeCall => {
            let Some(vc) = w.condis.vcs.get(&h).cloned() else {
                return;
            };
            if ok && !vc.active && !vc.activated_in_call {
                w.violate(
                    r::CALL_SUCCESS_NEEDS_ACTIVE_VC,
                    call,
                    format!("VC {h:#x} completed SUCCESS but was never activated"),
                    &[h],
                );
            }
            if !ok && vc.active {
                w.violate(
                    r::CALL_FAILURE_LEAVES_VC_INACTIVE,
                    call,
                    format!(
                        "VC {h:#x} completed {} but is still active (NdisMCmDeactivateVc first)",
                        Status(status)
                    ),
                    &[h],
                );
            }
            for p in &vc.parties {
                if ok {
                    let cm = w.condis.parties.get(p).map_or(0, |x| x.cm_context);
                    if let Some(c) = ctx.filter(|c| *c != 0).or(Some(cm).filter(|c| *c != 0)) {
                        if let Some(pr) = w.condis.parties.get_mut(p) {
                            pr.cm_context = c;
                            pr.state = PartyState::Connected;
                        }
                    } else {
                        w.violate(
                            r::CALL_PARTY_CONTEXT,
                            call,
                            format!("multipoint call on VC {h:#x} succeeded with a NULL party context"),
                            &[h],
                        );
                    }
                } else {
                    w.condis.parties.remove(p);
                    w.kill(*p, "make call failed: party handle invalid");
                }
            }
            let client = vc.client;
            let after = if ok { CallState::Connected } else { CallState::Closed };
            if let Some(v) = w.condis.vcs.get_mut(&h) {
                match v.call {
                    // The client's NdisClCloseCall crossed this completion:
                    // the VC stays closing (NDIS refuses another close), and
                    // a close the call manager refuses leaves this state.
                    CallState::Closing => {
                        w.condis.closing_from.insert(h, after);
                        w.condis.close_crossed.insert(h);
                    }
                    // ... or that close even completed: the call is over.
                    CallState::Closed if ok => {}
                    _ => v.call = after,
                }
                if !ok {
                    v.parties.clear();
                }
            }
            w.condis.keep_completed_params(h);
            w.condis.inbox(Some(client), format!("MakeCallComplete {status:#x}"));
            w.condis.resume_teardown(vc.af);
        }
        ReqKind::CloseCall => {
            let Some(vc) = w.condis.vcs.get(&h).cloned() else {
                return;
            };
            if ok {
                for p in &vc.parties {
                    w.condis.parties.remove(p);
                    w.kill(*p, "call closed");
                }
            }
            // A refused close leaves the call as it was: up, or still being
            // made (a close of a make call the callee has not answered).
            let before = w.condis.closing_from.remove(&h).unwrap_or(CallState::Connected);
            if let Some(v) = w.condis.vcs.get_mut(&h) {
                if ok {
                    v.call = CallState::Closed;
                    v.parties.clear();
                    v.closed_while_active = v.active;
                } else {
                    v.call = before;
                }
            }
            w.condis
                .inbox(Some(vc.client), format!("CloseCallComplete {status:#x}"));
            // A refused close (covmini refuses a root's close while a party
            // is being added, docs/call-manager.md: "close after the add
            // completes") leaves the teardown nothing new to do while what
            // refused it, a make call or an add party, is still under way:
            // it goes on when that completes. But that completion may have
            // come first, on another CPU, while this close was still in
            // flight (the teardown it resumed found the call closing and
            // left it): then the client learns the last of the two now,
            // and a client unbinding retries its close whatever the order
            // it learns them in (NdisClCloseCall [D], return value: "When
            // NdisClCloseCall returns anything other than
            // NDIS_STATUS_PENDING, the client should make an internal call
            // to its ProtocolClCloseCallComplete function", and it closes
            // all its VCs before its AF close is done,
            // NdisClCloseAddressFamily [D]). Resuming on every refusal
            // would only try the same close again.
            let crossed = w.condis.close_crossed.remove(&h);
            if ok || crossed {
                w.condis.resume_teardown(vc.af);
            }
        }
        ReqKind::AddParty => {
            let vc = w.condis.parties.get(&h).map(|p| p.vc);
            if ok {
                let c = ctx.unwrap_or(0);
                if c == 0 {
                    w.violate(
                        r::CALL_PARTY_CONTEXT,
                        call,
                        format!("party {h:#x} added with a NULL party context"),
                        &[h],
                    );
                }
                if let Some(p) = w.condis.parties.get_mut(&h) {
                    p.cm_context = c;
                    p.state = PartyState::Connected;
                }
            } else {
                w.condis.parties.remove(&h);
                if let Some(v) = vc.and_then(|v| w.condis.vcs.get_mut(&v)) {
                    v.parties.retain(|p| *p != h);
                }
                w.kill(h, "add party failed");
            }
            if let Some(vc) = vc {
                w.condis.keep_completed_params(h);
                if w.condis.vcs.get(&vc).is_some_and(|v| v.call == CallState::Closing) {
                    // The root's close is in flight: its refusal resumes
                    // the teardown (`ReqKind::CloseCall` above).
                    w.condis.close_crossed.insert(vc);
                }
                let client = w.condis.vcs.get(&vc).map(|v| v.client);
                w.condis.inbox(client, format!("AddPartyComplete {status:#x}"));
                // Either way the root's close can go on now (it is refused
                // while a party is being added).
                if let Some(af) = w.condis.vcs.get(&vc).map(|v| v.af) {
                    w.condis.resume_teardown(af);
                }
            }
        }
        ReqKind::DropParty => {
            let vc = w.condis.parties.get(&h).map(|p| p.vc);
            if ok {
                w.condis.parties.remove(&h);
                if let Some(v) = vc.and_then(|v| w.condis.vcs.get_mut(&v)) {
                    v.parties.retain(|p| *p != h);
                }
                w.kill(h, "dropped");
            } else if let Some(p) = w.condis.parties.get_mut(&h) {
                p.state = PartyState::Connected;
            }
            if let (true, Some(af)) = (ok, vc.and_then(|v| w.condis.vcs.get(&v)).map(|v| v.af)) {
                w.condis.resume_teardown(af);
            }
        }
        ReqKind::ModifyQos => {
            w.condis.params.remove(&h);
        }
        ReqKind::CmOid | ReqKind::MiniportOid => finish_oid(w, kind, h, status),
    }
}

/// Records an OID request's result and checks its byte counts.
fn finish_oid(w: &mut World, kind: ReqKind, h: usize, status: NDIS_STATUS) {
    let Some(rec) = w.condis.oids.get_mut(&h) else { return };
    rec.status = Some(status);
    let Some(request) = rec.request.first() else { return };
    let OidCounts { len, set, done, needed } = oid_counts(request);
    let problem = if done as usize > len {
        Some(format!(
            "Bytes{} {done} > InformationBufferLength {len}",
            if set { "Read" } else { "Written" }
        ))
    } else if status == NDIS_STATUS_BUFFER_TOO_SHORT && needed as usize <= len {
        Some(format!(
            "failed {} with BytesNeeded {needed} <= InformationBufferLength {len}",
            Status(status)
        ))
    } else if status == NDIS_STATUS_INVALID_LENGTH && needed as usize == len {
        // INVALID_LENGTH means the length is "incorrect for the specified
        // OID" (MiniportCoOidRequest): shorter, or longer than a set's
        // structure (Microsoft's samples refuse `!= sizeof`), with the
        // correct length in BytesNeeded. Only the length it got cannot be it.
        Some(format!(
            "failed {} with BytesNeeded {needed} = InformationBufferLength {len}",
            Status(status)
        ))
    } else {
        None
    };
    if let Some(p) = problem {
        w.violate(r::OID_BYTES_WITHIN_BUFFER, kind.handler(), p, &[]);
    }
}

/// Records the handler's return and applies what follows from it.
pub(crate) fn settle(w: &mut World, kind: ReqKind, h: usize, status: NDIS_STATUS, ctx: Option<usize>) -> NDIS_STATUS {
    match w.condis.requests.returned(kind, h, status) {
        ReturnVerdict::NdisCompletes(s) => {
            apply(w, kind, h, s, ctx);
            s
        }
        // Already applied when the completion arrived (as NDIS does).
        ReturnVerdict::CompletedEarly(s) => s,
        ReturnVerdict::Pended => NDIS_STATUS_PENDING,
        ReturnVerdict::CompletedTwice(s) => {
            w.violate(
                r::COMPLETE_ONLY_PENDED,
                kind.completion(),
                format!(
                    "{} completed the request and then returned {s:#x} instead of PENDING: NDIS completes it again",
                    kind.handler()
                ),
                &[h],
            );
            s
        }
    }
}

/// The MCM's completion of `(kind, h)` with `status` (and the context it
/// carries): checks it, then applies it or remembers it (completed inside
/// the handler).
pub(crate) fn complete(w: &mut World, kind: ReqKind, h: usize, status: NDIS_STATUS, ctx: Option<usize>) {
    let call = kind.completion();
    if status == NDIS_STATUS_PENDING {
        w.violate(
            r::COMPLETE_NOT_PENDING,
            call,
            format!("completed {h:#x} with NDIS_STATUS_PENDING"),
            &[h],
        );
        return;
    }
    match w.condis.requests.complete(kind, h, status) {
        // NDIS acts on a completion at once, also one made inside the
        // handler (which must then return PENDING).
        CompletionVerdict::Apply | CompletionVerdict::Early => apply(w, kind, h, status, ctx),
        CompletionVerdict::NotPended => w.violate(
            r::COMPLETE_ONLY_PENDED,
            call,
            format!(
                "no pended {} for {h:#x}: its handler did not return PENDING, or it was already completed",
                kind.handler()
            ),
            &[h],
        ),
        CompletionVerdict::Twice => {
            w.violate(
                r::COMPLETE_ONLY_PENDED,
                call,
                format!("{h:#x} completed twice inside {}", kind.handler()),
                &[h],
            );
        }
    }
}

/// An OID completion by `call` (completing as `kind`): the kind of request
/// `h` is, which the completion is then applied as (so the client is not
/// left waiting); a completion on the other path breaks
/// `oid.completion-matches-path`, traced first.
pub(crate) fn oid_path(w: &mut World, kind: ReqKind, call: &'static str, h: usize, status: NDIS_STATUS) -> ReqKind {
    let other = if kind == ReqKind::CmOid {
        ReqKind::MiniportOid
    } else {
        ReqKind::CmOid
    };
    if !w.condis.requests.is_pending(other, h) {
        return kind;
    }
    w.event("=>", call, detail!("{s} request {x}", status, h));
    w.violate(
        r::OID_COMPLETION_MATCHES_PATH,
        call,
        format!(
            "request {h:#x} was pended by {}: complete it with {}",
            other.handler(),
            other.completion()
        ),
        &[],
    );
    other
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::HandleKind;

    /// A completion is noted in its object's history (what a violation
    /// report shows) with its status by name, not as hex.
    #[test]
    fn a_completion_is_noted_with_its_status_by_name() {
        let mut w = World::default();
        let h = w.new_handle(HandleKind::Sap, "registered");
        apply(&mut w, ReqKind::DeregisterSap, h, NDIS_STATUS_NOT_ACCEPTED, None);
        let history = &w.handles[&h].history;
        assert!(
            history.iter().any(|l| l.ends_with(" completed NOT_ACCEPTED")),
            "{history:?}"
        );
    }
}
