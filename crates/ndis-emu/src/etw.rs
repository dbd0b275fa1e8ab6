//! Event Tracing for Windows as a driver sees it: provider registrations
//! (EtwRegister, EtwSetInformation, EtwUnregister; the DDIs are in
//! `ffi::etw`), one trace session a test starts and stops
//! ([`crate::Emulator::etw_enable`], [`crate::Emulator::etw_disable`]) which
//! calls the provider's enable callback as ETW does, the events written with
//! EtwWriteTransfer that the session's level and keywords let through
//! ([`crate::Emulator::etw_events`]), and a TraceLogging decoder
//! ([`decode`]) that turns one captured event back into its provider name,
//! event name and named field values.
//!
//! The decoder follows the format as the Windows SDK's
//! `TraceLoggingProvider.h` defines it (its comment "This comment defines the
//! TraceLogging encoding format"): provider traits `{ UINT16 Size; char
//! Name[]; chunks }` in a descriptor of type 2, event metadata `{ UINT16
//! Size; UINT8 Extension[] (until a byte with bit 7 clear); char Name[];
//! fields }` in a descriptor of type 1, each field `{ char Name[]; UINT8
//! InType; UINT8 OutType if InType & 0x80; Extension if OutType & 0x80 }`,
//! then the payload, fields "appended end-to-end with no alignment or
//! padding". It decodes the scalar InTypes and nul-terminated strings; arrays
//! and structs are reported as unsupported, not guessed.
//!
//! Its rules, checked here (`Etw::check_handle`, `Etw::close_at_unload`,
//! `check_format`) and recorded by the DDIs that run the checks
//! (`ffi::etw`, which also starts and stops the session for
//! [`crate::Emulator`]): every registration is closed by the end of
//! MiniportDriverUnload; every handle given to ETW is one EtwRegister gave
//! and EtwUnregister did not close; every TraceLogging event decodes.
//!
//! What it must not do: depend on the world or the FFI layer (it is plain
//! data and a decoder), or keep an event the session's filter drops.

use std::collections::BTreeMap;
use std::fmt;

use ndis_sys::{EVENT_DESCRIPTOR, GUID, PETWENABLECALLBACK, UCHAR};

crate::define_rules! { ETW:
    ETW_REGISTERED_AT_UNLOAD, "etw.registered-at-unload", false, "EtwUnregister (\"For every call to EtwRegister there must be a corresponding call to EtwUnregister\"; the callbacks of an unloaded driver are no longer valid)", "etw_registered_at_unload_fires_when_unload_forgets",
        "Every ETW provider the driver registered with EtwRegister is unregistered with EtwUnregister before MiniportDriverUnload (or a failed DriverEntry) returns.";
    ETW_HANDLE_VALID, "etw.handle-valid", true, "EtwUnregister (\"No tracing calls should be made that fall outside of the code bounded by the EtwRegister and EtwUnregister functions\")", "etw_handle_valid_fires_on_a_write_after_unregister",
        "EtwWriteTransfer, EtwSetInformation and EtwUnregister get a REGHANDLE that EtwRegister gave and EtwUnregister has not closed (Windows uses a stale handle as it is).";
    ETW_EVENT_FORMAT, "etw.event-format", true, "TraceLoggingProvider.h (the TraceLogging encoding format)", "etw_event_format_fires_on_a_short_field",
        "An EtwWriteTransfer whose first descriptor is provider traits (type 2) is a TraceLogging event: its event metadata (type 1) follows and its payload is exactly the fields the metadata declares.";
}

/// One provider registration.
#[derive(Clone, Debug)]
pub(crate) struct Registration {
    pub provider: GUID,
    pub callback: Option<PETWENABLECALLBACK>,
    pub context: usize,
    /// The provider traits EtwSetInformation(EventProviderSetTraits) set.
    pub traits: Option<Vec<u8>>,
    /// Registered in this handler (for reports).
    pub origin: String,
}

/// The session a test runs: which provider it enables, at what level and
/// keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// The provider it enables.
    pub provider: GUID,
    /// The most verbose level it logs (0: every level).
    pub level: UCHAR,
    /// An event's keyword needs one of these bits...
    pub match_any: u64,
    /// ... and all of these.
    pub match_all: u64,
}

