//! The VC state machine, as the call manager sees it.
//!
//! ```text
//!  client VC:  Idle --make call--> Dialing{callee} --activated--> Calling{callee} --accept--> Connected{peer}
//!               ^                      |  reject / no route           |           | close (either side)
//!               +----------------------+---------------(Abandoned)----+-----------+
//!
//!  MCM VC:     Creating{caller} --created+activated--> Offered{caller}
//!                 --accept--> Connected{peer} --close--> Closing --deactivated--> Deactivated --> (deleted)
//!                 --reject--> Deactivated --> (deleted)
//!
//!  client VC:  Calling --rejected while handlers are inside--> Refused --they left--> Abandoned --deactivated--> Idle
//!              Dialing --rejected while handlers are inside--> Withdrawn --they left--> Idle
//!  root VC:    Root{Setup} --initial party refused while handlers are inside--> RootRefused --they left--> Abandoned
//!              Root{Activating} --(same, never activated)--> RootWithdrawn --they left--> Idle
//!  MCM VC:     Offered --rejected while handlers are inside--> Refused --they left--> Deactivated --> (deleted)
//!  client VC:  Idle --make call to the echo address--> EchoActivating --activated--> Echo --close--> Closing
//!  any VC:     Connected / Echo / Root{Closing} / Leaf --close--> Closing --deactivated--> Deactivated
//!              --closed--> Idle (a client's VC) or (deleted) (covmini's); a busy VC stays Closing until drained
//!              (busy: pins held, or handlers inside the glue with its context)
//!
//!  root VC:    Idle --multipoint make call--> Root{Activating} --activated--> Root{Setup}
//!              Root{Setup} --initial party accepted--> Root{Up}
//!              Root{Setup} --initial party refused--> Abandoned --deactivated--> Idle
//!              Root{Up} --close call: parties detached--> Root{Closing} --> (closed as above)
//!  leaf VC:    LeafCreating{party} --created+activated--> LeafOffered{party}
//!                 --accept--> Leaf{party} --close--> (as above)
//!                 --reject--> Deactivated --> (deleted)
//!
//!  failed set-up (SetupFailed): from an active state to Abandoned, from an inactive one to Idle
//! ```
//!
//! Every change of a VC's state is an arrow of this diagram: a [`VcEvent`]
//! applied by [`VcState::on`] (through `CallManager::set_state`), which
//! refuses an arrow the diagram lacks ([`InvalidTransition`]) and leaves
//! the state as it was; nothing else writes a VC's state.
//!
//! NDIS's activation bit is part of the state: [`VcState::is_active`]
//! says, for every state, whether covmini activated the VC and has not
//! deactivated it, and only two kinds of arrows change it:
//! [`VcEvent::Activate`] and [`VcEvent::Offer`] (an NdisMCmActivateVc that
//! succeeded) and [`VcEvent::Deactivate`] (the core emits
//! NdisMCmDeactivateVc with it, `CallManager::deactivate`, its only
//! user). Where the activation differs within one call's state, the state
//! is split: `Dialing` and `Calling` (a make call before and after its
//! caller's activation), `EchoActivating` and `Echo`, `Root{Activating}`
//! and `Root{Setup}`, `Withdrawn` and `Refused`, `RootWithdrawn` and
//! `RootRefused`; `Abandoned` is a failed make call's VC, its call gone,
//! still active until the make call's handler (or whoever completes it)
//! deactivates it; `Deactivated` a VC whose close or take-down
//! deactivated it, in the same step of the core that then idles or
//! deletes it.
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
    /// No call (a client VC before its first call, or after a close);
    /// not active.
    Idle,
    /// A client VC whose make call failed after its activation: the call
    /// is gone and the VC still active, until the make call's handler (or
    /// the completion of the pended make call) deactivates it.
    Abandoned,
    /// An MCM VC reserved for an incoming call; NdisMCmCreateVc is running.
    Creating {
        /// The calling VC.
        caller: super::VcId,
    },
    /// A client VC whose make call reserved the callee's VC: NdisMCmCreateVc
    /// and the activations are running; not active yet.
    Dialing {
        /// The MCM VC reserved for the callee.
        callee: super::VcId,
    },
    /// A client VC, activated, whose make call waits for the callee's answer.
    Calling {
        /// The MCM VC offered to the callee.
        callee: super::VcId,
        /// Whether the make call handler is still running.
        phase: MakeCallPhase,
    },
    /// An MCM VC created and activated for an incoming call, offered to
    /// the SAP's client (NdisMCmDispatchIncomingCall) next, or taken down.
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
    /// [`Self::Refused`] for a VC that is not active (its activation
    /// failed, or never came: `Dialing`, `Creating`, `LeafCreating`): the
    /// same wait for the handlers inside, with nothing to deactivate after.
    Withdrawn {
        /// The callee's answer, which the make call fails with.
        status: NDIS_STATUS,
        /// Whether the make call handler is still running.
        phase: MakeCallPhase,
    },
    /// [`Self::RootRefused`] for a root whose activation failed
    /// (`Root{Activating}`): nothing to deactivate after.
    RootWithdrawn {
        /// The initial party.
        party: super::PartyId,
        /// The answer the make call fails with.
        status: NDIS_STATUS,
    },
    /// A client VC whose make call reached the echo address; its
    /// NdisMCmActivateVc is running, not active yet.
    EchoActivating,
    /// A client VC whose call reached the echo address ([`super::ECHO_ADDRESS`]):
    /// covmini answers it and every send comes back on this VC.
    Echo,
    /// ProtocolCmCloseCall pended until the VC is drained: no new send is
    /// taken, and the close finishes (deactivate, complete) when its last
    /// send is completed and its last indicated receive is returned.
    Closing,
    /// A VC covmini deactivated to end its call (a close that finished, a
    /// refused or failed offer): in the same step of the core, a client's
    /// VC goes idle ([`VcEvent::Closed`]) and covmini's is deleted.
    Deactivated,
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
    /// The make call created the initial party's leaf and is activating
    /// both: the root is not active yet.
    Activating,
    /// Activated: the make call waits for the initial party's leaf to answer.
    Setup,
    /// The initial party connected: parties may be added and dropped, and
    /// the root's sends fan out to every connected leaf.
    Up,
    /// ProtocolCmCloseCall is detaching the parties: nothing new, no sends.
    Closing,
}

