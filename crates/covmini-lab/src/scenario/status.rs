//! NDIS status names as a scenario file writes them (`"SUCCESS"`,
//! `"NO_ROUTE_TO_DESTINATION"`, or the full `NDIS_STATUS_…` name), and back.
//! A status with no name here can still be written as hex (`"0xC0010029"`).

use ndis_sys::*;

/// The statuses a CoNDIS client sees from covmini and NDIS, by short name:
/// ndis-emu's table, the one its trace prints, so a scenario file names a
/// status exactly as a run shows it.
pub const NAMES: &[(&str, NDIS_STATUS)] = ndis_emu::trace::STATUS_NAMES;

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
}
