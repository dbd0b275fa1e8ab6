//! Reading a flight recorder blob offline (`covmini-lab flight`, tests).
//!
//! [`Blob::parse`] checks the header and the length and names what is wrong
//! and where; [`Blob::newest_first`] then walks the complete records from the
//! newest back. A record whose sequence number is not the one its slot
//! should hold (overwritten after the header's count was read, or being
//! written when the machine stopped) is skipped, never misread. No
//! allocation, no panics: the reads are bounds-checked.

use super::event::{Encoded, Event};
use super::layout::{HEADER_SIZE, MAGIC, RECORD_SIZE, VERSION, header, record};

/// What is wrong with a blob, and where (byte offsets into it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header.
    TooShortForHeader {
        /// The blob's length.
        len: usize,
    },
    /// The magic at offset 0 is not `CvFR`.
    BadMagic {
        /// The value at offset 0.
        found: u32,
    },
    /// A version this decoder does not know (offset 4).
    UnknownVersion {
        /// The value at offset 4.
        found: u16,
    },
    /// The header or record size (offsets 6 and 8) is not this version's.
    BadSizes {
        /// The value at offset 6.
        header: u16,
        /// The value at offset 8.
        record: u16,
    },
    /// The capacity (offset 12) is zero or not a power of two.
    BadCapacity {
        /// The value at offset 12.
        found: u32,
    },
    /// The blob ends before the last record the capacity promises.
    Truncated {
        /// The blob's length.
        len: usize,
        /// The length header and records need.
        need: usize,
    },
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::TooShortForHeader { len } => {
                write!(f, "{len} bytes: shorter than the {HEADER_SIZE}-byte header")
            }
            Self::BadMagic { found } => write!(
                f,
                "offset 0: magic {found:#010x}, expected {MAGIC:#010x} (\"CvFR\"): not a covmini flight recorder blob"
            ),
            Self::UnknownVersion { found } => {
                write!(
                    f,
                    "offset 4: format version {found}, this decoder reads version {VERSION}"
                )
            }
            Self::BadSizes { header, record } => write!(
                f,
                "offsets 6 and 8: header size {header} and record size {record}, expected {HEADER_SIZE} and {RECORD_SIZE}"
            ),
            Self::BadCapacity { found } => write!(f, "offset 12: capacity {found} is not a nonzero power of two"),
            Self::Truncated { len, need } => {
                write!(f, "{len} bytes: truncated, the header's capacity needs {need} bytes")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// One decoded record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The event's index (0 = the adapter's first event).
    pub index: u32,
    /// Interrupt time, 100 ns units since boot.
    pub time: u64,
    /// The processor it ran on.
    pub cpu: u32,
    /// The event, or its raw fields if this decoder does not know its kind
    /// or code (a newer format's addition).
    pub event: Result<Event, Encoded>,
}

/// A checked blob.
///
/// INVARIANT: `bytes` holds a valid header and `capacity` (a nonzero power of
/// two) whole records after it.
#[derive(Clone, Copy, Debug)]
pub struct Blob<'a> {
    bytes: &'a [u8],
    capacity: u32,
    written: u32,
    adapter: u64,
}

fn read<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}
fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    read(bytes, at).map(u16::from_le_bytes)
}
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    read(bytes, at).map(u32::from_le_bytes)
}
fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    read(bytes, at).map(u64::from_le_bytes)
}

impl<'a> Blob<'a> {
    /// Checks the header and the length. Trailing bytes after the last
    /// record are allowed (a dump may pad the section).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let short = DecodeError::TooShortForHeader { len: bytes.len() };
        if bytes.len() < HEADER_SIZE {
            return Err(short);
        }
        let magic = u32_at(bytes, header::MAGIC).ok_or(short)?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic { found: magic });
        }
        let version = u16_at(bytes, header::VERSION).ok_or(short)?;
        if version != VERSION {
            return Err(DecodeError::UnknownVersion { found: version });
        }
        let (hs, rs) = (
            u16_at(bytes, header::HEADER_SIZE).ok_or(short)?,
            u16_at(bytes, header::RECORD_SIZE).ok_or(short)?,
        );
        if usize::from(hs) != HEADER_SIZE || usize::from(rs) != RECORD_SIZE {
            return Err(DecodeError::BadSizes { header: hs, record: rs });
        }
        let capacity = u32_at(bytes, header::CAPACITY).ok_or(short)?;
        if !capacity.is_power_of_two() {
            return Err(DecodeError::BadCapacity { found: capacity });
        }
        // CAST: u32 to usize, lossless on every covmini target.
        let need = (capacity as usize)
            .checked_mul(RECORD_SIZE)
            .and_then(|n| n.checked_add(HEADER_SIZE))
            .ok_or(DecodeError::BadCapacity { found: capacity })?;
        if bytes.len() < need {
            return Err(DecodeError::Truncated { len: bytes.len(), need });
        }
        Ok(Self {
            bytes,
            capacity,
            written: u32_at(bytes, header::WRITTEN).ok_or(short)?,
            adapter: u64_at(bytes, header::ADAPTER).ok_or(short)?,
        })
    }

    /// How many events the adapter recorded in all (wrapping at 2^32).
    #[must_use]
    pub const fn written(&self) -> u32 {
        self.written
    }

    /// The ring's capacity in records.
    #[must_use]
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The adapter context's address.
    #[must_use]
    pub const fn adapter(&self) -> u64 {
        self.adapter
    }

    /// The record of event `index`, if its slot holds that event complete.
    fn entry(&self, index: u32) -> Option<Entry> {
        // CAST: u32 to usize, lossless; the slot is below capacity (mask).
        let slot = (index & (self.capacity - 1)) as usize;
        let at = HEADER_SIZE + slot * RECORD_SIZE;
        let b = self.bytes;
        if u32_at(b, at + record::SEQ)? != index.wrapping_add(1) {
            return None;
        }
        let raw = Encoded {
            kind: *b.get(at + record::KIND)?,
            detail: *b.get(at + record::DETAIL)?,
            code: u16_at(b, at + record::CODE)?,
            value: u32_at(b, at + record::VALUE)?,
            object: u64_at(b, at + record::OBJECT)?,
        };
        Some(Entry {
            index,
            time: u64_at(b, at + record::TIME)?,
            cpu: u32_at(b, at + record::CPU)?,
            event: Event::decode(raw).ok_or(raw),
        })
    }

    /// The complete records, newest first: at most `capacity` of them, fewer
    /// if fewer events were recorded or some slots were mid-write.
    pub fn newest_first(&self) -> impl Iterator<Item = Entry> + '_ {
        let kept = self.written.min(self.capacity);
        (1..=kept).filter_map(move |back| self.entry(self.written.wrapping_sub(back)))
    }
}
