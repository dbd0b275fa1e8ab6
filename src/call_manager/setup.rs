//! Driving a call's set-up: the order of the NDIS calls that make a call
//! (NdisMCmCreateVc, NdisMCmActivateVc, NdisMCmDispatchIncomingCall) and
//! the rollback of a failed one, for every kind of set-up: a call to the
//! echo address, a point-to-point make call, and a party's leaf (a
//! multipoint make call's initial party, or ProtocolCmAddParty).
//!
//! The glue begins a set-up ([`CallManager::begin_echo`],
//! [`CallManager::begin_call`], [`CallManager::begin_party`]), then loops:
//! it performs the effects of each [`Next::Step`] with the adapter lock
//! released, and reports the status of each NDIS call among them to
//! [`CallManager::resume`], under the lock, which returns the next step.
//! [`Next::Return`] ends the loop: the glue performs its effects, then the
//! handler returns its status. A failure's rollback (deactivations,
//! deletions, freed contexts) is in the effects the core returns; the glue
//! never chooses what comes next.
//!
//! The steps are as few as the decisions: NdisMCmCreateVc and both
//! NdisMCmActivateVc are one step (a failed creation ends it), the offer
//! another, so a make call takes the adapter lock as often as it did when
//! the handler made those calls itself.
//!
//! A take-down with a send that may be inside a VC the set-up activated
//! needs the close's handshake on that VC's context, under the same lock
//! as the core's decision: the core asks for it through [`Marks`].
//!
//! Must not: make an NDIS call or touch a context (the glue does both).

use ndis_sys::{NDIS_STATUS, NDIS_STATUS_FAILURE, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS};

use super::{Address, CallManager, Effect, Effects, Handlers, MakeCallPlan, PartyPlan, Refusal, VcId, Via};

/// The close's handshake on a VC's context, made by the glue while the
/// core holds the lock (`ffi::data`'s module docs): the context is marked
/// closing, so a handler that enters after sees the mark and takes
/// nothing, and the core learns whether handlers are already inside.
pub trait Marks<H> {
    /// Marks `vc`'s context closing. Returns whether it was marked already
    /// and whether handlers other than `own` of the caller's are inside.
    fn begin_close(&mut self, vc: H, own: u32) -> (bool, bool);
    /// Lowers the mark again after a refused close, unless it was already
    /// raised before (`was`).
    fn restore_closing(&mut self, vc: H, was: bool);
}

/// The most step effects one [`Next::Step`] holds (a make call's
/// NdisMCmCreateVc and its two NdisMCmActivateVc).
pub const MAX_STEP_CALLS: usize = 3;

/// What the glue does next in a set-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<H> {
    /// Perform these effects in order, and report the status of each step
    /// effect among them ([`Effect::CreateVc`], [`Effect::ActivateVc`],
    /// [`Effect::DispatchIncomingCall`]), in order, to
    /// [`CallManager::resume`]. A failed [`Effect::CreateVc`] ends the step:
    /// the effects after it are made only with its VC created.
    Step(Effects<H>),
    /// Perform these effects; the handler then returns this status.
    Return(NDIS_STATUS, Effects<H>),
}

/// Which set-up, with what the core planned for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind<H> {
    Echo { caller: VcId },
    Call { caller: VcId, plan: MakeCallPlan<H> },
    Party { plan: PartyPlan<H> },
}

/// Where a set-up waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// For NdisMCmActivateVc on an echo call's VC.
    Echo,
    /// For NdisMCmCreateVc on the callee (or leaf), then NdisMCmActivateVc
    /// on the caller (or a make call's root) and on the callee (or leaf):
    /// one step, as they follow each other with nothing to decide between
    /// them but the creation's success.
    Create,
    /// For NdisMCmDispatchIncomingCall.
    Dispatch,
    /// For the effects of a take-down or an answer: then the handler's
    /// answer (`offered`: the SAP's offer is still counted).
    End { offered: bool },
    /// Nothing: the set-up returned.
    Done,
}

