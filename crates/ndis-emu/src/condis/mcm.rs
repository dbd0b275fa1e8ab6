//! What the call manager (the miniport's MCM) calls on NDIS's CoNDIS side:
//! status indications, its own OID requests, VC creation, activation,
//! deactivation and deletion, incoming calls, their connection and close,
//! a party's drop, a QoS change, and the notification that closes an AF.
//! Each function is the DDI's body after its shim (`crate::ffi::cm`) has
//! turned the raw arguments into checked values: it checks the DDI's rules
//! (declared in [`crate::condis::rules`]) and changes the world.
//!
//! It owns the MCM side only. A protocol driver's side (the NdisCl* and
//! NdisCo* requests a client driver makes, and the rules of its
//! ProtocolCl* handlers) belongs in a sibling file beside this one;
//! completions of either side go through [`crate::condis::complete`].
//! What it must not do: call into the driver (the shims do that, outside
//! the world's lock) or read C memory.

use ndis_sys::*;

use super::rules as r;
use super::{AfState, Answer, CallState, ClientAction, ClientId, Creator, SapState, VcRec};
use crate::call_spec::CallSpec;
use crate::rules;
use crate::trace::Status;
use crate::world::{self, HandleKind, World};

/// A status indication for the adapter (`a`) or its VC `h`: checked
/// (`status.indication-valid`), then delivered to the VC's client, or to
/// every client with an open AF.
pub(crate) fn indicate_status(w: &mut World, a: usize, h: usize, ind: Option<NDIS_STATUS_INDICATION>) {
    const CALL: &str = "NdisMCoIndicateStatusEx";
    if w.adapter.as_ref().is_some_and(|x| x.handle == a && x.halted) {
        w.violate(rules::NOTHING_AFTER_HALT, CALL, "the adapter was already halted", &[a]);
        return;
    }
    if !w.check_handle(a, HandleKind::Adapter, CALL) {
        return;
    }
    let registered = w
        .adapter
        .as_ref()
        .is_some_and(|x| x.step >= crate::world::InitStep::RegistrationAttributes);
    let problem = match ind {
        None => Some("NULL indication".to_string()),
        Some(_) if !registered => Some("before the registration attributes were set".to_string()),
        Some(i)
            if i.Header.Type != NDIS_OBJECT_TYPE_STATUS_INDICATION
                || i.Header.Revision < NDIS_STATUS_INDICATION_REVISION_1
                || usize::from(i.Header.Size) < NDIS_SIZEOF_STATUS_INDICATION_REVISION_1 =>
        {
            Some(format!(
                "header type {:#x} revision {} size {}",
                i.Header.Type, i.Header.Revision, i.Header.Size
            ))
        }
        Some(i) if i.SourceHandle as usize != a => Some(format!(
            "SourceHandle {:p} is not the miniport adapter handle",
            i.SourceHandle
        )),
        Some(_) if h != 0 && !w.condis.vcs.contains_key(&h) => Some(format!("{h:#x} is not a live VC")),
        Some(_) => None,
    };
    if let Some(p) = problem {
        w.violate(r::STATUS_INDICATION_VALID, CALL, p, &[a]);
        return;
    }
    let code = ind.map_or(0, |i| i.StatusCode);
    let clients: Vec<ClientId> = match w.condis.vcs.get(&h) {
        Some(v) => vec![v.client],
        None => w
            .condis
            .afs
            .values()
            .filter(|x| x.state == AfState::Open)
            .map(|x| x.client)
            .collect(),
    };
    for c in clients {
        w.condis.inbox(Some(c), format!("Status {code:#x} VC {h:#x}"));
    }
}

/// An MCM-originated request on AF `afh` (and VC `h`, or 0) with the
/// request's header: checked (`af.mcm-request-on-open-af`); the scripted
/// clients support no OIDs, so the answer is NDIS_STATUS_INVALID_OID.
pub(crate) fn oid_request(w: &mut World, afh: usize, h: usize, header: Option<NDIS_OBJECT_HEADER>) -> NDIS_STATUS {
    const CALL: &str = "NdisMCmOidRequest";
    let af_open = w.condis.afs.get(&afh).is_some_and(|x| x.state == AfState::Open);
    let vc_ok = h == 0 || w.condis.vcs.get(&h).is_some_and(|v| v.af == afh);
    let header_ok =
        header.is_some_and(|x| x.Type == NDIS_OBJECT_TYPE_OID_REQUEST && x.Revision >= NDIS_OID_REQUEST_REVISION_1);
    if !(af_open && vc_ok && header_ok) {
        w.violate(
            r::MCM_REQUEST_ON_OPEN_AF,
            CALL,
            format!("AF {afh:#x} open: {af_open}; VC of that AF: {vc_ok}; request header valid: {header_ok}"),
            &[afh],
        );
        return NDIS_STATUS_FAILURE;
    }
    NDIS_STATUS_INVALID_OID
}

