//! covclient's handles: opaque 64-bit values that name an adapter, AF, SAP,
//! VC or party and carry a generation, so a stale or foreign value is
//! caught instead of used.
//!
//! Owns: the bit layout and the checks a parser can make without the
//! driver's tables (zero, foreign tag, wrong kind). Must not: look a handle
//! up: whether its slot still holds that generation is the driver's check
//! (it answers STATUS_INVALID_HANDLE too, docs/covclient-ioctl.md).
//!
//! Layout (most significant first): tag (8 bits, [`COVCLIENT_HANDLE_TAG`]),
//! kind (8), generation (16), index (32).

use crate::ioctl::{
    COVCLIENT_HANDLE_ADAPTER, COVCLIENT_HANDLE_AF, COVCLIENT_HANDLE_PARTY, COVCLIENT_HANDLE_SAP, COVCLIENT_HANDLE_TAG,
    COVCLIENT_HANDLE_VC,
};

/// What a handle names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum HandleKind {
    /// An adapter binding.
    Adapter = COVCLIENT_HANDLE_ADAPTER as u8,
    /// An open AF.
    Af = COVCLIENT_HANDLE_AF as u8,
    /// A registered SAP.
    Sap = COVCLIENT_HANDLE_SAP as u8,
    /// A VC.
    Vc = COVCLIENT_HANDLE_VC as u8,
    /// A party of a multipoint call.
    Party = COVCLIENT_HANDLE_PARTY as u8,
}

/// Why a raw value is not a handle of the kind asked for. Every case is
/// STATUS_INVALID_HANDLE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// Zero: no handle.
    Null,
    /// The top byte is not covclient's tag: not a value covclient made.
    Foreign,
    /// A covclient handle of another kind (an AF where a VC was asked for).
    WrongKind(u8),
}

/// A handle that passed the parser's checks. INVARIANT: the tag is
/// [`COVCLIENT_HANDLE_TAG`] and the kind byte is a [`HandleKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(u64);

impl Handle {
    /// The handle of slot `index` at `generation`, of `kind`.
    #[must_use]
    pub const fn new(kind: HandleKind, index: u32, generation: u16) -> Self {
        // INVARIANT: the tag and a kind's byte.
        Self(((COVCLIENT_HANDLE_TAG as u64) << 56) | ((kind as u64) << 48) | ((generation as u64) << 32) | index as u64)
    }

    /// `raw` as a handle of one of `kinds`.
    pub fn parse(raw: u64, kinds: &[HandleKind]) -> Result<Self, HandleError> {
        if raw == 0 {
            return Err(HandleError::Null);
        }
        if raw >> 56 != u64::from(COVCLIENT_HANDLE_TAG) {
            return Err(HandleError::Foreign);
        }
        let kind = raw.to_be_bytes()[1];
        if kinds.iter().any(|k| *k as u8 == kind) {
            // INVARIANT: tag checked, kind is one of `kinds`.
            Ok(Self(raw))
        } else {
            Err(HandleError::WrongKind(kind))
        }
    }

    /// The raw value (what goes on the wire).
    #[must_use]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// What the handle names.
    #[must_use]
    pub const fn kind(self) -> HandleKind {
        match self.0.to_be_bytes()[1] {
            1 => HandleKind::Adapter,
            2 => HandleKind::Af,
            3 => HandleKind::Sap,
            4 => HandleKind::Vc,
            // By the invariant the kind byte is one of the five.
            _ => HandleKind::Party,
        }
    }

    /// The slot's generation when the handle was made.
    #[must_use]
    pub const fn generation(self) -> u16 {
        let b = self.0.to_be_bytes();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The slot index.
    #[must_use]
    pub const fn index(self) -> u32 {
        let b = self.0.to_be_bytes();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
}
