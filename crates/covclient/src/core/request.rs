//! Each parsed request's decision ([`Core::request`]) and the finish of the
//! NDIS call it asked for ([`Core::returned`]).
//!
//! Owns: the checks a request passes before an NDIS call (the output
//! length, the handles' generations and owners, the objects' states) and
//! the arrows requests and synchronous returns apply. Must not: make NDIS
//! calls or change state for a PENDING return (the completion does).

use covclient_abi::response::{encode, encode_adapters};
use covclient_abi::{
    AdapterInfo, COVCLIENT_ABI_VERSION, COVCLIENT_ANSWER_ACCEPT, COVCLIENT_ANSWER_PEND, COVCLIENT_CALL_MULTIPOINT,
    COVCLIENT_MAX_EVENTS, COVMINI_AF, COVMINI_AF_MAJOR_VERSION, COVMINI_AF_MINOR_VERSION, Handle, HandleKind, Request,
    VersionInfo,
};

use super::events::Wait;
use super::state::{AfEvent, PartyEvent, PartyState, SapEvent, SapState, VcEvent, VcState};
use super::{
    Af, AnswerMode, Core, FileId, MAX_ADAPTERS, NdisCall, Origin, Outcome, Party, Sap, Vc, bad_handle, bad_state, ndis,
    ntstatus::*, op_result,
};
use crate::core::counters::VcCounters;
use crate::core::state::AfState;
use crate::policy;

/// `?` for `Result<T, u32 NTSTATUS>` inside a function answering [`Outcome`].
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return Outcome::Refuse(status),
        }
    };
}

