//! The scripted CoNDIS clients: what a test (or covmini-lab) calls, through
//! the facade's client methods ([`crate::Emulator::open_af`], ...), to act
//! as a CoNDIS client over the emulated NDIS. Each call does what NDIS
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
//! [`crate::Emulator::concurrently`] can share one emulator. A request runs on the
//! calling thread's CPU. What a client answers after the driver's handler
//! has returned (NBL returns, the answer to an incoming close) is queued on
//! that CPU and run by `crate::answers::pump` at the end of the request,
//! on the same CPU: so when a request returns, everything it set off on its
//! CPU has been answered, whatever other CPUs are doing.
//!
//! It owns the client side of a request: NDIS's admission of it (no
//! request once a halt has begun, `crate::lifecycle::admit`; none on an AF
//! the client is tearing down, `crate::answers::on_af`), the run of it, and the
//! pump of the answers it set off. The requests' rules are checked below
//! it (`crate::condis`, `crate::ffi::cm`). What it must not do: name the
//! facade (`crate::emulator`), which names it.

use std::sync::Mutex;

use ndis_sys::*;

use crate::answers::{self, On, on_af, pump};
use crate::call_spec::CallSpec;
use crate::condis::{Answer, CallState, ClientRec};
use crate::ffi::cm::{self, OidResult, Params};
use crate::ffi::raw::{RawCallParams, RawOidBuffer};
use crate::handles::{Af, Client, Party, Sap, Vc};
use crate::lifecycle::admit;
use crate::world;

/// The scripted clients' requests, and what NDIS remembers of them across
/// requests (the handle of the last AF open, also when that open pends).
///
/// The clients' own records (what each answers, its inbox, what it
/// received) are world state (`crate::condis::ClientRec`): NDIS's calls
/// into the clients, from the shims, reach them there.
pub(crate) struct Clients {
    /// The last AF handle a client opened (also when the open is pending).
    last_af: Mutex<Option<Af>>,
}

impl Clients {
    pub(crate) fn new() -> Self {
        Self {
            last_af: Mutex::new(None),
        }
    }
}

impl Clients {
    /// [`crate::Emulator::client`].
    pub(crate) fn client(&self, name: &str) -> Client {
        world::try_with(|w| {
            w.condis.clients.push(ClientRec {
                name: name.to_string(),
                kind: crate::condis::ClientKind::Scripted,
                answer: Answer::Sync,
                notify_close_answer: Answer::Sync,
                incoming_call_status: NDIS_STATUS_SUCCESS,
                create_vc_status: NDIS_STATUS_SUCCESS,
                reacts_inside: false,
                inbox: Vec::new(),
                received: Vec::new(),
                send_results: Vec::new(),
            });
            Client(w.condis.clients.len() - 1)
        })
        .unwrap_or(Client(usize::MAX))
    }

    /// [`crate::Emulator::set_incoming_answer`].
    pub(crate) fn set_incoming_answer(&self, client: Client, answer: Answer, status: NDIS_STATUS) {
        world::try_with(|w| {
            if let Some(c) = w.condis.clients.get_mut(client.0) {
                c.answer = answer;
                c.incoming_call_status = status;
            }
        });
    }

    /// [`crate::Emulator::set_notify_close_answer`].
    pub(crate) fn set_notify_close_answer(&self, client: Client, answer: Answer) {
        world::try_with(|w| {
            if let Some(c) = w.condis.clients.get_mut(client.0) {
                c.notify_close_answer = answer;
            }
        });
    }

    /// [`crate::Emulator::set_reacts_inside`].
    pub(crate) fn set_reacts_inside(&self, client: Client, inside: bool) {
        world::try_with(|w| {
            if let Some(c) = w.condis.clients.get_mut(client.0) {
                c.reacts_inside = inside;
            }
        });
    }

    /// [`crate::Emulator::set_create_vc_status`].
    pub(crate) fn set_create_vc_status(&self, client: Client, status: NDIS_STATUS) {
        world::try_with(|w| {
            if let Some(c) = w.condis.clients.get_mut(client.0) {
                c.create_vc_status = status;
            }
        });
    }

