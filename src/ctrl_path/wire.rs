//! Bytes in and out of an OID information buffer.
//!
//! smoltcp's `wire` discipline: small checked helpers that never index a
//! slice, and one `Repr` per fixed NDIS structure with a documented `LEN`,
//! an `emit` that checks the whole length before writing a single byte (a
//! refused answer leaves the caller's buffer untouched), and a `parse` that
//! checks it before reading. Offsets live in a private `mod field`, and are
//! checked at compile time against the `ndis-sys` structure they mirror.
//!
//! Everything is little-endian: NDIS runs on x64 and ARM64 Windows only.

use core::fmt;
use core::ops::Range;

use ndis_sys::{
    CO_ADDRESS, CO_ADDRESS_LIST, NDIS_CO_LINK_SPEED, NDIS_WAN_CO_GET_LINK_INFO, NDIS_WAN_CO_INFO,
    NDIS_WAN_CO_SET_LINK_INFO,
};

use crate::call_manager::{Address, MAX_ADDRESS_LEN, MAX_SAPS};

/// The buffer is too short for the value: `needed` bytes are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooShort {
    /// The length the value needs, in bytes.
    pub needed: usize,
}

impl fmt::Display for TooShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "information buffer too short: {} bytes needed", self.needed)
    }
}

impl core::error::Error for TooShort {}

/// A byte range inside a structure.
type Field = Range<usize>;

/// The `N` bytes at `field` of `buf`, or [`TooShort`] naming `needed`.
fn slot_mut<const N: usize>(buf: &mut [u8], field: Field, needed: usize) -> Result<&mut [u8; N], TooShort> {
    buf.get_mut(field)
        .and_then(|s| <&mut [u8; N]>::try_from(s).ok())
        .ok_or(TooShort { needed })
}

/// The `N` bytes at `field` of `buf`, or [`TooShort`] naming `needed`.
fn slot<const N: usize>(buf: &[u8], field: Field, needed: usize) -> Result<&[u8; N], TooShort> {
    buf.get(field)
        .and_then(|s| <&[u8; N]>::try_from(s).ok())
        .ok_or(TooShort { needed })
}

/// Writes `v` at the start of `buf`; returns the bytes written (2).
pub fn put_u16(buf: &mut [u8], v: u16) -> Result<usize, TooShort> {
    *slot_mut::<2>(buf, 0..2, 2)? = v.to_le_bytes();
    Ok(2)
}

/// Writes `v` at the start of `buf`; returns the bytes written (4).
pub fn put_u32(buf: &mut [u8], v: u32) -> Result<usize, TooShort> {
    *slot_mut::<4>(buf, 0..4, 4)? = v.to_le_bytes();
    Ok(4)
}

/// Writes `v` (a C enum: `int`) at the start of `buf`; returns 4.
pub fn put_i32(buf: &mut [u8], v: i32) -> Result<usize, TooShort> {
    *slot_mut::<4>(buf, 0..4, 4)? = v.to_le_bytes();
    Ok(4)
}

/// Writes `v` at the start of `buf`; returns the bytes written (8).
pub fn put_u64(buf: &mut [u8], v: u64) -> Result<usize, TooShort> {
    *slot_mut::<8>(buf, 0..8, 8)? = v.to_le_bytes();
    Ok(8)
}

/// Copies `bytes` to the start of `buf`; returns `bytes.len()`.
pub fn put_bytes(buf: &mut [u8], bytes: &[u8]) -> Result<usize, TooShort> {
    let out = buf.get_mut(..bytes.len()).ok_or(TooShort { needed: bytes.len() })?;
    out.copy_from_slice(bytes);
    Ok(bytes.len())
}

/// Writes `values` as consecutive little-endian ULONGs (an `NDIS_OID` array);
/// returns the bytes written. Checks the whole length first.
pub fn put_u32_array(buf: &mut [u8], values: &[u32]) -> Result<usize, TooShort> {
    let needed = values.len().saturating_mul(4);
    let out = buf.get_mut(..needed).ok_or(TooShort { needed })?;
    for (chunk, v) in out.chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    Ok(needed)
}

/// Reads the ULONG at the start of `buf`.
pub fn get_u32(buf: &[u8]) -> Result<u32, TooShort> {
    Ok(u32::from_le_bytes(*slot::<4>(buf, 0..4, 4)?))
}

