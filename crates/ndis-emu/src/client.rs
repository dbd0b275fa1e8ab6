//! The scripted CoNDIS clients' API: what a test (or covmini-lab) calls to
//! act as a CoNDIS client over the emulated NDIS. Each call does what NDIS
//! does for the matching `NdisCl*` / `NdisCo*` request, including NDIS's own
//! completion of a request the call manager did not pend.
//!
//! ```text
//! let caller = emu.client("caller");
//! let af = emu.open_af(caller, AF)?;            // NdisClOpenAddressFamilyEx
//! let vc = emu.create_vc(af)?;                  // NdisCoCreateVc
//! let status = emu.make_call(vc, &spec);        // NdisClMakeCall
//! ```
//!
//! A status of NDIS_STATUS_PENDING means the call manager holds the request;
//! its completion shows in the client's inbox and the object's state.
//!
//! Every method takes `&self`, so that the scripts of
//! [`Emulator::concurrently`] can share one emulator. A request runs on the
//! calling thread's CPU. What a client answers after the driver's handler
//! has returned (NBL returns, the answer to an incoming close) is queued on
//! that CPU and run by `ffi::cm::pump` at the end of the request,
//! on the same CPU: so when a request returns, everything it set off on its
//! CPU has been answered, whatever other CPUs are doing.

use ndis_sys::*;

use crate::call_spec::CallSpec;
use crate::condis::{Answer, CallState, ClientRec};
use crate::emulator::Emulator;
use crate::ffi::cm::{self, OidResult, On, Params};
use crate::ffi::raw::{RawCallParams, RawOidBuffer};
use crate::handles::{Af, Client, Party, Sap, Vc};
use crate::world;

impl Emulator {
    /// A new client that accepts incoming calls at once.
    pub fn client(&self, name: &str) -> Client {
        world::try_with(|w| {
            w.condis.clients.push(ClientRec {
                name: name.to_string(),
                answer: Answer::Sync,
                notify_close_answer: Answer::Sync,
                incoming_call_status: NDIS_STATUS_SUCCESS,
                create_vc_status: NDIS_STATUS_SUCCESS,
                inbox: Vec::new(),
                received: Vec::new(),
                send_results: Vec::new(),
            });
            Client(w.condis.clients.len() - 1)
        })
        .unwrap_or(Client(usize::MAX))
    }

    /// How `client` answers incoming calls: at once or pended, and with
    /// which status (SUCCESS accepts, anything else rejects).
    pub fn set_incoming_answer(&self, client: Client, answer: Answer, status: NDIS_STATUS) {
        world::try_with(|w| {
            if let Some(c) = w.condis.clients.get_mut(client.0) {
                c.answer = answer;
                c.incoming_call_status = status;
            }
        });
    }

    /// How `client`'s ProtocolClNotifyCloseAf answers the call manager's
    /// NdisMCmNotifyCloseAddressFamily (contract §1.4): [`Answer::Sync`]
    /// (the default) drops its parties but the last, tears its calls, VCs
    /// and SAPs down, closes the AF and completes the notification before
    /// the call returns (if its close pends, once the close has completed,
    /// as a pended answer does); [`Answer::Pend`]
    /// returns PENDING and does the same later, on a thread of its own,
    /// completing with NdisClNotifyCloseAddressFamilyComplete once its
    /// close has completed. The later part runs while the driver waits in
    /// NdisWaitEvent (by the waiting CPU in the deterministic mode, by a
    /// system worker thread in the threaded mode) or when the test calls
    /// [`Self::pump`]; whatever is still owed when MiniportHaltEx returns is
    /// dropped (rule `halt.afs-closed` names the AFs).
    pub fn set_notify_close_answer(&self, client: Client, answer: Answer) {
        world::try_with(|w| {
            if let Some(c) = w.condis.clients.get_mut(client.0) {
                c.notify_close_answer = answer;
            }
        });
    }

    /// What `client`'s ProtocolCoCreateVc returns when the MCM creates a VC for it.
    pub fn set_create_vc_status(&self, client: Client, status: NDIS_STATUS) {
        world::try_with(|w| {
            if let Some(c) = w.condis.clients.get_mut(client.0) {
                c.create_vc_status = status;
            }
        });
    }

    /// Everything NDIS indicated to `client`, in order.
    #[must_use]
    pub fn inbox(&self, client: Client) -> Vec<String> {
        world::try_with(|w| w.condis.clients.get(client.0).map(|c| c.inbox.clone()))
            .flatten()
            .unwrap_or_default()
    }

