//! The parser's refusals, one test per kind of bad input, each with the
//! NTSTATUS docs/covclient-ioctl.md gives it; a valid request of every code
//! parses; and the response encoders write exact lengths and refuse a
//! buffer too small without writing.

use covclient_abi::layout::Wire;
use covclient_abi::ntstatus::*;
use covclient_abi::response::{encode, encode_adapters, encode_events, encode_oid};
use covclient_abi::*;

const HDR: RequestHeader = RequestHeader {
    version: COVCLIENT_ABI_VERSION,
    reserved: 0,
};

fn bytes<T: Wire>(v: &T) -> Vec<u8> {
    let mut out = vec![0u8; T::SIZE];
    v.write(&mut out).expect("sized");
    out
}

fn h(kind: HandleKind) -> u64 {
    Handle::new(kind, 7, 3).raw()
}

fn flow() -> Flowspec {
    Flowspec {
        token_rate: 125_000,
        token_bucket_size: 1500,
        peak_bandwidth: 125_000,
        latency: u32::MAX,
        delay_variation: u32::MAX,
        service_type: 1,
        max_sdu_size: 1500,
        minimum_policed_size: u32::MAX,
    }
}

fn call() -> CallRequest {
    let mut address = [0u8; 64];
    address[..4].copy_from_slice(COVMINI_ECHO_ADDRESS);
    CallRequest {
        header: HDR,
        vc: h(HandleKind::Vc),
        params: CallParameters {
            flags: 0,
            param_type: COVMINI_PARAM_TYPE_CALLED_ADDRESS,
            address_length: 4,
            reserved: 0,
            address,
            transmit: flow(),
            receive: flow(),
        },
    }
}

fn sap() -> RegisterSapRequest {
    let mut s = [0u8; 64];
    s[..3].copy_from_slice(b"bob");
    RegisterSapRequest {
        header: HDR,
        af: h(HandleKind::Af),
        sap_type: COVMINI_SAP_TYPE_ADDRESS,
        sap_length: 3,
        answer_mode: COVCLIENT_ANSWER_PEND,
        reject_status: 0,
        sap: s,
    }
}

fn send() -> SendRequest {
    SendRequest {
        header: HDR,
        vc: h(HandleKind::Vc),
        nbl_count: 4,
        nbl_size: 1500,
        pattern: COVCLIENT_PATTERN_COUNTER,
        seed: 9,
    }
}

fn close() -> CloseRequest {
    CloseRequest {
        header: HDR,
        handle: h(HandleKind::Vc),
        party: 0,
        data_length: 0,
        reserved: 0,
        data: [0; 64],
    }
}

fn oid(kind: u32, len: u32) -> OidRequest {
    OidRequest {
        header: HDR,
        handle: h(HandleKind::Adapter),
        oid: 0x0001_0202,
        kind,
        data_length: len,
        reserved: 0,
    }
}

fn handle_req(kind: HandleKind) -> Vec<u8> {
    bytes(&HandleRequest {
        header: HDR,
        handle: h(kind),
    })
}