/// Writes the ULONG `v` at `field` of `buf` (whose length was checked).
fn put_field(buf: &mut [u8], field: Field, v: u32, needed: usize) -> Result<(), TooShort> {
    *slot_mut::<4>(buf, field, needed)? = v.to_le_bytes();
    Ok(())
}

/// Reads the ULONG at `field` of `buf`.
fn get_field(buf: &[u8], field: Field, needed: usize) -> Result<u32, TooShort> {
    Ok(u32::from_le_bytes(*slot::<4>(buf, field, needed)?))
}

// ---------------------------------------------------------------------------
// NDIS_CO_LINK_SPEED
// ---------------------------------------------------------------------------

/// `NDIS_CO_LINK_SPEED`: the answer to `OID_GEN_CO_LINK_SPEED` and
/// `OID_GEN_CO_MINIMUM_LINK_SPEED`, both speeds in units of **100 bit/s**.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoLinkSpeed {
    /// Transmit speed, 100 bit/s units.
    pub outbound: u32,
    /// Receive speed, 100 bit/s units.
    pub inbound: u32,
}

mod co_link_speed {
    use super::Field;
    pub const OUTBOUND: Field = 0..4;
    pub const INBOUND: Field = 4..8;
}

impl CoLinkSpeed {
    /// Bytes on the wire: `sizeof(NDIS_CO_LINK_SPEED)`.
    pub const LEN: usize = core::mem::size_of::<NDIS_CO_LINK_SPEED>();

    /// From bits per second, rounded down to 100 bit/s and saturated at
    /// `ULONG` max (so `NDIS_LINK_SPEED_UNKNOWN` reads as 0xFFFFFFFF).
    #[must_use]
    pub fn from_bps(outbound_bps: u64, inbound_bps: u64) -> Self {
        // NO-OVERFLOW: a division; the narrowing saturates.
        let units = |bps: u64| u32::try_from(bps / 100).unwrap_or(u32::MAX);
        Self {
            outbound: units(outbound_bps),
            inbound: units(inbound_bps),
        }
    }

    /// Writes the structure at the start of `buf`; returns [`Self::LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, TooShort> {
        let out = buf.get_mut(..Self::LEN).ok_or(TooShort { needed: Self::LEN })?;
        put_field(out, co_link_speed::OUTBOUND, self.outbound, Self::LEN)?;
        put_field(out, co_link_speed::INBOUND, self.inbound, Self::LEN)?;
        Ok(Self::LEN)
    }

    /// Reads the structure at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, TooShort> {
        Ok(Self {
            outbound: get_field(buf, co_link_speed::OUTBOUND, Self::LEN)?,
            inbound: get_field(buf, co_link_speed::INBOUND, Self::LEN)?,
        })
    }
}

// ---------------------------------------------------------------------------
// NDIS_WAN_CO_INFO
// ---------------------------------------------------------------------------

/// `NDIS_WAN_CO_INFO`: what applies to every VC of the adapter, the answer to
/// `OID_WAN_CO_GET_INFO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WanCoInfo {
    /// Largest frame NDISWAN may send or receive, framing overhead excluded.
    pub max_frame_size: u32,
    /// Most packets outstanding on one VC; at least 1.
    pub max_send_window: u32,
    /// The framing the adapter supports (`PPP_FRAMING`, ...).
    pub framing_bits: u32,
    /// Asynchronous control character map; asynchronous media only.
    pub desired_accm: u32,
}

mod wan_co_info {
    use super::Field;
    pub const MAX_FRAME_SIZE: Field = 0..4;
    pub const MAX_SEND_WINDOW: Field = 4..8;
    pub const FRAMING_BITS: Field = 8..12;
    pub const DESIRED_ACCM: Field = 12..16;
}

impl WanCoInfo {
    /// Bytes on the wire: `sizeof(NDIS_WAN_CO_INFO)`.
    pub const LEN: usize = core::mem::size_of::<NDIS_WAN_CO_INFO>();

