//! The operation vocabulary of covmini's model-based tests, and the executor
//! that performs an operation on an [`Emulator`] and reports what a client
//! observed.
//!
//! # Using it
//!
//! ```text
//! #[path = "model/ops.rs"]
//! mod ops;
//! use ops::{Exec, Op, Step};
//!
//! let mut emu = Emulator::new();                 // or Emulator::threaded(..)
//! emu.load(covmini::DriverEntry)?; emu.add_adapter()?;
//! let mut exec = Exec::new(&emu, 3);             // three scripted clients
//! let step: Step = Op::OpenAf { client: 0, bad_version: false, af: 1 };
//! let seen = exec.run(&emu, &step);              // seen.status, seen.inds, ...
//! exec.halt(&mut emu);                           // Pause + HaltEx
//! ```
//!
//! * An operation is an [`Op`]. Its type parameters say how it names
//!   objects: a [`Step`] (`Op<Id, Id>`) names every AF, SAP, VC and party by
//!   an [`Id`] the caller chooses, including the id to give the object the
//!   step creates (the `af` of an `OpenAf`, the `callee_vc` a make call
//!   offers). A [`Gen`] (`Op<Pick, ()>`) names existing objects by a small
//!   index into whatever list its resolver keeps (the model's, in
//!   `tests/model.rs`): that is what proptest generates and shrinks.
//! * [`Exec`] keeps the only state the executor needs: the scripted
//!   clients, the bindings between ids and the emulator's handles, and how
//!   much of each client's inbox, send results and received payloads it has
//!   reported already. No global state: several executors (one per thread,
//!   each with its own clients and its own id range) can share one
//!   emulator; every method takes `&Emulator` except [`Exec::halt`].
//! * [`Exec::run`] returns an [`Observed`]: the status the request returned
//!   (or [`Status::NoObject`] for an id it does not know, which a threaded
//!   run must tolerate), and everything each client saw since the last
//!   call: indications ([`Ind`], with ids in place of handles), send
//!   completions and received payloads.
//! * An object the call manager creates (the VC of an incoming call) is
//!   bound to the id the step names for it when its `IncomingCall`
//!   indication shows up; in a threaded run, an indication caused by another
//!   thread's step binds a fresh id from [`Exec::set_fresh_ids`] instead.
//!
//! Nothing here checks a result: the model (tests/model.rs) predicts, the
//! runner compares.

// Each test binary uses the subset it needs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;

use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{Af, Answer, CallSpec, Client, Emulator, Party, Sap, Vc};
use ndis_sys::*;

/// An object's name in a [`Step`], chosen by whoever builds the step.
pub type Id = u32;

/// An index into the resolver's list of live objects of a kind (taken
/// modulo its length): what a generated [`Gen`] names objects by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pick(pub u8);

/// A generated operation: objects named by [`Pick`], new ones not named.
pub type Gen = Op<Pick, ()>;
/// A resolved operation: every object named by its [`Id`].
pub type Step = Op<Id, Id>;

/// The addresses clients register and call (index into this table), beside
/// the special and malformed ones of [`Addr`].
pub const NAMES: [&[u8]; 5] = [b"ann", b"bo", b"cy", b"di", b"ed"];

/// The client names (for traces and readable sequences).
pub const CLIENTS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// An address as a SAP registration or a call names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// `NAMES[i % NAMES.len()]`.
    Name(u8),
    /// `echo`, the address covmini answers itself.
    Echo,
    /// A well-formed name, but the SAP type or called-address ParamType is wrong.
    WrongType,
    /// Zero bytes.
    Empty,
    /// 33 bytes, one over the limit.
    TooLong,
}

impl Addr {
    /// The bytes of the address.
    #[must_use]
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Self::Name(i) => NAMES[usize::from(i) % NAMES.len()].to_vec(),
            Self::Echo => covmini::call_manager::ECHO_ADDRESS.to_vec(),
            Self::WrongType => b"ann".to_vec(),
            Self::Empty => Vec::new(),
            Self::TooLong => vec![b'x'; 33],
        }
    }

    /// The SAP type or ParamType to send with it.
    #[must_use]
    pub fn kind(self, good: ULONG) -> ULONG {
        if self == Self::WrongType { good ^ 0xFF } else { good }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(_) | Self::Echo => write!(f, "{:?}", String::from_utf8_lossy(&self.bytes())),
            Self::WrongType => f.write_str("\"ann\" (wrong type)"),
            Self::Empty => f.write_str("(empty address)"),
            Self::TooLong => f.write_str("(33-byte address)"),
        }
    }
}

/// Flow specs of a make call, add party or QoS change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flow {
    /// 1 Mbit/s both ways, SDU 1500.
    Slow,
    /// Exactly the link (125,000,000 bytes/s), SDU 1500.
    Link,
    /// One byte/s over the link: a make call clamps it, a QoS change refuses it.
    Over,
}

