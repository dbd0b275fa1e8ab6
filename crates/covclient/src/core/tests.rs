//! The core's scenarios: each request's decision, each refusal, each
//! callback, cleanup, and a random sequence checked against the
//! invariants. Each test says what it proves.

use std::vec::Vec;

use covclient_abi::layout::Wire;
use covclient_abi::*;

use super::incoming::{Completion, IncomingAnswer};
use super::ntstatus::*;
use super::state::{AfState, PartyState, SapState, VcState};
use super::*;

const FAILURE: u32 = ndis_sys::NDIS_STATUS_FAILURE as u32;
const REJECT: u32 = 0xC001_0015;

fn out() -> [u8; 512] {
    [0; 512]
}

fn result(buf: &[u8]) -> OpResult {
    OpResult::read(buf).unwrap()
}

fn call_params(flags: u32) -> CallParameters {
    let fs = Flowspec {
        token_rate: 0,
        token_bucket_size: 0,
        peak_bandwidth: 0,
        latency: 0,
        delay_variation: 0,
        service_type: 0,
        max_sdu_size: 0,
        minimum_policed_size: 0,
    };
    CallParameters {
        flags,
        param_type: COVMINI_PARAM_TYPE_CALLED_ADDRESS,
        address_length: 4,
        reserved: 0,
        address: [b'e'; 64],
        transmit: fs,
        receive: fs,
    }
}

fn sap_req(mode: u32, reject: u32) -> RegisterSapRequest {
    RegisterSapRequest {
        header: RequestHeader {
            version: 1,
            reserved: 0,
        },
        af: 0,
        sap_type: COVMINI_SAP_TYPE_ADDRESS,
        sap_length: 0,
        answer_mode: mode,
        reject_status: reject,
        sap: [0; 64],
    }
}

/// A core with one adapter, one open, and an open AF on the adapter.
struct World {
    core: Core,
    file: FileId,
    adapter: Handle,
    af: Handle,
}

/// Runs `req` to its NDIS call, makes it "return" `status`; the result.
fn call(core: &mut Core, file: FileId, req: Request<'_>, status: u32) -> (NdisCall, OpResult) {
    let mut o = out();
    let Outcome::Call(c) = core.request(file, &req, &mut o) else {
        panic!("{req:?} made no NDIS call");
    };
    let r = core.returned(&c, status, &mut o);
    assert_eq!(r, Outcome::Done(OpResult::SIZE));
    (c, result(&o))
}

fn refused(core: &mut Core, file: FileId, req: Request<'_>) -> u32 {
    let mut o = out();
    match core.request(file, &req, &mut o) {
        Outcome::Refuse(s) => {
            assert!(o.iter().all(|b| *b == 0), "a refusal writes nothing");
            s
        }
        other => panic!("{req:?} was not refused: {other:?}"),
    }
}

fn world() -> World {
    let mut core = Core::new();
    let file = core.open_file().unwrap();
    let adapter = core.adapter_bound(7, 3).unwrap();
    let family = AfInfo {
        address_family: COVMINI_AF,
        major_version: 1,
        minor_version: 0,
        reserved: 0,
    };
    core.af_offered(adapter, family);
    let (_, r) = call(&mut core, file, Request::OpenAf { adapter, af: family }, ndis::SUCCESS);
    let af = Handle::parse(r.handle, &[HandleKind::Af]).unwrap();
    assert_eq!(core.af(af).unwrap().state, AfState::Open);
    World {
        core,
        file,
        adapter,
        af,
    }
}

fn new_vc(w: &mut World) -> Handle {
    let (_, r) = call(&mut w.core, w.file, Request::CreateVc(w.af), ndis::SUCCESS);
    Handle::parse(r.handle, &[HandleKind::Vc]).unwrap()
}

fn connected_vc(w: &mut World, flags: u32) -> (Handle, Option<Handle>) {
    let vc = new_vc(w);
    let (_, r) = call(
        &mut w.core,
        w.file,
        Request::MakeCall {
            vc,
            params: call_params(flags),
        },
        ndis::SUCCESS,
    );
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Connected);
    (vc, Handle::parse(r.handle, &[HandleKind::Party]).ok())
}

fn drain(core: &mut Core, file: FileId) -> (EventBatch, Vec<Event>) {
    let mut o = [0u8; EventBatch::SIZE + 64 * Event::SIZE];
    let Outcome::Done(_) = core.request(file, &Request::WaitEvents { max_events: 64 }, &mut o) else {
        return (EventBatch::read(&[0; 16]).unwrap(), Vec::new());
    };
    let h = EventBatch::read(&o).unwrap();
    let e = (0..h.count as usize)
        .map(|i| Event::read(&o[EventBatch::SIZE + i * Event::SIZE..]).unwrap())
        .collect();
    (h, e)
}

/// Proves GET_VERSION reports the ABI and AF, and LIST_ADAPTERS lists the
/// bound adapter with its offered AF (and pages with `first`).
#[test]
fn version_and_adapters() {
    let mut w = world();
    let mut o = out();
    assert_eq!(
        w.core.request(w.file, &Request::GetVersion, &mut o),
        Outcome::Done(VersionInfo::SIZE)
    );
    let v = VersionInfo::read(&o).unwrap();
    assert_eq!((v.abi_version, v.address_family, v.max_events), (1, COVMINI_AF, 64));
    let n = AdapterList::SIZE + AdapterInfo::SIZE;
    assert_eq!(
        w.core.request(w.file, &Request::ListAdapters { first: 0 }, &mut o),
        Outcome::Done(n)
    );
    let l = AdapterList::read(&o).unwrap();
    let a = AdapterInfo::read(&o[AdapterList::SIZE..]).unwrap();
    assert_eq!(
        (l.total, l.returned, a.adapter, a.net_luid, a.if_index, a.af_count),
        (1, 1, w.adapter.raw(), 7, 3, 1)
    );
    assert_eq!(a.afs[0].address_family, COVMINI_AF);
    assert_eq!(
        w.core.request(w.file, &Request::ListAdapters { first: 1 }, &mut o),
        Outcome::Done(AdapterList::SIZE)
    );
}

