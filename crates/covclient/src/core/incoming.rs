//! What NDIS tells covclient ([`Core::complete`]): completions of the calls
//! [`Core::request`] asked for, the call manager's calls for incoming calls
//! and closes, and the bindings' news. Cleanup's and the unbind's undo
//! order is in `undo`.
//!
//! Owns: the arrow each callback applies and the event it posts
//! (docs/covclient-ioctl.md, "Events", gives each kind's fields). Must not:
//! make NDIS calls (a callback's answer is returned to the glue).

use covclient_abi::{
    AfInfo, COVCLIENT_ANSWER_ACCEPT, COVCLIENT_ANSWER_PEND, COVCLIENT_ANSWER_REJECT, COVCLIENT_EVENT_ADAPTER_BOUND,
    COVCLIENT_EVENT_ADAPTER_UNBIND, COVCLIENT_EVENT_ADD_PARTY_COMPLETE, COVCLIENT_EVENT_AF_OFFERED,
    COVCLIENT_EVENT_CALL_CONNECTED, COVCLIENT_EVENT_CLOSE_AF_COMPLETE, COVCLIENT_EVENT_CLOSE_CALL_COMPLETE,
    COVCLIENT_EVENT_DEREGISTER_SAP_COMPLETE, COVCLIENT_EVENT_DROP_PARTY_COMPLETE, COVCLIENT_EVENT_INCOMING_CALL,
    COVCLIENT_EVENT_INCOMING_CLOSE, COVCLIENT_EVENT_INCOMING_DROP_PARTY, COVCLIENT_EVENT_INCOMING_QOS_CHANGE,
    COVCLIENT_EVENT_MAKE_CALL_COMPLETE, COVCLIENT_EVENT_MODIFY_QOS_COMPLETE, COVCLIENT_EVENT_OPEN_AF_COMPLETE,
    COVCLIENT_EVENT_REGISTER_SAP_COMPLETE, COVCLIENT_EVENT_SEND_COMPLETE, Event, Handle,
};

use super::state::{AfEvent, AfState, PartyEvent, SapEvent, SapState, VcEvent, VcState};
use super::{Adapter, AnswerMode, Core, FileId, Origin, bad_handle, ndis, ntstatus::*};

/// An NDIS callback about an object of the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// ProtocolClOpenAfCompleteEx.
    OpenAf(Handle, u32),
    /// ProtocolClCloseAfComplete.
    CloseAf(Handle, u32),
    /// ProtocolClRegisterSapComplete.
    RegisterSap(Handle, u32),
    /// ProtocolClDeregisterSapComplete.
    DeregisterSap(Handle, u32),
    /// ProtocolClMakeCallComplete (the VC, the initial party; `None`: the
    /// VC's party being added, if any).
    MakeCall(Handle, Option<Handle>, u32),
    /// ProtocolClCloseCallComplete.
    CloseCall(Handle, u32),
    /// ProtocolClAddPartyComplete (the party).
    AddParty(Handle, u32),
    /// ProtocolClDropPartyComplete (the party).
    DropParty(Handle, u32),
    /// ProtocolClModifyCallQoSComplete.
    ModifyQos(Handle, u32),
    /// ProtocolClCallConnected.
    CallConnected(Handle),
    /// ProtocolClIncomingCloseCall (the close status).
    IncomingClose(Handle, u32),
    /// ProtocolClIncomingDropParty (the party, the status).
    IncomingDropParty(Handle, u32),
    /// ProtocolClIncomingCallQoSChange.
    QosChange(Handle),
    /// ProtocolCoSendNetBufferListsComplete for one send: NBLs succeeded,
    /// failed, the first failure's status.
    SendComplete(Handle, u32, u32, u32),
}

/// ProtocolClIncomingCall's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncomingAnswer {
    /// What the handler returns: SUCCESS, the SAP's reject status, or
    /// PENDING (the client answers with ANSWER_CALL).
    pub status: u32,
    /// The open whose pended WAIT_EVENTS to complete.
    pub wake: Option<FileId>,
}

fn event(kind: u32, status: u32, object: Option<Handle>, related: Option<Handle>) -> Event {
    Event {
        kind,
        ndis_status: status,
        sequence: 0,
        adapter: 0,
        object: object.map_or(0, Handle::raw),
        related: related.map_or(0, Handle::raw),
        arg0: 0,
        arg1: 0,
        arg2: 0,
    }
}

