//! The connection-oriented half of NDIS: address families, SAPs, VCs,
//! parties, the scripted clients that use them, and the bookkeeping of every
//! request the call manager may pend.
//!
//! What it owns: the state NDIS keeps per object (contract §3), and the one
//! rule that shapes every CoNDIS request (contract §2.3): when the call
//! manager's handler returns anything but PENDING, NDIS completes the request
//! itself with that status; only a PENDING return may be followed by the
//! call manager's `NdisCm*Complete`, exactly once, never with PENDING. The
//! [`Requests`] tracker enforces that for every kind of request at once.
//!
//! What it must not do: call into the driver (that is `ffi`), or hold the
//! world across such a call.

pub(crate) mod client_requests;
pub(crate) mod complete;
pub(crate) mod data;
pub(crate) mod mcm;
pub mod pended;
pub mod rules;
pub(crate) mod window;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ndis_sys::*;

/// A scripted client, by index.
pub type ClientId = usize;

/// How a scripted client answers what NDIS offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Answer inside the indication (ProtocolClIncomingCall returns the status).
    Sync,
    /// Return PENDING and answer later (the test calls the emulator to answer).
    Pend,
}

/// Who a CoNDIS client is: the seam between a client scripted by a test
/// and a protocol driver. NDIS routes both kinds' requests to the call
/// manager the same way (`crate::ffi::cm`, `condis::client_requests`,
/// `condis::complete`); only what NDIS does when it calls the client
/// differs: a scripted client's answers are `crate::answers`, a driver's
/// handlers are called by `crate::ffi::client`.
#[derive(Clone, Copy, Debug, Default)]
pub enum ClientKind {
    /// Scripted by a test (or covmini-lab).
    #[default]
    Scripted,
    /// A protocol driver bound to the adapter.
    Driver(DriverClient),
}

/// A protocol driver acting as a CoNDIS client.
#[derive(Clone, Copy, Debug)]
pub struct DriverClient {
    /// Its NdisBindingHandle.
    pub binding: usize,
    /// The handlers it registered in ProtocolSetOptions.
    pub handlers: NDIS_CO_CLIENT_OPTIONAL_HANDLERS,
}

/// A CoNDIS client: what it does when NDIS calls it.
#[derive(Clone, Debug)]
pub struct ClientRec {
    /// A name for traces.
    pub name: String,
    /// Scripted, or a driver (whose handlers NDIS calls; the scripted
    /// fields below are then unused).
    pub kind: ClientKind,
    /// How it answers incoming calls.
    pub answer: Answer,
    /// How its ProtocolClNotifyCloseAf answers NdisCmNotifyCloseAddressFamily:
    /// tear down and close at once ([`Answer::Sync`]), or return PENDING and
    /// do it later, on a thread of its own ([`Answer::Pend`]).
    pub notify_close_answer: Answer,
    /// Whether it accepts incoming calls (SUCCESS) or rejects them (this status).
    pub incoming_call_status: NDIS_STATUS,
    /// What its ProtocolCoCreateVc returns for MCM-created VCs.
    pub create_vc_status: NDIS_STATUS,
    /// Whether it reacts inside NDIS's call into it, before that call
    /// returns to the driver (deletes its VC inside ProtocolClCloseCallComplete
    /// and a failed ProtocolClMakeCallComplete, closes the call inside
    /// ProtocolClIncomingCloseCall, drops the party inside
    /// ProtocolClIncomingDropParty, goes on with an AF's teardown inside the
    /// completion it waited for): `crate::answers::inside`. Otherwise it
    /// reacts once the driver's outermost handler has returned.
    pub reacts_inside: bool,
    /// Indications it received, in order (for assertions).
    pub inbox: Vec<String>,
    /// Payloads received (one entry per NET_BUFFER), in order.
    pub received: Vec<Vec<u8>>,
    /// Final statuses of its sends, one per NBL, in completion order.
    pub send_results: Vec<NDIS_STATUS>,
}

