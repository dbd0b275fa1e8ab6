//! The CoNDIS call-manager surface of the emulator, at the FFI seam.
//!
//! * Client operations (`open_af`, `make_call`, ...): what NDIS does when a
//!   scripted client calls `NdisClOpenAddressFamilyEx`, `NdisClMakeCall`, ...:
//!   `condis::client_requests` admits the request and records it (the new
//!   NDIS handle, the pending request), this module builds the C blocks
//!   and calls the MCM's handler, and `condis::complete` settles what it
//!   returned: NDIS completes the request itself (non-PENDING return) or
//!   waits for the MCM's completion.
//! * The MCM's DDIs (`NdisCm*Complete`, `NdisCmDispatch*`, `NdisMCm*Vc`):
//!   each shim reads its raw arguments (call parameters, headers, out
//!   slots) and hands them to `crate::condis`, which checks the rules and
//!   changes the world (`condis::mcm`, `condis::complete`,
//!   `condis::client_requests`).
//!
//! What it owns: the calls into the call manager's handlers (outside the
//! world's lock) and the C memory they are given. What it must not do:
//! check a rule itself, or decide what a scripted client answers
//! (`crate::answers`).

use ndis_sys::*;

use super::calls::{enter, leave};
use super::oid_request::oid_counts;
use super::params::{CallParams, read_call_params};
use super::raw::{Guarded, Placement, RawCallParams, RawOidBuffer};
use crate::call_spec::CallSpec;
use crate::condis::complete::{self, settle};
use crate::condis::{AfState, Answer, CallState, ClientAction, ClientId, ReqKind};
use crate::condis::{client_requests, mcm};
use crate::detail;
use crate::hooks::Reached;
use crate::trace::Detail;
use crate::world::{self, World};

/// What a handler returned, as its return event shows it: a status by
/// name, nothing for a handler that returns nothing.
trait Returned {
    fn detail(&self) -> Detail;
}

impl Returned for NDIS_STATUS {
    fn detail(&self) -> Detail {
        Detail::status(*self)
    }
}

impl Returned for () {
    fn detail(&self) -> Detail {
        Detail::EMPTY
    }
}

/// Runs a call into the driver inside a frame at `irql`; its return event
/// carries what it returned.
fn frame<R: Returned>(name: &'static str, irql: KIRQL, detail: Detail, f: impl FnOnce() -> R) -> R {
    let caller = enter(name, irql, detail);
    let r = f();
    leave(name, caller, r.detail());
    r
}

/// Why a client operation could not be issued (the emulator refused it as
/// NDIS would, before reaching the driver).
pub(crate) use crate::condis::client_requests::Refused;

/// The call manager's handlers, while there is an adapter to call: once
/// MiniportHaltEx has returned NDIS calls none of them (every client request
/// is refused; contract §1.4).
fn cm_handlers(w: &World) -> Option<NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS> {
    if w.adapter.as_ref().is_some_and(|a| a.halted) {
        return None;
    }
    w.driver.and_then(|d| d.cm)
}

/// The MCM's completion of `(kind, h)`, the DDI: traced, its IRQL checked,
/// then checked and applied by `condis::complete`.
fn complete(kind: ReqKind, h: usize, status: NDIS_STATUS, ctx: Option<usize>) {
    let call = kind.completion();
    // Read before the completion changes the records.
    let driver = world::with(call, |w| super::client_calls::driver_of(w, kind, h));
    world::with(call, |w| {
        w.event("=>", call, detail!("{s} {x}", status, h));
        w.check_irql(call, DISPATCH_LEVEL);
        complete::complete(w, kind, h, status, ctx);
    });
    if let Some(d) = driver {
        super::client_calls::deliver_completion(d, kind, h, status);
    }
    // The client's ProtocolCl*Complete runs inside this DDI: what it does
    // there (delete its VC, ...) happens before the driver's call returns.
    (crate::hooks::client().inside)(Reached::Completed(kind, h, status));
}

// --- Client operations ---------------------------------------------------------

/// NdisClOpenAddressFamilyEx: opens `af` for `client`. Returns the AF handle
/// and the status (PENDING while the MCM holds the request).
pub(crate) fn open_af(client: ClientId, af: CO_ADDRESS_FAMILY) -> Result<(usize, NDIS_STATUS), Refused> {
    open_af_for(client, af, 0, |_| {})
}

/// NdisClOpenAddressFamilyEx for any client: `client_context` is a driver
/// client's ClientAfContext (0 for a scripted one), and `new_handle` gets
/// the NdisAfHandle before the call manager's handler runs (NDIS writes a
/// driver's out slot then: the completion may come inside the handler).
pub(crate) fn open_af_for(
    client: ClientId,
    af: CO_ADDRESS_FAMILY,
    client_context: usize,
    new_handle: impl FnOnce(usize),
) -> Result<(usize, NDIS_STATUS), Refused> {
    const CALL: &str = "NdisClOpenAddressFamilyEx";
    let (handler, adapter_ctx, h) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmOpenAfHandler);
        client_requests::admit_open_af(w, client, af, client_context, handler)
    })?;
    new_handle(h);
    let mut af_block = af;
    let mut ctx: NDIS_HANDLE = core::ptr::null_mut();
    let status = frame(
        "ProtocolCmOpenAf",
        PASSIVE_LEVEL,
        detail!("AF {x} -> {x}", af.AddressFamily, h),
        || {
            // SAFETY: the MCM's registered handler, called as NDIS does: the
            // adapter context, an AF block and out slot alive across the call.
            unsafe {
                handler(
                    adapter_ctx as NDIS_HANDLE,
                    &raw mut af_block,
                    h as NDIS_HANDLE,
                    &raw mut ctx,
                )
            }
        },
    );
    Ok((
        h,
        world::with(CALL, |w| settle(w, ReqKind::OpenAf, h, status, Some(ctx as usize))),
    ))
}