    /// NdisClOpenAddressFamilyEx. `Err` carries the failure status; a
    /// request the MCM pended and has not completed is `Err(PENDING)` with the
    /// handle in [`Self::last_af`].
    ///
    /// Refused with NDIS_STATUS_FAILURE once a halt has begun, and a halt
    /// waits for an open already inside the driver: NDIS unbinds the
    /// protocols before MiniportHaltEx, and an unbind does not complete
    /// while its client's open is under way ([`Self::halt_adapter`]).
    pub fn open_af(&self, client: Client, af: CO_ADDRESS_FAMILY) -> Result<Af, NDIS_STATUS> {
        let (h, status) = self.adapter_call(Err(NDIS_STATUS_FAILURE), || cm::open_af(client.0, af))?;
        cm::pump();
        *self.last_af.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Af(h));
        match status {
            NDIS_STATUS_SUCCESS => Ok(Af(h)),
            s => Err(s),
        }
    }

    /// NdisClCloseAddressFamily: the final status, or PENDING.
    ///
    /// The call is a DDI boundary of its own for `crate::interleave`
    /// (before NDIS marks the AF closing, after the client decided to close
    /// it): a client's close may cross NDIS's notification of that AF
    /// (ProtocolClNotifyCloseAf, on another thread) there, and a test can
    /// stop it there.
    pub fn close_af(&self, af: Af) -> NDIS_STATUS {
        let s = cm::on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), || {
            crate::interleave::boundary("NdisClCloseAddressFamily");
            cm::close_af(af.0)
        })
        .unwrap_or_else(|e| e);
        cm::pump();
        s
    }

    /// NdisClRegisterSap for a SAP of `sap_type` with these bytes.
    pub fn register_sap(&self, af: Af, sap_type: ULONG, sap: &[u8]) -> Result<Sap, NDIS_STATUS> {
        let (h, status) = cm::on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), || {
            cm::register_sap(af.0, sap_type, sap)
        })?;
        cm::pump();
        match status {
            NDIS_STATUS_SUCCESS => Ok(Sap(h)),
            s => Err(s),
        }
    }

    /// NdisClDeregisterSap: the final status, or PENDING.
    pub fn deregister_sap(&self, sap: Sap) -> NDIS_STATUS {
        let s = cm::on_af(On::Sap(sap.0), Err(NDIS_STATUS_FAILURE), || cm::deregister_sap(sap.0)).unwrap_or_else(|e| e);
        cm::pump();
        s
    }

    /// NdisCoCreateVc on an open AF.
    pub fn create_vc(&self, af: Af) -> Result<Vc, NDIS_STATUS> {
        cm::on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), || cm::create_vc(af.0)).map(Vc)
    }

    /// NdisCoDeleteVc of a client-created VC.
    pub fn delete_vc(&self, vc: Vc) -> NDIS_STATUS {
        cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || cm::delete_vc(vc.0)).unwrap_or_else(|e| e)
    }

    /// NdisClMakeCall (point to point): the final status, or PENDING.
    pub fn make_call(&self, vc: Vc, params: &CallSpec) -> NDIS_STATUS {
        let s = cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::make_call(vc.0, Params::Spec(params), false)
        })
        .map_or_else(|e| e, |(s, _)| s);
        cm::pump();
        s
    }

    /// NdisClMakeCall with an initial party (point to multipoint).
    pub fn make_multipoint_call(&self, vc: Vc, params: &CallSpec) -> (NDIS_STATUS, Option<Party>) {
        let r = cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::make_call(vc.0, Params::Spec(params), true)
        })
        .map_or_else(|e| (e, None), |(s, p)| (s, p.map(Party)));
        cm::pump();
        r
    }

    /// NdisClCloseCall: the final status, or PENDING.
    pub fn close_call(&self, vc: Vc, close_data: &[u8]) -> NDIS_STATUS {
        let s = cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::close_call(vc.0, close_data)
        })
        .unwrap_or_else(|e| e);
        cm::pump();
        s
    }

    /// NdisClAddParty on a connected multipoint call.
    pub fn add_party(&self, vc: Vc, params: &CallSpec) -> (NDIS_STATUS, Option<Party>) {
        let r = cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::add_party(vc.0, Params::Spec(params))
        })
        .map_or_else(|e| (e, None), |(p, s)| (s, Some(Party(p))));
        cm::pump();
        r
    }

    /// NdisClDropParty (not for the last party: close the call instead).
    pub fn drop_party(&self, party: Party, data: &[u8]) -> NDIS_STATUS {
        let s = cm::on_af(On::Party(party.0), Err(NDIS_STATUS_FAILURE), || {
            cm::drop_party(party.0, data)
        })
        .unwrap_or_else(|e| e);
        cm::pump();
        s
    }

    /// NdisClModifyCallQoS on a connected call.
    pub fn modify_qos(&self, vc: Vc, params: &CallSpec) -> NDIS_STATUS {
        let s = cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::modify_qos(vc.0, Params::Spec(params))
        })
        .unwrap_or_else(|e| e);
        cm::pump();
        s
    }

    /// The parties of a VC's call.
    #[must_use]
    pub fn parties(&self, vc: Vc) -> Vec<Party> {
        world::try_with(|w| {
            w.condis
                .vcs
                .get(&vc.0)
                .map(|v| v.parties.iter().map(|p| Party(*p)).collect())
        })
        .flatten()
        .unwrap_or_default()
    }

    /// NdisCoOidRequest query: through the call manager when `af` is given
    /// (ProtocolCoOidRequest), else the miniport (MiniportCoOidRequest),
    /// for `vc` or adapter-wide, with an information buffer of `len` bytes.
    /// Returns the request id and what it came back with (PENDING while the
    /// driver holds it; ask again with [`Self::oid_result`]).
    pub fn oid_query(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        oid: NDIS_OID,
        len: usize,
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        let (h, _) = self.oid_gate(af, || {
            cm::oid_request(af.map(|a| a.0), vc.map(|v| v.0), false, oid, vec![0; len])
        })?;
        cm::pump();
        cm::oid_result(h).map(|r| (h, r)).ok_or(NDIS_STATUS_FAILURE)
    }

    /// NdisCoOidRequest set with `data` as the information buffer.
    pub fn oid_set(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        oid: NDIS_OID,
        data: &[u8],
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        let (h, _) = self.oid_gate(af, || {
            cm::oid_request(af.map(|a| a.0), vc.map(|v| v.0), true, oid, data.to_vec())
        })?;
        cm::pump();
        cm::oid_result(h).map(|r| (h, r)).ok_or(NDIS_STATUS_FAILURE)
    }

    /// Runs an OID request: one to the miniport (no `af`) through
    /// [`Self::adapter_call`] (refused with NDIS_STATUS_FAILURE once a halt
    /// has begun), one to the call manager on an AF as it is (it goes on
    /// until the AF is closed).
    fn oid_gate<R>(&self, af: Option<Af>, f: impl FnOnce() -> Result<R, NDIS_STATUS>) -> Result<R, NDIS_STATUS> {
        if let Some(af) = af {
            cm::on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), f)
        } else {
            self.adapter_call(Err(NDIS_STATUS_FAILURE), f)
        }
    }

    /// The current result of OID request `id`.
    #[must_use]
    pub fn oid_result(&self, id: usize) -> Option<OidResult> {
        cm::oid_result(id)
    }

    /// NdisCoSendNetBufferLists on `vc`: one NBL per payload. Refused with
    /// NDIS_STATUS_PAUSED once a halt has begun: NDIS unbinds the
    /// protocols first ([`Self::halt_adapter`]).
    pub fn send(&self, vc: Vc, payloads: &[&[u8]]) -> Result<(), NDIS_STATUS> {
        let r = self.adapter_call(Err(NDIS_STATUS_PAUSED), || {
            cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
                crate::ffi::data::send(vc.0, payloads)
            })
        });
        cm::pump();
        r
    }

    /// The payloads `client` received, one per NET_BUFFER, in order.
    #[must_use]
    pub fn received(&self, client: Client) -> Vec<Vec<u8>> {
        world::try_with(|w| w.condis.clients.get(client.0).map(|c| c.received.clone()))
            .flatten()
            .unwrap_or_default()
    }

    /// The completion status of each NBL `client` sent, in completion order.
    #[must_use]
    pub fn send_results(&self, client: Client) -> Vec<NDIS_STATUS> {
        world::try_with(|w| w.condis.clients.get(client.0).map(|c| c.send_results.clone()))
            .flatten()
            .unwrap_or_default()
    }

    /// The AF handle of the last [`Self::open_af`], also when that open is
    /// still pending (its `Err(PENDING)` carries no handle).
    #[must_use]
    pub fn last_af(&self) -> Option<Af> {
        *self.last_af.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// NdisClIncomingCallComplete for a call the client pended.
    pub fn answer_incoming(&self, vc: Vc, status: NDIS_STATUS) -> Result<(), NDIS_STATUS> {
        let r = cm::on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::answer_incoming(vc.0, status)
        });
        cm::pump();
        r
    }

    /// Runs the clients' deferred answers (incoming closes, AF teardowns),
    /// and then the answers they give later on threads of their own (the
    /// rest of a notify-close pended with [`Self::set_notify_close_answer`]).
    pub fn pump(&self) {
        cm::pump_all();
    }

    /// The call on a VC and NDIS's active bit, or None for a deleted VC.
    #[must_use]
    pub fn vc_state(&self, vc: Vc) -> Option<(CallState, bool)> {
        world::try_with(|w| w.condis.vcs.get(&vc.0).map(|v| (v.call, v.active))).flatten()
    }

    /// VCs the call manager offered `client` (incoming calls), oldest first.
    #[must_use]
    pub fn offered_vcs(&self, client: Client) -> Vec<Vc> {
        world::try_with(|w| {
            w.condis
                .vcs
                .iter()
                .filter(|(_, v)| v.client == client.0 && v.sap.is_some())
                .map(|(h, _)| Vc(*h))
                .collect()
        })
        .unwrap_or_default()
    }
}

