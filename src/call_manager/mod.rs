//! The call manager, with no FFI: address families, SAPs, VCs and the
//! loopback call between them, as state machines whose methods return the
//! NDIS calls to make ([`Effects`]) rather than making them.
//!
//! The glue (the call-manager handlers in `ffi`'s af_sap, vc, call, party
//! and qos modules) holds the adapter's spin lock around every method call
//! and performs the effects after releasing it: NDIS re-enters the
//! driver from most of them (NdisMCmDispatchIncomingCall calls
//! ProtocolCmIncomingCallComplete before it returns, contract §2.3), so no
//! NDIS call may be made with the lock held. Every ordering rule of the
//! contract lives here, where it is unit-tested without an emulator:
//!
//! * a make call completes SUCCESS only after both VCs were activated, and a
//!   failed one leaves the caller deactivated (seed NdisMCmMakeCallComplete);
//! * a rejected or refused incoming call deactivates and deletes the MCM VC;
//! * a close deactivates its VC, tells the peer (incoming close), completes,
//!   and an MCM-created VC is deleted after its close completes (seed
//!   NdisMCmCloseCallComplete);
//! * a close of an AF pends while it has SAPs or VCs and completes when the
//!   last one goes; a deregistration pends while an incoming call is being
//!   offered on the SAP;
//! * a call's set-up (the `setup` module): the callee's (or a party's leaf's)
//!   VC is created, the caller's (or a make call's root) and then the
//!   callee's activated, the call offered, in that order, as effects whose
//!   outcomes the glue reports to [`CallManager::resume`]; a failed step's
//!   rollback is the core's;
//! * a point-to-multipoint call's parties (the `party` module): each party's leaf is
//!   an ordinary incoming call on its own MCM VC, the root's make call or
//!   add party completes with the leaf's answer, a dropped party's leaf gets
//!   an incoming close, a leaf's close is an incoming drop party at the root
//!   (an incoming close for the last party), and the root's sends fan out.
//!
//! AFs, SAPs and parties live in fixed tables ([`MAX_AFS`], [`MAX_SAPS`],
//! [`MAX_PARTIES`]); VCs, of which there can be hundreds of thousands, in a
//! growable [`Table`] with O(1) insert, lookup and remove ([`MAX_VCS`] at
//! most). An id is a table index. Only creating a VC may allocate (a new
//! chunk of the VC table; a refused allocation is NDIS_STATUS_RESOURCES):
//! lookups and removals, and so the data path, never do. `H` is the glue's
//! token for the context NDIS holds (its address), stored so effects can
//! name it.

mod address;
mod effects;
mod party;
mod qos;
mod setup;
pub mod table;
mod vc;

pub use address::{
    Address, AddressError, CallParamsError, MAX_ADDRESS_LEN, PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS, SapError,
    check_called_address_header, check_sap_header,
};
pub use effects::{Effect, Effects, MAX_EFFECTS};
use party::PartySlot;
pub use party::{MAX_LEAVES, MAX_PARTIES, PartyEvent, PartyId, PartyPlan, PartyState, Via};
pub use qos::{QosError, check_flow, check_flows, clamp_flow, link_bytes_per_second};
pub use setup::{Begun, MAX_STEP_CALLS, Marks, Next, Setup};
pub use table::{Table, TableError};
use vc::VcSlot;
pub use vc::{InvalidTransition, MakeCallPhase, RootPhase, VcEvent, VcOrigin, VcState};

use ndis_sys::{
    NDIS_STATUS, NDIS_STATUS_CALL_ACTIVE, NDIS_STATUS_FAILURE, NDIS_STATUS_INVALID_DATA,
    NDIS_STATUS_NO_ROUTE_TO_DESTINATION, NDIS_STATUS_PENDING, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};

/// The reserved address covmini answers itself: a call to it needs no SAP,
/// connects at once, and every NBL sent on the VC comes back on it. No SAP
/// may be registered with it.
pub const ECHO_ADDRESS: &[u8] = b"echo";

/// Where a send on a VC goes: one target for a point-to-point call (the
/// sender itself for echo), every connected leaf for a multipoint root.
///
/// INVARIANT: `targets[..len]` are all `Some`, `len <= MAX_LEAVES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<H> {
    targets: [Option<(VcId, H)>; MAX_LEAVES],
    len: usize,
}

impl<H: Copy> Route<H> {
    fn new() -> Self {
        Self {
            targets: [None; MAX_LEAVES],
            len: 0,
        }
    }
    fn push(&mut self, id: VcId, handle: H) -> bool {
        match self.targets.get_mut(self.len) {
            Some(slot) => {
                *slot = Some((id, handle));
                // INVARIANT: filled the slot at `len < MAX_LEAVES`.
                self.len += 1;
                true
            }
            None => false,
        }
    }
    /// The VCs the data is indicated on, with their context tokens.
    pub fn targets(&self) -> impl Iterator<Item = (VcId, H)> + '_ {
        self.targets.iter().take(self.len).flatten().copied()
    }
    /// How many targets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether there is none (never, for a route [`CallManager::route`] gave).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Most AF opens per adapter at once.
pub const MAX_AFS: usize = 8;
/// Most SAPs per adapter at once.
pub const MAX_SAPS: usize = 32;
/// Most VCs (client-created and MCM-created) per adapter at once: a bound
/// on the nonpaged memory clients can make covmini hold (about 100 MB of VC
/// contexts and table at this count), far above any real CoNDIS workload.
pub const MAX_VCS: usize = 1 << 20;

/// Bytes of the VC table per VC covmini holds (its slot, with its share of
/// the chunk directory), on top of the VC's context (tag CvmV). The kernel
/// images allocate the table with tag CvmT; the host build from std, so
/// ndis-emu's ledger does not see it and covmini-lab bench adds this.
pub const VC_TABLE_BYTES_PER_VC: usize = Table::<VcSlot<usize>>::BYTES_PER_SLOT;

/// Bytes of the party table per party: its slot, in a fixed table of
/// [`MAX_PARTIES`] slots inside the adapter context (tag CvmA, so paid
/// whether or not the slot is used), on top of the party's context (tag
/// CvmP). covmini-lab bench adds this to the ledger's figure per party.
pub const PARTY_TABLE_BYTES_PER_PARTY: usize = core::mem::size_of::<Option<PartySlot<usize>>>();

/// An AF open, by table index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfId(u16);
/// A SAP, by table index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SapId(u16);
/// A VC, by index in the VC [`Table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcId(u32);

impl VcId {
    /// The raw table index (for the context that remembers it).
    #[must_use]
    pub const fn raw(self) -> u32 {
        self.0
    }
    /// The id of table index `raw`.
    #[must_use]
    pub const fn from_raw(raw: u32) -> Self {
        Self(raw)
    }
}

macro_rules! id_conv {
    ($t:ident) => {
        impl $t {
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
    };
}
id_conv!(AfId);
id_conv!(SapId);

/// Where an AF open is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfState {
    /// Open: takes SAPs, VCs and calls.
    Open,
    /// ProtocolCmCloseAf pended until the AF's SAPs and VCs are gone.
    ClosePending,
    /// Closed, but NdisMCmNotifyCloseAddressFamily is outstanding: the
    /// context lives until ProtocolCmNotifyCloseAfComplete.
    Closed,
}