/// Where an open of an address family is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfState {
    /// ProtocolCmOpenAf pended.
    Opening,
    /// Open: the AF takes SAPs, VCs and calls.
    Open,
    /// ProtocolCmCloseAf pended.
    Closing,
    /// Closed (or failed to open); the handle is dead.
    Closed,
}

/// One client's open of an AF (an NdisAfHandle).
#[derive(Clone, Debug)]
pub struct AfRec {
    /// The client that opened it.
    pub client: ClientId,
    /// The AF as the client asked for it.
    pub af: CO_ADDRESS_FAMILY,
    /// The ClientAfContext a driver client gave NdisClOpenAddressFamilyEx
    /// (0 for a scripted client).
    pub client_context: usize,
    /// CallMgrAfContext the MCM returned.
    pub cm_context: usize,
    /// Where the open is.
    pub state: AfState,
    /// NdisCmNotifyCloseAddressFamily was called and its completion is due.
    pub notify_close_pending: bool,
    /// The client pended its ProtocolClNotifyCloseAf and its
    /// NdisClCloseAddressFamily pended too: it calls
    /// NdisClNotifyCloseAddressFamilyComplete once the close completes.
    pub notify_complete_on_close: bool,
}

/// Where a SAP registration is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SapState {
    /// ProtocolCmRegisterSap pended (incoming calls may already arrive).
    Registering,
    /// Registered.
    Registered,
    /// ProtocolCmDeregisterSap pended.
    Deregistering,
    /// Gone (or failed to register); the handle is dead.
    Deregistered,
}

/// A registered SAP (an NdisSapHandle).
#[derive(Clone, Debug)]
pub struct SapRec {
    /// The NdisAfHandle it was registered on.
    pub af: usize,
    /// CO_SAP.SapType.
    pub sap_type: ULONG,
    /// CO_SAP.Sap bytes.
    pub sap: Vec<u8>,
    /// CallMgrSapContext the MCM returned.
    pub cm_context: usize,
    /// Where the registration is.
    pub state: SapState,
    /// A driver client's ProtocolSapContext (0 for a scripted client).
    pub client_context: usize,
    /// The address of a driver client's CO_SAP, which
    /// ProtocolClRegisterSapComplete gets back (0 for a scripted client).
    pub client_sap: usize,
}

/// Who created a VC, and so who may delete it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Creator {
    /// NdisCoCreateVc by a client: the client deletes it.
    Client,
    /// NdisMCmCreateVc by the call manager: the MCM deletes it.
    CallManager,
}

/// The call on a VC, as NDIS sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// No call.
    Idle,
    /// ProtocolCmMakeCall issued, not completed.
    Outgoing,
    /// NdisCmDispatchIncomingCall delivered, the client has not answered.
    Offered,
    /// The client accepted (ProtocolCmIncomingCallComplete SUCCESS) and is
    /// waiting for NdisCmDispatchCallConnected.
    Accepted,
    /// The call is up.
    Connected,
    /// ProtocolCmCloseCall issued, not completed.
    Closing,
    /// The call closed (or failed); the VC may be reused or deleted.
    Closed,
}