    /// Writes the structure at the start of `buf`; returns [`Self::LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, TooShort> {
        use wan_co_info as f;
        let out = buf.get_mut(..Self::LEN).ok_or(TooShort { needed: Self::LEN })?;
        put_field(out, f::MAX_FRAME_SIZE, self.max_frame_size, Self::LEN)?;
        put_field(out, f::MAX_SEND_WINDOW, self.max_send_window, Self::LEN)?;
        put_field(out, f::FRAMING_BITS, self.framing_bits, Self::LEN)?;
        put_field(out, f::DESIRED_ACCM, self.desired_accm, Self::LEN)?;
        Ok(Self::LEN)
    }

    /// Reads the structure at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, TooShort> {
        use wan_co_info as f;
        Ok(Self {
            max_frame_size: get_field(buf, f::MAX_FRAME_SIZE, Self::LEN)?,
            max_send_window: get_field(buf, f::MAX_SEND_WINDOW, Self::LEN)?,
            framing_bits: get_field(buf, f::FRAMING_BITS, Self::LEN)?,
            desired_accm: get_field(buf, f::DESIRED_ACCM, Self::LEN)?,
        })
    }
}

// ---------------------------------------------------------------------------
// NDIS_WAN_CO_SET_LINK_INFO / NDIS_WAN_CO_GET_LINK_INFO
// ---------------------------------------------------------------------------

/// The PPP framing state of one VC: `NDIS_WAN_CO_SET_LINK_INFO` (input of
/// `OID_WAN_CO_SET_LINK_INFO`) and `NDIS_WAN_CO_GET_LINK_INFO` (answer to
/// `OID_WAN_CO_GET_LINK_INFO`) have the same eight ULONGs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WanLinkInfo {
    /// Largest frame the protocol sends on this VC.
    pub max_send_frame_size: u32,
    /// Largest frame the protocol receives on this VC.
    pub max_recv_frame_size: u32,
    /// Framing to send.
    pub send_framing_bits: u32,
    /// Framing to receive.
    pub recv_framing_bits: u32,
    /// Reserved \[D\].
    pub send_compression_bits: u32,
    /// Reserved \[D\].
    pub recv_compression_bits: u32,
    /// Bytes to stuff on send (asynchronous media).
    pub send_accm: u32,
    /// Bytes to stuff on receive (asynchronous media).
    pub recv_accm: u32,
}

mod wan_link_info {
    use super::Field;
    pub const MAX_SEND_FRAME_SIZE: Field = 0..4;
    pub const MAX_RECV_FRAME_SIZE: Field = 4..8;
    pub const SEND_FRAMING_BITS: Field = 8..12;
    pub const RECV_FRAMING_BITS: Field = 12..16;
    pub const SEND_COMPRESSION_BITS: Field = 16..20;
    pub const RECV_COMPRESSION_BITS: Field = 20..24;
    pub const SEND_ACCM: Field = 24..28;
    pub const RECV_ACCM: Field = 28..32;
}

impl WanLinkInfo {
    /// Bytes on the wire: `sizeof(NDIS_WAN_CO_SET_LINK_INFO)` =
    /// `sizeof(NDIS_WAN_CO_GET_LINK_INFO)`.
    pub const LEN: usize = core::mem::size_of::<NDIS_WAN_CO_SET_LINK_INFO>();

    /// The fields in wire order, for emit and parse alike.
    fn fields(&mut self) -> [(Field, &mut u32); 8] {
        use wan_link_info as f;
        [
            (f::MAX_SEND_FRAME_SIZE, &mut self.max_send_frame_size),
            (f::MAX_RECV_FRAME_SIZE, &mut self.max_recv_frame_size),
            (f::SEND_FRAMING_BITS, &mut self.send_framing_bits),
            (f::RECV_FRAMING_BITS, &mut self.recv_framing_bits),
            (f::SEND_COMPRESSION_BITS, &mut self.send_compression_bits),
            (f::RECV_COMPRESSION_BITS, &mut self.recv_compression_bits),
            (f::SEND_ACCM, &mut self.send_accm),
            (f::RECV_ACCM, &mut self.recv_accm),
        ]
    }

    /// Writes the structure at the start of `buf`; returns [`Self::LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, TooShort> {
        let out = buf.get_mut(..Self::LEN).ok_or(TooShort { needed: Self::LEN })?;
        let mut copy = *self;
        for (field, value) in copy.fields() {
            put_field(out, field, *value, Self::LEN)?;
        }
        Ok(Self::LEN)
    }

    /// Reads the structure at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, TooShort> {
        let input = buf.get(..Self::LEN).ok_or(TooShort { needed: Self::LEN })?;
        let mut info = Self::default();
        for (field, value) in info.fields() {
            *value = get_field(input, field, Self::LEN)?;
        }
        Ok(info)
    }
}