impl Flow {
    fn rate(self) -> ULONG {
        match self {
            Self::Slow => 125_000,
            Self::Link => 125_000_000,
            Self::Over => 125_000_001,
        }
    }
}

/// How a client answers an incoming call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    /// Accepts inside the indication.
    Accept,
    /// Rejects inside the indication with [`REJECT_STATUS`].
    Reject,
    /// Returns PENDING; the test answers later ([`Op::AnswerIncoming`]).
    Pend,
}

/// The status a rejecting callee answers with (any failure will do; the
/// caller must get exactly this one back).
pub const REJECT_STATUS: NDIS_STATUS = NDIS_STATUS_NOT_ACCEPTED;

/// The OIDs the operations send (a sample of every row kind of docs/oids.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OidPick {
    /// OID_GEN_CO_XMIT_PDUS_OK, a 64-bit counter.
    XmitOk,
    /// OID_GEN_CO_RCV_PDUS_OK.
    RcvOk,
    /// OID_GEN_CO_XMIT_PDUS_ERROR.
    XmitError,
    /// OID_GEN_CO_LINK_SPEED (8 bytes).
    LinkSpeed,
    /// OID_GEN_CO_VENDOR_DESCRIPTION (43 bytes).
    VendorDescription,
    /// OID_WAN_CO_GET_LINK_INFO (32 bytes, VC only).
    WanGetLinkInfo,
    /// OID_CO_GET_ADDRESSES (1196 bytes, call manager only).
    CoGetAddresses,
    /// An OID in no table (0x00FF_FF01).
    Unknown,
}

impl OidPick {
    /// The OID value.
    #[must_use]
    pub fn oid(self) -> NDIS_OID {
        match self {
            Self::XmitOk => OID_GEN_CO_XMIT_PDUS_OK,
            Self::RcvOk => OID_GEN_CO_RCV_PDUS_OK,
            Self::XmitError => OID_GEN_CO_XMIT_PDUS_ERROR,
            Self::LinkSpeed => OID_GEN_CO_LINK_SPEED,
            Self::VendorDescription => OID_GEN_CO_VENDOR_DESCRIPTION,
            Self::WanGetLinkInfo => OID_WAN_CO_GET_LINK_INFO,
            Self::CoGetAddresses => OID_CO_GET_ADDRESSES,
            Self::Unknown => 0x00FF_FF01,
        }
    }
}

/// The PnP events MiniportDevicePnPEventNotify can get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pnp {
    /// NdisDevicePnPEventSurpriseRemoved.
    SurpriseRemoved,
    /// NdisDevicePnPEventPowerProfileChanged, on battery.
    PowerBattery,
    /// NdisDevicePnPEventPowerProfileChanged, on AC.
    PowerAc,
    /// NdisDevicePnPEventQueryStopped (an event covmini does not act on).
    QueryStopped,
}

/// One operation of a client, or one event NDIS delivers that a test can
/// cause. `R` names an existing object, `N` a new one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op<R, N> {
    /// How `client` answers incoming calls from now on.
    SetReply { client: usize, reply: Reply },
    /// Whether `client`'s ProtocolClNotifyCloseAf pends (and closes later).
    SetNotifyClose { client: usize, pend: bool },
    /// Whether `client` keeps the receive NBLs indicated to it.
    Hold { client: usize, hold: bool },
    /// `client` returns every receive NBL it kept.
    ReturnHeld { client: usize },
    /// NdisClOpenAddressFamilyEx (a newer major version with `bad_version`).
    OpenAf { client: usize, bad_version: bool, af: N },
    /// NdisClCloseAddressFamily.
    CloseAf { af: R },
    /// NdisClRegisterSap.
    RegisterSap { af: R, addr: Addr, sap: N },
    /// NdisClDeregisterSap.
    DeregisterSap { sap: R },
    /// NdisCoCreateVc.
    CreateVc { af: R, vc: N },
    /// NdisCoDeleteVc.
    DeleteVc { vc: R },
    /// NdisClMakeCall: point to point, or with an initial party
    /// (`multipoint`); `flag_only` sets MULTIPOINT_VC without a party.
    /// `callee_vc` is the id of the VC an offer creates.
    MakeCall {
        vc: R,
        to: Addr,
        flow: Flow,
        multipoint: Option<N>,
        flag_only: bool,
        callee_vc: N,
    },
    /// NdisClIncomingCallComplete for a call the client pended.
    AnswerIncoming { vc: R, accept: bool },
    /// NdisClCloseCall (with one byte of close data when `data`).
    CloseCall { vc: R, data: bool },
    /// NdisClAddParty; `leaf_vc` is the id of the VC the offer creates.
    AddParty {
        vc: R,
        to: Addr,
        flow: Flow,
        party: N,
        leaf_vc: N,
    },
    /// NdisClDropParty (with one byte of drop data when `data`).
    DropParty { party: R, data: bool },
    /// NdisClModifyCallQoS.
    ModifyQos { vc: R, flow: Flow },
    /// NdisCoSendNetBufferLists of `nbls` NBLs (1 to 3), tagged with a
    /// cancel id when given; `serial` makes the payloads unique.
    Send {
        vc: R,
        nbls: u8,
        cancel_id: Option<u8>,
        serial: N,
    },
    /// NdisCancelSendNetBufferLists.
    CancelSends { cancel_id: u8 },
    /// NdisCoOidRequest query: through the call manager when `af` is given,
    /// else the miniport; for `vc` or adapter-wide; `short` gives a
    /// 2-byte buffer.
    OidQuery {
        af: Option<R>,
        vc: Option<R>,
        oid: OidPick,
        short: bool,
    },
    /// NdisCoOidRequest set of OID_GEN_CO_PROTOCOL_OPTIONS (4 bytes; 3 when `bad_length`).
    OidSet { vc: Option<R>, bad_length: bool },
    /// MiniportPause mid-run.
    Pause,
    /// MiniportRestart.
    Restart,
    /// MiniportDevicePnPEventNotify.
    PnpEvent { event: Pnp },
}

