//! Point-to-multipoint calls: the party state machine and the root's and
//! leaves' side of it (contract §3.4).
//!
//! A client makes a multipoint call on its VC (the root) with an initial
//! party; it adds more with NdisClAddParty. Each party names a called
//! address like a point-to-point call, and its callee (the *leaf*) gets an
//! ordinary incoming call on a VC covmini creates for it. The root's make
//! call (initial party) or add party completes with the leaf's answer.
//!
//! ```text
//!  party:  Adding{via, phase} --leaf accepts--> Connected --leaf closes--> LeafGone
//!             |  leaf rejects / no route            | drop party          | drop party / close call
//!             +--> (freed, request fails)           +--> (leaf told, freed) +--> (freed)
//!                                      Connected / LeafGone --drop while pinned--> Dropping --> (freed)
//!  Adding --leaf rejects, or its leaf's creation fails, while another party's
//!            incoming drop party is on its way--> Failed --> (completed, freed)
//! ```
//!
//! Each arrow is a [`PartyEvent`] applied by [`PartyState::on`] (through
//! [`CallManager::set_party_state`]), which refuses one the diagram lacks.
//!
//! * NdisClDropParty of a party that is not the last: its leaf gets an
//!   incoming close and the party goes. Of the last party: refused with
//!   FAILURE (ProtocolClDropPartyComplete: the client closes the call).
//! * A leaf's close: the root gets an incoming drop party for the leaf's
//!   party when the root has other parties, else an incoming close (the
//!   NdisMCmDispatchIncomingDropParty page: "If the NdisPartyHandle
//!   identifies the last remaining party on the given VC, the CM calls
//!   NdisCmDispatchIncomingCloseCall").
//! * An incoming drop party is chosen because the call has another party;
//!   until it has been dispatched that party must stay for NDIS: a drop
//!   that would leave only the hung-up party is refused as the last one's,
//!   and an add that fails meanwhile is held ([`PartyState::Failed`]) and
//!   completes after it ([`CallManager::release_failed_add`]).
//! * The root's close: the glue first detaches the parties one at a time
//!   ([`CallManager::detach_party`]: each leaf still connected gets an
//!   incoming close, each party context is freed), then closes the root like
//!   any call. Normally only the last party is left (the "Dropping a Party"
//!   page: a client drops all but the last party first), but a root closed
//!   with several (a client tearing down in a hurry) is taken down the same way.
//! * Data sent on the root goes to every connected leaf ([`CallManager::route`]).
//!
//! Limits: [`MAX_PARTIES`] per adapter, [`MAX_LEAVES`] per call; beyond
//! either, NDIS_STATUS_RESOURCES.

use ndis_sys::{NDIS_STATUS, NDIS_STATUS_FAILURE, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS};

use super::{
    Address, CallManager, Effect, Effects, Finish, Handlers, InvalidTransition, MakeCallPhase, Refusal, RootPhase,
    Route, SapId, VcEvent, VcId, VcOrigin, VcState, insert,
};

/// Most parties per adapter at once (all multipoint calls together).
pub const MAX_PARTIES: usize = 64;
/// Most parties per multipoint call (and so leaves a send fans out to).
pub const MAX_LEAVES: usize = 16;

/// A party, by table index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartyId(u16);

impl PartyId {
    /// The raw table index (for the context that remembers it).
    #[must_use]
    pub const fn raw(self) -> u16 {
        self.0
    }
    /// The id of table index `raw`.
    #[must_use]
    pub const fn from_raw(raw: u16) -> Self {
        Self(raw)
    }
    fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Which request adds a party, and so which completion it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The initial party of ProtocolCmMakeCall (NdisMCmMakeCallComplete).
    MakeCall,
    /// ProtocolCmAddParty (NdisMCmAddPartyComplete).
    AddParty,
}

/// Where a party is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyState {
    /// Its leaf is being created or offered; the request that adds it waits
    /// for the leaf's answer.
    Adding {
        /// The request adding it.
        via: Via,
        /// Whether that request's handler is still running.
        phase: MakeCallPhase,
    },
    /// Its leaf accepted: the root's data reaches it.
    Connected,
    /// Its leaf closed its call and the root was told; the root's client
    /// still has to drop the party (or close the call, for the last one).
    LeafGone,
    /// ProtocolCmDropParty pended until the incoming drop party naming the
    /// party has been dispatched (its pin).
    Dropping,
    /// Its add (ProtocolCmAddParty) failed (the leaf rejected, or its VC
    /// could not be created or activated; the VC is gone) while an incoming drop party naming another party of the call
    /// was on its way to the client, so the core counted this party as one
    /// that stays. NDIS forgets a party whose add fails when the failure
    /// reaches it, so the failure (`answer`) waits until no such indication
    /// is on its way ([`CallManager::release_failed_add`]): each one must
    /// reach NDIS with another party left.
    Failed,
}