/// Proves an output buffer too small is refused before anything happens
/// (the VC is not created).
#[test]
fn short_output_refused_before_acting() {
    let mut w = world();
    let mut o = [0u8; OpResult::SIZE - 1];
    assert_eq!(
        w.core.request(w.file, &Request::CreateVc(w.af), &mut o),
        Outcome::Refuse(STATUS_BUFFER_TOO_SMALL)
    );
    assert!(w.core.vcs.is_empty());
}

/// Proves a pended AF open completes through ProtocolClOpenAfCompleteEx
/// with an event, a failed one frees the handle (then stale), and the close
/// pends and completes.
#[test]
fn af_open_close_pending_and_failure() {
    let mut w = world();
    let family = AfInfo {
        address_family: COVMINI_AF,
        major_version: 1,
        minor_version: 0,
        reserved: 0,
    };
    drain(&mut w.core, w.file);
    let (_, r) = call(
        &mut w.core,
        w.file,
        Request::OpenAf {
            adapter: w.adapter,
            af: family,
        },
        ndis::PENDING,
    );
    assert_eq!(r.ndis_status, ndis::PENDING);
    let af2 = Handle::parse(r.handle, &[HandleKind::Af]).unwrap();
    assert_eq!(w.core.af(af2).unwrap().state, AfState::Opening);
    assert_eq!(
        refused(&mut w.core, w.file, Request::CloseAf(af2)),
        STATUS_INVALID_DEVICE_STATE
    );
    assert_eq!(w.core.complete(Completion::OpenAf(af2, ndis::SUCCESS)), Ok(None));
    assert_eq!(w.core.af(af2).unwrap().state, AfState::Open);
    let (_, e) = drain(&mut w.core, w.file);
    assert_eq!((e[0].kind, e[0].object), (COVCLIENT_EVENT_OPEN_AF_COMPLETE, af2.raw()));

    let (_, r) = call(&mut w.core, w.file, Request::CloseAf(af2), ndis::PENDING);
    assert_eq!(r.ndis_status, ndis::PENDING);
    assert_eq!(w.core.af(af2).unwrap().state, AfState::Closing);
    w.core.complete(Completion::CloseAf(af2, ndis::SUCCESS)).unwrap();
    assert_eq!(w.core.af(af2), None);
    assert_eq!(
        refused(&mut w.core, w.file, Request::CreateVc(af2)),
        STATUS_INVALID_HANDLE
    );

    let (_, r) = call(
        &mut w.core,
        w.file,
        Request::OpenAf {
            adapter: w.adapter,
            af: family,
        },
        FAILURE,
    );
    assert_eq!((r.ndis_status, r.handle), (FAILURE, 0));
    assert_eq!(w.core.afs.len(), 1, "the failed AF's slot is free");
    assert_eq!(
        w.core.complete(Completion::OpenAf(af2, ndis::SUCCESS)),
        Err(STATUS_INVALID_HANDLE),
        "a completion for a freed AF is refused"
    );
}

/// Proves an AF with a SAP or a VC cannot be closed (NDIS requires them
/// gone first), and a SAP or VC on a closing AF is refused.
#[test]
fn af_close_needs_no_children() {
    let mut w = world();
    let (_, r) = call(
        &mut w.core,
        w.file,
        Request::RegisterSap {
            af: w.af,
            req: sap_req(COVCLIENT_ANSWER_ACCEPT, 0),
        },
        ndis::SUCCESS,
    );
    let sap = Handle::parse(r.handle, &[HandleKind::Sap]).unwrap();
    assert_eq!(
        refused(&mut w.core, w.file, Request::CloseAf(w.af)),
        STATUS_INVALID_DEVICE_STATE
    );
    call(&mut w.core, w.file, Request::DeregisterSap(sap), ndis::SUCCESS);
    let vc = new_vc(&mut w);
    assert_eq!(
        refused(&mut w.core, w.file, Request::CloseAf(w.af)),
        STATUS_INVALID_DEVICE_STATE
    );
    call(&mut w.core, w.file, Request::DeleteVc(vc), ndis::SUCCESS);
    call(&mut w.core, w.file, Request::CloseAf(w.af), ndis::PENDING);
    assert_eq!(
        refused(&mut w.core, w.file, Request::CreateVc(w.af)),
        STATUS_INVALID_DEVICE_STATE
    );
    let req = Request::RegisterSap {
        af: w.af,
        req: sap_req(COVCLIENT_ANSWER_ACCEPT, 0),
    };
    assert_eq!(refused(&mut w.core, w.file, req), STATUS_INVALID_DEVICE_STATE);
}

