//! covclient's IOCTL interface, version 1: the device type, the control
//! codes, the interface's bounds and enumerations (docs/covclient-ioctl.md
//! is the reference).
//!
//! Owns: the numbers. Must not: parse ([`crate::request`]), lay out structs
//! ([`crate::wire`]) or hold covmini's own constants ([`crate::covmini`]).

/// `METHOD_BUFFERED` (devioctl.h): the I/O manager copies the input into a
/// system buffer and the output back out of it.
pub const METHOD_BUFFERED: u32 = 0;
/// `FILE_ANY_ACCESS` (devioctl.h).
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_ACCESS` (devioctl.h: `( 0x0001 )    // file & pipe`).
pub const FILE_READ_ACCESS: u32 = 0x0001;
/// `FILE_WRITE_ACCESS` (devioctl.h: `( 0x0002 )    // file & pipe`).
pub const FILE_WRITE_ACCESS: u32 = 0x0002;

/// `CTL_CODE` as devioctl.h (and winioctl.h) defines it:
/// `((DeviceType) << 16) | ((Access) << 14) | ((Function) << 2) | (Method)`.
/// Every argument is masked to its field's width so the fields cannot
/// overlap (the macro does not mask; every code here is in range, which
/// the const asserts below check).
#[must_use]
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    ((device_type & 0xFFFF) << 16) | ((access & 0x3) << 14) | ((function & 0xFFF) << 2) | (method & 0x3)
}

/// The device type of a control code (devioctl.h's
/// `DEVICE_TYPE_FROM_CTL_CODE`).
#[must_use]
pub const fn device_type_of(code: u32) -> u32 {
    code >> 16
}