/// What moves a party from one [`PartyState`] to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyEvent {
    /// Its leaf accepted: `Adding` to `Connected`.
    Accept,
    /// The adding handler returned PENDING: `Adding` keeps its request,
    /// with the phase `Pended`.
    Pend,
    /// Its add failed while an incoming drop party of the call is on its
    /// way: `Adding` to `Failed`.
    HoldFailure,
    /// ProtocolCmDropParty pends for the party's pin: `Connected` or
    /// `LeafGone` to `Dropping`.
    Drop,
    /// Its leaf closed its call: `Connected` to `LeafGone`.
    LeafHungUp,
}

impl PartyState {
    /// The state `event` moves a party in this state to, or
    /// [`InvalidTransition`] if the party state machine has no such arrow.
    pub fn on(self, event: PartyEvent) -> Result<Self, InvalidTransition<Self, PartyEvent>> {
        let to = match (self, event) {
            (Self::Adding { .. }, PartyEvent::Accept) => Self::Connected,
            (Self::Adding { via, .. }, PartyEvent::Pend) => Self::Adding {
                via,
                phase: MakeCallPhase::Pended,
            },
            (Self::Adding { .. }, PartyEvent::HoldFailure) => Self::Failed,
            (Self::Connected | Self::LeafGone, PartyEvent::Drop) => Self::Dropping,
            (Self::Connected, PartyEvent::LeafHungUp) => Self::LeafGone,
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

/// One party. 24 bytes with a `usize` token (asserted in the tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartySlot<H> {
    pub(crate) handle: H,
    pub(crate) root: VcId,
    pub(crate) leaf: Option<VcId>,
    pub(crate) state: PartyState,
    /// The leaf's answer received while the adding handler still ran.
    /// While it is set the party is still being added for NDIS and its
    /// client (the handler returns the answer, and on SUCCESS the party's
    /// context): no drop and no root close take it. In
    /// [`PartyState::Failed`], the status the add is to fail with.
    pub(crate) answer: Option<NDIS_STATUS>,
    /// Effects naming the party that another thread performs after the
    /// lock is dropped (an incoming drop party, a successful add's
    /// completion): it is freed only at 0.
    pub(crate) busy: u8,
}

/// What the glue does next for a new party, once a SAP matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartyPlan<H> {
    /// The party.
    pub party: PartyId,
    /// The request adding it.
    pub via: Via,
    /// The root VC.
    pub root: VcId,
    /// The VC reserved for the leaf (its context is the `leaf` handle
    /// given to [`CallManager::party_begin`]).
    pub leaf: VcId,
    /// The AF the leaf VC is created on (NdisMCmCreateVc).
    pub leaf_af: H,
    /// The SAP the leaf is offered the call on.
    pub sap: SapId,
    /// Its context.
    pub sap_handle: H,
}

impl<H: Copy + PartialEq> CallManager<H> {
    fn party(&mut self, id: PartyId) -> Option<&mut PartySlot<H>> {
        self.parties.get_mut(id.index()).and_then(Option::as_mut)
    }

    /// Moves party `id` by `event` ([`PartyState::on`]): the new state, or
    /// [`InvalidTransition`] (nothing changes) for no such party or an
    /// arrow the machine lacks.
    pub fn set_party_state(
        &mut self,
        id: PartyId,
        event: PartyEvent,
    ) -> Result<PartyState, InvalidTransition<PartyState, PartyEvent>> {
        let p = self.party(id).ok_or(InvalidTransition { from: None, event })?;
        let to = p.state.on(event)?;
        p.state = to;
        Ok(to)
    }

    /// [`Self::set_party_state`] where the caller checked the state, as
    /// `CallManager::shift` for a VC (a missing arrow fails the unit tests,
    /// and leaves the state as it was in the driver).
    fn shift_party(&mut self, id: PartyId, event: PartyEvent) {
        let moved = self.set_party_state(id, event);
        #[cfg(test)]
        if let Err(InvalidTransition { from: Some(from), .. }) = moved {
            panic!("the party state machine has no arrow {from:?} --{event:?}-->");
        }
        #[cfg(not(test))]
        let _ = moved;
    }

    /// Whether `id` names a live party whose context is `handle`.
    pub fn party_is(&self, id: PartyId, handle: H) -> bool {
        matches!(self.parties.get(id.index()), Some(Some(p)) if p.handle == handle)
    }
    /// Where a party is.
    pub fn party_state(&self, id: PartyId) -> Option<PartyState> {
        self.parties.get(id.index()).copied().flatten().map(|p| p.state)
    }
    /// The root VC of a party.
    pub fn party_root(&self, id: PartyId) -> Option<VcId> {
        self.parties.get(id.index()).copied().flatten().map(|p| p.root)
    }
    /// The root of `party` and its context token, when the party is the
    /// initial party of a multipoint make call still being added (its
    /// refusal takes the root down too).
    pub(crate) fn party_make_call_root(&self, party: PartyId) -> Option<(VcId, H)> {
        let p = self.parties.get(party.index())?.as_ref()?;
        let PartyState::Adding { via: Via::MakeCall, .. } = p.state else {
            return None;
        };
        let r = self.vcs.get(p.root.raw())?;
        Some((p.root, r.handle))
    }