/// One well-formed input per code (in [`CODES`] order).
fn valid() -> Vec<(u32, Vec<u8>)> {
    let mut set = bytes(&oid(COVCLIENT_OID_SET, 4));
    set.extend_from_slice(&[1, 2, 3, 4]);
    vec![
        (IOCTL_COVCLIENT_GET_VERSION, vec![]),
        (
            IOCTL_COVCLIENT_LIST_ADAPTERS,
            bytes(&ListAdaptersRequest {
                header: HDR,
                first: 0,
                reserved: 0,
            }),
        ),
        (
            IOCTL_COVCLIENT_OPEN_AF,
            bytes(&OpenAfRequest {
                header: HDR,
                adapter: h(HandleKind::Adapter),
                address_family: COVMINI_AF,
                major_version: COVMINI_AF_MAJOR_VERSION,
                minor_version: COVMINI_AF_MINOR_VERSION,
                reserved: 0,
            }),
        ),
        (IOCTL_COVCLIENT_CLOSE_AF, handle_req(HandleKind::Af)),
        (IOCTL_COVCLIENT_REGISTER_SAP, bytes(&sap())),
        (IOCTL_COVCLIENT_DEREGISTER_SAP, handle_req(HandleKind::Sap)),
        (IOCTL_COVCLIENT_CREATE_VC, handle_req(HandleKind::Af)),
        (IOCTL_COVCLIENT_DELETE_VC, handle_req(HandleKind::Vc)),
        (IOCTL_COVCLIENT_MAKE_CALL, bytes(&call())),
        (
            IOCTL_COVCLIENT_ANSWER_CALL,
            bytes(&AnswerRequest {
                header: HDR,
                vc: h(HandleKind::Vc),
                action: COVCLIENT_ANSWER_ACCEPT,
                ndis_status: 0,
            }),
        ),
        (IOCTL_COVCLIENT_ADD_PARTY, bytes(&call())),
        (
            IOCTL_COVCLIENT_DROP_PARTY,
            bytes(&CloseRequest {
                handle: h(HandleKind::Party),
                ..close()
            }),
        ),
        (
            IOCTL_COVCLIENT_MODIFY_QOS,
            bytes(&QosRequest {
                header: HDR,
                vc: h(HandleKind::Vc),
                flags: 0,
                reserved: 0,
                transmit: flow(),
                receive: flow(),
            }),
        ),
        (IOCTL_COVCLIENT_CLOSE_CALL, bytes(&close())),
        (IOCTL_COVCLIENT_SEND, bytes(&send())),
        (
            IOCTL_COVCLIENT_GET_COUNTERS,
            bytes(&CountersRequest {
                header: HDR,
                vc: h(HandleKind::Vc),
                flags: COVCLIENT_COUNTERS_RESET,
                reserved: 0,
            }),
        ),
        (
            IOCTL_COVCLIENT_EXPECT_PATTERN,
            bytes(&ExpectRequest {
                header: HDR,
                vc: h(HandleKind::Vc),
                pattern: COVCLIENT_PATTERN_CONSTANT,
                seed: 0x5A,
            }),
        ),
        (IOCTL_COVCLIENT_OID_REQUEST, set),
        (
            IOCTL_COVCLIENT_WAIT_EVENTS,
            bytes(&EventsRequest {
                header: HDR,
                max_events: 16,
                reserved: 0,
            }),
        ),
    ]
}

fn refused(code: u32, input: &[u8]) -> AbiError {
    match Request::parse(code, input) {
        Ok(r) => panic!("{code:#x} accepted {r:?}"),
        Err(e) => e,
    }
}

/// Patches the little-endian u32 at `at`.
fn put32(mut v: Vec<u8>, at: usize, x: u32) -> Vec<u8> {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
    v
}

fn put64(mut v: Vec<u8>, at: usize, x: u64) -> Vec<u8> {
    v[at..at + 8].copy_from_slice(&x.to_le_bytes());
    v
}

#[test]
fn every_code_has_a_valid_input_that_parses() {
    let v = valid();
    assert_eq!(v.iter().map(|(c, _)| *c).collect::<Vec<_>>(), CODES);
    for (code, input) in &v {
        let r = Request::parse(*code, input).unwrap_or_else(|e| panic!("{code:#x}: {e:?}"));
        // The output rule: the minimum is accepted, one byte less is not.
        r.check_output(r.min_output()).expect("min output");
        let e = r.check_output(r.min_output() - 1).unwrap_err();
        assert_eq!(e.ntstatus(), STATUS_BUFFER_TOO_SMALL);
    }
}

