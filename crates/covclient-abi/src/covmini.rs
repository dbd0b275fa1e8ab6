//! covmini's wire constants: every value a CoNDIS client needs to talk to
//! covmini (docs/call-manager.md says what each means).
//!
//! Owns: the address family and its version, the SAP type and the make
//! call's ParamType, the address bounds, the echo address, the MTU. These
//! are the one source: covmini's `config` and `call_manager` re-export them,
//! and `include/covmini.h` is checked against them (`tests/c_header.rs`).
//! Must not: hold covclient's IOCTL interface ([`crate::ioctl`]) or any
//! logic.

abi_consts! { COVMINI_CONSTANTS;
    /// covmini's private `NDIS_AF` (`CO_ADDRESS_FAMILY.AddressFamily`): a
    /// private value, so neither NDPROXY (TAPI_PROXY) nor any other stock
    /// client mistakes covmini for something it is not.
    pub const COVMINI_AF: u32 = 0x0000_C0C0;
    /// The AF's major version (`CO_ADDRESS_FAMILY.MajorVersion`). covmini
    /// refuses another major version with NDIS_STATUS_BAD_VERSION.
    pub const COVMINI_AF_MAJOR_VERSION: u32 = 1;
    /// The AF's minor version. covmini refuses a newer minor version with
    /// NDIS_STATUS_BAD_VERSION.
    pub const COVMINI_AF_MINOR_VERSION: u32 = 0;
    /// `CO_SAP.SapType` of a covmini SAP: "the Sap bytes are a covmini
    /// address". A private value in covmini's private AF, so it cannot be
    /// mistaken for an ATM or TAPI SAP type.
    pub const COVMINI_SAP_TYPE_ADDRESS: u32 = 0xC0C0_0001;
    /// `CO_MEDIA_PARAMETERS.MediaSpecific.ParamType` of a make call or add
    /// party: "the Parameters bytes are the called covmini address".
    pub const COVMINI_PARAM_TYPE_CALLED_ADDRESS: u32 = 0xC0C0_0002;
    /// The shortest covmini address, in bytes.
    pub const COVMINI_MIN_ADDRESS_LENGTH: u32 = 1;
    /// The longest covmini address, in bytes.
    pub const COVMINI_MAX_ADDRESS_LENGTH: u32 = 32;
    /// The echo address's length (see [`COVMINI_ECHO_ADDRESS`]).
    pub const COVMINI_ECHO_ADDRESS_LENGTH: u32 = 4;
    /// Largest payload per NBL covmini carries, in bytes.
    pub const COVMINI_MTU: u32 = 1500;
}

/// The reserved address `echo`: a call to it is answered by covmini itself,
/// and every NBL sent on it comes back on the same VC. Not NUL-terminated
/// on the wire (an address is its bytes; C spells it as a string literal
/// whose first [`COVMINI_ECHO_ADDRESS_LENGTH`] bytes these are).
pub const COVMINI_ECHO_ADDRESS: &[u8; 4] = b"echo";

// The echo address's stated length is its length.
const _: () = assert!(COVMINI_ECHO_ADDRESS.len() == COVMINI_ECHO_ADDRESS_LENGTH as usize);
