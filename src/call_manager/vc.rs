//! The VC state machine, as the call manager sees it.
//!
//! ```text
//!  client VC:  Idle --make call--> Calling{callee} --accept--> Connected{peer}
//!               ^                      |  reject / no route        | close (either side)
//!               +----------------------+---------------------------+
//!
//!  MCM VC:     Creating{caller} --created+activated--> Offered{caller}
//!                 --accept--> Connected{peer} --close--> (deleted)
//!                 --reject--> (deleted)
//!
//!  client VC:  Calling --rejected while handlers are inside--> Refused --they left--> Idle
//!  root VC:    Root{Setup} --initial party refused while handlers are inside--> RootRefused --they left--> Idle
//!  MCM VC:     Offered --rejected while handlers are inside--> Refused --they left--> (deleted)
//!  client VC:  Idle --make call to the echo address--> Echo --close--> Idle
//!  any VC:     Connected / Echo --close while busy--> Closing --drained--> (as above)
//!              (busy: pins held, or handlers inside the glue with its context)
//!
//!  root VC:    Idle --multipoint make call--> Root{Setup} --initial party accepted--> Root{Up}
//!              Root{Setup} --initial party refused--> Idle
//!              Root{Up} --close call: parties detached--> Root{Closing} --> (closed as above)
//!  leaf VC:    LeafCreating{party} --created+activated--> LeafOffered{party}
//!                 --accept--> Leaf{party} --close--> (deleted)
//!                 --reject--> (deleted)
//! ```
//!
//! Every change of a VC's state is an arrow of this diagram: a [`VcEvent`]
//! applied by [`VcState::on`] (through `CallManager::set_state`), which
//! refuses an arrow the diagram lacks ([`InvalidTransition`]) and leaves
//! the state as it was; nothing else writes a VC's state. `active` (the
//! VC's activation, NDIS's bit mirrored, written only where an
//! NdisMCmActivateVc's outcome comes in and where an NdisMCmDeactivateVc
//! is emitted: `CallManager::activation` and `deactivate`) stays beside
//! it: a VC is
//! deactivated at different points of different states (a failed make
//! call's caller is idle and still active until its handler deactivates
//! it; a refused or closing VC is active until its handlers leave).
//!
//! `Connected{peer: None}` is a call whose other side hung up: the incoming
//! close was dispatched and this side's client still has to close it.
//! `Leaf{party: None}` likewise: the root dropped the party (or closed the
//! call) and the leaf's client still has to close its call.

use ndis_sys::NDIS_STATUS;

/// Who created a VC, and so who deletes it (contract §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcOrigin {
    /// NdisCoCreateVc by a client (ProtocolCoCreateVc): the client deletes it.
    Client,
    /// NdisMCmCreateVc by covmini for an incoming call: covmini deletes it.
    CallManager,
}

/// Where a make call's handler is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MakeCallPhase {
    /// ProtocolCmMakeCall is still running: an answer that arrives now is
    /// returned by the handler itself (no NdisMCmMakeCallComplete).
    InHandler,
    /// ProtocolCmMakeCall returned PENDING: the answer is completed with
    /// NdisMCmMakeCallComplete.
    Pended,
}