#[test]
fn unknown_code_is_invalid_device_request() {
    for code in [
        0,
        IOCTL_COVCLIENT_WAIT_EVENTS + 4,
        IOCTL_COVCLIENT_SEND | 1,
        IOCTL_COVCLIENT_SEND ^ (1 << 16),
    ] {
        let e = refused(code, &bytes(&send()));
        assert_eq!(e, AbiError::UnknownCode(code));
        assert_eq!(e.ntstatus(), STATUS_INVALID_DEVICE_REQUEST);
    }
}

#[test]
fn short_input_is_buffer_too_small_for_every_code() {
    for (code, input) in valid() {
        if input.is_empty() {
            continue;
        }
        for len in [0, 7, 8, input.len() - 1] {
            let e = refused(code, &input[..len.min(input.len() - 1)]);
            assert!(
                matches!(e, AbiError::InputTooShort { .. }),
                "{code:#x} len {len}: {e:?}"
            );
            assert_eq!(e.ntstatus(), STATUS_BUFFER_TOO_SMALL);
        }
    }
}

#[test]
fn oversized_input_is_invalid_buffer_size_for_every_code() {
    for (code, mut input) in valid() {
        input.push(0);
        let e = refused(code, &input);
        assert!(matches!(e, AbiError::InputTooLong { .. }), "{code:#x}: {e:?}");
        assert_eq!(e.ntstatus(), STATUS_INVALID_BUFFER_SIZE);
    }
}

#[test]
fn another_version_is_revision_mismatch_for_every_code() {
    for (code, input) in valid() {
        if input.is_empty() {
            continue; // GET_VERSION has no header: any client may ask.
        }
        for v in [0, 2, u32::MAX] {
            let e = refused(code, &put32(input.clone(), 0, v));
            assert_eq!(e, AbiError::BadVersion(v), "{code:#x}");
            assert_eq!(e.ntstatus(), STATUS_REVISION_MISMATCH);
        }
    }
}

#[test]
fn header_reserved_nonzero_is_invalid_parameter_for_every_code() {
    for (code, input) in valid() {
        if input.is_empty() {
            continue;
        }
        let e = refused(code, &put32(input, 4, 1));
        assert_eq!(e, AbiError::ReservedNotZero("header.reserved"), "{code:#x}");
        assert_eq!(e.ntstatus(), STATUS_INVALID_PARAMETER);
    }
}

#[test]
fn each_reserved_field_must_be_zero() {
    let cases: Vec<(u32, Vec<u8>, &str)> = vec![
        (
            IOCTL_COVCLIENT_LIST_ADAPTERS,
            put32(valid()[1].1.clone(), 12, 1),
            "reserved",
        ),
        (IOCTL_COVCLIENT_OPEN_AF, put32(valid()[2].1.clone(), 28, 1), "reserved"),
        (
            IOCTL_COVCLIENT_MAKE_CALL,
            put32(bytes(&call()), 16 + 12, 1),
            "params.reserved",
        ),
        (
            IOCTL_COVCLIENT_MAKE_CALL,
            put32(bytes(&call()), 16 + 16 + 60, 1),
            "params.address",
        ),
        (IOCTL_COVCLIENT_REGISTER_SAP, put32(bytes(&sap()), 32 + 60, 1), "sap"),
        (IOCTL_COVCLIENT_CLOSE_CALL, put32(bytes(&close()), 28, 1), "reserved"),
        (IOCTL_COVCLIENT_CLOSE_CALL, put32(bytes(&close()), 32, 1), "data"),
        (
            IOCTL_COVCLIENT_DROP_PARTY,
            put64(valid()[11].1.clone(), 16, h(HandleKind::Party)),
            "party",
        ),
        (
            IOCTL_COVCLIENT_MODIFY_QOS,
            put32(valid()[12].1.clone(), 20, 1),
            "reserved",
        ),
        (
            IOCTL_COVCLIENT_GET_COUNTERS,
            put32(valid()[15].1.clone(), 20, 1),
            "reserved",
        ),
        (
            IOCTL_COVCLIENT_OID_REQUEST,
            put32(bytes(&oid(COVCLIENT_OID_QUERY, 4)), 28, 1),
            "reserved",
        ),
        (
            IOCTL_COVCLIENT_WAIT_EVENTS,
            put32(valid()[18].1.clone(), 12, 1),
            "reserved",
        ),
        // A SAP that accepts or pends carries no reject status.
        (
            IOCTL_COVCLIENT_REGISTER_SAP,
            put32(bytes(&sap()), 28, 0xC000_0001),
            "reject_status",
        ),
        // An accept carries no status.
        (
            IOCTL_COVCLIENT_ANSWER_CALL,
            put32(valid()[9].1.clone(), 20, 0xC000_0001),
            "ndis_status",
        ),
        // No pattern, no seed.
        (
            IOCTL_COVCLIENT_EXPECT_PATTERN,
            bytes(&ExpectRequest {
                header: HDR,
                vc: h(HandleKind::Vc),
                pattern: COVCLIENT_PATTERN_NONE,
                seed: 1,
            }),
            "seed",
        ),
    ];
    for (code, input, field) in cases {
        let e = refused(code, &input);
        assert_eq!(e, AbiError::ReservedNotZero(field), "{code:#x}");
        assert_eq!(e.ntstatus(), STATUS_INVALID_PARAMETER);
    }
}

