//! A scenario: the clients, their addresses and the ordered steps a lab run
//! takes, each with the outcome it expects. Written as TOML (the format is
//! documented in `scenarios/README.md`) and parsed by [`parse`] into these
//! checked types, apart from running them (`crate::runner`): once
//! [`parse::parse`] returns a [`Scenario`], every name a step uses is
//! declared, every call and party it acts on was made by an earlier step by
//! one of that call's ends, and every number is in range, so the runner
//! never meets a malformed step — only NDIS and covmini's answers.
//!
//! The ends of a call: its caller (the root of a multipoint call) and the
//! client owning the called SAP (the callee; of a multipoint call, the leaf
//! of its first party). Each party added to a multipoint call has a leaf
//! too: the client owning the party's address. A step a leaf takes names
//! its party (`party`) unless the client has only one leaf in the call; the
//! parser resolves that, so a step's `party` here is always the leaf it
//! acts as, and `None` means the caller, or the callee / first party's leaf.
//!
//! This module owns the model and its wording (each step says what it does
//! in one line). It must not touch the emulator.

pub mod parse;
pub mod status;

use ndis_sys::NDIS_STATUS;

/// How a client answers an incoming call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answers {
    /// Inside the indication: ProtocolClIncomingCall returns the status.
    Sync,
    /// ProtocolClIncomingCall returns PENDING; an `answer` step answers
    /// later (NdisClIncomingCallComplete).
    Pend,
}

/// A scripted CoNDIS client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// Its name, as steps refer to it.
    pub name: String,
    /// How it answers incoming calls.
    pub answers: Answers,
    /// The status it answers incoming calls with: SUCCESS accepts, anything
    /// else rejects.
    pub answer_status: NDIS_STATUS,
    /// The SAP addresses it may register.
    pub saps: Vec<String>,
    /// The line of its `[[client]]` header.
    pub line: usize,
}

/// Where a call goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A SAP address a client declares (`owner` indexes [`Scenario::clients`]).
    Sap {
        /// The called address.
        address: String,
        /// The client that declares it.
        owner: usize,
    },
    /// covmini's echo address: covmini answers and returns every NBL.
    Echo,
    /// An address no client declares (`to_undeclared`), on purpose.
    Undeclared(String),
}

impl Target {
    /// The called address's bytes.
    #[must_use]
    pub fn address(&self) -> &str {
        match self {
            Self::Sap { address, .. } | Self::Undeclared(address) => address,
            Self::Echo => "echo",
        }
    }
}

/// The flowspec of a call, both directions alike (best effort).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// TokenRate and PeakBandwidth, in bytes per second.
    pub rate: u32,
    /// MaxSduSize and TokenBucketSize, in bytes.
    pub max_sdu: u32,
}

impl Default for Flow {
    /// 1 Gbit/s (covmini's link) and a 1500-byte SDU.
    fn default() -> Self {
        Self {
            rate: 125_000_000,
            max_sdu: 1500,
        }
    }
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// NdisClOpenAddressFamilyEx on covmini's AF.
    OpenAf,
    /// NdisClRegisterSap of one of the client's addresses.
    RegisterSap {
        /// The address.
        address: String,
    },
    /// NdisClDeregisterSap.
    DeregisterSap {
        /// The address.
        address: String,
    },
    /// NdisClCloseAddressFamily.
    CloseAf,
    /// NdisCoCreateVc, then NdisClMakeCall.
    MakeCall {
        /// The call's name.
        call: String,
        /// The called address.
        to: Target,
        /// Its flowspec.
        flow: Flow,
        /// A point-to-multipoint call (with an initial party).
        multipoint: bool,
        /// The name of the initial party of a multipoint call.
        party: Option<String>,
    },
    /// NdisClIncomingCallComplete for a call the client pended.
    Answer {
        /// The call.
        call: String,
        /// The party whose leaf answers; `None` for the callee (the first
        /// party's leaf on a multipoint call).
        party: Option<String>,
        /// SUCCESS accepts; anything else rejects.
        status: NDIS_STATUS,
    },
    /// NdisClAddParty on a multipoint call.
    AddParty {
        /// The call.
        call: String,
        /// The new party's name.
        party: String,
        /// The party's address.
        to: Target,
    },
    /// NdisClDropParty, by the call's root.
    DropParty {
        /// The party's call.
        call: String,
        /// The party.
        party: String,
    },
    /// NdisCoSendNetBufferLists: `count` NBLs of `size` bytes each.
    Send {
        /// The call.
        call: String,
        /// The party whose leaf sends; `None` for the caller or callee.
        party: Option<String>,
        /// How many NBLs.
        count: u32,
        /// Bytes in each.
        size: u32,
    },
    /// NdisClModifyCallQoS.
    ModifyQos {
        /// The call.
        call: String,
        /// The party whose leaf asks; `None` for the caller or callee.
        party: Option<String>,
        /// The new flowspec.
        flow: Flow,
    },
    /// NdisClCloseCall, then (by the caller's side) NdisCoDeleteVc. The
    /// root of a multipoint call closes the whole call; a leaf hangs up its
    /// own party.
    CloseCall {
        /// The call.
        call: String,
        /// The party whose leaf hangs up; `None` for the caller or callee.
        party: Option<String>,
    },
    /// NDIS halts the adapter: covmini asks every client to close its AF.
    Halt,
}