/// One set-up in progress, held by the handler making it and handed back
/// to [`CallManager::resume`] with each outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup<H> {
    kind: Kind<H>,
    wait: Wait,
}

/// A set-up the core let begin: the handler drives `setup` from `next`,
/// with `plan` naming what the core reserved for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Begun<H, P> {
    /// The set-up, for [`CallManager::resume`].
    pub setup: Setup<H>,
    /// What the core reserved (the callee's or leaf's VC, the party).
    pub plan: P,
    /// Its first step.
    pub next: Next<H>,
}

fn one<H: Copy>(effect: Effect<H>) -> Next<H> {
    let mut fx = Effects::new();
    fx.push(effect);
    Next::Step(fx)
}

impl<H: Copy + PartialEq> CallManager<H> {
    fn handle_of(&self, id: VcId) -> Option<H> {
        self.vcs.get(id.raw()).map(|v| v.handle)
    }

    /// A step: NdisMCmCreateVc for `callee` on `af`, then NdisMCmActivateVc
    /// on `caller` (if any) and on `callee`.
    fn create_and_activate(&self, callee: H, af: H, caller: Option<VcId>) -> Next<H> {
        let mut fx = Effects::new();
        fx.push(Effect::CreateVc { vc: callee, af });
        if let Some(h) = caller.and_then(|c| self.handle_of(c)) {
            fx.push(Effect::ActivateVc(h));
        }
        fx.push(Effect::ActivateVc(callee));
        Next::Step(fx)
    }

    /// ProtocolCmMakeCall on `caller` to [`super::ECHO_ADDRESS`]
    /// ([`Self::make_call_echo`]): the caller's VC is activated next.
    pub fn begin_echo(&mut self, caller: VcId, multipoint: bool) -> Result<Begun<H, ()>, Refusal> {
        self.make_call_echo(caller, multipoint)?;
        let setup = Setup {
            kind: Kind::Echo { caller },
            wait: Wait::Echo,
        };
        let next = match self.handle_of(caller) {
            Some(h) => one(Effect::ActivateVc(h)),
            None => Next::Return(NDIS_STATUS_FAILURE, Effects::new()),
        };
        Ok(Begun { setup, plan: (), next })
    }

    /// ProtocolCmMakeCall on `caller` to `called` ([`Self::make_call_begin`],
    /// the callee's context `callee`): the callee's VC is created next.
    pub fn begin_call(
        &mut self,
        caller: VcId,
        called: &Address,
        callee: H,
    ) -> Result<Begun<H, MakeCallPlan<H>>, Refusal> {
        let plan = self.make_call_begin(caller, called, callee)?;
        let setup = Setup {
            kind: Kind::Call { caller, plan },
            wait: Wait::Create,
        };
        let next = self.create_and_activate(callee, plan.callee_af, Some(caller));
        Ok(Begun { setup, plan, next })
    }

    /// A party's set-up ([`Self::party_begin`]): the leaf's VC is created
    /// next.
    pub fn begin_party(
        &mut self,
        root: VcId,
        called: &Address,
        party: H,
        leaf: H,
        via: Via,
    ) -> Result<Begun<H, PartyPlan<H>>, Refusal> {
        let plan = self.party_begin(root, called, party, leaf, via)?;
        let setup = Setup {
            kind: Kind::Party { plan },
            wait: Wait::Create,
        };
        let root = (via == Via::MakeCall).then_some(root);
        let next = self.create_and_activate(leaf, plan.leaf_af, root);
        Ok(Begun { setup, plan, next })
    }