#[test]
fn huge_counts_are_refused_at_their_documented_bound() {
    let at_bound = SendRequest {
        nbl_count: COVCLIENT_MAX_SEND_NBLS,
        nbl_size: COVCLIENT_MAX_SEND_BYTES,
        ..send()
    };
    assert!(Request::parse(IOCTL_COVCLIENT_SEND, &bytes(&at_bound)).is_ok());
    let cases = [
        (
            SendRequest {
                nbl_count: COVCLIENT_MAX_SEND_NBLS + 1,
                ..send()
            },
            "nbl_count",
        ),
        (
            SendRequest {
                nbl_count: u32::MAX,
                ..send()
            },
            "nbl_count",
        ),
        (SendRequest { nbl_count: 0, ..send() }, "nbl_count"),
        (
            SendRequest {
                nbl_size: COVCLIENT_MAX_SEND_BYTES + 1,
                ..send()
            },
            "nbl_size",
        ),
        (
            SendRequest {
                nbl_size: u32::MAX,
                ..send()
            },
            "nbl_size",
        ),
        (SendRequest { nbl_size: 0, ..send() }, "nbl_size"),
        (
            SendRequest {
                pattern: COVCLIENT_PATTERN_NONE,
                ..send()
            },
            "pattern",
        ),
        (SendRequest { pattern: 3, ..send() }, "pattern"),
    ];
    for (req, field) in cases {
        let e = refused(IOCTL_COVCLIENT_SEND, &bytes(&req));
        assert!(
            matches!(e, AbiError::BadValue { field: f, .. } if f == field),
            "{req:?}: {e:?}"
        );
        assert_eq!(e.ntstatus(), STATUS_INVALID_PARAMETER);
    }
    let ev = |n| {
        bytes(&EventsRequest {
            header: HDR,
            max_events: n,
            reserved: 0,
        })
    };
    assert!(Request::parse(IOCTL_COVCLIENT_WAIT_EVENTS, &ev(COVCLIENT_MAX_EVENTS)).is_ok());
    for n in [0, COVCLIENT_MAX_EVENTS + 1, u32::MAX] {
        let e = refused(IOCTL_COVCLIENT_WAIT_EVENTS, &ev(n));
        assert_eq!(e.ntstatus(), STATUS_INVALID_PARAMETER, "{n}");
    }
    // Address lengths: the wire room, not covmini's bound (covmini refuses 33).
    let len = |n| put32(bytes(&sap()), 20, n);
    assert!(Request::parse(IOCTL_COVCLIENT_REGISTER_SAP, &len(COVCLIENT_MAX_ADDRESS_BYTES)).is_ok());
    for n in [COVCLIENT_MAX_ADDRESS_BYTES + 1, u32::MAX] {
        let e = refused(IOCTL_COVCLIENT_REGISTER_SAP, &len(n));
        assert_eq!(
            e,
            AbiError::BadValue {
                field: "sap_length",
                value: u64::from(n)
            }
        );
    }
    let e = refused(IOCTL_COVCLIENT_MAKE_CALL, &put32(bytes(&call()), 16 + 8, 65));
    assert_eq!(
        e,
        AbiError::BadValue {
            field: "params.address_length",
            value: 65
        }
    );
    let e = refused(IOCTL_COVCLIENT_CLOSE_CALL, &put32(bytes(&close()), 24, 65));
    assert_eq!(
        e,
        AbiError::BadValue {
            field: "data_length",
            value: 65
        }
    );
    // OID data: 4096 at most, even for a query that sends none.
    let e = refused(
        IOCTL_COVCLIENT_OID_REQUEST,
        &bytes(&oid(COVCLIENT_OID_QUERY, COVCLIENT_MAX_OID_BYTES + 1)),
    );
    assert_eq!(e.ntstatus(), STATUS_INVALID_PARAMETER);
    let at_bound = bytes(&oid(COVCLIENT_OID_QUERY, COVCLIENT_MAX_OID_BYTES));
    let q = Request::parse(IOCTL_COVCLIENT_OID_REQUEST, &at_bound).expect("at the bound");
    assert_eq!(q.min_output(), OidResult::SIZE + 4096);
}