impl Emulator {
    /// The client's call parameters of the last make call on `vc` as they
    /// stood when it completed (a call manager may change them and set
    /// CALL_PARAMETERS_CHANGED in `flags`).
    #[must_use]
    pub fn completed_call_params(&self, vc: Vc) -> Option<CallSpec> {
        world::try_with(|w| w.condis.completed_params.get(&vc.0).cloned()).flatten()
    }

    /// Likewise for the add party of `party`.
    #[must_use]
    pub fn completed_party_params(&self, party: Party) -> Option<CallSpec> {
        world::try_with(|w| w.condis.completed_params.get(&party.0).cloned()).flatten()
    }
}

/// Malformed input: the requests above with raw blocks a test lays out byte
/// by byte ([`crate::ffi::raw`]), each structure in guarded memory that ends
/// where its bytes end, so a driver that reads past what a block really
/// holds faults in the test. NDIS passes these blocks to the driver without
/// reading them (they carry no total extent it could check), so the
/// emulator does too; what it reads back for its own bookkeeping
/// ([`Emulator::completed_call_params`]) it reads within each block's extent.
impl Emulator {
    /// NdisClMakeCall with raw call parameters; `multipoint` makes NDIS
    /// allocate an initial party (the Flags are the test's: nothing is added).
    pub fn make_call_raw(&self, vc: Vc, params: &RawCallParams, multipoint: bool) -> (NDIS_STATUS, Option<Party>) {
        let r =
            cm::make_call(vc.0, Params::Raw(params), multipoint).map_or_else(|e| (e, None), |(s, p)| (s, p.map(Party)));
        cm::pump();
        r
    }

