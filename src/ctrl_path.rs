//! The control path: the OIDs a CoNDIS WAN miniport and its call manager
//! answer, with no FFI (netvmini's `ctrlpath.c`, smoltcp's checked parsing).
//!
//! The glue turns an `NDIS_OID_REQUEST` into an [`OidRequest`] (the request
//! type, the OID and the information buffer as a slice), says who was asked
//! ([`Scope`]: MiniportCoOidRequest with or without a VC, or the call
//! manager's ProtocolCoOidRequest), snapshots what the answer needs
//! ([`AdapterInfo`], [`VcInfo`], [`CmInfo`]) and calls [`handle`]. The [`OidOutcome`] it
//! gets back holds the status, BytesWritten (BytesRead for a set) and
//! BytesNeeded to copy into the request, and for a successful set the
//! [`SetEffect`] to apply before completing. Every request completes
//! synchronously: nothing here ever returns `NDIS_STATUS_PENDING`.
//!
//! ```text
//!   NDIS_OID_REQUEST ──glue──▶ OidRequest + Scope + AdapterInfo ──handle──▶ OidOutcome
//!                                                                           └▶ SetEffect (glue stores it)
//! ```
//!
//! Layout:
//! * [`table`]: the one table of OIDs, [`SUPPORTED_OIDS`] derived from it;
//! * [`info`]: the snapshots answered from;
//! * [`wire`]: checked byte helpers and the fixed NDIS structures.
//!
//! # Status codes
//!
//! One rule per failure, in the order the checks run (docs/oids.md has the
//! table and the sources):
//!
//! | Failure | Status | BytesWritten/Read | BytesNeeded |
//! |---|---|---|---|
//! | OID not in the table, asked of the miniport | `NDIS_STATUS_INVALID_OID` | 0 | 0 |
//! | OID not in the table, asked of the call manager | `NDIS_STATUS_NOT_SUPPORTED` | 0 | 0 |
//! | query of a set-only OID, set of a query-only OID, a method or any other request type | `NDIS_STATUS_NOT_SUPPORTED` | 0 | 0 |
//! | VC-only OID with no VC | `NDIS_STATUS_INVALID_DATA` | 0 | 0 |
//! | miniport OID sent to the call manager, or the reverse | `NDIS_STATUS_NOT_SUPPORTED` | 0 | 0 |
//! | query buffer too short | `NDIS_STATUS_BUFFER_TOO_SHORT` | 0 | full length |
//! | statistics query shorter than 4 bytes | `NDIS_STATUS_INVALID_LENGTH` | 0 | 8 |
//! | set buffer not exactly the structure's length | `NDIS_STATUS_INVALID_LENGTH` | 0 | length |
//! | set value out of bounds | `NDIS_STATUS_INVALID_DATA` | 0 | length |
//!
//! A query that succeeds writes the full answer and reports its length as
//! BytesNeeded too; a statistics counter queried with 4 to 7 bytes gets its
//! low 32 bits, BytesWritten 4, BytesNeeded 8 (the 64-bit statistics rule).
//! A set takes exactly its structure, as netvmini's sets do.
//!
//! # IRQL
//! Pure computation on snapshots: callable at any IRQL <= DISPATCH_LEVEL
//! (MiniportCoOidRequest and ProtocolCoOidRequest run at <= DISPATCH_LEVEL).

pub mod info;
pub mod table;
pub mod wire;

#[cfg(test)]
mod tests;

use ndis_sys::*;

pub use info::{AdapterInfo, CmInfo, HardwareStatus, LinkSpeed, Stats, VcInfo};
pub use table::{SUPPORTED_OID_LIST_LENGTH, SUPPORTED_OIDS, TABLE, oid_name};
pub use wire::{CoAddressList, CoLinkSpeed, WanCoInfo, WanLinkInfo};

use table::{Ctx, Reply};

/// What the request asks, from `NDIS_OID_REQUEST.RequestType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// `NdisRequestQueryInformation` or `NdisRequestQueryStatistics` (NDIS
    /// sends statistics queries through the same handler; netvmini treats
    /// them alike).
    Query,
    /// `NdisRequestSetInformation`: the buffer is the input.
    Set,
    /// `NdisRequestMethod`: covmini has no method OIDs.
    Method,
    /// Any other (legacy) request type.
    Other(NDIS_REQUEST_TYPE),
}