    /// Whether the VC is the root of a multipoint call.
    pub fn is_root(&self, id: VcId) -> bool {
        matches!(self.vcs.get(id.raw()), Some(v) if matches!(v.state, VcState::Root { .. }))
    }

    /// How many parties `root` has, in any state.
    pub(crate) fn parties_of(&self, root: VcId) -> usize {
        self.parties.iter().flatten().filter(|p| p.root == root).count()
    }

    fn remove_party(&mut self, id: PartyId, fx: &mut Effects<H>) {
        if let Some(p) = self.parties.get_mut(id.index()).and_then(Option::take) {
            fx.push(Effect::FreeParty(p.handle));
        }
    }

    // --- Adding a party -------------------------------------------------------------

    /// ProtocolCmMakeCall with an initial party (`via` MakeCall, on an idle
    /// client VC) or ProtocolCmAddParty (`via` AddParty, on a root whose
    /// call is up), to `called`, after the parameters were checked. Records
    /// the party (context `party`) and reserves the leaf VC (context
    /// `leaf`), to be created with NdisMCmCreateVc next (the first step of
    /// [`CallManager::begin_party`], which drives the rest).
    pub fn party_begin(
        &mut self,
        root: VcId,
        called: &Address,
        party: H,
        leaf: H,
        via: Via,
    ) -> Result<PartyPlan<H>, Refusal> {
        let r = *self.vc(root).ok_or(Refusal::Invalid)?;
        match (via, r.state) {
            (Via::MakeCall, VcState::Idle) if r.origin == VcOrigin::Client => {}
            (Via::MakeCall, _) => return Err(Refusal::CallActive),
            (Via::AddParty, VcState::Root { phase: RootPhase::Up }) => {}
            // A party on a point-to-point call: a feature that call lacks.
            (Via::AddParty, VcState::Connected { .. } | VcState::Echo) => return Err(Refusal::NotSupported),
            (Via::AddParty, _) => return Err(Refusal::Invalid),
        }
        if self.parties_of(root) >= MAX_LEAVES {
            return Err(Refusal::Resources);
        }
        let (sap_id, sap, leaf_af) = self.find_sap(called)?;
        let slot = PartySlot {
            handle: party,
            root,
            leaf: None,
            state: PartyState::Adding {
                via,
                phase: MakeCallPhase::InHandler,
            },
            answer: None,
            busy: 0,
        };
        let party_id = insert(&mut self.parties, slot).map(PartyId).ok_or(Refusal::Resources)?;
        let leaf_id = match self.insert_vc(
            sap.af,
            leaf,
            VcOrigin::CallManager,
            VcState::LeafCreating { party: party_id },
        ) {
            Ok(id) => id,
            Err(e) => {
                if let Some(s) = self.parties.get_mut(party_id.index()) {
                    *s = None;
                }
                return Err(e);
            }
        };
        if let Some(p) = self.party(party_id) {
            p.leaf = Some(leaf_id);
        }
        if let Some(s) = self.sap(sap_id) {
            s.offers += 1;
        }
        if via == Via::MakeCall {
            self.shift(root, VcEvent::RootSetup);
        }
        Ok(PartyPlan {
            party: party_id,
            via,
            root,
            leaf: leaf_id,
            leaf_af,
            sap: sap_id,
            sap_handle: sap.handle,
        })
    }

    /// NdisMCmCreateVc failed for the leaf with `status`: the leaf never
    /// existed for NDIS (its context is freed, no NdisMCmDeleteVc), a
    /// multipoint make call's root is idle again, and the party is refused
    /// as a rejected one is: the returned status is the handler's (the
    /// DDI's failure; FAILURE for a status that is none), the party freed
    /// by the effects; or PENDING, the party kept ([`PartyState::Failed`]),
    /// while an incoming drop party of another party of the call is on its
    /// way (it was chosen because this party was there, and NDIS forgets a
    /// party whose add fails when the failure reaches it): the failure is
    /// then completed after it ([`Self::release_failed_add`]).
    pub fn party_create_failed(&mut self, plan: &PartyPlan<H>, status: NDIS_STATUS) -> (NDIS_STATUS, Effects<H>) {
        let status = if status == NDIS_STATUS_SUCCESS || status == NDIS_STATUS_PENDING {
            NDIS_STATUS_FAILURE
        } else {
            status
        };
        let mut fx = Effects::new();
        if let Some(v) = self.vc(plan.leaf) {
            fx.push(Effect::FreeVc(v.handle));
        }
        self.remove_vc(plan.leaf, &mut fx);
        if let Some(p) = self.party(plan.party) {
            p.leaf = None;
        }
        if plan.via == Via::MakeCall {
            self.shift(plan.root, VcEvent::SetupFailed);
        }
        fx.extend(self.offer_done(plan.sap));
        // Still in its handler (nothing else takes a party being added):
        // answered as a leaf's refusal inside the offer is.
        self.party_answered(plan.party, plan.via, MakeCallPhase::InHandler, status, &mut fx);
        let (status, ended) = self.party_end(plan.party);
        fx.extend(ended);
        (status, fx)
    }