/// NdisClCloseAddressFamily.
pub(crate) fn close_af(af: usize) -> Result<NDIS_STATUS, Refused> {
    const CALL: &str = "NdisClCloseAddressFamily";
    let (handler, ctx) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmCloseAfHandler);
        client_requests::admit_close_af(w, af, handler)
    })?;
    let status = frame("ProtocolCmCloseAf", PASSIVE_LEVEL, detail!("{x}", af), || {
        // SAFETY: registered handler with the CallMgrAfContext the MCM gave.
        unsafe { handler(ctx as NDIS_HANDLE) }
    });
    Ok(world::with(CALL, |w| settle(w, ReqKind::CloseAf, af, status, None)))
}

/// NdisClRegisterSap.
pub(crate) fn register_sap(af: usize, sap_type: ULONG, sap: &[u8]) -> Result<(usize, NDIS_STATUS), Refused> {
    register_sap_for(af, sap_type, sap, None, |_| {})
}

/// NdisClRegisterSap with a test's raw CO_SAP block (header and tail, as
/// long as the slice), in guarded memory. NDIS passes the Sap pointer through
/// to ProtocolCmRegisterSap unread: it cannot know the block's extent.
pub(crate) fn register_sap_raw(af: usize, block: &[u8]) -> Result<(usize, NDIS_STATUS), Refused> {
    let (sap_type, sap) = super::raw::read_raw_sap(block).unwrap_or((0, Vec::new()));
    register_sap_for(af, sap_type, &sap, Some(block), |_| {})
}

/// NdisClRegisterSap for any client: `new_handle` gets the NdisSapHandle
/// before the call manager's handler runs (a driver client's out slot and
/// contexts are recorded then: the completion may come inside the handler).
pub(crate) fn register_sap_for(
    af: usize,
    sap_type: ULONG,
    sap: &[u8],
    raw: Option<&[u8]>,
    new_handle: impl FnOnce(usize),
) -> Result<(usize, NDIS_STATUS), Refused> {
    const CALL: &str = "NdisClRegisterSap";
    let (handler, af_ctx, h) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmRegisterSapHandler);
        client_requests::admit_register_sap(w, af, sap_type, sap, handler)
    })?;
    new_handle(h);
    // CO_SAP with its variable tail, 8-byte aligned.
    let mut block = vec![0u64; (8 + sap.len()).div_ceil(8).max(2)];
    let mut guarded = raw.map(|b| Guarded::new(b, Placement::ExactEnd));
    let co_sap = match guarded.as_mut() {
        Some(g) => g.as_mut_ptr().cast::<CO_SAP>(),
        None => {
            let co_sap = block.as_mut_ptr().cast::<CO_SAP>();
            let len = u32::try_from(sap.len()).map_err(|_| NDIS_STATUS_INVALID_DATA)?;
            // SAFETY: the block holds the 8 header bytes plus the SAP bytes
            // (sized above) and is 8-byte aligned.
            unsafe {
                co_sap.write(CO_SAP {
                    SapType: sap_type,
                    SapLength: len,
                    Sap: [0],
                })
            };
            let tail = co_sap.cast::<u8>().wrapping_add(core::mem::offset_of!(CO_SAP, Sap));
            // SAFETY: `tail` is at offset 8 of the same 8-byte aligned
            // block, which holds at least 8 + sap.len() bytes (sized above);
            // `sap` is a separate slice, so the two do not overlap.
            unsafe { tail.copy_from_nonoverlapping(sap.as_ptr(), sap.len()) };
            co_sap
        }
    };
    let mut ctx: NDIS_HANDLE = core::ptr::null_mut();
    let status = frame(
        "ProtocolCmRegisterSap",
        PASSIVE_LEVEL,
        detail!("AF {x} -> SAP {x}", af, h),
        || {
            // SAFETY: registered handler; the CO_SAP block and out slot outlive the call.
            unsafe { handler(af_ctx as NDIS_HANDLE, co_sap, h as NDIS_HANDLE, &raw mut ctx) }
        },
    );
    drop(block);
    drop(guarded);
    Ok((
        h,
        world::with(CALL, |w| settle(w, ReqKind::RegisterSap, h, status, Some(ctx as usize))),
    ))
}

/// NdisClDeregisterSap.
pub(crate) fn deregister_sap(sap: usize) -> Result<NDIS_STATUS, Refused> {
    const CALL: &str = "NdisClDeregisterSap";
    let (handler, ctx) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmDeregisterSapHandler);
        client_requests::admit_deregister_sap(w, sap, handler)
    })?;
    let status = frame("ProtocolCmDeregisterSap", PASSIVE_LEVEL, detail!("{x}", sap), || {
        // SAFETY: registered handler with the CallMgrSapContext the MCM gave.
        unsafe { handler(ctx as NDIS_HANDLE) }
    });
    Ok(world::with(CALL, |w| {
        settle(w, ReqKind::DeregisterSap, sap, status, None)
    }))
}