/// What moves an AF open from one [`AfState`] to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfEvent {
    /// ProtocolCmCloseAf with SAPs, VCs or a notification still on it:
    /// `Open` to `ClosePending`.
    ClosePends,
    /// ProtocolCmCloseAf on an AF with nothing on it (`Open`), or the last
    /// of them went (`ClosePending`): to `Closed`.
    Closed,
}

impl AfState {
    /// The state `event` moves an AF in this state to, or
    /// [`InvalidTransition`] if the AF has no such arrow.
    pub fn on(self, event: AfEvent) -> Result<Self, InvalidTransition<Self, AfEvent>> {
        match (self, event) {
            (Self::Open, AfEvent::ClosePends) => Ok(Self::ClosePending),
            (Self::Open | Self::ClosePending, AfEvent::Closed) => Ok(Self::Closed),
            (from, event) => Err(InvalidTransition {
                from: Some(from),
                event,
            }),
        }
    }
}

/// What MiniportHaltEx waits for on an AF: each AF it waits for holds one
/// unit of halt's count ([`HaltPlan::holds`]) until the core releases it
/// with [`Effect::HaltAfDone`], once the AF is closed and its context is
/// no longer needed for a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaltHold {
    /// Halt does not wait for this AF (not halting, or already released).
    None,
    /// NdisMCmNotifyCloseAddressFamily is outstanding: the context lives
    /// until ProtocolCmNotifyCloseAfComplete (or the refused call returns).
    Notified,
    /// The AF's close is under way and halt waits until it is complete
    /// (NdisMCmCloseAddressFamilyComplete issued, or ProtocolCmCloseAf
    /// returned SUCCESS).
    Closing,
}

#[derive(Clone, Copy, Debug)]
struct AfSlot<H> {
    handle: H,
    state: AfState,
    saps: u16,
    vcs: u32,
    halt: HaltHold,
    /// Halt has planned NdisMCmNotifyCloseAddressFamily for this AF and the
    /// call has not returned yet: a close that comes meanwhile pends until
    /// it has ([`CallManager::notify_returned`]), so that the NdisAfHandle
    /// the call names is still valid when NDIS gets it (a close completed
    /// before the call would let NDIS free it).
    notifying: bool,
}

/// What MiniportHaltEx does for the AFs open at its start
/// ([`CallManager::begin_halt`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaltPlan<H> {
    /// The open AFs to notify (NdisMCmNotifyCloseAddressFamily), by id and
    /// context.
    pub notify: [Option<(AfId, H)>; MAX_AFS],
    /// How many AFs halt waits for: those notified, and those whose close
    /// is already pending. The glue adds this to halt's count before it
    /// releases the lock, so no release can come first.
    pub holds: u32,
}

/// Where a SAP is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SapState {
    /// Registered: calls to its address reach it.
    Registered,
    /// ProtocolCmDeregisterSap pended until the offers in flight are done.
    DeregisterPending,
}

#[derive(Clone, Copy, Debug)]
struct SapSlot<H> {
    handle: H,
    af: AfId,
    address: Address,
    state: SapState,
    /// NdisMCmDispatchIncomingCall calls naming this SAP not yet returned.
    offers: u16,
}

/// Why an operation is refused; each maps to the NDIS status the handler returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A table is full, or the pool refused the memory to grow it.
    Resources,
    /// The id names no live object of that kind, or one in the wrong state.
    Invalid,
    /// The AF is closing: nothing new on it.
    AfClosing,
    /// A SAP with the same address is already registered on the adapter.
    DuplicateSap,
    /// The VC already carries a call.
    CallActive,
    /// No SAP has the called address.
    NoRoute,
    /// A feature the call does not have: a multipoint call to the echo
    /// address, a party added to a point-to-point call.
    NotSupported,
    /// ProtocolCmDropParty on the call's last party (it goes with the close).
    LastParty,
    /// A send on a leaf: a point-to-multipoint call carries data from the
    /// root to the leaves only.
    LeafSend,
}

impl Refusal {
    /// The status the handler returns.
    #[must_use]
    pub const fn status(self) -> NDIS_STATUS {
        match self {
            Self::Resources => NDIS_STATUS_RESOURCES,
            Self::Invalid | Self::AfClosing => NDIS_STATUS_FAILURE,
            // ProtocolCmRegisterSap [D]: a SAP already in use by another
            // client is refused with INVALID_DATA (contract §3.2).
            Self::DuplicateSap => NDIS_STATUS_INVALID_DATA,
            Self::CallActive => NDIS_STATUS_CALL_ACTIVE,
            Self::NoRoute => NDIS_STATUS_NO_ROUTE_TO_DESTINATION,
            // ProtocolCmMakeCall / ProtocolCmAddParty [D]: NOT_SUPPORTED for
            // "invalid or unavailable features in the call parameters".
            Self::NotSupported => ndis_sys::NDIS_STATUS_NOT_SUPPORTED,
            // ProtocolClDropPartyComplete [D]: FAILURE means "the given party
            // was the last remaining": the client closes the call instead.
            // NET_BUFFER_LIST.Status [D]: FAILURE is a send that failed for
            // a reason other than the ones listed (length, resources, ...).
            Self::LastParty | Self::LeafSend => NDIS_STATUS_FAILURE,
        }
    }
}

/// How a handler finishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish<H> {
    /// Perform the effects, then return this status (never PENDING); NDIS
    /// completes the request itself when the handler returns.
    Return(NDIS_STATUS, Effects<H>),
    /// Perform the effects (which include the request's own completion),
    /// then return PENDING.
    Pend(Effects<H>),
}

/// Which ends of an offered call the glue found handlers inside (counted in
/// their contexts, holding no pin) as the callee's refusal came
/// ([`CallManager::incoming_call_complete_with_handlers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handlers {
    /// Inside the caller's VC.
    pub caller: bool,
    /// Inside the callee's VC (besides the answering handler itself).
    pub callee: bool,
}

impl Handlers {
    /// None inside either.
    pub const NONE: Self = Self {
        caller: false,
        callee: false,
    };
}

/// What ProtocolCmMakeCall does next, once a SAP matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MakeCallPlan<H> {
    /// The VC reserved for the callee (its context is the `callee` handle
    /// given to [`CallManager::make_call_begin`]).
    pub callee: VcId,
    /// The AF the callee VC is created on (NdisMCmCreateVc).
    pub callee_af: H,
    /// The SAP the call is offered on (NdisMCmDispatchIncomingCall).
    pub sap: SapId,
    /// Its context.
    pub sap_handle: H,
}

/// The call manager of one adapter.
#[derive(Debug)]
pub struct CallManager<H> {
    afs: [Option<AfSlot<H>>; MAX_AFS],
    saps: [Option<SapSlot<H>>; MAX_SAPS],
    vcs: Table<VcSlot<H>>,
    parties: [Option<PartySlot<H>>; MAX_PARTIES],
}

impl<H: Copy + PartialEq> Default for CallManager<H> {
    fn default() -> Self {
        Self::new()
    }
}