    /// The glue activated the leaf (`leaf_ok`) and, for a make call, the
    /// root (`root_ok`). With everything active the leaf is offered the
    /// call next (its answer may come inside that dispatch). Otherwise the
    /// party is taken down (`Err`: the effects); the handler then answers
    /// with [`Self::party_end`] (FAILURE, or PENDING while handlers are
    /// inside the root), after [`Self::offer_done`].
    pub fn party_activated(
        &mut self,
        plan: &PartyPlan<H>,
        root_ok: Option<bool>,
        leaf_ok: bool,
    ) -> Result<(), Effects<H>> {
        self.party_activated_with_handlers(plan, root_ok, leaf_ok, Handlers::NONE)
    }

    /// [`Self::party_activated`] when the glue, an activation having
    /// failed, did the close's handshake on the leaf (`inside.callee`) and,
    /// for a make call, the root (`inside.caller`) and found handlers
    /// inside: such a VC is not deactivated under them
    /// (as [`Self::incoming_call_complete_with_handlers`] says for a leaf's refusal).
    pub fn party_activated_with_handlers(
        &mut self,
        plan: &PartyPlan<H>,
        root_ok: Option<bool>,
        leaf_ok: bool,
        inside: Handlers,
    ) -> Result<(), Effects<H>> {
        if root_ok == Some(true) {
            self.shift(plan.root, VcEvent::Activate);
        }
        if leaf_ok {
            self.shift(plan.leaf, VcEvent::Offer);
        }
        if self.vc(plan.leaf).is_some() && leaf_ok && root_ok != Some(false) {
            return Ok(());
        }
        let mut fx = Effects::new();
        self.refuse_party(plan.party, plan.leaf, NDIS_STATUS_FAILURE, inside, &mut fx);
        Err(fx)
    }

    /// Deactivates (if active) and deletes a leaf that never connected or is done.
    fn take_down_leaf(&mut self, leaf: VcId, fx: &mut Effects<H>) {
        self.deactivate(leaf, fx);
        if let Some(v) = self.vc(leaf) {
            fx.push(Effect::DeleteVc(v.handle));
        }
        self.remove_vc(leaf, fx);
    }

    /// The party being added (`party`, its leaf `leaf`) is refused with
    /// `status` (its leaf rejected, NDIS refused the offer, an activation
    /// failed): the leaf is deactivated and deleted, and a make call's root
    /// goes back to idle, deactivated (seed NdisMCmMakeCallComplete: a failed
    /// call leaves the VC inactive) before the make call fails; the request
    /// adding the party gets `status`: returned by its handler if it still
    /// runs ([`Self::party_end`], which deactivates the root first: were
    /// this CPU to do it after the lock is dropped, the handler could return
    /// the failure before), else completed here, after the deactivation.
    ///
    /// The glue did the close's handshake on the leaf and (a make call) the
    /// root, and found handlers inside (`inside`: a send on either, which
    /// the request activated before the offer). A leaf with handlers inside
    /// is left active, [`VcState::Refused`], and deactivated and deleted
    /// once they left; a root, [`VcState::RootRefused`], and the party with
    /// it, still being added: the last handler out finishes the make call
    /// ([`Self::handlers_left`]).
    fn refuse_party(&mut self, party: PartyId, leaf: VcId, status: NDIS_STATUS, inside: Handlers, fx: &mut Effects<H>) {
        let Some(p) = self.party(party).map(|p| *p) else { return };
        let PartyState::Adding { via, phase } = p.state else {
            return;
        };
        if inside.callee {
            self.shift(leaf, VcEvent::Refuse { status, phase });
            if let Some(v) = self.vc(leaf) {
                v.waits_for_handlers = true;
            }
        } else {
            self.take_down_leaf(leaf, fx);
        }
        if let Some(x) = self.party(party) {
            x.leaf = None;
        }
        if via == Via::MakeCall {
            let Some(r) = self.vc(p.root) else { return };
            if inside.caller {
                r.waits_for_handlers = true;
                self.shift(p.root, VcEvent::RefuseRoot { party, status });
                return;
            }
            self.shift(p.root, VcEvent::SetupFailed);
        }
        self.party_answered(party, via, phase, status, fx);
    }