abi_consts! { COVCLIENT_CONSTANTS;
    /// The interface's version. Every request but
    /// [`IOCTL_COVCLIENT_GET_VERSION`] carries it in its header; the driver
    /// serves exactly this version (docs/covclient-ioctl.md, "Versioning").
    pub const COVCLIENT_ABI_VERSION: u32 = 1;

    /// covclient's device type. devioctl.h: "values used by Microsoft
    /// Corporation are in the range 0-32767, and 32768-65535 are reserved
    /// for use by customers"; 0xC0C0 is covmini's AF number, in that range.
    pub const COVCLIENT_DEVICE_TYPE: u32 = 0xC0C0;
    /// The first function code. devioctl.h: "function codes 0-2047 are
    /// reserved for Microsoft Corporation, and 2048-4095 are reserved for
    /// customers".
    pub const COVCLIENT_FUNCTION_BASE: u32 = 0x800;

    /// The interface version and covmini's AF (input: none). Any access,
    /// so a client of any version can ask.
    pub const IOCTL_COVCLIENT_GET_VERSION: u32 =
        ctl_code(COVCLIENT_DEVICE_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// The bound adapters and the AFs each offered.
    pub const IOCTL_COVCLIENT_LIST_ADAPTERS: u32 =
        ctl_code(COVCLIENT_DEVICE_TYPE, 0x801, METHOD_BUFFERED, FILE_READ_ACCESS);
    /// NdisClOpenAddressFamilyEx.
    pub const IOCTL_COVCLIENT_OPEN_AF: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x802, METHOD_BUFFERED, RW);
    /// NdisClCloseAddressFamily.
    pub const IOCTL_COVCLIENT_CLOSE_AF: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x803, METHOD_BUFFERED, RW);
    /// NdisClRegisterSap, with how incoming calls on the SAP are answered.
    pub const IOCTL_COVCLIENT_REGISTER_SAP: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x804, METHOD_BUFFERED, RW);
    /// NdisClDeregisterSap.
    pub const IOCTL_COVCLIENT_DEREGISTER_SAP: u32 =
        ctl_code(COVCLIENT_DEVICE_TYPE, 0x805, METHOD_BUFFERED, RW);
    /// NdisCoCreateVc.
    pub const IOCTL_COVCLIENT_CREATE_VC: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x806, METHOD_BUFFERED, RW);
    /// NdisCoDeleteVc.
    pub const IOCTL_COVCLIENT_DELETE_VC: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x807, METHOD_BUFFERED, RW);
    /// NdisClMakeCall.
    pub const IOCTL_COVCLIENT_MAKE_CALL: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x808, METHOD_BUFFERED, RW);
    /// NdisClIncomingCallComplete for a call the SAP pended.
    pub const IOCTL_COVCLIENT_ANSWER_CALL: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x809, METHOD_BUFFERED, RW);
    /// NdisClAddParty.
    pub const IOCTL_COVCLIENT_ADD_PARTY: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x80A, METHOD_BUFFERED, RW);
    /// NdisClDropParty.
    pub const IOCTL_COVCLIENT_DROP_PARTY: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x80B, METHOD_BUFFERED, RW);
    /// NdisClModifyCallQoS.
    pub const IOCTL_COVCLIENT_MODIFY_QOS: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x80C, METHOD_BUFFERED, RW);
    /// NdisClCloseCall.
    pub const IOCTL_COVCLIENT_CLOSE_CALL: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x80D, METHOD_BUFFERED, RW);
    /// NdisCoSendNetBufferLists: N NBLs of S bytes with a pattern.
    pub const IOCTL_COVCLIENT_SEND: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x80E, METHOD_BUFFERED, RW);
    /// A VC's send and receive counters and its received-data check.
    pub const IOCTL_COVCLIENT_GET_COUNTERS: u32 =
        ctl_code(COVCLIENT_DEVICE_TYPE, 0x80F, METHOD_BUFFERED, FILE_READ_ACCESS);
    /// The pattern a VC's received data is checked against.
    pub const IOCTL_COVCLIENT_EXPECT_PATTERN: u32 =
        ctl_code(COVCLIENT_DEVICE_TYPE, 0x810, METHOD_BUFFERED, RW);
    /// NdisCoOidRequest, query or set; pends until the OID completes.
    pub const IOCTL_COVCLIENT_OID_REQUEST: u32 = ctl_code(COVCLIENT_DEVICE_TYPE, 0x811, METHOD_BUFFERED, RW);
    /// The event IOCTL: pends until events are queued, then completes with
    /// a batch of them; cancellable.
    pub const IOCTL_COVCLIENT_WAIT_EVENTS: u32 =
        ctl_code(COVCLIENT_DEVICE_TYPE, 0x812, METHOD_BUFFERED, FILE_READ_ACCESS);

    /// Room for an address (SAP bytes, a called address, close data) in a
    /// request: twice covmini's longest, so a client can hand covmini an
    /// over-long address and see covmini's own refusal. Longer is refused
    /// by the parser.
    pub const COVCLIENT_MAX_ADDRESS_BYTES: u32 = 64;
    /// Most NBLs one send request posts: covmini's receive NBLs per
    /// adapter (docs/call-manager.md, Data).
    pub const COVCLIENT_MAX_SEND_NBLS: u32 = 256;
    /// Largest NBL one send request posts, in bytes (64 KiB: a bound on the
    /// driver's nonpaged memory per request, 16 MiB at most with
    /// [`COVCLIENT_MAX_SEND_NBLS`]; above covmini's MTU so its refusal can
    /// be tested).
    pub const COVCLIENT_MAX_SEND_BYTES: u32 = 65536;
    /// Largest OID information buffer, in bytes.
    pub const COVCLIENT_MAX_OID_BYTES: u32 = 4096;
    /// Most events one event IOCTL returns.
    pub const COVCLIENT_MAX_EVENTS: u32 = 64;
    /// Most AFs listed per adapter.
    pub const COVCLIENT_MAX_ADAPTER_AFS: u32 = 4;

    /// Make call / add party flag: a multipoint call (`MULTIPOINT_VC`).
    pub const COVCLIENT_CALL_MULTIPOINT: u32 = 0x1;
    /// Make call / add party / modify QoS flag: pass no CallMgrParameters.
    pub const COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS: u32 = 0x2;
    /// Make call / add party flag: pass no MediaParameters.
    pub const COVCLIENT_CALL_NO_MEDIA_PARAMETERS: u32 = 0x4;
    /// Every call flag; the other bits are reserved (zero).
    pub const COVCLIENT_CALL_FLAGS_ALL: u32 = 0x7;

    /// SAP answer mode / answer action: accept the call.
    pub const COVCLIENT_ANSWER_ACCEPT: u32 = 1;
    /// SAP answer mode / answer action: reject it with the given status.
    pub const COVCLIENT_ANSWER_REJECT: u32 = 2;
    /// SAP answer mode only: return NDIS_STATUS_PENDING from
    /// ProtocolClIncomingCall, post an INCOMING_CALL event, and answer when
    /// the client sends [`IOCTL_COVCLIENT_ANSWER_CALL`].
    pub const COVCLIENT_ANSWER_PEND: u32 = 3;

    /// Expected pattern: none (received data is counted, not checked).
    pub const COVCLIENT_PATTERN_NONE: u32 = 0;
    /// Every byte is the seed's low byte.
    pub const COVCLIENT_PATTERN_CONSTANT: u32 = 1;
    /// Byte k of the j-th NBL of a send is `(seed + j + k) mod 256`
    /// ([`crate::pattern_byte`]).
    pub const COVCLIENT_PATTERN_COUNTER: u32 = 2;

    /// Counters request flag: zero the counters after reading them.
    pub const COVCLIENT_COUNTERS_RESET: u32 = 0x1;

    /// OID request kind: query.
    pub const COVCLIENT_OID_QUERY: u32 = 0;
    /// OID request kind: set.
    pub const COVCLIENT_OID_SET: u32 = 1;

    /// The top byte of every handle covclient hands out; any other top
    /// byte is a foreign value.
    pub const COVCLIENT_HANDLE_TAG: u32 = 0xC7;
    /// Handle kind: an adapter binding.
    pub const COVCLIENT_HANDLE_ADAPTER: u32 = 1;
    /// Handle kind: an open AF.
    pub const COVCLIENT_HANDLE_AF: u32 = 2;
    /// Handle kind: a registered SAP.
    pub const COVCLIENT_HANDLE_SAP: u32 = 3;
    /// Handle kind: a VC.
    pub const COVCLIENT_HANDLE_VC: u32 = 4;
    /// Handle kind: a party of a multipoint call.
    pub const COVCLIENT_HANDLE_PARTY: u32 = 5;

    /// Event: a miniport offered an AF (ProtocolCoAfRegisterNotify).
    /// `adapter`; `arg0` the AF, `arg1` major << 16 | minor.
    pub const COVCLIENT_EVENT_AF_OFFERED: u32 = 1;
    /// Event: an open AF that pended completed. `object` the AF.
    pub const COVCLIENT_EVENT_OPEN_AF_COMPLETE: u32 = 2;
    /// Event: a close AF that pended completed. `object` the AF.
    pub const COVCLIENT_EVENT_CLOSE_AF_COMPLETE: u32 = 3;
    /// Event: a SAP registration that pended completed. `object` the SAP.
    pub const COVCLIENT_EVENT_REGISTER_SAP_COMPLETE: u32 = 4;
    /// Event: a SAP deregistration that pended completed. `object` the SAP.
    pub const COVCLIENT_EVENT_DEREGISTER_SAP_COMPLETE: u32 = 5;
    /// Event: an incoming call (ProtocolClIncomingCall). `object` the new
    /// VC, `related` the SAP, `arg0` the answer mode's outcome (one of the
    /// ANSWER values; PEND: answer with IOCTL_COVCLIENT_ANSWER_CALL).
    pub const COVCLIENT_EVENT_INCOMING_CALL: u32 = 6;
    /// Event: ProtocolClCallConnected. `object` the VC.
    pub const COVCLIENT_EVENT_CALL_CONNECTED: u32 = 7;
    /// Event: a make call that pended completed. `object` the VC,
    /// `related` the party (multipoint) or 0.
    pub const COVCLIENT_EVENT_MAKE_CALL_COMPLETE: u32 = 8;
    /// Event: a close call that pended completed. `object` the VC.
    pub const COVCLIENT_EVENT_CLOSE_CALL_COMPLETE: u32 = 9;
    /// Event: ProtocolClIncomingCloseCall. `object` the VC, `ndis_status`
    /// the close status.
    pub const COVCLIENT_EVENT_INCOMING_CLOSE: u32 = 10;
    /// Event: an add party that pended completed. `object` the VC,
    /// `related` the party.
    pub const COVCLIENT_EVENT_ADD_PARTY_COMPLETE: u32 = 11;
    /// Event: a drop party that pended completed. `related` the party.
    pub const COVCLIENT_EVENT_DROP_PARTY_COMPLETE: u32 = 12;
    /// Event: ProtocolClIncomingDropParty. `related` the party.
    pub const COVCLIENT_EVENT_INCOMING_DROP_PARTY: u32 = 13;
    /// Event: ProtocolClIncomingCallQoSChange. `object` the VC.
    pub const COVCLIENT_EVENT_INCOMING_QOS_CHANGE: u32 = 14;
    /// Event: a modify QoS that pended completed. `object` the VC.
    pub const COVCLIENT_EVENT_MODIFY_QOS_COMPLETE: u32 = 15;
    /// Event: a send request's NBLs have all completed. `object` the VC,
    /// `arg0` NBLs completed with success, `arg1` NBLs that failed, `arg2`
    /// the first failing NBL's status (or 0).
    pub const COVCLIENT_EVENT_SEND_COMPLETE: u32 = 16;
    /// Event: a status indication (ProtocolCoStatusEx). `object` the VC or
    /// 0, `arg0` the indicated status code.
    pub const COVCLIENT_EVENT_STATUS: u32 = 17;
    /// Event: an adapter was bound (ProtocolBindAdapterEx). `adapter`.
    pub const COVCLIENT_EVENT_ADAPTER_BOUND: u32 = 18;
    /// Event: an adapter is being unbound (ProtocolUnbindAdapterEx); every
    /// handle under it is gone once this is read. `adapter`.
    pub const COVCLIENT_EVENT_ADAPTER_UNBIND: u32 = 19;
    /// Event: a PnP event (ProtocolNetPnPEvent). `adapter`, `arg0` the
    /// NET_PNP_EVENT_CODE.
    pub const COVCLIENT_EVENT_PNP: u32 = 20;
    /// The highest event kind of version 1.
    pub const COVCLIENT_EVENT_MAX: u32 = 20;
}