fn insert<T: Copy>(table: &mut [Option<T>], value: T) -> Option<u16> {
    let (i, slot) = table.iter_mut().enumerate().find(|(_, s)| s.is_none())?;
    *slot = Some(value);
    u16::try_from(i).ok()
}

impl<H: Copy + PartialEq> CallManager<H> {
    /// No AF open, no SAP, no VC.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            afs: [None; MAX_AFS],
            saps: [None; MAX_SAPS],
            vcs: Table::new(MAX_VCS),
            parties: [None; MAX_PARTIES],
        }
    }

    fn af(&mut self, id: AfId) -> Option<&mut AfSlot<H>> {
        self.afs.get_mut(id.index()).and_then(Option::as_mut)
    }
    fn sap(&mut self, id: SapId) -> Option<&mut SapSlot<H>> {
        self.saps.get_mut(id.index()).and_then(Option::as_mut)
    }
    fn vc(&mut self, id: VcId) -> Option<&mut VcSlot<H>> {
        self.vcs.get_mut(id.raw())
    }

    /// Moves VC `id` by `event`, as the VC state machine allows
    /// ([`VcState::on`]): the new state, or [`InvalidTransition`] (and
    /// nothing changes) for no such VC or an arrow the machine lacks.
    pub fn set_state(&mut self, id: VcId, event: VcEvent) -> Result<VcState, InvalidTransition> {
        let v = self.vc(id).ok_or(InvalidTransition { from: None, event })?;
        let to = v.state.on(event)?;
        v.state = to;
        Ok(to)
    }

    /// [`Self::set_state`] where the caller checked the VC's state first,
    /// so the machine has the arrow. Should it not (a core bug), the state
    /// stays as it was: no panic on a handler's path. The unit tests, which
    /// take every call site, fail on it instead (`cfg(test)` only). No such
    /// VC is no bug: these call sites skip a VC that went.
    fn shift(&mut self, id: VcId, event: VcEvent) {
        let moved = self.set_state(id, event);
        #[cfg(test)]
        if let Err(InvalidTransition { from: Some(from), .. }) = moved {
            panic!("the VC state machine has no arrow {from:?} --{event:?}-->");
        }
        #[cfg(not(test))]
        let _ = moved;
    }

    /// Whether `id` names a live AF whose context is `handle`.
    pub fn af_is(&self, id: AfId, handle: H) -> bool {
        matches!(self.afs.get(id.index()), Some(Some(a)) if a.handle == handle)
    }
    /// Whether `id` names a live SAP whose context is `handle`.
    pub fn sap_is(&self, id: SapId, handle: H) -> bool {
        matches!(self.saps.get(id.index()), Some(Some(s)) if s.handle == handle)
    }
    /// Whether `id` names a live VC whose context is `handle`.
    pub fn vc_is(&self, id: VcId, handle: H) -> bool {
        self.vcs.get(id.raw()).is_some_and(|v| v.handle == handle)
    }
    /// The call on a VC.
    pub fn vc_state(&self, id: VcId) -> Option<VcState> {
        self.vcs.get(id.raw()).map(|v| v.state)
    }
    /// Whether covmini activated the VC and has not deactivated it.
    pub fn vc_active(&self, id: VcId) -> bool {
        self.vcs.get(id.raw()).is_some_and(|v| v.state.is_active())
    }
    /// The state of an AF open.
    pub fn af_state(&self, id: AfId) -> Option<AfState> {
        self.afs.get(id.index()).copied().flatten().map(|a| a.state)
    }
    /// How many parties are alive (for halt and tests).
    pub fn live_parties(&self) -> usize {
        self.parties.iter().flatten().count()
    }

    /// Gives the VC table's memory back (at halt, after the last VC went):
    /// the table keeps its chunks at the high-water mark until then.
    pub fn release_vc_table(&mut self) {
        self.vcs = Table::new(MAX_VCS);
    }

    /// How many AF opens, SAPs and VCs are alive (for halt and tests).
    pub fn live(&self) -> (usize, usize, usize) {
        (
            self.afs.iter().flatten().count(),
            self.saps.iter().flatten().count(),
            self.vcs.len(),
        )
    }

    // --- Address families -------------------------------------------------

    /// ProtocolCmOpenAf (the AF itself was checked by the glue).
    pub fn open_af(&mut self, handle: H) -> Result<AfId, Refusal> {
        let slot = AfSlot {
            handle,
            state: AfState::Open,
            saps: 0,
            vcs: 0,
            halt: HaltHold::None,
            notifying: false,
        };
        insert(&mut self.afs, slot).map(AfId).ok_or(Refusal::Resources)
    }

    /// ProtocolCmCloseAf: succeeds at once when the AF has no SAP and no VC
    /// (the context is freed unless a close notification is outstanding;
    /// halt's hold on it, if any, is released), else pends until the last one goes (contract §3.1: pending is the
    /// preferred answer to a close with SAPs or calls outstanding).
    pub fn close_af(&mut self, id: AfId) -> Result<Finish<H>, Refusal> {
        let slot = self.af(id).ok_or(Refusal::Invalid)?;
        if slot.state != AfState::Open {
            return Err(Refusal::Invalid);
        }
        if slot.saps > 0 || slot.vcs > 0 || slot.notifying {
            slot.state = slot.state.on(AfEvent::ClosePends).map_err(|_| Refusal::Invalid)?;
            return Ok(Finish::Pend(Effects::new()));
        }
        slot.state = slot.state.on(AfEvent::Closed).map_err(|_| Refusal::Invalid)?;
        let mut fx = Effects::new();
        self.release_af_if_done(id, &mut fx);
        Ok(Finish::Return(NDIS_STATUS_SUCCESS, fx))
    }

    /// MiniportHaltEx begins: decides which AFs it waits for. Every open AF
    /// is to be notified (NdisMCmNotifyCloseAddressFamily, contract §1.4)
    /// and is held until its notification is done; every AF whose close
    /// covmini pended is held until that close completes (NDIS refuses to
    /// notify an AF already closing, and no completion would follow). An AF
    /// whose close already completed is gone, and is not waited for.
    pub fn begin_halt(&mut self) -> HaltPlan<H> {
        let mut plan = HaltPlan {
            notify: [None; MAX_AFS],
            holds: 0,
        };
        for (i, (slot, out)) in self.afs.iter_mut().zip(plan.notify.iter_mut()).enumerate() {
            let Some(a) = slot.as_mut().filter(|a| a.halt == HaltHold::None) else {
                continue;
            };
            let Ok(id) = u16::try_from(i) else { continue };
            match a.state {
                AfState::Open => {
                    a.halt = HaltHold::Notified;
                    a.notifying = true;
                    *out = Some((AfId(id), a.handle));
                }
                AfState::ClosePending => a.halt = HaltHold::Closing,
                // Closed and not notified: already freed (never in the table).
                AfState::Closed => continue,
            }
            plan.holds += 1;
        }
        plan
    }

    /// Halt's notification of `id` is over: ProtocolCmNotifyCloseAfComplete
    /// came (`refused` false), or NDIS refused the notification (`refused`
    /// true: it returns FAILURE for an AF already closing, and no
    /// completion follows). A closed AF is freed and released. An AF whose
    /// close is still under way stays held until that close completes: one
    /// covmini pended, or (refused) one NDIS has begun and whose
    /// ProtocolCmCloseAf is still to come. An AF still open after its
    /// client completed the notification is released and left to halt's
    /// leak check: its client broke the contract, and no close will come.
    /// `Err` if the AF was not being notified.
    pub fn notify_close_done(&mut self, id: AfId, refused: bool) -> Result<Effects<H>, Refusal> {
        let a = self
            .af(id)
            .filter(|a| a.halt == HaltHold::Notified)
            .ok_or(Refusal::Invalid)?;
        let mut fx = Effects::new();
        match a.state {
            AfState::ClosePending => a.halt = HaltHold::Closing,
            AfState::Open if refused => a.halt = HaltHold::Closing,
            AfState::Open => {
                a.halt = HaltHold::None;
                fx.push(Effect::HaltAfDone);
            }
            AfState::Closed => {
                a.halt = HaltHold::Closing;
                self.release_af_if_done(id, &mut fx);
            }
        }
        Ok(fx)
    }

    /// Halt's NdisMCmNotifyCloseAddressFamily call for `id` returned
    /// (whatever it returned): a close the client made before or during
    /// that call, pended for it, completes now if nothing is left on the
    /// AF.
    pub fn notify_returned(&mut self, id: AfId) -> Effects<H> {
        let mut fx = Effects::new();
        if let Some(a) = self.af(id) {
            a.notifying = false;
        }
        self.release_af_if_done(id, &mut fx);
        fx
    }

    /// What halt holds `id` for (for tests and traces).
    pub fn af_halt_hold(&self, id: AfId) -> Option<HaltHold> {
        self.afs.get(id.index()).copied().flatten().map(|a| a.halt)
    }

    /// A SAP or VC of `id` went, or it closed: finish a pended close, free
    /// a closed AF (unless a notification still needs its context), and
    /// release halt's hold on it.
    fn release_af_if_done(&mut self, id: AfId, fx: &mut Effects<H>) {
        let Some(a) = self.af(id) else { return };
        if a.state == AfState::ClosePending
            && a.saps == 0
            && a.vcs == 0
            && !a.notifying
            && let Ok(closed) = a.state.on(AfEvent::Closed)
        {
            a.state = closed;
            fx.push(Effect::CompleteCloseAf(a.handle));
        }
        if a.state != AfState::Closed || a.halt == HaltHold::Notified {
            return;
        }
        let held = a.halt == HaltHold::Closing;
        fx.push(Effect::FreeAf(a.handle));
        if let Some(slot) = self.afs.get_mut(id.index()) {
            *slot = None;
        }
        if held {
            fx.push(Effect::HaltAfDone);
        }
    }

    // --- SAPs ---------------------------------------------------------------

    /// ProtocolCmRegisterSap with a checked address.
    pub fn register_sap(&mut self, af: AfId, handle: H, address: Address) -> Result<SapId, Refusal> {
        let a = self.af(af).ok_or(Refusal::Invalid)?;
        if a.state != AfState::Open {
            return Err(Refusal::AfClosing);
        }
        if address.as_bytes() == ECHO_ADDRESS || self.saps.iter().flatten().any(|s| s.address == address) {
            return Err(Refusal::DuplicateSap);
        }
        let slot = SapSlot {
            handle,
            af,
            address,
            state: SapState::Registered,
            offers: 0,
        };
        let id = insert(&mut self.saps, slot).map(SapId).ok_or(Refusal::Resources)?;
        if let Some(a) = self.af(af) {
            a.saps += 1;
        }
        Ok(id)
    }

    /// ProtocolCmDeregisterSap: done at once unless an incoming call is being
    /// offered on the SAP right now, in which case it pends until that offer
    /// returns (the SAP handle must stay valid for NdisMCmDispatchIncomingCall).
    /// Calls already received on the SAP are not affected (contract §3.2).
    pub fn deregister_sap(&mut self, id: SapId) -> Result<Finish<H>, Refusal> {
        let s = self.sap(id).ok_or(Refusal::Invalid)?;
        if s.state != SapState::Registered {
            return Err(Refusal::Invalid);
        }
        if s.offers > 0 {
            // The only arrow a SAP has (it is freed, not moved, otherwise).
            s.state = SapState::DeregisterPending;
            return Ok(Finish::Pend(Effects::new()));
        }
        let mut fx = Effects::new();
        self.remove_sap(id, &mut fx);
        Ok(Finish::Return(NDIS_STATUS_SUCCESS, fx))
    }

    fn remove_sap(&mut self, id: SapId, fx: &mut Effects<H>) {
        let Some(s) = self.saps.get_mut(id.index()).and_then(Option::take) else {
            return;
        };
        fx.push(Effect::FreeSap(s.handle));
        if let Some(a) = self.af(s.af) {
            a.saps = a.saps.saturating_sub(1);
        }
        self.release_af_if_done(s.af, fx);
    }

    /// NdisMCmDispatchIncomingCall on the SAP returned (or was never made).
    pub fn offer_done(&mut self, id: SapId) -> Effects<H> {
        let mut fx = Effects::new();
        let Some(s) = self.sap(id) else { return fx };
        s.offers = s.offers.saturating_sub(1);
        if s.offers == 0 && s.state == SapState::DeregisterPending {
            fx.push(Effect::CompleteDeregisterSap(s.handle));
            self.remove_sap(id, &mut fx);
        }
        fx
    }

    // --- VCs ------------------------------------------------------------------

    /// ProtocolCoCreateVc on AF `af`.
    pub fn create_vc(&mut self, af: AfId, handle: H) -> Result<VcId, Refusal> {
        let a = self.af(af).ok_or(Refusal::Invalid)?;
        if a.state != AfState::Open {
            return Err(Refusal::AfClosing);
        }
        let id = self.insert_vc(af, handle, VcOrigin::Client, VcState::Idle)?;
        Ok(id)
    }

    fn insert_vc(&mut self, af: AfId, handle: H, origin: VcOrigin, state: VcState) -> Result<VcId, Refusal> {
        let slot = VcSlot {
            handle,
            af,
            origin,
            state,
            answer: None,
            busy: 0,
            qos_changing: false,
            waits_for_handlers: false,
        };
        let id = self.vcs.insert(slot).map(VcId).map_err(|_| Refusal::Resources)?;
        if let Some(a) = self.af(af) {
            a.vcs += 1;
        }
        Ok(id)
    }

    /// ProtocolCoDeleteVc (a client VC; never pends). NDIS deletes only an
    /// inactive VC; should the VC still be linked to a peer, the link is cut.
    pub fn delete_vc(&mut self, id: VcId) -> Result<Effects<H>, Refusal> {
        let v = *self.vc(id).ok_or(Refusal::Invalid)?;
        if v.origin != VcOrigin::Client {
            return Err(Refusal::Invalid);
        }
        let mut fx = Effects::new();
        if let VcState::Connected { peer: Some(p) } = v.state {
            self.unlink(p, id);
        }
        fx.push(Effect::FreeVc(v.handle));
        self.remove_vc(id, &mut fx);
        Ok(fx)
    }

    fn unlink(&mut self, vc: VcId, from: VcId) {
        if self
            .vc(vc)
            .is_some_and(|p| matches!(p.state, VcState::Connected { peer: Some(x) } if x == from))
        {
            self.shift(vc, VcEvent::PeerGone);
        }
    }

    fn remove_vc(&mut self, id: VcId, fx: &mut Effects<H>) {
        let Some(v) = self.vcs.remove(id.raw()) else {
            return;
        };
        if let Some(a) = self.af(v.af) {
            a.vcs = a.vcs.saturating_sub(1);
        }
        self.release_af_if_done(v.af, fx);
    }

    // --- The loopback call ---------------------------------------------------------

    /// ProtocolCmMakeCall on `caller` to `called`, after its parameters were
    /// checked. Finds the SAP and reserves the callee VC (whose context is
    /// `callee`), to be created with NdisMCmCreateVc next (the first step
    /// of [`Self::begin_call`], which drives the rest).
    pub fn make_call_begin(&mut self, caller: VcId, called: &Address, callee: H) -> Result<MakeCallPlan<H>, Refusal> {
        let c = *self.vc(caller).ok_or(Refusal::Invalid)?;
        if c.origin != VcOrigin::Client || !matches!(c.state, VcState::Idle) {
            return Err(Refusal::CallActive);
        }
        let (sap_id, sap, callee_af) = self.find_sap(called)?;
        let callee_id = self.insert_vc(sap.af, callee, VcOrigin::CallManager, VcState::Creating { caller })?;
        if let Some(s) = self.sap(sap_id) {
            s.offers += 1;
        }
        self.shift(caller, VcEvent::Call { callee: callee_id });
        if let Some(c) = self.vc(caller) {
            c.answer = None;
        }
        Ok(MakeCallPlan {
            callee: callee_id,
            callee_af,
            sap: sap_id,
            sap_handle: sap.handle,
        })
    }

    /// NdisMCmCreateVc failed: the callee VC never existed for NDIS. The
    /// caller goes back to idle; the handler fails with the returned status.
    pub fn make_call_create_failed(&mut self, caller: VcId, plan: &MakeCallPlan<H>) -> Effects<H> {
        let mut fx = Effects::new();
        self.shift(caller, VcEvent::SetupFailed);
        // The context was never NDIS's: the glue frees it (no NdisMCmDeleteVc).
        if let Some(v) = self.vc(plan.callee) {
            fx.push(Effect::FreeVc(v.handle));
        }
        self.remove_vc(plan.callee, &mut fx);
        fx.extend(self.offer_done(plan.sap));
        fx
    }

    /// The registered SAP with address `called` on an open AF, and that
    /// AF's context. A SAP whose AF is closing is not offered calls any
    /// more: its client is tearing down (and NDIS refuses the dispatch).
    fn find_sap(&self, called: &Address) -> Result<(SapId, SapSlot<H>, H), Refusal> {
        let afs = &self.afs;
        let found = self.saps.iter().enumerate().find_map(|(i, s)| {
            let s = s.as_ref()?;
            let af_open = matches!(afs.get(s.af.index()), Some(Some(a)) if a.state == AfState::Open);
            (s.address == *called && s.state == SapState::Registered && af_open).then_some((i, *s))
        });
        let Some((sap_index, sap)) = found else {
            return Err(Refusal::NoRoute);
        };
        let sap_id = SapId(u16::try_from(sap_index).map_err(|_| Refusal::Invalid)?);
        let callee_af = match self.afs.get(sap.af.index()) {
            Some(Some(a)) => a.handle,
            _ => return Err(Refusal::NoRoute),
        };
        Ok((sap_id, sap, callee_af))
    }

    /// Both VCs exist for NDIS; the glue activated each (`caller_ok`,
    /// `callee_ok`: whether NdisMCmActivateVc succeeded). With both active
    /// the callee is offered the call (the glue dispatches it next, and
    /// ProtocolCmIncomingCallComplete may arrive inside that dispatch).
    /// Otherwise the call is taken down: `Err` carries the effects, and the
    /// handler answers with [`Self::make_call_end`] (FAILURE, or PENDING
    /// while handlers are inside the caller's VC).
    pub fn make_call_activated(
        &mut self,
        caller: VcId,
        callee: VcId,
        caller_ok: bool,
        callee_ok: bool,
    ) -> Result<(), Effects<H>> {
        self.make_call_activated_with_handlers(caller, callee, caller_ok, callee_ok, Handlers::NONE)
    }

    /// [`Self::make_call_activated`] when the glue, the activation having
    /// failed, did the close's handshake on both VCs and found handlers
    /// inside (`inside`: a send on the caller's VC, which the make call
    /// activated first, say): as for a refusal
    /// ([`Self::incoming_call_complete_with_handlers`]), such a VC stays
    /// active, in [`VcState::Refused`], until they left.
    pub fn make_call_activated_with_handlers(
        &mut self,
        caller: VcId,
        callee: VcId,
        caller_ok: bool,
        callee_ok: bool,
        inside: Handlers,
    ) -> Result<(), Effects<H>> {
        if caller_ok {
            self.shift(caller, VcEvent::Activate);
        }
        if callee_ok {
            self.shift(callee, VcEvent::Offer);
        }
        if self.vc(callee).is_some() && caller_ok && callee_ok {
            return Ok(());
        }
        let mut fx = Effects::new();
        let refused = VcEvent::Refuse {
            status: NDIS_STATUS_FAILURE,
            phase: MakeCallPhase::InHandler,
        };
        self.take_down_offer(caller, callee, inside, refused, false, &mut fx);
        if !inside.caller
            && let Some(c) = self.vc(caller)
        {
            c.answer = Some(NDIS_STATUS_FAILURE);
        }
        Err(fx)
    }

    /// Takes down both ends of a call that did not happen: the callee VC is
    /// deactivated and deleted (contract §3.3 "Reject": deactivate, then
    /// delete), the caller's call over ([`VcEvent::SetupFailed`]) and its
    /// VC deactivated if `caller_now` (else its make call
    /// handler, still running, does it before it returns the failure:
    /// [`Self::make_call_end`]). An end `waiting` for the glue's handlers
    /// inside it is left, active, in `refused` ([`VcState::Refused`], with
    /// the status and phase that matter for the caller) until
    /// [`Self::handlers_left`] finishes its part.
    fn take_down_offer(
        &mut self,
        caller: VcId,
        callee: VcId,
        waiting: Handlers,
        refused: VcEvent,
        caller_now: bool,
        fx: &mut Effects<H>,
    ) {
        for (id, waits, is_caller) in [(callee, waiting.callee, false), (caller, waiting.caller, true)] {
            if waits {
                self.shift(id, refused);
                if let Some(v) = self.vc(id) {
                    v.waits_for_handlers = true;
                }
                continue;
            }
            if is_caller {
                // Abandoned if it was activated, else idle.
                self.shift(id, VcEvent::SetupFailed);
            }
            if !is_caller || caller_now {
                self.deactivate(id, fx);
            }
        }
        if !waiting.callee {
            if let Some(v) = self.vc(callee) {
                fx.push(Effect::DeleteVc(v.handle));
            }
            self.remove_vc(callee, fx);
        }
    }

    /// Deactivates `id` if it is active: [`VcEvent::Deactivate`], with
    /// NdisMCmDeactivateVc in `fx`. The only place that emits that
    /// effect, so NDIS's bit and [`VcState::is_active`] agree.
    pub(crate) fn deactivate(&mut self, id: VcId, fx: &mut Effects<H>) {
        let Some(v) = self.vc(id) else { return };
        if !v.state.is_active() {
            return;
        }
        match v.state.on(VcEvent::Deactivate) {
            Ok(to) => {
                v.state = to;
                fx.push(Effect::DeactivateVc(v.handle));
            }
            // An active state the machine cannot deactivate (a core bug):
            // left as it is, no panic on a handler's path; the unit tests,
            // which take every call site, fail on it.
            #[cfg(test)]
            Err(e) => panic!("the VC state machine cannot deactivate {:?}", e.from),
            #[cfg(not(test))]
            Err(_) => {}
        }
    }

    /// The VC whose make call a refusal of the offer on `callee` (an
    /// incoming call not yet answered) takes down, with its context token:
    /// the calling VC of a point-to-point call, the root of a multipoint
    /// make call whose initial party's leaf `callee` is. None if `callee`
    /// is no such offer (an added party's leaf: its refusal leaves the
    /// root as it is). The glue marks that VC with its handshake before it
    /// gives the core a refusal
    /// ([`Self::incoming_call_complete_with_handlers`]).
    pub fn offer_caller(&self, callee: VcId) -> Option<(VcId, H)> {
        match self.vcs.get(callee.raw())?.state {
            VcState::Offered { caller } => {
                let c = self.vcs.get(caller.raw())?;
                matches!(c.state, VcState::Calling { callee: linked, .. } if linked == callee)
                    .then_some((caller, c.handle))
            }
            VcState::LeafOffered { party } => self.party_make_call_root(party),
            _ => None,
        }
    }

    /// ProtocolCmIncomingCallComplete on `callee`, or a dispatch NDIS
    /// refused (`status` = what NdisMCmDispatchIncomingCall returned).
    /// SUCCESS connects both ends; anything else takes the call down and
    /// fails the caller's make call with that status. If the make call
    /// handler is still running, the answer is kept for it to return;
    /// otherwise the effects complete the pended make call.
    pub fn incoming_call_complete(&mut self, callee: VcId, status: NDIS_STATUS) -> Result<Effects<H>, Refusal> {
        self.incoming_call_complete_with_handlers(callee, status, Handlers::NONE)
    }

    /// [`Self::incoming_call_complete`] when the glue has found handlers
    /// inside it, holding no pin, with the caller's context
    /// ([`Self::offer_caller`]) or the callee's (`inside`): a send on
    /// either VC, both active since the make call activated them, refused
    /// by [`Self::route`] but not yet gone. A refusal then leaves such a VC
    /// active, in [`VcState::Refused`], until [`Self::handlers_left`]: no
    /// VC is deactivated under a handler inside it (contract §3.3); the
    /// callee's is deleted (and its context freed) only after, and the make
    /// call fails only after, so its client cannot delete the caller's VC
    /// (and covmini free its context) under them either.
    pub fn incoming_call_complete_with_handlers(
        &mut self,
        callee: VcId,
        status: NDIS_STATUS,
        inside: Handlers,
    ) -> Result<Effects<H>, Refusal> {
        let v = *self.vc(callee).ok_or(Refusal::Invalid)?;
        if let VcState::LeafOffered { party } = v.state {
            return self.leaf_answered(callee, party, status, inside);
        }
        let VcState::Offered { caller } = v.state else {
            return Err(Refusal::Invalid);
        };
        let c = *self.vc(caller).ok_or(Refusal::Invalid)?;
        let VcState::Calling { callee: linked, phase } = c.state else {
            return Err(Refusal::Invalid);
        };
        if linked != callee {
            return Err(Refusal::Invalid);
        }
        // A client answering PENDING to NdisClIncomingCallComplete is a
        // client bug; a completion may never carry PENDING (contract §2).
        let status = if status == NDIS_STATUS_PENDING {
            NDIS_STATUS_FAILURE
        } else {
            status
        };
        let mut fx = Effects::new();
        if status == NDIS_STATUS_SUCCESS {
            self.shift(callee, VcEvent::Connect { peer: caller });
            self.shift(caller, VcEvent::Connect { peer: callee });
            fx.push(Effect::DispatchCallConnected(v.handle));
        } else {
            let refused = VcEvent::Refuse { status, phase };
            // A make call whose handler still runs deactivates its own VC
            // before it returns the failure (`make_call_end`): were this
            // CPU to do it, after the lock is dropped, the handler could
            // return first, failing the call with its VC still active.
            let caller_now = phase == MakeCallPhase::Pended;
            self.take_down_offer(caller, callee, inside, refused, caller_now, &mut fx);
            if inside.caller {
                // The last handler out of the caller's VC fails the make call.
                return Ok(fx);
            }
        }
        match phase {
            MakeCallPhase::Pended => {
                fx.push(Effect::CompleteMakeCall(c.handle, status));
                // The completion runs after the lock is dropped, while the
                // call is already up for everyone else: the caller's own
                // close (NdisClCloseCall may cross a make call still
                // outstanding) must not finish, nor a new call begin on
                // the VC, before it. Pinned until the glue made it
                // ([`Self::make_call_completed`]).
                if status == NDIS_STATUS_SUCCESS
                    && let Some(c) = self.vc(caller)
                {
                    c.busy = c.busy.saturating_add(1);
                }
            }
            MakeCallPhase::InHandler => {
                if let Some(c) = self.vc(caller) {
                    c.answer = Some(status);
                }
            }
        }
        Ok(fx)
    }

    /// The glue made a pended point-to-point make call's successful
    /// completion (NdisMCmMakeCallComplete): drops its pin on the caller,
    /// finishing a close of the caller that waited for it.
    pub fn make_call_completed(&mut self, caller: VcId) -> Effects<H> {
        self.unpin(caller, 1)
    }

    /// ProtocolCmMakeCall is about to return, after the dispatch returned
    /// (or the activation failed): the callee's answer if it came already,
    /// else PENDING (and the answer will complete the make call). A failure
    /// comes with the effects that deactivate the caller's VC, which the
    /// handler performs before it returns it (seed NdisMCmMakeCallComplete:
    /// a failed call leaves the VC inactive). Whoever answered while the
    /// handler ran left that to it: on another CPU, the deactivation could
    /// come after the handler's return.
    pub fn make_call_end(&mut self, caller: VcId) -> (NDIS_STATUS, Effects<H>) {
        let mut fx = Effects::new();
        let Some(c) = self.vc(caller) else {
            return (NDIS_STATUS_FAILURE, fx);
        };
        if let Some(status) = c.answer.take() {
            if status != NDIS_STATUS_SUCCESS {
                self.deactivate(caller, &mut fx);
            }
            return (status, fx);
        }
        let status = match c.state {
            // Refused: handlers are still inside the caller's VC; the last
            // one out completes the make call.
            VcState::Calling { .. } | VcState::Refused { .. } | VcState::Withdrawn { .. } => {
                self.shift(caller, VcEvent::Pend);
                NDIS_STATUS_PENDING
            }
            // Not calling and no answer: nothing can complete it later.
            _ => NDIS_STATUS_FAILURE,
        };
        (status, fx)
    }

    /// ProtocolCmCloseCall on `id` (either end, or an echo call). Tells the
    /// peer (incoming close; the peer is pinned until the glue has made that
    /// call and [`Self::unpin`]s it, so it cannot be deleted under it), then
    /// finishes the close: deactivates the VC and completes, a client VC at
    /// once (it goes idle, for reuse or ProtocolCoDeleteVc), an MCM VC by
    /// pending, completing, and deleting it (seed NdisMCmCloseCallComplete:
    /// "If the MCM driver originally created the VC, it should call
    /// NdisMCmDeleteVc with the same NdisVcHandle").
    ///
    /// A VC with sends held or receives outstanding (contract §3.3: "before
    /// deactivating, complete all pending sends and wait for indicated
    /// receives to come back") is not deactivated yet: the close pends in
    /// [`VcState::Closing`] and the last [`Self::unpin`] finishes it.
    pub fn close_call(&mut self, id: VcId) -> Result<Finish<H>, Refusal> {
        self.close_call_with_handlers(id, false)
    }

    /// [`Self::close_call`] when the glue has found handlers inside it with
    /// the VC's context that hold no pin yet (`handlers_inside`: a send
    /// that has not reached [`Self::route`], say). Then the close pends, as
    /// for a pin, and [`Self::handlers_left`] finishes it once they are
    /// gone: the VC is neither deactivated nor deleted under them.
    ///
    /// The glue reads its count after marking the VC closing where every
    /// entering handler looks (the handshake is the glue's, `ffi::data`'s
    /// module docs); a handler that enters after this sees that mark and
    /// takes nothing.
    pub fn close_call_with_handlers(&mut self, id: VcId, handlers_inside: bool) -> Result<Finish<H>, Refusal> {
        let v = *self.vc(id).ok_or(Refusal::Invalid)?;
        let mut tell = Effects::new();
        let peer = match v.state {
            VcState::Connected { peer } => peer,
            // (`EchoActivating`, not active yet: its make call is still
            // activating it and uses its call's parameters, is refused
            // below like a close of any call whose make call is
            // outstanding.)
            VcState::Echo => None,
            // A root whose parties were detached ([`Self::detach_party`]);
            // one still pinned by an incoming drop party being dispatched
            // goes when that is done (its pin on the root holds the close).
            VcState::Root {
                phase: RootPhase::Closing,
            } => None,
            VcState::Leaf { party } => {
                if let Some(p) = party {
                    self.leaf_hung_up(p, &mut tell);
                }
                None
            }
            // Set-up calls are finished by the callee's answer, not closed;
            // a root closes through begin_root_close first.
            _ => return Err(Refusal::Invalid),
        };
        if let Some(p) = peer {
            self.unlink(p, id);
            if let Some(pv) = self.vc(p) {
                pv.busy = pv.busy.saturating_add(1);
                tell.push(Effect::DispatchIncomingClose(pv.handle));
            }
        }
        self.shift(id, VcEvent::Close);
        if let Some(me) = self.vc(id) {
            me.waits_for_handlers |= handlers_inside;
        }
        if v.busy > 0 || v.waits_for_handlers || handlers_inside {
            return Ok(Finish::Pend(tell));
        }
        Ok(self.finish_close(id, tell, true))
    }

    /// Whether a close of `id` waits for handlers inside the glue
    /// ([`Self::close_call_with_handlers`]).
    #[must_use]
    pub fn waits_for_handlers(&self, id: VcId) -> bool {
        self.vcs.get(id.raw()).is_some_and(|v| v.waits_for_handlers)
    }

    /// The glue's handlers with `id`'s context that a close waited for are
    /// all gone: the close finishes if nothing else holds it (no pin).
    pub fn handlers_left(&mut self, id: VcId) -> Effects<H> {
        let fx = Effects::new();
        let Some(v) = self.vc(id) else { return fx };
        if !v.waits_for_handlers {
            return fx;
        }
        v.waits_for_handlers = false;
        match v.state {
            VcState::Refused { status, phase } | VcState::Withdrawn { status, phase } => {
                return self.refusal_done(id, status, phase);
            }
            VcState::RootRefused { party, status } | VcState::RootWithdrawn { party, status } => {
                return self.root_refusal_done(id, party, status);
            }
            _ => {}
        }
        if v.busy > 0 || !matches!(v.state, VcState::Closing) {
            return fx;
        }
        match self.finish_close(id, fx, false) {
            Finish::Return(_, fx) | Finish::Pend(fx) => fx,
        }
    }

    /// A refused make call's handlers left `id` ([`VcState::Refused`]): its
    /// VC is idle, and the make call fails with `status` after the VC was
    /// deactivated. A pended make call is deactivated and completed by
    /// whoever performs these effects; should ProtocolCmMakeCall still be
    /// running, it gets the answer and deactivates the VC itself before it
    /// returns it ([`Self::make_call_end`]). A refused callee (its VC
    /// covmini's) is deactivated and deleted instead.
    fn refusal_done(&mut self, id: VcId, status: NDIS_STATUS, phase: MakeCallPhase) -> Effects<H> {
        let mut fx = Effects::new();
        let Some(c) = self.vc(id) else { return fx };
        if c.origin == VcOrigin::CallManager {
            self.deactivate(id, &mut fx);
            if let Some(c) = self.vc(id) {
                fx.push(Effect::DeleteVc(c.handle));
            }
            self.remove_vc(id, &mut fx);
            return fx;
        }
        self.shift(id, VcEvent::SetupFailed);
        let Some(c) = self.vc(id) else { return fx };
        match phase {
            MakeCallPhase::InHandler => c.answer = Some(status),
            MakeCallPhase::Pended => {
                let handle = c.handle;
                self.deactivate(id, &mut fx);
                fx.push(Effect::CompleteMakeCall(handle, status));
            }
        }
        fx
    }

    /// Deactivates and completes the close of a drained VC, with `tell` (the
    /// peer's incoming close) right after the deactivation. `in_handler`:
    /// ProtocolCmCloseCall is running and may return SUCCESS itself.
    fn finish_close(&mut self, id: VcId, tell: Effects<H>, in_handler: bool) -> Finish<H> {
        let mut fx = Effects::new();
        let Some(v) = self.vc(id).map(|v| *v) else {
            return Finish::Return(NDIS_STATUS_FAILURE, tell);
        };
        self.deactivate(id, &mut fx);
        fx.extend(tell);
        match v.origin {
            VcOrigin::Client => {
                self.shift(id, VcEvent::Closed);
                if in_handler {
                    Finish::Return(NDIS_STATUS_SUCCESS, fx)
                } else {
                    fx.push(Effect::CompleteCloseCall(v.handle));
                    Finish::Pend(fx)
                }
            }
            VcOrigin::CallManager => {
                fx.push(Effect::CompleteCloseCall(v.handle));
                fx.push(Effect::DeleteVc(v.handle));
                self.remove_vc(id, &mut fx);
                Finish::Pend(fx)
            }
        }
    }

    // --- The echo address ----------------------------------------------------

    /// ProtocolCmMakeCall on `caller` to [`ECHO_ADDRESS`]: no SAP, no callee
    /// VC. The VC is an echo call, not active until [`Self::echo_activated`].
    /// A multipoint call to it is refused ([`Refusal::NotSupported`]): the
    /// echo answers the root itself, so there would be no leaf to add.
    pub fn make_call_echo(&mut self, caller: VcId, multipoint: bool) -> Result<(), Refusal> {
        let c = self.vc(caller).ok_or(Refusal::Invalid)?;
        if multipoint {
            return Err(Refusal::NotSupported);
        }
        if c.origin != VcOrigin::Client || !matches!(c.state, VcState::Idle) {
            return Err(Refusal::CallActive);
        }
        c.answer = None;
        self.shift(caller, VcEvent::Echo);
        Ok(())
    }

    /// The glue activated the echo call's VC (`ok`: NdisMCmActivateVc
    /// succeeded). Returns what the make call handler returns.
    pub fn echo_activated(&mut self, caller: VcId, ok: bool) -> NDIS_STATUS {
        if self.vc(caller).is_none() {
            return NDIS_STATUS_FAILURE;
        }
        if ok {
            self.shift(caller, VcEvent::Activate);
            NDIS_STATUS_SUCCESS
        } else {
            self.shift(caller, VcEvent::SetupFailed);
            NDIS_STATUS_FAILURE
        }
    }

    // --- The data path ---------------------------------------------------------

    /// MiniportCoSendNetBufferLists on `sender`, about to hold `sends` send
    /// NBLs and indicate `receives` receive NBLs: where they go. Only a
    /// connected, active VC whose peer is connected and active sends (an
    /// echo call sends to itself); the sender is pinned `sends` times and
    /// the target `receives` times, so neither close can deactivate its VC
    /// before the glue [`Self::unpin`]s them (completion, return).
    /// A multipoint root sends to every connected, active leaf (each pinned
    /// `receives` times); a leaf does not send ([`Refusal::LeafSend`]).
    /// `Err` otherwise: the VC is not active (NDIS_STATUS_VC_NOT_ACTIVATED).
    pub fn route(&mut self, sender: VcId, sends: u32, receives: u32) -> Result<Route<H>, Refusal> {
        let s = *self.vc(sender).ok_or(Refusal::Invalid)?;
        if matches!(s.state, VcState::Leaf { .. }) {
            return Err(Refusal::LeafSend);
        }
        if !s.state.is_active() {
            return Err(Refusal::Invalid);
        }
        let target = match s.state {
            VcState::Echo => sender,
            VcState::Connected { peer: Some(p) } => p,
            VcState::Root { phase: RootPhase::Up } => return self.fan_out(sender, sends, receives),
            _ => return Err(Refusal::Invalid),
        };
        let t = *self.vc(target).ok_or(Refusal::Invalid)?;
        let target_ok = t.state.is_active()
            && match t.state {
                VcState::Echo => true,
                VcState::Connected { peer } => peer == Some(sender),
                _ => false,
            };
        if !target_ok {
            return Err(Refusal::Invalid);
        }
        if let Some(s) = self.vc(sender) {
            s.busy = s.busy.saturating_add(sends);
        }
        if let Some(t) = self.vc(target) {
            t.busy = t.busy.saturating_add(receives);
        }
        let mut route = Route::new();
        route.push(target, t.handle);
        Ok(route)
    }

    /// Drops `n` pins of `id` (sends completed, receives returned, an
    /// effect naming it performed). The last one finishes a pended close,
    /// unless it also waits for handlers ([`Self::handlers_left`]).
    pub fn unpin(&mut self, id: VcId, n: u32) -> Effects<H> {
        let fx = Effects::new();
        if n == 0 {
            return fx;
        }
        let Some(v) = self.vc(id) else { return fx };
        v.busy = v.busy.saturating_sub(n);
        if v.busy > 0 || v.waits_for_handlers || !matches!(v.state, VcState::Closing) {
            return fx;
        }
        match self.finish_close(id, fx, false) {
            Finish::Return(_, fx) | Finish::Pend(fx) => fx,
        }
    }

    // --- QoS changes -------------------------------------------------------------

    /// ProtocolCmModifyCallQoS on `id`, whose new flows the glue checked
    /// ([`check_flows`]). Only a connected, active call (or an echo call)
    /// changes its QoS, and one change at a time on a call: the VC and its
    /// peer are marked changing and pinned, so neither close can deactivate
    /// or delete them while the glue re-activates them
    /// (NdisMCmActivateVc) and tells the peer
    /// (NdisMCmDispatchIncomingCallQoSChange). Returns the peer to tell, if
    /// it is still connected. The glue ends with [`Self::modify_qos_end`].
    pub fn modify_qos_begin(&mut self, id: VcId) -> Result<Option<(VcId, H)>, Refusal> {
        let v = *self.vc(id).ok_or(Refusal::Invalid)?;
        if !v.state.is_active() || v.qos_changing {
            return Err(Refusal::Invalid);
        }
        let peer = match v.state {
            VcState::Echo | VcState::Connected { peer: None } => None,
            VcState::Connected { peer: Some(p) } => {
                let pv = *self.vc(p).ok_or(Refusal::Invalid)?;
                if pv.qos_changing {
                    return Err(Refusal::Invalid);
                }
                // Connected is active (VcState::is_active): no other check.
                let linked = matches!(pv.state, VcState::Connected { peer: Some(x) } if x == id);
                linked.then_some((p, pv.handle))
            }
            _ => return Err(Refusal::Invalid),
        };
        for pin in core::iter::once(id).chain(peer.map(|(p, _)| p)) {
            if let Some(x) = self.vc(pin) {
                x.qos_changing = true;
                x.busy = x.busy.saturating_add(1);
            }
        }
        Ok(peer)
    }

    /// The QoS change [`Self::modify_qos_begin`] started on `id` (and
    /// `peer`) is done: clears the marks and drops the pins (which may
    /// finish a close that came meanwhile).
    pub fn modify_qos_end(&mut self, id: VcId, peer: Option<VcId>) -> Effects<H> {
        let mut fx = Effects::new();
        for pin in core::iter::once(id).chain(peer) {
            if let Some(x) = self.vc(pin) {
                x.qos_changing = false;
            }
            fx.extend(self.unpin(pin, 1));
        }
        fx
    }

    /// How many pins `id` has (for tests and traces).
    #[must_use]
    pub fn busy(&self, id: VcId) -> u32 {
        self.vcs.get(id.raw()).map_or(0, |v| v.busy)
    }

    /// The addresses a call reaches now, in table order: those of the
    /// registered SAPs whose AF is open (the rule [`Self::make_call_begin`]
    /// routes by). Read-only, for `OID_CO_GET_ADDRESSES`.
    pub fn sap_addresses(&self) -> impl Iterator<Item = &Address> + '_ {
        self.saps.iter().flatten().filter_map(|s| {
            let af_open = matches!(self.afs.get(s.af.index()), Some(Some(a)) if a.state == AfState::Open);
            (s.state == SapState::Registered && af_open).then_some(&s.address)
        })
    }
}

#[cfg(test)]
mod setup_tests;
#[cfg(test)]
mod tests;