/// What a request came back with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The NDIS status the client got (the emulator's refusals included:
    /// NDIS refuses some requests before the driver sees them).
    Ndis(NDIS_STATUS),
    /// The emulator refused a pause or restart (`EmuError::NoAdapter`: NDIS
    /// pauses only a running adapter, restarts only a paused one).
    NotNow,
    /// A step that returns nothing (a client setting, a send, a PnP event).
    Done,
    /// The step names an id this executor has no handle for.
    NoObject,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ndis(s) => f.write_str(&status_name(*s)),
            Self::NotNow => f.write_str("refused by NDIS (wrong adapter state)"),
            Self::Done => f.write_str("done"),
            Self::NoObject => f.write_str("no such object"),
        }
    }
}

/// The name of a status, for readable sequences.
#[must_use]
pub fn status_name(s: NDIS_STATUS) -> String {
    let name = match s {
        NDIS_STATUS_SUCCESS => "SUCCESS",
        NDIS_STATUS_PENDING => "PENDING",
        NDIS_STATUS_FAILURE => "FAILURE",
        NDIS_STATUS_RESOURCES => "RESOURCES",
        NDIS_STATUS_NOT_ACCEPTED => "NOT_ACCEPTED",
        NDIS_STATUS_CALL_ACTIVE => "CALL_ACTIVE",
        NDIS_STATUS_INVALID_DATA => "INVALID_DATA",
        NDIS_STATUS_INVALID_ADDRESS => "INVALID_ADDRESS",
        NDIS_STATUS_NO_ROUTE_TO_DESTINATION => "NO_ROUTE_TO_DESTINATION",
        NDIS_STATUS_NOT_SUPPORTED => "NOT_SUPPORTED",
        NDIS_STATUS_BAD_VERSION => "BAD_VERSION",
        NDIS_STATUS_INCOMPATABLE_QOS => "INCOMPATABLE_QOS",
        NDIS_STATUS_VC_NOT_ACTIVATED => "VC_NOT_ACTIVATED",
        NDIS_STATUS_PAUSED => "PAUSED",
        NDIS_STATUS_INVALID_OID => "INVALID_OID",
        NDIS_STATUS_INVALID_LENGTH => "INVALID_LENGTH",
        NDIS_STATUS_BUFFER_TOO_SHORT => "BUFFER_TOO_SHORT",
        NDIS_STATUS_INVALID_PARAMETER => "INVALID_PARAMETER",
        _ => return format!("{s:#010x}"),
    };
    name.to_string()
}

/// An indication a client saw, with ids in place of handles.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ind {
    /// The open (or its failure) completed.
    OpenAfComplete(NDIS_STATUS),
    /// The close completed.
    CloseAfComplete(NDIS_STATUS),
    /// An incoming call on the (call manager's) VC, on a SAP.
    IncomingCall { vc: Id, sap: Id },
    /// NdisCmDispatchCallConnected.
    CallConnected { vc: Id },
    /// The make call completed (synchronously or not).
    MakeCallComplete(NDIS_STATUS),
    /// The close completed (synchronously or not).
    CloseCallComplete(NDIS_STATUS),
    /// The add party completed (synchronously or not).
    AddPartyComplete(NDIS_STATUS),
    /// NdisCmDispatchIncomingCloseCall on the client's VC.
    IncomingCloseCall { vc: Id },
    /// NdisCmDispatchIncomingDropParty for a party of the client's call.
    IncomingDropParty { party: Id },
    /// NdisCmDispatchIncomingCallQoSChange.
    IncomingQosChange { vc: Id },
    /// The call manager deleted the client's VC (NdisMCmDeleteVc).
    DeleteVc { vc: Id },
    /// NdisCmNotifyCloseAddressFamily.
    NotifyCloseAf { af: Id },
    /// The client completed the notification.
    NotifyCloseAfComplete { af: Id },
    /// A status indication.
    Status { code: NDIS_STATUS, vc: Option<Id> },
    /// A line the executor could not read, or naming a handle it never bound.
    Unread(String),
}