impl Session {
    /// Whether the session logs an event of this descriptor (evntprov.h's
    /// filter: level 0 of a session means every level; keyword 0 passes).
    #[must_use]
    pub fn wants(&self, d: &EVENT_DESCRIPTOR) -> bool {
        (self.level == 0 || d.Level <= self.level)
            && (d.Keyword == 0 || (d.Keyword & self.match_any != 0 && d.Keyword & self.match_all == self.match_all))
    }
}

/// One event as EtwWriteTransfer received it: the descriptor and each data
/// descriptor's type and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// The provider of the registration it was written on.
    pub provider: GUID,
    /// Its EVENT_DESCRIPTOR.
    pub descriptor: EVENT_DESCRIPTOR,
    /// (descriptor type, bytes), in order.
    pub data: Vec<(UCHAR, Vec<u8>)>,
    /// The CPU it was written on.
    pub cpu: u32,
    /// The IRQL it was written at.
    pub irql: u8,
}

/// ETW's state in one emulator.
#[derive(Debug, Default)]
pub struct Etw {
    pub(crate) registrations: BTreeMap<u64, Registration>,
    /// Handles given out so far (the next is `0x5157_0000 + 16 * next`).
    pub(crate) issued: u64,
    pub(crate) session: Option<Session>,
    pub(crate) events: Vec<Captured>,
}

impl Etw {
    /// A fresh handle value (never 0).
    pub(crate) fn next_handle(&mut self) -> u64 {
        self.issued += 1;
        0x5157_0000 + 16 * self.issued
    }

    /// What is wrong with a handle the driver passed, or None for a live
    /// registration's.
    pub(crate) fn misuse(&self, handle: u64) -> Option<String> {
        if self.registrations.contains_key(&handle) {
            None
        } else if handle == 0 {
            Some("a zero REGHANDLE".to_string())
        } else if handle > 0x5157_0000 && handle <= 0x5157_0000 + 16 * self.issued {
            Some(format!("REGHANDLE {handle:#x}, already unregistered"))
        } else {
            Some(format!("REGHANDLE {handle:#x}, which EtwRegister never gave"))
        }
    }

    /// `etw.handle-valid` for a handle the driver passed: the broken rule,
    /// or None for a live registration's handle.
    pub(crate) fn check_handle(&self, handle: u64) -> Option<Broken> {
        self.misuse(handle)
            .map(|what| (ETW_HANDLE_VALID, format!("passed {what}")))
    }

    /// `etw.registered-at-unload`: the driver's unload (or failed
    /// DriverEntry) returned; every registration still open is closed, and
    /// each breaks the rule.
    pub(crate) fn close_at_unload(&mut self) -> Vec<Broken> {
        std::mem::take(&mut self.registrations)
            .into_iter()
            .map(|(h, r)| {
                (
                    ETW_REGISTERED_AT_UNLOAD,
                    format!(
                        "provider {} (REGHANDLE {h:#x}, registered in {}) is still registered",
                        guid_string(&r.provider),
                        r.origin
                    ),
                )
            })
            .collect()
    }
}

/// A rule a check here found broken, and what broke it, for the DDI that
/// ran the check to record (`crate::ffi::etw`: this module does not name
/// the world).
pub(crate) type Broken = (crate::rules::Rule, String);

/// `etw.event-format`: an event whose first descriptor is provider traits
/// is a TraceLogging event, and must decode.
pub(crate) fn check_format(event: &Captured) -> Option<Broken> {
    let traced = event
        .data
        .first()
        .is_some_and(|(t, _)| *t == ndis_sys::EVENT_DATA_DESCRIPTOR_TYPE_PROVIDER_METADATA);
    if !traced {
        return None;
    }
    decode(event).err().map(|e| {
        (
            ETW_EVENT_FORMAT,
            format!("provider {}: {e}", guid_string(&event.provider)),
        )
    })
}

/// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`, as ETW tools print a GUID.
#[must_use]
pub fn guid_string(g: &GUID) -> String {
    let d = g.Data4;
    format!(
        "{{{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
        g.Data1, g.Data2, g.Data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
    )
}

// --- Decoding ----------------------------------------------------------------