/// One VC (whether NDIS has it active is its state's:
/// [`VcState::is_active`]). The `answer` of a caller is the callee's answer received while
/// the make call handler was still running, for the handler to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VcSlot<H> {
    pub(crate) handle: H,
    pub(crate) af: super::AfId,
    pub(crate) origin: VcOrigin,
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
    /// `Dialing{callee}`.
    Call {
        /// The MCM VC reserved for the callee.
        callee: super::VcId,
    },
    /// A make call to the echo address: `Idle` to `EchoActivating`.
    Echo,
    /// A multipoint make call: `Idle` to `Root{Activating}`.
    RootSetup,
    /// NdisMCmActivateVc succeeded on a client VC: `Dialing{callee}` to
    /// `Calling{callee}` (its handler running), `EchoActivating` to `Echo`,
    /// `Root{Activating}` to `Root{Setup}`.
    Activate,
    /// Created and activated: `Creating{caller}` to `Offered{caller}`,
    /// `LeafCreating{party}` to `LeafOffered{party}`.
    Offer,
    /// The make call handler returned PENDING: `Calling`, `Refused` and
    /// `Withdrawn` keep their fields, with the phase `Pended`.
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
    /// VC's context: an active set-up VC (`Calling`, `Offered`,
    /// `LeafOffered`) to `Refused`, an inactive one (`Dialing`,
    /// `Creating`, `LeafCreating`) to `Withdrawn`.
    Refuse {
        /// The answer the make call fails with.
        status: NDIS_STATUS,
        /// Where the make call's handler is.
        phase: MakeCallPhase,
    },
    /// The initial party is refused while handlers are inside the root:
    /// `Root{Setup}` to `RootRefused`, `Root{Activating}` to
    /// `RootWithdrawn`.
    RefuseRoot {
        /// The initial party.
        party: super::PartyId,
        /// The answer the make call fails with.
        status: NDIS_STATUS,
    },
    /// A make call that did not happen is over on its client VC: an
    /// active one (`Calling`, `Root{Setup}`, `Refused`, `RootRefused`) to
    /// `Abandoned`, an inactive one (`Dialing`, `EchoActivating`,
    /// `Root{Activating}`, `Withdrawn`, `RootWithdrawn`) to `Idle`.
    SetupFailed,
    /// NdisMCmDeactivateVc is emitted: `Abandoned` to `Idle`; `Offered`,
    /// `LeafOffered`, `Refused` (covmini's VC, about to be deleted) and
    /// `Closing` (drained) to `Deactivated`.
    Deactivate,
    /// The other end went: `Connected{Some}` to `Connected{None}`,
    /// `Leaf{Some}` to `Leaf{None}`.
    PeerGone,
    /// A root's close detaches its parties: `Root{Up}` to `Root{Closing}`.
    DetachParties,
    /// ProtocolCmCloseCall: `Connected`, `Echo`, `Root{Closing}` or `Leaf`
    /// to `Closing`.
    Close,
    /// A client VC's close finished: `Deactivated` to `Idle`.
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
    /// Whether NDIS has a VC in this state active: covmini activated it
    /// (NdisMCmActivateVc succeeded) and has not deactivated it. Every
    /// state says, with no default, so a new state must.
    pub const fn is_active(self) -> bool {
        match self {
            Self::Idle
            | Self::Dialing { .. }
            | Self::Creating { .. }
            | Self::Withdrawn { .. }
            | Self::RootWithdrawn { .. }
            | Self::EchoActivating
            | Self::Deactivated
            | Self::Root {
                phase: RootPhase::Activating,
            }
            | Self::LeafCreating { .. } => false,
            Self::Abandoned
            | Self::Calling { .. }
            | Self::Offered { .. }
            | Self::Connected { .. }
            | Self::Refused { .. }
            | Self::RootRefused { .. }
            | Self::Echo
            | Self::Closing
            | Self::Root {
                phase: RootPhase::Setup | RootPhase::Up | RootPhase::Closing,
            }
            | Self::LeafOffered { .. }
            | Self::Leaf { .. } => true,
        }
    }

    /// The state `event` moves a VC in this state to, or
    /// [`InvalidTransition`] if the diagram above has no such arrow.
    pub fn on(self, event: VcEvent) -> Result<Self, InvalidTransition> {
        use MakeCallPhase::{InHandler, Pended};
        use VcEvent as E;
        let to = match (self, event) {
            (Self::Idle, E::Call { callee }) => Self::Dialing { callee },
            (Self::Idle, E::Echo) => Self::EchoActivating,
            (Self::Idle, E::RootSetup) => Self::Root {
                phase: RootPhase::Activating,
            },
            (Self::Dialing { callee }, E::Activate) => Self::Calling {
                callee,
                phase: InHandler,
            },
            (Self::EchoActivating, E::Activate) => Self::Echo,
            (
                Self::Root {
                    phase: RootPhase::Activating,
                },
                E::Activate,
            ) => Self::Root {
                phase: RootPhase::Setup,
            },
            (Self::Creating { caller }, E::Offer) => Self::Offered { caller },
            (Self::LeafCreating { party }, E::Offer) => Self::LeafOffered { party },
            (Self::Calling { callee, .. }, E::Pend) => Self::Calling { callee, phase: Pended },
            (Self::Refused { status, .. }, E::Pend) => Self::Refused { status, phase: Pended },
            (Self::Withdrawn { status, .. }, E::Pend) => Self::Withdrawn { status, phase: Pended },
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
            (Self::Calling { .. } | Self::Offered { .. } | Self::LeafOffered { .. }, E::Refuse { status, phase }) => {
                Self::Refused { status, phase }
            }
            (Self::Dialing { .. } | Self::Creating { .. } | Self::LeafCreating { .. }, E::Refuse { status, phase }) => {
                Self::Withdrawn { status, phase }
            }
            (
                Self::Root {
                    phase: RootPhase::Setup,
                },
                E::RefuseRoot { party, status },
            ) => Self::RootRefused { party, status },
            (
                Self::Root {
                    phase: RootPhase::Activating,
                },
                E::RefuseRoot { party, status },
            ) => Self::RootWithdrawn { party, status },
            (
                Self::Calling { .. }
                | Self::Root {
                    phase: RootPhase::Setup,
                }
                | Self::Refused { .. }
                | Self::RootRefused { .. },
                E::SetupFailed,
            ) => Self::Abandoned,
            (
                Self::Dialing { .. }
                | Self::EchoActivating
                | Self::Root {
                    phase: RootPhase::Activating,
                }
                | Self::Withdrawn { .. }
                | Self::RootWithdrawn { .. },
                E::SetupFailed,
            ) => Self::Idle,
            (Self::Abandoned, E::Deactivate) => Self::Idle,
            (Self::Offered { .. } | Self::LeafOffered { .. } | Self::Refused { .. } | Self::Closing, E::Deactivate) => {
                Self::Deactivated
            }
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
            (Self::Deactivated, E::Closed) => Self::Idle,
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
