//! Raw OID requests through ndis-emu into covmini: MiniportCoOidRequest
//! (adapter or VC) and ProtocolCoOidRequest (AF, optionally a VC), query or
//! set, any OID (covmini's table or any value), a NULL or real information
//! buffer of any length up to 4 KiB, its bytes from the input. Checks the
//! statuses docs/oids.md gives, that a refused query leaves the buffer
//! untouched and a NULL buffer with a length is INVALID_DATA with nothing
//! counted, plus ndis-emu's own rule on the byte counts, and no fault,
//! violation or leak.

use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use covmini::ctrl_path::TABLE;
use ndis_emu::{CallSpec, RawOidBuffer};
use ndis_sys::*;

use super::{Input, with_covmini};

/// Input layout: path bits (CM, VC, set, NULL buffer), an OID selector (a
/// table index, or with its top bit a raw OID), the stated length, then the
/// buffer's bytes.
pub fn run(data: &[u8]) {
    let mut i = Input::new(data);
    let bits = i.u8();
    let (cm, on_vc, set, null) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0);
    let selector = i.u32();
    let oid = if selector & 0x8000_0000 == 0 {
        TABLE[selector as usize % TABLE.len()].oid
    } else {
        i.u32()
    };
    let length = if bits & 16 != 0 {
        i.u32()
    } else {
        u32::from(i.u8()) | (u32::from(i.u8() & 0x0F) << 8)
    };
    let buffer = if null {
        RawOidBuffer::null(length)
    } else {
        // The client's buffer holds what it states (bounded to 4 KiB).
        let n = usize::try_from(length).unwrap_or(usize::MAX).min(4096);
        let mut bytes = i.rest().to_vec();
        bytes.resize(n, 0);
        RawOidBuffer::exact(&bytes)
    };
    with_covmini(|emu| {
        let alice = emu.client("alice");
        let bob = emu.client("bob");
        let alice_af = emu.open_af(alice, config::AF).expect("AF");
        let bob_af = emu.open_af(bob, config::AF).expect("AF");
        emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("SAP");
        let vc = emu.create_vc(alice_af).expect("VC");
        let mut spec = CallSpec::best_effort(125_000, 1500);
        spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
        spec.media_specific = b"bob".to_vec();
        assert_eq!(emu.make_call(vc, &spec), NDIS_STATUS_SUCCESS);
        let (_, r) = emu
            .oid_raw(cm.then_some(alice_af), on_vc.then_some(vc), set, oid, &buffer)
            .expect("the request reaches covmini");
        let documented = [
            NDIS_STATUS_SUCCESS,
            NDIS_STATUS_NOT_SUPPORTED,
            NDIS_STATUS_INVALID_DATA,
            NDIS_STATUS_BUFFER_TOO_SHORT,
            NDIS_STATUS_INVALID_LENGTH,
        ];
        assert!(
            documented.contains(&r.status) || (!cm && r.status == NDIS_STATUS_INVALID_OID),
            "{oid:#x}: {:#x}",
            r.status
        );
        if buffer.bytes.is_none() && length != 0 {
            assert_eq!(
                (r.status, r.bytes_done, r.bytes_needed),
                (NDIS_STATUS_INVALID_DATA, 0, 0)
            );
        }
        if let Some(before) = &buffer.bytes {
            if !set && r.status != NDIS_STATUS_SUCCESS {
                assert_eq!(&r.data, before, "a refused query leaves the buffer untouched");
            }
            if set {
                assert_eq!(&r.data, before, "a set does not write the caller's buffer");
            }
        }
        // The adapter still answers a good query.
        let (_, good) = emu.oid_query(None, None, OID_GEN_CO_LINK_SPEED, 64).expect("query");
        assert_eq!(good.status, NDIS_STATUS_SUCCESS);
    });
}
