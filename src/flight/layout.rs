//! The flight recorder blob: a header and [`CAPACITY`] records, little-endian,
//! exactly the bytes of the ring in the adapter context (`ffi::flight::Ring`,
//! which asserts it has this layout), so a crash dump's secondary data and a
//! `.writemem` of the ring decode the same way.
//!
//! Header ([`HEADER_SIZE`] bytes), offsets in `header`:
//!
//! | offset | type | field |
//! | --- | --- | --- |
//! | 0 | u32 | magic, [`MAGIC`] (the bytes `CvFR`) |
//! | 4 | u16 | version, [`VERSION`] |
//! | 6 | u16 | header size, [`HEADER_SIZE`] |
//! | 8 | u16 | record size, [`RECORD_SIZE`] |
//! | 10 | u16 | reserved, 0 |
//! | 12 | u32 | capacity, a power of two ([`CAPACITY`] today) |
//! | 16 | u32 | written: how many events were ever recorded (wrapping) |
//! | 20 | u32 | reserved, 0 |
//! | 24 | u64 | the adapter context's address |
//!
//! Record ([`RECORD_SIZE`] bytes), offsets in `record`; event `i` (counting
//! from 0) goes to slot `i % capacity`:
//!
//! | offset | type | field |
//! | --- | --- | --- |
//! | 0 | u64 | interrupt time, 100 ns units (KeQueryInterruptTimePrecise) |
//! | 8 | u64 | object: the context address the event is about |
//! | 16 | u32 | sequence: `i + 1` once complete, 0 while being written |
//! | 20 | u32 | CPU: system-wide processor index (KeGetCurrentProcessorNumberEx) |
//! | 24 | u32 | value: status bits, or a transition's `from | to << 16` |
//! | 28 | u16 | code: the handler, DDI or machine ([`super::event`]) |
//! | 30 | u8 | kind ([`super::event::kind`]) |
//! | 31 | u8 | detail: a refusal's reason |

use ndis_sys::GUID;

/// The header's magic: the bytes `CvFR` ("covmini Flight Recorder").
pub const MAGIC: u32 = u32::from_le_bytes(*b"CvFR");
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
/// The header's size in bytes.
pub const HEADER_SIZE: usize = 32;
/// One record's size in bytes.
pub const RECORD_SIZE: usize = 32;
/// Records per adapter: the last this many events are kept. A power of two,
/// so the slot is the event's index masked.
pub const CAPACITY: usize = 256;
/// The whole blob's size in bytes.
pub const BLOB_SIZE: usize = HEADER_SIZE + CAPACITY * RECORD_SIZE;

const _: () = assert!(CAPACITY.is_power_of_two());

/// Field offsets in the header.
pub mod header {
    /// u32 magic.
    pub const MAGIC: usize = 0;
    /// u16 version.
    pub const VERSION: usize = 4;
    /// u16 header size.
    pub const HEADER_SIZE: usize = 6;
    /// u16 record size.
    pub const RECORD_SIZE: usize = 8;
    /// u32 capacity.
    pub const CAPACITY: usize = 12;
    /// u32 events written.
    pub const WRITTEN: usize = 16;
    /// u64 adapter address.
    pub const ADAPTER: usize = 24;
}

/// Field offsets in a record.
pub mod record {
    /// u64 interrupt time.
    pub const TIME: usize = 0;
    /// u64 object address.
    pub const OBJECT: usize = 8;
    /// u32 sequence number.
    pub const SEQ: usize = 16;
    /// u32 CPU.
    pub const CPU: usize = 20;
    /// u32 value.
    pub const VALUE: usize = 24;
    /// u16 code.
    pub const CODE: usize = 28;
    /// u8 kind.
    pub const KIND: usize = 30;
    /// u8 detail.
    pub const DETAIL: usize = 31;
}

/// The GUID covmini tags its secondary crash dump data with
/// (KBUGCHECK_SECONDARY_DUMP_DATA.Guid; `.enumtag` lists it), for the
/// adapter initialized first. Each adapter has its own block, and Windows
/// shows only the first block of a GUID ("Writing a Bug Check Callback
/// Routine": "only the first block will be accessible to the debugger"), so
/// adapter `n` (0-based, in initialize order, modulo 256) tags its block
/// with [`dump_guid`]`(n)`: this GUID with `n` as its last byte. The text
/// form is [`DUMP_GUID_TEXT`]; docs/windows.md quotes it and a test checks
/// that.
pub const DUMP_GUID: GUID = dump_guid(0);

/// [`DUMP_GUID`] in registry format.
pub const DUMP_GUID_TEXT: &str = "{d635ef6b-07d2-47a3-acd6-e08b40d98600}";

/// The GUID of adapter `n`'s block (see [`DUMP_GUID`]).
#[must_use]
pub const fn dump_guid(n: u8) -> GUID {
    GUID {
        Data1: 0xd635_ef6b,
        Data2: 0x07d2,
        Data3: 0x47a3,
        Data4: [0xac, 0xd6, 0xe0, 0x8b, 0x40, 0xd9, 0x86, n],
    }
}

/// Whether `g` is one of covmini's dump GUIDs, and for which adapter.
#[must_use]
pub fn adapter_of_guid(g: &GUID) -> Option<u8> {
    let base = DUMP_GUID;
    let same = g.Data1 == base.Data1
        && g.Data2 == base.Data2
        && g.Data3 == base.Data3
        && g.Data4.get(..7) == base.Data4.get(..7);
    if same { g.Data4.get(7).copied() } else { None }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    /// The text form is the struct's value, printed the way `.enumtag` and
    /// the registry print a GUID.
    #[test]
    fn guid_text_is_the_guid() {
        let g = DUMP_GUID;
        let d4 = g.Data4;
        let text = format!(
            "{{{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
            g.Data1, g.Data2, g.Data3, d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]
        );
        assert_eq!(text, DUMP_GUID_TEXT);
        assert_eq!(adapter_of_guid(&dump_guid(7)), Some(7));
        assert_eq!(adapter_of_guid(&GUID::default()), None);
    }
}