/// A VC (an NdisVcHandle).
#[derive(Clone, Debug)]
pub struct VcRec {
    /// The NdisAfHandle of the VC.
    pub af: usize,
    /// The client on the other side of the VC.
    pub client: ClientId,
    /// A driver client's ProtocolVcContext (0 for a scripted client).
    pub client_context: usize,
    /// Who created it (and so deletes it).
    pub creator: Creator,
    /// CallMgrVcContext = MiniportVcContext: what ProtocolCoCreateVc returned
    /// (client-created) or what NdisMCmCreateVc was given (MCM-created).
    pub cm_context: usize,
    /// NDIS's "active" bit (NdisMCmActivateVc / NdisMCmDeactivateVc).
    pub active: bool,
    /// The call on the VC.
    pub call: CallState,
    /// The SAP an incoming call arrived on.
    pub sap: Option<usize>,
    /// Parties of a multipoint call (NdisPartyHandles).
    pub parties: Vec<usize>,
    /// The call was closed successfully and the VC is still active: it must
    /// be deactivated before it can be deleted (contract §3.3 "Closed").
    pub closed_while_active: bool,
    /// NdisMCmActivateVc ran on this VC since its last make call began: a
    /// make call's SUCCESS is checked against this, not against whether it
    /// is still active when the handler's return is seen (in the threaded
    /// mode the call may have been closed and deactivated meanwhile, on
    /// another CPU, as the call manager's own order allows).
    pub activated_in_call: bool,
    /// Client NBLs sent on this VC and not completed yet.
    pub sends_out: std::collections::BTreeSet<usize>,
    /// Driver NBLs indicated on this VC and not returned yet.
    pub receives_out: std::collections::BTreeSet<usize>,
}

/// Where a party is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyState {
    /// ProtocolCmMakeCall / ProtocolCmAddParty pended.
    Adding,
    /// Part of the call.
    Connected,
    /// ProtocolCmDropParty pended.
    Dropping,
}

/// A party of a multipoint call (an NdisPartyHandle).
#[derive(Clone, Debug)]
pub struct PartyRec {
    /// The NdisVcHandle of its call.
    pub vc: usize,
    /// CallMgrPartyContext the MCM returned.
    pub cm_context: usize,
    /// Where the party is.
    pub state: PartyState,
}

/// The kinds of request a call manager may pend, each completed by its own
/// `NdisCm*Complete` (contract §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReqKind {
    /// ProtocolCmOpenAf.
    OpenAf,
    /// ProtocolCmCloseAf.
    CloseAf,
    /// ProtocolCmRegisterSap.
    RegisterSap,
    /// ProtocolCmDeregisterSap.
    DeregisterSap,
    /// ProtocolCmMakeCall.
    MakeCall,
    /// ProtocolCmCloseCall.
    CloseCall,
    /// ProtocolCmAddParty.
    AddParty,
    /// ProtocolCmDropParty.
    DropParty,
    /// ProtocolCmModifyCallQoS.
    ModifyQos,
    /// ProtocolCoOidRequest (a client's NdisCoOidRequest with an AF handle).
    CmOid,
    /// MiniportCoOidRequest (NdisCoOidRequest without an AF handle).
    MiniportOid,
}

impl ReqKind {
    /// The handler the request goes to.
    #[must_use]
    pub fn handler(self) -> &'static str {
        match self {
            Self::OpenAf => "ProtocolCmOpenAf",
            Self::CloseAf => "ProtocolCmCloseAf",
            Self::RegisterSap => "ProtocolCmRegisterSap",
            Self::DeregisterSap => "ProtocolCmDeregisterSap",
            Self::MakeCall => "ProtocolCmMakeCall",
            Self::CloseCall => "ProtocolCmCloseCall",
            Self::AddParty => "ProtocolCmAddParty",
            Self::DropParty => "ProtocolCmDropParty",
            Self::ModifyQos => "ProtocolCmModifyCallQoS",
            Self::CmOid => "ProtocolCoOidRequest",
            Self::MiniportOid => "MiniportCoOidRequest",
        }
    }

    /// The completion function for a pended request.
    #[must_use]
    pub fn completion(self) -> &'static str {
        match self {
            Self::OpenAf => "NdisCmOpenAddressFamilyComplete",
            Self::CloseAf => "NdisCmCloseAddressFamilyComplete",
            Self::RegisterSap => "NdisCmRegisterSapComplete",
            Self::DeregisterSap => "NdisCmDeregisterSapComplete",
            Self::MakeCall => "NdisCmMakeCallComplete",
            Self::CloseCall => "NdisCmCloseCallComplete",
            Self::AddParty => "NdisCmAddPartyComplete",
            Self::DropParty => "NdisCmDropPartyComplete",
            Self::ModifyQos => "NdisCmModifyCallQoSComplete",
            Self::CmOid => "NdisCoOidRequestComplete",
            Self::MiniportOid => "NdisMCoOidRequestComplete",
        }
    }
}