/// The call on a VC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcState {
    /// No call (a client VC before its first call, or after a close).
    Idle,
    /// An MCM VC reserved for an incoming call; NdisMCmCreateVc is running.
    Creating {
        /// The calling VC.
        caller: super::VcId,
    },
    /// A client VC whose make call waits for the callee's answer.
    Calling {
        /// The MCM VC offered to the callee.
        callee: super::VcId,
        /// Whether the make call handler is still running.
        phase: MakeCallPhase,
    },
    /// An MCM VC offered to the SAP's client (NdisMCmDispatchIncomingCall).
    Offered {
        /// The calling VC.
        caller: super::VcId,
    },
    /// The call is up (or half-closed when `peer` is None).
    Connected {
        /// The VC at the other end, while it is still connected.
        peer: Option<super::VcId>,
    },
    /// Either end of a call the callee refused while handlers were inside
    /// the glue with its context (a send that had entered, say): it stays
    /// active, and only once they are gone
    /// ([`super::CallManager::handlers_left`]) is it deactivated and then,
    /// a caller, idle again with its make call failed with `status`, or, a
    /// callee (covmini's VC), deleted.
    Refused {
        /// The callee's answer, which the make call fails with.
        status: NDIS_STATUS,
        /// Whether the make call handler is still running.
        phase: MakeCallPhase,
    },
    /// The root of a multipoint make call whose initial party was refused
    /// (its leaf rejected, or an activation failed) while handlers were
    /// inside the glue with the root's context: it stays active, and only
    /// once they are gone ([`super::CallManager::handlers_left`]) is it
    /// idle again, deactivated before its make call fails with `status`.
    /// The party stays (still being added) until then: the make call's
    /// phase is its, and the failure completes (or is returned) with it.
    RootRefused {
        /// The initial party.
        party: super::PartyId,
        /// The answer the make call fails with.
        status: NDIS_STATUS,
    },
    /// A client VC whose call reached the echo address ([`super::ECHO_ADDRESS`]):
    /// covmini answers it and every send comes back on this VC.
    Echo,
    /// ProtocolCmCloseCall pended until the VC is drained: no new send is
    /// taken, and the close finishes (deactivate, complete) when its last
    /// send is completed and its last indicated receive is returned.
    Closing,
    /// A client VC carrying a point-to-multipoint call as its root; its
    /// parties are in the call manager's party table.
    Root {
        /// Where the call is.
        phase: RootPhase,
    },
    /// An MCM VC reserved for a party's leaf; NdisMCmCreateVc is running.
    LeafCreating {
        /// The party the leaf answers.
        party: super::PartyId,
    },
    /// An MCM VC offered to a party's callee (NdisMCmDispatchIncomingCall).
    LeafOffered {
        /// The party the leaf answers.
        party: super::PartyId,
    },
    /// A leaf that accepted: it receives what the root sends.
    Leaf {
        /// Its party, while the root still has it.
        party: Option<super::PartyId>,
    },
}

/// Where a point-to-multipoint call is, at its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootPhase {
    /// The make call waits for the initial party's leaf to answer.
    Setup,
    /// The initial party connected: parties may be added and dropped, and
    /// the root's sends fan out to every connected leaf.
    Up,
    /// ProtocolCmCloseCall is detaching the parties: nothing new, no sends.
    Closing,
}

/// One VC. The `answer` of a caller is the callee's answer received while
/// the make call handler was still running, for the handler to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VcSlot<H> {
    pub(crate) handle: H,
    pub(crate) af: super::AfId,
    pub(crate) origin: VcOrigin,
    /// Whether covmini activated it (NdisMCmActivateVc) and has not
    /// deactivated it yet: NDIS's active bit, mirrored.
    pub(crate) active: bool,
    pub(crate) state: VcState,
    pub(crate) answer: Option<NDIS_STATUS>,
    /// Pins: sends held on this VC, receives indicated on it and not yet
    /// returned, and effects naming it that another thread performs after
    /// the lock is dropped. A close finishes, and the VC can go, only at 0.
    pub(crate) busy: u32,
    /// A ProtocolCmModifyCallQoS on this VC or its peer is running: a
    /// second one is refused, so only one handler rewrites the VC's flows.
    pub(crate) qos_changing: bool,
    /// The close found handlers inside the glue with this VC's context
    /// that have not reached this table yet (the glue counts them, lock
    /// free, in the context): it finishes only after
    /// [`super::CallManager::handlers_left`], as after the last unpin.
    pub(crate) waits_for_handlers: bool,
}