/// NdisCoCreateVc by a client: NDIS calls the MCM's ProtocolCoCreateVc.
pub(crate) fn create_vc(af: usize) -> Result<usize, Refused> {
    const CALL: &str = "NdisCoCreateVc";
    let (handler, af_ctx, client, h) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmCreateVcHandler);
        client_requests::admit_create_vc(w, af, handler)
    })?;
    let mut ctx: NDIS_HANDLE = core::ptr::null_mut();
    let status = frame("ProtocolCoCreateVc", PASSIVE_LEVEL, detail!("{x}", h), || {
        // SAFETY: registered handler; for an MCM NDIS passes the CallMgrAfContext [B].
        unsafe { handler(af_ctx as NDIS_HANDLE, h as NDIS_HANDLE, &raw mut ctx) }
    });
    world::with(CALL, |w| {
        client_requests::created_vc(w, af, client, h, status, ctx as usize)
    })
}

/// NdisCoDeleteVc by the client that created the VC.
pub(crate) fn delete_vc(vc: usize) -> Result<NDIS_STATUS, Refused> {
    const CALL: &str = "NdisCoDeleteVc";
    let (handler, ctx) = crate::condis::window::with_ndis_window_closed(CALL, vc, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmDeleteVcHandler);
        client_requests::admit_delete_vc(w, vc, handler)
    })?;
    let status = frame("ProtocolCoDeleteVc", PASSIVE_LEVEL, detail!("{x}", vc), || {
        // SAFETY: registered handler with the context ProtocolCoCreateVc returned.
        unsafe { handler(ctx as NDIS_HANDLE) }
    });
    world::with(CALL, |w| client_requests::deleted_vc(w, vc, status));
    Ok(NDIS_STATUS_SUCCESS)
}

/// NdisClMakeCall. With `multipoint`, NDIS allocates the initial party.
/// Returns the status and the party handle (if any).
/// A client's call parameters: a scripted client's well-formed ones, or raw blocks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Params<'a> {
    /// Built from a [`CallSpec`].
    Spec(&'a CallSpec),
    /// A test's raw blocks, handed over as they are.
    Raw(&'a RawCallParams),
}

impl Params<'_> {
    /// The C block; MULTIPOINT_VC added to a spec's flags for a multipoint
    /// call (a raw block's flags are the test's).
    fn build(self, multipoint: bool) -> CallParams {
        match self {
            Self::Spec(spec) if multipoint => {
                let mut spec = spec.clone();
                spec.flags |= MULTIPOINT_VC;
                CallParams::new(&spec)
            }
            Self::Spec(spec) => CallParams::new(spec),
            Self::Raw(raw) => CallParams::raw(raw),
        }
    }
}

pub(crate) fn make_call(
    vc: usize,
    spec: Params<'_>,
    multipoint: bool,
) -> Result<(NDIS_STATUS, Option<usize>), Refused> {
    const CALL: &str = "NdisClMakeCall";
    let params = spec.build(multipoint);
    let (handler, ctx, party, cp) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmMakeCallHandler);
        client_requests::admit_make_call(w, vc, multipoint, params, handler)
    })?;
    let mut party_ctx: NDIS_HANDLE = core::ptr::null_mut();
    let party_arg = party.unwrap_or(0) as NDIS_HANDLE;
    let status = frame(
        "ProtocolCmMakeCall",
        PASSIVE_LEVEL,
        detail!("VC {x} party {x}", vc, party_arg),
        || {
            // SAFETY: registered handler; the call parameters are kept alive in the
            // world until the call completes; the out slot outlives the call.
            unsafe { handler(ctx as NDIS_HANDLE, cp, party_arg, &raw mut party_ctx) }
        },
    );
    let status = world::with(CALL, |w| {
        client_requests::make_call_returned(w, vc, party, party_ctx as usize, status)
    });
    Ok((status, party))
}

/// NdisClCloseCall (for the last party of a multipoint call, `party` is it).
pub(crate) fn close_call(vc: usize, close_data: &[u8]) -> Result<NDIS_STATUS, Refused> {
    const CALL: &str = "NdisClCloseCall";
    let (handler, ctx, party_ctx) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmCloseCallHandler);
        client_requests::admit_close_call(w, vc, handler)
    })?;
    let mut data = close_data.to_vec();
    let size = u32::try_from(data.len()).map_err(|_| NDIS_STATUS_INVALID_DATA)?;
    let data_ptr: PVOID = if data.is_empty() {
        core::ptr::null_mut()
    } else {
        data.as_mut_ptr().cast()
    };
    let status = frame("ProtocolCmCloseCall", PASSIVE_LEVEL, detail!("{x}", vc), || {
        // SAFETY: registered handler; contexts the MCM gave; the close data
        // lives across the call.
        unsafe { handler(ctx as NDIS_HANDLE, party_ctx as NDIS_HANDLE, data_ptr, size) }
    });
    Ok(world::with(CALL, |w| settle(w, ReqKind::CloseCall, vc, status, None)))
}