/// Activates VC `h` with the call parameters read from the MCM (an error
/// if they cannot be: `vc.activate-needs-media-parameters`).
pub(crate) fn activate_vc(w: &mut World, h: usize, params: Result<CallSpec, String>) -> NDIS_STATUS {
    const CALL: &str = "NdisMCmActivateVc";
    if !w.check_handle(h, HandleKind::Vc, CALL) {
        return NDIS_STATUS_FAILURE;
    }
    if let Err(e) = params {
        w.violate(r::VC_ACTIVATE_NEEDS_MEDIA_PARAMETERS, CALL, e, &[h]);
        return NDIS_STATUS_INVALID_DATA;
    }
    // Injected failure. The NdisMCmActivateVc page: "When
    // NdisMCmActivateVc returns anything other than
    // NDIS_STATUS_PENDING, the MCM driver should make an internal
    // call to its ProtocolCmActivateVcComplete function": any status
    // may come back. RESOURCES is the low-memory one (the status
    // MiniportCoActivateVc documents for it). The VC stays inactive.
    if crate::faults::call_fails(w, CALL) {
        return NDIS_STATUS_RESOURCES;
    }
    w.note(h, "activated");
    if let Some(v) = w.condis.vcs.get_mut(&h) {
        v.active = true;
        v.activated_in_call = true;
    }
    NDIS_STATUS_SUCCESS
}

/// Deactivates VC `h` after the drain check; NOT_ACCEPTED if it was not
/// active (NDIS's behaviour, contract §3.3).
pub(crate) fn deactivate_vc(w: &mut World, h: usize) -> NDIS_STATUS {
    const CALL: &str = "NdisMCmDeactivateVc";
    if !w.check_handle(h, HandleKind::Vc, CALL) {
        return NDIS_STATUS_FAILURE;
    }
    super::window::check_drained(w, h);
    match w.condis.vcs.get_mut(&h) {
        Some(v) if v.active => {
            v.active = false;
            v.closed_while_active = false;
            w.note(h, "deactivated");
            NDIS_STATUS_SUCCESS
        }
        _ => NDIS_STATUS_NOT_ACCEPTED,
    }
}

/// Creates a VC on AF `afh` for the MCM (`initial`: what its out slot held,
/// None for a NULL slot; `ctx`: its MiniportVcContext), as the AF's
/// client's ProtocolCoCreateVc answers; the new handle, or the status.
pub(crate) fn create_vc(
    w: &mut World,
    a: usize,
    afh: usize,
    initial: Option<NDIS_HANDLE>,
    ctx: NDIS_HANDLE,
) -> Result<usize, NDIS_STATUS> {
    const CALL: &str = "NdisMCmCreateVc";
    if !w.check_handle(a, HandleKind::Adapter, CALL) {
        return Err(NDIS_STATUS_FAILURE);
    }
    if initial.is_none_or(|h| !h.is_null()) {
        w.violate(
            r::VC_CREATE_ON_OPEN_AF,
            CALL,
            format!("the out handle must be a slot initialised to NULL, got {initial:?}"),
            &[afh],
        );
        return Err(NDIS_STATUS_INVALID_PARAMETER);
    }
    let Some(rec) = w.condis.afs.get(&afh).filter(|x| x.state == AfState::Open).cloned() else {
        // An AF whose close is under way: NDIS refuses the VC. The
        // MCM may have begun what creates it (an offer) before the
        // client's NdisClCloseAddressFamily reached it, and may hold
        // that close pending for it.
        let closing = w.condis.afs.get(&afh).is_some_and(|x| x.state == AfState::Closing);
        if !closing {
            w.violate(
                r::VC_CREATE_ON_OPEN_AF,
                CALL,
                format!("{afh:#x} is not an open NdisAfHandle"),
                &[afh],
            );
        }
        return Err(NDIS_STATUS_FAILURE);
    };
    // Injected failure. The NdisMCmCreateVc page:
    // "NDIS_STATUS_RESOURCES: NDIS could not allocate sufficient
    // memory to set up the VC." The out handle stays NULL and the
    // client hears nothing.
    if crate::faults::call_fails(w, CALL) {
        return Err(NDIS_STATUS_RESOURCES);
    }
    let status = w
        .condis
        .clients
        .get(rec.client)
        .map_or(NDIS_STATUS_FAILURE, |c| c.create_vc_status);
    if status != NDIS_STATUS_SUCCESS {
        return Err(status);
    }
    let h = w.new_handle(HandleKind::Vc, format!("created by the MCM on AF {afh:#x}"));
    w.condis.vcs.insert(
        h,
        VcRec {
            af: afh,
            client: rec.client,
            client_context: 0,
            creator: Creator::CallManager,
            cm_context: ctx as usize,
            active: false,
            call: CallState::Idle,
            sap: None,
            parties: Vec::new(),
            closed_while_active: false,
            activated_in_call: false,
            sends_out: Default::default(),
            receives_out: Default::default(),
        },
    );
    Ok(h)
}