    /// The outcome of the step `setup` waited for (`statuses`: what each
    /// of its NDIS calls returned, in order): the next step. `marks` is the
    /// glue's handshake, asked for on the VCs a take-down finds activated.
    pub fn resume(&mut self, setup: &mut Setup<H>, statuses: &[NDIS_STATUS], marks: &mut impl Marks<H>) -> Next<H> {
        // A status the glue did not report (not reachable) is a failure.
        let status = |i: usize| statuses.get(i).copied().unwrap_or(NDIS_STATUS_FAILURE);
        let ok = |i: usize| status(i) == NDIS_STATUS_SUCCESS;
        let wait = setup.wait;
        setup.wait = Wait::Done;
        match (setup.kind, wait) {
            (Kind::Echo { caller }, Wait::Echo) => Next::Return(self.echo_activated(caller, ok(0)), Effects::new()),
            (Kind::Call { caller, plan }, Wait::Create) if !ok(0) => {
                // Frees the callee's context (and its block with it).
                let fx = self.make_call_create_failed(caller, &plan);
                let s = status(0);
                Next::Return(
                    if s == NDIS_STATUS_PENDING {
                        NDIS_STATUS_FAILURE
                    } else {
                        s
                    },
                    fx,
                )
            }
            (Kind::Party { plan }, Wait::Create) if !ok(0) => {
                // The failure, or PENDING while an incoming drop party of
                // the call is on its way.
                let (s, fx) = self.party_create_failed(&plan, status(0));
                Next::Return(s, fx)
            }
            (kind @ Kind::Call { .. }, Wait::Create) => self.activated(setup, kind, Some(ok(1)), ok(2), marks),
            (kind @ Kind::Party { plan }, Wait::Create) if plan.via == Via::MakeCall => {
                self.activated(setup, kind, Some(ok(1)), ok(2), marks)
            }
            (kind @ Kind::Party { .. }, Wait::Create) => self.activated(setup, kind, None, ok(1), marks),
            (Kind::Call { plan, .. }, Wait::Dispatch) => self.dispatched(setup, plan.callee, status(0), marks),
            (Kind::Party { plan }, Wait::Dispatch) => self.dispatched(setup, plan.leaf, status(0), marks),
            (kind, Wait::End { offered }) => self.end(kind, offered),
            // Not reachable: each set-up waits only as above.
            _ => Next::Return(NDIS_STATUS_FAILURE, Effects::new()),
        }
    }

    /// Both activations are done (`caller_ok`, None for an added party,
    /// and `callee_ok`): the offer next, or the take-down.
    fn activated(
        &mut self,
        setup: &mut Setup<H>,
        kind: Kind<H>,
        caller_ok: Option<bool>,
        callee_ok: bool,
        marks: &mut impl Marks<H>,
    ) -> Next<H> {
        let all_ok = callee_ok && caller_ok != Some(false);
        // The set-up is taken down: the close's handshake first on the VCs
        // it activated (the caller's or the root's, then the callee's or
        // the leaf's), since a send may be inside either.
        let (caller, callee) = match kind {
            Kind::Call { caller, plan } => (Some(caller), plan.callee),
            Kind::Party { plan } => ((plan.via == Via::MakeCall).then_some(plan.root), plan.leaf),
            Kind::Echo { .. } => return Next::Return(NDIS_STATUS_FAILURE, Effects::new()),
        };
        let inside = if all_ok {
            Handlers::NONE
        } else {
            let mut mark = |id: Option<VcId>| {
                id.and_then(|id| self.handle_of(id))
                    .is_some_and(|h| marks.begin_close(h, 0).1)
            };
            let caller_inside = mark(caller);
            Handlers {
                caller: caller_inside,
                callee: mark(Some(callee)),
            }
        };
        let (activated, sap, sap_handle) = match kind {
            Kind::Call { caller, plan } => (
                self.make_call_activated_with_handlers(caller, plan.callee, caller_ok == Some(true), callee_ok, inside),
                plan.sap,
                plan.sap_handle,
            ),
            Kind::Party { plan } => (
                self.party_activated_with_handlers(&plan, caller_ok, callee_ok, inside),
                plan.sap,
                plan.sap_handle,
            ),
            Kind::Echo { .. } => return Next::Return(NDIS_STATUS_FAILURE, Effects::new()),
        };
        match activated {
            Ok(()) => {
                setup.wait = Wait::Dispatch;
                match self.handle_of(callee) {
                    Some(vc) => one(Effect::DispatchIncomingCall { sap: sap_handle, vc }),
                    None => self.end(kind, true),
                }
            }
            Err(mut fx) => {
                fx.extend(self.offer_done(sap));
                setup.wait = Wait::End { offered: false };
                Next::Step(fx)
            }
        }
    }