#[test]
fn unknown_enumerations_and_flags_are_invalid_parameter() {
    let cases: Vec<(u32, Vec<u8>, &str)> = vec![
        (IOCTL_COVCLIENT_REGISTER_SAP, put32(bytes(&sap()), 24, 0), "answer_mode"),
        (IOCTL_COVCLIENT_REGISTER_SAP, put32(bytes(&sap()), 24, 4), "answer_mode"),
        // A rejecting SAP needs an error status.
        (
            IOCTL_COVCLIENT_REGISTER_SAP,
            put32(bytes(&sap()), 24, COVCLIENT_ANSWER_REJECT),
            "reject_status",
        ),
        (
            IOCTL_COVCLIENT_ANSWER_CALL,
            put32(valid()[9].1.clone(), 16, COVCLIENT_ANSWER_PEND),
            "action",
        ),
        (
            IOCTL_COVCLIENT_ANSWER_CALL,
            put32(valid()[9].1.clone(), 16, COVCLIENT_ANSWER_REJECT),
            "ndis_status",
        ),
        (
            IOCTL_COVCLIENT_MAKE_CALL,
            put32(bytes(&call()), 16, 0x8),
            "params.flags",
        ),
        (
            IOCTL_COVCLIENT_ADD_PARTY,
            put32(bytes(&call()), 16, 0x8000_0000),
            "params.flags",
        ),
        (
            IOCTL_COVCLIENT_MODIFY_QOS,
            put32(valid()[12].1.clone(), 16, COVCLIENT_CALL_MULTIPOINT),
            "flags",
        ),
        (
            IOCTL_COVCLIENT_GET_COUNTERS,
            put32(valid()[15].1.clone(), 16, 2),
            "flags",
        ),
        (
            IOCTL_COVCLIENT_EXPECT_PATTERN,
            put32(valid()[16].1.clone(), 16, 3),
            "pattern",
        ),
        (
            IOCTL_COVCLIENT_OID_REQUEST,
            put32(bytes(&oid(COVCLIENT_OID_QUERY, 4)), 20, 2),
            "kind",
        ),
    ];
    for (code, input, field) in cases {
        let e = refused(code, &input);
        assert!(
            matches!(e, AbiError::BadValue { field: f, .. } if f == field),
            "{code:#x}: {e:?}"
        );
        assert_eq!(e.ntstatus(), STATUS_INVALID_PARAMETER);
    }
    // A rejection's status is kept as given.
    let rej = put32(
        put32(valid()[9].1.clone(), 16, COVCLIENT_ANSWER_REJECT),
        20,
        0xC001_0012,
    );
    assert!(matches!(
        Request::parse(IOCTL_COVCLIENT_ANSWER_CALL, &rej),
        Ok(Request::AnswerCall {
            answer: Err(0xC001_0012),
            ..
        })
    ));
}