    /// [`crate::Emulator::inbox`].
    #[must_use]
    pub(crate) fn inbox(&self, client: Client) -> Vec<String> {
        world::try_with(|w| w.condis.clients.get(client.0).map(|c| c.inbox.clone()))
            .flatten()
            .unwrap_or_default()
    }

    /// [`crate::Emulator::open_af`].
    pub(crate) fn open_af(&self, client: Client, af: CO_ADDRESS_FAMILY) -> Result<Af, NDIS_STATUS> {
        let (h, status) = admit(Err(NDIS_STATUS_FAILURE), || cm::open_af(client.0, af))?;
        pump();
        *self.last_af.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Af(h));
        match status {
            NDIS_STATUS_SUCCESS => Ok(Af(h)),
            s => Err(s),
        }
    }

    /// [`crate::Emulator::close_af`].
    pub(crate) fn close_af(&self, af: Af) -> NDIS_STATUS {
        let s = on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), || {
            crate::interleave::boundary("NdisClCloseAddressFamily");
            cm::close_af(af.0)
        })
        .unwrap_or_else(|e| e);
        pump();
        s
    }

    /// [`crate::Emulator::register_sap`].
    pub(crate) fn register_sap(&self, af: Af, sap_type: ULONG, sap: &[u8]) -> Result<Sap, NDIS_STATUS> {
        let (h, status) = on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), || {
            cm::register_sap(af.0, sap_type, sap)
        })?;
        pump();
        match status {
            NDIS_STATUS_SUCCESS => Ok(Sap(h)),
            s => Err(s),
        }
    }

    /// [`crate::Emulator::deregister_sap`].
    pub(crate) fn deregister_sap(&self, sap: Sap) -> NDIS_STATUS {
        let s = on_af(On::Sap(sap.0), Err(NDIS_STATUS_FAILURE), || cm::deregister_sap(sap.0)).unwrap_or_else(|e| e);
        pump();
        s
    }

    /// [`crate::Emulator::create_vc`].
    pub(crate) fn create_vc(&self, af: Af) -> Result<Vc, NDIS_STATUS> {
        on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), || cm::create_vc(af.0)).map(Vc)
    }

    /// [`crate::Emulator::delete_vc`].
    pub(crate) fn delete_vc(&self, vc: Vc) -> NDIS_STATUS {
        on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || cm::delete_vc(vc.0)).unwrap_or_else(|e| e)
    }

    /// [`crate::Emulator::make_call`].
    pub(crate) fn make_call(&self, vc: Vc, params: &CallSpec) -> NDIS_STATUS {
        let s = on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::make_call(vc.0, Params::Spec(params), false)
        })
        .map_or_else(|e| e, |(s, _)| s);
        pump();
        s
    }

    /// [`crate::Emulator::make_multipoint_call`].
    pub(crate) fn make_multipoint_call(&self, vc: Vc, params: &CallSpec) -> (NDIS_STATUS, Option<Party>) {
        let r = on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::make_call(vc.0, Params::Spec(params), true)
        })
        .map_or_else(|e| (e, None), |(s, p)| (s, p.map(Party)));
        pump();
        r
    }

    /// [`crate::Emulator::close_call`].
    pub(crate) fn close_call(&self, vc: Vc, close_data: &[u8]) -> NDIS_STATUS {
        let s = on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::close_call(vc.0, close_data)
        })
        .unwrap_or_else(|e| e);
        pump();
        s
    }

    /// [`crate::Emulator::add_party`].
    pub(crate) fn add_party(&self, vc: Vc, params: &CallSpec) -> (NDIS_STATUS, Option<Party>) {
        let r = on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::add_party(vc.0, Params::Spec(params))
        })
        .map_or_else(|e| (e, None), |(p, s)| (s, Some(Party(p))));
        pump();
        r
    }

    /// [`crate::Emulator::drop_party`].
    pub(crate) fn drop_party(&self, party: Party, data: &[u8]) -> NDIS_STATUS {
        let s = on_af(On::Party(party.0), Err(NDIS_STATUS_FAILURE), || {
            cm::drop_party(party.0, data)
        })
        .unwrap_or_else(|e| e);
        pump();
        s
    }

    /// [`crate::Emulator::modify_qos`].
    pub(crate) fn modify_qos(&self, vc: Vc, params: &CallSpec) -> NDIS_STATUS {
        let s = on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::modify_qos(vc.0, Params::Spec(params))
        })
        .unwrap_or_else(|e| e);
        pump();
        s
    }

    /// [`crate::Emulator::parties`].
    #[must_use]
    pub(crate) fn parties(&self, vc: Vc) -> Vec<Party> {
        world::try_with(|w| {
            w.condis
                .vcs
                .get(&vc.0)
                .map(|v| v.parties.iter().map(|p| Party(*p)).collect())
        })
        .flatten()
        .unwrap_or_default()
    }

    /// [`crate::Emulator::oid_query`].
    pub(crate) fn oid_query(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        oid: NDIS_OID,
        len: usize,
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        let (h, _) = self.oid_gate(af, || {
            cm::oid_request(af.map(|a| a.0), vc.map(|v| v.0), false, oid, vec![0; len])
        })?;
        pump();
        cm::oid_result(h).map(|r| (h, r)).ok_or(NDIS_STATUS_FAILURE)
    }

    /// [`crate::Emulator::oid_set`].
    pub(crate) fn oid_set(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        oid: NDIS_OID,
        data: &[u8],
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        let (h, _) = self.oid_gate(af, || {
            cm::oid_request(af.map(|a| a.0), vc.map(|v| v.0), true, oid, data.to_vec())
        })?;
        pump();
        cm::oid_result(h).map(|r| (h, r)).ok_or(NDIS_STATUS_FAILURE)
    }

    /// Runs an OID request: one to the miniport (no `af`) through
    /// [`admit`] (refused with NDIS_STATUS_FAILURE once a halt
    /// has begun), one to the call manager on an AF as it is (it goes on
    /// until the AF is closed).
    fn oid_gate<R>(&self, af: Option<Af>, f: impl FnOnce() -> Result<R, NDIS_STATUS>) -> Result<R, NDIS_STATUS> {
        if let Some(af) = af {
            on_af(On::Af(af.0), Err(NDIS_STATUS_FAILURE), f)
        } else {
            admit(Err(NDIS_STATUS_FAILURE), f)
        }
    }

    /// [`crate::Emulator::oid_result`].
    #[must_use]
    pub(crate) fn oid_result(&self, id: usize) -> Option<OidResult> {
        cm::oid_result(id)
    }

    /// [`crate::Emulator::send`].
    pub(crate) fn send(&self, vc: Vc, payloads: &[&[u8]]) -> Result<(), NDIS_STATUS> {
        let r = admit(Err(NDIS_STATUS_PAUSED), || {
            on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
                crate::ffi::data::send(vc.0, payloads)
            })
        });
        pump();
        r
    }

    /// [`crate::Emulator::send_with_cancel_id`].
    pub(crate) fn send_with_cancel_id(&self, vc: Vc, payloads: &[&[u8]], cancel_id: usize) -> Result<(), NDIS_STATUS> {
        let r = admit(Err(NDIS_STATUS_PAUSED), || {
            on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
                crate::ffi::data::send_tagged(vc.0, payloads, Some(cancel_id))
            })
        });
        pump();
        r
    }

    /// [`crate::Emulator::received`].
    #[must_use]
    pub(crate) fn received(&self, client: Client) -> Vec<Vec<u8>> {
        world::try_with(|w| w.condis.clients.get(client.0).map(|c| c.received.clone()))
            .flatten()
            .unwrap_or_default()
    }

    /// [`crate::Emulator::send_results`].
    #[must_use]
    pub(crate) fn send_results(&self, client: Client) -> Vec<NDIS_STATUS> {
        world::try_with(|w| w.condis.clients.get(client.0).map(|c| c.send_results.clone()))
            .flatten()
            .unwrap_or_default()
    }

    /// [`crate::Emulator::last_af`].
    #[must_use]
    pub(crate) fn last_af(&self) -> Option<Af> {
        *self.last_af.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`crate::Emulator::answer_incoming`].
    pub(crate) fn answer_incoming(&self, vc: Vc, status: NDIS_STATUS) -> Result<(), NDIS_STATUS> {
        let r = on_af(On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
            cm::answer_incoming(vc.0, status)
        });
        pump();
        r
    }

    /// [`crate::Emulator::pump`].
    pub(crate) fn pump(&self) {
        answers::pump_all();
    }

    /// [`crate::Emulator::vc_state`].
    #[must_use]
    pub(crate) fn vc_state(&self, vc: Vc) -> Option<(CallState, bool)> {
        world::try_with(|w| w.condis.vcs.get(&vc.0).map(|v| (v.call, v.active))).flatten()
    }

    /// [`crate::Emulator::offered_vcs`].
    #[must_use]
    pub(crate) fn offered_vcs(&self, client: Client) -> Vec<Vc> {
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

impl Clients {
    /// [`crate::Emulator::completed_call_params`].
    #[must_use]
    pub(crate) fn completed_call_params(&self, vc: Vc) -> Option<CallSpec> {
        world::try_with(|w| w.condis.completed_params.get(&vc.0).cloned()).flatten()
    }

    /// [`crate::Emulator::completed_party_params`].
    #[must_use]
    pub(crate) fn completed_party_params(&self, party: Party) -> Option<CallSpec> {
        world::try_with(|w| w.condis.completed_params.get(&party.0).cloned()).flatten()
    }
}

// Malformed input: the requests above with raw blocks a test lays out byte
// by byte ([`crate::ffi::raw`]), each structure in guarded memory that ends
// where its bytes end, so a driver that reads past what a block really
// holds faults in the test. NDIS passes these blocks to the driver without
// reading them (they carry no total extent it could check), so the
// emulator does too; what it reads back for its own bookkeeping
// ([`crate::Emulator::completed_call_params`]) it reads within each block's extent.
impl Clients {
    /// [`crate::Emulator::make_call_raw`].
    pub(crate) fn make_call_raw(
        &self,
        vc: Vc,
        params: &RawCallParams,
        multipoint: bool,
    ) -> (NDIS_STATUS, Option<Party>) {
        let r =
            cm::make_call(vc.0, Params::Raw(params), multipoint).map_or_else(|e| (e, None), |(s, p)| (s, p.map(Party)));
        pump();
        r
    }

    /// [`crate::Emulator::add_party_raw`].
    pub(crate) fn add_party_raw(&self, vc: Vc, params: &RawCallParams) -> (NDIS_STATUS, Option<Party>) {
        let r = cm::add_party(vc.0, Params::Raw(params)).map_or_else(|e| (e, None), |(p, s)| (s, Some(Party(p))));
        pump();
        r
    }

    /// [`crate::Emulator::modify_qos_raw`].
    pub(crate) fn modify_qos_raw(&self, vc: Vc, params: &RawCallParams) -> NDIS_STATUS {
        let s = cm::modify_qos(vc.0, Params::Raw(params)).unwrap_or_else(|e| e);
        pump();
        s
    }

    /// [`crate::Emulator::answer_incoming_raw`].
    pub(crate) fn answer_incoming_raw(
        &self,
        vc: Vc,
        status: NDIS_STATUS,
        params: &RawCallParams,
    ) -> Result<(), NDIS_STATUS> {
        let r = cm::answer_incoming_raw(vc.0, status, params);
        pump();
        r
    }

    /// [`crate::Emulator::register_sap_raw`].
    pub(crate) fn register_sap_raw(&self, af: Af, block: &[u8]) -> Result<Sap, NDIS_STATUS> {
        let (h, status) = cm::register_sap_raw(af.0, block)?;
        pump();
        match status {
            NDIS_STATUS_SUCCESS => Ok(Sap(h)),
            s => Err(s),
        }
    }

    /// [`crate::Emulator::oid_raw`].
    pub(crate) fn oid_raw(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        set: bool,
        oid: NDIS_OID,
        buffer: &RawOidBuffer,
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        let (h, _) = cm::oid_request_raw(af.map(|a| a.0), vc.map(|v| v.0), set, oid, buffer)?;
        pump();
        cm::oid_result(h).map(|r| (h, r)).ok_or(NDIS_STATUS_FAILURE)
    }
}
