//! The client side's state machines: one per AF, SAP, VC and party. Every
//! change of an object's state is an arrow of the diagrams below, applied
//! by the object's `on`, one exhaustive match that refuses an arrow the
//! diagram lacks with [`InvalidTransition`] (the state stays as it was).
//! `Ok(None)` means the object is gone (its slot is freed).
//!
//! ```text
//!  AF:    Opening --opened--> Open --close--> Closing --closed--> (gone)
//!         Opening --open failed--> (gone)      Open --call manager closes--> Closing
//!  SAP:   Registering --ok--> Registered --deregister--> Deregistering --done--> (gone)
//!         Registering --failed--> (gone)
//!  VC (ours, NdisCoCreateVc):
//!         Creating --created--> Idle --make call--> Calling --connected--> Connected
//!         Creating --failed--> (gone)      Calling --failed--> Idle
//!         Idle --delete--> Deleting --deleted--> (gone)    Deleting --failed--> Idle
//!  VC (the call manager's, ProtocolCoCreateVc for an incoming call):
//!         Offered --accept--> Accepted --call connected--> Connected
//!         Offered --pend--> Pended --answer accept / reject--> Accepted / Rejected
//!         Offered --reject--> Rejected --call manager deletes--> (gone)
//!  any VC: Connected --close call--> Closing --closed--> Idle
//!          Connected --incoming close--> PeerClosed --close call--> Closing
//!          Idle / Offered / Rejected --call manager deletes--> (gone)
//!  party: Adding --added--> Connected --drop--> Dropping --dropped--> (gone)
//!         Adding --failed--> (gone)   Connected --incoming drop--> Dropped --drop--> Dropping
//! ```
//!
//! Must not: know about handles, IRPs or NDIS (the dispatcher applies the
//! arrows and emits the NDIS calls).

/// An arrow the diagram lacks: the state and the event, unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTransition<S, E> {
    /// The state the object was (and stays) in.
    pub from: S,
    /// The event refused.
    pub event: E,
}

/// The result of an arrow: the next state, or `None` (gone).
pub type Next<S, E> = Result<Option<S>, InvalidTransition<S, E>>;

/// An AF's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfState {
    /// NdisClOpenAddressFamilyEx made; its completion not in.
    Opening,
    /// Open.
    Open,
    /// NdisClCloseAddressFamily made (by the client or for the call manager).
    Closing,
}

/// What happens to an AF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfEvent {
    /// The open completed with `true` success or `false` failure.
    OpenDone(bool),
    /// The client (or cleanup, or the call manager's notify) closes it.
    Close,
    /// The close completed.
    CloseDone,
}

impl AfState {
    /// Applies `event`.
    ///
    /// # Errors
    /// [`InvalidTransition`] for an arrow the diagram lacks.
    pub fn on(self, event: AfEvent) -> Next<Self, AfEvent> {
        match (self, event) {
            (Self::Opening, AfEvent::OpenDone(true)) => Ok(Some(Self::Open)),
            (Self::Opening, AfEvent::OpenDone(false)) | (Self::Closing, AfEvent::CloseDone) => Ok(None),
            (Self::Open, AfEvent::Close) => Ok(Some(Self::Closing)),
            (from @ (Self::Opening | Self::Open | Self::Closing), event) => Err(InvalidTransition { from, event }),
        }
    }
}

/// A SAP's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SapState {
    /// NdisClRegisterSap made.
    Registering,
    /// Registered.
    Registered,
    /// NdisClDeregisterSap made.
    Deregistering,
}

/// What happens to a SAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SapEvent {
    /// The register completed: success or not.
    RegisterDone(bool),
    /// The client (or cleanup) deregisters it.
    Deregister,
    /// The deregister completed.
    DeregisterDone,
}