    /// NdisClAddParty with raw call parameters.
    pub fn add_party_raw(&self, vc: Vc, params: &RawCallParams) -> (NDIS_STATUS, Option<Party>) {
        let r = cm::add_party(vc.0, Params::Raw(params)).map_or_else(|e| (e, None), |(p, s)| (s, Some(Party(p))));
        cm::pump();
        r
    }

    /// NdisClModifyCallQoS with raw call parameters.
    pub fn modify_qos_raw(&self, vc: Vc, params: &RawCallParams) -> NDIS_STATUS {
        let s = cm::modify_qos(vc.0, Params::Raw(params)).unwrap_or_else(|e| e);
        cm::pump();
        s
    }

    /// NdisClIncomingCallComplete for a pended offer, with raw call
    /// parameters in place of the offered ones.
    pub fn answer_incoming_raw(&self, vc: Vc, status: NDIS_STATUS, params: &RawCallParams) -> Result<(), NDIS_STATUS> {
        let r = cm::answer_incoming_raw(vc.0, status, params);
        cm::pump();
        r
    }

    /// NdisClRegisterSap with a raw CO_SAP block: SapType, SapLength and
    /// the tail exactly as `block` has them (see [`crate::ffi::raw::raw_sap`]).
    pub fn register_sap_raw(&self, af: Af, block: &[u8]) -> Result<Sap, NDIS_STATUS> {
        let (h, status) = cm::register_sap_raw(af.0, block)?;
        cm::pump();
        match status {
            NDIS_STATUS_SUCCESS => Ok(Sap(h)),
            s => Err(s),
        }
    }

    /// NdisCoOidRequest with a raw information buffer (a NULL one, or one
    /// whose InformationBufferLength is whatever `buffer` states), through
    /// the call manager when `af` is given, else the miniport; a query, or a
    /// set with `set`.
    pub fn oid_raw(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        set: bool,
        oid: NDIS_OID,
        buffer: &RawOidBuffer,
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        let (h, _) = cm::oid_request_raw(af.map(|a| a.0), vc.map(|v| v.0), set, oid, buffer)?;
        cm::pump();
        cm::oid_result(h).map(|r| (h, r)).ok_or(NDIS_STATUS_FAILURE)
    }
}
