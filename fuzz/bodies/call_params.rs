//! Raw CO_CALL_PARAMETERS through ndis-emu into covmini's call manager:
//! ProtocolCmMakeCall (point to point and with an initial party),
//! ProtocolCmAddParty, ProtocolCmModifyCallQoS and
//! ProtocolCmIncomingCallComplete, each with blocks the input lays out
//! (either link NULL, any flags, flows, ParamTypes and Lengths), then a
//! good call, then halt. Checks: the documented status
//! (docs/call-manager.md), no fault, no violation, no leak.

use covmini::call_manager::{ECHO_ADDRESS, MAX_ADDRESS_LEN, PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS, check_flows};
use covmini::config;
use ndis_emu::{Answer, CallSpec, CallState, Emulator, Placement, RawCallParams, Vc};
use ndis_sys::*;

use super::{Input, tail, with_covmini};

/// The operation an input exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    MakeCall,
    MakeMultipointCall,
    AddParty,
    ModifyQos,
    AnswerIncoming,
}

/// A good best-effort call to `address`.
fn call_to(address: &[u8]) -> CallSpec {
    let mut spec = CallSpec::best_effort(125_000, 1500);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = address.to_vec();
    spec
}

/// What the input lays out, decoded (kept to check the status against).
struct Decoded {
    op: Op,
    raw: RawCallParams,
    tx: FLOWSPEC,
    rx: FLOWSPEC,
    media_type: ULONG,
    media_length: ULONG,
    media_tail: Vec<u8>,
}

/// Input layout: op, link bits, flags, the two flows (64 bytes),
/// CallMgrSpecific ParamType, Length and a chunk; media Flags,
/// ReceiveSizeHint, ParamType (or, with bit 3, the called-address type),
/// Length and a chunk.
fn decode(i: &mut Input<'_>) -> Decoded {
    let op = match i.u8() % 5 {
        0 => Op::MakeCall,
        1 => Op::MakeMultipointCall,
        2 => Op::AddParty,
        3 => Op::ModifyQos,
        _ => Op::AnswerIncoming,
    };
    let bits = i.u8();
    let flags = i.u32();
    let (tx, rx) = (i.flow(), i.flow());
    let cm_type = i.u32();
    let cm_length = i.u32();
    let cm_tail = tail(cm_length, i.chunk());
    let media_flags = i.u32();
    let hint = i.u32();
    let raw_type = i.u32();
    let media_type = if bits & 8 != 0 {
        PARAM_TYPE_CALLED_ADDRESS
    } else {
        raw_type
    };
    let media_length = i.u32();
    let media_tail = tail(media_length, i.chunk());
    let mut spec = CallSpec::best_effort(0, 0);
    spec.flags = flags;
    spec.media_flags = media_flags;
    spec.receive_size_hint = hint;
    let mut raw = RawCallParams::from_spec(&spec)
        .flows(&tx, &rx)
        .call_mgr_specific(cm_type, cm_length, &cm_tail)
        .media_specific(media_type, media_length, &media_tail);
    if bits & 1 != 0 {
        raw = raw.without_call_mgr();
    }
    if bits & 2 != 0 {
        raw = raw.without_media();
    }
    if bits & 4 != 0 {
        raw.placement = Placement::Aligned;
    }
    Decoded {
        op,
        raw,
        tx,
        rx,
        media_type,
        media_length,
        media_tail,
    }
}

/// The called address the block names, or the status reading it gives.
fn address(d: &Decoded) -> Result<Vec<u8>, NDIS_STATUS> {
    if d.raw.media.is_none() {
        return Err(NDIS_STATUS_INVALID_DATA);
    }
    let len = usize::try_from(d.media_length).unwrap_or(usize::MAX);
    if d.media_type != PARAM_TYPE_CALLED_ADDRESS || len == 0 || len > MAX_ADDRESS_LEN {
        return Err(NDIS_STATUS_INVALID_ADDRESS);
    }
    Ok(d.media_tail[..len].to_vec())
}