    /// The party being added got its answer `status`, the calls it affects
    /// already up or taken down: returned by the adding handler if it still
    /// runs (kept for [`Self::party_end`]), else completed
    /// (NdisMCmMakeCallComplete / NdisMCmAddPartyComplete), after
    /// deactivating a failed make call's root; a refused party is freed
    /// after its completion. A refused add completing while an incoming
    /// drop party of another party of the call is on its way is held
    /// ([`Self::hold_failure`]) and completes after that indication.
    fn party_answered(
        &mut self,
        party: PartyId,
        via: Via,
        phase: MakeCallPhase,
        status: NDIS_STATUS,
        fx: &mut Effects<H>,
    ) {
        let Some(p) = self.party(party).map(|p| *p) else { return };
        match phase {
            MakeCallPhase::Pended => {
                if status != NDIS_STATUS_SUCCESS && self.hold_failure(party, via, status) {
                    // Completed once no incoming drop party is on its way
                    // ([`Self::release_failed_add`]).
                    return;
                }
                if via == Via::MakeCall && status != NDIS_STATUS_SUCCESS {
                    self.deactivate(p.root, fx);
                }
                let Some(root_handle) = self.vc(p.root).map(|r| r.handle) else {
                    return;
                };
                fx.push(match via {
                    Via::MakeCall => Effect::CompleteMakeCallParty(root_handle, p.handle, status),
                    Via::AddParty => Effect::CompleteAddParty(p.handle, status),
                });
                if status == NDIS_STATUS_SUCCESS {
                    self.shift_party(party, PartyEvent::Accept);
                    // The completion names the party and runs after the
                    // lock is dropped, while the party is already up for
                    // everyone else (a drop, the root's close): pinned,
                    // with its root, until the glue made that call
                    // ([`Self::party_completed`]).
                    self.pin_party(party);
                } else {
                    self.remove_party(party, fx);
                }
            }
            MakeCallPhase::InHandler => {
                if let Some(x) = self.party(party) {
                    x.answer = Some(status);
                }
                if status == NDIS_STATUS_SUCCESS {
                    self.shift_party(party, PartyEvent::Accept);
                }
            }
        }
    }

    /// The handlers a refused make call's root waited for left it
    /// ([`VcState::RootRefused`]): it is idle again, and its make call
    /// fails with `status` ([`Self::party_answered`]).
    pub(crate) fn root_refusal_done(&mut self, root: VcId, party: PartyId, status: NDIS_STATUS) -> Effects<H> {
        let mut fx = Effects::new();
        self.shift(root, VcEvent::SetupFailed);
        let adding = match self.party(party).map(|p| (p.root, p.state)) {
            Some((
                r,
                PartyState::Adding {
                    via: Via::MakeCall,
                    phase,
                },
            )) if r == root => Some(phase),
            _ => None,
        };
        if let Some(phase) = adding {
            self.party_answered(party, Via::MakeCall, phase, status, &mut fx);
        } else {
            // No party to answer with (a core bug): at least leave the VC
            // as a failed call does.
            self.deactivate(root, &mut fx);
        }
        fx
    }

    /// ProtocolCmIncomingCallComplete on a leaf (`status` normalised like a
    /// point-to-point answer). SUCCESS connects the leaf (and brings a
    /// multipoint make call's root up); anything else deletes the leaf (and
    /// takes a make call's root down). The request adding the party gets the
    /// answer: returned by its handler if it is still running, else
    /// completed (NdisMCmMakeCallComplete / NdisMCmAddPartyComplete), and a
    /// refused party is freed after its completion. A refusal waits for the
    /// handlers the glue found inside the leaf or the root (`inside`;
    /// [`Self::refuse_party`]).
    pub(crate) fn leaf_answered(
        &mut self,
        leaf: VcId,
        party: PartyId,
        status: NDIS_STATUS,
        inside: Handlers,
    ) -> Result<Effects<H>, Refusal> {
        let p = *self.party(party).ok_or(Refusal::Invalid)?;
        let PartyState::Adding { via, phase } = p.state else {
            return Err(Refusal::Invalid);
        };
        if p.leaf != Some(leaf) || self.vc(p.root).is_none() {
            return Err(Refusal::Invalid);
        }
        let status = if status == NDIS_STATUS_PENDING {
            NDIS_STATUS_FAILURE
        } else {
            status
        };
        let mut fx = Effects::new();
        if status != NDIS_STATUS_SUCCESS {
            self.refuse_party(party, leaf, status, inside, &mut fx);
            return Ok(fx);
        }
        self.shift(leaf, VcEvent::LeafUp);
        if let Some(v) = self.vc(leaf) {
            fx.push(Effect::DispatchCallConnected(v.handle));
        }
        if via == Via::MakeCall {
            self.shift(p.root, VcEvent::RootUp);
        }
        self.party_answered(party, via, phase, status, &mut fx);
        Ok(fx)
    }