// ---------------------------------------------------------------------------
// CO_ADDRESS_LIST
// ---------------------------------------------------------------------------

/// `CO_ADDRESS_LIST` as covmini's call manager answers `OID_CO_GET_ADDRESSES`
/// \[D: "OID_CO_GET_ADDRESSES"\]: two ULONGs, then
/// `NumberOfAddressesAvailable` `CO_ADDRESS` slots of one fixed size ("the
/// size of the buffer at AddressList is always NumberOfAddressesAvailable
/// multiplied by the address size, which is a fixed size specific to the
/// call manager").
///
/// ```text
///   0  NumberOfAddressesAvailable  = CAPACITY (the most the list can hold)
///   4  NumberOfAddresses           = how many slots are filled, from the first
///   8  CO_ADDRESS[CAPACITY], SLOT_LEN bytes each:
///        +0 AddressSize  (the address's length, 1..=MAX_ADDRESS_LEN)
///        +4 Address      (its bytes, zero-padded to MAX_ADDRESS_LEN)
/// ```
///
/// The length is constant ([`Self::LEN`]): a client that probes for
/// BytesNeeded and then asks again never comes up short because a SAP was
/// registered in between. Unfilled slots are written as zeros.
#[derive(Clone, Copy, Debug)]
pub struct CoAddressList;

mod co_address_list {
    use super::Field;
    pub const AVAILABLE: Field = 0..4;
    pub const COUNT: Field = 4..8;
    pub const LIST: usize = 8;
    /// Within a slot.
    pub const ADDRESS_SIZE: Field = 0..4;
    pub const ADDRESS: usize = 4;
}

impl CoAddressList {
    /// The most addresses the list holds: every SAP plus the echo address.
    pub const CAPACITY: usize = MAX_SAPS + 1;
    /// One `CO_ADDRESS` slot: `AddressSize` and `MAX_ADDRESS_LEN` bytes (a
    /// multiple of 4, so every `AddressSize` is ULONG-aligned).
    pub const SLOT_LEN: usize = co_address_list::ADDRESS + MAX_ADDRESS_LEN;
    /// Bytes on the wire, whatever the number of addresses.
    pub const LEN: usize = co_address_list::LIST + Self::CAPACITY * Self::SLOT_LEN;

    /// Writes the list of `addresses` (the first [`Self::CAPACITY`]) at the
    /// start of `buf`; returns [`Self::LEN`]. Checks the whole length before
    /// writing a byte.
    pub fn emit<'a>(buf: &mut [u8], addresses: impl Iterator<Item = &'a Address>) -> Result<usize, TooShort> {
        use co_address_list as f;
        let too_short = TooShort { needed: Self::LEN };
        let out = buf.get_mut(..Self::LEN).ok_or(too_short)?;
        out.fill(0);
        let (header, list) = out.split_at_mut(f::LIST);
        let mut count: u32 = 0;
        for (slot, address) in list.chunks_exact_mut(Self::SLOT_LEN).zip(addresses) {
            // CAST: an address is at most MAX_ADDRESS_LEN (32) bytes.
            put_field(slot, f::ADDRESS_SIZE, address.len() as u32, Self::LEN)?;
            let bytes = slot.get_mut(f::ADDRESS..).ok_or(too_short)?;
            put_bytes(bytes, address.as_bytes())?;
            count = count.saturating_add(1);
        }
        // CAST: CAPACITY is 33 (asserted below to fit easily).
        put_field(header, f::AVAILABLE, Self::CAPACITY as u32, Self::LEN)?;
        put_field(header, f::COUNT, count, Self::LEN)?;
        Ok(Self::LEN)
    }

    /// `(NumberOfAddressesAvailable, NumberOfAddresses)` of a list at the
    /// start of `buf`.
    pub fn counts(buf: &[u8]) -> Result<(u32, u32), TooShort> {
        use co_address_list as f;
        Ok((
            get_field(buf, f::AVAILABLE, f::LIST)?,
            get_field(buf, f::COUNT, f::LIST)?,
        ))
    }

    /// The bytes of address `index` in a list at the start of `buf`: None
    /// past `NumberOfAddresses`, past the buffer, or for an `AddressSize`
    /// larger than a slot.
    #[must_use]
    pub fn address(buf: &[u8], index: usize) -> Option<&[u8]> {
        use co_address_list as f;
        let (_, count) = Self::counts(buf).ok()?;
        if index >= usize::try_from(count).ok()? {
            return None;
        }
        let start = f::LIST.checked_add(index.checked_mul(Self::SLOT_LEN)?)?;
        let slot = buf.get(start..start.checked_add(Self::SLOT_LEN)?)?;
        let size = usize::try_from(get_field(slot, f::ADDRESS_SIZE, Self::SLOT_LEN).ok()?).ok()?;
        slot.get(f::ADDRESS..f::ADDRESS.checked_add(size)?)
    }
}

