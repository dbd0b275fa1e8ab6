//! covclient's IOCTL parser (`covclient_abi::Request::parse`) and response
//! encoders on any control code and any input bytes. Checks what
//! docs/covclient-ioctl.md promises: an unknown code and only an unknown
//! code is STATUS_INVALID_DEVICE_REQUEST; every refusal maps to one of the
//! documented statuses; an accepted request has exactly its struct's length
//! (plus the stated data of an OID set), its handles are of the right kind,
//! its counts within their bounds; the output check takes its own minimum
//! and refuses one byte less; and the encoders never write past the output
//! buffer nor report more bytes than it holds.

use covclient_abi::layout::Wire;
use covclient_abi::ntstatus::*;
use covclient_abi::response::{encode, encode_adapters, encode_events, encode_oid};
use covclient_abi::*;

use super::Input;

/// The input struct's size for each code (OID: its fixed part).
fn request_size(code: u32) -> usize {
    match code {
        IOCTL_COVCLIENT_GET_VERSION => 0,
        IOCTL_COVCLIENT_LIST_ADAPTERS => ListAdaptersRequest::SIZE,
        IOCTL_COVCLIENT_OPEN_AF => OpenAfRequest::SIZE,
        IOCTL_COVCLIENT_REGISTER_SAP => RegisterSapRequest::SIZE,
        IOCTL_COVCLIENT_MAKE_CALL | IOCTL_COVCLIENT_ADD_PARTY => CallRequest::SIZE,
        IOCTL_COVCLIENT_ANSWER_CALL => AnswerRequest::SIZE,
        IOCTL_COVCLIENT_DROP_PARTY | IOCTL_COVCLIENT_CLOSE_CALL => CloseRequest::SIZE,
        IOCTL_COVCLIENT_MODIFY_QOS => QosRequest::SIZE,
        IOCTL_COVCLIENT_SEND => SendRequest::SIZE,
        IOCTL_COVCLIENT_GET_COUNTERS => CountersRequest::SIZE,
        IOCTL_COVCLIENT_EXPECT_PATTERN => ExpectRequest::SIZE,
        IOCTL_COVCLIENT_OID_REQUEST => OidRequest::SIZE,
        IOCTL_COVCLIENT_WAIT_EVENTS => EventsRequest::SIZE,
        _ => HandleRequest::SIZE,
    }
}

/// Input layout: a selector byte (bit 0: the code is `CODES[next byte]`,
/// else the next u32 is the raw code; bit 1: stamp a valid header; bit 2:
/// stamp a valid handle of the selector's top bits' kind at offset 8), the
/// output buffer's length (u16), the encoders' entry count (u8), their
/// maximum (u32) and OID data length (u8, times 8), then the request bytes
/// (also the OID data).
pub fn run(data: &[u8]) {
    let mut i = Input::new(data);
    let bits = i.u8();
    let code = if bits & 1 != 0 {
        CODES[usize::from(i.u8()) % CODES.len()]
    } else {
        i.u32()
    };
    let out_len = usize::from(u16::from_le_bytes([i.u8(), i.u8()]));
    let (enc_n, enc_max, oid_len) = (usize::from(i.u8() % 40), i.u32(), usize::from(i.u8()) * 8);
    let mut input = i.rest().to_vec();
    // Stamps that get deep into the checks more often than chance would.
    if bits & 2 != 0 && input.len() >= 8 {
        input[..4].copy_from_slice(&COVCLIENT_ABI_VERSION.to_le_bytes());
        input[4..8].fill(0);
    }
    if bits & 4 != 0 && input.len() >= 16 {
        let kind = [
            HandleKind::Adapter,
            HandleKind::Af,
            HandleKind::Sap,
            HandleKind::Vc,
            HandleKind::Party,
        ][usize::from(bits >> 5) % 5];
        let index = u32::from_le_bytes([input[8], input[9], input[10], input[11]]);
        input[8..16].copy_from_slice(&Handle::new(kind, index, 1).raw().to_le_bytes());
    }

    let known = CODES.contains(&code);
    let parsed = Request::parse(code, &input);
    assert_eq!(parsed, Request::parse(code, &input), "parse is deterministic");
    match parsed {
        Err(e) => {
            assert_eq!(matches!(e, AbiError::UnknownCode(_)), !known, "{code:#x}: {e:?}");
            let documented = [
                STATUS_INVALID_DEVICE_REQUEST,
                STATUS_BUFFER_TOO_SMALL,
                STATUS_INVALID_BUFFER_SIZE,
                STATUS_INVALID_PARAMETER,
                STATUS_INVALID_HANDLE,
                STATUS_REVISION_MISMATCH,
            ];
            assert!(documented.contains(&e.ntstatus()), "{e:?}");
            match e {
                AbiError::InputTooShort { need, got } => assert!(got < need && got == input.len()),
                AbiError::InputTooLong { max, got } => assert!(got > max && got == input.len()),
                _ => {}
            }
        }
        Ok(req) => {
            assert!(known);
            let fixed = request_size(code);
            match req {
                Request::OidSet { data, .. } => {
                    assert_eq!(input.len(), fixed + data.len());
                    assert!(data.len() <= COVCLIENT_MAX_OID_BYTES as usize);
                }
                _ => assert_eq!(input.len(), fixed, "{code:#x} accepted a wrong length"),
            }
            check_accepted(&req);
            let min = req.min_output();
            assert!(req.check_output(min).is_ok());
            assert_eq!(
                req.check_output(min - 1).map_err(AbiError::ntstatus),
                Err(STATUS_BUFFER_TOO_SMALL)
            );
            assert_eq!(req.check_output(out_len).is_ok(), out_len >= min);
        }
    }
    let oid_data = &input[..oid_len.min(input.len())];
    encoders(enc_n, enc_max, oid_data, out_len);
}