/// Where a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReqPhase {
    /// The handler is running; `early` is a completion it made before
    /// returning (legal only if it then returns PENDING).
    InHandler {
        /// A completion made before the handler returned.
        early: Option<NDIS_STATUS>,
    },
    /// The handler returned PENDING; the completion is due.
    Pended,
}

/// What the tracker says about a completion call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionVerdict {
    /// Apply the completion now (the request was pended).
    Apply,
    /// Apply it now, as NDIS does, and remember it: the handler is still
    /// running and must return PENDING.
    Early,
    /// No such request is pended: a double completion, or a completion of a
    /// request whose handler returned non-PENDING (NDIS completed it already).
    NotPended,
    /// The handler already completed it once while running.
    Twice,
}

/// What the tracker says about a handler's return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnVerdict {
    /// Non-PENDING: NDIS completes the request with this status now.
    NdisCompletes(NDIS_STATUS),
    /// PENDING, and the handler had already completed (applied then).
    CompletedEarly(NDIS_STATUS),
    /// PENDING: wait for the completion.
    Pended,
    /// Non-PENDING although the handler had already completed it: NDIS would
    /// complete it a second time.
    CompletedTwice(NDIS_STATUS),
}

/// Every request the call manager holds, by (kind, NDIS handle of the object).
///
/// INVARIANT: at most one request of a kind per object is in flight; NDIS
/// never issues a second before the first completes.
#[derive(Default, Debug)]
pub struct Requests {
    inflight: BTreeMap<(ReqKind, usize), ReqPhase>,
    /// Which pend each pended request is (a count of every PENDING return),
    /// so a request completed and pended again on the same object is told
    /// apart from one that never completed.
    pend_serial: BTreeMap<(ReqKind, usize), u64>,
    /// PENDING returns so far.
    pends: u64,
    /// Since when each pended OID request has been seen pended, on the
    /// virtual clock ([`pended::clock_moved`]).
    pub(crate) since: BTreeMap<(ReqKind, usize), pended::Since>,
}

impl Requests {
    /// NDIS is about to call the handler for `(kind, object)`.
    pub fn begin(&mut self, kind: ReqKind, object: usize) {
        self.inflight
            .insert((kind, object), ReqPhase::InHandler { early: None });
    }

    /// The handler returned `status`.
    pub fn returned(&mut self, kind: ReqKind, object: usize, status: NDIS_STATUS) -> ReturnVerdict {
        let phase = self.inflight.remove(&(kind, object));
        match (phase, status == NDIS_STATUS_PENDING) {
            (Some(ReqPhase::InHandler { early: Some(s) }), true) => ReturnVerdict::CompletedEarly(s),
            (Some(ReqPhase::InHandler { early: Some(_) }), false) => ReturnVerdict::CompletedTwice(status),
            (_, true) => {
                self.inflight.insert((kind, object), ReqPhase::Pended);
                self.pends += 1;
                self.pend_serial.insert((kind, object), self.pends);
                ReturnVerdict::Pended
            }
            (_, false) => ReturnVerdict::NdisCompletes(status),
        }
    }

    /// The call manager called the completion for `(kind, object)`.
    pub fn complete(&mut self, kind: ReqKind, object: usize, status: NDIS_STATUS) -> CompletionVerdict {
        match self.inflight.get_mut(&(kind, object)) {
            None => CompletionVerdict::NotPended,
            Some(ReqPhase::Pended) => {
                self.inflight.remove(&(kind, object));
                CompletionVerdict::Apply
            }
            Some(ReqPhase::InHandler { early: Some(_) }) => CompletionVerdict::Twice,
            Some(ReqPhase::InHandler { early }) => {
                *early = Some(status);
                CompletionVerdict::Early
            }
        }
    }