/// NdisClAddParty on a multipoint call: NDIS allocates the party handle.
pub(crate) fn add_party(vc: usize, spec: Params<'_>) -> Result<(usize, NDIS_STATUS), Refused> {
    const CALL: &str = "NdisClAddParty";
    let params = spec.build(false);
    let (handler, ctx, party, cp) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmAddPartyHandler);
        client_requests::admit_add_party(w, vc, params, handler)
    })?;
    let mut party_ctx: NDIS_HANDLE = core::ptr::null_mut();
    let status = frame(
        "ProtocolCmAddParty",
        PASSIVE_LEVEL,
        detail!("VC {x} party {x}", vc, party),
        || {
            // SAFETY: registered handler; parameters alive in the world until the
            // request completes; out slot alive across the call.
            unsafe { handler(ctx as NDIS_HANDLE, cp, party as NDIS_HANDLE, &raw mut party_ctx) }
        },
    );
    let status = world::with(CALL, |w| {
        settle(w, ReqKind::AddParty, party, status, Some(party_ctx as usize))
    });
    Ok((party, status))
}

/// NdisClDropParty; NDIS refuses it for the last party (that one goes with
/// NdisClCloseCall, contract §3.4).
pub(crate) fn drop_party(party: usize, data: &[u8]) -> Result<NDIS_STATUS, Refused> {
    const CALL: &str = "NdisClDropParty";
    let (handler, ctx) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmDropPartyHandler);
        client_requests::admit_drop_party(w, party, handler)
    })?;
    let mut data = data.to_vec();
    let size = u32::try_from(data.len()).map_err(|_| NDIS_STATUS_INVALID_DATA)?;
    let ptr: PVOID = if data.is_empty() {
        core::ptr::null_mut()
    } else {
        data.as_mut_ptr().cast()
    };
    let status = frame("ProtocolCmDropParty", PASSIVE_LEVEL, detail!("{x}", party), || {
        // SAFETY: registered handler with the party context the MCM gave.
        unsafe { handler(ctx as NDIS_HANDLE, ptr, size) }
    });
    Ok(world::with(CALL, |w| {
        settle(w, ReqKind::DropParty, party, status, None)
    }))
}

/// NdisClModifyCallQoS on a connected call.
pub(crate) fn modify_qos(vc: usize, spec: Params<'_>) -> Result<NDIS_STATUS, Refused> {
    const CALL: &str = "NdisClModifyCallQoS";
    let params = spec.build(false);
    let (handler, ctx, cp) = world::with(CALL, |w| {
        let handler = cm_handlers(w).and_then(|c| c.CmModifyCallQoSHandler);
        client_requests::admit_modify_qos(w, vc, params, handler)
    })?;
    let status = frame("ProtocolCmModifyCallQoS", PASSIVE_LEVEL, detail!("{x}", vc), || {
        // SAFETY: registered handler; parameters alive until completion.
        unsafe { handler(ctx as NDIS_HANDLE, cp) }
    });
    Ok(world::with(CALL, |w| settle(w, ReqKind::ModifyQos, vc, status, None)))
}

/// What an OID request came back with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidResult {
    /// The final status (or PENDING while the driver holds it).
    pub status: NDIS_STATUS,
    /// BytesWritten (query) or BytesRead (set).
    pub bytes_done: u32,
    /// BytesNeeded.
    pub bytes_needed: u32,
    /// The information buffer after the request (query output).
    pub data: Vec<u8>,
}

/// NdisCoOidRequest: through the call manager (`af` given: ProtocolCoOidRequest)
/// or the miniport (no AF: MiniportCoOidRequest), adapter-wide or for a VC.
pub(crate) fn oid_request(
    af: Option<usize>,
    vc: Option<usize>,
    set: bool,
    oid: NDIS_OID,
    buffer: Vec<u8>,
) -> Result<(usize, NDIS_STATUS), Refused> {
    oid_request_with(af, vc, set, oid, buffer, None)
}

/// NdisCoOidRequest with a test's raw information buffer: its bytes in
/// guarded memory (or a NULL InformationBuffer) and whatever
/// InformationBufferLength it states. NDIS forwards a CoNDIS request to the
/// miniport or call manager without looking into the buffer ("NDIS does not
/// validate the OID-specific contents", MiniportCoOidRequest, Remarks).
pub(crate) fn oid_request_raw(
    af: Option<usize>,
    vc: Option<usize>,
    set: bool,
    oid: NDIS_OID,
    raw: &RawOidBuffer,
) -> Result<(usize, NDIS_STATUS), Refused> {
    oid_request_with(af, vc, set, oid, Vec::new(), Some(raw))
}