#[test]
fn null_foreign_and_wrong_kind_handles_are_invalid_handle() {
    // (code, offset of the handle field)
    let fields = [
        (IOCTL_COVCLIENT_OPEN_AF, 8),
        (IOCTL_COVCLIENT_CLOSE_AF, 8),
        (IOCTL_COVCLIENT_REGISTER_SAP, 8),
        (IOCTL_COVCLIENT_DEREGISTER_SAP, 8),
        (IOCTL_COVCLIENT_CREATE_VC, 8),
        (IOCTL_COVCLIENT_DELETE_VC, 8),
        (IOCTL_COVCLIENT_MAKE_CALL, 8),
        (IOCTL_COVCLIENT_ANSWER_CALL, 8),
        (IOCTL_COVCLIENT_ADD_PARTY, 8),
        (IOCTL_COVCLIENT_DROP_PARTY, 8),
        (IOCTL_COVCLIENT_MODIFY_QOS, 8),
        (IOCTL_COVCLIENT_CLOSE_CALL, 8),
        (IOCTL_COVCLIENT_CLOSE_CALL, 16),
        (IOCTL_COVCLIENT_SEND, 8),
        (IOCTL_COVCLIENT_GET_COUNTERS, 8),
        (IOCTL_COVCLIENT_EXPECT_PATTERN, 8),
        (IOCTL_COVCLIENT_OID_REQUEST, 8),
    ];
    let v = valid();
    for (code, at) in fields {
        let input = v
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, i)| i.clone())
            .expect("valid input");
        // The optional party of a close call: 0 is "none", not null.
        let mut bad = vec![
            (0x00C0_FFEE_0000_0001u64, HandleError::Foreign),
            (u64::MAX, HandleError::Foreign),
        ];
        if !(code == IOCTL_COVCLIENT_CLOSE_CALL && at == 16) {
            bad.push((0, HandleError::Null));
        }
        // A SAP handle is never what these take.
        bad.push((h(HandleKind::Sap), HandleError::WrongKind(HandleKind::Sap as u8)));
        if code == IOCTL_COVCLIENT_DEREGISTER_SAP {
            bad.pop();
            bad.push((h(HandleKind::Vc), HandleError::WrongKind(HandleKind::Vc as u8)));
        }
        for (raw, why) in bad {
            let e = refused(code, &put64(input.clone(), at, raw));
            assert!(
                matches!(e, AbiError::BadHandle { why: w, .. } if w == why),
                "{code:#x}@{at} {raw:#x}: {e:?}"
            );
            assert_eq!(e.ntstatus(), STATUS_INVALID_HANDLE);
        }
    }
}

#[test]
fn oid_set_data_must_match_its_stated_length() {
    let mut set = bytes(&oid(COVCLIENT_OID_SET, 4));
    set.extend_from_slice(&[1, 2, 3]);
    let e = refused(IOCTL_COVCLIENT_OID_REQUEST, &set);
    assert_eq!(e, AbiError::InputTooShort { need: 36, got: 35 });
    set.extend_from_slice(&[4, 5]);
    let e = refused(IOCTL_COVCLIENT_OID_REQUEST, &set);
    assert_eq!(e, AbiError::InputTooLong { max: 36, got: 37 });
    set.pop();
    match Request::parse(IOCTL_COVCLIENT_OID_REQUEST, &set) {
        Ok(Request::OidSet { data, oid, .. }) => assert_eq!((data, oid), (&[1u8, 2, 3, 4][..], 0x0001_0202)),
        r => panic!("{r:?}"),
    }
}