/// Proves SAP registration pends and completes (success and failure), a
/// second deregister is refused, and the deregister completes with an
/// event.
#[test]
fn sap_register_deregister() {
    let mut w = world();
    let req = Request::RegisterSap {
        af: w.af,
        req: sap_req(COVCLIENT_ANSWER_PEND, 0),
    };
    let (_, r) = call(&mut w.core, w.file, req, ndis::PENDING);
    let sap = Handle::parse(r.handle, &[HandleKind::Sap]).unwrap();
    assert_eq!(
        refused(&mut w.core, w.file, Request::DeregisterSap(sap)),
        STATUS_INVALID_DEVICE_STATE
    );
    w.core.complete(Completion::RegisterSap(sap, ndis::SUCCESS)).unwrap();
    assert_eq!(w.core.saps.get(sap, None).unwrap().state, SapState::Registered);
    call(&mut w.core, w.file, Request::DeregisterSap(sap), ndis::PENDING);
    assert_eq!(
        refused(&mut w.core, w.file, Request::DeregisterSap(sap)),
        STATUS_INVALID_DEVICE_STATE
    );
    w.core.complete(Completion::DeregisterSap(sap, ndis::SUCCESS)).unwrap();
    assert_eq!(
        refused(&mut w.core, w.file, Request::DeregisterSap(sap)),
        STATUS_INVALID_HANDLE
    );

    let (_, r) = call(&mut w.core, w.file, req, ndis::PENDING);
    let sap2 = Handle::parse(r.handle, &[HandleKind::Sap]).unwrap();
    w.core.complete(Completion::RegisterSap(sap2, FAILURE)).unwrap();
    assert!(w.core.saps.is_empty());
    let kinds: Vec<u32> = drain(&mut w.core, w.file).1.iter().map(|e| e.kind).collect();
    assert!(kinds.ends_with(&[
        COVCLIENT_EVENT_REGISTER_SAP_COMPLETE,
        COVCLIENT_EVENT_DEREGISTER_SAP_COMPLETE,
        COVCLIENT_EVENT_REGISTER_SAP_COMPLETE
    ]));
}

/// Proves the outgoing call's life: create, make call (pended, completed),
/// close (pended, completed), delete; and each bad sequence refused with
/// STATUS_INVALID_DEVICE_STATE and no NDIS call.
#[test]
fn outgoing_call_and_bad_sequences() {
    let mut w = world();
    let vc = new_vc(&mut w);
    let close = Request::CloseCall {
        vc,
        party: None,
        data: CloseData::EMPTY,
    };
    assert_eq!(
        refused(&mut w.core, w.file, close),
        STATUS_INVALID_DEVICE_STATE,
        "close on an idle VC"
    );
    let answer = Request::AnswerCall { vc, answer: Ok(()) };
    assert_eq!(
        refused(&mut w.core, w.file, answer),
        STATUS_INVALID_DEVICE_STATE,
        "answer with no call"
    );
    let make = Request::MakeCall {
        vc,
        params: call_params(0),
    };
    call(&mut w.core, w.file, make, ndis::PENDING);
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Calling);
    assert_eq!(
        refused(&mut w.core, w.file, make),
        STATUS_INVALID_DEVICE_STATE,
        "make call while calling"
    );
    assert_eq!(
        refused(&mut w.core, w.file, Request::DeleteVc(vc)),
        STATUS_INVALID_DEVICE_STATE
    );
    w.core.complete(Completion::MakeCall(vc, None, ndis::SUCCESS)).unwrap();
    assert_eq!(
        refused(&mut w.core, w.file, make),
        STATUS_INVALID_DEVICE_STATE,
        "make call in a call"
    );
    assert_eq!(
        refused(&mut w.core, w.file, Request::DeleteVc(vc)),
        STATUS_INVALID_DEVICE_STATE
    );
    call(&mut w.core, w.file, close, ndis::PENDING);
    assert_eq!(
        refused(&mut w.core, w.file, close),
        STATUS_INVALID_DEVICE_STATE,
        "second close"
    );
    w.core.complete(Completion::CloseCall(vc, ndis::SUCCESS)).unwrap();
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Idle);
    call(&mut w.core, w.file, make, FAILURE);
    assert_eq!(
        w.core.vc(vc).unwrap().state,
        VcState::Idle,
        "a failed make call leaves the VC idle"
    );
    let (_, r) = call(&mut w.core, w.file, Request::DeleteVc(vc), ndis::SUCCESS);
    assert_eq!(r.ndis_status, ndis::SUCCESS);
    assert_eq!(
        refused(&mut w.core, w.file, make),
        STATUS_INVALID_HANDLE,
        "stale after delete"
    );
    assert_eq!(
        w.core.complete(Completion::CallConnected(vc)),
        Err(STATUS_INVALID_HANDLE),
        "callbacks for a freed VC are refused"
    );
}

/// Proves the peer's close leaves the VC for the client to close, and a
/// failed delete leaves it idle.
#[test]
fn incoming_close_then_close_and_failed_delete() {
    let mut w = world();
    let (vc, _) = connected_vc(&mut w, 0);
    w.core.complete(Completion::IncomingClose(vc, ndis::SUCCESS)).unwrap();
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::PeerClosed);
    let req = Request::Send {
        vc,
        nbl_count: 1,
        nbl_size: 1,
        pattern: COVCLIENT_PATTERN_CONSTANT,
        seed: 0,
    };
    assert_eq!(
        refused(&mut w.core, w.file, req),
        STATUS_INVALID_DEVICE_STATE,
        "no send after the peer closed"
    );
    let close = Request::CloseCall {
        vc,
        party: None,
        data: CloseData::EMPTY,
    };
    call(&mut w.core, w.file, close, ndis::SUCCESS);
    call(&mut w.core, w.file, Request::DeleteVc(vc), FAILURE);
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Idle);
}

fn incoming(w: &mut World, mode: u32, reject: u32) -> (Handle, Handle, IncomingAnswer) {
    let req = Request::RegisterSap {
        af: w.af,
        req: sap_req(mode, reject),
    };
    let (_, r) = call(&mut w.core, w.file, req, ndis::SUCCESS);
    let sap = Handle::parse(r.handle, &[HandleKind::Sap]).unwrap();
    let vc = w.core.cm_create_vc(w.af).unwrap();
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Offered);
    let a = w.core.incoming_call(sap, vc).unwrap();
    (sap, vc, a)
}

