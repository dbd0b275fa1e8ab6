//! NDIS status names as a scenario file writes them (`"SUCCESS"`,
//! `"NO_ROUTE_TO_DESTINATION"`, or the full `NDIS_STATUS_…` name), and back.
//! A status with no name here can still be written as hex (`"0xC0010029"`).

use ndis_sys::*;

/// The statuses a CoNDIS client sees from covmini and NDIS, by short name:
/// every NDIS_STATUS ndis-sys defines, by its name without `NDIS_STATUS_`.
///
/// The same table as ndis-emu's trace (`ndis_emu::trace::STATUS_NAMES`), so
/// a scenario file names a status exactly as a run shows it; the test below
/// holds the two equal. The lab keeps its own copy because the scenario
/// format is also checked by the Windows build, which has no ndis-emu
/// (docs/windows.md). (STATUS_SUCCESS and STATUS_INVALID_PARAMETER share
/// their values with SUCCESS and INVALID_PARAMETER.)
pub const NAMES: &[(&str, NDIS_STATUS)] = &[
    ("SUCCESS", NDIS_STATUS_SUCCESS),
    ("PENDING", NDIS_STATUS_PENDING),
    ("NOT_RECOGNIZED", NDIS_STATUS_NOT_RECOGNIZED),
    ("NOT_COPIED", NDIS_STATUS_NOT_COPIED),
    ("NOT_ACCEPTED", NDIS_STATUS_NOT_ACCEPTED),
    ("CALL_ACTIVE", NDIS_STATUS_CALL_ACTIVE),
    ("WAN_CO_FRAGMENT", NDIS_STATUS_WAN_CO_FRAGMENT),
    ("WAN_CO_LINKPARAMS", NDIS_STATUS_WAN_CO_LINKPARAMS),
    ("WAN_CO_MTULINKPARAMS", NDIS_STATUS_WAN_CO_MTULINKPARAMS),
    ("FAILURE", NDIS_STATUS_FAILURE),
    ("INVALID_PARAMETER", NDIS_STATUS_INVALID_PARAMETER),
    ("RESOURCES", NDIS_STATUS_RESOURCES),
    ("NOT_SUPPORTED", NDIS_STATUS_NOT_SUPPORTED),
    ("CLOSING", NDIS_STATUS_CLOSING),
    ("BAD_VERSION", NDIS_STATUS_BAD_VERSION),
    ("BAD_CHARACTERISTICS", NDIS_STATUS_BAD_CHARACTERISTICS),
    ("ADAPTER_NOT_FOUND", NDIS_STATUS_ADAPTER_NOT_FOUND),
    ("REQUEST_ABORTED", NDIS_STATUS_REQUEST_ABORTED),
    ("INVALID_LENGTH", NDIS_STATUS_INVALID_LENGTH),
    ("INVALID_DATA", NDIS_STATUS_INVALID_DATA),
    ("BUFFER_TOO_SHORT", NDIS_STATUS_BUFFER_TOO_SHORT),
    ("INVALID_OID", NDIS_STATUS_INVALID_OID),
    ("UNSUPPORTED_MEDIA", NDIS_STATUS_UNSUPPORTED_MEDIA),
    ("INVALID_SAP", NDIS_STATUS_INVALID_SAP),
    ("SAP_IN_USE", NDIS_STATUS_SAP_IN_USE),
    ("INVALID_ADDRESS", NDIS_STATUS_INVALID_ADDRESS),
    ("VC_NOT_ACTIVATED", NDIS_STATUS_VC_NOT_ACTIVATED),
    ("DEST_OUT_OF_ORDER", NDIS_STATUS_DEST_OUT_OF_ORDER),
    ("VC_NOT_AVAILABLE", NDIS_STATUS_VC_NOT_AVAILABLE),
    ("CELLRATE_NOT_AVAILABLE", NDIS_STATUS_CELLRATE_NOT_AVAILABLE),
    ("INCOMPATABLE_QOS", NDIS_STATUS_INCOMPATABLE_QOS),
    ("AAL_PARAMS_UNSUPPORTED", NDIS_STATUS_AAL_PARAMS_UNSUPPORTED),
    ("NO_ROUTE_TO_DESTINATION", NDIS_STATUS_NO_ROUTE_TO_DESTINATION),
    ("SEND_ABORTED", NDIS_STATUS_SEND_ABORTED),
    ("PAUSED", NDIS_STATUS_PAUSED),
];

/// The status a scenario names: a short name, `NDIS_STATUS_` + a short
/// name, or hex (`0x…`).
#[must_use]
pub fn parse(text: &str) -> Option<NDIS_STATUS> {
    let short = text.strip_prefix("NDIS_STATUS_").unwrap_or(text);
    if let Some((_, v)) = NAMES.iter().find(|(n, _)| *n == short) {
        return Some(*v);
    }
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
    // CAST: NDIS_STATUS is the NTSTATUS bit pattern in an i32.
    u32::from_str_radix(hex, 16).ok().map(|v| v as NDIS_STATUS)
}

/// A status by its short name when it has one, else as hex.
#[must_use]
pub fn name(status: NDIS_STATUS) -> String {
    NAMES
        .iter()
        .find(|(_, v)| *v == status)
        .map_or_else(|| format!("{status:#010x}"), |(n, _)| (*n).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_hex_and_long_names_parse() {
        for (n, v) in NAMES {
            assert_eq!(parse(n), Some(*v), "{n}");
            assert_eq!(name(*v), *n);
        }
        assert_eq!(parse("NDIS_STATUS_NOT_ACCEPTED"), Some(NDIS_STATUS_NOT_ACCEPTED));
        assert_eq!(parse("0xC0010029"), Some(NDIS_STATUS_NO_ROUTE_TO_DESTINATION));
        assert_eq!(parse("0x00000103"), Some(NDIS_STATUS_PENDING));
        assert_eq!(parse("ACCEPTED"), None);
        assert_eq!(parse("0xnope"), None);
        assert_eq!(name(0x1234), "0x00001234");
    }

    /// A scenario names a status as the emulator's trace prints it: the
    /// lab's table is ndis-emu's, entry for entry (ndis-emu is not in the
    /// Windows build, so the lab cannot simply use its table).
    #[cfg(not(windows))]
    #[test]
    fn the_names_are_the_ones_the_trace_prints() {
        assert_eq!(NAMES, ndis_emu::trace::STATUS_NAMES);
    }
}