    /// The handler adding the party is about to return (after the offer
    /// returned, or an activation failed): the leaf's answer if it came
    /// already (a refused party is freed; NDIS ignores its context; a
    /// failed make call's root is deactivated by these effects, which the
    /// handler performs before it returns), else PENDING, and the answer
    /// will complete the request. A refused add while an incoming drop party
    /// of another party of the call is on its way returns PENDING too: the
    /// failure completes after that indication ([`PartyState::Failed`]).
    pub fn party_end(&mut self, party: PartyId) -> (NDIS_STATUS, Effects<H>) {
        let mut fx = Effects::new();
        let Some(p) = self.party(party) else {
            return (NDIS_STATUS_FAILURE, fx);
        };
        let via = match p.state {
            PartyState::Adding { via, .. } => Some(via),
            _ => None,
        };
        if let Some(status) = p.answer.take() {
            let root = p.root;
            if status != NDIS_STATUS_SUCCESS {
                if via.is_some_and(|v| self.hold_failure(party, v, status)) {
                    // The failure completes later (NdisMCmAddPartyComplete).
                    return (NDIS_STATUS_PENDING, fx);
                }
                // A failed make call's root is deactivated by this handler,
                // before it returns the failure (`refuse_party`).
                if via == Some(Via::MakeCall) {
                    self.deactivate(root, &mut fx);
                }
                self.remove_party(party, &mut fx);
            }
            return (status, fx);
        }
        match p.state {
            PartyState::Adding { .. } => {
                self.shift_party(party, PartyEvent::Pend);
                (NDIS_STATUS_PENDING, fx)
            }
            _ => (NDIS_STATUS_FAILURE, fx),
        }
    }

    /// Pins `id` and its root for an effect naming the party that another
    /// thread performs after the lock is dropped.
    fn pin_party(&mut self, id: PartyId) {
        let Some(p) = self.party(id) else { return };
        p.busy = p.busy.saturating_add(1);
        let root = p.root;
        if let Some(r) = self.vc(root) {
            r.busy = r.busy.saturating_add(1);
        }
    }

    /// The glue completed a party's add (NdisMCmMakeCallComplete or
    /// NdisMCmAddPartyComplete, SUCCESS): drops the completion's pins, as
    /// [`Self::party_dispatched`] does, finishing a drop or a root's close
    /// that waited for them.
    pub fn party_completed(&mut self, id: PartyId) -> Effects<H> {
        self.party_dispatched(id)
    }

    /// Whether an incoming drop party naming a party of `root` other than
    /// `except` may still be on its way to the client: a party whose leaf
    /// hung up (or that is being dropped) and that is pinned. (A pin may
    /// also be a successful add's completion: then this waits a little
    /// longer than it needs to.)
    fn drop_indicated(&self, root: VcId, except: Option<PartyId>) -> bool {
        self.parties.iter().enumerate().any(|(i, q)| {
            matches!(q, Some(q) if q.root == root
                && except.is_none_or(|e| e.index() != i)
                && matches!(q.state, PartyState::LeafGone | PartyState::Dropping)
                && q.busy > 0)
        })
    }

    /// An add of `id` failed with `status` (its leaf was taken down): if an
    /// incoming drop party of another party of the call may still be on
    /// its way, the party is kept, [`PartyState::Failed`] with `status`,
    /// and true is returned: the failure reaches NDIS only after
    /// ([`Self::release_failed_add`]). A make call's initial party has no
    /// other party: never held.
    fn hold_failure(&mut self, id: PartyId, via: Via, status: NDIS_STATUS) -> bool {
        let Some(root) = self.party(id).map(|p| p.root) else {
            return false;
        };
        if via != Via::AddParty || !self.drop_indicated(root, Some(id)) {
            return false;
        }
        self.shift_party(id, PartyEvent::HoldFailure);
        if let Some(p) = self.party(id) {
            p.answer = Some(status);
        }
        true
    }

    /// One party of `root` whose failed add was held ([`PartyState::Failed`])
    /// completes, now that no incoming drop party of the call is on its way:
    /// NdisMCmAddPartyComplete with its failure, then the party goes. None
    /// if there is none to complete (yet). The glue calls this after each
    /// [`Self::party_dispatched`] (and [`Self::party_completed`]) until it
    /// returns None.
    pub fn release_failed_add(&mut self, root: VcId) -> Option<Effects<H>> {
        if self.drop_indicated(root, None) {
            return None;
        }
        let (i, p) = self.parties.iter().enumerate().find_map(|(i, p)| {
            p.filter(|p| p.root == root && p.state == PartyState::Failed)
                .map(|p| (i, p))
        })?;
        let id = PartyId(u16::try_from(i).ok()?);
        let mut fx = Effects::new();
        let status = p.answer.unwrap_or(NDIS_STATUS_FAILURE);
        fx.push(Effect::CompleteAddParty(p.handle, status));
        self.remove_party(id, &mut fx);
        Some(fx)
    }