/// Proves ACCEPT answers inside the handler and the call connects;
/// the client may not delete the call manager's VC; the call manager does.
#[test]
fn incoming_accept() {
    let mut w = world();
    let (sap, vc, a) = incoming(&mut w, COVCLIENT_ANSWER_ACCEPT, 0);
    assert_eq!(a.status, ndis::SUCCESS);
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Accepted);
    w.core.complete(Completion::CallConnected(vc)).unwrap();
    assert_eq!(w.core.vc(vc).unwrap().sap, Some(sap));
    assert_eq!(
        refused(&mut w.core, w.file, Request::DeleteVc(vc)),
        STATUS_INVALID_DEVICE_STATE
    );
    w.core.complete(Completion::IncomingClose(vc, ndis::SUCCESS)).unwrap();
    let close = Request::CloseCall {
        vc,
        party: None,
        data: CloseData::EMPTY,
    };
    call(&mut w.core, w.file, close, ndis::SUCCESS);
    w.core.cm_delete_vc(vc).unwrap();
    assert_eq!(w.core.vc(vc), None);
    let e = drain(&mut w.core, w.file).1;
    let inc = e.iter().find(|e| e.kind == COVCLIENT_EVENT_INCOMING_CALL).unwrap();
    assert_eq!(
        (inc.object, inc.related, inc.arg0),
        (vc.raw(), sap.raw(), u64::from(COVCLIENT_ANSWER_ACCEPT))
    );
}

/// Proves REJECT answers with the SAP's status and the VC waits for the
/// call manager's delete; a call on a SAP not registered is refused.
#[test]
fn incoming_reject() {
    let mut w = world();
    let (sap, vc, a) = incoming(&mut w, COVCLIENT_ANSWER_REJECT, REJECT);
    assert_eq!(a.status, REJECT);
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Rejected);
    assert_eq!(
        w.core.complete(Completion::CallConnected(vc)),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    w.core.cm_delete_vc(vc).unwrap();
    call(&mut w.core, w.file, Request::DeregisterSap(sap), ndis::PENDING);
    let vc2 = w.core.cm_create_vc(w.af).unwrap();
    assert_eq!(w.core.incoming_call(sap, vc2), Err(STATUS_INVALID_DEVICE_STATE));
}

/// Proves PEND returns PENDING, posts INCOMING_CALL (waking a pended
/// WAIT_EVENTS), and ANSWER_CALL then makes NdisClIncomingCallComplete
/// once: a second answer is refused.
#[test]
fn incoming_pend_then_answer() {
    let mut w = world();
    drain(&mut w.core, w.file);
    let mut o = out();
    assert_eq!(
        w.core.request(w.file, &Request::WaitEvents { max_events: 4 }, &mut o),
        Outcome::Pend
    );
    let (_, vc, a) = incoming(&mut w, COVCLIENT_ANSWER_PEND, 0);
    assert_eq!(a.status, ndis::PENDING);
    assert_eq!(a.wake, Some(w.file));
    assert!(w.core.has_waiter(w.file));
    let mut o = [0u8; 256];
    let n = w.core.take_events(w.file, 4, &mut o).unwrap();
    assert!(n >= EventBatch::SIZE + Event::SIZE);
    let req = Request::AnswerCall {
        vc,
        answer: Err(REJECT),
    };
    let (c, _) = call(&mut w.core, w.file, req, ndis::SUCCESS);
    assert_eq!(c, NdisCall::IncomingCallComplete { vc, status: REJECT });
    assert_eq!(refused(&mut w.core, w.file, req), STATUS_INVALID_DEVICE_STATE);
}

/// Proves a multipoint call's initial party, an added party, a drop, an
/// incoming drop, and that a close frees the parties; add party on a
/// point-to-point call is refused.
#[test]
fn multipoint_parties() {
    let mut w = world();
    let (p2p, _) = connected_vc(&mut w, 0);
    let add = |vc| Request::AddParty {
        vc,
        params: call_params(0),
    };
    assert_eq!(refused(&mut w.core, w.file, add(p2p)), STATUS_INVALID_DEVICE_STATE);
    let (vc, first) = connected_vc(&mut w, COVCLIENT_CALL_MULTIPOINT);
    let first = first.unwrap();
    assert_eq!(w.core.parties.get(first, None).unwrap().state, PartyState::Connected);
    // A pended multipoint make call: its completion (NDIS names no party
    // context) finds the initial party being added.
    let vc3 = new_vc(&mut w);
    let make = Request::MakeCall {
        vc: vc3,
        params: call_params(COVCLIENT_CALL_MULTIPOINT),
    };
    let (_, r) = call(&mut w.core, w.file, make, ndis::PENDING);
    let p3 = Handle::parse(r.handle, &[HandleKind::Party]).unwrap();
    assert_eq!(w.core.parties.get(p3, None).unwrap().state, PartyState::Adding);
    w.core.complete(Completion::MakeCall(vc3, None, ndis::SUCCESS)).unwrap();
    assert_eq!(w.core.parties.get(p3, None).unwrap().state, PartyState::Connected);
    let (_, r) = call(&mut w.core, w.file, add(vc), ndis::PENDING);
    let p2 = Handle::parse(r.handle, &[HandleKind::Party]).unwrap();
    let drop = |party| Request::DropParty {
        party,
        data: CloseData::EMPTY,
    };
    assert_eq!(
        refused(&mut w.core, w.file, drop(p2)),
        STATUS_INVALID_DEVICE_STATE,
        "drop while adding"
    );
    w.core.complete(Completion::AddParty(p2, ndis::SUCCESS)).unwrap();
    w.core
        .complete(Completion::IncomingDropParty(p2, ndis::SUCCESS))
        .unwrap();
    call(&mut w.core, w.file, drop(p2), ndis::PENDING);
    w.core.complete(Completion::DropParty(p2, ndis::SUCCESS)).unwrap();
    assert_eq!(refused(&mut w.core, w.file, drop(p2)), STATUS_INVALID_HANDLE);
    let close = Request::CloseCall {
        vc: p2p,
        party: Some(first),
        data: CloseData::EMPTY,
    };
    assert_eq!(
        refused(&mut w.core, w.file, close),
        STATUS_INVALID_HANDLE,
        "another VC's party"
    );
    let close = Request::CloseCall {
        vc,
        party: Some(first),
        data: CloseData::EMPTY,
    };
    call(&mut w.core, w.file, close, ndis::SUCCESS);
    assert!(w.core.parties.get(first, None).is_err(), "the close freed the party");
}