fn oid_request_with(
    af: Option<usize>,
    vc: Option<usize>,
    set: bool,
    oid: NDIS_OID,
    mut buffer: Vec<u8>,
    raw: Option<&RawOidBuffer>,
) -> Result<(usize, NDIS_STATUS), Refused> {
    const CALL: &str = "NdisCoOidRequest";
    let kind = if af.is_some() {
        ReqKind::CmOid
    } else {
        ReqKind::MiniportOid
    };
    let mut guarded = raw
        .and_then(|r| r.bytes.as_deref())
        .map(|b| Guarded::new(b, Placement::ExactEnd));
    let (info_buffer, len): (PVOID, u32) = match raw {
        Some(r) => (
            guarded
                .as_mut()
                .map_or(core::ptr::null_mut(), |g| g.as_mut_ptr().cast()),
            r.length,
        ),
        None => (
            buffer.as_mut_ptr().cast(),
            u32::try_from(buffer.len()).map_err(|_| NDIS_STATUS_INVALID_LENGTH)?,
        ),
    };
    // SAFETY: NDIS_OID_REQUEST is plain data (integers, raw pointers, a
    // union of such): all-zero is a valid value.
    let mut request: Vec<NDIS_OID_REQUEST> = vec![unsafe { core::mem::zeroed() }];
    let Some(block) = request.first_mut() else {
        return Err(NDIS_STATUS_RESOURCES);
    };
    block.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_OID_REQUEST,
        NDIS_OID_REQUEST_REVISION_1,
        NDIS_SIZEOF_OID_REQUEST_REVISION_1,
    );
    block.RequestType = if set {
        NdisRequestSetInformation
    } else {
        NdisRequestQueryInformation
    };
    let info = NDIS_OID_REQUEST_QUERY_INFORMATION {
        Oid: oid,
        InformationBuffer: info_buffer,
        InformationBufferLength: len,
        BytesWritten: 0,
        BytesNeeded: 0,
    };
    // Query and set information have the same layout (asserted in ndis-sys).
    block.DATA.QUERY_INFORMATION = info;
    // From the Vec itself (as_mut_ptr), so the pointer stays valid when the
    // Vec moves into the world and while the world reads the block.
    let req_ptr: PNDIS_OID_REQUEST = request.as_mut_ptr();
    let h = req_ptr as usize;
    let target = world::with(CALL, |w| -> Result<_, Refused> {
        let vc_ctx = match vc {
            Some(v) => w.condis.vcs.get(&v).map(|x| x.cm_context).ok_or(NDIS_STATUS_FAILURE)?,
            None => 0,
        };
        let target = match af {
            Some(a) => {
                let af_ctx = w
                    .condis
                    .afs
                    .get(&a)
                    .filter(|x| x.state == AfState::Open)
                    .map(|x| x.cm_context)
                    .ok_or(NDIS_STATUS_FAILURE)?;
                let handler = cm_handlers(w)
                    .and_then(|c| c.CmOidRequestHandler)
                    .ok_or(NDIS_STATUS_FAILURE)?;
                OidTarget::Cm(handler, af_ctx, vc_ctx)
            }
            None => {
                let handler = w
                    .driver
                    .and_then(|d| d.co)
                    .and_then(|c| c.CoOidRequestHandler)
                    .ok_or(NDIS_STATUS_FAILURE)?;
                let adapter_ctx = w
                    .adapter
                    .as_ref()
                    .filter(|a| !a.halted)
                    .map(|a| a.context)
                    .ok_or(NDIS_STATUS_FAILURE)?;
                OidTarget::Miniport(handler, adapter_ctx, vc_ctx)
            }
        };
        w.condis.oids.insert(
            h,
            crate::condis::OidRec {
                request,
                buffer,
                guarded,
                kind,
                status: None,
            },
        );
        w.condis.requests.begin(kind, h);
        Ok(target)
    })?;
    let status = frame(
        kind.handler(),
        PASSIVE_LEVEL,
        detail!("oid {x}", oid),
        || match target {
            // SAFETY: the registered handler, the contexts the MCM gave, and a
            // request block owned by the world until it completes.
            OidTarget::Cm(f, a, v) => unsafe { f(a as NDIS_HANDLE, v as NDIS_HANDLE, core::ptr::null_mut(), req_ptr) },
            // SAFETY: the driver's registered CoOidRequestHandler, the
            // context of the adapter (not halted) and the VC's context (0
            // for an adapter-wide request), and a request block owned by the
            // world until it completes.
            OidTarget::Miniport(f, a, v) => unsafe { f(a as NDIS_HANDLE, v as NDIS_HANDLE, req_ptr) },
        },
    );
    Ok((h, world::with(CALL, |w| settle(w, kind, h, status, None))))
}

enum OidTarget {
    Cm(PROTOCOL_CO_OID_REQUEST, usize, usize),
    Miniport(MINIPORT_CO_OID_REQUEST, usize, usize),
}

/// The result of OID request `h` (and forgets it once it completed).
pub(crate) fn oid_result(h: usize) -> Option<OidResult> {
    world::try_with(|w| {
        let rec = w.condis.oids.get(&h)?;
        let counts = oid_counts(rec.request.first()?);
        let (done, needed) = (counts.done, counts.needed);
        let status = rec.status.unwrap_or(NDIS_STATUS_PENDING);
        let r = OidResult {
            status,
            bytes_done: done,
            bytes_needed: needed,
            data: rec.guarded.as_ref().map_or_else(|| rec.buffer.clone(), Guarded::bytes),
        };
        if rec.status.is_some() {
            w.condis.oids.remove(&h);
        }
        Some(r)
    })
    .flatten()
}

/// The scripted client's answer to an incoming call it pended
/// (NdisClIncomingCallComplete).
pub(crate) fn answer_incoming(vc: usize, status: NDIS_STATUS) -> Result<(), Refused> {
    answer_incoming_with(vc, status, None)
}

/// NdisClIncomingCallComplete with a test's raw call parameters in place of
/// the offered ones (the client's [in] CallParameters, which it may change).
pub(crate) fn answer_incoming_raw(vc: usize, status: NDIS_STATUS, raw: &RawCallParams) -> Result<(), Refused> {
    answer_incoming_with(vc, status, Some(raw))
}