impl fmt::Display for Ind {
    /// As the inbox line, with ids and status names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenAfComplete(s) => write!(f, "OpenAfComplete {}", status_name(*s)),
            Self::CloseAfComplete(s) => write!(f, "CloseAfComplete {}", status_name(*s)),
            Self::IncomingCall { vc, sap } => write!(f, "IncomingCall vc#{vc} on sap#{sap}"),
            Self::CallConnected { vc } => write!(f, "CallConnected vc#{vc}"),
            Self::MakeCallComplete(s) => write!(f, "MakeCallComplete {}", status_name(*s)),
            Self::CloseCallComplete(s) => write!(f, "CloseCallComplete {}", status_name(*s)),
            Self::AddPartyComplete(s) => write!(f, "AddPartyComplete {}", status_name(*s)),
            Self::IncomingCloseCall { vc } => write!(f, "IncomingCloseCall vc#{vc}"),
            Self::IncomingDropParty { party } => write!(f, "IncomingDropParty party#{party}"),
            Self::IncomingQosChange { vc } => write!(f, "IncomingCallQoSChange vc#{vc}"),
            Self::DeleteVc { vc } => write!(f, "DeleteVc vc#{vc}"),
            Self::NotifyCloseAf { af } => write!(f, "NotifyCloseAf af#{af}"),
            Self::NotifyCloseAfComplete { af } => write!(f, "NotifyCloseAfComplete af#{af}"),
            Self::Status { code, vc } => write!(f, "Status {} vc {vc:?}", status_name(*code)),
            Self::Unread(l) => write!(f, "(unread) {l}"),
        }
    }
}

/// What one step made each client see (indexed by client).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// What the request returned.
    pub status: Option<Status>,
    /// Indications, in order.
    pub inds: Vec<Vec<Ind>>,
    /// Send completions (one status per NBL), in order.
    pub send_results: Vec<Vec<NDIS_STATUS>>,
    /// Received payloads (one per NET_BUFFER), in order.
    pub received: Vec<Vec<Vec<u8>>>,
    /// The addresses an OID_CO_GET_ADDRESSES query that succeeded listed.
    pub addresses: Option<Vec<Vec<u8>>>,
    /// Whether a make call or add party that completed at once handed the
    /// client back its parameters with CALL_PARAMETERS_CHANGED set.
    pub params_changed: Option<bool>,
}

/// The addresses of a CO_ADDRESS_LIST (docs/oids.md, OID_CO_GET_ADDRESSES:
/// the count at offset 4, then 36-byte slots of a ULONG size and 32 bytes).
#[must_use]
pub fn address_list(data: &[u8]) -> Option<Vec<Vec<u8>>> {
    let word = |at: usize| -> Option<usize> {
        let b = data.get(at..at + 4)?;
        usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
    };
    (0..word(4)?)
        .map(|i| {
            let size = word(8 + 36 * i)?;
            data.get(12 + 36 * i..12 + 36 * i + size.min(32)).map(<[u8]>::to_vec)
        })
        .collect()
}

/// The payload of NBL `k` of the send with serial `serial` (unique per run,
/// so a model can say who must receive what).
#[must_use]
pub fn payload(serial: Id, k: u8) -> Vec<u8> {
    format!("s{serial}.{k}").into_bytes()
}

/// The parameters of a call to `to` with `flow`.
#[must_use]
pub fn call_spec(to: Addr, flow: Flow) -> CallSpec {
    let mut spec = CallSpec::best_effort(flow.rate(), 1500);
    spec.media_specific_type = to.kind(PARAM_TYPE_CALLED_ADDRESS);
    spec.media_specific = to.bytes();
    spec
}

/// The executor: performs [`Step`]s on an emulator for its clients.
///
/// INVARIANT: `handles` and `ids` are inverse maps; `seen_*[c]` never
/// exceeds the length of client `c`'s list in the emulator.
pub struct Exec {
    /// The scripted clients, by index.
    pub clients: Vec<Client>,
    handles: HashMap<Id, usize>,
    ids: HashMap<usize, Id>,
    seen_inbox: Vec<usize>,
    seen_results: Vec<usize>,
    seen_received: Vec<usize>,
    fresh: Option<Id>,
    addresses: Option<Vec<Vec<u8>>>,
}