impl Core {
    /// Applies a completion and posts its event. Returns the open whose
    /// pended WAIT_EVENTS to complete.
    ///
    /// # Errors
    /// STATUS_INVALID_HANDLE for an object the core does not hold, or
    /// STATUS_INVALID_DEVICE_STATE for one not waiting for this callback:
    /// NDIS broke the protocol (the glue traces it; nothing changes).
    pub fn complete(&mut self, c: Completion) -> Result<Option<FileId>, u32> {
        let ok_of = |s: u32| s == ndis::SUCCESS;
        let (owner, ev) = match c {
            Completion::OpenAf(af, s) => {
                let owner = self.afs.owner(af).map_err(bad_handle)?;
                self.af_on(af, AfEvent::OpenDone(ok_of(s)))?;
                (owner, event(COVCLIENT_EVENT_OPEN_AF_COMPLETE, s, Some(af), None))
            }
            Completion::CloseAf(af, s) => {
                let owner = self.afs.owner(af).map_err(bad_handle)?;
                self.af_on(af, AfEvent::CloseDone)?;
                (owner, event(COVCLIENT_EVENT_CLOSE_AF_COMPLETE, s, Some(af), None))
            }
            Completion::RegisterSap(sap, s) => {
                let owner = self.saps.owner(sap).map_err(bad_handle)?;
                self.sap_on(None, sap, SapEvent::RegisterDone(ok_of(s)))?;
                (owner, event(COVCLIENT_EVENT_REGISTER_SAP_COMPLETE, s, Some(sap), None))
            }
            Completion::DeregisterSap(sap, s) => {
                let owner = self.saps.owner(sap).map_err(bad_handle)?;
                self.sap_on(None, sap, SapEvent::DeregisterDone)?;
                (
                    owner,
                    event(COVCLIENT_EVENT_DEREGISTER_SAP_COMPLETE, s, Some(sap), None),
                )
            }
            Completion::MakeCall(vc, party, s) => {
                let owner = self.vcs.owner(vc).map_err(bad_handle)?;
                // NDIS passes its own party handle, not the context: the
                // initial party is the VC's party still being added.
                let party = party.or_else(|| self.adding_party_of(vc));
                self.vc_on(None, vc, VcEvent::MakeCallDone(ok_of(s)))?;
                if let Some(p) = party {
                    // Freed with the VC's parties if the VC went; else added or gone.
                    let _ = self.party_on(None, p, PartyEvent::AddDone(ok_of(s)));
                }
                (owner, event(COVCLIENT_EVENT_MAKE_CALL_COMPLETE, s, Some(vc), party))
            }
            Completion::CloseCall(vc, s) => {
                let owner = self.vcs.owner(vc).map_err(bad_handle)?;
                self.vc_on(None, vc, VcEvent::CloseDone)?;
                self.remove_parties_of(vc);
                (owner, event(COVCLIENT_EVENT_CLOSE_CALL_COMPLETE, s, Some(vc), None))
            }
            Completion::AddParty(p, s) => {
                let owner = self.parties.owner(p).map_err(bad_handle)?;
                let vc = self.parties.get(p, None).map_err(bad_handle)?.vc;
                self.party_on(None, p, PartyEvent::AddDone(ok_of(s)))?;
                (owner, event(COVCLIENT_EVENT_ADD_PARTY_COMPLETE, s, Some(vc), Some(p)))
            }
            Completion::DropParty(p, s) => {
                let owner = self.parties.owner(p).map_err(bad_handle)?;
                self.party_on(None, p, PartyEvent::DropDone)?;
                (owner, event(COVCLIENT_EVENT_DROP_PARTY_COMPLETE, s, None, Some(p)))
            }
            Completion::IncomingDropParty(p, s) => {
                let owner = self.parties.owner(p).map_err(bad_handle)?;
                self.party_on(None, p, PartyEvent::IncomingDrop)?;
                (owner, event(COVCLIENT_EVENT_INCOMING_DROP_PARTY, s, None, Some(p)))
            }
            Completion::ModifyQos(vc, s) => {
                let owner = self.vcs.owner(vc).map_err(bad_handle)?;
                (owner, event(COVCLIENT_EVENT_MODIFY_QOS_COMPLETE, s, Some(vc), None))
            }
            Completion::QosChange(vc) => {
                let owner = self.vcs.owner(vc).map_err(bad_handle)?;
                (owner, event(COVCLIENT_EVENT_INCOMING_QOS_CHANGE, 0, Some(vc), None))
            }
            Completion::CallConnected(vc) => {
                let owner = self.vcs.owner(vc).map_err(bad_handle)?;
                self.vc_on(None, vc, VcEvent::CallConnected)?;
                (owner, event(COVCLIENT_EVENT_CALL_CONNECTED, 0, Some(vc), None))
            }
            Completion::IncomingClose(vc, s) => {
                let owner = self.vcs.owner(vc).map_err(bad_handle)?;
                self.vc_on(None, vc, VcEvent::IncomingClose)?;
                (owner, event(COVCLIENT_EVENT_INCOMING_CLOSE, s, Some(vc), None))
            }
            Completion::SendComplete(vc, ok, failed, s) => {
                let owner = self.vcs.owner(vc).map_err(bad_handle)?;
                if let Some(c) = self.counters_mut(vc) {
                    c.send_completed(ok, failed, s);
                }
                let mut e = event(COVCLIENT_EVENT_SEND_COMPLETE, 0, Some(vc), None);
                (e.arg0, e.arg1, e.arg2) = (u64::from(ok), u64::from(failed), u64::from(s));
                (owner, e)
            }
        };
        Ok(self.post(owner, ev))
    }