/// Deletes MCM-created, deactivated VC `h` (the client hears of it).
pub(crate) fn delete_vc(w: &mut World, h: usize) -> NDIS_STATUS {
    const CALL: &str = "NdisMCmDeleteVc";
    if !w.check_handle(h, HandleKind::Vc, CALL) {
        return NDIS_STATUS_FAILURE;
    }
    let Some(rec) = w.condis.vcs.get(&h).cloned() else {
        return NDIS_STATUS_FAILURE;
    };
    if rec.creator != Creator::CallManager {
        w.violate(
            r::VC_ONLY_CREATOR_DELETES,
            CALL,
            format!("VC {h:#x} was created by its client; only the client deletes it"),
            &[h],
        );
        return NDIS_STATUS_NOT_ACCEPTED;
    }
    if rec.active {
        w.violate(
            r::VC_DEACTIVATED_BEFORE_DELETE,
            CALL,
            format!("VC {h:#x} is still active"),
            &[h],
        );
        return NDIS_STATUS_NOT_ACCEPTED;
    }
    w.condis.inbox(Some(rec.client), format!("DeleteVc {h:#x}"));
    w.condis.vcs.remove(&h);
    w.condis.params.remove(&h);
    w.kill(h, "deleted by the MCM");
    NDIS_STATUS_SUCCESS
}

