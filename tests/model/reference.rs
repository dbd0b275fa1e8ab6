//! The reference model: what covmini's call manager must do, written from
//! docs/call-manager.md (the status table and the Behaviour, Point to
//! multipoint, Data, Pause and QoS sections) and docs/oids.md, plus what
//! NDIS (ndis-emu) refuses before the driver sees a request. It is not
//! derived from `src/call_manager`: where the docs leave an order open (two
//! refusals that both apply), the comment at that spot says which the model
//! takes and why.
//!
//! [`Model::resolve`] turns a generated [`Gen`] (objects named by index)
//! into a [`Step`] (objects named by id); [`Model::apply`] predicts the
//! step's [`Expect`]ed outcome and moves the model on.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ndis_sys::*;

use super::ops::{Addr, Flow, Gen, Id, Ind, NAMES, OidPick, Op, Pick, REJECT_STATUS, Reply, Status, Step, payload};

/// covmini's table sizes (docs/call-manager.md, "any | a table is full").
pub const MAX_AFS: usize = 8;
/// SAPs per adapter.
pub const MAX_SAPS: usize = 32;
/// Parties per call.
pub const MAX_LEAVES: usize = 16;
/// Parties per adapter.
pub const MAX_PARTIES: usize = 64;

/// The adapter's data path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Restarted.
    Running,
    /// MiniportPause returned PENDING; sends are still held.
    Pausing,
    /// Paused.
    Paused,
}

/// A scripted client as the model sees it.
#[derive(Clone, Debug)]
pub struct ClientM {
    /// How it answers incoming calls.
    pub reply: Reply,
    /// Whether its notify-close answer pends.
    pub notify_pend: bool,
    /// Whether it keeps the receive NBLs indicated to it.
    pub holding: bool,
    /// The receive NBLs it keeps: (the VC they were indicated on, the send NBL).
    pub held: Vec<(Id, u64)>,
}

/// An AF open.
#[derive(Clone, Debug)]
pub struct AfM {
    /// Its client.
    pub client: usize,
    /// Its close pended (SAPs or VCs left).
    pub closing: bool,
}

/// A SAP.
#[derive(Clone, Debug)]
pub struct SapM {
    /// Its AF.
    pub af: Id,
    /// Its address (index into [`NAMES`]).
    pub name: usize,
    /// Its deregistration pended (an incoming call is being offered on it).
    pub deregistering: bool,
}

/// Who an offered call came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// A point-to-point make call on this VC.
    Caller(Id),
    /// A party (initial or added) of a multipoint call.
    Party(Id),
}

/// The far end of a connected VC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// covmini answers itself.
    Echo,
    /// A point-to-point call with this VC.
    Vc(Id),
    /// This VC is a multipoint root (its parties are in `Model::parties`).
    Root,
    /// This VC is the leaf of that party.
    Leaf(Id),
}

/// The call on a VC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// None (a client VC; covmini deletes its own VCs when their call ends).
    Idle,
    /// A make call pended by the callee: to that VC (point to point) or
    /// with that initial party.
    Outgoing(From),
    /// Offered to its client (an MCM VC), the answer pending; on that SAP.
    Offered { sap: Id, from: From },
    /// Up.
    Connected(Peer),
    /// The close pended (sends held or receives out); completes when the
    /// last comes back.
    Closing,
}

/// A VC.
#[derive(Clone, Debug)]
pub struct VcM {
    /// Its client.
    pub client: usize,
    /// Its AF.
    pub af: Id,
    /// covmini created it (an incoming call or a leaf).
    pub mcm: bool,
    /// Its call.
    pub call: Call,
}

/// A party's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyS {
    /// Its leaf has not answered yet.
    Adding,
    /// Its leaf is connected.
    Connected,
    /// Its leaf hung up; the root's client has not dropped it yet.
    LeafGone,
}

/// A party of a multipoint call.
#[derive(Clone, Debug)]
pub struct PartyM {
    /// The root VC.
    pub root: Id,
    /// The leaf VC.
    pub leaf: Id,
    /// Where it is.
    pub state: PartyS,
}

/// A send NBL whose receives are not all back.
#[derive(Clone, Debug)]
pub struct SendM {
    /// The sending VC and client.
    pub vc: Id,
    /// The sender's client.
    pub client: usize,
    /// Receive NBLs still out.
    pub out: usize,
}

/// What a step must produce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// The status the request returns.
    pub status: Option<Status>,
    /// Indications per client (compared as multisets).
    pub inds: Vec<Vec<Ind>>,
    /// Send completions per client (multisets).
    pub send_results: Vec<Vec<NDIS_STATUS>>,
    /// Received payloads per client (multisets).
    pub received: Vec<Vec<Vec<u8>>>,
    /// The addresses OID_CO_GET_ADDRESSES lists (a set; `echo` first).
    pub addresses: Option<Vec<Vec<u8>>>,
    /// For a make call or add party that succeeded at once: whether covmini
    /// changed the flows ("Parameters covmini changes at make call": only
    /// a flow above the link is fitted, and then CALL_PARAMETERS_CHANGED
    /// is set). None: not checked.
    pub params_changed: Option<bool>,
}