impl Core {
    /// Decides `req` from `file` with output buffer `out` (nothing is
    /// written unless the outcome is [`Outcome::Done`]).
    pub fn request(&mut self, file: FileId, req: &Request<'_>, out: &mut [u8]) -> Outcome {
        if let Err(e) = req.check_output(out.len()) {
            return Outcome::Refuse(e.ntstatus());
        }
        let f = Some(file);
        match *req {
            Request::GetVersion => self.version(out),
            Request::ListAdapters { first } => self.list_adapters(first, out),
            Request::OpenAf { adapter, af } => {
                tri!(self.adapters.get(adapter, None).map_err(bad_handle));
                let new = tri!(self.insert_af(f, adapter));
                Outcome::Call(NdisCall::OpenAf {
                    adapter,
                    af: new,
                    family: af,
                })
            }
            Request::CloseAf(af) => {
                if tri!(self.afs.owner(af).map_err(bad_handle)).is_none() {
                    // The driver's own AF (the binding's): closed only by it.
                    return Outcome::Refuse(STATUS_ACCESS_DENIED);
                }
                tri!(self.afs.get(af, f).map_err(bad_handle));
                if self.saps.iter().any(|(_, _, s)| s.af == af) || self.vcs.iter().any(|(_, _, v)| v.af == af) {
                    return Outcome::Refuse(STATUS_INVALID_DEVICE_STATE);
                }
                tri!(self.af_on(af, AfEvent::Close));
                Outcome::Call(NdisCall::CloseAf(af))
            }
            Request::RegisterSap { af, req } => {
                if tri!(self.afs.get(af, f).map_err(bad_handle)).state != AfState::Open {
                    return Outcome::Refuse(STATUS_INVALID_DEVICE_STATE);
                }
                let answer = match req.answer_mode {
                    COVCLIENT_ANSWER_ACCEPT => AnswerMode::Accept,
                    COVCLIENT_ANSWER_PEND => AnswerMode::Pend,
                    // The parser admits only the three modes.
                    _ => AnswerMode::Reject(req.reject_status),
                };
                let sap = Sap {
                    af,
                    state: SapState::Registering,
                    answer,
                };
                let new = tri!(self.saps.insert(f, sap).ok_or(STATUS_INSUFFICIENT_RESOURCES));
                Outcome::Call(NdisCall::RegisterSap {
                    af,
                    sap: new,
                    sap_type: req.sap_type,
                    sap_length: req.sap_length,
                    bytes: req.sap,
                })
            }
            Request::DeregisterSap(sap) => {
                tri!(self.sap_on(f, sap, SapEvent::Deregister));
                Outcome::Call(NdisCall::DeregisterSap(sap))
            }
            Request::CreateVc(af) => {
                if tri!(self.afs.get(af, f).map_err(bad_handle)).state != AfState::Open {
                    return Outcome::Refuse(STATUS_INVALID_DEVICE_STATE);
                }
                let vc = tri!(self.insert_vc(f, af, VcState::Creating, Origin::Client));
                Outcome::Call(NdisCall::CreateVc { af, vc })
            }
            Request::DeleteVc(vc) => {
                if tri!(self.vcs.get(vc, f).map_err(bad_handle)).origin != Origin::Client {
                    // The call manager's VC: it deletes it (contract §3.3).
                    return Outcome::Refuse(STATUS_INVALID_DEVICE_STATE);
                }
                tri!(self.vc_on(f, vc, VcEvent::Delete));
                Outcome::Call(NdisCall::DeleteVc(vc))
            }
            Request::MakeCall { vc, params } => self.make_call(f, vc, params),
            Request::AnswerCall { vc, answer } => {
                let (event, status) = match answer {
                    Ok(()) => (VcEvent::Accept, ndis::SUCCESS),
                    Err(s) => (VcEvent::Reject, s),
                };
                if tri!(self.vcs.get(vc, f).map_err(bad_handle)).state != VcState::Pended {
                    return Outcome::Refuse(STATUS_INVALID_DEVICE_STATE);
                }
                tri!(self.vc_on(f, vc, event));
                Outcome::Call(NdisCall::IncomingCallComplete { vc, status })
            }
            Request::AddParty { vc, params } => {
                let v = *tri!(self.vcs.get(vc, f).map_err(bad_handle));
                if v.state != VcState::Connected || !v.multipoint {
                    return Outcome::Refuse(STATUS_INVALID_DEVICE_STATE);
                }
                let party = tri!(self.insert_party(f, vc));
                Outcome::Call(NdisCall::AddParty { vc, party, params })
            }
            Request::DropParty { party, data } => {
                tri!(self.party_on(f, party, PartyEvent::Drop));
                Outcome::Call(NdisCall::DropParty { party, data })
            }
            Request::ModifyQos {
                vc,
                with_call_mgr_parameters,
                transmit,
                receive,
            } => {
                tri!(self.connected(f, vc));
                Outcome::Call(NdisCall::ModifyQos {
                    vc,
                    with_call_mgr_parameters,
                    transmit,
                    receive,
                })
            }
            Request::CloseCall { vc, party, data } => self.close_call(f, vc, party, data),
            Request::Send {
                vc,
                nbl_count,
                nbl_size,
                pattern,
                seed,
            } => {
                tri!(self.connected(f, vc));
                Outcome::Call(NdisCall::Send {
                    vc,
                    nbl_count,
                    nbl_size,
                    pattern,
                    seed,
                })
            }
            Request::GetCounters { vc, reset } => {
                let c = tri!(self.vcs.get_mut(vc, f).map_err(bad_handle)).counters.read(reset);
                encode(&c, out).map_or_else(|e| Outcome::Refuse(e.ntstatus()), Outcome::Done)
            }
            Request::ExpectPattern { vc, pattern, seed } => {
                tri!(self.vcs.get_mut(vc, f).map_err(bad_handle))
                    .counters
                    .expect(pattern, seed);
                op_result(ndis::SUCCESS, None, out)
            }
            Request::OidQuery { handle, oid, length } => self.oid(f, handle, oid, true, length),
            Request::OidSet { handle, oid, .. } => self.oid(f, handle, oid, false, 0),
            Request::WaitEvents { max_events } => {
                let Some(file) = self.file_mut(file) else {
                    return Outcome::Refuse(STATUS_INVALID_HANDLE);
                };
                match file.events.wait(max_events, out) {
                    Ok(Wait::Now(n)) => Outcome::Done(n),
                    Ok(Wait::Pend) => Outcome::Pend,
                    Ok(Wait::Busy) => Outcome::Refuse(STATUS_INVALID_DEVICE_REQUEST),
                    Err(e) => Outcome::Refuse(e.ntstatus()),
                }
            }
        }
    }

    fn version(&self, out: &mut [u8]) -> Outcome {
        let v = VersionInfo {
            abi_version: COVCLIENT_ABI_VERSION,
            abi_version_min: COVCLIENT_ABI_VERSION,
            driver_major: u16::from(policy::DRIVER_MAJOR_VERSION),
            driver_minor: u16::from(policy::DRIVER_MINOR_VERSION),
            address_family: COVMINI_AF,
            af_major_version: COVMINI_AF_MAJOR_VERSION,
            af_minor_version: COVMINI_AF_MINOR_VERSION,
            max_events: COVCLIENT_MAX_EVENTS,
            reserved: 0,
        };
        encode(&v, out).map_or_else(|e| Outcome::Refuse(e.ntstatus()), Outcome::Done)
    }

    fn list_adapters(&self, first: u32, out: &mut [u8]) -> Outcome {
        let mut list = [empty_adapter(); MAX_ADAPTERS];
        let mut n = 0;
        for ((h, _, a), slot) in self.adapters.iter().skip(first as usize).zip(list.iter_mut()) {
            *slot = AdapterInfo {
                adapter: h.raw(),
                net_luid: a.net_luid,
                if_index: a.if_index,
                af_count: a.af_count,
                afs: a.afs,
            };
            n += 1;
        }
        let total = u32::try_from(self.adapters.len()).unwrap_or(u32::MAX);
        encode_adapters(total, first, list.get(..n).unwrap_or(&[]), out)
            .map_or_else(|e| Outcome::Refuse(e.ntstatus()), Outcome::Done)
    }

