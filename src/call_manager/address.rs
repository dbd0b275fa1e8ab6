//! covmini's address format, shared by SAPs and called addresses.
//!
//! An address is 1..=[`MAX_ADDRESS_LEN`] opaque bytes. A SAP is registered
//! with `CO_SAP.SapType` = [`SAP_TYPE_ADDRESS`] and the address as its
//! `Sap` bytes; a caller names the called address in its
//! `CO_MEDIA_PARAMETERS.MediaSpecific`, with `ParamType` =
//! [`PARAM_TYPE_CALLED_ADDRESS`]. A call reaches the SAP whose address is
//! byte-for-byte equal to the called address (no wildcards, no prefixes).
//!
//! Parsing follows smoltcp's `check_len` discipline: the header numbers
//! (type and length) are checked here, *before* the glue reads a single byte
//! of the variable tail, so a malformed length never becomes a wild read.

use core::fmt;

use ndis_sys::{NDIS_STATUS, NDIS_STATUS_INVALID_ADDRESS, NDIS_STATUS_INVALID_DATA, ULONG};

// The wire values are covclient-abi's (the one source clients and
// include/covmini.h share); these names are covmini's own paths to them.

/// The longest address covmini accepts, in bytes.
// CAST: 32, a u32 constant; usize is at least 32 bits on every target.
pub const MAX_ADDRESS_LEN: usize = covclient_abi::COVMINI_MAX_ADDRESS_LENGTH as usize;

/// `CO_SAP.SapType` of a covmini SAP: "the Sap bytes are a covmini address".
/// A private value in covmini's private AF (0xC0C0), so it cannot be mistaken
/// for an ATM or TAPI SAP type.
pub const SAP_TYPE_ADDRESS: ULONG = covclient_abi::COVMINI_SAP_TYPE_ADDRESS;

/// `MediaSpecific.ParamType` of a make call: "the Parameters bytes are the
/// called covmini address".
pub const PARAM_TYPE_CALLED_ADDRESS: ULONG = covclient_abi::COVMINI_PARAM_TYPE_CALLED_ADDRESS;

// The echo address (`super::ECHO_ADDRESS`) is the one covclient-abi gives
// clients, byte for byte, and the shortest address is one byte: checked at
// compile time so the two cannot drift.
const _: () = {
    let (mut ours, mut abi) = (super::ECHO_ADDRESS, covclient_abi::COVMINI_ECHO_ADDRESS.as_slice());
    assert!(ours.len() == abi.len());
    while let ([a, a_rest @ ..], [b, b_rest @ ..]) = (ours, abi) {
        assert!(*a == *b);
        (ours, abi) = (a_rest, b_rest);
    }
    assert!(covclient_abi::COVMINI_MIN_ADDRESS_LENGTH == 1);
};

/// A covmini address. INVARIANT: `1 <= len <= MAX_ADDRESS_LEN`, and the
/// bytes past `len` are zero (so the derived equality is byte equality).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Address {
    len: u8,
    bytes: [u8; MAX_ADDRESS_LEN],
}

/// Why some bytes are not an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// Zero bytes long.
    Empty,
    /// Longer than [`MAX_ADDRESS_LEN`] (the stated length).
    TooLong(u32),
}

impl Address {
    /// The address made of `bytes`.
    pub fn new(bytes: &[u8]) -> Result<Self, AddressError> {
        if bytes.is_empty() {
            return Err(AddressError::Empty);
        }
        let mut out = [0u8; MAX_ADDRESS_LEN];
        let dst = out
            .get_mut(..bytes.len())
            .ok_or(AddressError::TooLong(u32::try_from(bytes.len()).unwrap_or(u32::MAX)))?;
        dst.copy_from_slice(bytes);
        // CAST: 1 <= len <= 32, checked just above.
        let len = bytes.len() as u8;
        // INVARIANT: length in range, the rest zero.
        Ok(Self { len, bytes: out })
    }

    /// The address bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// How many bytes the address has.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true (an address has at least one byte); for clippy's sake.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Why a CO_SAP is refused. Every case answers NDIS_STATUS_INVALID_DATA, the
/// status the ProtocolCmRegisterSap page gives for a SAP the call manager
/// cannot accept (contract §3.2 \[D\]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SapError {
    /// SapType is not [`SAP_TYPE_ADDRESS`].
    WrongType(ULONG),
    /// SapLength is 0 or more than [`MAX_ADDRESS_LEN`].
    BadLength(ULONG),
}

impl SapError {
    /// The status ProtocolCmRegisterSap returns.
    #[must_use]
    pub const fn status(self) -> NDIS_STATUS {
        NDIS_STATUS_INVALID_DATA
    }
}