/// One decoded field value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// A signed integer (INT8..INT64).
    Int(i64),
    /// An unsigned integer (UINT8..UINT64, BOOL32), with its OutType (0:
    /// none; 14: NTSTATUS).
    UInt(u64, u8),
    /// HEXINT32 / HEXINT64.
    Hex(u64),
    /// ANSISTRING (its NUL dropped) or COUNTEDANSISTRING, as UTF-8.
    Str(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Int(v) => write!(f, "{v}"),
            FieldValue::UInt(v, 14) => write!(f, "{v:#010x}"),
            FieldValue::UInt(v, _) => write!(f, "{v}"),
            FieldValue::Hex(v) => write!(f, "{v:#x}"),
            FieldValue::Str(s) => f.write_str(s),
        }
    }
}

/// A TraceLogging event read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The provider's name (its traits).
    pub provider: String,
    /// The event's name (its metadata).
    pub name: String,
    /// The descriptor's level.
    pub level: UCHAR,
    /// The descriptor's keyword.
    pub keyword: u64,
    /// The descriptor's channel (11 for TraceLogging).
    pub channel: UCHAR,
    /// (field name, InType, value), in order.
    pub fields: Vec<(String, u8, FieldValue)>,
}

impl Decoded {
    /// The value of the field `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _, _)| n == name).map(|(_, _, v)| v)
    }
}

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.name)?;
        for (n, _, v) in &self.fields {
            write!(f, " {n}={v}")?;
        }
        Ok(())
    }
}