const _: () = {
    use co_address_list as f;
    use core::mem::offset_of;
    assert!(f::AVAILABLE.start == offset_of!(CO_ADDRESS_LIST, NumberOfAddressesAvailable));
    assert!(f::COUNT.start == offset_of!(CO_ADDRESS_LIST, NumberOfAddresses));
    assert!(f::LIST == offset_of!(CO_ADDRESS_LIST, AddressList));
    assert!(f::ADDRESS_SIZE.start == offset_of!(CO_ADDRESS, AddressSize));
    assert!(f::ADDRESS == offset_of!(CO_ADDRESS, Address));
    assert!(CoAddressList::SLOT_LEN.is_multiple_of(4));
    assert!(CoAddressList::LEN <= 4096);
};

// The private offsets above are the ndis-sys structures' offsets, whose sizes
// and offsets are themselves asserted against the WDK.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(co_link_speed::OUTBOUND.start == offset_of!(NDIS_CO_LINK_SPEED, Outbound));
    assert!(co_link_speed::INBOUND.start == offset_of!(NDIS_CO_LINK_SPEED, Inbound));
    assert!(co_link_speed::INBOUND.end == size_of::<NDIS_CO_LINK_SPEED>());

    assert!(wan_co_info::MAX_FRAME_SIZE.start == offset_of!(NDIS_WAN_CO_INFO, MaxFrameSize));
    assert!(wan_co_info::MAX_SEND_WINDOW.start == offset_of!(NDIS_WAN_CO_INFO, MaxSendWindow));
    assert!(wan_co_info::FRAMING_BITS.start == offset_of!(NDIS_WAN_CO_INFO, FramingBits));
    assert!(wan_co_info::DESIRED_ACCM.start == offset_of!(NDIS_WAN_CO_INFO, DesiredACCM));
    assert!(wan_co_info::DESIRED_ACCM.end == size_of::<NDIS_WAN_CO_INFO>());

    use wan_link_info as l;
    assert!(l::MAX_SEND_FRAME_SIZE.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, MaxSendFrameSize));
    assert!(l::MAX_RECV_FRAME_SIZE.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, MaxRecvFrameSize));
    assert!(l::SEND_FRAMING_BITS.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, SendFramingBits));
    assert!(l::RECV_FRAMING_BITS.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, RecvFramingBits));
    assert!(l::SEND_COMPRESSION_BITS.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, SendCompressionBits));
    assert!(l::RECV_COMPRESSION_BITS.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, RecvCompressionBits));
    assert!(l::SEND_ACCM.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, SendACCM));
    assert!(l::RECV_ACCM.start == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, RecvACCM));
    assert!(l::RECV_ACCM.end == size_of::<NDIS_WAN_CO_SET_LINK_INFO>());
    // GET and SET are the same eight ULONGs.
    assert!(size_of::<NDIS_WAN_CO_GET_LINK_INFO>() == size_of::<NDIS_WAN_CO_SET_LINK_INFO>());
    assert!(offset_of!(NDIS_WAN_CO_GET_LINK_INFO, RecvACCM) == offset_of!(NDIS_WAN_CO_SET_LINK_INFO, RecvACCM));
};

#[cfg(test)]
mod tests {
    use super::*;

    // ---- scalar helpers ---------------------------------------------------