/// The statuses docs/call-manager.md gives a make call or an add party to
/// `address` ("bob" and "carol" listen and accept).
fn to(address: &[u8]) -> NDIS_STATUS {
    if address == b"bob" || address == b"carol" {
        NDIS_STATUS_SUCCESS
    } else {
        NDIS_STATUS_NO_ROUTE_TO_DESTINATION
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut i = Input::new(data);
    let d = decode(&mut i);
    with_covmini(|emu| {
        let alice = emu.client("alice");
        let bob = emu.client("bob");
        let carol = emu.client("carol");
        let alice_af = emu.open_af(alice, config::AF).expect("alice's AF");
        let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
        let carol_af = emu.open_af(carol, config::AF).expect("carol's AF");
        emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
        emu.register_sap(carol_af, SAP_TYPE_ADDRESS, b"carol")
            .expect("carol's SAP");
        let vc = emu.create_vc(alice_af).expect("alice's VC");
        let status = exercise(emu, &d, vc, bob);
        let want = expected(&d);
        assert!(
            want.contains(&status),
            "{:?}: {status:#x}, documented {want:x?}; {:?}",
            d.op,
            d.raw
        );
        // The adapter still connects a good call.
        let fresh = emu.create_vc(alice_af).expect("a fresh VC");
        emu.set_incoming_answer(bob, Answer::Sync, NDIS_STATUS_SUCCESS);
        assert_eq!(emu.make_call(fresh, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(fresh), Some((CallState::Connected, true)));
    });
}

/// Performs the input's operation; returns its status.
fn exercise(emu: &Emulator, d: &Decoded, vc: Vc, bob: ndis_emu::Client) -> NDIS_STATUS {
    match d.op {
        Op::MakeCall => emu.make_call_raw(vc, &d.raw, false).0,
        Op::MakeMultipointCall => emu.make_call_raw(vc, &d.raw, true).0,
        Op::AddParty => {
            let (s, _) = emu.make_multipoint_call(vc, &call_to(b"bob"));
            assert_eq!(s, NDIS_STATUS_SUCCESS, "the root's call");
            emu.add_party_raw(vc, &d.raw).0
        }
        Op::ModifyQos => {
            assert_eq!(
                emu.make_call(vc, &call_to(b"bob")),
                NDIS_STATUS_SUCCESS,
                "the call to change"
            );
            emu.modify_qos_raw(vc, &d.raw)
        }
        Op::AnswerIncoming => {
            emu.set_incoming_answer(bob, Answer::Pend, NDIS_STATUS_SUCCESS);
            assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
            let offered = *emu.offered_vcs(bob).last().expect("bob was offered the call");
            emu.answer_incoming_raw(offered, NDIS_STATUS_SUCCESS, &d.raw)
                .expect("bob answers");
            match emu.vc_state(vc) {
                Some((CallState::Connected, true)) => NDIS_STATUS_SUCCESS,
                other => panic!("an answer covmini does not read changed the call: {other:?}"),
            }
        }
    }
}

/// The statuses the docs give `d` (one, except where the input leaves
/// covmini a documented choice).
fn expected(d: &Decoded) -> Vec<NDIS_STATUS> {
    match d.op {
        Op::MakeCall => match address(d) {
            Err(s) => vec![s],
            Ok(_) if d.raw.flags & MULTIPOINT_VC != 0 => vec![NDIS_STATUS_NOT_SUPPORTED],
            Ok(a) if a == ECHO_ADDRESS => vec![NDIS_STATUS_SUCCESS],
            Ok(a) => vec![to(&a)],
        },
        Op::MakeMultipointCall | Op::AddParty => match address(d) {
            Err(s) => vec![s],
            Ok(a) if a == ECHO_ADDRESS => vec![NDIS_STATUS_NOT_SUPPORTED],
            Ok(a) => vec![to(&a)],
        },
        Op::ModifyQos => {
            if d.raw.call_mgr.is_none() {
                vec![NDIS_STATUS_INVALID_DATA]
            } else if check_flows(&d.tx, &d.rx, config::LINK_SPEED_BPS, config::MTU).is_err() {
                vec![NDIS_STATUS_INCOMPATABLE_QOS]
            } else {
                vec![NDIS_STATUS_SUCCESS]
            }
        }
        Op::AnswerIncoming => vec![NDIS_STATUS_SUCCESS],
    }
}