/// Proves another open cannot use this open's objects (STATUS_INVALID_HANDLE)
/// and its events go to the owner only.
#[test]
fn foreign_handles_refused() {
    let mut w = world();
    let other = w.core.open_file().unwrap();
    let vc = new_vc(&mut w);
    assert_eq!(
        refused(&mut w.core, other, Request::DeleteVc(vc)),
        STATUS_INVALID_HANDLE
    );
    assert_eq!(
        refused(&mut w.core, other, Request::CreateVc(w.af)),
        STATUS_INVALID_HANDLE
    );
    let make = Request::MakeCall {
        vc,
        params: call_params(0),
    };
    call(&mut w.core, w.file, make, ndis::PENDING);
    drain(&mut w.core, w.file);
    w.core.complete(Completion::MakeCall(vc, None, ndis::SUCCESS)).unwrap();
    assert!(drain(&mut w.core, other).1.is_empty());
    assert_eq!(drain(&mut w.core, w.file).1.len(), 1);
}

/// Proves a send counts what was posted, its completion counts and posts
/// SEND_COMPLETE, and GET_COUNTERS reads and resets.
#[test]
fn send_and_counters() {
    let mut w = world();
    let (vc, _) = connected_vc(&mut w, 0);
    let send = Request::Send {
        vc,
        nbl_count: 3,
        nbl_size: 100,
        pattern: COVCLIENT_PATTERN_COUNTER,
        seed: 1,
    };
    call(&mut w.core, w.file, send, ndis::SUCCESS);
    w.core.complete(Completion::SendComplete(vc, 2, 1, FAILURE)).unwrap();
    let mut c = w.core.counters_mut(vc).unwrap().receive();
    c.chunk(&[1, 2]);
    c.finish();
    let mut o = out();
    let req = Request::GetCounters { vc, reset: true };
    assert_eq!(w.core.request(w.file, &req, &mut o), Outcome::Done(Counters::SIZE));
    let k = Counters::read(&o).unwrap();
    assert_eq!(
        (k.sends, k.send_bytes, k.sends_completed, k.sends_failed),
        (3, 300, 2, 1)
    );
    assert_eq!((k.last_send_status, k.receives, k.receive_bytes), (FAILURE, 1, 2));
    w.core.request(w.file, &req, &mut o);
    assert_eq!(Counters::read(&o).unwrap().sends, 0);
    let e = drain(&mut w.core, w.file).1;
    let s = e.iter().find(|e| e.kind == COVCLIENT_EVENT_SEND_COMPLETE).unwrap();
    assert_eq!((s.arg0, s.arg1, s.arg2), (2, 1, u64::from(FAILURE)));
    let exp = Request::ExpectPattern {
        vc,
        pattern: COVCLIENT_PATTERN_CONSTANT,
        seed: 5,
    };
    assert_eq!(w.core.request(w.file, &exp, &mut o), Outcome::Done(OpResult::SIZE));
}

/// Proves WAIT_EVENTS pends once, a second is refused with
/// STATUS_INVALID_DEVICE_REQUEST, and a completion wakes it.
#[test]
fn wait_events_pend_busy_wake() {
    let mut w = world();
    drain(&mut w.core, w.file);
    let mut o = out();
    let wait = Request::WaitEvents { max_events: 8 };
    assert_eq!(w.core.request(w.file, &wait, &mut o), Outcome::Pend);
    assert_eq!(
        w.core.request(w.file, &wait, &mut o),
        Outcome::Refuse(STATUS_INVALID_DEVICE_REQUEST)
    );
    let vc = new_vc(&mut w);
    call(
        &mut w.core,
        w.file,
        Request::MakeCall {
            vc,
            params: call_params(0),
        },
        ndis::PENDING,
    );
    assert_eq!(
        w.core.complete(Completion::MakeCall(vc, None, FAILURE)),
        Ok(Some(w.file))
    );
    w.waiter_gone_and_back();
}

impl World {
    fn waiter_gone_and_back(&mut self) {
        self.core.waiter_gone(self.file);
        let mut o = out();
        assert!(matches!(
            self.core
                .request(self.file, &Request::WaitEvents { max_events: 8 }, &mut o),
            Outcome::Done(_)
        ));
    }
}