/// A byte reader that fails with a message instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, at: 0, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self.bytes.get(self.at..self.at + n).ok_or_else(|| {
            format!(
                "{}: {n} bytes wanted at offset {}, {} there",
                self.what,
                self.at,
                self.bytes.len()
            )
        })?;
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn le(&mut self, n: usize) -> Result<u64, String> {
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn cstr(&mut self) -> Result<String, String> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("{}: a string at offset {} has no NUL", self.what, self.at))?;
        let s = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.at += len + 1;
        Ok(s)
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// Decodes a captured TraceLogging event, or says what does not match the
/// format (naming the byte offset).
pub fn decode(event: &Captured) -> Result<Decoded, String> {
    let mut parts = event.data.iter();
    let Some((2, traits)) = parts.next() else {
        return Err("the first data descriptor is not provider traits (type 2)".into());
    };
    let Some((1, meta)) = parts.next() else {
        return Err("the second data descriptor is not event metadata (type 1)".into());
    };
    let mut t = Reader::new(traits, "provider traits");
    let size = usize::from(t.u16()?);
    if size != traits.len() {
        return Err(format!(
            "provider traits: size field {size}, descriptor {} bytes",
            traits.len()
        ));
    }
    let provider = t.cstr()?;

    let mut m = Reader::new(meta, "event metadata");
    let size = usize::from(m.u16()?);
    if size != meta.len() {
        return Err(format!(
            "event metadata: size field {size}, descriptor {} bytes",
            meta.len()
        ));
    }
    while m.u8()? & 0x80 != 0 {}
    let name = m.cstr()?;
    let mut declared = Vec::new();
    while !m.done() {
        let field = m.cstr()?;
        let in_type = m.u8()?;
        let mut out_type = 0;
        if in_type & 0x80 != 0 {
            out_type = m.u8()?;
            if out_type & 0x80 != 0 {
                while m.u8()? & 0x80 != 0 {}
            }
        }
        if in_type & 0x60 != 0 {
            return Err(format!(
                "field {field}: arrays and custom fields are not decoded (InType {in_type:#x})"
            ));
        }
        declared.push((field, in_type & 0x1F, out_type & 0x7F));
    }

    let payload: Vec<u8> = parts.flat_map(|(_, b)| b.iter().copied()).collect();
    let mut p = Reader::new(&payload, "payload");
    let mut fields = Vec::new();
    for (field, in_type, out_type) in declared {
        let value = match in_type {
            2 => FieldValue::Str(p.cstr()?),
            23 => {
                let n = usize::from(p.u16()?);
                FieldValue::Str(String::from_utf8_lossy(p.take(n)?).into_owned())
            }
            3 | 5 | 7 | 9 => {
                let n = 1usize << ((in_type - 3) / 2);
                let raw = p.le(n)?;
                let shift = 64 - 8 * n as u32;
                FieldValue::Int(((raw << shift) as i64) >> shift)
            }
            4 | 6 | 8 | 10 => FieldValue::UInt(p.le(1usize << ((in_type - 4) / 2))?, out_type),
            13 => FieldValue::UInt(p.le(4)?, out_type),
            20 => FieldValue::Hex(p.le(4)?),
            21 => FieldValue::Hex(p.le(8)?),
            other => return Err(format!("field {field}: InType {other} is not decoded")),
        };
        fields.push((field, in_type, value));
    }
    if !p.done() {
        return Err(format!(
            "payload: {} bytes left after the declared fields ({} bytes in all)",
            payload.len() - p.at,
            payload.len()
        ));
    }
    Ok(Decoded {
        provider,
        name,
        level: event.descriptor.Level,
        keyword: event.descriptor.Keyword,
        channel: event.descriptor.Channel,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(traits: &[u8], meta: &[u8], payload: &[&[u8]]) -> Captured {
        let mut data = vec![(2, traits.to_vec()), (1, meta.to_vec())];
        data.extend(payload.iter().map(|p| (0, p.to_vec())));
        Captured {
            provider: GUID::default(),
            descriptor: EVENT_DESCRIPTOR {
                Channel: 11,
                Level: 4,
                Keyword: 8,
                ..Default::default()
            },
            data,
            cpu: 0,
            irql: 0,
        }
    }

    /// An event assembled by hand from the header's description decodes to
    /// its names and values; payload split across descriptors is one stream.
    #[test]
    fn decodes_a_hand_built_event() {
        // Traits: size 4, "P". Metadata: size (patched below), tag byte 0,
        // "E", then s: ANSISTRING, n: UINT32|chain + NTSTATUS, h: HEXINT64,
        // i: INT16, c: COUNTEDANSISTRING.
        let traits = b"\x04\x00P\x00";
        let mut meta = [
            &[0u8, 0, 0][..],
            b"E\0",
            b"s\0\x02",
            b"n\0\x88\x0e",
            b"h\0\x15",
            b"i\0\x05",
            b"c\0\x17",
        ]
        .concat();
        let len = meta.len() as u16;
        meta[..2].copy_from_slice(&len.to_le_bytes());
        let e = captured(
            traits,
            &meta,
            &[
                b"ab\0",
                &0xC000_0001u32.to_le_bytes(),
                &0x1234u64.to_le_bytes(),
                &(-2i16).to_le_bytes(),
                &[3, 0],
                b"xyz",
            ],
        );
        let d = decode(&e).unwrap();
        assert_eq!((d.provider.as_str(), d.name.as_str()), ("P", "E"));
        assert_eq!(d.field("s"), Some(&FieldValue::Str("ab".into())));
        assert_eq!(d.field("n"), Some(&FieldValue::UInt(0xC000_0001, 14)));
        assert_eq!(d.field("h"), Some(&FieldValue::Hex(0x1234)));
        assert_eq!(d.field("i"), Some(&FieldValue::Int(-2)));
        assert_eq!(d.field("c"), Some(&FieldValue::Str("xyz".into())));
        assert_eq!(d.to_string(), "P/E s=ab n=0xc0000001 h=0x1234 i=-2 c=xyz");
    }

    #[test]
    fn a_short_payload_or_a_missing_header_is_an_error() {
        let meta = b"\x08\x00\x00E\x00n\x00\x08";
        let short = captured(b"\x04\x00P\x00", meta, &[&[1, 2]]);
        assert!(decode(&short).unwrap_err().contains("payload"), "{:?}", decode(&short));
        let long = captured(b"\x04\x00P\x00", meta, &[&[1, 2, 3, 4, 5]]);
        assert!(decode(&long).unwrap_err().contains("1 bytes left"));
        let mut no_traits = captured(b"\x04\x00P\x00", meta, &[&[1, 2, 3, 4]]);
        no_traits.data.remove(0);
        assert!(decode(&no_traits).unwrap_err().contains("provider traits"));
    }

    #[test]
    fn guids_print_as_etw_tools_print_them() {
        let g = GUID {
            Data1: 0xce5f_a4ea,
            Data2: 0xab00,
            Data3: 0x5402,
            Data4: [0x8b, 0x76, 0x9f, 0x76, 0xac, 0x85, 0x8f, 0xb5],
        };
        assert_eq!(guid_string(&g), "{ce5fa4ea-ab00-5402-8b76-9f76ac858fb5}");
    }
}
