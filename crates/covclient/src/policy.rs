//! What covclient binds to, which address family it opens, and what it
//! registers as. No FFI: the handlers in `ffi` ask these functions and act.
//!
//! Must not: hold state, or accept anything covmini does not offer.

use ndis_sys::{CO_ADDRESS_FAMILY, NDIS_AF, NDIS_MEDIUM, NDIS_STATUS, NDIS_STATUS_UNSUPPORTED_MEDIA, NdisMediumCoWan};

/// The protocol name NDIS registers covclient under
/// (`NDIS_PROTOCOL_DRIVER_CHARACTERISTICS.Name`): the service name its INF
/// will install (a protocol's Name must match it, NdisRegisterProtocolDriver
/// \[D\]).
pub const PROTOCOL_NAME: &str = "covclient";

/// The NDIS version covclient is written against: 6.30, as covmini.
pub const NDIS_MAJOR_VERSION: u8 = 6;
/// See [`NDIS_MAJOR_VERSION`].
pub const NDIS_MINOR_VERSION: u8 = 30;
/// covclient's own version.
pub const DRIVER_MAJOR_VERSION: u8 = 0;
/// See [`DRIVER_MAJOR_VERSION`].
pub const DRIVER_MINOR_VERSION: u8 = 1;

/// covmini's private address family (`src/config.rs` `COVMINI_AF` in the
/// covmini crate; covclient does not depend on the driver crate).
pub const COVMINI_AF: NDIS_AF = 0x0000_C0C0;
/// The AF major version covclient speaks (covmini registers 1.0).
pub const COVMINI_AF_MAJOR_VERSION: u32 = 1;

/// The only medium covclient binds to.
pub const MEDIUM: NDIS_MEDIUM = NdisMediumCoWan;

/// ProtocolBindAdapterEx's decision on an adapter of `medium`: `Ok` to
/// bind, or the status to refuse it with.
///
/// A refused medium gets `NDIS_STATUS_UNSUPPORTED_MEDIA`, what
/// NdisOpenAdapterEx itself returns when "none of the media types in the
/// MediumArray ... is supported by the miniport" \[D: nf-ndis-ndisopenadapterex\],
/// and ProtocolBindAdapterEx "usually" propagates \[D: protocol_bind_adapter_ex\];
/// checking first spares NDIS the open.
///
/// # Errors
/// `NDIS_STATUS_UNSUPPORTED_MEDIA` for any medium but CoWAN.
pub const fn bind_decision(medium: NDIS_MEDIUM) -> Result<(), NDIS_STATUS> {
    if medium == MEDIUM {
        Ok(())
    } else {
        Err(NDIS_STATUS_UNSUPPORTED_MEDIA)
    }
}

/// ProtocolCoAfRegisterNotify's decision: open this AF? Only covmini's
/// (`0xC0C0`, major version 1); every other is ignored, which is what a
/// client that does not recognise an AF does (the notification has no
/// status to return).
#[must_use]
pub const fn accepts_af(af: &CO_ADDRESS_FAMILY) -> bool {
    af.AddressFamily == COVMINI_AF && af.MajorVersion == COVMINI_AF_MAJOR_VERSION
}

/// The control device's name (docs/covclient-ioctl.md, "The device").
pub const DEVICE_NAME: &str = "\\Device\\covclient";
/// Its symbolic link: `\\.\covclient` from user mode ("Typically,
/// SymbolicName has the following format: \DosDevices\SymbolicName",
/// NDIS_DEVICE_OBJECT_ATTRIBUTES \[D\]).
pub const SYMBOLIC_NAME: &str = "\\DosDevices\\covclient";
/// The device object's security descriptor: protected DACL, generic all
/// for LocalSystem and the Administrators group, nobody else.
pub const DEVICE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)";

/// [`DEVICE_NAME`] as UTF-16.
pub const DEVICE_NAME_UTF16: [u16; DEVICE_NAME.len()] = utf16_ascii(DEVICE_NAME);
/// [`SYMBOLIC_NAME`] as UTF-16.
pub const SYMBOLIC_NAME_UTF16: [u16; SYMBOLIC_NAME.len()] = utf16_ascii(SYMBOLIC_NAME);
/// [`DEVICE_SDDL`] as UTF-16.
pub const DEVICE_SDDL_UTF16: [u16; DEVICE_SDDL.len()] = utf16_ascii(DEVICE_SDDL);

/// [`PROTOCOL_NAME`] as UTF-16, for the `NDIS_STRING` NDIS reads.
pub const PROTOCOL_NAME_UTF16: [u16; PROTOCOL_NAME.len()] = utf16_ascii(PROTOCOL_NAME);

/// An ASCII string as UTF-16 code units, at compile time (a non-ASCII byte
/// or a wrong length fails the build).
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated only at compile time: an index out of bounds fails the build, never a handler"
)]
const fn utf16_ascii<const N: usize>(s: &str) -> [u16; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() == N, "length mismatch");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        assert!(bytes[i].is_ascii(), "non-ASCII protocol name");
        // CAST: an ASCII byte is its own UTF-16 code unit.
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use ndis_sys::{CO_ADDRESS_FAMILY_TAPI, CO_ADDRESS_FAMILY_TAPI_PROXY, NdisMedium802_3, NdisMediumWan};

    use super::*;

    fn af(family: NDIS_AF, major: u32) -> CO_ADDRESS_FAMILY {
        CO_ADDRESS_FAMILY {
            AddressFamily: family,
            MajorVersion: major,
            MinorVersion: 0,
        }
    }

    /// Proves only CoWAN is bound, and everything else is refused with the
    /// documented status.
    #[test]
    fn binds_only_to_cowan() {
        assert_eq!(bind_decision(NdisMediumCoWan), Ok(()));
        for medium in [NdisMedium802_3, NdisMediumWan, 8, 17, -1] {
            assert_eq!(bind_decision(medium), Err(NDIS_STATUS_UNSUPPORTED_MEDIA), "{medium}");
        }
    }

    /// Proves covmini's AF is opened and the TAPI AFs Windows' WAN miniports
    /// offer (and a covmini AF of another major version) are ignored.
    #[test]
    fn accepts_only_covmini_s_af() {
        assert!(accepts_af(&af(COVMINI_AF, 1)));
        assert!(!accepts_af(&af(COVMINI_AF, 2)));
        assert!(!accepts_af(&af(CO_ADDRESS_FAMILY_TAPI, 1)));
        assert!(!accepts_af(&af(CO_ADDRESS_FAMILY_TAPI_PROXY, 1)));
    }

    /// Proves the device's names and SDDL are the documented strings, in
    /// UTF-16.
    #[test]
    fn device_strings_are_the_documented_ones() {
        let d = |u: &[u16]| -> std::string::String {
            char::decode_utf16(u.iter().copied())
                .map(|c| c.unwrap_or('?'))
                .collect()
        };
        assert_eq!(d(&DEVICE_NAME_UTF16), r"\Device\covclient");
        assert_eq!(d(&SYMBOLIC_NAME_UTF16), r"\DosDevices\covclient");
        assert_eq!(d(&DEVICE_SDDL_UTF16), "D:P(A;;GA;;;SY)(A;;GA;;;BA)");
    }

    /// Proves the registered name is the UTF-16 of "covclient".
    #[test]
    fn protocol_name_is_utf16_covclient() {
        let decoded: std::string::String = char::decode_utf16(PROTOCOL_NAME_UTF16)
            .map(|c| c.unwrap_or('?'))
            .collect();
        assert_eq!(decoded, "covclient");
    }
}
