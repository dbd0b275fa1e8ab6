//! The generator: which operation comes next, weighted by the model's
//! state so that every kind of operation also reaches success (a make call
//! mostly names a SAP that exists, an add party mostly a multipoint root,
//! an answer a call that is being offered), while every invalid form keeps
//! a share.
//!
//! Ops name objects by position in the model's id-ordered lists
//! ([`Pick`]); shrinking may remove the step that created an object, and
//! the pick then names another one (or nothing, and the step is skipped),
//! which keeps every shrunk sequence runnable.

use proptest::prelude::*;
use proptest::strategy::Union;

use super::ops::{Addr, Flow, Gen, NAMES, OidPick, Op, Pick, Pnp, Reply};
use super::reference::{Call, Model, PartyS, Peer};

/// Positions (as picks) of the entries of `it` that satisfy `f`.
fn where_<'a, K: 'a, V: 'a>(it: impl Iterator<Item = (&'a K, &'a V)>, f: impl Fn(&V) -> bool) -> Vec<Pick> {
    it.enumerate()
        .filter(|(_, (_, v))| f(v))
        .filter_map(|(i, _)| u8::try_from(i).ok().map(Pick))
        .collect()
}

/// One of `good` mostly, any position sometimes.
fn pick_in(good: &[Pick], len: usize) -> BoxedStrategy<Pick> {
    let any = (0..u8::try_from(len.max(1)).unwrap_or(u8::MAX)).prop_map(Pick);
    if good.is_empty() {
        any.boxed()
    } else {
        prop_oneof![6 => proptest::sample::select(good.to_vec()), 1 => any].boxed()
    }
}

fn addr(m: &Model) -> BoxedStrategy<Addr> {
    let reachable: Vec<u8> = m.reachable().iter().filter_map(|n| u8::try_from(*n).ok()).collect();
    let named = if reachable.is_empty() {
        (0..NAMES.len() as u8).prop_map(Addr::Name).boxed()
    } else {
        prop_oneof![
            8 => proptest::sample::select(reachable).prop_map(Addr::Name),
            1 => (0..NAMES.len() as u8).prop_map(Addr::Name),
        ]
        .boxed()
    };
    prop_oneof![
        14 => named,
        2 => Just(Addr::Echo),
        1 => Just(Addr::WrongType),
        1 => Just(Addr::Empty),
        1 => Just(Addr::TooLong),
    ]
    .boxed()
}

fn flow() -> BoxedStrategy<Flow> {
    prop_oneof![6 => Just(Flow::Slow), 1 => Just(Flow::Link), 2 => Just(Flow::Over)].boxed()
}