impl RequestKind {
    /// Classifies `NDIS_OID_REQUEST.RequestType`.
    #[must_use]
    #[expect(non_upper_case_globals, reason = "the WDK's NDIS_REQUEST_TYPE enumerator names")]
    pub const fn from_request_type(request_type: NDIS_REQUEST_TYPE) -> Self {
        match request_type {
            NdisRequestQueryInformation | NdisRequestQueryStatistics => Self::Query,
            NdisRequestSetInformation => Self::Set,
            NdisRequestMethod => Self::Method,
            other => Self::Other(other),
        }
    }
}

/// One OID request, as the glue sees it once the pointers are checked.
#[derive(Debug)]
pub struct OidRequest<'a> {
    /// Query, set, or something covmini refuses.
    pub kind: RequestKind,
    /// `DATA.*.Oid`.
    pub oid: NDIS_OID,
    /// `InformationBuffer` of `InformationBufferLength` bytes (empty when
    /// the length is 0 or the pointer NULL). Written by a query, read by a
    /// set.
    pub buffer: &'a mut [u8],
}

/// Who was asked.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'v> {
    /// MiniportCoOidRequest with a NULL MiniportVcContext: the adapter.
    Adapter,
    /// MiniportCoOidRequest naming a VC, with that VC's snapshot.
    Vc(&'v VcInfo),
    /// ProtocolCoOidRequest: the call manager, reached with an AF handle
    /// (and possibly a VC or party handle of that AF), with its snapshot.
    /// covmini's call-manager OIDs describe the fabric, not one call, so a
    /// VC or party context changes no answer; the glue only checks it is
    /// live. The miniport's OIDs are refused here: a client reaches the
    /// miniport with a NULL AF handle [D: NdisCoOidRequest].
    CallManager(&'v CmInfo),
}

impl<'v> Scope<'v> {
    /// The VC the request names, if any.
    #[must_use]
    pub const fn vc(&self) -> Option<&'v VcInfo> {
        match self {
            Self::Vc(vc) => Some(vc),
            Self::Adapter | Self::CallManager(_) => None,
        }
    }

    /// The call manager's snapshot, for a ProtocolCoOidRequest.
    #[must_use]
    pub const fn cm(&self) -> Option<&'v CmInfo> {
        match self {
            Self::CallManager(cm) => Some(cm),
            Self::Adapter | Self::Vc(_) => None,
        }
    }

    /// The status for an OID covmini does not know, as each handler's page
    /// gives it: MiniportCoOidRequest returns `NDIS_STATUS_INVALID_OID` ("the
    /// OID ... was invalid or not recognized"); ProtocolCoOidRequest returns
    /// `NDIS_STATUS_NOT_SUPPORTED` ("failed this request because it did not
    /// recognize the OID") [D: MINIPORT_CO_OID_REQUEST, PROTOCOL_CO_OID_REQUEST].
    #[must_use]
    pub const fn unknown_oid_status(&self) -> NDIS_STATUS {
        match self {
            Self::Adapter | Self::Vc(_) => NDIS_STATUS_INVALID_OID,
            Self::CallManager(_) => NDIS_STATUS_NOT_SUPPORTED,
        }
    }
}

/// What a successful set asks the glue to store (under its lock) before it
/// completes the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a set is only done once its effect is stored"]
pub enum SetEffect {
    /// `OID_GEN_CO_PROTOCOL_OPTIONS`: the adapter's protocol options.
    ProtocolOptions(ULONG),
    /// `OID_WAN_CO_SET_LINK_INFO`: the named VC's link state
    /// ([`VcInfo::link_info`]).
    WanLinkInfo(WanLinkInfo),
}

/// The answer to copy into the `NDIS_OID_REQUEST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the outcome is what completes the request"]
pub struct OidOutcome {
    /// The status to return (never `NDIS_STATUS_PENDING`).
    pub status: NDIS_STATUS,
    /// `QUERY_INFORMATION.BytesWritten` for a query,
    /// `SET_INFORMATION.BytesRead` for a set.
    pub bytes_written: u32,
    /// `BytesNeeded`.
    pub bytes_needed: u32,
    /// For a successful set: what to store.
    pub effect: Option<SetEffect>,
}

impl OidOutcome {
    /// A refusal that transfers nothing.
    const fn refused(status: NDIS_STATUS) -> Self {
        Self {
            status,
            bytes_written: 0,
            bytes_needed: 0,
            effect: None,
        }
    }

    /// A failure that names the length the OID needs.
    const fn needs(status: NDIS_STATUS, needed: u32) -> Self {
        Self {
            status,
            bytes_written: 0,
            bytes_needed: needed,
            effect: None,
        }
    }