    // --- Dropping a party -------------------------------------------------------------

    /// ProtocolCmDropParty. A connected party's leaf is unlinked and told
    /// (an incoming close, pinned like a point-to-point peer's), a party
    /// whose leaf already went just goes; the context is freed and the
    /// handler returns SUCCESS, or pends while an incoming drop party naming
    /// the party is still being dispatched. The last party of the call is
    /// refused ([`Refusal::LastParty`]); so is a party being added.
    pub fn drop_party(&mut self, id: PartyId) -> Result<Finish<H>, Refusal> {
        let p = *self.party(id).ok_or(Refusal::Invalid)?;
        // A party whose leaf answered while the adding handler still runs
        // is still being added for NDIS and its client: that handler
        // reports the answer ([`Self::party_end`]) and needs the party.
        if !matches!(p.state, PartyState::Connected | PartyState::LeafGone) || p.answer.is_some() {
            return Err(Refusal::Invalid);
        }
        if !matches!(
            self.vc(p.root).map(|r| r.state),
            Some(VcState::Root { phase: RootPhase::Up })
        ) {
            return Err(Refusal::Invalid);
        }
        if self.parties_of(p.root) < 2 || !self.outlived_by_another(id, p.root) {
            return Err(Refusal::LastParty);
        }
        let mut fx = Effects::new();
        self.unlink_leaf(id, &mut fx);
        if p.busy > 0 {
            self.shift_party(id, PartyEvent::Drop);
            return Ok(Finish::Pend(fx));
        }
        self.remove_party(id, &mut fx);
        Ok(Finish::Return(NDIS_STATUS_SUCCESS, fx))
    }

    /// Whether `root` has a party other than `id` that stays once `id` is
    /// dropped. A party whose leaf hung up and whose incoming drop party is
    /// still on its way to the client (pinned, LeafGone) does not count: the
    /// core chose that indication because `id` was there, so `id` must
    /// still be there when NDIS gets it (NdisMCmDispatchIncomingDropParty
    /// names a party of a call with others left; the last one gets an
    /// incoming close instead). Dropping `id` then is refused as dropping
    /// the last party is: the client is about to drop the other.
    fn outlived_by_another(&self, id: PartyId, root: VcId) -> bool {
        self.parties.iter().enumerate().any(|(i, q)| {
            matches!(q, Some(q) if q.root == root && i != id.index()
                && !(q.state == PartyState::LeafGone && q.busy > 0))
        })
    }

    /// Cuts a party from its connected leaf and tells the leaf (incoming
    /// close; the leaf is pinned until the glue made that call).
    fn unlink_leaf(&mut self, id: PartyId, fx: &mut Effects<H>) {
        let Some(leaf) = self.party(id).and_then(|p| p.leaf.take()) else {
            return;
        };
        if self
            .vc(leaf)
            .is_some_and(|v| matches!(v.state, VcState::Leaf { party: Some(x) } if x == id))
        {
            self.shift(leaf, VcEvent::PeerGone);
            if let Some(v) = self.vc(leaf) {
                v.busy = v.busy.saturating_add(1);
                fx.push(Effect::DispatchIncomingClose(v.handle));
            }
        }
    }

    /// The glue dispatched the incoming drop party naming `id`: drops that
    /// pin and the root's, finishing a drop that pended on it.
    pub fn party_dispatched(&mut self, id: PartyId) -> Effects<H> {
        let mut fx = Effects::new();
        let Some(p) = self.party(id) else { return fx };
        p.busy = p.busy.saturating_sub(1);
        let (root, busy, state, handle) = (p.root, p.busy, p.state, p.handle);
        let root_closing = matches!(
            self.vc(root).map(|r| r.state),
            Some(
                VcState::Closing
                    | VcState::Root {
                        phase: RootPhase::Closing
                    }
            )
        );
        if busy == 0 && state == PartyState::Dropping {
            fx.push(Effect::CompleteDropParty(handle));
            self.remove_party(id, &mut fx);
        } else if busy == 0 && root_closing {
            // The root's close skipped it while it was pinned: it is
            // detached now, as [`Self::detach_party`] does, its leaf (if
            // still connected) told with an incoming close. Freed with its
            // leaf still linked, the leaf would name the party's slot,
            // which a new call may reuse: its hang-up would then be taken
            // for that call's party's.
            self.unlink_leaf(id, &mut fx);
            self.remove_party(id, &mut fx);
        }
        fx.extend(self.unpin(root, 1));
        fx
    }