impl SapState {
    /// Applies `event`.
    ///
    /// # Errors
    /// [`InvalidTransition`] for an arrow the diagram lacks.
    pub fn on(self, event: SapEvent) -> Next<Self, SapEvent> {
        match (self, event) {
            (Self::Registering, SapEvent::RegisterDone(true)) => Ok(Some(Self::Registered)),
            (Self::Registering, SapEvent::RegisterDone(false)) | (Self::Deregistering, SapEvent::DeregisterDone) => {
                Ok(None)
            }
            (Self::Registered, SapEvent::Deregister) => Ok(Some(Self::Deregistering)),
            (from @ (Self::Registering | Self::Registered | Self::Deregistering), event) => {
                Err(InvalidTransition { from, event })
            }
        }
    }
}

/// A VC's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcState {
    /// NdisCoCreateVc made (ours).
    Creating,
    /// No call.
    Idle,
    /// NdisClMakeCall made.
    Calling,
    /// A call is up.
    Connected,
    /// The other side closed (ProtocolClIncomingCloseCall); this side must
    /// close the call.
    PeerClosed,
    /// NdisClCloseCall made.
    Closing,
    /// NdisCoDeleteVc made.
    Deleting,
    /// The call manager created it for an incoming call.
    Offered,
    /// ProtocolClIncomingCall returned PENDING: the client answers.
    Pended,
    /// Accepted; ProtocolClCallConnected not in yet.
    Accepted,
    /// Rejected; the call manager deletes it.
    Rejected,
}

/// What happens to a VC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcEvent {
    /// NdisCoCreateVc returned: success or not.
    Created(bool),
    /// The client makes a call.
    MakeCall,
    /// The make call completed: success or not.
    MakeCallDone(bool),
    /// The client (or cleanup) closes the call.
    CloseCall,
    /// The close completed.
    CloseDone,
    /// ProtocolClIncomingCloseCall.
    IncomingClose,
    /// The client deletes the VC.
    Delete,
    /// NdisCoDeleteVc returned: success or not.
    DeleteDone(bool),
    /// ProtocolClIncomingCall's answer (or ANSWER_CALL's): accept.
    Accept,
    /// Reject.
    Reject,
    /// Pend (the SAP's answer mode PEND).
    Pend,
    /// ProtocolClCallConnected.
    CallConnected,
    /// ProtocolCoDeleteVc (the call manager deletes its VC).
    CmDelete,
}

impl VcState {
    /// Applies `event`.
    ///
    /// # Errors
    /// [`InvalidTransition`] for an arrow the diagram lacks.
    pub fn on(self, event: VcEvent) -> Next<Self, VcEvent> {
        use VcEvent as E;
        match (self, event) {
            (Self::Creating, E::Created(true))
            | (Self::Calling, E::MakeCallDone(false))
            | (Self::Closing, E::CloseDone) => Ok(Some(Self::Idle)),
            (Self::Deleting, E::DeleteDone(false)) => Ok(Some(Self::Idle)),
            (Self::Creating, E::Created(false))
            | (Self::Deleting, E::DeleteDone(true))
            | (Self::Idle | Self::Offered | Self::Rejected, E::CmDelete) => Ok(None),
            (Self::Idle, E::MakeCall) => Ok(Some(Self::Calling)),
            (Self::Idle, E::Delete) => Ok(Some(Self::Deleting)),
            (Self::Calling, E::MakeCallDone(true)) | (Self::Accepted, E::CallConnected) => Ok(Some(Self::Connected)),
            (Self::Connected | Self::PeerClosed, E::CloseCall) => Ok(Some(Self::Closing)),
            (Self::Connected, E::IncomingClose) => Ok(Some(Self::PeerClosed)),
            (Self::Offered | Self::Pended, E::Accept) => Ok(Some(Self::Accepted)),
            (Self::Offered | Self::Pended, E::Reject) => Ok(Some(Self::Rejected)),
            (Self::Offered, E::Pend) => Ok(Some(Self::Pended)),
            (
                from @ (Self::Creating
                | Self::Idle
                | Self::Calling
                | Self::Connected
                | Self::PeerClosed
                | Self::Closing
                | Self::Deleting
                | Self::Offered
                | Self::Pended
                | Self::Accepted
                | Self::Rejected),
                event,
            ) => Err(InvalidTransition { from, event }),
        }
    }
}

