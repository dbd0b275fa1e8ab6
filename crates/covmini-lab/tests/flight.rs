//! `covmini-lab flight FILE`: the blob covmini hands a crash dump, taken
//! from covmini crashed inside ndis-emu, decodes to the events covmini
//! recorded; a file that is not a blob is refused with what is wrong where.

mod common;

use common::{lab, temp_dir};

use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use covmini::flight::layout::{BLOB_SIZE, adapter_of_guid};
use ndis_emu::{Answer, CallSpec, Emulator, secondary_dump_data};
use ndis_sys::*;

/// covmini up, alice calling bob, who has not answered; then the crash:
/// covmini's secondary dump data block.
fn crashed_mid_call() -> Vec<u8> {
    let mut emu = Emulator::new();
    emu.load(covmini::DriverEntry).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let (alice, bob) = (emu.client("alice"), emu.client("bob"));
    emu.set_incoming_answer(bob, Answer::Pend, NDIS_STATUS_SUCCESS);
    let alice_af = emu.open_af(alice, config::AF).expect("alice's AF");
    let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
    emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
    let vc = emu.create_vc(alice_af).expect("alice's VC");
    let mut spec = CallSpec::best_effort(125_000, 1500);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = b"bob".to_vec();
    assert_eq!(emu.make_call(vc, &spec), NDIS_STATUS_PENDING);
    let block = secondary_dump_data()
        .into_iter()
        .find(|b| adapter_of_guid(&b.guid).is_some())
        .expect("covmini's block");
    block.data
}

#[test]
fn flight_decodes_what_covmini_handed_the_crash_dump() {
    let data = crashed_mid_call();
    assert_eq!(data.len(), BLOB_SIZE);
    let dir = temp_dir("flight");
    let file = dir.join("covmini.bin");
    std::fs::write(&file, &data).expect("write the blob");
    let (code, out, err) = lab(["flight".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(0), "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("covmini flight recorder: adapter 0x"), "{out}");
    assert!(lines[0].contains("newest first"), "{out}");
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{out}"))
    };
    // Newest first: the return comes before the DDIs, which come before the entry.
    let ret = at("<- ProtocolCmMakeCall");
    assert!(lines[ret].ends_with("= PENDING"), "{}", lines[ret]);
    let dispatch = at("NdisMCmDispatchIncomingCall(");
    let activate = at("NdisMCmActivateVc(");
    assert!(lines[activate].ends_with("= SUCCESS"), "{}", lines[activate]);
    let enter = at("-> ProtocolCmMakeCall");
    assert!(ret < dispatch && dispatch < activate && activate < enter, "{out}");
    assert!(
        out.contains("Adapter 0x") && out.contains(": Paused -> Running"),
        "{out}"
    );
    // --limit keeps the newest N.
    let (code, out, _) = lab(["flight".as_ref(), "--limit".as_ref(), "1".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 2, "the header and one event:\n{out}");
    assert!(
        out.contains("<- ProtocolCmMakeCall"),
        "the newest event is the return:\n{out}"
    );
}

#[test]
fn flight_names_what_is_wrong_with_a_bad_file() {
    let dir = temp_dir("flight-bad");
    let good = crashed_mid_call();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("short.bin", vec![0; 7], "7 bytes: shorter than the 32-byte header"),
        (
            "magic.bin",
            [b"MZ\0\0".as_slice(), &good[4..]].concat(),
            "offset 0: magic",
        ),
        ("truncated.bin", good[..100].to_vec(), "100 bytes: truncated"),
        (
            "version.bin",
            [&good[..4], &[9u8, 0][..], &good[6..]].concat(),
            "offset 4: format version 9",
        ),
    ];
    for (name, bytes, expect) in cases {
        let file = dir.join(name);
        std::fs::write(&file, bytes).expect("write");
        let (code, out, err) = lab(["flight".as_ref(), file.as_os_str()]);
        assert_eq!(code, Some(2), "{name}: {out}{err}");
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
    }
    let (code, _, err) = lab(["flight", "/nonexistent/covmini.bin"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/covmini.bin"), "{err}");
}