/// Proves cleanup undoes everything the open owns in the contract's order
/// (reject pended calls, close calls, delete VCs, deregister SAPs, close
/// AFs), one NDIS call at a time, and stops while completions are owed.
#[test]
fn cleanup_order() {
    let mut w = world();
    let (_, pended, _) = incoming(&mut w, COVCLIENT_ANSWER_PEND, 0);
    let (up, _) = connected_vc(&mut w, 0);
    let idle = new_vc(&mut w);
    let mut calls = Vec::new();
    while let Some(c) = w.core.cleanup_next(w.file) {
        let mut o = out();
        w.core.returned(&c, ndis::SUCCESS, &mut o);
        if let NdisCall::IncomingCallComplete { vc, .. } = c {
            w.core.cm_delete_vc(vc).unwrap();
        }
        calls.push(c);
    }
    let sap = w.core.saps.iter().next().map(|(h, ..)| h);
    assert!(sap.is_none(), "the SAP was deregistered");
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert_eq!(
        calls[0],
        NdisCall::IncomingCallComplete {
            vc: pended,
            status: FAILURE
        }
    );
    assert!(matches!(calls[1], NdisCall::CloseCall { vc, .. } if vc == up));
    assert!(matches!(calls[2], NdisCall::DeleteVc(_)));
    assert!(matches!(calls[3], NdisCall::DeleteVc(_)));
    assert!(calls[2..4].contains(&NdisCall::DeleteVc(idle)));
    assert!(matches!(calls[4], NdisCall::DeregisterSap(_)));
    assert_eq!(calls[5], NdisCall::CloseAf(w.af));
    assert!(w.core.afs.is_empty() && w.core.vcs.is_empty());
}

/// Proves an unbind frees everything under the adapter and announces it;
/// the old handles are then stale.
#[test]
fn adapter_gone_frees_everything() {
    let mut w = world();
    let (vc, _) = connected_vc(&mut w, COVCLIENT_CALL_MULTIPOINT);
    w.core.adapter_gone(w.adapter);
    assert!(w.core.afs.is_empty() && w.core.vcs.is_empty() && w.core.parties.is_empty());
    assert_eq!(
        refused(&mut w.core, w.file, Request::GetCounters { vc, reset: false }),
        STATUS_INVALID_HANDLE
    );
    let e = drain(&mut w.core, w.file).1;
    assert_eq!(e.last().unwrap().kind, COVCLIENT_EVENT_ADAPTER_UNBIND);
}

/// Proves, over random request/callback sequences (a fixed-seed
/// xorshift, so a failure reproduces), that the core never panics and its
/// invariants hold after every step: every child's parent is live, and no
/// refused request changed the object counts.
#[test]
fn random_sequences_keep_invariants() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut calls, mut refusals) = (0u32, 0u32);
    for _ in 0..200 {
        let mut w = world();
        let mut known: Vec<Handle> = Vec::from([w.af]);
        for _ in 0..200 {
            let pick = |r: u64, k: &[Handle]| k[(r as usize) % k.len()];
            let h = pick(rnd(), &known);
            let status = [ndis::SUCCESS, ndis::PENDING, FAILURE][(rnd() % 3) as usize];
            let before = (
                w.core.afs.len(),
                w.core.saps.len(),
                w.core.vcs.len(),
                w.core.parties.len(),
            );
            let req = match rnd() % 9 {
                0 => Request::CreateVc(h),
                1 => Request::DeleteVc(h),
                2 => Request::MakeCall {
                    vc: h,
                    params: call_params((rnd() % 2) as u32),
                },
                3 => Request::CloseCall {
                    vc: h,
                    party: None,
                    data: CloseData::EMPTY,
                },
                4 => Request::RegisterSap {
                    af: h,
                    req: sap_req(COVCLIENT_ANSWER_PEND, 0),
                },
                5 => Request::DeregisterSap(h),
                6 => Request::AnswerCall { vc: h, answer: Ok(()) },
                7 => Request::AddParty {
                    vc: h,
                    params: call_params(0),
                },
                _ => Request::DropParty {
                    party: h,
                    data: CloseData::EMPTY,
                },
            };
            let mut o = out();
            match w.core.request(w.file, &req, &mut o) {
                Outcome::Call(c) => {
                    calls += 1;
                    w.core.returned(&c, status, &mut o);
                    if let Ok(n) =
                        Handle::parse(result(&o).handle, &[HandleKind::Sap, HandleKind::Vc, HandleKind::Party])
                    {
                        known.push(n);
                    }
                }
                Outcome::Refuse(_) => {
                    refusals += 1;
                    let after = (
                        w.core.afs.len(),
                        w.core.saps.len(),
                        w.core.vcs.len(),
                        w.core.parties.len(),
                    );
                    assert_eq!(before, after, "a refusal changed nothing: {req:?}");
                }
                Outcome::Done(_) | Outcome::Pend => {}
            }
            // Random NDIS callbacks on a known handle.
            let target = pick(rnd(), &known);
            let cb = match rnd() % 8 {
                0 => Completion::MakeCall(target, None, status),
                1 => Completion::CloseCall(target, status),
                2 => Completion::RegisterSap(target, status),
                3 => Completion::DeregisterSap(target, status),
                4 => Completion::IncomingClose(target, status),
                5 => Completion::AddParty(target, status),
                6 => Completion::DropParty(target, status),
                _ => Completion::CallConnected(target),
            };
            let _ = w.core.complete(cb);
            if rnd() % 10 == 0
                && let Ok(vc) = w.core.cm_create_vc(w.af)
            {
                known.push(vc);
                if let Some(sap) = known.iter().copied().find(|h| h.kind() == HandleKind::Sap) {
                    let _ = w.core.incoming_call(sap, vc);
                }
            }
            for (_, _, s) in w.core.saps.iter() {
                assert!(w.core.afs.get(s.af, None).is_ok());
            }
            for (_, _, v) in w.core.vcs.iter() {
                assert!(w.core.afs.get(v.af, None).is_ok());
            }
            for (_, _, p) in w.core.parties.iter() {
                assert!(w.core.vcs.get(p.vc, None).is_ok(), "a party outlived its VC");
            }
        }
        while let Some(c) = w.core.cleanup_next(w.file) {
            let mut o = out();
            w.core.returned(&c, ndis::SUCCESS, &mut o);
        }
    }
    // The sequences did exercise both sides (not a run of refusals only).
    assert!(calls > 1000 && refusals > 1000, "calls {calls}, refusals {refusals}");
}