/// The outcome a step expects; an unmet one fails the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The status of the step's NDIS request (`expect`; SUCCESS unless given).
    pub status: NDIS_STATUS,
    /// NBLs the receiving end gets during a send step (`expect_received`;
    /// each leaf, for a multipoint root's send).
    pub received: Option<u64>,
    /// Payload bytes the receiving end gets (`expect_bytes`; each leaf).
    pub bytes: Option<u64>,
}

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The acting client (an index into [`Scenario::clients`]); none for halt.
    pub client: Option<usize>,
    /// What it does.
    pub action: Action,
    /// What it must come to.
    pub expect: Expect,
    /// Words the file gives for it (`text`), instead of the generated ones.
    pub text: Option<String>,
    /// The line of its `[[step]]` header.
    pub line: usize,
}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Its name (`name`).
    pub name: String,
    /// The scheduler seed (`seed`, 0 unless given).
    pub seed: u64,
    /// Its clients.
    pub clients: Vec<Client>,
    /// Its steps, in order.
    pub steps: Vec<Step>,
}

/// ` as party P's leaf` when a step names the leaf it acts as.
fn as_leaf(party: &Option<String>) -> String {
    party
        .as_ref()
        .map_or_else(String::new, |p| format!(" as party {p:?}'s leaf"))
}

/// The phase a kind of step belongs to, for the progress view.
#[must_use]
pub fn phase(action: &Action) -> &'static str {
    match action {
        Action::OpenAf | Action::RegisterSap { .. } => "setup",
        Action::Answer { party: Some(_), .. }
        | Action::CloseCall { party: Some(_), .. }
        | Action::AddParty { .. }
        | Action::DropParty { .. } => "party",
        Action::MakeCall { .. } | Action::Answer { .. } | Action::CloseCall { .. } => "call",
        Action::Send { .. } => "data",
        Action::ModifyQos { .. } => "qos",
        Action::DeregisterSap { .. } | Action::CloseAf | Action::Halt => "teardown",
    }
}

impl Scenario {
    /// What step `step` does, in one line.
    #[must_use]
    pub fn describe(&self, step: &Step) -> String {
        if let Some(t) = &step.text {
            return t.clone();
        }
        let who = step
            .client
            .and_then(|c| self.clients.get(c))
            .map_or("NDIS", |c| c.name.as_str());
        match &step.action {
            Action::OpenAf => format!("{who} opens covmini's AF"),
            Action::RegisterSap { address } => format!("{who} registers SAP {address:?}"),
            Action::DeregisterSap { address } => format!("{who} deregisters SAP {address:?}"),
            Action::CloseAf => format!("{who} closes its AF"),
            Action::MakeCall {
                call, to, multipoint, ..
            } => {
                let kind = if *multipoint { "multipoint call" } else { "call" };
                format!("{who} makes {kind} {call:?} to {:?}", to.address())
            }
            Action::Answer { call, party, status } => {
                let what = match party {
                    Some(p) => format!("party {p:?} of call {call:?}"),
                    None => format!("call {call:?}"),
                };
                if *status == ndis_sys::NDIS_STATUS_SUCCESS {
                    format!("{who} accepts {what} (pended answer)")
                } else {
                    format!("{who} rejects {what} with {} (pended answer)", status::name(*status))
                }
            }
            Action::AddParty { call, party, to } => {
                format!("{who} adds party {party:?} ({:?}) to call {call:?}", to.address())
            }
            Action::DropParty { call, party } => format!("{who} drops party {party:?} of call {call:?}"),
            Action::Send {
                call,
                party,
                count,
                size,
            } => {
                let nbls = if *count == 1 { "NBL" } else { "NBLs" };
                format!(
                    "{who} sends {count} {nbls} of {size} B on call {call:?}{}",
                    as_leaf(party)
                )
            }
            Action::ModifyQos { call, party, flow } => {
                format!(
                    "{who} changes call {call:?}'s QoS to {} B/s{}",
                    flow.rate,
                    as_leaf(party)
                )
            }
            Action::CloseCall { call, party: None } => format!("{who} closes call {call:?}"),
            Action::CloseCall { call, party: Some(p) } => format!("{who} hangs up its party {p:?} of call {call:?}"),
            Action::Halt => "NDIS halts the adapter; covmini asks every client to close its AF".to_owned(),
        }
    }
}
