//! covmini's ETW TraceLogging provider, from what the driver wrote
//! (src/etw, src/ffi/etw.rs; docs/windows.md, "ETW tracing").
//!
//! The driver registers its provider in DriverEntry and unregisters it at
//! unload (ndis-emu's `etw.registered-at-unload` fails the run otherwise).
//! A session enabled before DriverEntry is reported to covmini's enable
//! callback inside EtwRegister, as ETW does; then every event the flight
//! recorder records reaches EtwWriteTransfer, and ndis-emu decodes each from
//! the TraceLogging format alone (`ndis_emu::etw::decode`, which knows
//! nothing of covmini) back to the names and fields of covmini's catalogue.
//! Without a session, covmini makes no EtwWriteTransfer call at all.
//!
//! Runs against the host build, or the kernel image with `COVMINI_SYS`.

mod common;

use covmini::call_manager::SAP_TYPE_ADDRESS;
use covmini::config;
use covmini::etw::{KINDS, PROVIDER_ID, PROVIDER_NAME, keyword};
use ndis_emu::etw::{Captured, FieldValue, decode};
use ndis_emu::{Emulator, Report};

/// Runs the lifecycle; returns the report, the session's events and how
/// many EtwWriteTransfer calls the driver made (counted while this emulator
/// holds the process's one session, so no other test's calls are counted).
fn lifecycle(session: Option<(u8, u64)>) -> (Report, Vec<Captured>, u64) {
    let mut emu = Emulator::new();
    let before = writes();
    if let Some((level, keywords)) = session {
        emu.etw_enable(PROVIDER_ID, level, keywords, 0);
    }
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("MiniportInitializeEx + MiniportRestart");
    // One request covmini takes and one it refuses (the same SAP twice).
    let client = emu.client("a");
    let af = emu.open_af(client, config::AF).expect("open the AF");
    emu.register_sap(af, SAP_TYPE_ADDRESS, b"etw").expect("a new SAP");
    assert!(
        emu.register_sap(af, SAP_TYPE_ADDRESS, b"etw").is_err(),
        "a duplicate SAP"
    );
    emu.halt_adapter().expect("MiniportPause + MiniportHaltEx");
    emu.unload().expect("MiniportDriverUnload");
    let events = emu.etw_events();
    let written = writes() - before;
    (emu.finish(), events, written)
}

fn writes() -> u64 {
    ndis_emu::ddi_calls().get("EtwWriteTransfer").copied().unwrap_or(0)
}

/// A verbose session over every keyword sees the adapter's lifecycle, an AF,
/// a SAP and a refused duplicate SAP as events of every kind, and every event
/// it got decodes to one of covmini's kinds with exactly that kind's field
/// names, in order, with the kind's level and keyword.
#[test]
fn a_session_gets_every_event_decodable_to_the_catalogue() {
    let (report, events, written) = lifecycle(Some((5, keyword::ALL)));
    assert!(report.is_clean(), "{report}");
    assert_eq!(written, events.len() as u64, "every write passed the session's filter");
    assert!(!events.is_empty(), "the lifecycle records transitions");
    let mut transitions = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for e in &events {
        let d = decode(e).unwrap_or_else(|err| panic!("{err}: {e:?}"));
        assert_eq!(d.provider, PROVIDER_NAME);
        let kind = KINDS
            .iter()
            .find(|k| k.name == d.name)
            .unwrap_or_else(|| panic!("{} is not in the catalogue", d.name));
        assert_eq!((d.level, d.keyword, d.channel), (kind.level, kind.keyword, 11), "{d}");
        let names: Vec<&str> = d.fields.iter().map(|(n, _, _)| n.as_str()).collect();
        let declared: Vec<&str> = kind.fields.iter().map(|f| f.name).collect();
        assert_eq!(names, declared, "{d}");
        seen.insert(kind.name);
        if d.name == "Refusal" {
            assert_eq!(d.field("reason"), Some(&FieldValue::Str("DuplicateSap".into())), "{d}");
            // NDIS_STATUS_INVALID_DATA, what the duplicate SAP got.
            assert_eq!(d.field("status"), Some(&FieldValue::UInt(0xC001_0015, 14)), "{d}");
        }
        if d.name == "StateChange" {
            transitions.push(d.to_string());
        }
    }
    let to = |state: &str| {
        transitions
            .iter()
            .any(|t| t.starts_with("Covmini/StateChange machine=Adapter") && t.ends_with(&format!("to={state}")))
    };
    assert!(to("Running") && to("Halted"), "{transitions:#?}");
    let all: std::collections::BTreeSet<&str> = KINDS.iter().map(|k| k.name).collect();
    assert_eq!(seen, all, "an event of every kind");
}

/// A session that wants only refusals at WARNING gets the one refusal, and
/// covmini called EtwWriteTransfer once: not for any of the handler, NDIS-call
/// and state-change events it filtered out itself. With no session at all,
/// not once.
#[test]
fn events_no_session_wants_are_never_written() {
    let (report, events, written) = lifecycle(Some((3, keyword::REFUSAL)));
    assert!(report.is_clean(), "{report}");
    let names: Vec<String> = events
        .iter()
        .map(|e| decode(e).map(|d| d.name).unwrap_or_default())
        .collect();
    assert_eq!(names, ["Refusal"]);
    assert_eq!(written, 1, "the rest filtered in covmini, before EtwWriteTransfer");

    let (report, events, written) = lifecycle(None);
    assert!(report.is_clean(), "{report}");
    assert!(events.is_empty());
    assert_eq!(written, 0, "no session: no EtwWriteTransfer");
}

/// A DriverEntry that fails (NdisMRegisterMiniportDriver refused) gets no
/// unload, so it must unregister the provider itself: no
/// `etw.registered-at-unload` when it returns.
#[test]
fn a_failed_driver_entry_unregisters_the_provider() {
    let mut emu = Emulator::new();
    emu.etw_enable(PROVIDER_ID, 5, keyword::ALL, 0);
    emu.fail_nth_call("NdisMRegisterMiniportDriver", 1);
    assert!(emu.load(common::driver::driver_entry()).is_err());
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}