    #[test]
    fn scalars_are_little_endian_and_report_their_length() {
        let mut buf = [0xEEu8; 9];
        assert_eq!(put_u16(&mut buf, 0x061E), Ok(2));
        assert_eq!(buf[..3], [0x1E, 0x06, 0xEE]);
        assert_eq!(put_u32(&mut buf, 0x0102_0304), Ok(4));
        assert_eq!(buf[..5], [0x04, 0x03, 0x02, 0x01, 0xEE]);
        assert_eq!(put_i32(&mut buf, -2), Ok(4));
        assert_eq!(buf[..4], [0xFE, 0xFF, 0xFF, 0xFF]);
        assert_eq!(put_u64(&mut buf, 0x0102_0304_0506_0708), Ok(8));
        assert_eq!(buf, [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0xEE]);
        assert_eq!(get_u32(&[0x04, 0x03, 0x02, 0x01, 0xFF]), Ok(0x0102_0304));
    }

    #[test]
    fn short_buffers_are_refused_untouched() {
        let mut buf = [0xEEu8; 7];
        assert_eq!(put_u16(&mut buf[..1], 1), Err(TooShort { needed: 2 }));
        assert_eq!(put_u32(&mut buf[..3], 1), Err(TooShort { needed: 4 }));
        assert_eq!(put_i32(&mut [], 1), Err(TooShort { needed: 4 }));
        assert_eq!(put_u64(&mut buf, 1), Err(TooShort { needed: 8 }));
        assert_eq!(put_bytes(&mut buf, b"12345678"), Err(TooShort { needed: 8 }));
        assert_eq!(put_u32_array(&mut buf, &[1, 2]), Err(TooShort { needed: 8 }));
        assert_eq!(buf, [0xEE; 7]);
        assert_eq!(get_u32(&[1, 2, 3]), Err(TooShort { needed: 4 }));
    }

    #[test]
    fn arrays_and_bytes_fill_exactly_their_length() {
        let mut buf = [0u8; 10];
        assert_eq!(put_u32_array(&mut buf, &[0x0001_0101, 0x0401_0180]), Ok(8));
        assert_eq!(buf, [0x01, 0x01, 0x01, 0x00, 0x80, 0x01, 0x01, 0x04, 0, 0]);
        assert_eq!(put_u32_array(&mut buf, &[]), Ok(0));
        assert_eq!(put_bytes(&mut buf, b"ab\0"), Ok(3));
        assert_eq!(buf[..5], [b'a', b'b', 0, 0x00, 0x80], "only 3 bytes written");
    }

    #[test]
    fn too_short_says_what_it_needs() {
        let e = TooShort { needed: 16 };
        assert_eq!(std::format!("{e}"), "information buffer too short: 16 bytes needed");
    }

    // ---- NDIS_CO_LINK_SPEED ----------------------------------------------

    /// Outbound 10,000,000 (1 Gb/s), inbound 100,000 (10 Mb/s).
    static CO_LINK_SPEED_BYTES: [u8; 8] = [0x80, 0x96, 0x98, 0x00, 0xA0, 0x86, 0x01, 0x00];

    fn co_link_speed_repr() -> CoLinkSpeed {
        CoLinkSpeed {
            outbound: 10_000_000,
            inbound: 100_000,
        }
    }

    #[test]
    fn co_link_speed_deconstruct() {
        assert_eq!(CoLinkSpeed::parse(&CO_LINK_SPEED_BYTES), Ok(co_link_speed_repr()));
    }

    #[test]
    fn co_link_speed_construct() {
        let mut buf = [0u8; 8];
        assert_eq!(co_link_speed_repr().emit(&mut buf), Ok(CoLinkSpeed::LEN));
        assert_eq!(buf, CO_LINK_SPEED_BYTES);
    }

    #[test]
    fn co_link_speed_is_in_units_of_100_bps_and_saturates() {
        // The docs' own example: 100,000 units is 10 Mb/s.
        assert_eq!(CoLinkSpeed::from_bps(10_000_000, 10_000_000).outbound, 100_000);
        assert_eq!(CoLinkSpeed::from_bps(1_000_000_000, 199).inbound, 1);
        let unknown = CoLinkSpeed::from_bps(ndis_sys::NDIS_LINK_SPEED_UNKNOWN, 0);
        assert_eq!(
            unknown,
            CoLinkSpeed {
                outbound: u32::MAX,
                inbound: 0
            }
        );
    }