    /// Whether `(kind, object)` is still waiting for its completion.
    #[must_use]
    pub fn is_pending(&self, kind: ReqKind, object: usize) -> bool {
        self.inflight.contains_key(&(kind, object))
    }

    /// Whether a handler of `kind` is running now (on any CPU).
    #[must_use]
    pub fn in_handler(&self, kind: ReqKind) -> bool {
        self.inflight
            .iter()
            .any(|((k, _), p)| *k == kind && matches!(p, ReqPhase::InHandler { .. }))
    }

    /// Whether the handler of `(kind, object)` is running now.
    #[must_use]
    pub fn in_handler_for(&self, kind: ReqKind, object: usize) -> bool {
        matches!(self.inflight.get(&(kind, object)), Some(ReqPhase::InHandler { .. }))
    }

    /// Requests still pended (for reports at halt).
    pub fn pending(&self) -> impl Iterator<Item = (ReqKind, usize)> + '_ {
        self.inflight.keys().copied()
    }

    /// Requests whose handler returned PENDING and that are not completed
    /// yet (a handler still running is not among them).
    pub fn pended(&self) -> impl Iterator<Item = (ReqKind, usize)> + '_ {
        self.inflight
            .iter()
            .filter(|(_, phase)| **phase == ReqPhase::Pended)
            .map(|(key, _)| *key)
    }

    /// Which PENDING return (counted from 1) left `(kind, object)` pended,
    /// if it is pended now.
    #[must_use]
    pub fn pend_serial(&self, kind: ReqKind, object: usize) -> Option<u64> {
        match self.inflight.get(&(kind, object)) {
            Some(ReqPhase::Pended) => self.pend_serial.get(&(kind, object)).copied(),
            _ => None,
        }
    }
}

/// Work a scripted client does after the driver's current handler returns
/// (a client answering an indication calls NDIS again; doing it after the
/// outermost driver frame keeps the emulator's calls into the driver flat).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Answer an incoming close with NdisClCloseCall (contract §3.3).
    CloseCall {
        /// The VC whose call closes.
        vc: usize,
    },
    /// Return indicated receive NBLs (MiniportReturnNetBufferLists).
    ReturnNbls {
        /// The VC they were indicated on.
        vc: usize,
        /// The NBLs, in indication order.
        nbls: Vec<usize>,
    },
    /// Answer NdisCmNotifyCloseAddressFamily: tear down the AF's calls and
    /// SAPs, close the AF, then complete the notification.
    TearDownAf {
        /// The AF being closed.
        af: usize,
    },
    /// The later half of a ProtocolClNotifyCloseAf that returned PENDING
    /// ([`ClientRec::notify_close_answer`]): tear down the AF's calls and
    /// SAPs, NdisClCloseAddressFamily, and NdisClNotifyCloseAddressFamilyComplete
    /// once the close has completed.
    AnswerNotifyClose {
        /// The AF being closed.
        af: usize,
    },
    /// NdisClNotifyCloseAddressFamilyComplete for an AF whose pended close
    /// just completed (after [`ClientAction::AnswerNotifyClose`]).
    CompleteNotifyClose {
        /// The AF now closed.
        af: usize,
    },
    /// A client tearing its AF down deletes a VC of its own whose call
    /// ended while it did (its make call failed, its close completed): "The
    /// VC stays created; the client then calls NdisCoDeleteVc" (contract
    /// §3.3, failed call).
    DeleteVc {
        /// The client-created VC.
        vc: usize,
    },
    /// A client answering NdisMCmDispatchIncomingDropParty with
    /// NdisClDropParty (from inside its ProtocolClIncomingDropParty,
    /// `crate::answers::inside`).
    DropParty {
        /// The party the call manager dropped.
        party: usize,
    },
    /// The client's unbind, for an AF whose NdisClCloseAddressFamily the
    /// call manager pended: remove what the client left on it (answer the
    /// calls offered to it, close its calls, delete its VCs, deregister its
    /// SAPs), so the call manager can complete the close. NDIS unbinds the
    /// clients before MiniportHaltEx; a client slower than that does this
    /// on its own thread while the driver waits at halt.
    FinishClose {
        /// The AF whose close is pending.
        af: usize,
    },
}