#[test]
fn handles_round_trip_and_carry_their_generation() {
    let h = Handle::new(HandleKind::Party, 0xDEAD_BEEF, 0xABCD);
    assert_eq!(h.raw() >> 56, u64::from(COVCLIENT_HANDLE_TAG));
    assert_eq!(
        (h.kind(), h.index(), h.generation()),
        (HandleKind::Party, 0xDEAD_BEEF, 0xABCD)
    );
    assert_eq!(Handle::parse(h.raw(), &[HandleKind::Party]), Ok(h));
    // The same slot at the next generation is another value: a stale handle
    // is told apart by the driver's table.
    assert_ne!(Handle::new(HandleKind::Party, 0xDEAD_BEEF, 0xABCE).raw(), h.raw());
    // A tagged value with a kind byte that is no kind.
    let odd = (u64::from(COVCLIENT_HANDLE_TAG) << 56) | (9 << 48);
    assert_eq!(Handle::parse(odd, &[HandleKind::Vc]), Err(HandleError::WrongKind(9)));
}

#[test]
fn encoders_write_exact_lengths_and_refuse_small_buffers_untouched() {
    let r = OpResult {
        ndis_status: 0x103,
        reserved: 0,
        handle: 0x1122_3344_5566_7788,
    };
    let mut out = [0xEEu8; 20];
    assert_eq!(encode(&r, &mut out), Ok(16));
    assert_eq!(&out[..4], &0x103u32.to_le_bytes());
    assert_eq!(&out[8..16], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&out[16..], &[0xEE; 4], "nothing past the response");
    let mut small = [0xEEu8; 15];
    assert_eq!(
        encode(&r, &mut small),
        Err(AbiError::OutputTooSmall { need: 16, got: 15 })
    );
    assert_eq!(small, [0xEE; 15], "nothing written");

    // Adapters: as many as fit.
    let a = AdapterInfo {
        adapter: 1,
        net_luid: 2,
        if_index: 3,
        af_count: 0,
        afs: [AfInfo::ZERO; 4],
    };
    let mut out = vec![0u8; AdapterList::SIZE + 2 * AdapterInfo::SIZE + 10];
    assert_eq!(encode_adapters(5, 0, &[a, a, a], &mut out), Ok(16 + 2 * 88));
    let head = AdapterList::read(&out).expect("header");
    assert_eq!((head.total, head.returned), (5, 2));
    assert_eq!(AdapterInfo::read(&out[16 + 88..]), Some(a));
    assert_eq!(
        encode_adapters(5, 0, &[a], &mut [0u8; 15]),
        Err(AbiError::OutputTooSmall { need: 16, got: 15 })
    );

    // Events: at most max_events, at most what fits.
    let e = |s| Event {
        kind: COVCLIENT_EVENT_INCOMING_CALL,
        ndis_status: 0,
        sequence: s,
        adapter: 0,
        object: 0,
        related: 0,
        arg0: 0,
        arg1: 0,
        arg2: 0,
    };
    let evs = [e(10), e(11), e(12)];
    let mut out = vec![0u8; 16 + 3 * 64];
    assert_eq!(encode_events(1, &evs, 2, &mut out), Ok((16 + 128, 2)));
    let b = EventBatch::read(&out).expect("batch");
    assert_eq!((b.count, b.lost, b.first_sequence), (2, 1, 10));
    assert_eq!(encode_events(0, &evs, 64, &mut out[..16 + 64 + 63]), Ok((16 + 64, 1)));

    // OID: the result, then exactly the data.
    let mut out = [0xEEu8; 24];
    let res = OidResult {
        ndis_status: 0,
        bytes_written: 0,
        bytes_needed: 0,
        reserved: 0,
    };
    assert_eq!(encode_oid(res, &[9, 8, 7], &mut out), Ok(19));
    assert_eq!(OidResult::read(&out).map(|r| r.bytes_written), Some(3));
    assert_eq!(&out[16..20], &[9, 8, 7, 0xEE]);
    let mut small = [0xEEu8; 18];
    assert_eq!(
        encode_oid(res, &[9, 8, 7], &mut small),
        Err(AbiError::OutputTooSmall { need: 19, got: 18 })
    );
    assert_eq!(small, [0xEE; 18], "nothing written");
}