fn answer_incoming_with(vc: usize, status: NDIS_STATUS, raw: Option<&RawCallParams>) -> Result<(), Refused> {
    let (handler, ctx, cp) = world::with("NdisClIncomingCallComplete", |w| -> Result<_, Refused> {
        let rec = w
            .condis
            .vcs
            .get(&vc)
            .filter(|v| v.call == CallState::Offered)
            .ok_or(NDIS_STATUS_FAILURE)?;
        let ctx = rec.cm_context;
        let handler = cm_handlers(w)
            .and_then(|c| c.CmIncomingCallCompleteHandler)
            .ok_or(NDIS_STATUS_FAILURE)?;
        // The parameters the MCM offered with the call (its memory, valid
        // while the call is offered).
        let cp = w
            .condis
            .offered
            .get(&vc)
            .map_or(core::ptr::null_mut(), |p| *p as PCO_CALL_PARAMETERS);
        // Checked and claimed in one step: the call is no longer Offered
        // once its answer is recorded, so a second answer from another of
        // the client's threads (two teardowns of one AF) is refused here,
        // and the driver hears one answer per offer, as a real client
        // answers it once (NdisClIncomingCallComplete [D]: the client
        // "must call NdisClIncomingCallComplete" to complete the offer its
        // ProtocolClIncomingCall pended, one completion for one offer).
        mcm::record_answer(w, vc, status);
        Ok((handler, ctx, cp))
    })?;
    let mut placed = raw.map(RawCallParams::place);
    let cp = placed.as_mut().map_or(cp, super::raw::PlacedCallParams::as_ptr);
    call_incoming_call_complete(handler, vc, ctx, status, cp);
    drop(placed);
    Ok(())
}

/// NDIS calls ProtocolCmIncomingCallComplete with the client's answer,
/// which [`mcm::record_answer`] has recorded.
fn call_incoming_call_complete(
    handler: PROTOCOL_CM_INCOMING_CALL_COMPLETE,
    vc: usize,
    ctx: usize,
    status: NDIS_STATUS,
    cp: PCO_CALL_PARAMETERS,
) {
    frame(
        "ProtocolCmIncomingCallComplete",
        PASSIVE_LEVEL,
        detail!("{s} VC {x}", status, vc),
        || {
            // SAFETY: registered handler; the CallMgrVcContext of this MCM-created
            // VC; the parameters NDIS dispatched, alive in the world.
            unsafe { handler(status, ctx as NDIS_HANDLE, cp) }
        },
    );
}

/// NdisClNotifyCloseAddressFamilyComplete: NDIS calls the call manager's
/// ProtocolCmNotifyCloseAfComplete with the AF's CallMgrAfContext.
pub(crate) fn complete_notify_close(af: usize) {
    let done = world::with("NdisClNotifyCloseAddressFamilyComplete", |w| {
        let a = w.condis.afs.get_mut(&af)?;
        if !a.notify_close_pending {
            return None;
        }
        a.notify_close_pending = false;
        let (client, ctx) = (a.client, a.cm_context);
        w.condis.inbox(Some(client), format!("NotifyCloseAfComplete {af:#x}"));
        w.note(af, "NdisClNotifyCloseAddressFamilyComplete");
        Some((cm_handlers(w).and_then(|c| c.CmNotifyCloseAfCompleteHandler), ctx))
    });
    if let Some((Some(done), ctx)) = done {
        frame(
            "ProtocolCmNotifyCloseAfComplete",
            PASSIVE_LEVEL,
            detail!("{x}", af),
            || {
                // SAFETY: registered handler with the AF's CallMgrAfContext.
                unsafe { done(ctx as NDIS_HANDLE, NDIS_STATUS_SUCCESS) }
            },
        );
    }
}

// --- The MCM's DDIs ------------------------------------------------------------

ddi_fn! {
    /// NdisCmOpenAddressFamilyComplete (NdisMCmOpenAddressFamilyComplete).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmOpenAddressFamilyComplete(status: NDIS_STATUS, af: NDIS_HANDLE, ctx: NDIS_HANDLE) {
        complete(ReqKind::OpenAf, af as usize, status, Some(ctx as usize));
    }

    /// NdisCmCloseAddressFamilyComplete (NdisMCmCloseAddressFamilyComplete).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmCloseAddressFamilyComplete(status: NDIS_STATUS, af: NDIS_HANDLE) {
        complete(ReqKind::CloseAf, af as usize, status, None);
    }

    /// NdisCmRegisterSapComplete (NdisMCmRegisterSapComplete).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmRegisterSapComplete(status: NDIS_STATUS, sap: NDIS_HANDLE, ctx: NDIS_HANDLE) {
        complete(ReqKind::RegisterSap, sap as usize, status, Some(ctx as usize));
    }

    /// NdisCmDeregisterSapComplete (NdisMCmDeregisterSapComplete).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmDeregisterSapComplete(status: NDIS_STATUS, sap: NDIS_HANDLE) {
        complete(ReqKind::DeregisterSap, sap as usize, status, None);
    }

    /// NdisCmMakeCallComplete (NdisMCmMakeCallComplete, the seed page).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmMakeCallComplete(status: NDIS_STATUS, vc: NDIS_HANDLE, _party: NDIS_HANDLE, party_ctx: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {
        complete(ReqKind::MakeCall, vc as usize, status, Some(party_ctx as usize));
    }

    /// NdisCmCloseCallComplete (NdisMCmCloseCallComplete, the seed page).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmCloseCallComplete(status: NDIS_STATUS, vc: NDIS_HANDLE, _party: NDIS_HANDLE) {
        complete(ReqKind::CloseCall, vc as usize, status, None);
    }

    /// NdisCmAddPartyComplete (NdisMCmAddPartyComplete).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmAddPartyComplete(status: NDIS_STATUS, party: NDIS_HANDLE, ctx: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {
        complete(ReqKind::AddParty, party as usize, status, Some(ctx as usize));
    }

    /// NdisCmDropPartyComplete (NdisMCmDropPartyComplete).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmDropPartyComplete(status: NDIS_STATUS, party: NDIS_HANDLE) {
        complete(ReqKind::DropParty, party as usize, status, None);
    }

    /// NdisCmModifyCallQoSComplete (NdisMCmModifyCallQoSComplete).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmModifyCallQoSComplete(status: NDIS_STATUS, vc: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {
        complete(ReqKind::ModifyQos, vc as usize, status, None);
    }
}