/// The CoNDIS state of the world.
#[derive(Default, Debug)]
pub struct Condis {
    /// The scripted clients, by ClientId.
    pub clients: Vec<ClientRec>,
    /// AF opens by NdisAfHandle.
    pub afs: BTreeMap<usize, AfRec>,
    /// SAPs by NdisSapHandle.
    pub saps: BTreeMap<usize, SapRec>,
    /// VCs by NdisVcHandle.
    pub vcs: BTreeMap<usize, VcRec>,
    /// Parties by NdisPartyHandle.
    pub parties: BTreeMap<usize, PartyRec>,
    /// Requests the call manager holds.
    pub requests: Requests,
    /// Client answers to run after the current driver handler returns, per
    /// CPU: each CPU runs the answers its own requests set off.
    pub actions: BTreeMap<u32, VecDeque<ClientAction>>,
    /// Client answers a client gives later, on a thread of its own (a pended
    /// ProtocolClNotifyCloseAf): no CPU owes them. They run while the driver
    /// waits in NdisWaitEvent (by the waiting CPU itself in the
    /// deterministic mode, by a system worker thread in the threaded mode),
    /// or when the test calls `Emulator::pump`.
    pub later: VecDeque<ClientAction>,
    /// The clients with an AF close pending began removing what they left
    /// (the first NdisWaitEvent of this MiniportHaltEx).
    pub unbound_at_halt: bool,
    /// Call parameters the emulator handed the driver for a request on an
    /// object (by NDIS handle), kept alive until the request completes: the
    /// driver may hold and modify them until then.
    pub params: BTreeMap<usize, crate::ffi::params::CallParams>,
    /// The client's call parameters as they stood when its make call (by
    /// NdisVcHandle) or add party (by NdisPartyHandle) completed: what the
    /// call manager changed shows here, with CALL_PARAMETERS_CHANGED.
    pub completed_params: BTreeMap<usize, crate::call_spec::CallSpec>,
    /// The call parameters the MCM offered with each incoming call (its own
    /// memory), by the NdisVcHandle, while the call is offered.
    pub offered: BTreeMap<usize, usize>,
    /// OID requests handed to the driver, by request address.
    pub oids: BTreeMap<usize, OidRec>,
    /// Send handler calls NDIS has made and the driver has not returned
    /// from, per CPU (innermost last): `crate::condis::window`, "NDIS's window".
    pub in_handler: BTreeMap<u32, Vec<InHandler>>,
    /// The call state of each VC whose NdisClCloseCall is in flight, from
    /// before it: a refused close leaves the call as it was (an outgoing
    /// call stays outgoing).
    pub closing_from: BTreeMap<usize, CallState>,
    /// Client requests (and sends) inside the driver now, by the AF they
    /// are on: a client's teardown of an AF for NdisCmNotifyCloseAddressFamily
    /// waits for them, as a client serializes its own requests with its
    /// close of the AF (`crate::answers::on_af`).
    pub af_busy: BTreeMap<usize, u32>,
    /// VCs whose NdisClCloseCall was in flight when a make call or an add
    /// party on them, which the call manager may refuse the close for,
    /// completed: a refusal of that close resumes the client's teardown
    /// ([`Self::resume_teardown`], from the close's completion).
    pub close_crossed: BTreeSet<usize>,
    /// Client-created VCs whose NdisCoDeleteVc is inside the driver now: a
    /// client deletes a VC once, so its other threads (two teardowns of one
    /// AF, a script's request) do not delete it again meanwhile
    /// (`ffi::cm::delete_vc`).
    pub deleting: BTreeSet<usize>,
    /// The AFs a client's teardown (`crate::answers`: a notify-close's
    /// answer, a resumed teardown, an unbind's removal) is running on now,
    /// and the thread that runs it: a client runs one teardown of an AF at a
    /// time, so a second one runs after the first.
    pub tearing: BTreeMap<usize, std::thread::ThreadId>,
    /// A teardown of each AF set off while another thread's ran
    /// (`crate::answers`): queued when that one ends.
    pub tearing_again: BTreeMap<usize, ClientAction>,
}