    fn make_call(&mut self, f: Option<FileId>, vc: Handle, params: covclient_abi::CallParameters) -> Outcome {
        tri!(self.vcs.get(vc, f).map_err(bad_handle));
        let multipoint = params.flags & COVCLIENT_CALL_MULTIPOINT != 0;
        let party = if multipoint {
            Some(tri!(self.insert_party(f, vc)))
        } else {
            None
        };
        if let Err(status) = self.vc_on(f, vc, VcEvent::MakeCall) {
            if let Some(p) = party {
                let _ = self.parties.remove(p);
            }
            return Outcome::Refuse(status);
        }
        if let Ok(v) = self.vcs.get_mut(vc, f) {
            v.multipoint = multipoint;
        }
        Outcome::Call(NdisCall::MakeCall { vc, party, params })
    }

    fn close_call(
        &mut self,
        f: Option<FileId>,
        vc: Handle,
        party: Option<Handle>,
        data: covclient_abi::CloseData,
    ) -> Outcome {
        tri!(self.vcs.get(vc, f).map_err(bad_handle));
        if let Some(p) = party
            && tri!(self.parties.get(p, f).map_err(bad_handle)).vc != vc
        {
            return Outcome::Refuse(STATUS_INVALID_HANDLE);
        }
        tri!(self.vc_on(f, vc, VcEvent::CloseCall));
        Outcome::Call(NdisCall::CloseCall { vc, party, data })
    }

    fn oid(&mut self, f: Option<FileId>, target: Handle, oid: u32, query: bool, length: u32) -> Outcome {
        let found = match target.kind() {
            HandleKind::Adapter => self.adapters.get(target, f).map(|_| ()),
            HandleKind::Af => self.afs.get(target, f).map(|_| ()),
            HandleKind::Vc => self.vcs.get(target, f).map(|_| ()),
            HandleKind::Sap | HandleKind::Party => Err(super::table::Lookup::WrongKind),
        };
        tri!(found.map_err(bad_handle));
        Outcome::Call(NdisCall::Oid {
            target,
            oid,
            query,
            length,
        })
    }

    fn connected(&self, f: Option<FileId>, vc: Handle) -> Result<(), u32> {
        match self.vcs.get(vc, f).map_err(bad_handle)?.state {
            VcState::Connected => Ok(()),
            _ => Err(STATUS_INVALID_DEVICE_STATE),
        }
    }

    pub(super) fn insert_af(&mut self, f: Option<FileId>, adapter: Handle) -> Result<Handle, u32> {
        let af = Af {
            adapter,
            state: AfState::Opening,
        };
        self.afs.insert(f, af).ok_or(STATUS_INSUFFICIENT_RESOURCES)
    }

    pub(super) fn insert_vc(
        &mut self,
        f: Option<FileId>,
        af: Handle,
        state: VcState,
        origin: Origin,
    ) -> Result<Handle, u32> {
        let vc = Vc {
            af,
            state,
            origin,
            sap: None,
            multipoint: false,
            counters: VcCounters::new(),
        };
        self.vcs.insert(f, vc).ok_or(STATUS_INSUFFICIENT_RESOURCES)
    }

    fn insert_party(&mut self, f: Option<FileId>, vc: Handle) -> Result<Handle, u32> {
        let party = Party {
            vc,
            state: PartyState::Adding,
        };
        self.parties.insert(f, party).ok_or(STATUS_INSUFFICIENT_RESOURCES)
    }

    /// Applies an AF arrow (any owner: the caller checked it); frees the
    /// slot when the AF is gone.
    pub(super) fn af_on(&mut self, h: Handle, event: AfEvent) -> Result<(), u32> {
        let af = self.afs.get_mut(h, None).map_err(bad_handle)?;
        match af.state.on(event).map_err(bad_state)? {
            Some(next) => af.state = next,
            None => {
                let _ = self.afs.remove(h);
            }
        }
        Ok(())
    }

    pub(super) fn sap_on(&mut self, f: Option<FileId>, h: Handle, event: SapEvent) -> Result<(), u32> {
        let sap = self.saps.get_mut(h, f).map_err(bad_handle)?;
        match sap.state.on(event).map_err(bad_state)? {
            Some(next) => sap.state = next,
            None => {
                let _ = self.saps.remove(h);
            }
        }
        Ok(())
    }

