//! The TraceLogging encoding of covmini's metadata, built by the compiler.
//!
//! The format is the one `TraceLoggingProvider.h` defines in its comment
//! "This comment defines the TraceLogging encoding format" (Windows SDK
//! `shared/TraceLoggingProvider.h`; the same text backs Microsoft Learn's
//! "TraceLogging ETW event format" pages):
//!
//! ```text
//! ProviderMetadata { UINT16 Size; char Name[] /* UTF-8, nul-terminated */; chunks… }
//! EventMetadata    { UINT16 Size; UINT8 Extension[] /* tags; 1+ bytes, last has bit 7 clear */;
//!                    char Name[]; FieldMetadata Fields[]; }
//! FieldMetadata    { char Name[]; UINT8 InType;
//!                    UINT8 OutType /* only if InType & 0x80 */; … }
//! ```
//!
//! Each event is written with EtwWriteTransfer as N + 2 data descriptors:
//! the provider metadata (descriptor type 2), the event metadata (type 1),
//! then one descriptor per field, "appended end-to-end with no alignment or
//! padding"; an ANSISTRING's size is `strlen + 1`.
//!
//! What it must not do: allocate, or encode anything at run time: every
//! [`Metadata`] is a constant.

/// `TlgIn_t` values (TraceLoggingProvider.h) used by covmini's fields.
pub mod in_type {
    /// `TlgInANSISTRING`: nul-terminated 8-bit string.
    pub const ANSISTRING: u8 = 2;
    /// `TlgInUINT8`.
    pub const UINT8: u8 = 4;
    /// `TlgInUINT32`.
    pub const UINT32: u8 = 8;
    /// `TlgInUINT64`.
    pub const UINT64: u8 = 10;
    /// `TlgInHEXINT64` (what `TlgInPOINTER` is on 64-bit Windows).
    pub const HEXINT64: u8 = 21;
    /// `TlgInCOUNTEDANSISTRING`: a UINT16 byte count, then the bytes.
    pub const COUNTEDANSISTRING: u8 = 23;
    /// `_TlgInChain`: an OutType byte follows.
    pub const CHAIN: u8 = 0x80;
}

/// `TlgOut_t` values (TraceLoggingProvider.h) used by covmini's fields.
pub mod out_type {
    /// `TlgOutNULL`: no OutType (the InType's default formatting).
    pub const NONE: u8 = 0;
    /// `TlgOutNTSTATUS` ("Used with InType = uint32").
    pub const NTSTATUS: u8 = 14;
}

/// One field of an event: its name, InType and OutType
/// ([`out_type::NONE`] for none).
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The field's name.
    pub name: &'static str,
    /// Its `TlgIn_t` ([`in_type`]).
    pub in_type: u8,
    /// Its `TlgOut_t` ([`out_type`]), or [`out_type::NONE`].
    pub out_type: u8,
}

/// Room for one metadata blob: enough for every covmini event (a compile
/// error otherwise).
pub const CAPACITY: usize = 160;

/// A metadata blob: the first two bytes are its size (little-endian, the
/// size itself included); the bytes after that size are zero.
/// INVARIANT: `bytes[0..2]` holds `len() <= CAPACITY`.
#[derive(Clone, Copy, Debug)]
pub struct Metadata {
    bytes: [u8; CAPACITY],
}

impl Metadata {
    /// The blob's size in bytes (its own first field).
    pub const fn len(&self) -> usize {
        u16::from_le_bytes([self.bytes[0], self.bytes[1]]) as usize
    }

    /// Never: a blob holds at least its size field.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The blob, `len()` bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len()).unwrap_or(&self.bytes)
    }
}

/// Appends `s` and a NUL at `at`; returns the new end.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range is a compile error"
)]
const fn put_str(bytes: &mut [u8; CAPACITY], mut at: usize, s: &str) -> usize {
    let s = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        assert!(s[i] != 0, "a name must not contain NUL");
        bytes[at] = s[i];
        at += 1;
        i += 1;
    }
    bytes[at] = 0;
    at + 1
}

/// Writes the size field and wraps the blob.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range is a compile error"
)]
const fn finish(mut bytes: [u8; CAPACITY], len: usize) -> Metadata {
    assert!(len <= CAPACITY, "metadata too long");
    // CAST: len <= CAPACITY (160) fits a u16.
    let size = (len as u16).to_le_bytes();
    bytes[0] = size[0];
    bytes[1] = size[1];
    // INVARIANT: the size field holds len <= CAPACITY.
    Metadata { bytes }
}

/// The provider traits: size, name, no chunks.
pub const fn provider(name: &str) -> Metadata {
    let mut bytes = [0u8; CAPACITY];
    let end = put_str(&mut bytes, 2, name);
    finish(bytes, end)
}

/// The event metadata: size, one tag byte (0: no tags), name, fields.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range is a compile error"
)]
pub const fn event(name: &str, fields: &[Field]) -> Metadata {
    let mut bytes = [0u8; CAPACITY];
    bytes[2] = 0; // Extension: tags 0, bit 7 clear (the only byte).
    let mut at = put_str(&mut bytes, 3, name);
    let mut i = 0;
    while i < fields.len() {
        let f = fields[i];
        assert!(f.in_type & !0x1F == 0, "a plain InType: no count or chain flag");
        at = put_str(&mut bytes, at, f.name);
        if f.out_type == out_type::NONE {
            bytes[at] = f.in_type;
            at += 1;
        } else {
            assert!(f.out_type < 0x80, "no field tags");
            bytes[at] = f.in_type | in_type::CHAIN;
            bytes[at + 1] = f.out_type;
            at += 2;
        }
        i += 1;
    }
    finish(bytes, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a small event, written out by hand from the format
    /// comment: the size (which counts itself), one tag byte, the name, and
    /// each field's name, InType and (chained) OutType.
    #[test]
    fn an_event_encodes_as_the_header_describes() {
        let m = event(
            "Ev",
            &[
                Field {
                    name: "a",
                    in_type: in_type::UINT32,
                    out_type: out_type::NONE,
                },
                Field {
                    name: "st",
                    in_type: in_type::UINT32,
                    out_type: out_type::NTSTATUS,
                },
                Field {
                    name: "p",
                    in_type: in_type::ANSISTRING,
                    out_type: out_type::NONE,
                },
            ],
        );
        let expected: &[u8] = &[
            17, 0, // size
            0, // tags
            b'E', b'v', 0, // name
            b'a', 0, 8, // a: UINT32
            b's', b't', 0, 0x88, 14, // st: UINT32 | chain, NTSTATUS
            b'p', 0, 2, // p: ANSISTRING
        ];
        assert_eq!(m.as_bytes(), expected);
    }

    #[test]
    fn provider_traits_are_size_and_name() {
        let m = provider("Covmini");
        assert_eq!(m.as_bytes(), b"\x0a\x00Covmini\x00");
    }
}