    /// The party of `vc` whose add (or multipoint make call) is in flight.
    fn adding_party_of(&self, vc: Handle) -> Option<Handle> {
        self.parties
            .iter()
            .find(|(_, _, p)| p.vc == vc && p.state == super::state::PartyState::Adding)
            .map(|(h, ..)| h)
    }

    /// ProtocolCoCreateVc: the call manager creates a VC on `af` for an
    /// incoming call. The VC's handle (the glue's ProtocolVcContext), or the
    /// status to return (NDIS_STATUS_RESOURCES when full is the glue's).
    ///
    /// # Errors
    /// STATUS_INVALID_HANDLE / _DEVICE_STATE for an AF not open.
    pub fn cm_create_vc(&mut self, af: Handle) -> Result<Handle, u32> {
        let owner = self.afs.owner(af).map_err(bad_handle)?;
        if self.afs.get(af, None).map_err(bad_handle)?.state != AfState::Open {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        self.insert_vc(owner, af, VcState::Offered, Origin::CallManager)
    }

    /// ProtocolCoDeleteVc: the call manager deletes its VC.
    ///
    /// # Errors
    /// As [`Self::complete`].
    pub fn cm_delete_vc(&mut self, vc: Handle) -> Result<(), u32> {
        self.vc_on(None, vc, VcEvent::CmDelete)
    }

    /// ProtocolClIncomingCall on `sap` for the call manager's `vc`: answers
    /// as the SAP's mode says and posts INCOMING_CALL.
    ///
    /// # Errors
    /// As [`Self::complete`] (the glue rejects the call with
    /// NDIS_STATUS_FAILURE).
    pub fn incoming_call(&mut self, sap: Handle, vc: Handle) -> Result<IncomingAnswer, u32> {
        let s = *self.saps.get(sap, None).map_err(bad_handle)?;
        if s.state != SapState::Registered {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        let (ev, status, mode) = match s.answer {
            AnswerMode::Accept => (VcEvent::Accept, ndis::SUCCESS, COVCLIENT_ANSWER_ACCEPT),
            AnswerMode::Reject(st) => (VcEvent::Reject, st, COVCLIENT_ANSWER_REJECT),
            AnswerMode::Pend => (VcEvent::Pend, ndis::PENDING, COVCLIENT_ANSWER_PEND),
        };
        self.vc_on(None, vc, ev)?;
        if let Ok(v) = self.vcs.get_mut(vc, None) {
            v.sap = Some(sap);
        }
        let owner = self.vcs.owner(vc).map_err(bad_handle)?;
        let mut e = event(COVCLIENT_EVENT_INCOMING_CALL, 0, Some(vc), Some(sap));
        e.arg0 = u64::from(mode);
        Ok(IncomingAnswer {
            status,
            wake: self.post(owner, e),
        })
    }

    /// ProtocolBindAdapterEx succeeded: a new adapter, announced to every
    /// open. `None` when [`super::MAX_ADAPTERS`] are bound.
    pub fn adapter_bound(&mut self, net_luid: u64, if_index: u32) -> Option<Handle> {
        let empty = AfInfo {
            address_family: 0,
            major_version: 0,
            minor_version: 0,
            reserved: 0,
        };
        let a = Adapter {
            net_luid,
            if_index,
            af_count: 0,
            afs: [empty; 4],
        };
        let h = self.adapters.insert(None, a)?;
        let mut e = event(COVCLIENT_EVENT_ADAPTER_BOUND, 0, None, None);
        e.adapter = h.raw();
        self.post(None, e);
        Some(h)
    }

    /// ProtocolCoAfRegisterNotify: `af` is offered on `adapter`; recorded
    /// (the first four) and announced.
    pub fn af_offered(&mut self, adapter: Handle, af: AfInfo) {
        let Ok(a) = self.adapters.get_mut(adapter, None) else {
            return;
        };
        if let Some(slot) = a.afs.get_mut(a.af_count as usize) {
            *slot = af;
            a.af_count += 1;
        }
        let mut e = event(COVCLIENT_EVENT_AF_OFFERED, 0, None, None);
        e.adapter = adapter.raw();
        e.arg0 = u64::from(af.address_family);
        e.arg1 = (u64::from(af.major_version) << 16) | u64::from(af.minor_version & 0xFFFF);
        self.post(None, e);
    }

    /// The binding opened covmini's AF on `adapter` by itself (the
    /// skeleton's behaviour): the AF is the driver's (owner `None`), usable
    /// by every open (SAPs, VCs) and closed only by the driver; announced as
    /// OPEN_AF_COMPLETE to every open. `None` when the AF table is full.
    pub fn driver_af_opened(&mut self, adapter: Handle) -> Option<Handle> {
        self.adapters.get(adapter, None).ok()?;
        let af = super::Af {
            adapter,
            state: AfState::Open,
        };
        let h = self.afs.insert(None, af)?;
        let mut e = event(COVCLIENT_EVENT_OPEN_AF_COMPLETE, ndis::SUCCESS, Some(h), None);
        e.adapter = adapter.raw();
        self.post(None, e);
        Some(h)
    }

    /// The driver starts closing its AF (the unbind, or the call manager's
    /// ProtocolClNotifyCloseAf): no new SAP or VC on it from now on.
    ///
    /// # Errors
    /// As [`Self::complete`].
    pub fn driver_af_closing(&mut self, af: Handle) -> Result<(), u32> {
        self.af_on(af, AfEvent::Close)
    }

    /// The driver's AF is closed: it (and anything left under it) is freed
    /// and CLOSE_AF_COMPLETE announced to every open.
    pub fn driver_af_closed(&mut self, af: Handle, status: u32) {
        let adapter = self.afs.get(af, None).map(|a| a.adapter).ok();
        self.forget_af(af);
        let mut e = event(COVCLIENT_EVENT_CLOSE_AF_COMPLETE, status, Some(af), None);
        e.adapter = adapter.map_or(0, Handle::raw);
        self.post(None, e);
    }

    /// The adapter is unbound (after NDIS closed everything on it): every
    /// object under it is freed and ADAPTER_UNBIND announced.
    pub fn adapter_gone(&mut self, adapter: Handle) {
        let mut afs = [None; super::MAX_AFS];
        for ((h, _, _), slot) in self
            .afs
            .iter()
            .filter(|(_, _, a)| a.adapter == adapter)
            .zip(afs.iter_mut())
        {
            *slot = Some(h);
        }
        for af in afs.into_iter().flatten() {
            self.forget_af(af);
        }
        if self.adapters.remove(adapter).is_ok() {
            let mut e = event(COVCLIENT_EVENT_ADAPTER_UNBIND, 0, None, None);
            e.adapter = adapter.raw();
            self.post(None, e);
        }
    }

    fn forget_af(&mut self, af: Handle) {
        let mut vcs = [None; super::MAX_VCS];
        for ((h, _, _), slot) in self.vcs.iter().filter(|(_, _, v)| v.af == af).zip(vcs.iter_mut()) {
            *slot = Some(h);
        }
        for vc in vcs.into_iter().flatten() {
            self.remove_parties_of(vc);
            let _ = self.vcs.remove(vc);
        }
        let mut saps = [None; super::MAX_SAPS];
        for ((h, _, _), slot) in self.saps.iter().filter(|(_, _, s)| s.af == af).zip(saps.iter_mut()) {
            *slot = Some(h);
        }
        for sap in saps.into_iter().flatten() {
            let _ = self.saps.remove(sap);
        }
        let _ = self.afs.remove(af);
    }
}