    #[test]
    fn co_link_speed_short_buffer() {
        let mut buf = [0xEEu8; 7];
        assert_eq!(co_link_speed_repr().emit(&mut buf), Err(TooShort { needed: 8 }));
        assert_eq!(buf, [0xEE; 7]);
        assert_eq!(
            CoLinkSpeed::parse(&CO_LINK_SPEED_BYTES[..7]),
            Err(TooShort { needed: 8 })
        );
    }

    // ---- NDIS_WAN_CO_INFO -------------------------------------------------

    /// MaxFrameSize 1500, MaxSendWindow 32, PPP_FRAMING | ACFC | PFC, ACCM 0.
    static WAN_CO_INFO_BYTES: [u8; 16] = [
        0xDC, 0x05, 0x00, 0x00, // MaxFrameSize
        0x20, 0x00, 0x00, 0x00, // MaxSendWindow
        0x00, 0x07, 0x00, 0x00, // FramingBits
        0x00, 0x00, 0x00, 0x00, // DesiredACCM
    ];

    fn wan_co_info_repr() -> WanCoInfo {
        WanCoInfo {
            max_frame_size: 1500,
            max_send_window: 32,
            framing_bits: ndis_sys::PPP_FRAMING
                | ndis_sys::PPP_COMPRESS_ADDRESS_CONTROL
                | ndis_sys::PPP_COMPRESS_PROTOCOL_FIELD,
            desired_accm: 0,
        }
    }

    #[test]
    fn wan_co_info_deconstruct() {
        assert_eq!(WanCoInfo::parse(&WAN_CO_INFO_BYTES), Ok(wan_co_info_repr()));
    }

    #[test]
    fn wan_co_info_construct() {
        let mut buf = [0u8; 17];
        assert_eq!(wan_co_info_repr().emit(&mut buf), Ok(16));
        assert_eq!(buf[..16], WAN_CO_INFO_BYTES);
        assert_eq!(buf[16], 0, "nothing written past the structure");
    }

    #[test]
    fn wan_co_info_short_buffer() {
        let mut buf = [0xEEu8; 15];
        assert_eq!(wan_co_info_repr().emit(&mut buf), Err(TooShort { needed: 16 }));
        assert_eq!(buf, [0xEE; 15]);
    }

    // ---- NDIS_WAN_CO_SET/GET_LINK_INFO ------------------------------------

    static WAN_LINK_INFO_BYTES: [u8; 32] = [
        0xDC, 0x05, 0x00, 0x00, // MaxSendFrameSize 1500
        0x40, 0x05, 0x00, 0x00, // MaxRecvFrameSize 1344
        0x00, 0x01, 0x00, 0x00, // SendFramingBits PPP_FRAMING
        0x00, 0x03, 0x00, 0x00, // RecvFramingBits PPP_FRAMING | ACFC
        0x01, 0x00, 0x00, 0x00, // SendCompressionBits
        0x02, 0x00, 0x00, 0x00, // RecvCompressionBits
        0xFF, 0xFF, 0xFF, 0xFF, // SendACCM
        0x00, 0x00, 0x0A, 0x00, // RecvACCM
    ];

    fn wan_link_info_repr() -> WanLinkInfo {
        WanLinkInfo {
            max_send_frame_size: 1500,
            max_recv_frame_size: 1344,
            send_framing_bits: ndis_sys::PPP_FRAMING,
            recv_framing_bits: ndis_sys::PPP_FRAMING | ndis_sys::PPP_COMPRESS_ADDRESS_CONTROL,
            send_compression_bits: 1,
            recv_compression_bits: 2,
            send_accm: 0xFFFF_FFFF,
            recv_accm: 0x000A_0000,
        }
    }

    #[test]
    fn wan_link_info_deconstruct() {
        assert_eq!(WanLinkInfo::parse(&WAN_LINK_INFO_BYTES), Ok(wan_link_info_repr()));
    }

    #[test]
    fn wan_link_info_construct() {
        let mut buf = [0u8; 32];
        assert_eq!(wan_link_info_repr().emit(&mut buf), Ok(32));
        assert_eq!(buf, WAN_LINK_INFO_BYTES);
    }

