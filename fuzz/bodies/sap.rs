//! Raw CO_SAP blocks through ndis-emu into covmini's ProtocolCmRegisterSap:
//! any SapType, any SapLength, the bytes the input has (see
//! [`super::tail`]). Checks the documented status (docs/call-manager.md:
//! INVALID_DATA for a wrong type, a length of 0 or over 32, or an address
//! already registered), that a SAP that registered is reachable by a call,
//! and no fault, violation or leak.

use covmini::call_manager::{MAX_ADDRESS_LEN, PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::CallSpec;
use ndis_emu::ffi::raw::raw_sap;
use ndis_sys::*;

use super::{Input, tail, with_covmini};

/// Input layout: bit 0 of the first byte forces covmini's SapType, then
/// SapType, SapLength and a chunk of SAP bytes.
pub fn run(data: &[u8]) {
    let mut i = Input::new(data);
    let bits = i.u8();
    let raw_type = i.u32();
    let sap_type = if bits & 1 != 0 { SAP_TYPE_ADDRESS } else { raw_type };
    let length = i.u32();
    let bytes = tail(length, i.chunk());
    let block = raw_sap(sap_type, length, &bytes);
    let len = usize::try_from(length).unwrap_or(usize::MAX);
    let well_formed = sap_type == SAP_TYPE_ADDRESS && (1..=MAX_ADDRESS_LEN).contains(&len);
    with_covmini(|emu| {
        let c = emu.client("c");
        let caller = emu.client("caller");
        let af = emu.open_af(c, config::AF).expect("AF");
        let caller_af = emu.open_af(caller, config::AF).expect("caller's AF");
        emu.register_sap(af, SAP_TYPE_ADDRESS, b"taken")
            .expect("a SAP already there");
        let r = emu.register_sap_raw(af, &block);
        let address = well_formed.then(|| bytes[..len].to_vec());
        match (&address, r) {
            (Some(a), Ok(sap)) => {
                assert_ne!(a.as_slice(), b"taken", "a duplicate registered");
                let mut spec = CallSpec::best_effort(125_000, 1500);
                spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
                spec.media_specific.clone_from(a);
                let vc = emu.create_vc(caller_af).expect("VC");
                assert_eq!(emu.make_call(vc, &spec), NDIS_STATUS_SUCCESS, "a call reaches the SAP");
                assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
                assert_eq!(emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
            }
            (Some(a), Err(s)) => {
                assert_eq!(s, NDIS_STATUS_INVALID_DATA);
                assert!(a.as_slice() == b"taken" || a.as_slice() == b"echo", "{a:x?} refused");
            }
            (None, r) => assert_eq!(r.err(), Some(NDIS_STATUS_INVALID_DATA), "{block:x?}"),
        }
    });
}