#[test]
fn ctl_code_matches_the_wdk_macro_on_known_codes() {
    // IOCTL_SCSI_PASS_THROUGH_DIRECT: CTL_CODE(IOCTL_SCSI_BASE = 4, 0x0405,
    // METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS) = 0x0004D014
    // (ntddscsi.h).
    assert_eq!(
        ctl_code(4, 0x405, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS),
        0x0004_D014
    );
    // covclient's first and last codes, by hand: (0xC0C0 << 16) | (access << 14) | (fn << 2).
    assert_eq!(IOCTL_COVCLIENT_GET_VERSION, 0xC0C0_2000);
    assert_eq!(IOCTL_COVCLIENT_WAIT_EVENTS, 0xC0C0_6048);
    assert_eq!(IOCTL_COVCLIENT_SEND, 0xC0C0_E038);
}

#[test]
fn patterns_are_what_the_docs_say() {
    assert_eq!(pattern_byte(COVCLIENT_PATTERN_CONSTANT, 0x1234_5678, 3, 9), Some(0x78));
    assert_eq!(pattern_byte(COVCLIENT_PATTERN_COUNTER, 250, 3, 4), Some(1)); // (250+3+4) mod 256
    assert_eq!(pattern_byte(COVCLIENT_PATTERN_COUNTER, u32::MAX, 1, 0), Some(0));
    assert_eq!(pattern_byte(COVCLIENT_PATTERN_NONE, 1, 0, 0), None);
}

/// The fuzz seeds of well-formed requests (fuzz/seeds/make_seeds.py) parse,
/// and each malformed variant is refused with the status its name says: the
/// corpus starts the fuzzer both inside and at the edge of every check.
#[test]
fn fuzz_seeds_are_what_their_names_say() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/covclient_ioctl");
    let names = [
        "get_version",
        "list_adapters",
        "open_af",
        "close_af",
        "register_sap",
        "deregister_sap",
        "create_vc",
        "delete_vc",
        "make_call",
        "answer_call",
        "add_party",
        "drop_party",
        "modify_qos",
        "close_call",
        "send",
        "get_counters",
        "expect_pattern",
        "oid_set",
        "wait_events",
    ];
    // Selector bits, code index, out_len (2), n, max (4), oid_len: 10 bytes.
    let load = |name: &str| {
        let b = std::fs::read(dir.join(format!("seed-{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        (CODES[usize::from(b[1])], b[10..].to_vec())
    };
    for name in names {
        let (code, input) = load(name);
        Request::parse(code, &input).unwrap_or_else(|e| panic!("seed-{name}: {e:?}"));
        let status = |suffix: &str| {
            let (code, input) = load(&format!("{name}-{suffix}"));
            Request::parse(code, &input).map(|_| ()).map_err(AbiError::ntstatus)
        };
        assert_eq!(status("long"), Err(STATUS_INVALID_BUFFER_SIZE), "{name}-long");
        if name != "get_version" {
            assert_eq!(status("short"), Err(STATUS_BUFFER_TOO_SMALL), "{name}-short");
            assert_eq!(status("v2"), Err(STATUS_REVISION_MISMATCH), "{name}-v2");
        }
    }
}