/// The reference model's state.
#[derive(Clone)]
pub struct Model {
    /// The clients.
    pub clients: Vec<ClientM>,
    /// Live AFs (removed once closed).
    pub afs: BTreeMap<Id, AfM>,
    /// Live SAPs.
    pub saps: BTreeMap<Id, SapM>,
    /// Live VCs.
    pub vcs: BTreeMap<Id, VcM>,
    /// Live parties.
    pub parties: BTreeMap<Id, PartyM>,
    /// Send NBLs held.
    pub sends: BTreeMap<u64, SendM>,
    /// The data path.
    pub path: Path,
    /// The next id to give.
    pub next_id: Id,
    /// The step just applied and what it must produce.
    pub last: Option<(Step, Expect)>,
    /// Steps applied.
    pub steps: usize,
}

impl fmt::Debug for Model {
    /// Short: proptest prints the initial state with every failing case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Model({} clients)", self.clients.len())
    }
}

fn pick<K: Copy>(keys: impl Iterator<Item = K>, p: Pick) -> Option<K> {
    let all: Vec<K> = keys.collect();
    if all.is_empty() {
        None
    } else {
        all.get(usize::from(p.0) % all.len()).copied()
    }
}

impl Model {
    /// A fresh adapter (running) with `n` clients that accept calls at once.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self {
            clients: (0..n)
                .map(|_| ClientM {
                    reply: Reply::Accept,
                    notify_pend: false,
                    holding: false,
                    held: Vec::new(),
                })
                .collect(),
            afs: BTreeMap::new(),
            saps: BTreeMap::new(),
            vcs: BTreeMap::new(),
            parties: BTreeMap::new(),
            sends: BTreeMap::new(),
            path: Path::Running,
            next_id: 1,
            last: None,
            steps: 0,
        }
    }

    fn fresh(&mut self) -> Id {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Names the objects a generated op picks, and the ids of the objects
    /// it may create. None: nothing to pick from (or an op the model does
    /// not run in this state, see the comments).
    pub fn resolve(&mut self, op: &Gen) -> Option<Step> {
        let n = self.clients.len();
        let af = |m: &Self, p: Pick| pick(m.afs.keys().copied(), p);
        let vc = |m: &Self, p: Pick| pick(m.vcs.keys().copied(), p);
        Some(match op {
            Op::SetReply { client, reply } => Op::SetReply {
                client: client % n,
                reply: *reply,
            },
            Op::SetNotifyClose { client, pend } => Op::SetNotifyClose {
                client: client % n,
                pend: *pend,
            },
            Op::Hold { client, hold } => Op::Hold {
                client: client % n,
                hold: *hold,
            },
            Op::ReturnHeld { client } => Op::ReturnHeld { client: client % n },
            Op::OpenAf {
                client, bad_version, ..
            } => Op::OpenAf {
                client: client % n,
                bad_version: *bad_version,
                af: self.fresh(),
            },
            Op::CloseAf { af: p } => Op::CloseAf { af: af(self, *p)? },
            Op::RegisterSap { af: p, addr, .. } => Op::RegisterSap {
                af: af(self, *p)?,
                addr: *addr,
                sap: self.fresh(),
            },
            Op::DeregisterSap { sap } => Op::DeregisterSap {
                sap: pick(self.saps.keys().copied(), *sap)?,
            },
            Op::CreateVc { af: p, .. } => Op::CreateVc {
                af: af(self, *p)?,
                vc: self.fresh(),
            },
            Op::DeleteVc { vc: p } => Op::DeleteVc { vc: vc(self, *p)? },
            Op::MakeCall {
                vc: p,
                to,
                flow,
                multipoint,
                flag_only,
                ..
            } => Op::MakeCall {
                vc: vc(self, *p)?,
                to: *to,
                flow: *flow,
                multipoint: multipoint.map(|()| self.fresh()),
                flag_only: *flag_only,
                callee_vc: self.fresh(),
            },
            Op::AnswerIncoming { vc: p, accept } => Op::AnswerIncoming {
                vc: pick(
                    self.vcs
                        .iter()
                        .filter(|(_, v)| matches!(v.call, Call::Offered { .. }))
                        .map(|(id, _)| *id),
                    *p,
                )?,
                accept: *accept,
            },
            Op::CloseCall { vc: p, data } => Op::CloseCall {
                vc: vc(self, *p)?,
                data: *data,
            },
            Op::AddParty { vc: p, to, flow, .. } => Op::AddParty {
                vc: vc(self, *p)?,
                to: *to,
                flow: *flow,
                party: self.fresh(),
                leaf_vc: self.fresh(),
            },
            Op::DropParty { party, data } => Op::DropParty {
                party: pick(self.parties.keys().copied(), *party)?,
                data: *data,
            },
            Op::ModifyQos { vc: p, flow } => Op::ModifyQos {
                vc: vc(self, *p)?,
                flow: *flow,
            },
            Op::Send {
                vc: p, nbls, cancel_id, ..
            } => Op::Send {
                vc: vc(self, *p)?,
                nbls: (*nbls).clamp(1, 3),
                cancel_id: *cancel_id,
                serial: self.fresh(),
            },
            Op::CancelSends { cancel_id } => Op::CancelSends { cancel_id: *cancel_id },
            Op::OidQuery {
                af: a,
                vc: v,
                oid,
                short,
            } => Op::OidQuery {
                af: match a {
                    Some(p) => Some(af(self, *p)?),
                    None => None,
                },
                vc: match v {
                    Some(p) => Some(vc(self, *p)?),
                    None => None,
                },
                oid: *oid,
                short: *short,
            },
            Op::OidSet { vc: v, bad_length } => Op::OidSet {
                vc: match v {
                    Some(p) => Some(vc(self, *p)?),
                    None => None,
                },
                bad_length: *bad_length,
            },
            Op::Pause => Op::Pause,
            Op::Restart => Op::Restart,
            Op::PnpEvent { event } => Op::PnpEvent { event: *event },
        })
    }

    /// Whether every object `step` names exists (and its client): a step
    /// of a sequence some of whose steps were dropped may name an object
    /// that was never created.
    #[must_use]
    pub fn names_live_objects(&self, step: &Step) -> bool {
        let af = |a: &Id| self.afs.contains_key(a);
        let vc = |v: &Id| self.vcs.contains_key(v);
        match step {
            Op::SetReply { client, .. }
            | Op::SetNotifyClose { client, .. }
            | Op::Hold { client, .. }
            | Op::ReturnHeld { client }
            | Op::OpenAf { client, .. } => *client < self.clients.len(),
            Op::CloseAf { af: a } | Op::RegisterSap { af: a, .. } | Op::CreateVc { af: a, .. } => af(a),
            Op::DeregisterSap { sap } => self.saps.contains_key(sap),
            Op::DeleteVc { vc: v }
            | Op::MakeCall { vc: v, .. }
            | Op::AnswerIncoming { vc: v, .. }
            | Op::CloseCall { vc: v, .. }
            | Op::AddParty { vc: v, .. }
            | Op::ModifyQos { vc: v, .. }
            | Op::Send { vc: v, .. } => vc(v),
            Op::DropParty { party, .. } => self.parties.contains_key(party),
            Op::OidQuery { af: a, vc: v, .. } => a.as_ref().is_none_or(af) && v.as_ref().is_none_or(vc),
            Op::OidSet { vc: v, .. } => v.as_ref().is_none_or(vc),
            Op::CancelSends { .. } | Op::Pause | Op::Restart | Op::PnpEvent { .. } => true,
        }
    }

    // --- Queries ----------------------------------------------------------------

    fn af_has_objects(&self, af: Id) -> bool {
        self.saps.values().any(|s| s.af == af) || self.vcs.values().any(|v| v.af == af)
    }

    /// The SAP a call to `name` reaches: registered (not being
    /// deregistered) on an AF that is not closing (docs/oids.md,
    /// OID_CO_GET_ADDRESSES: "A SAP being deregistered, or one whose AF is
    /// closing, no longer takes calls").
    fn route(&self, name: usize) -> Option<Id> {
        self.saps
            .iter()
            .find(|(_, s)| s.name == name && !s.deregistering && self.afs.get(&s.af).is_some_and(|a| !a.closing))
            .map(|(id, _)| *id)
    }

    fn parties_of(&self, root: Id) -> Vec<Id> {
        self.parties
            .iter()
            .filter(|(_, p)| p.root == root)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Sends held from `vc` plus receives out on `vc`.
    fn outstanding(&self, vc: Id) -> usize {
        let sends = self.sends.values().filter(|s| s.vc == vc).count();
        let receives: usize = self
            .clients
            .iter()
            .map(|c| c.held.iter().filter(|(v, _)| *v == vc).count())
            .sum();
        sends + receives
    }

    fn held_total(&self) -> usize {
        self.clients.iter().map(|c| c.held.len()).sum()
    }

    // --- Effects -----------------------------------------------------------------

    fn ind(e: &mut Expect, client: usize, ind: Ind) {
        e.inds[client].push(ind);
    }

    fn finish_af_close(&mut self, e: &mut Expect, af: Id) {
        let closing = self.afs.get(&af).is_some_and(|a| a.closing);
        if closing && !self.af_has_objects(af) {
            let client = self.afs[&af].client;
            self.afs.remove(&af);
            Self::ind(e, client, Ind::CloseAfComplete(NDIS_STATUS_SUCCESS));
        }
    }

    fn finish_deregister(&mut self, e: &mut Expect, sap: Id) {
        let offered = self
            .vcs
            .values()
            .any(|v| matches!(v.call, Call::Offered { sap: s, .. } if s == sap));
        if self.saps.get(&sap).is_some_and(|s| s.deregistering) && !offered {
            let af = self.saps[&sap].af;
            self.saps.remove(&sap);
            self.finish_af_close(e, af);
        }
    }

    /// covmini deletes its VC (after its call ended).
    fn delete_mcm_vc(&mut self, e: &mut Expect, vc: Id) {
        if let Some(v) = self.vcs.remove(&vc) {
            Self::ind(e, v.client, Ind::DeleteVc { vc });
            self.finish_af_close(e, v.af);
        }
    }

    /// The end of a close on `vc`: completed now, or pending until its data
    /// comes back (Behaviour: "Closing a VC that still has sends held or
    /// receives outstanding pends").
    fn close_vc(&mut self, e: &mut Expect, vc: Id) -> NDIS_STATUS {
        if self.outstanding(vc) > 0 {
            if let Some(v) = self.vcs.get_mut(&vc) {
                v.call = Call::Closing;
            }
            return NDIS_STATUS_PENDING;
        }
        self.closed(e, vc);
        NDIS_STATUS_SUCCESS
    }

    /// `vc`'s close completed.
    fn closed(&mut self, e: &mut Expect, vc: Id) {
        let Some(v) = self.vcs.get_mut(&vc) else { return };
        v.call = Call::Idle;
        let (client, mcm) = (v.client, v.mcm);
        Self::ind(e, client, Ind::CloseCallComplete(NDIS_STATUS_SUCCESS));
        if mcm {
            self.delete_mcm_vc(e, vc);
        }
    }

    /// covmini tells `vc`'s client the call is closing; the scripted client
    /// answers with NdisClCloseCall at once (ndis-emu's client).
    fn incoming_close(&mut self, e: &mut Expect, vc: Id) {
        let Some(v) = self.vcs.get(&vc) else { return };
        Self::ind(e, v.client, Ind::IncomingCloseCall { vc });
        self.client_closes(e, vc);
    }

    /// A client's NdisClCloseCall on a connected VC (no close data).
    fn client_closes(&mut self, e: &mut Expect, vc: Id) -> NDIS_STATUS {
        let Some(Call::Connected(peer)) = self.vcs.get(&vc).map(|v| v.call) else {
            return NDIS_STATUS_FAILURE;
        };
        match peer {
            Peer::Echo => self.close_vc(e, vc),
            Peer::Vc(other) => {
                let status = self.close_vc(e, vc);
                if matches!(self.vcs.get(&other).map(|v| v.call), Some(Call::Connected(_))) {
                    self.incoming_close(e, other);
                }
                status
            }
            Peer::Root => {
                // "every party left is detached, one at a time (its leaf, if
                // still connected, gets an incoming close ...)".
                for p in self.parties_of(vc) {
                    let party = self.parties.remove(&p);
                    if let Some(party) = party.filter(|x| x.state == PartyS::Connected) {
                        self.incoming_close(e, party.leaf);
                    }
                }
                self.close_vc(e, vc)
            }
            Peer::Leaf(p) => {
                let status = self.close_vc(e, vc);
                self.leaf_hung_up(e, p);
                status
            }
        }
    }

    /// The leaf of party `p` closed: the root gets an incoming drop party
    /// while the call has other parties, else an incoming close.
    fn leaf_hung_up(&mut self, e: &mut Expect, p: Id) {
        let Some(party) = self.parties.get_mut(&p) else { return };
        party.state = PartyS::LeafGone;
        let root = party.root;
        let others = self.parties_of(root).len() > 1;
        let root_client = self.vcs[&root].client;
        if others {
            Self::ind(e, root_client, Ind::IncomingDropParty { party: p });
        } else {
            self.incoming_close(e, root);
        }
    }

    /// A receive NBL of send `key` came back.
    fn receive_returned(&mut self, e: &mut Expect, key: u64) {
        let done = match self.sends.get_mut(&key) {
            Some(s) => {
                s.out -= 1;
                s.out == 0
            }
            None => false,
        };
        if done && let Some(s) = self.sends.remove(&key) {
            e.send_results[s.client].push(NDIS_STATUS_SUCCESS);
        }
    }

    /// Pending closes whose data is back complete; a pending pause too.
    fn settle(&mut self, e: &mut Expect) {
        let closing: Vec<Id> = self
            .vcs
            .iter()
            .filter(|(_, v)| v.call == Call::Closing)
            .map(|(id, _)| *id)
            .collect();
        for vc in closing {
            if self.outstanding(vc) == 0 {
                self.closed(e, vc);
            }
        }
        if self.path == Path::Pausing && self.sends.is_empty() {
            self.path = Path::Paused;
        }
    }

    /// An offered call was answered (at once or later) with `accept`.
    fn answered(&mut self, e: &mut Expect, vc: Id, from: From, sap: Id, accept: bool) -> NDIS_STATUS {
        let callee = self.vcs[&vc].client;
        let status = if accept { NDIS_STATUS_SUCCESS } else { REJECT_STATUS };
        if accept {
            Self::ind(e, callee, Ind::CallConnected { vc });
        }
        match from {
            From::Caller(caller) => {
                let c = self.vcs[&caller].client;
                Self::ind(e, c, Ind::MakeCallComplete(status));
                if accept {
                    self.vcs.get_mut(&caller).expect("caller").call = Call::Connected(Peer::Vc(vc));
                    self.vcs.get_mut(&vc).expect("callee").call = Call::Connected(Peer::Vc(caller));
                } else {
                    self.vcs.get_mut(&caller).expect("caller").call = Call::Idle;
                }
            }
            From::Party(p) => {
                let root = self.parties[&p].root;
                let c = self.vcs[&root].client;
                let initial = matches!(self.vcs[&root].call, Call::Outgoing(_));
                Self::ind(
                    e,
                    c,
                    if initial {
                        Ind::MakeCallComplete(status)
                    } else {
                        Ind::AddPartyComplete(status)
                    },
                );
                if accept {
                    self.parties.get_mut(&p).expect("party").state = PartyS::Connected;
                    self.vcs.get_mut(&vc).expect("leaf").call = Call::Connected(Peer::Leaf(p));
                    if initial {
                        self.vcs.get_mut(&root).expect("root").call = Call::Connected(Peer::Root);
                    }
                } else {
                    self.parties.remove(&p);
                    if initial {
                        self.vcs.get_mut(&root).expect("root").call = Call::Idle;
                    }
                }
            }
        }
        if !accept {
            self.delete_mcm_vc(e, vc);
        }
        self.finish_deregister(e, sap);
        status
    }

    /// Offers a call to the SAP `sap` on a new covmini VC `vc`; returns the
    /// status of the request that offered it.
    fn offer(&mut self, e: &mut Expect, sap: Id, vc: Id, from: From) -> NDIS_STATUS {
        let af = self.saps[&sap].af;
        let client = self.afs[&af].client;
        self.vcs.insert(
            vc,
            VcM {
                client,
                af,
                mcm: true,
                call: Call::Offered { sap, from },
            },
        );
        Self::ind(e, client, Ind::IncomingCall { vc, sap });
        match self.clients[client].reply {
            Reply::Accept => self.answered(e, vc, from, sap, true),
            Reply::Reject => self.answered(e, vc, from, sap, false),
            Reply::Pend => NDIS_STATUS_PENDING,
        }
    }

    /// The address error of a call or SAP address, if any.
    fn malformed(to: Addr) -> bool {
        matches!(to, Addr::WrongType | Addr::Empty | Addr::TooLong)
    }

    // --- One step ------------------------------------------------------------------

    /// Applies `step` and returns what it must produce.
    #[allow(clippy::too_many_lines)]
    pub fn apply(&mut self, step: &Step) -> Expect {
        let n = self.clients.len();
        let mut e = Expect {
            status: None,
            inds: vec![Vec::new(); n],
            send_results: vec![Vec::new(); n],
            received: vec![Vec::new(); n],
            addresses: None,
            params_changed: None,
        };
        self.steps += 1;
        let ndis = |s: NDIS_STATUS| Some(Status::Ndis(s));
        let status = match step {
            Op::SetReply { client, reply } => {
                self.clients[*client].reply = *reply;
                Some(Status::Done)
            }
            Op::SetNotifyClose { client, pend } => {
                self.clients[*client].notify_pend = *pend;
                Some(Status::Done)
            }
            Op::Hold { client, hold } => {
                self.clients[*client].holding = *hold;
                Some(Status::Done)
            }
            Op::ReturnHeld { client } => {
                let held = std::mem::take(&mut self.clients[*client].held);
                for (_, key) in held {
                    self.receive_returned(&mut e, key);
                }
                self.settle(&mut e);
                Some(Status::Done)
            }
            Op::OpenAf {
                client,
                bad_version,
                af,
            } => {
                // Two refusals may apply; BAD_VERSION is the table's first row.
                let s = if *bad_version {
                    NDIS_STATUS_BAD_VERSION
                } else if self.afs.len() >= MAX_AFS {
                    NDIS_STATUS_RESOURCES
                } else {
                    self.afs.insert(
                        *af,
                        AfM {
                            client: *client,
                            closing: false,
                        },
                    );
                    NDIS_STATUS_SUCCESS
                };
                Self::ind(&mut e, *client, Ind::OpenAfComplete(s));
                ndis(s)
            }
            Op::CloseAf { af } => {
                let a = &self.afs[af];
                if a.closing {
                    // NDIS refuses a second close of the same open.
                    ndis(NDIS_STATUS_FAILURE)
                } else if self.af_has_objects(*af) {
                    self.afs.get_mut(af).expect("af").closing = true;
                    ndis(NDIS_STATUS_PENDING)
                } else {
                    let client = a.client;
                    self.afs.remove(af);
                    Self::ind(&mut e, client, Ind::CloseAfComplete(NDIS_STATUS_SUCCESS));
                    ndis(NDIS_STATUS_SUCCESS)
                }
            }
            Op::RegisterSap { af, addr, sap } => {
                if self.afs[af].closing {
                    // NDIS takes no SAP on an AF being closed.
                    ndis(NDIS_STATUS_FAILURE)
                } else {
                    let taken = match addr {
                        Addr::Name(i) => {
                            let name = usize::from(*i) % NAMES.len();
                            self.saps
                                .values()
                                .any(|s| s.name == name)
                                .then_some(())
                                .map_or(Ok(name), Err)
                        }
                        _ => Err(()),
                    };
                    match taken {
                        // Malformed, `echo`, or an address registered on the adapter.
                        Err(()) => ndis(NDIS_STATUS_INVALID_DATA),
                        Ok(_) if self.saps.len() >= MAX_SAPS => ndis(NDIS_STATUS_RESOURCES),
                        Ok(name) => {
                            self.saps.insert(
                                *sap,
                                SapM {
                                    af: *af,
                                    name,
                                    deregistering: false,
                                },
                            );
                            ndis(NDIS_STATUS_SUCCESS)
                        }
                    }
                }
            }
            Op::DeregisterSap { sap } => {
                let s = &self.saps[sap];
                // "Deregistering a SAP pends while an incoming call is being
                // offered on it": while NdisMCmDispatchIncomingCall runs
                // (src/call_manager: "right now"; contract §3.2: calls
                // already received are not affected). One thread never
                // deregisters inside a dispatch, so here it never pends,
                // also with an answer still pending on the SAP.
                if s.deregistering {
                    ndis(NDIS_STATUS_FAILURE)
                } else {
                    let af = s.af;
                    self.saps.remove(sap);
                    self.finish_af_close(&mut e, af);
                    ndis(NDIS_STATUS_SUCCESS)
                }
            }
            Op::CreateVc { af, vc } => {
                if self.afs[af].closing {
                    ndis(NDIS_STATUS_FAILURE)
                } else {
                    let client = self.afs[af].client;
                    self.vcs.insert(
                        *vc,
                        VcM {
                            client,
                            af: *af,
                            mcm: false,
                            call: Call::Idle,
                        },
                    );
                    ndis(NDIS_STATUS_SUCCESS)
                }
            }
            Op::DeleteVc { vc } => {
                let v = &self.vcs[vc];
                // NDIS: only the creator deletes, and only an inactive VC.
                if !v.mcm && v.call == Call::Closing {
                    // NDIS refuses to delete a VC whose close is outstanding
                    // with CLOSING (ndis-emu's NdisCoDeleteVc, contract §3.3 [B]).
                    ndis(NDIS_STATUS_CLOSING)
                } else if v.mcm || v.call != Call::Idle {
                    ndis(NDIS_STATUS_NOT_ACCEPTED)
                } else {
                    let af = v.af;
                    self.vcs.remove(vc);
                    self.finish_af_close(&mut e, af);
                    ndis(NDIS_STATUS_SUCCESS)
                }
            }
            Op::MakeCall {
                vc,
                to,
                multipoint,
                flag_only,
                callee_vc,
                ..
            } => self.make_call(&mut e, *vc, *to, *multipoint, *flag_only, *callee_vc),
            Op::AnswerIncoming { vc, accept } => match self.vcs[vc].call {
                Call::Offered { sap, from } => {
                    self.answered(&mut e, *vc, from, sap, *accept);
                    Some(Status::Done)
                }
                _ => ndis(NDIS_STATUS_FAILURE),
            },
            Op::CloseCall { vc, data } => {
                let v = &self.vcs[vc];
                let client = v.client;
                if *data && matches!(v.call, Call::Outgoing(_) | Call::Connected(_)) {
                    // Close data is refused first, whatever the call.
                    Self::ind(&mut e, client, Ind::CloseCallComplete(NDIS_STATUS_INVALID_DATA));
                    ndis(NDIS_STATUS_INVALID_DATA)
                } else if matches!(v.call, Call::Outgoing(_)) {
                    // A close of a call whose make call the callee has not
                    // answered yet. docs/call-manager.md does not say; the
                    // model takes covmini's answer, FAILURE (the call is not
                    // up; the client waits for the make call's completion),
                    // and checks that nothing else changes.
                    Self::ind(&mut e, client, Ind::CloseCallComplete(NDIS_STATUS_FAILURE));
                    ndis(NDIS_STATUS_FAILURE)
                } else if !matches!(v.call, Call::Connected(_)) {
                    // NDIS: no call to close (or its close is running).
                    ndis(NDIS_STATUS_FAILURE)
                } else if *data {
                    Self::ind(&mut e, client, Ind::CloseCallComplete(NDIS_STATUS_INVALID_DATA));
                    ndis(NDIS_STATUS_INVALID_DATA)
                } else if v.call == Call::Connected(Peer::Root)
                    && self
                        .parties_of(*vc)
                        .iter()
                        .any(|p| self.parties[p].state == PartyS::Adding)
                {
                    Self::ind(&mut e, client, Ind::CloseCallComplete(NDIS_STATUS_FAILURE));
                    ndis(NDIS_STATUS_FAILURE)
                } else {
                    let s = self.client_closes(&mut e, *vc);
                    ndis(s)
                }
            }
            Op::AddParty {
                vc, to, party, leaf_vc, ..
            } => self.add_party(&mut e, *vc, *to, *party, *leaf_vc),
            Op::DropParty { party, data } => {
                let p = self.parties[party].clone();
                let count = self.parties_of(p.root).len();
                // NDIS: only a party that is in the call, and not the last.
                if p.state == PartyS::Adding || count < 2 {
                    ndis(NDIS_STATUS_FAILURE)
                } else if *data {
                    ndis(NDIS_STATUS_INVALID_DATA)
                } else {
                    self.parties.remove(party);
                    if p.state == PartyS::Connected {
                        self.incoming_close(&mut e, p.leaf);
                    }
                    ndis(NDIS_STATUS_SUCCESS)
                }
            }
            Op::ModifyQos { vc, flow } => {
                let call = self.vcs[vc].call;
                match call {
                    Call::Connected(_) if *flow == Flow::Over => ndis(NDIS_STATUS_INCOMPATABLE_QOS),
                    Call::Connected(Peer::Echo) => ndis(NDIS_STATUS_SUCCESS),
                    Call::Connected(Peer::Vc(other)) => {
                        let c = self.vcs[&other].client;
                        Self::ind(&mut e, c, Ind::IncomingQosChange { vc: other });
                        ndis(NDIS_STATUS_SUCCESS)
                    }
                    // "a multipoint call": the root's, and a leaf's.
                    Call::Connected(Peer::Root | Peer::Leaf(_)) => ndis(NDIS_STATUS_FAILURE),
                    // NDIS: no connected call.
                    _ => ndis(NDIS_STATUS_FAILURE),
                }
            }
            Op::Send { vc, nbls, serial, .. } => {
                self.send(&mut e, *vc, *nbls, *serial);
                Some(Status::Done)
            }
            Op::CancelSends { .. } | Op::PnpEvent { .. } => Some(Status::Done),
            Op::OidQuery { af, vc, oid, short } => {
                let s = self.oid_query(*af, *vc, *oid, *short);
                if *oid == OidPick::CoGetAddresses && s == NDIS_STATUS_SUCCESS {
                    let mut list = vec![covmini::call_manager::ECHO_ADDRESS.to_vec()];
                    list.extend(self.reachable().iter().map(|n| NAMES[*n].to_vec()));
                    e.addresses = Some(list);
                }
                ndis(s)
            }
            Op::OidSet { vc, .. } if self.vc_going(*vc) => ndis(NDIS_STATUS_INVALID_PARAMETER),
            Op::OidSet { bad_length, .. } => ndis(if *bad_length {
                NDIS_STATUS_INVALID_LENGTH
            } else {
                NDIS_STATUS_SUCCESS
            }),
            Op::Pause => {
                if self.path == Path::Running {
                    if self.sends.is_empty() {
                        self.path = Path::Paused;
                        ndis(NDIS_STATUS_SUCCESS)
                    } else {
                        self.path = Path::Pausing;
                        ndis(NDIS_STATUS_PENDING)
                    }
                } else {
                    Some(Status::NotNow)
                }
            }
            Op::Restart => {
                if self.path == Path::Paused {
                    self.path = Path::Running;
                    ndis(NDIS_STATUS_SUCCESS)
                } else {
                    Some(Status::NotNow)
                }
            }
        };
        if let (Op::MakeCall { flow, .. } | Op::AddParty { flow, .. }, Some(Status::Ndis(NDIS_STATUS_SUCCESS))) =
            (step, status)
        {
            e.params_changed = Some(*flow == Flow::Over);
        }
        e.status = status;
        e
    }

    fn make_call(
        &mut self,
        e: &mut Expect,
        vc: Id,
        to: Addr,
        multipoint: Option<Id>,
        flag_only: bool,
        callee: Id,
    ) -> Option<Status> {
        let v = &self.vcs[&vc];
        let client = v.client;
        if v.mcm || v.call != Call::Idle {
            // NDIS: the VC has a call.
            return Some(Status::Ndis(NDIS_STATUS_CALL_ACTIVE));
        }
        // Where several refusals apply the model takes, in order: malformed
        // parameters (INVALID_ADDRESS), features (NOT_SUPPORTED), routing
        // (NO_ROUTE); the docs list them but give no order.
        let refusal = if Self::malformed(to) {
            Some(NDIS_STATUS_INVALID_ADDRESS)
        } else if (flag_only && multipoint.is_none()) || (multipoint.is_some() && to == Addr::Echo) {
            Some(NDIS_STATUS_NOT_SUPPORTED)
        } else {
            None
        };
        let status = match (refusal, to) {
            (Some(s), _) => s,
            (None, Addr::Echo) => {
                self.vcs.get_mut(&vc).expect("vc").call = Call::Connected(Peer::Echo);
                NDIS_STATUS_SUCCESS
            }
            (None, Addr::Name(i)) => match self.route(usize::from(i) % NAMES.len()) {
                None => NDIS_STATUS_NO_ROUTE_TO_DESTINATION,
                Some(_) if multipoint.is_some() && self.parties.len() >= MAX_PARTIES => NDIS_STATUS_RESOURCES,
                Some(sap) => {
                    let from = match multipoint {
                        Some(p) => {
                            self.parties.insert(
                                p,
                                PartyM {
                                    root: vc,
                                    leaf: callee,
                                    state: PartyS::Adding,
                                },
                            );
                            From::Party(p)
                        }
                        None => From::Caller(vc),
                    };
                    self.vcs.get_mut(&vc).expect("vc").call = Call::Outgoing(from);
                    let s = self.offer(e, sap, callee, from);
                    // The completion line came from `answered` already.
                    return Some(Status::Ndis(s));
                }
            },
            (None, _) => NDIS_STATUS_INVALID_ADDRESS,
        };
        Self::ind(e, client, Ind::MakeCallComplete(status));
        Some(Status::Ndis(status))
    }

    fn add_party(&mut self, e: &mut Expect, root: Id, to: Addr, party: Id, leaf: Id) -> Option<Status> {
        let v = &self.vcs[&root];
        let client = v.client;
        let parties = self.parties_of(root);
        if v.call != Call::Connected(Peer::Root) || parties.is_empty() {
            // NDIS refuses a party on a VC with no multipoint call (FAILURE).
            return Some(Status::Ndis(NDIS_STATUS_FAILURE));
        }
        // Order where several apply: malformed, echo, the call's table,
        // routing, the adapter's table (the docs give none).
        let status = if Self::malformed(to) {
            NDIS_STATUS_INVALID_ADDRESS
        } else if to == Addr::Echo {
            NDIS_STATUS_NOT_SUPPORTED
        } else if parties.len() >= MAX_LEAVES {
            NDIS_STATUS_RESOURCES
        } else {
            let name = match to {
                Addr::Name(i) => usize::from(i) % NAMES.len(),
                _ => usize::MAX,
            };
            match self.route(name) {
                None => NDIS_STATUS_NO_ROUTE_TO_DESTINATION,
                Some(_) if self.parties.len() >= MAX_PARTIES => NDIS_STATUS_RESOURCES,
                Some(sap) => {
                    self.parties.insert(
                        party,
                        PartyM {
                            root,
                            leaf,
                            state: PartyS::Adding,
                        },
                    );
                    let s = self.offer(e, sap, leaf, From::Party(party));
                    return Some(Status::Ndis(s));
                }
            }
        };
        Self::ind(e, client, Ind::AddPartyComplete(status));
        Some(Status::Ndis(status))
    }

    fn send(&mut self, e: &mut Expect, vc: Id, nbls: u8, serial: Id) {
        let v = &self.vcs[&vc];
        let client = v.client;
        let call = v.call;
        for k in 0..nbls {
            let key = u64::from(serial) << 8 | u64::from(k);
            // docs/call-manager.md, "Statuses": a send on a VC whose close
            // has begun is refused as not activated before anything else
            // (paused or not: the close's handshake comes first).
            let status = if call == Call::Closing {
                Some(NDIS_STATUS_VC_NOT_ACTIVATED)
            } else if self.path != Path::Running {
                Some(NDIS_STATUS_PAUSED)
            } else {
                match call {
                    Call::Connected(Peer::Leaf(_)) => Some(NDIS_STATUS_FAILURE),
                    Call::Connected(peer) => {
                        let targets: Vec<Id> = match peer {
                            Peer::Echo => vec![vc],
                            Peer::Vc(other) => vec![other],
                            Peer::Root => self
                                .parties_of(vc)
                                .iter()
                                .filter(|p| self.parties[p].state == PartyS::Connected)
                                .map(|p| self.parties[p].leaf)
                                .collect(),
                            Peer::Leaf(_) => Vec::new(),
                        };
                        if targets.is_empty() {
                            Some(NDIS_STATUS_VC_NOT_ACTIVATED)
                        } else {
                            let mut out = 0;
                            for t in targets {
                                let c = self.vcs[&t].client;
                                e.received[c].push(payload(serial, k));
                                if self.clients[c].holding {
                                    self.clients[c].held.push((t, key));
                                    out += 1;
                                }
                            }
                            if out == 0 {
                                Some(NDIS_STATUS_SUCCESS)
                            } else {
                                self.sends.insert(key, SendM { vc, client, out });
                                None
                            }
                        }
                    }
                    _ => Some(NDIS_STATUS_VC_NOT_ACTIVATED),
                }
            };
            if let Some(s) = status {
                e.send_results[client].push(s);
            }
        }
    }

    /// docs/oids.md, "Status codes": a VC covmini created whose close has
    /// begun is as one that is gone (its close deletes it).
    fn vc_going(&self, vc: Option<Id>) -> bool {
        vc.and_then(|v| self.vcs.get(&v))
            .is_some_and(|v| v.mcm && v.call == Call::Closing)
    }

    fn oid_query(&self, af: Option<Id>, vc: Option<Id>, oid: OidPick, short: bool) -> NDIS_STATUS {
        if let Some(a) = af
            && self.afs[&a].closing
        {
            // NDIS routes no request through an AF being closed.
            return NDIS_STATUS_FAILURE;
        }
        if self.vc_going(vc) {
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        // docs/oids.md, "Status codes": the checks in their order. A VC
        // given with an AF (any live VC: ndis-emu passes its context) does
        // not change a call-manager answer ("OID_CO_GET_ADDRESSES ... gets
        // the same answer with or without one").
        let counter = matches!(oid, OidPick::XmitOk | OidPick::RcvOk | OidPick::XmitError);
        let cm = af.is_some();
        match oid {
            OidPick::Unknown if cm => NDIS_STATUS_NOT_SUPPORTED,
            OidPick::Unknown => NDIS_STATUS_INVALID_OID,
            OidPick::WanGetLinkInfo if !cm && vc.is_none() => NDIS_STATUS_INVALID_DATA,
            OidPick::CoGetAddresses if !cm => NDIS_STATUS_NOT_SUPPORTED,
            OidPick::CoGetAddresses => {
                if short {
                    NDIS_STATUS_BUFFER_TOO_SHORT
                } else {
                    NDIS_STATUS_SUCCESS
                }
            }
            _ if cm => NDIS_STATUS_NOT_SUPPORTED,
            _ if short && counter => NDIS_STATUS_INVALID_LENGTH,
            _ if short => NDIS_STATUS_BUFFER_TOO_SHORT,
            _ => NDIS_STATUS_SUCCESS,
        }
    }

    /// The SAP addresses a call reaches now (for OID_CO_GET_ADDRESSES).
    #[must_use]
    pub fn reachable(&self) -> BTreeSet<usize> {
        self.saps
            .values()
            .map(|s| s.name)
            .filter(|n| self.route(*n).is_some())
            .collect()
    }

    /// Receive NBLs held by every client (the generator keeps this well
    /// under covmini's low-water mark, which the docs do not give).
    #[must_use]
    pub fn held(&self) -> usize {
        self.held_total()
    }
}