/// The bounds an accepted request keeps.
fn check_accepted(req: &Request<'_>) {
    match *req {
        Request::Send {
            vc,
            nbl_count,
            nbl_size,
            pattern,
            ..
        } => {
            assert_eq!(vc.kind(), HandleKind::Vc);
            assert!((1..=COVCLIENT_MAX_SEND_NBLS).contains(&nbl_count));
            assert!((1..=COVCLIENT_MAX_SEND_BYTES).contains(&nbl_size));
            assert!(pattern_byte(pattern, 0, 0, 0).is_some());
        }
        Request::WaitEvents { max_events } => assert!((1..=COVCLIENT_MAX_EVENTS).contains(&max_events)),
        Request::RegisterSap { af, req } => {
            assert_eq!(af.kind(), HandleKind::Af);
            assert!(req.sap_length <= COVCLIENT_MAX_ADDRESS_BYTES);
            assert!(req.sap[req.sap_length as usize..].iter().all(|b| *b == 0));
        }
        Request::MakeCall { vc, params } | Request::AddParty { vc, params } => {
            assert_eq!(vc.kind(), HandleKind::Vc);
            assert_eq!(params.flags & !COVCLIENT_CALL_FLAGS_ALL, 0);
            assert!(params.address_length <= COVCLIENT_MAX_ADDRESS_BYTES);
        }
        Request::CloseCall { vc, party, data } => {
            assert_eq!(vc.kind(), HandleKind::Vc);
            assert!(party.is_none_or(|p| p.kind() == HandleKind::Party));
            assert!(data.as_bytes().len() <= COVCLIENT_MAX_ADDRESS_BYTES as usize);
        }
        Request::DropParty { party, .. } => assert_eq!(party.kind(), HandleKind::Party),
        Request::AnswerCall { answer: Err(s), .. } => assert_eq!(s >> 30, 0b11),
        Request::OidQuery { length, handle, .. } => {
            assert!(length <= COVCLIENT_MAX_OID_BYTES);
            assert_ne!(handle.kind(), HandleKind::Sap);
        }
        _ => {}
    }
}

/// The encoders with `n` entries (at most `max`) and OID `data` into an
/// output buffer of `out_len` bytes (guarded by a canary past its end):
/// never past the end, never more than fits.
fn encoders(n: usize, max: u32, data: &[u8], out_len: usize) {
    let out_len = out_len % 2048;
    let mut buf = vec![0xA5u8; out_len + 16];
    let event = Event {
        kind: COVCLIENT_EVENT_SEND_COMPLETE,
        ndis_status: 0xC000_0001,
        sequence: 7,
        adapter: 0,
        object: 0,
        related: 0,
        arg0: 1,
        arg1: 2,
        arg2: 3,
    };
    let events = vec![event; n];
    let (out, canary) = buf.split_at_mut(out_len);
    match encode_events(0, &events, max, out) {
        Ok((bytes, taken)) => {
            assert!(bytes <= out_len && taken <= n && taken <= max as usize);
            assert_eq!(bytes, EventBatch::SIZE + taken * Event::SIZE);
            assert_eq!(EventBatch::read(out).map(|b| b.count as usize), Some(taken));
            // As many as fit were taken.
            assert!(taken == n.min(max as usize) || out_len - bytes < Event::SIZE);
        }
        Err(e) => assert!(out_len < EventBatch::SIZE && e.ntstatus() == STATUS_BUFFER_TOO_SMALL),
    }
    assert!(canary.iter().all(|b| *b == 0xA5), "an encoder wrote past the buffer");

    let adapters = vec![AdapterInfo::ZERO; n];
    match encode_adapters(9, 0, &adapters, out) {
        Ok(bytes) => assert!(bytes <= out_len && (bytes - AdapterList::SIZE) % AdapterInfo::SIZE == 0),
        Err(_) => assert!(out_len < AdapterList::SIZE),
    }
    let res = OidResult::ZERO;
    match encode_oid(res, data, out) {
        Ok(bytes) => assert_eq!(bytes, OidResult::SIZE + data.len()),
        Err(_) => assert!(out_len < OidResult::SIZE + data.len()),
    }
    match encode(&Counters::ZERO, out) {
        Ok(bytes) => assert_eq!(bytes, Counters::SIZE),
        Err(_) => assert!(out_len < Counters::SIZE),
    }
    assert!(canary.iter().all(|b| *b == 0xA5), "an encoder wrote past the buffer");
}