/// Checks a CO_SAP header; returns how many `Sap` bytes the glue may read.
pub fn check_sap_header(sap_type: ULONG, sap_length: ULONG) -> Result<usize, SapError> {
    if sap_type != SAP_TYPE_ADDRESS {
        return Err(SapError::WrongType(sap_type));
    }
    match usize::try_from(sap_length) {
        Ok(n @ 1..=MAX_ADDRESS_LEN) => Ok(n),
        _ => Err(SapError::BadLength(sap_length)),
    }
}

/// Why a make call's parameters are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallParamsError {
    /// CallParameters is NULL.
    NoCallParameters,
    /// CallParameters->MediaParameters is NULL: there is no called address
    /// (and NdisMCmActivateVc dereferences MediaParameters, contract §3.3).
    NoMediaParameters,
    /// MediaSpecific.ParamType is not [`PARAM_TYPE_CALLED_ADDRESS`].
    WrongParamType(ULONG),
    /// MediaSpecific.Length is 0 or more than [`MAX_ADDRESS_LEN`].
    BadAddressLength(ULONG),
}

impl CallParamsError {
    /// The status ProtocolCmMakeCall returns. A structurally incomplete
    /// block is NDIS_STATUS_INVALID_DATA; a called address that is not a
    /// covmini address (wrong type or length) is NDIS_STATUS_INVALID_ADDRESS:
    /// the address, not the block, is what is wrong.
    #[must_use]
    pub const fn status(self) -> NDIS_STATUS {
        match self {
            Self::NoCallParameters | Self::NoMediaParameters => NDIS_STATUS_INVALID_DATA,
            Self::WrongParamType(_) | Self::BadAddressLength(_) => NDIS_STATUS_INVALID_ADDRESS,
        }
    }
}

/// Checks the MediaSpecific header of a make call; returns how many
/// `Parameters` bytes (the called address) the glue may read.
pub fn check_called_address_header(param_type: ULONG, length: ULONG) -> Result<usize, CallParamsError> {
    if param_type != PARAM_TYPE_CALLED_ADDRESS {
        return Err(CallParamsError::WrongParamType(param_type));
    }
    match usize::try_from(length) {
        Ok(n @ 1..=MAX_ADDRESS_LEN) => Ok(n),
        _ => Err(CallParamsError::BadAddressLength(length)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    static ADDRESS_BYTES: [u8; 5] = *b"alice";

    #[test]
    fn an_address_keeps_exactly_its_bytes() {
        let a = Address::new(&ADDRESS_BYTES).unwrap();
        assert_eq!(a.as_bytes(), b"alice");
        assert_eq!(a.len(), 5);
        assert!(!a.is_empty());
        assert_eq!(format!("{a:?}"), "616c696365");
    }

    #[test]
    fn equality_is_byte_equality_not_prefix() {
        let a = Address::new(b"alice").unwrap();
        assert_eq!(a, Address::new(b"alice").unwrap());
        assert_ne!(a, Address::new(b"alic").unwrap());
        assert_ne!(a, Address::new(b"alice\0").unwrap());
    }

    #[test]
    fn empty_and_oversized_addresses_are_refused() {
        assert_eq!(Address::new(b""), Err(AddressError::Empty));
        assert_eq!(Address::new(&[7; 33]), Err(AddressError::TooLong(33)));
        assert!(Address::new(&[7; 32]).is_ok());
    }

    #[test]
    fn sap_headers_are_checked_before_any_tail_is_read() {
        assert_eq!(check_sap_header(SAP_TYPE_ADDRESS, 5), Ok(5));
        assert_eq!(check_sap_header(SAP_TYPE_ADDRESS, 32), Ok(32));
        assert_eq!(check_sap_header(0, 5), Err(SapError::WrongType(0)));
        assert_eq!(check_sap_header(SAP_TYPE_ADDRESS, 0), Err(SapError::BadLength(0)));
        assert_eq!(check_sap_header(SAP_TYPE_ADDRESS, 33), Err(SapError::BadLength(33)));
        assert_eq!(
            check_sap_header(SAP_TYPE_ADDRESS, u32::MAX),
            Err(SapError::BadLength(u32::MAX))
        );
        assert_eq!(SapError::BadLength(0).status(), NDIS_STATUS_INVALID_DATA);
    }

    #[test]
    fn called_address_headers_map_to_their_statuses() {
        assert_eq!(check_called_address_header(PARAM_TYPE_CALLED_ADDRESS, 3), Ok(3));
        let wrong = check_called_address_header(SAP_TYPE_ADDRESS, 3).unwrap_err();
        assert_eq!(wrong.status(), NDIS_STATUS_INVALID_ADDRESS);
        let long = check_called_address_header(PARAM_TYPE_CALLED_ADDRESS, 33).unwrap_err();
        assert_eq!(long, CallParamsError::BadAddressLength(33));
        assert_eq!(CallParamsError::NoMediaParameters.status(), NDIS_STATUS_INVALID_DATA);
    }
}