    // --- A leaf hangs up ----------------------------------------------------------------

    /// ProtocolCmCloseCall on the leaf of `id` (still linked): the party
    /// loses its leaf and the root is told, with an incoming drop party
    /// while it has other parties, else an incoming close. The root (and
    /// the party) are pinned until the glue made that call. A root that is
    /// closing is not told (it is detaching its parties anyway).
    pub(crate) fn leaf_hung_up(&mut self, id: PartyId, tell: &mut Effects<H>) {
        let Some(p) = self.party(id) else { return };
        p.leaf = None;
        self.shift_party(id, PartyEvent::LeafHungUp);
        let Some(p) = self.party(id) else { return };
        let (root, handle) = (p.root, p.handle);
        let others = self.parties_of(root) > 1;
        let Some(r) = self.vc(root) else { return };
        if r.state != (VcState::Root { phase: RootPhase::Up }) {
            return;
        }
        r.busy = r.busy.saturating_add(1);
        if others {
            tell.push(Effect::DispatchIncomingDropParty(handle));
            if let Some(p) = self.party(id) {
                p.busy = p.busy.saturating_add(1);
            }
        } else {
            tell.push(Effect::DispatchIncomingClose(r.handle));
        }
    }

    // --- The root closes ---------------------------------------------------------------

    /// ProtocolCmCloseCall on a root, first step: refused while a party is
    /// being added (the add completes first; NDIS_STATUS_FAILURE), else the
    /// call stops taking sends, parties and drops. The glue then calls
    /// [`Self::detach_party`] until it returns None, then [`Self::close_call`].
    pub fn begin_root_close(&mut self, root: VcId) -> Result<(), Refusal> {
        let adding = self.parties.iter().flatten().any(|p| {
            p.root == root && (matches!(p.state, PartyState::Adding { .. } | PartyState::Failed) || p.answer.is_some())
        });
        let r = self.vc(root).ok_or(Refusal::Invalid)?;
        if adding || r.state != (VcState::Root { phase: RootPhase::Up }) {
            return Err(Refusal::Invalid);
        }
        self.shift(root, VcEvent::DetachParties);
        Ok(())
    }

    /// One party of a closing root goes: its leaf (if still connected) is
    /// told with an incoming close, and its context is freed. A party still
    /// pinned by an incoming drop party being dispatched is left for the
    /// next call (the root's pin keeps the close from finishing before).
    /// None when no party is left to detach.
    pub fn detach_party(&mut self, root: VcId) -> Option<Effects<H>> {
        let (i, _) = self
            .parties
            .iter()
            .enumerate()
            .find(|(_, p)| matches!(p, Some(p) if p.root == root && p.busy == 0))?;
        let id = PartyId(u16::try_from(i).ok()?);
        let mut fx = Effects::new();
        self.unlink_leaf(id, &mut fx);
        self.remove_party(id, &mut fx);
        Some(fx)
    }

    // --- Fan-out -----------------------------------------------------------------------

    /// The route of a send on an up root: every connected, active leaf,
    /// each pinned `receives` times, the root `sends` times. `Err` when no
    /// leaf is connected (every leaf hung up: NDIS_STATUS_VC_NOT_ACTIVATED,
    /// as for a point-to-point call whose peer hung up).
    pub(crate) fn fan_out(&mut self, root: VcId, sends: u32, receives: u32) -> Result<Route<H>, Refusal> {
        let mut route = Route::new();
        // Two passes keep the borrows simple: find, then pin.
        let mut found = [None; MAX_LEAVES];
        let mut n = 0;
        for (i, p) in self.parties.iter().enumerate() {
            let Some(p) = p else { continue };
            let (PartyState::Connected, Some(leaf), true) = (p.state, p.leaf, p.root == root) else {
                continue;
            };
            let Ok(id) = u16::try_from(i) else { continue };
            let ok = matches!(self.vcs.get(leaf.raw()), Some(v)
                if matches!(v.state, VcState::Leaf { party: Some(x) } if x == PartyId(id)));
            if ok && let Some(slot) = found.get_mut(n) {
                *slot = Some(leaf);
                n += 1;
            }
        }
        for leaf in found.into_iter().flatten() {
            if let Some(v) = self.vc(leaf) {
                v.busy = v.busy.saturating_add(receives);
                let handle = v.handle;
                route.push(leaf, handle);
            }
        }
        if route.is_empty() {
            return Err(Refusal::Invalid);
        }
        if let Some(r) = self.vc(root) {
            r.busy = r.busy.saturating_add(sends);
        }
        Ok(route)
    }
}

#[cfg(test)]
mod tests;