/// What moves a VC from one [`VcState`] to the next (the diagram above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcEvent {
    /// A point-to-point make call begins on an idle client VC: `Idle` to
    /// `Calling{callee}`, its handler running.
    Call {
        /// The MCM VC reserved for the callee.
        callee: super::VcId,
    },
    /// A make call to the echo address: `Idle` to `Echo`.
    Echo,
    /// A multipoint make call: `Idle` to `Root{Setup}`.
    RootSetup,
    /// Created and activated: `Creating{caller}` to `Offered{caller}`,
    /// `LeafCreating{party}` to `LeafOffered{party}`.
    Offer,
    /// The make call handler returned PENDING: `Calling` and `Refused`
    /// keep their fields, with the phase `Pended`.
    Pend,
    /// The callee accepted: `Calling{callee: peer}` or `Offered{caller:
    /// peer}` to `Connected{peer}`.
    Connect {
        /// The other end.
        peer: super::VcId,
    },
    /// A party's leaf accepted: `LeafOffered{party}` to `Leaf{party}`.
    LeafUp,
    /// The initial party's leaf accepted: `Root{Setup}` to `Root{Up}`.
    RootUp,
    /// The call is refused while handlers are inside the glue with this
    /// VC's context: a set-up's VC (`Calling`, `Creating`, `Offered`,
    /// `LeafCreating`, `LeafOffered`) to `Refused`.
    Refuse {
        /// The answer the make call fails with.
        status: NDIS_STATUS,
        /// Where the make call's handler is.
        phase: MakeCallPhase,
    },
    /// The initial party is refused while handlers are inside the root:
    /// `Root{Setup}` to `RootRefused`.
    RefuseRoot {
        /// The initial party.
        party: super::PartyId,
        /// The answer the make call fails with.
        status: NDIS_STATUS,
    },
    /// A make call that did not happen is over on its client VC:
    /// `Calling`, `Echo` (its activation failed), `Root{Setup}`, `Refused`
    /// or `RootRefused` to `Idle`.
    SetupFailed,
    /// The other end went: `Connected{Some}` to `Connected{None}`,
    /// `Leaf{Some}` to `Leaf{None}`.
    PeerGone,
    /// A root's close detaches its parties: `Root{Up}` to `Root{Closing}`.
    DetachParties,
    /// ProtocolCmCloseCall: `Connected`, `Echo`, `Root{Closing}` or `Leaf`
    /// to `Closing`.
    Close,
    /// A client VC's close finished: `Closing` to `Idle`.
    Closed,
}

/// A transition a state machine (a VC's, by default, or a party's) does
/// not have: nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTransition<S = VcState, E = VcEvent> {
    /// The state the object was in (None: no such object).
    pub from: Option<S>,
    /// The event refused.
    pub event: E,
}

impl VcState {
    /// The state `event` moves a VC in this state to, or
    /// [`InvalidTransition`] if the diagram above has no such arrow.
    pub fn on(self, event: VcEvent) -> Result<Self, InvalidTransition> {
        use MakeCallPhase::{InHandler, Pended};
        use VcEvent as E;
        let to = match (self, event) {
            (Self::Idle, E::Call { callee }) => Self::Calling {
                callee,
                phase: InHandler,
            },
            (Self::Idle, E::Echo) => Self::Echo,
            (Self::Idle, E::RootSetup) => Self::Root {
                phase: RootPhase::Setup,
            },
            (Self::Creating { caller }, E::Offer) => Self::Offered { caller },
            (Self::LeafCreating { party }, E::Offer) => Self::LeafOffered { party },
            (Self::Calling { callee, .. }, E::Pend) => Self::Calling { callee, phase: Pended },
            (Self::Refused { status, .. }, E::Pend) => Self::Refused { status, phase: Pended },
            (Self::Calling { callee, .. }, E::Connect { peer }) if callee == peer => {
                Self::Connected { peer: Some(peer) }
            }
            (Self::Offered { caller }, E::Connect { peer }) if caller == peer => Self::Connected { peer: Some(peer) },
            (Self::LeafOffered { party }, E::LeafUp) => Self::Leaf { party: Some(party) },
            (
                Self::Root {
                    phase: RootPhase::Setup,
                },
                E::RootUp,
            ) => Self::Root { phase: RootPhase::Up },
            (
                Self::Calling { .. }
                | Self::Creating { .. }
                | Self::Offered { .. }
                | Self::LeafCreating { .. }
                | Self::LeafOffered { .. },
                E::Refuse { status, phase },
            ) => Self::Refused { status, phase },
            (
                Self::Root {
                    phase: RootPhase::Setup,
                },
                E::RefuseRoot { party, status },
            ) => Self::RootRefused { party, status },
            (
                Self::Calling { .. }
                | Self::Echo
                | Self::Root {
                    phase: RootPhase::Setup,
                }
                | Self::Refused { .. }
                | Self::RootRefused { .. },
                E::SetupFailed,
            ) => Self::Idle,
            (Self::Connected { peer: Some(_) }, E::PeerGone) => Self::Connected { peer: None },
            (Self::Leaf { party: Some(_) }, E::PeerGone) => Self::Leaf { party: None },
            (Self::Root { phase: RootPhase::Up }, E::DetachParties) => Self::Root {
                phase: RootPhase::Closing,
            },
            (
                Self::Connected { .. }
                | Self::Echo
                | Self::Root {
                    phase: RootPhase::Closing,
                }
                | Self::Leaf { .. },
                E::Close,
            ) => Self::Closing,
            (Self::Closing, E::Closed) => Self::Idle,
            (from, event) => {
                return Err(InvalidTransition {
                    from: Some(from),
                    event,
                });
            }
        };
        Ok(to)
    }
}