    #[test]
    fn wan_link_info_parse_ignores_trailing_bytes_and_refuses_short_input() {
        let mut long = [0u8; 40];
        long[..32].copy_from_slice(&WAN_LINK_INFO_BYTES);
        assert_eq!(WanLinkInfo::parse(&long), Ok(wan_link_info_repr()));
        assert_eq!(
            WanLinkInfo::parse(&WAN_LINK_INFO_BYTES[..31]),
            Err(TooShort { needed: 32 })
        );
        let mut short = [0xEEu8; 31];
        assert_eq!(wan_link_info_repr().emit(&mut short), Err(TooShort { needed: 32 }));
        assert_eq!(short, [0xEE; 31]);
    }

    // ---- CO_ADDRESS_LIST ----------------------------------------------------

    fn addr(b: &[u8]) -> Address {
        Address::new(b).unwrap()
    }

    #[test]
    fn co_address_list_construct() {
        let mut buf = [0xEEu8; CoAddressList::LEN + 1];
        let list = [addr(b"echo"), addr(b"\x01\x02")];
        assert_eq!(CoAddressList::emit(&mut buf, list.iter()), Ok(1196));
        // Header: 33 available, 2 filled.
        assert_eq!(buf[..8], [33, 0, 0, 0, 2, 0, 0, 0]);
        // Slot 0 at 8: AddressSize 4, "echo", zero padding to 36 bytes.
        assert_eq!(buf[8..16], [4, 0, 0, 0, b'e', b'c', b'h', b'o']);
        assert!(buf[16..44].iter().all(|&b| b == 0));
        // Slot 1 at 44.
        assert_eq!(buf[44..50], [2, 0, 0, 0, 1, 2]);
        assert!(buf[50..1196].iter().all(|&b| b == 0), "the rest is zeros");
        assert_eq!(buf[1196], 0xEE, "nothing written past the structure");
    }

    #[test]
    fn co_address_list_deconstruct() {
        let mut buf = [0u8; CoAddressList::LEN];
        let list = [addr(b"echo"), addr(&[7; MAX_ADDRESS_LEN])];
        CoAddressList::emit(&mut buf, list.iter()).unwrap();
        assert_eq!(CoAddressList::counts(&buf), Ok((33, 2)));
        assert_eq!(CoAddressList::address(&buf, 0), Some(&b"echo"[..]));
        assert_eq!(CoAddressList::address(&buf, 1), Some(&[7u8; MAX_ADDRESS_LEN][..]));
        assert_eq!(CoAddressList::address(&buf, 2), None, "past NumberOfAddresses");
    }

    #[test]
    fn co_address_list_short_buffer_is_untouched() {
        let mut buf = [0xEEu8; CoAddressList::LEN - 1];
        let list = [addr(b"echo")];
        assert_eq!(
            CoAddressList::emit(&mut buf, list.iter()),
            Err(TooShort {
                needed: CoAddressList::LEN
            })
        );
        assert!(buf.iter().all(|&b| b == 0xEE));
    }

    #[test]
    fn co_address_list_writes_at_most_its_capacity() {
        let many: std::vec::Vec<Address> = (0..CoAddressList::CAPACITY + 3).map(|i| addr(&[i as u8 + 1])).collect();
        let mut buf = [0u8; CoAddressList::LEN];
        assert_eq!(CoAddressList::emit(&mut buf, many.iter()), Ok(CoAddressList::LEN));
        assert_eq!(CoAddressList::counts(&buf), Ok((33, 33)));
        assert_eq!(CoAddressList::address(&buf, 32), Some(&[33u8][..]));
    }

    #[test]
    fn co_address_list_reader_refuses_malformed_lists() {
        assert_eq!(CoAddressList::counts(&[0; 7]), Err(TooShort { needed: 8 }));
        // A count beyond the buffer, and an AddressSize beyond its slot.
        let mut buf = [0u8; 8 + 36];
        buf[4] = 5;
        buf[8] = 4;
        assert_eq!(CoAddressList::address(&buf, 0), Some(&[0u8; 4][..]));
        assert_eq!(CoAddressList::address(&buf, 1), None);
        buf[8] = 33;
        assert_eq!(CoAddressList::address(&buf, 0), None);
    }
}