impl Condis {
    /// Queues a client's answer on CPU `cpu`, to run once that CPU is out of
    /// the driver.
    pub fn defer(&mut self, cpu: u32, action: ClientAction) {
        self.actions.entry(cpu).or_default().push_back(action);
    }

    /// The next answer queued on CPU `cpu`.
    pub fn next_action(&mut self, cpu: u32) -> Option<ClientAction> {
        self.actions.get_mut(&cpu).and_then(VecDeque::pop_front)
    }

    /// Queues an answer a client gives later, on a thread of its own.
    pub fn defer_later(&mut self, action: ClientAction) {
        self.later.push_back(action);
    }

    /// A request on AF `af` just completed: if its client is tearing the AF
    /// down for NdisCmNotifyCloseAddressFamily (and the AF is not closed
    /// yet), it goes on with that on its own thread, as a client does from
    /// its completion handler (a make call that completed after its
    /// teardown began leaves a call to close, a close leaves a VC to
    /// delete); likewise a client unbinding at halt from an AF whose close
    /// pended. Queued once.
    pub fn resume_teardown(&mut self, af: usize) {
        let Some(a) = self.afs.get(&af) else { return };
        let action = if a.notify_close_pending && a.state != AfState::Closed {
            ClientAction::TearDownAf { af }
        } else if self.unbound_at_halt && a.state == AfState::Closing {
            ClientAction::FinishClose { af }
        } else {
            return;
        };
        if !self.later.contains(&action) {
            self.later.push_back(action);
            crate::world::signal::changed();
        }
    }

    /// Moves CPU `cpu`'s queued answers to the later queue: the CPU is about
    /// to block, and its clients answer on their own threads meanwhile.
    pub fn hand_over(&mut self, cpu: u32) {
        if let Some(q) = self.actions.get_mut(&cpu) {
            self.later.extend(q.drain(..));
        }
    }

    /// Forgets the client's parameters of a completed make call or add
    /// party `h`, keeping what they said at completion for the client to
    /// look at.
    pub fn keep_completed_params(&mut self, h: usize) {
        if let Some(spec) = self.params.remove(&h).and_then(|mut p| p.read().ok()) {
            self.completed_params.insert(h, spec);
        }
    }

    /// Adds what NDIS indicated to `client` to its inbox (None, or a client
    /// that does not exist: nowhere).
    pub fn inbox(&mut self, client: Option<ClientId>, line: String) {
        if let Some(c) = client.and_then(|c| self.clients.get_mut(c)) {
            c.inbox.push(line);
        }
    }
}

/// A send handler call in flight ([`Condis::in_handler`]; counted by
/// `crate::condis::window`, "NDIS's window").
#[derive(Clone, Debug)]
pub struct InHandler {
    /// The VC it was made on.
    pub vc: usize,
    /// The NBLs NDIS handed over with it.
    pub nbls: Vec<usize>,
    /// DDI calls the driver has begun inside it.
    pub boundaries: u32,
}

impl InHandler {
    /// The driver has come back from a DDI call inside this call and made
    /// another: it had its chance to count the call (module docs).
    #[must_use]
    pub fn taken(&self) -> bool {
        self.boundaries >= 2
    }
}