impl Exec {
    /// `n` new scripted clients (named from [`CLIENTS`], then `cN`), each
    /// answering incoming calls at once and notify-closes at once.
    #[must_use]
    pub fn new(emu: &Emulator, n: usize) -> Self {
        let clients: Vec<Client> = (0..n)
            .map(|i| emu.client(CLIENTS.get(i).copied().unwrap_or("client")))
            .collect();
        Self {
            clients,
            handles: HashMap::new(),
            ids: HashMap::new(),
            seen_inbox: vec![0; n],
            seen_results: vec![0; n],
            seen_received: vec![0; n],
            fresh: None,
            addresses: None,
        }
    }

    /// Ids to give objects that show up without a step naming them (an
    /// incoming call caused by another thread), counting up from `first`.
    pub fn set_fresh_ids(&mut self, first: Id) {
        self.fresh = Some(first);
    }

    /// The handle bound to `id`.
    #[must_use]
    pub fn handle(&self, id: Id) -> Option<usize> {
        self.handles.get(&id).copied()
    }

    /// The id bound to a handle.
    #[must_use]
    pub fn id_of(&self, handle: usize) -> Option<Id> {
        self.ids.get(&handle).copied()
    }

    fn bind(&mut self, id: Id, handle: usize) {
        if let Some(old) = self.handles.insert(id, handle) {
            self.ids.remove(&old);
        }
        // NDIS reuses the address of a freed handle: the new object wins.
        if let Some(old) = self.ids.insert(handle, id)
            && old != id
        {
            self.handles.remove(&old);
        }
    }

    fn get(&self, id: Id) -> Result<usize, Status> {
        self.handle(id).ok_or(Status::NoObject)
    }

    fn client(&self, c: usize) -> Result<Client, Status> {
        self.clients.get(c).copied().ok_or(Status::NoObject)
    }

    /// Performs `step` and reports what it returned and what every client
    /// saw meanwhile.
    pub fn run(&mut self, emu: &Emulator, step: &Step) -> Observed {
        self.addresses = None;
        let status = self.perform(emu, step).unwrap_or_else(|s| s);
        let mut seen = self.collect(emu, step);
        seen.status = Some(status);
        seen.addresses = self.addresses.take();
        let done = !matches!(status, Status::Ndis(NDIS_STATUS_PENDING));
        seen.params_changed = match step {
            Op::MakeCall { vc, .. } if done => self
                .handle(*vc)
                .and_then(|h| emu.completed_call_params(Vc(h)))
                .map(|p| p.flags & CALL_PARAMETERS_CHANGED != 0),
            Op::AddParty { party, .. } if done => self
                .handle(*party)
                .and_then(|h| emu.completed_party_params(Party(h)))
                .map(|p| p.flags & CALL_PARAMETERS_CHANGED != 0),
            _ => None,
        };
        seen
    }

    /// Pauses (if running) and halts the adapter: what NDIS does before it
    /// unloads; the clients' answers to the notify-closes show in the
    /// returned indications.
    ///
    /// # Errors
    /// As [`Emulator::halt_adapter`].
    pub fn halt(&mut self, emu: &mut Emulator) -> Result<Observed, ndis_emu::EmuError> {
        emu.halt_adapter()?;
        let mut seen = self.collect(emu, &Op::Pause);
        seen.status = Some(Status::Done);
        Ok(seen)
    }