    /// NdisMCmDispatchIncomingCall on `callee` returned `offered`. PENDING:
    /// the callee answers (or answered) through
    /// ProtocolCmIncomingCallComplete; anything else is NDIS refusing the
    /// offer, so no answer will come: its status is the callee's answer.
    fn dispatched(
        &mut self,
        setup: &mut Setup<H>,
        callee: VcId,
        offered: NDIS_STATUS,
        marks: &mut impl Marks<H>,
    ) -> Next<H> {
        if offered == NDIS_STATUS_PENDING {
            return self.end(setup.kind, true);
        }
        setup.wait = Wait::End { offered: true };
        let answered = self.answer_offer(callee, 0, offered, marks);
        Next::Step(answered.unwrap_or_default())
    }

    /// The handler's answer: the callee's (or leaf's) answer if it came,
    /// else PENDING; a failure with the caller's (root's) deactivation.
    fn end(&mut self, kind: Kind<H>, offered: bool) -> Next<H> {
        let sap = match kind {
            Kind::Call { plan, .. } => plan.sap,
            Kind::Party { plan } => plan.sap,
            Kind::Echo { .. } => return Next::Return(NDIS_STATUS_FAILURE, Effects::new()),
        };
        let mut fx = if offered { self.offer_done(sap) } else { Effects::new() };
        let (status, ended) = match kind {
            Kind::Party { plan } => self.party_end(plan.party),
            Kind::Call { caller, .. } | Kind::Echo { caller } => self.make_call_end(caller),
        };
        fx.extend(ended);
        Next::Return(status, fx)
    }

    /// The callee's answer `status` to the offer on `callee` (a
    /// point-to-point callee or a party's leaf), `own` being 1 if the
    /// answering handler is itself counted inside `callee`
    /// (ProtocolCmIncomingCallComplete), else 0. A refusal takes the callee
    /// down and, for a make call, the caller's VC (a multipoint make call's
    /// root), so first the close's handshake on those contexts (`marks`):
    /// handlers already inside are waited for
    /// ([`Self::incoming_call_complete_with_handlers`]), one that enters
    /// later sees the mark and takes nothing. A refused answer restores
    /// the marks.
    pub fn answer_offer(
        &mut self,
        callee: VcId,
        own: u32,
        status: NDIS_STATUS,
        marks: &mut impl Marks<H>,
    ) -> Result<Effects<H>, Refusal> {
        if status == NDIS_STATUS_SUCCESS {
            return self.incoming_call_complete(callee, status);
        }
        let caller = self.offer_caller(callee).map(|(_, h)| h);
        let (caller_was, caller_inside) = caller.map_or((true, false), |c| marks.begin_close(c, 0));
        let callee_handle = self.handle_of(callee);
        let (callee_was, callee_inside) = callee_handle.map_or((true, false), |c| marks.begin_close(c, own));
        let inside = Handlers {
            caller: caller_inside,
            callee: callee_inside,
        };
        let answered = self.incoming_call_complete_with_handlers(callee, status, inside);
        if answered.is_err() {
            if let Some(c) = caller {
                marks.restore_closing(c, caller_was);
            }
            if let Some(c) = callee_handle {
                marks.restore_closing(c, callee_was);
            }
        }
        answered
    }
}