    pub(super) fn vc_on(&mut self, f: Option<FileId>, h: Handle, event: VcEvent) -> Result<(), u32> {
        let vc = self.vcs.get_mut(h, f).map_err(bad_handle)?;
        match vc.state.on(event).map_err(bad_state)? {
            Some(next) => vc.state = next,
            None => {
                let _ = self.vcs.remove(h);
                self.remove_parties_of(h);
            }
        }
        Ok(())
    }

    pub(super) fn party_on(&mut self, f: Option<FileId>, h: Handle, event: PartyEvent) -> Result<(), u32> {
        let party = self.parties.get_mut(h, f).map_err(bad_handle)?;
        match party.state.on(event).map_err(bad_state)? {
            Some(next) => party.state = next,
            None => {
                let _ = self.parties.remove(h);
            }
        }
        Ok(())
    }

    /// Frees every party of `vc` (the call closed under them).
    pub(super) fn remove_parties_of(&mut self, vc: Handle) {
        let mut gone = [None; super::MAX_PARTIES];
        for ((h, _, _), slot) in self.parties.iter().filter(|(_, _, p)| p.vc == vc).zip(gone.iter_mut()) {
            *slot = Some(h);
        }
        for h in gone.into_iter().flatten() {
            let _ = self.parties.remove(h);
        }
    }

    /// The NDIS call of `call` (from [`Self::request`]) returned `status`:
    /// finishes a synchronous outcome and writes the `COVCLIENT_RESULT`.
    /// PENDING changes nothing here: the completion handler reports it
    /// ([`Self::complete`]).
    pub fn returned(&mut self, call: &NdisCall, status: u32, out: &mut [u8]) -> Outcome {
        let ok = status == ndis::SUCCESS;
        let mut handle = None;
        if status != ndis::PENDING {
            // The object may already be gone (an unbind under the call):
            // a refused arrow here changes nothing and the status still
            // goes back to the client.
            let _ = match *call {
                NdisCall::OpenAf { af, .. } => {
                    handle = ok.then_some(af);
                    self.af_on(af, AfEvent::OpenDone(ok))
                }
                NdisCall::CloseAf(af) => self.af_on(af, AfEvent::CloseDone),
                NdisCall::RegisterSap { sap, .. } => {
                    handle = ok.then_some(sap);
                    self.sap_on(None, sap, SapEvent::RegisterDone(ok))
                }
                NdisCall::DeregisterSap(sap) => self.sap_on(None, sap, SapEvent::DeregisterDone),
                NdisCall::CreateVc { vc, .. } => {
                    handle = ok.then_some(vc);
                    self.vc_on(None, vc, VcEvent::Created(ok))
                }
                NdisCall::DeleteVc(vc) => self.vc_on(None, vc, VcEvent::DeleteDone(ok)),
                NdisCall::MakeCall { vc, party, .. } => {
                    handle = party.filter(|_| ok);
                    if let Some(p) = party {
                        let _ = self.party_on(None, p, PartyEvent::AddDone(ok));
                    }
                    self.vc_on(None, vc, VcEvent::MakeCallDone(ok))
                }
                NdisCall::AddParty { party, .. } => {
                    handle = ok.then_some(party);
                    self.party_on(None, party, PartyEvent::AddDone(ok))
                }
                NdisCall::DropParty { party, .. } => self.party_on(None, party, PartyEvent::DropDone),
                NdisCall::CloseCall { vc, .. } => {
                    self.remove_parties_of(vc);
                    self.vc_on(None, vc, VcEvent::CloseDone)
                }
                NdisCall::Send {
                    vc,
                    nbl_count,
                    nbl_size,
                    ..
                } => {
                    if ok && let Some(c) = self.counters_mut(vc) {
                        c.sent(nbl_count, nbl_size);
                    }
                    Ok(())
                }
                // No state: the answer's arrow was applied by the request
                // (NdisClIncomingCallComplete returns nothing); QoS and
                // OIDs change no state.
                NdisCall::IncomingCallComplete { .. } | NdisCall::ModifyQos { .. } | NdisCall::Oid { .. } => Ok(()),
            };
        } else {
            handle = match *call {
                NdisCall::OpenAf { af: h, .. }
                | NdisCall::RegisterSap { sap: h, .. }
                | NdisCall::CreateVc { vc: h, .. }
                | NdisCall::AddParty { party: h, .. } => Some(h),
                NdisCall::MakeCall { party, .. } => party,
                _ => None,
            };
        }
        op_result(status, handle, out)
    }
}

fn empty_adapter() -> AdapterInfo {
    let af = covclient_abi::AfInfo {
        address_family: 0,
        major_version: 0,
        minor_version: 0,
        reserved: 0,
    };
    AdapterInfo {
        adapter: 0,
        net_luid: 0,
        if_index: 0,
        af_count: 0,
        afs: [af; 4],
    }
}