    fn perform(&mut self, emu: &Emulator, step: &Step) -> Result<Status, Status> {
        let done = Ok(Status::Done);
        let ndis = |s: NDIS_STATUS| Ok(Status::Ndis(s));
        match step {
            Op::SetReply { client, reply } => {
                let c = self.client(*client)?;
                let (answer, status) = match reply {
                    Reply::Accept => (Answer::Sync, NDIS_STATUS_SUCCESS),
                    Reply::Reject => (Answer::Sync, REJECT_STATUS),
                    Reply::Pend => (Answer::Pend, NDIS_STATUS_SUCCESS),
                };
                emu.set_incoming_answer(c, answer, status);
                done
            }
            Op::SetNotifyClose { client, pend } => {
                let c = self.client(*client)?;
                emu.set_notify_close_answer(c, if *pend { Answer::Pend } else { Answer::Sync });
                done
            }
            Op::Hold { client, hold } => {
                emu.hold_receives(self.client(*client)?, *hold);
                done
            }
            Op::ReturnHeld { client } => {
                emu.return_held(self.client(*client)?);
                done
            }
            Op::OpenAf {
                client,
                bad_version,
                af,
            } => {
                let c = self.client(*client)?;
                let family = if *bad_version {
                    CO_ADDRESS_FAMILY {
                        MajorVersion: config::AF_MAJOR_VERSION + 1,
                        ..config::AF
                    }
                } else {
                    config::AF
                };
                match emu.open_af(c, family) {
                    Ok(h) => {
                        self.bind(*af, h.0);
                        ndis(NDIS_STATUS_SUCCESS)
                    }
                    Err(s) => {
                        if s == NDIS_STATUS_PENDING
                            && let Some(h) = emu.last_af()
                        {
                            self.bind(*af, h.0);
                        }
                        ndis(s)
                    }
                }
            }
            Op::CloseAf { af } => ndis(emu.close_af(Af(self.get(*af)?))),
            Op::RegisterSap { af, addr, sap } => {
                let af = Af(self.get(*af)?);
                match emu.register_sap(af, addr.kind(SAP_TYPE_ADDRESS), &addr.bytes()) {
                    Ok(h) => {
                        self.bind(*sap, h.0);
                        ndis(NDIS_STATUS_SUCCESS)
                    }
                    Err(s) => ndis(s),
                }
            }
            Op::DeregisterSap { sap } => ndis(emu.deregister_sap(Sap(self.get(*sap)?))),
            Op::CreateVc { af, vc } => match emu.create_vc(Af(self.get(*af)?)) {
                Ok(h) => {
                    self.bind(*vc, h.0);
                    ndis(NDIS_STATUS_SUCCESS)
                }
                Err(s) => ndis(s),
            },
            Op::DeleteVc { vc } => ndis(emu.delete_vc(Vc(self.get(*vc)?))),
            Op::MakeCall {
                vc,
                to,
                flow,
                multipoint,
                flag_only,
                ..
            } => {
                let v = Vc(self.get(*vc)?);
                let mut spec = call_spec(*to, *flow);
                if *flag_only {
                    spec.flags |= MULTIPOINT_VC;
                }
                match multipoint {
                    None => ndis(emu.make_call(v, &spec)),
                    Some(party) => {
                        let (s, p) = emu.make_multipoint_call(v, &spec);
                        if let Some(p) = p {
                            self.bind(*party, p.0);
                        }
                        ndis(s)
                    }
                }
            }
            Op::AnswerIncoming { vc, accept } => {
                let status = if *accept { NDIS_STATUS_SUCCESS } else { REJECT_STATUS };
                match emu.answer_incoming(Vc(self.get(*vc)?), status) {
                    Ok(()) => done,
                    Err(s) => ndis(s),
                }
            }
            Op::CloseCall { vc, data } => {
                let data: &[u8] = if *data { b"x" } else { b"" };
                ndis(emu.close_call(Vc(self.get(*vc)?), data))
            }
            Op::AddParty {
                vc, to, flow, party, ..
            } => {
                let (s, p) = emu.add_party(Vc(self.get(*vc)?), &call_spec(*to, *flow));
                if let Some(p) = p {
                    self.bind(*party, p.0);
                }
                ndis(s)
            }
            Op::DropParty { party, data } => {
                let data: &[u8] = if *data { b"x" } else { b"" };
                ndis(emu.drop_party(Party(self.get(*party)?), data))
            }
            Op::ModifyQos { vc, flow } => {
                let spec = call_spec(Addr::Name(0), *flow);
                ndis(emu.modify_qos(Vc(self.get(*vc)?), &spec))
            }
            Op::Send {
                vc,
                nbls,
                cancel_id,
                serial,
            } => {
                let v = Vc(self.get(*vc)?);
                let data: Vec<Vec<u8>> = (0..*nbls).map(|k| payload(*serial, k)).collect();
                let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
                let r = match cancel_id {
                    Some(id) => emu.send_with_cancel_id(v, &refs, usize::from(*id) + 1),
                    None => emu.send(v, &refs),
                };
                match r {
                    Ok(()) => done,
                    Err(s) => ndis(s),
                }
            }
            Op::CancelSends { cancel_id } => match emu.cancel_sends(usize::from(*cancel_id) + 1) {
                Ok(()) => done,
                Err(_) => Ok(Status::NotNow),
            },
            Op::OidQuery { af, vc, oid, short } => {
                let af = af.map(|a| self.get(a).map(Af)).transpose()?;
                let vc = vc.map(|v| self.get(v).map(Vc)).transpose()?;
                let len = if *short { 2 } else { 1196 };
                match emu.oid_query(af, vc, oid.oid(), len) {
                    Ok((_, r)) => {
                        if *oid == OidPick::CoGetAddresses && r.status == NDIS_STATUS_SUCCESS {
                            self.addresses = address_list(&r.data);
                        }
                        ndis(r.status)
                    }
                    Err(s) => ndis(s),
                }
            }
            Op::OidSet { vc, bad_length } => {
                let vc = vc.map(|v| self.get(v).map(Vc)).transpose()?;
                let data: &[u8] = if *bad_length { &[0; 3] } else { &[0; 4] };
                match emu.oid_set(None, vc, OID_GEN_CO_PROTOCOL_OPTIONS, data) {
                    Ok((_, r)) => ndis(r.status),
                    Err(s) => ndis(s),
                }
            }
            Op::Pause => match emu.pause_adapter() {
                Ok(s) => ndis(s),
                Err(_) => Ok(Status::NotNow),
            },
            Op::Restart => match emu.restart_adapter() {
                Ok(()) => ndis(NDIS_STATUS_SUCCESS),
                Err(ndis_emu::EmuError::RestartFailed(s)) => ndis(s),
                Err(_) => Ok(Status::NotNow),
            },
            Op::PnpEvent { event } => {
                let (e, profile) = match event {
                    Pnp::SurpriseRemoved => (NdisDevicePnPEventSurpriseRemoved, None),
                    Pnp::PowerBattery => (NdisDevicePnPEventPowerProfileChanged, Some(0)),
                    Pnp::PowerAc => (NdisDevicePnPEventPowerProfileChanged, Some(1)),
                    Pnp::QueryStopped => (NdisDevicePnPEventQueryStopped, None),
                };
                match emu.pnp_event(e, profile) {
                    Ok(()) => done,
                    Err(_) => Ok(Status::NotNow),
                }
            }
        }
    }