/// An OID request a client issued, alive until it completes.
pub struct OidRec {
    /// The request block, one element (its address is the request's
    /// identity). A Vec, not a Box: the driver writes through the pointer it
    /// was given while the world holds the block, and a Box asserts unique
    /// access to its allocation, so those writes would invalidate it
    /// (Stacked Borrows UB; Miri found it).
    pub request: Vec<NDIS_OID_REQUEST>,
    /// The information buffer the request points at.
    pub buffer: Vec<u8>,
    /// A raw request's buffer (`oid_raw`), in guarded memory, which the
    /// request points at instead of `buffer`; None for a NULL one too.
    pub guarded: Option<crate::ffi::raw::Guarded>,
    /// Which path it took.
    pub kind: ReqKind,
    /// Final status, once completed.
    pub status: Option<NDIS_STATUS>,
}

impl std::fmt::Debug for OidRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidRec")
            .field("kind", &self.kind)
            .field("len", &self.buffer.len())
            .field("status", &self.status)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: usize = 0x10;

    #[test]
    fn a_non_pending_return_is_completed_by_ndis_and_a_later_completion_is_refused() {
        let mut r = Requests::default();
        r.begin(ReqKind::OpenAf, H);
        assert_eq!(
            r.returned(ReqKind::OpenAf, H, NDIS_STATUS_SUCCESS),
            ReturnVerdict::NdisCompletes(0)
        );
        assert_eq!(
            r.complete(ReqKind::OpenAf, H, NDIS_STATUS_SUCCESS),
            CompletionVerdict::NotPended
        );
    }

    #[test]
    fn a_pended_request_completes_exactly_once() {
        let mut r = Requests::default();
        r.begin(ReqKind::MakeCall, H);
        assert_eq!(
            r.returned(ReqKind::MakeCall, H, NDIS_STATUS_PENDING),
            ReturnVerdict::Pended
        );
        assert!(r.is_pending(ReqKind::MakeCall, H));
        assert_eq!(
            r.complete(ReqKind::MakeCall, H, NDIS_STATUS_SUCCESS),
            CompletionVerdict::Apply
        );
        assert_eq!(
            r.complete(ReqKind::MakeCall, H, NDIS_STATUS_SUCCESS),
            CompletionVerdict::NotPended
        );
    }

    #[test]
    fn completing_inside_the_handler_is_legal_only_with_a_pending_return() {
        let mut r = Requests::default();
        r.begin(ReqKind::CloseCall, H);
        assert_eq!(
            r.complete(ReqKind::CloseCall, H, NDIS_STATUS_SUCCESS),
            CompletionVerdict::Early
        );
        assert_eq!(
            r.returned(ReqKind::CloseCall, H, NDIS_STATUS_PENDING),
            ReturnVerdict::CompletedEarly(0)
        );
        r.begin(ReqKind::CloseCall, H);
        assert_eq!(
            r.complete(ReqKind::CloseCall, H, NDIS_STATUS_SUCCESS),
            CompletionVerdict::Early
        );
        assert_eq!(
            r.complete(ReqKind::CloseCall, H, NDIS_STATUS_SUCCESS),
            CompletionVerdict::Twice
        );
        assert_eq!(
            r.returned(ReqKind::CloseCall, H, NDIS_STATUS_SUCCESS),
            ReturnVerdict::CompletedTwice(0)
        );
    }

    #[test]
    fn requests_of_different_kinds_or_objects_are_independent() {
        let mut r = Requests::default();
        r.begin(ReqKind::RegisterSap, H);
        assert_eq!(
            r.returned(ReqKind::RegisterSap, H, NDIS_STATUS_PENDING),
            ReturnVerdict::Pended
        );
        assert_eq!(r.complete(ReqKind::DeregisterSap, H, 0), CompletionVerdict::NotPended);
        assert_eq!(r.complete(ReqKind::RegisterSap, H + 1, 0), CompletionVerdict::NotPended);
        assert_eq!(r.pending().count(), 1);
    }
}
