//! Checked reads of an `NDIS_OID_REQUEST` the emulator built and the
//! driver filled in: its byte counts, which live in a union the request's
//! type selects.
//!
//! It owns those reads only (the unsafe part of reading an OID request
//! back), so that `crate::condis::complete` checks a request's counts
//! without unsafe code. A leaf: it names nothing else in the crate.

use ndis_sys::*;

/// What an OID request says about its information buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OidCounts {
    /// InformationBufferLength.
    pub(crate) len: usize,
    /// A set (else a query).
    pub(crate) set: bool,
    /// BytesRead (set) or BytesWritten (query).
    pub(crate) done: UINT,
    /// BytesNeeded.
    pub(crate) needed: UINT,
}

/// The byte counts of `q`, a request the emulator built as a query or a
/// set (`RequestType` says which, and so which union member is in use).
pub(crate) fn oid_counts(q: &NDIS_OID_REQUEST) -> OidCounts {
    // SAFETY: query and set information share InformationBufferLength
    // (asserted in ndis-sys); a plain integer.
    let len = unsafe { q.DATA.QUERY_INFORMATION }.InformationBufferLength as usize;
    let set = q.RequestType == NdisRequestSetInformation;
    let (done, needed) = if set {
        // SAFETY: the emulator built this request as a set, so
        // SET_INFORMATION is the union member in use; plain integers.
        let d = unsafe { q.DATA.SET_INFORMATION };
        (d.BytesRead, d.BytesNeeded)
    } else {
        // SAFETY: built as a query (RequestType is not a set), so
        // QUERY_INFORMATION is the member in use; plain integers.
        let d = unsafe { q.DATA.QUERY_INFORMATION };
        (d.BytesWritten, d.BytesNeeded)
    };
    OidCounts { len, set, done, needed }
}