    /// What every client saw since the last call; an incoming call binds
    /// its VC to the id `step` names for it.
    fn collect(&mut self, emu: &Emulator, step: &Step) -> Observed {
        let mut offered_id = match step {
            Op::MakeCall { callee_vc, .. } => Some(*callee_vc),
            Op::AddParty { leaf_vc, .. } => Some(*leaf_vc),
            _ => None,
        };
        let mut seen = Observed::default();
        for (c, client) in self.clients.clone().into_iter().enumerate() {
            let inbox = emu.inbox(client);
            let new = inbox.get(self.seen_inbox[c]..).unwrap_or(&[]).to_vec();
            self.seen_inbox[c] = inbox.len();
            let inds = new.iter().map(|l| self.read_line(l, &mut offered_id)).collect();
            seen.inds.push(inds);
            let results = emu.send_results(client);
            seen.send_results
                .push(results.get(self.seen_results[c]..).unwrap_or(&[]).to_vec());
            self.seen_results[c] = results.len();
            let received = emu.received(client);
            seen.received
                .push(received.get(self.seen_received[c]..).unwrap_or(&[]).to_vec());
            self.seen_received[c] = received.len();
        }
        seen
    }

    fn read_line(&mut self, line: &str, offered_id: &mut Option<Id>) -> Ind {
        let unread = || Ind::Unread(line.to_string());
        let words: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| -> Option<usize> {
            let w = words.get(i)?.strip_prefix("0x")?;
            usize::from_str_radix(w, 16).ok()
        };
        let status = |i: usize| num(i).and_then(|n| u32::try_from(n).ok()).map(|n| n as i32);
        let id = |this: &Self, i: usize| num(i).and_then(|h| this.id_of(h));
        let ind = match words.first().copied() {
            Some("OpenAfComplete") => status(1).map(Ind::OpenAfComplete),
            Some("CloseAfComplete") => status(1).map(Ind::CloseAfComplete),
            Some("MakeCallComplete") => status(1).map(Ind::MakeCallComplete),
            Some("CloseCallComplete") => status(1).map(Ind::CloseCallComplete),
            Some("AddPartyComplete") => status(1).map(Ind::AddPartyComplete),
            Some("IncomingCall") => {
                let (Some(h), Some(sap)) = (num(2), id(self, 5)) else {
                    return unread();
                };
                let vc = match offered_id.take().or_else(|| self.next_fresh()) {
                    Some(new) => {
                        self.bind(new, h);
                        new
                    }
                    None => return unread(),
                };
                Some(Ind::IncomingCall { vc, sap })
            }
            Some("CallConnected") => id(self, 2).map(|vc| Ind::CallConnected { vc }),
            Some("IncomingCloseCall") => id(self, 3).map(|vc| Ind::IncomingCloseCall { vc }),
            Some("IncomingDropParty") => id(self, 3).map(|party| Ind::IncomingDropParty { party }),
            Some("IncomingCallQoSChange") => id(self, 2).map(|vc| Ind::IncomingQosChange { vc }),
            Some("DeleteVc") => id(self, 1).map(|vc| Ind::DeleteVc { vc }),
            Some("NotifyCloseAf") => id(self, 1).map(|af| Ind::NotifyCloseAf { af }),
            Some("NotifyCloseAfComplete") => id(self, 1).map(|af| Ind::NotifyCloseAfComplete { af }),
            Some("Status") => status(1).map(|code| Ind::Status {
                code,
                vc: num(3).filter(|h| *h != 0).and_then(|h| self.id_of(h)),
            }),
            _ => None,
        };
        ind.unwrap_or_else(unread)
    }