/// Read and write access: every code that changes state.
const RW: u32 = FILE_READ_ACCESS | FILE_WRITE_ACCESS;

/// Every control code of version 1, lowest function first.
pub const CODES: &[u32] = &[
    IOCTL_COVCLIENT_GET_VERSION,
    IOCTL_COVCLIENT_LIST_ADAPTERS,
    IOCTL_COVCLIENT_OPEN_AF,
    IOCTL_COVCLIENT_CLOSE_AF,
    IOCTL_COVCLIENT_REGISTER_SAP,
    IOCTL_COVCLIENT_DEREGISTER_SAP,
    IOCTL_COVCLIENT_CREATE_VC,
    IOCTL_COVCLIENT_DELETE_VC,
    IOCTL_COVCLIENT_MAKE_CALL,
    IOCTL_COVCLIENT_ANSWER_CALL,
    IOCTL_COVCLIENT_ADD_PARTY,
    IOCTL_COVCLIENT_DROP_PARTY,
    IOCTL_COVCLIENT_MODIFY_QOS,
    IOCTL_COVCLIENT_CLOSE_CALL,
    IOCTL_COVCLIENT_SEND,
    IOCTL_COVCLIENT_GET_COUNTERS,
    IOCTL_COVCLIENT_EXPECT_PATTERN,
    IOCTL_COVCLIENT_OID_REQUEST,
    IOCTL_COVCLIENT_WAIT_EVENTS,
];

// Every code is METHOD_BUFFERED on covclient's device type, functions are
// consecutive from the base, and no field overflowed into another.
const _: () = {
    let mut i = 0;
    let mut rest = CODES;
    while let [c, tail @ ..] = rest {
        let c = *c;
        rest = tail;
        assert!(device_type_of(c) == COVCLIENT_DEVICE_TYPE);
        assert!(c & 0x3 == METHOD_BUFFERED);
        assert!((c >> 2) & 0xFFF == COVCLIENT_FUNCTION_BASE + i as u32);
        i += 1;
    }
};

/// Byte `k` of the `j`-th NBL of a send with `pattern` and `seed` (what the
/// sender writes and the receiver's check expects). `None` for
/// [`COVCLIENT_PATTERN_NONE`] and unknown patterns.
#[must_use]
pub const fn pattern_byte(pattern: u32, seed: u32, nbl: u32, k: u32) -> Option<u8> {
    match pattern {
        COVCLIENT_PATTERN_CONSTANT => Some(seed.to_le_bytes()[0]),
        COVCLIENT_PATTERN_COUNTER => Some(seed.wrapping_add(nbl).wrapping_add(k).to_le_bytes()[0]),
        _ => None,
    }
}