/// A party's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyState {
    /// NdisClAddParty (or the multipoint make call) made.
    Adding,
    /// In the call.
    Connected,
    /// ProtocolClIncomingDropParty: the client must drop it.
    Dropped,
    /// NdisClDropParty made.
    Dropping,
}

/// What happens to a party.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyEvent {
    /// The add (or make call) completed: success or not.
    AddDone(bool),
    /// The client drops it.
    Drop,
    /// The drop completed (or the call closed under it).
    DropDone,
    /// ProtocolClIncomingDropParty.
    IncomingDrop,
}

impl PartyState {
    /// Applies `event`.
    ///
    /// # Errors
    /// [`InvalidTransition`] for an arrow the diagram lacks.
    pub fn on(self, event: PartyEvent) -> Next<Self, PartyEvent> {
        match (self, event) {
            (Self::Adding, PartyEvent::AddDone(true)) => Ok(Some(Self::Connected)),
            (Self::Adding, PartyEvent::AddDone(false)) | (Self::Dropping, PartyEvent::DropDone) => Ok(None),
            (Self::Connected | Self::Dropped, PartyEvent::Drop) => Ok(Some(Self::Dropping)),
            (Self::Connected, PartyEvent::IncomingDrop) => Ok(Some(Self::Dropped)),
            (from @ (Self::Adding | Self::Connected | Self::Dropped | Self::Dropping), event) => {
                Err(InvalidTransition { from, event })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AF_EVENTS: [AfEvent; 4] = [
        AfEvent::OpenDone(true),
        AfEvent::OpenDone(false),
        AfEvent::Close,
        AfEvent::CloseDone,
    ];
    const SAP_EVENTS: [SapEvent; 4] = [
        SapEvent::RegisterDone(true),
        SapEvent::RegisterDone(false),
        SapEvent::Deregister,
        SapEvent::DeregisterDone,
    ];
    const VC_EVENTS: [VcEvent; 16] = [
        VcEvent::Created(true),
        VcEvent::Created(false),
        VcEvent::MakeCall,
        VcEvent::MakeCallDone(true),
        VcEvent::MakeCallDone(false),
        VcEvent::CloseCall,
        VcEvent::CloseDone,
        VcEvent::IncomingClose,
        VcEvent::Delete,
        VcEvent::DeleteDone(true),
        VcEvent::DeleteDone(false),
        VcEvent::Accept,
        VcEvent::Reject,
        VcEvent::Pend,
        VcEvent::CallConnected,
        VcEvent::CmDelete,
    ];
    const VC_STATES: [VcState; 11] = [
        VcState::Creating,
        VcState::Idle,
        VcState::Calling,
        VcState::Connected,
        VcState::PeerClosed,
        VcState::Closing,
        VcState::Deleting,
        VcState::Offered,
        VcState::Pended,
        VcState::Accepted,
        VcState::Rejected,
    ];
    const PARTY_EVENTS: [PartyEvent; 5] = [
        PartyEvent::AddDone(true),
        PartyEvent::AddDone(false),
        PartyEvent::Drop,
        PartyEvent::DropDone,
        PartyEvent::IncomingDrop,
    ];

    /// Checks every (state, event) pair against the expected arrows: each
    /// listed arrow goes where the diagram says; every other pair is
    /// refused with the state and event unchanged.
    fn check_all<S: Copy + PartialEq + core::fmt::Debug, E: Copy + PartialEq + core::fmt::Debug>(
        states: &[S],
        events: &[E],
        on: impl Fn(S, E) -> Next<S, E>,
        arrows: &[(S, E, Option<S>)],
    ) {
        for &s in states {
            for &e in events {
                let want = arrows.iter().find(|(a, b, _)| *a == s && *b == e);
                match (on(s, e), want) {
                    (Ok(next), Some((_, _, to))) => assert_eq!(next, *to, "{s:?} --{e:?}-->"),
                    (Err(InvalidTransition { from, event }), None) => {
                        assert_eq!((from, event), (s, e));
                    }
                    (got, want) => panic!("{s:?} --{e:?}--> got {got:?}, diagram says {want:?}"),
                }
            }
        }
    }

    /// Proves the AF's arrows are exactly the diagram's.
    #[test]
    fn af_transitions_are_the_diagram() {
        use AfState::*;
        check_all(
            &[Opening, Open, Closing],
            &AF_EVENTS,
            AfState::on,
            &[
                (Opening, AfEvent::OpenDone(true), Some(Open)),
                (Opening, AfEvent::OpenDone(false), None),
                (Open, AfEvent::Close, Some(Closing)),
                (Closing, AfEvent::CloseDone, None),
            ],
        );
    }

    /// Proves the SAP's arrows are exactly the diagram's.
    #[test]
    fn sap_transitions_are_the_diagram() {
        use SapState::*;
        check_all(
            &[Registering, Registered, Deregistering],
            &SAP_EVENTS,
            SapState::on,
            &[
                (Registering, SapEvent::RegisterDone(true), Some(Registered)),
                (Registering, SapEvent::RegisterDone(false), None),
                (Registered, SapEvent::Deregister, Some(Deregistering)),
                (Deregistering, SapEvent::DeregisterDone, None),
            ],
        );
    }

    /// Proves the VC's arrows are exactly the diagram's (a make call on a
    /// VC in a call, a close on an idle VC, an answer to a call not
    /// offered... are all refused).
    #[test]
    fn vc_transitions_are_the_diagram() {
        use VcEvent as E;
        use VcState::*;
        check_all(
            &VC_STATES,
            &VC_EVENTS,
            VcState::on,
            &[
                (Creating, E::Created(true), Some(Idle)),
                (Creating, E::Created(false), None),
                (Idle, E::MakeCall, Some(Calling)),
                (Idle, E::Delete, Some(Deleting)),
                (Idle, E::CmDelete, None),
                (Calling, E::MakeCallDone(true), Some(Connected)),
                (Calling, E::MakeCallDone(false), Some(Idle)),
                (Connected, E::CloseCall, Some(Closing)),
                (Connected, E::IncomingClose, Some(PeerClosed)),
                (PeerClosed, E::CloseCall, Some(Closing)),
                (Closing, E::CloseDone, Some(Idle)),
                (Deleting, E::DeleteDone(true), None),
                (Deleting, E::DeleteDone(false), Some(Idle)),
                (Offered, E::Accept, Some(Accepted)),
                (Offered, E::Reject, Some(Rejected)),
                (Offered, E::Pend, Some(Pended)),
                (Offered, E::CmDelete, None),
                (Pended, E::Accept, Some(Accepted)),
                (Pended, E::Reject, Some(Rejected)),
                (Accepted, E::CallConnected, Some(Connected)),
                (Rejected, E::CmDelete, None),
            ],
        );
        assert_eq!(
            Connected.on(E::MakeCall),
            Err(InvalidTransition {
                from: Connected,
                event: E::MakeCall
            })
        );
        assert!(Idle.on(E::CloseCall).is_err());
    }

    /// Proves the party's arrows are exactly the diagram's.
    #[test]
    fn party_transitions_are_the_diagram() {
        use PartyState::*;
        check_all(
            &[Adding, Connected, Dropped, Dropping],
            &PARTY_EVENTS,
            PartyState::on,
            &[
                (Adding, PartyEvent::AddDone(true), Some(Connected)),
                (Adding, PartyEvent::AddDone(false), None),
                (Connected, PartyEvent::Drop, Some(Dropping)),
                (Connected, PartyEvent::IncomingDrop, Some(Dropped)),
                (Dropped, PartyEvent::Drop, Some(Dropping)),
                (Dropping, PartyEvent::DropDone, None),
            ],
        );
    }
}