    /// Whether the request succeeded.
    #[must_use]
    pub const fn succeeded(&self) -> bool {
        self.status == NDIS_STATUS_SUCCESS
    }
}

/// A length as the ULONG NDIS stores. Every length here is a structure size
/// or bounded by the caller's ULONG buffer length, so it never saturates.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Answers one OID request. See the module docs for the status rules.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub fn handle(request: OidRequest<'_>, scope: Scope<'_>, adapter: &AdapterInfo) -> OidOutcome {
    let OidRequest { kind, oid, buffer } = request;
    let Some(entry) = table::lookup(oid) else {
        return OidOutcome::refused(scope.unknown_oid_status());
    };
    // The operation must exist before the scope matters: a set of a
    // query-only OID is NOT_SUPPORTED wherever it is asked.
    let operation = match kind {
        RequestKind::Query => entry.query.map(Operation::Query),
        RequestKind::Set => entry.set.map(Operation::Set),
        RequestKind::Method | RequestKind::Other(_) => None,
    };
    let Some(operation) = operation else {
        return OidOutcome::refused(NDIS_STATUS_NOT_SUPPORTED);
    };
    if let Err(status) = entry.scopes.admit(&scope) {
        return OidOutcome::refused(status);
    }
    let ctx = Ctx {
        adapter,
        vc: scope.vc(),
        cm: scope.cm(),
    };
    match operation {
        Operation::Query(answer) => emit_answer(answer(&ctx), buffer),
        Operation::Set(spec) => apply_set(&ctx, spec, buffer),
    }
}

/// The operation a request resolved to.
enum Operation {
    Query(table::QueryFn),
    Set(table::SetSpec),
}

/// Writes a query's answer into the caller's buffer, under the length rules.
fn emit_answer(reply: Reply<'_>, buffer: &mut [u8]) -> OidOutcome {
    if let Reply::Counter(value) = reply {
        return emit_counter(value, buffer);
    }
    let needed = len32(reply.len());
    match reply.emit(buffer) {
        Ok(written) => OidOutcome {
            status: NDIS_STATUS_SUCCESS,
            bytes_written: len32(written),
            bytes_needed: needed,
            effect: None,
        },
        // [D: MiniportCoOidRequest] "NDIS_STATUS_BUFFER_TOO_SHORT: The buffer
        // ... was too small to hold the requested data", with BytesNeeded
        // set [D: "Handling Queries in a CoNDIS WAN Miniport Driver"].
        Err(_) => OidOutcome::needs(NDIS_STATUS_BUFFER_TOO_SHORT, needed),
    }
}

/// A statistics counter [D: "Querying 64-Bit Statistics OIDs"]: 8 bytes to a
/// buffer of 8 or more; the low 32 bits to a buffer of 4 to 7 (BytesNeeded
/// 8, still a success); `NDIS_STATUS_INVALID_LENGTH` below 4.
fn emit_counter(value: u64, buffer: &mut [u8]) -> OidOutcome {
    const FULL: u32 = 8;
    let written = wire::put_u64(buffer, value).or_else(|_| {
        // CAST: the low 32 bits, as the 64-bit statistics rule asks.
        wire::put_u32(buffer, value as u32)
    });
    match written {
        Ok(n) => OidOutcome {
            status: NDIS_STATUS_SUCCESS,
            bytes_written: len32(n),
            bytes_needed: FULL,
            effect: None,
        },
        Err(_) => OidOutcome::needs(NDIS_STATUS_INVALID_LENGTH, FULL),
    }
}

/// Reads and applies a set.
fn apply_set(ctx: &Ctx<'_>, spec: table::SetSpec, buffer: &[u8]) -> OidOutcome {
    let needed = len32(spec.len);
    // [D: MiniportCoOidRequest] "NDIS_STATUS_INVALID_LENGTH: The value ...
    // in InformationBufferLength ... is incorrect for the specified OID":
    // shorter or longer, as netvmini's `!= sizeof(ULONG)` checks.
    if buffer.len() != spec.len {
        return OidOutcome::needs(NDIS_STATUS_INVALID_LENGTH, needed);
    }
    let input = buffer;
    match (spec.apply)(ctx, input) {
        Ok(effect) => OidOutcome {
            status: NDIS_STATUS_SUCCESS,
            bytes_written: needed,
            bytes_needed: needed,
            effect: Some(effect),
        },
        Err(status) => OidOutcome::needs(status, needed),
    }
}