/// Proves a closed open's objects still take their completions (nothing is
/// queued for it), a new open gets a new id that cannot use them, and the
/// closed open's events cannot be taken.
#[test]
fn closed_open_keeps_objects_not_events() {
    let mut w = world();
    let vc = new_vc(&mut w);
    let make = Request::MakeCall {
        vc,
        params: call_params(0),
    };
    call(&mut w.core, w.file, make, ndis::PENDING);
    w.core.close_file(w.file);
    assert_eq!(w.core.complete(Completion::MakeCall(vc, None, ndis::SUCCESS)), Ok(None));
    assert_eq!(w.core.vc(vc).unwrap().state, VcState::Connected);
    let mut o = out();
    assert_eq!(w.core.take_events(w.file, 8, &mut o), Err(STATUS_INVALID_HANDLE));
    let again = w.core.open_file().unwrap();
    assert_ne!(again, w.file);
    assert_eq!(
        refused(&mut w.core, again, Request::GetCounters { vc, reset: false }),
        STATUS_INVALID_HANDLE
    );
}

/// Proves the remaining refusals: a SAP or VC on an AF still opening, QoS
/// and add party without a connected call, a full VC table
/// (STATUS_INSUFFICIENT_RESOURCES, and nothing half-made), too many opens;
/// and that MODIFY_QOS and OID requests map to their NDIS calls.
#[test]
fn remaining_refusals_limits_and_mappings() {
    let mut w = world();
    let family = AfInfo {
        address_family: COVMINI_AF,
        major_version: 1,
        minor_version: 0,
        reserved: 0,
    };
    let (_, r) = call(
        &mut w.core,
        w.file,
        Request::OpenAf {
            adapter: w.adapter,
            af: family,
        },
        ndis::PENDING,
    );
    let opening = Handle::parse(r.handle, &[HandleKind::Af]).unwrap();
    assert_eq!(
        refused(&mut w.core, w.file, Request::CreateVc(opening)),
        STATUS_INVALID_DEVICE_STATE
    );
    let sap = Request::RegisterSap {
        af: opening,
        req: sap_req(COVCLIENT_ANSWER_ACCEPT, 0),
    };
    assert_eq!(refused(&mut w.core, w.file, sap), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(w.core.cm_create_vc(opening), Err(STATUS_INVALID_DEVICE_STATE));

    let vc = new_vc(&mut w);
    let fs = call_params(0).transmit;
    let qos = Request::ModifyQos {
        vc,
        with_call_mgr_parameters: true,
        transmit: fs,
        receive: fs,
    };
    assert_eq!(refused(&mut w.core, w.file, qos), STATUS_INVALID_DEVICE_STATE);
    let add = Request::AddParty {
        vc,
        params: call_params(0),
    };
    assert_eq!(refused(&mut w.core, w.file, add), STATUS_INVALID_DEVICE_STATE);
    let oid = Request::OidQuery {
        handle: vc,
        oid: 0x0101_0101,
        length: 4,
    };
    let mut o = out();
    assert_eq!(
        w.core.request(w.file, &oid, &mut o),
        Outcome::Call(NdisCall::Oid {
            target: vc,
            oid: 0x0101_0101,
            query: true,
            length: 4
        })
    );
    let (vc2, _) = connected_vc(&mut w, 0);
    let qos = Request::ModifyQos {
        vc: vc2,
        with_call_mgr_parameters: false,
        transmit: fs,
        receive: fs,
    };
    let (c, _) = call(&mut w.core, w.file, qos, ndis::PENDING);
    assert!(matches!(
        c,
        NdisCall::ModifyQos {
            with_call_mgr_parameters: false,
            ..
        }
    ));
    assert_eq!(w.core.complete(Completion::ModifyQos(vc2, ndis::SUCCESS)), Ok(None));

    while w.core.vcs.len() < MAX_VCS {
        new_vc(&mut w);
    }
    let before = w.core.vcs.len();
    assert_eq!(
        refused(&mut w.core, w.file, Request::CreateVc(w.af)),
        STATUS_INSUFFICIENT_RESOURCES
    );
    assert_eq!(w.core.cm_create_vc(w.af), Err(STATUS_INSUFFICIENT_RESOURCES));
    assert_eq!(w.core.vcs.len(), before);

    while w.core.open_file().is_some() {}
    assert_eq!(w.core.files.iter().flatten().count(), MAX_FILES);
}

/// Proves the binding's own AF is announced to every open, usable by any
/// of them (a VC on it), refused to CLOSE_AF (STATUS_ACCESS_DENIED), left
/// alone by cleanup, refuses new VCs once closing, and is freed (with what
/// is under it) and announced when closed.
#[test]
fn driver_af_lifecycle() {
    let mut core = Core::new();
    let a = core.open_file().unwrap();
    let b = core.open_file().unwrap();
    let adapter = core.adapter_bound(1, 1).unwrap();
    let af = core.driver_af_opened(adapter).unwrap();
    for f in [a, b] {
        let e = drain(&mut core, f).1;
        let open = e.iter().find(|e| e.kind == COVCLIENT_EVENT_OPEN_AF_COMPLETE).unwrap();
        assert_eq!((open.object, open.adapter), (af.raw(), adapter.raw()));
    }
    assert_eq!(refused(&mut core, a, Request::CloseAf(af)), STATUS_ACCESS_DENIED);
    let (_, r) = call(&mut core, b, Request::CreateVc(af), ndis::SUCCESS);
    let vc = Handle::parse(r.handle, &[HandleKind::Vc]).unwrap();
    assert_eq!(
        refused(&mut core, a, Request::DeleteVc(vc)),
        STATUS_INVALID_HANDLE,
        "b's VC"
    );
    let mut seen = Vec::new();
    while let Some(c) = core.cleanup_next(b) {
        let mut o = out();
        core.returned(&c, ndis::SUCCESS, &mut o);
        seen.push(c);
    }
    assert_eq!(seen, [NdisCall::DeleteVc(vc)], "cleanup leaves the driver's AF");
    core.driver_af_closing(af).unwrap();
    assert_eq!(
        refused(&mut core, a, Request::CreateVc(af)),
        STATUS_INVALID_DEVICE_STATE
    );
    core.driver_af_closed(af, ndis::SUCCESS);
    assert_eq!(core.af(af), None);
    let e = drain(&mut core, a).1;
    assert_eq!(e.last().unwrap().kind, COVCLIENT_EVENT_CLOSE_AF_COMPLETE);
}

/// Proves `holds` (which decides how long the glue keeps an object's NDIS
/// context) follows the object: true from the request that creates it,
/// through a pended completion, false once a failed completion or a
/// completed delete frees it, and false for the freed slot's old handle
/// after the slot is reused.
#[test]
fn holds_follows_the_object_s_life() {
    let mut w = world();
    let req = Request::RegisterSap {
        af: w.af,
        req: sap_req(COVCLIENT_ANSWER_ACCEPT, 0),
    };
    let (_, r) = call(&mut w.core, w.file, req, ndis::PENDING);
    let sap = Handle::parse(r.handle, &[HandleKind::Sap]).unwrap();
    assert!(w.core.holds(sap), "a pended registration keeps its SAP");
    w.core.complete(Completion::RegisterSap(sap, FAILURE)).unwrap();
    assert!(!w.core.holds(sap), "a failed registration frees it");
    let (_, r) = call(&mut w.core, w.file, req, ndis::SUCCESS);
    let reused = Handle::parse(r.handle, &[HandleKind::Sap]).unwrap();
    assert_eq!(reused.index(), sap.index());
    assert!(w.core.holds(reused) && !w.core.holds(sap), "the old handle is stale");
    let vc = new_vc(&mut w);
    assert!(w.core.holds(vc));
    call(&mut w.core, w.file, Request::DeleteVc(vc), ndis::SUCCESS);
    assert!(!w.core.holds(vc));
    let (vc, party) = connected_vc(&mut w, COVCLIENT_CALL_MULTIPOINT);
    assert!(w.core.holds(vc) && w.core.holds(party.unwrap()));
    assert!(w.core.holds(w.af) && w.core.holds(w.adapter));
}

/// Proves the unbind's undo covers every object on the adapter whoever
/// owns it, in the contract's order (reject the pended call, close the
/// call, delete the client's VCs, deregister the SAP, close the open's
/// AF), leaves the binding's own AF to the binding, and that
/// `adapter_busy` holds until the last completion is in.
#[test]
fn unbind_undoes_everything_on_the_adapter_in_order() {
    let mut w = world();
    let (_, pended, _) = incoming(&mut w, COVCLIENT_ANSWER_PEND, 0);
    let (up, _) = connected_vc(&mut w, 0);
    let driver_af = w.core.driver_af_opened(w.adapter).unwrap();
    assert!(w.core.adapter_busy(w.adapter));
    let mut calls = Vec::new();
    while let Some(c) = w.core.unbind_next(w.adapter) {
        let mut o = out();
        // The AF's close pends: the unbind must wait for it.
        let status = if matches!(c, NdisCall::CloseAf(_)) {
            ndis::PENDING
        } else {
            ndis::SUCCESS
        };
        w.core.returned(&c, status, &mut o);
        if let NdisCall::IncomingCallComplete { vc, .. } = c {
            w.core.cm_delete_vc(vc).unwrap();
        }
        calls.push(c);
    }
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert_eq!(
        calls[0],
        NdisCall::IncomingCallComplete {
            vc: pended,
            status: FAILURE
        }
    );
    assert!(matches!(calls[1], NdisCall::CloseCall { vc, .. } if vc == up));
    assert_eq!(calls[2], NdisCall::DeleteVc(up));
    assert!(matches!(calls[3], NdisCall::DeregisterSap(_)));
    assert_eq!(calls[4], NdisCall::CloseAf(w.af));
    assert!(w.core.adapter_busy(w.adapter), "the AF's close is in flight");
    w.core.complete(Completion::CloseAf(w.af, ndis::SUCCESS)).unwrap();
    assert!(!w.core.adapter_busy(w.adapter));
    assert!(
        w.core.holds(driver_af),
        "the binding's own AF is the binding's to close"
    );
}

/// Proves the call manager's close of an open's AF is refused while a SAP
/// or VC is on it (`af_has_children`, which the binding's AF's close asks
/// too) and accepted (CLOSING) once none is.
#[test]
fn cm_close_af_needs_no_children() {
    let mut w = world();
    let vc = new_vc(&mut w);
    assert!(w.core.af_has_children(w.af));
    assert_eq!(w.core.cm_close_af(w.af), Err(STATUS_INVALID_DEVICE_STATE));
    call(&mut w.core, w.file, Request::DeleteVc(vc), ndis::SUCCESS);
    assert!(!w.core.af_has_children(w.af));
    assert_eq!(w.core.cm_close_af(w.af), Ok(()));
    assert_eq!(w.core.af(w.af).unwrap().state, AfState::Closing);
    assert_eq!(w.core.cm_close_af(w.af), Err(STATUS_INVALID_DEVICE_STATE));
}