/// Offers the call on VC `h` to the client of SAP `s` (`params`: the call
/// parameters at `cp`, as read): checked, then the client's answer, which
/// is recorded at once when it answers inside the indication.
pub(crate) fn dispatch_incoming_call(
    w: &mut World,
    s: usize,
    h: usize,
    params: &Result<CallSpec, String>,
    cp: usize,
) -> Result<(Answer, NDIS_STATUS), NDIS_STATUS> {
    const CALL: &str = "NdisCmDispatchIncomingCall";
    // A SAP NDIS knows of whose deregistration completed (its handle
    // died then) breaks the SAP rule, the more precise one; a SAP
    // the client is deregistering is still valid for the MCM until
    // it completes that (an offer may cross NdisClDeregisterSap).
    let sap_rec = w.condis.saps.get(&s).cloned();
    let af_closed = sap_rec
        .as_ref()
        .and_then(|x| w.condis.afs.get(&x.af))
        .is_none_or(|a| a.state == AfState::Closed);
    if let Some(x) = sap_rec
        .as_ref()
        .filter(|x| x.state == SapState::Deregistered || af_closed)
    {
        let why = if x.state == SapState::Deregistered {
            "its deregistration completed (or its registration failed)"
        } else {
            "its AF is closed"
        };
        w.violate(
            r::INCOMING_SAP_REGISTERED,
            CALL,
            format!("SAP {s:#x} takes no calls: {why}"),
            &[s],
        );
        return Err(NDIS_STATUS_FAILURE);
    }
    if !w.check_handle(s, HandleKind::Sap, CALL) || !w.check_handle(h, HandleKind::Vc, CALL) {
        return Err(NDIS_STATUS_FAILURE);
    }
    let Some(sap_rec) = sap_rec else {
        w.violate(
            r::INCOMING_SAP_REGISTERED,
            CALL,
            format!("SAP {s:#x} is not a SAP NDIS registered"),
            &[s],
        );
        return Err(NDIS_STATUS_FAILURE);
    };
    let vc_rec = w.condis.vcs.get(&h).cloned();
    let ok = vc_rec.as_ref().is_some_and(|v| {
        v.creator == Creator::CallManager && v.active && v.af == sap_rec.af && v.call == CallState::Idle
    });
    if !ok {
        w.violate(
            r::INCOMING_VC_CREATED_AND_ACTIVE,
            CALL,
            format!("VC {h:#x} must be MCM-created on the SAP's AF, activated, and idle: {vc_rec:?}"),
            &[h],
        );
        return Err(NDIS_STATUS_FAILURE);
    }
    if let Err(e) = params {
        w.violate(
            rules::HANDLE_VALID,
            CALL,
            format!("malformed call parameters: {e}"),
            &[h],
        );
        return Err(NDIS_STATUS_INVALID_DATA);
    }
    // Injected failure: "NdisMCmDispatchIncomingCall returns
    // NDIS_STATUS_FAILURE if the SAP is deregistering or the AF
    // cannot be referenced" (contract §2.3 [B]); the client is not
    // offered the call and ProtocolCmIncomingCallComplete does not
    // run.
    if crate::faults::call_fails(w, CALL) {
        return Err(NDIS_STATUS_FAILURE);
    }
    let client = vc_rec.map_or(0, |v| v.client);
    // Only the answer: a clone of the whole client (its inbox and
    // every payload it received) made each offer O(history).
    let answer = w.condis.clients.get(client).map(|c| (c.answer, c.incoming_call_status));
    let (answer, status) = answer.unwrap_or((Answer::Sync, NDIS_STATUS_FAILURE));
    // A client tearing the AF down (NDIS asked it to close it, or it
    // is unbinding with the AF's close pending) rejects the call.
    let unbinding = w.condis.unbound_at_halt;
    let tearing = w
        .condis
        .afs
        .get(&sap_rec.af)
        .is_some_and(|a| a.notify_close_pending || (unbinding && a.state == AfState::Closing));
    let (answer, status) = if tearing {
        (Answer::Sync, NDIS_STATUS_NOT_ACCEPTED)
    } else {
        (answer, status)
    };
    if let Some(v) = w.condis.vcs.get_mut(&h) {
        v.call = CallState::Offered;
        v.sap = Some(s);
    }
    w.condis
        .inbox(Some(client), format!("IncomingCall VC {h:#x} on SAP {s:#x}"));
    if answer == Answer::Sync {
        // The client answers inside ProtocolClIncomingCall, which
        // runs here: its answer is final when that returns, and
        // NdisClIncomingCallComplete is only for a call it pended
        // ("NdisClIncomingCallComplete returns a client's
        // acceptance or rejection of an offered incoming call, for
        // which the client's ProtocolClIncomingCall function
        // previously returned NDIS_STATUS_PENDING",
        // NdisClIncomingCallComplete [D]). So the call is answered
        // in the same step as it is offered. Recorded only after
        // the lock is dropped, the offer was visible to the
        // client's own thread meanwhile, which answered it too
        // (NdisClIncomingCallComplete); this answer's
        // ProtocolCmIncomingCallComplete then ran after the MCM had
        // connected, closed and deleted the VC, with its stale
        // context (a soak's `incoming.connected-after-accept`: the
        // context's memory was a new VC's, still offered).
        record_answer(w, h, status);
    } else {
        w.condis.offered.insert(h, cp);
    }
    Ok((answer, status))
}

/// The MCM says the accepted incoming call on VC `h` is connected.
pub(crate) fn call_connected(w: &mut World, h: usize) {
    const CALL: &str = "NdisCmDispatchCallConnected";
    if !w.check_handle(h, HandleKind::Vc, CALL) {
        return;
    }
    let state = w.condis.vcs.get(&h).map(|v| v.call);
    // The client's NdisClCloseCall of the accepted call crossed this
    // (NDIS marked the VC closing before the call manager heard of
    // the close): legal, and the call stays closing.
    if state == Some(CallState::Closing) && w.condis.closing_from.get(&h) == Some(&CallState::Accepted) {
        w.condis.closing_from.insert(h, CallState::Connected);
        let client = w.condis.vcs.get(&h).map(|v| v.client);
        w.condis.inbox(client, format!("CallConnected VC {h:#x}"));
        return;
    }
    if state != Some(CallState::Accepted) {
        w.violate(
            r::INCOMING_CONNECTED_AFTER_ACCEPT,
            CALL,
            format!("VC {h:#x} is {state:?}, not accepted"),
            &[h],
        );
        return;
    }
    let client = w.condis.vcs.get_mut(&h).map(|v| {
        v.call = CallState::Connected;
        v.client
    });
    w.condis.inbox(client, format!("CallConnected VC {h:#x}"));
}

