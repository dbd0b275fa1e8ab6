//! Bounds-checked little-endian reads. Nothing here indexes or panics: every
//! read goes through `get`, and an out-of-range read becomes
//! [`PeError::Truncated`] naming the structure and its file offset.

use core::ops::Range;

use super::PeError;

/// The byte range of a field inside its structure (smoltcp style).
pub(crate) type Field = Range<usize>;

/// Little-endian value of up to eight bytes. Callers pass slices of the
/// exact width, so no byte is dropped.
pub(crate) fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// `len` bytes of `bytes` at `offset`, or `Truncated`.
pub(crate) fn slice<'a>(bytes: &'a [u8], offset: usize, len: usize, what: &'static str) -> Result<&'a [u8], PeError> {
    let truncated = PeError::Truncated {
        what,
        offset,
        size: len,
        file_len: bytes.len(),
    };
    let end = offset.checked_add(len).ok_or(truncated)?;
    bytes.get(offset..end).ok_or(truncated)
}

/// A structure whose whole extent was checked to lie in the file, read by
/// field. `base` is its file offset, kept for error messages.
#[derive(Clone, Copy)]
pub(crate) struct Struct<'a> {
    bytes: &'a [u8],
    base: usize,
    what: &'static str,
}

impl<'a> Struct<'a> {
    /// The `size` bytes at `offset` of `file`, checked once.
    pub(crate) fn at(file: &'a [u8], offset: usize, size: usize, what: &'static str) -> Result<Self, PeError> {
        Ok(Struct {
            bytes: slice(file, offset, size, what)?,
            base: offset,
            what,
        })
    }

    /// A structure over bytes that were already bounds-checked (for example
    /// a slice mapped from an RVA), with `base` its file offset.
    pub(crate) fn over(bytes: &'a [u8], base: usize, what: &'static str) -> Self {
        Struct { bytes, base, what }
    }

    /// The raw bytes of a field.
    pub(crate) fn bytes(&self, field: Field) -> Result<&'a [u8], PeError> {
        let len = field.end.saturating_sub(field.start);
        self.bytes.get(field.clone()).ok_or(PeError::Truncated {
            what: self.what,
            offset: self.base.saturating_add(field.start),
            size: len,
            file_len: self.base.saturating_add(self.bytes.len()),
        })
    }

    /// A two-byte field.
    pub(crate) fn u16(&self, field: Field) -> Result<u16, PeError> {
        let v = le(self.bytes(field)?);
        Ok(u16::try_from(v).unwrap_or(u16::MAX))
    }

    /// A four-byte field.
    pub(crate) fn u32(&self, field: Field) -> Result<u32, PeError> {
        let v = le(self.bytes(field)?);
        Ok(u32::try_from(v).unwrap_or(u32::MAX))
    }

    /// An eight-byte field.
    pub(crate) fn u64(&self, field: Field) -> Result<u64, PeError> {
        Ok(le(self.bytes(field)?))
    }
}

/// `a + b` for file offsets and RVAs, or `Overflow`.
pub(crate) fn add(a: usize, b: usize, what: &'static str) -> Result<usize, PeError> {
    a.checked_add(b).ok_or(PeError::Overflow { what, at: a as u64 })
}

/// `rva + delta` as an RVA, or `Overflow`.
pub(crate) fn add_rva(rva: u32, delta: usize, what: &'static str) -> Result<u32, PeError> {
    u32::try_from(delta)
        .ok()
        .and_then(|d| rva.checked_add(d))
        .ok_or(PeError::Overflow {
            what,
            at: u64::from(rva),
        })
}

/// `count * size` as a byte length, or `Overflow`.
pub(crate) fn mul(count: u32, size: usize, what: &'static str) -> Result<usize, PeError> {
    usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(size))
        .ok_or(PeError::Overflow {
            what,
            at: u64::from(count),
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn le_reads_little_endian() {
        assert_eq!(le(&[0x34, 0x12]), 0x1234);
        assert_eq!(le(&[0x78, 0x56, 0x34, 0x12]), 0x1234_5678);
        assert_eq!(le(&[1, 0, 0, 0, 0, 0, 0, 0x80]), 0x8000_0000_0000_0001);
        assert_eq!(le(&[]), 0);
    }

    #[test]
    fn slice_reports_what_and_where() {
        let b = [0u8; 10];
        assert_eq!(slice(&b, 8, 2, "x"), Ok(&b[8..10]));
        assert_eq!(
            slice(&b, 8, 4, "thing"),
            Err(PeError::Truncated {
                what: "thing",
                offset: 8,
                size: 4,
                file_len: 10
            })
        );
        assert!(slice(&b, usize::MAX, 2, "x").is_err());
    }

    #[test]
    fn struct_fields() {
        let b = [0, 0, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12];
        let s = Struct::at(&b, 2, 6, "s").unwrap();
        assert_eq!(s.u16(0..2), Ok(0x1234));
        assert_eq!(s.u32(2..6), Ok(0x1234_5678));
        assert_eq!(
            s.u32(4..8),
            Err(PeError::Truncated {
                what: "s",
                offset: 6,
                size: 4,
                file_len: 8
            })
        );
        assert!(Struct::at(&b, 4, 6, "s").is_err());
    }

    #[test]
    fn arithmetic_is_checked() {
        assert!(add(usize::MAX, 1, "x").is_err());
        assert_eq!(add_rva(0x1000, 0x10, "x"), Ok(0x1010));
        assert!(add_rva(u32::MAX, 1, "x").is_err());
        assert!(add_rva(0, usize::MAX, "x").is_err());
        assert_eq!(mul(3, 4, "x"), Ok(12));
    }
}