ddi_fn! {
    /// NdisCoOidRequestComplete (NdisMCmOidRequestComplete): completes a
    /// request ProtocolCoOidRequest pended.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCoOidRequestComplete(_af: NDIS_HANDLE, _vc: NDIS_HANDLE, _party: NDIS_HANDLE, request: PNDIS_OID_REQUEST, status: NDIS_STATUS) {
        complete_oid(ReqKind::CmOid, "NdisCoOidRequestComplete", request as usize, status);
    }

    /// NdisMCoOidRequestComplete: completes a request MiniportCoOidRequest pended.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCoOidRequestComplete(_adapter: NDIS_HANDLE, _vc: NDIS_HANDLE, request: PNDIS_OID_REQUEST, status: NDIS_STATUS) {
        complete_oid(ReqKind::MiniportOid, "NdisMCoOidRequestComplete", request as usize, status);
    }

    /// NdisMCoIndicateStatusEx: a status indication for the adapter or a VC,
    /// delivered to the VC's client (or every client with an open AF).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCoIndicateStatusEx(adapter: NDIS_HANDLE, vc: NDIS_HANDLE, indication: PNDIS_STATUS_INDICATION) {
        const CALL: &str = "NdisMCoIndicateStatusEx";
        let (a, h) = (adapter as usize, vc as usize);
        // SAFETY: read only when non-null: the MCM's NDIS_STATUS_INDICATION.
        let ind = (!indication.is_null()).then(|| unsafe { indication.read_unaligned() });
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("VC {x} status {s}", h, ind.map_or(0, |i| i.StatusCode)));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::indicate_status(w, a, h, ind)
        });
    }

    /// NdisMCmOidRequest: an MCM-originated request to the AF's client. The
    /// scripted clients answer at once with NDIS_STATUS_INVALID_OID (they
    /// support no OIDs), so NDIS returns that status and no completion follows.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCmOidRequest(af: NDIS_HANDLE, vc: NDIS_HANDLE, _party: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
        const CALL: &str = "NdisMCmOidRequest";
        let (afh, h) = (af as usize, vc as usize);
        // SAFETY: read only when non-null: the MCM's request header.
        let header = (!request.is_null()).then(|| unsafe { request.cast::<NDIS_OBJECT_HEADER>().read_unaligned() });
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("AF {x} VC {x}", afh, h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::oid_request(w, afh, h, header)
        })
    }

    /// NdisMCmActivateVc: sets NDIS's active bit synchronously and returns
    /// SUCCESS; MediaParameters must be non-NULL (contract §3.3 [B]).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCmActivateVc(vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS) -> NDIS_STATUS {
        const CALL: &str = "NdisMCmActivateVc";
        let h = vc as usize;
        // SAFETY: the DDI's contract: call parameters the MCM owns (or NULL).
        let params = unsafe { read_call_params(cp) };
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::activate_vc(w, h, params)
        })
    }

    /// NdisMCmDeactivateVc: clears the active bit; NOT_ACCEPTED if the VC was
    /// not active (NDIS's behaviour, contract §3.3).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCmDeactivateVc(vc: NDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisMCmDeactivateVc";
        let h = vc as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::deactivate_vc(w, h)
        })
    }

    /// NdisMCmCreateVc: the MCM creates a VC on an open AF; NDIS calls the
    /// client's ProtocolCoCreateVc synchronously (contract §3.3).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCmCreateVc(adapter: NDIS_HANDLE, af: NDIS_HANDLE, ctx: NDIS_HANDLE, out: PNDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisMCmCreateVc";
        let (a, afh) = (adapter as usize, af as usize);
        // SAFETY: read only when non-null: the MCM's out slot (contract §3.3:
        // "with h initialised to NULL").
        let initial = (!out.is_null()).then(|| unsafe { out.read() });
        let created = world::with(CALL, |w| {
            w.event("=>", CALL, detail!("AF {x}", afh));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::create_vc(w, a, afh, initial, ctx)
        });
        match created {
            Ok(h) => {
                if !out.is_null() {
                    // SAFETY: the MCM's out slot for the handle (checked non-NULL).
                    unsafe { out.write(h as NDIS_HANDLE) };
                }
                NDIS_STATUS_SUCCESS
            }
            Err(s) => s,
        }
    }

    /// NdisMCmDeleteVc: only for MCM-created, deactivated VCs; NDIS calls the
    /// client's ProtocolCoDeleteVc; the handle is invalid on return.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCmDeleteVc(vc: NDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisMCmDeleteVc";
        let h = vc as usize;
        crate::condis::window::with_ndis_window_closed(CALL, h, |w| {
            w.event("=>", CALL, detail!("{x}", h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::delete_vc(w, h)
        })
    }

    /// NdisCmDispatchIncomingCall (NdisMCmDispatchIncomingCall): offers the
    /// call to the SAP's client. If the client answers at once, NDIS calls
    /// ProtocolCmIncomingCallComplete before returning PENDING (contract §2.3).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmDispatchIncomingCall(sap: NDIS_HANDLE, vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS) -> NDIS_STATUS {
        const CALL: &str = "NdisCmDispatchIncomingCall";
        let (s, h) = (sap as usize, vc as usize);
        // SAFETY: the DDI's contract: the MCM's call parameters.
        let params = unsafe { read_call_params(cp) };
        let offer = world::with(CALL, |w| {
            w.event("=>", CALL, detail!("SAP {x} VC {x}", s, h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            let (answer, status) = mcm::dispatch_incoming_call(w, s, h, &params, cp as usize)?;
            let handler = cm_handlers(w).and_then(|c| c.CmIncomingCallCompleteHandler);
            let ctx = w.condis.vcs.get(&h).map_or(0, |v| v.cm_context);
            Ok((answer, status, handler, ctx))
        });
        let (answer, status, handler, ctx) = match offer {
            Ok(o) => o,
            Err(s) => return s,
        };
        if answer == Answer::Sync
            && let Some(handler) = handler
        {
            // NDIS completes a synchronous answer re-entrantly (contract §2.3).
            call_incoming_call_complete(handler, h, ctx, status, cp);
        }
        NDIS_STATUS_PENDING
    }

    /// NdisCmDispatchCallConnected (NdisMCmDispatchCallConnected).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmDispatchCallConnected(vc: NDIS_HANDLE) {
        const CALL: &str = "NdisCmDispatchCallConnected";
        let h = vc as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::call_connected(w, h)
        });
    }

    /// NdisCmDispatchIncomingCloseCall (NdisMCmDispatchIncomingCloseCall): the
    /// client answers with NdisClCloseCall once the MCM's current handler
    /// has returned.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmDispatchIncomingCloseCall(status: NDIS_STATUS, vc: NDIS_HANDLE, _buf: PVOID, _size: UINT) {
        const CALL: &str = "NdisCmDispatchIncomingCloseCall";
        let h = vc as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{s} {x}", status, h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::incoming_close_call(w, status, h)
        });
        (crate::hooks::client().inside)(Reached::IncomingClose(h));
    }

    /// NdisCmDispatchIncomingDropParty (NdisMCmDispatchIncomingDropParty).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmDispatchIncomingDropParty(status: NDIS_STATUS, party: NDIS_HANDLE, _buf: PVOID, _size: UINT) {
        const CALL: &str = "NdisCmDispatchIncomingDropParty";
        let h = party as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{s} {x}", status, h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::incoming_drop_party(w, status, h)
        });
        (crate::hooks::client().inside)(Reached::IncomingDropParty(h));
    }

    /// NdisCmDispatchIncomingCallQoSChange (NdisMCmDispatchIncomingCallQoSChange).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmDispatchIncomingCallQoSChange(vc: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {
        const CALL: &str = "NdisCmDispatchIncomingCallQoSChange";
        let h = vc as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", h));
            w.check_irql(CALL, DISPATCH_LEVEL);
            mcm::incoming_qos_change(w, h)
        });
    }

    /// NdisCmNotifyCloseAddressFamily (NdisMCmNotifyCloseAddressFamily):
    /// PASSIVE_LEVEL. FAILURE if the AF is already closing; otherwise PENDING
    /// (contract §1.4 [B]), and the client's ProtocolClNotifyCloseAf either
    /// tears the AF down at once and ProtocolCmNotifyCloseAfComplete runs
    /// before this returns ([`Answer::Sync`]), or returns PENDING and does
    /// it all later on a thread of its own ([`Answer::Pend`]: the
    /// `later` queue), so the call manager must wait for the completion.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCmNotifyCloseAddressFamily(af: NDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisCmNotifyCloseAddressFamily";
        let h = af as usize;
        let ok = world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", h));
            w.check_irql(CALL, PASSIVE_LEVEL);
            if crate::protocol::notify_close_unrouted(w, h) {
                return None;
            }
            mcm::notify_close_af(w, h)
        });
        match ok {
            None => NDIS_STATUS_FAILURE,
            Some(Answer::Pend) => NDIS_STATUS_PENDING,
            Some(Answer::Sync) => {
                // As a pended answer does: the notification completes
                // once the client's close has (at once if it did not pend).
                // The client's ProtocolClNotifyCloseAf runs here, inside
                // the DDI (`crate::answers`, through the hooks).
                (crate::hooks::client().run_action)(ClientAction::AnswerNotifyClose { af: h });
                NDIS_STATUS_PENDING
            }
        }
    }
}

/// An OID completion: on the right path, then as any completion.
fn complete_oid(kind: ReqKind, call: &'static str, h: usize, status: NDIS_STATUS) {
    let kind = world::with(call, |w| complete::oid_path(w, kind, call, h, status));
    complete(kind, h, status, None);
}