/// The next operation in state `m`.
#[allow(clippy::too_many_lines)]
pub fn transitions(m: &Model) -> BoxedStrategy<Gen> {
    let n = m.clients.len();
    let client = 0..n;
    let nvcs = m.vcs.len();
    let mut arms: Vec<(u32, BoxedStrategy<Gen>)> = Vec::new();
    let mut arm = |w: u32, s: BoxedStrategy<Gen>| arms.push((w, s));

    // Clients and their settings.
    arm(
        3,
        (
            client.clone(),
            prop_oneof![3 => Just(Reply::Accept), 1 => Just(Reply::Reject), 3 => Just(Reply::Pend)],
        )
            .prop_map(|(client, reply)| Op::SetReply { client, reply })
            .boxed(),
    );
    arm(
        1,
        (client.clone(), any::<bool>())
            .prop_map(|(client, pend)| Op::SetNotifyClose { client, pend })
            .boxed(),
    );
    arm(
        3,
        (client.clone(), prop::bool::weighted(0.6))
            .prop_map(|(client, hold)| Op::Hold { client, hold })
            .boxed(),
    );
    let holders: Vec<usize> = (0..n).filter(|c| !m.clients[*c].held.is_empty()).collect();
    if !holders.is_empty() {
        arm(
            4,
            proptest::sample::select(holders)
                .prop_map(|client| Op::ReturnHeld { client })
                .boxed(),
        );
    }

    // AFs, SAPs, VCs: more while there are few.
    let few_afs = m.afs.len() < n + 1;
    arm(
        if few_afs { 8 } else { 2 },
        (client.clone(), prop::bool::weighted(0.08))
            .prop_map(|(client, bad_version)| Op::OpenAf {
                client,
                bad_version,
                af: (),
            })
            .boxed(),
    );
    if !m.afs.is_empty() {
        let naf = m.afs.len();
        arm(1, (0..naf as u8).prop_map(|p| Op::CloseAf { af: Pick(p) }).boxed());
        let sap_addr = prop_oneof![
            12 => (0..NAMES.len() as u8).prop_map(Addr::Name),
            1 => Just(Addr::Echo),
            1 => Just(Addr::WrongType),
            1 => Just(Addr::Empty),
            1 => Just(Addr::TooLong),
        ];
        arm(
            if m.saps.len() < 3 { 6 } else { 2 },
            ((0..naf as u8), sap_addr)
                .prop_map(|(p, addr)| Op::RegisterSap {
                    af: Pick(p),
                    addr,
                    sap: (),
                })
                .boxed(),
        );
        let idle = m.vcs.values().filter(|v| v.call == Call::Idle).count();
        arm(
            if idle < 2 { 6 } else { 1 },
            (0..naf as u8)
                .prop_map(|p| Op::CreateVc { af: Pick(p), vc: () })
                .boxed(),
        );
    }
    if !m.saps.is_empty() {
        arm(
            1,
            (0..m.saps.len() as u8)
                .prop_map(|p| Op::DeregisterSap { sap: Pick(p) })
                .boxed(),
        );
    }
    if nvcs > 0 {
        let idle_client = where_(m.vcs.iter(), |v| v.call == Call::Idle && !v.mcm);
        arm(
            2,
            pick_in(&idle_client, nvcs).prop_map(|vc| Op::DeleteVc { vc }).boxed(),
        );

        // Calls.
        arm(
            10,
            (
                pick_in(&idle_client, nvcs),
                addr(m),
                flow(),
                prop::bool::weighted(0.5),
                prop::bool::weighted(0.04),
            )
                .prop_map(|(vc, to, flow, multi, flag_only)| Op::MakeCall {
                    vc,
                    to,
                    flow,
                    multipoint: multi.then_some(()),
                    flag_only,
                    callee_vc: (),
                })
                .boxed(),
        );
        let offered = m
            .vcs
            .values()
            .filter(|v| matches!(v.call, Call::Offered { .. }))
            .count();
        if offered > 0 {
            arm(
                12,
                ((0..offered as u8), prop::bool::weighted(0.8))
                    .prop_map(|(p, accept)| Op::AnswerIncoming { vc: Pick(p), accept })
                    .boxed(),
            );
        }
        let connected = where_(m.vcs.iter(), |v| matches!(v.call, Call::Connected(_)));
        arm(
            if connected.is_empty() { 1 } else { 4 },
            (pick_in(&connected, nvcs), prop::bool::weighted(0.05))
                .prop_map(|(vc, data)| Op::CloseCall { vc, data })
                .boxed(),
        );
        let roots = where_(m.vcs.iter(), |v| v.call == Call::Connected(Peer::Root));
        arm(
            if roots.is_empty() { 1 } else { 10 },
            (pick_in(&roots, nvcs), addr(m), flow())
                .prop_map(|(vc, to, flow)| Op::AddParty {
                    vc,
                    to,
                    flow,
                    party: (),
                    leaf_vc: (),
                })
                .boxed(),
        );
        // A root with many parties gets more, up to the call's 16 and past.
        let crowded = m
            .vcs
            .iter()
            .enumerate()
            .filter(|(_, (id, v))| {
                v.call == Call::Connected(Peer::Root) && m.parties.values().filter(|p| p.root == **id).count() >= 5
            })
            .filter_map(|(i, _)| u8::try_from(i).ok().map(Pick))
            .collect::<Vec<_>>();
        if !crowded.is_empty() {
            arm(
                12,
                (proptest::sample::select(crowded), addr(m))
                    .prop_map(|(vc, to)| Op::AddParty {
                        vc,
                        to,
                        flow: Flow::Slow,
                        party: (),
                        leaf_vc: (),
                    })
                    .boxed(),
            );
        }
        arm(
            if connected.is_empty() { 1 } else { 4 },
            (pick_in(&connected, nvcs), flow())
                .prop_map(|(vc, flow)| Op::ModifyQos { vc, flow })
                .boxed(),
        );
        // Data, kept well under covmini's receive low-water mark.
        if m.held() < 120 {
            let senders = where_(m.vcs.iter(), |v| {
                matches!(v.call, Call::Connected(Peer::Echo | Peer::Vc(_) | Peer::Root))
            });
            arm(
                if senders.is_empty() { 1 } else { 8 },
                (pick_in(&senders, nvcs), 1..=3u8, prop::option::weighted(0.2, 0..3u8))
                    .prop_map(|(vc, nbls, cancel_id)| Op::Send {
                        vc,
                        nbls,
                        cancel_id,
                        serial: (),
                    })
                    .boxed(),
            );
        }
    }
    if !m.parties.is_empty() {
        let droppable = where_(m.parties.iter(), |p| p.state != PartyS::Adding);
        arm(
            5,
            (pick_in(&droppable, m.parties.len()), prop::bool::weighted(0.05))
                .prop_map(|(party, data)| Op::DropParty { party, data })
                .boxed(),
        );
    }

    // NDIS events.
    arm(1, (0..3u8).prop_map(|cancel_id| Op::CancelSends { cancel_id }).boxed());
    // A pause stays short: a restart is likely next, so data mostly flows.
    let paused = m.path == super::reference::Path::Paused;
    arm(1, Just(Op::Pause).boxed());
    arm(if paused { 6 } else { 1 }, Just(Op::Restart).boxed());
    arm(
        1,
        prop_oneof![
            Just(Pnp::SurpriseRemoved),
            Just(Pnp::PowerBattery),
            Just(Pnp::PowerAc),
            Just(Pnp::QueryStopped),
        ]
        .prop_map(|event| Op::PnpEvent { event })
        .boxed(),
    );

    // OIDs.
    let oid = prop_oneof![
        Just(OidPick::XmitOk),
        Just(OidPick::RcvOk),
        Just(OidPick::XmitError),
        Just(OidPick::LinkSpeed),
        Just(OidPick::VendorDescription),
        Just(OidPick::WanGetLinkInfo),
        Just(OidPick::CoGetAddresses),
        Just(OidPick::Unknown),
    ];
    let naf = m.afs.len();
    let af = if naf == 0 {
        Just(None).boxed()
    } else {
        prop::option::weighted(0.3, (0..naf as u8).prop_map(Pick)).boxed()
    };
    let vc = if nvcs == 0 {
        Just(None).boxed()
    } else {
        prop::option::weighted(0.5, (0..nvcs as u8).prop_map(Pick)).boxed()
    };
    arm(
        2,
        (af, vc.clone(), oid, prop::bool::weighted(0.15))
            .prop_map(|(af, vc, oid, short)| Op::OidQuery { af, vc, oid, short })
            .boxed(),
    );
    arm(
        1,
        (vc, prop::bool::weighted(0.2))
            .prop_map(|(vc, bad_length)| Op::OidSet { vc, bad_length })
            .boxed(),
    );

    Union::new_weighted(arms).boxed()
}