    fn next_fresh(&mut self) -> Option<Id> {
        let id = self.fresh?;
        self.fresh = Some(id + 1);
        Some(id)
    }
}

impl<R: fmt::Display, N: fmt::Display> fmt::Display for Op<R, N> {
    /// A step as a client would say it: "bob: make call on vc#4 to \"cy\"".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = |c: &usize| CLIENTS.get(*c).copied().unwrap_or("client");
        match self {
            Self::SetReply { client, reply } => write!(f, "{}: answers incoming calls with {reply:?}", who(client)),
            Self::SetNotifyClose { client, pend } => write!(
                f,
                "{}: answers notify-close-AF {}",
                who(client),
                if *pend { "later (pends)" } else { "at once" }
            ),
            Self::Hold { client, hold } => write!(
                f,
                "{}: {} receive NBLs",
                who(client),
                if *hold { "holds" } else { "stops holding" }
            ),
            Self::ReturnHeld { client } => write!(f, "{}: returns held receive NBLs", who(client)),
            Self::OpenAf {
                client,
                bad_version,
                af,
            } => write!(
                f,
                "{}: open AF{} -> af#{af}",
                who(client),
                if *bad_version { " (major version + 1)" } else { "" }
            ),
            Self::CloseAf { af } => write!(f, "close af#{af}"),
            Self::RegisterSap { af, addr, sap } => write!(f, "register SAP {addr} on af#{af} -> sap#{sap}"),
            Self::DeregisterSap { sap } => write!(f, "deregister sap#{sap}"),
            Self::CreateVc { af, vc } => write!(f, "create VC on af#{af} -> vc#{vc}"),
            Self::DeleteVc { vc } => write!(f, "delete vc#{vc}"),
            Self::MakeCall {
                vc,
                to,
                flow,
                multipoint,
                flag_only,
                callee_vc,
            } => {
                write!(f, "make call on vc#{vc} to {to} ({flow:?} flow")?;
                if let Some(p) = multipoint {
                    write!(f, ", multipoint, initial party#{p}")?;
                }
                if *flag_only {
                    f.write_str(", MULTIPOINT_VC flag only")?;
                }
                write!(f, ") [callee VC -> vc#{callee_vc}]")
            }
            Self::AnswerIncoming { vc, accept } => write!(
                f,
                "answer the incoming call on vc#{vc}: {}",
                if *accept { "accept" } else { "reject" }
            ),
            Self::CloseCall { vc, data } => {
                write!(
                    f,
                    "close call on vc#{vc}{}",
                    if *data { " with close data" } else { "" }
                )
            }
            Self::AddParty {
                vc,
                to,
                flow,
                party,
                leaf_vc,
            } => write!(
                f,
                "add party to {to} on vc#{vc} ({flow:?} flow) -> party#{party} [leaf VC -> vc#{leaf_vc}]"
            ),
            Self::DropParty { party, data } => {
                write!(f, "drop party#{party}{}", if *data { " with drop data" } else { "" })
            }
            Self::ModifyQos { vc, flow } => write!(f, "modify QoS of vc#{vc} to a {flow:?} flow"),
            Self::Send {
                vc,
                nbls,
                cancel_id,
                serial,
            } => {
                write!(f, "send {nbls} NBL(s) on vc#{vc} (serial {serial}")?;
                if let Some(c) = cancel_id {
                    write!(f, ", cancel id {c}")?;
                }
                f.write_str(")")
            }
            Self::CancelSends { cancel_id } => write!(f, "NDIS cancels sends with cancel id {cancel_id}"),
            Self::OidQuery { af, vc, oid, short } => {
                write!(f, "query {oid:?}")?;
                if let Some(a) = af {
                    write!(f, " through af#{a}")?;
                }
                if let Some(v) = vc {
                    write!(f, " on vc#{v}")?;
                }
                if *short {
                    f.write_str(" with a 2-byte buffer")?;
                }
                Ok(())
            }
            Self::OidSet { vc, bad_length } => {
                write!(f, "set OID_GEN_CO_PROTOCOL_OPTIONS")?;
                if let Some(v) = vc {
                    write!(f, " on vc#{v}")?;
                }
                if *bad_length {
                    f.write_str(" with 3 bytes")?;
                }
                Ok(())
            }
            Self::Pause => f.write_str("NDIS pauses the adapter"),
            Self::Restart => f.write_str("NDIS restarts the adapter"),
            Self::PnpEvent { event } => write!(f, "NDIS sends the PnP event {event:?}"),
        }
    }
}

impl fmt::Display for Pick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0)
    }
}