/// The MCM closes the call on VC `h`; the client answers with
/// NdisClCloseCall once the MCM's current handler has returned.
pub(crate) fn incoming_close_call(w: &mut World, status: NDIS_STATUS, h: usize) {
    const CALL: &str = "NdisCmDispatchIncomingCloseCall";
    if !w.check_handle(h, HandleKind::Vc, CALL) {
        return;
    }
    // Closing: its client's NdisClCloseCall crossed this (both ends
    // closing at once, a root's close crossing a leaf's); the
    // client's answer (NdisClCloseCall) is then refused by NDIS as
    // redundant, and its own close completes as usual.
    let state = w.condis.vcs.get(&h).map(|v| v.call);
    if !matches!(
        state,
        Some(
            CallState::Connected | CallState::Accepted | CallState::Outgoing | CallState::Offered | CallState::Closing
        )
    ) {
        w.violate(
            r::CLOSE_INCOMING_ON_A_CALL,
            CALL,
            format!("VC {h:#x} carries no call ({state:?})"),
            &[h],
        );
        return;
    }
    let client = w.condis.vcs.get(&h).map(|v| v.client);
    w.condis
        .inbox(client, format!("IncomingCloseCall {status:#x} VC {h:#x}"));
    w.condis.defer(world::cpu_id(), ClientAction::CloseCall { vc: h });
}

/// The MCM drops party `h`, which must not be its call's last.
pub(crate) fn incoming_drop_party(w: &mut World, status: NDIS_STATUS, h: usize) {
    const CALL: &str = "NdisCmDispatchIncomingDropParty";
    if w.check_handle(h, HandleKind::Party, CALL) {
        let vc = w.condis.parties.get(&h).map(|p| p.vc);
        let parties = vc.and_then(|v| w.condis.vcs.get(&v)).map_or(0, |v| v.parties.len());
        if parties < 2 {
            w.violate(
                r::PARTY_INCOMING_DROP_NOT_LAST,
                CALL,
                format!("party {h:#x} is the last one: use NdisMCmDispatchIncomingCloseCall"),
                &[h],
            );
            return;
        }
        let client = vc.and_then(|v| w.condis.vcs.get(&v)).map(|v| v.client);
        w.condis
            .inbox(client, format!("IncomingDropParty {status:#x} party {h:#x}"));
    }
}

/// The MCM changed the QoS of the call on VC `h`: its client hears of it.
pub(crate) fn incoming_qos_change(w: &mut World, h: usize) {
    const CALL: &str = "NdisCmDispatchIncomingCallQoSChange";
    if w.check_handle(h, HandleKind::Vc, CALL) {
        let client = w.condis.vcs.get(&h).map(|v| v.client);
        w.condis.inbox(client, format!("IncomingCallQoSChange VC {h:#x}"));
    }
}

/// The MCM asks the client of AF `h` to close it: None if it cannot (the
/// AF is not open, or is already closing), else how the client answers.
pub(crate) fn notify_close_af(w: &mut World, h: usize) -> Option<Answer> {
    const CALL: &str = "NdisCmNotifyCloseAddressFamily";
    if !w.check_handle(h, HandleKind::Af, CALL) {
        return None;
    }
    let rec = w.condis.afs.get(&h)?;
    if rec.state != AfState::Open || rec.notify_close_pending {
        return None;
    }
    // Injected failure: "the call returns NDIS_STATUS_FAILURE if the
    // AF is already closing" (contract §1.4 [B]). That is the one way
    // it fails, so the fault is that race: the client is closing the
    // AF on a thread of its own (NdisClCloseAddressFamily after its
    // SAPs and calls), and no ProtocolCmNotifyCloseAfComplete follows.
    if crate::faults::call_fails(w, CALL) {
        w.note(h, "the client closes its AF on its own: the notification fails");
        w.condis.defer_later(ClientAction::TearDownAf { af: h });
        world::changed();
        return None;
    }
    let rec = w.condis.afs.get_mut(&h)?;
    rec.notify_close_pending = true;
    let client = rec.client;
    w.condis.inbox(Some(client), format!("NotifyCloseAf {h:#x}"));
    let answer = w
        .condis
        .clients
        .get(client)
        .map_or(Answer::Sync, |c| c.notify_close_answer);
    if answer == Answer::Pend {
        w.note(h, "ProtocolClNotifyCloseAf returned PENDING: the client closes later");
        w.condis.defer_later(ClientAction::AnswerNotifyClose { af: h });
        world::changed();
    }
    Some(answer)
}

/// The client's answer to the offer on `vc` takes effect in NDIS's view:
/// the call is accepted (SUCCESS) or over, and no longer offered.
pub(crate) fn record_answer(w: &mut World, vc: usize, status: NDIS_STATUS) {
    w.condis.offered.remove(&vc);
    if let Some(v) = w.condis.vcs.get_mut(&vc) {
        v.call = if status == NDIS_STATUS_SUCCESS {
            CallState::Accepted
        } else {
            CallState::Closed
        };
    }
    w.note(vc, format!("client answered the incoming call {}", Status(status)));
}
