//! The request and response structs of covclient's IOCTL interface,
//! version 1, as C lays them out (`include/covmini.h` has the same ones,
//! checked by `tests/c_header.rs`).
//!
//! Owns: the layouts. Every struct is `repr(C)`, every gap is a named
//! `reserved` field that must be zero, and `layout::abi_structs!` proves at
//! compile time that there is no implicit padding and each struct has the
//! size written here. Must not: validate (that is [`crate::request`]).
//!
//! Handles are `u64` on the wire ([`crate::Handle`] once checked).

abi_structs! {
    /// The header every request but GET_VERSION starts with.
    pub struct RequestHeader ("COVCLIENT_REQUEST_HEADER", 8) {
        /// [`crate::COVCLIENT_ABI_VERSION`].
        pub version: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// GET_VERSION's output.
    pub struct VersionInfo ("COVCLIENT_VERSION_INFO", 32) {
        /// The interface version the driver serves.
        pub abi_version: u32,
        /// The oldest interface version it serves (1).
        pub abi_version_min: u32,
        /// covclient's own major version.
        pub driver_major: u16,
        /// covclient's own minor version.
        pub driver_minor: u16,
        /// The AF covclient opens ([`crate::COVMINI_AF`]).
        pub address_family: u32,
        /// Its major version.
        pub af_major_version: u32,
        /// Its minor version.
        pub af_minor_version: u32,
        /// [`crate::COVCLIENT_MAX_EVENTS`].
        pub max_events: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// LIST_ADAPTERS' input.
    pub struct ListAdaptersRequest ("COVCLIENT_LIST_ADAPTERS_REQUEST", 16) {
        /// The header.
        pub header: RequestHeader,
        /// The index of the first adapter to return (paging).
        pub first: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// An AF a miniport offered on an adapter.
    pub struct AfInfo ("COVCLIENT_AF_INFO", 16) {
        /// `CO_ADDRESS_FAMILY.AddressFamily`.
        pub address_family: u32,
        /// `.MajorVersion`.
        pub major_version: u32,
        /// `.MinorVersion`.
        pub minor_version: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// One bound adapter.
    pub struct AdapterInfo ("COVCLIENT_ADAPTER_INFO", 88) {
        /// The adapter's handle.
        pub adapter: u64,
        /// The miniport's NET_LUID (`NDIS_BIND_PARAMETERS.NetLuid`).
        pub net_luid: u64,
        /// Its interface index (`.IfIndex`).
        pub if_index: u32,
        /// How many of `afs` are filled.
        pub af_count: u32,
        /// The AFs offered, the first `af_count`; the rest zero.
        pub afs: [AfInfo; 4],
    }

    /// LIST_ADAPTERS' output, followed by `returned` [`AdapterInfo`]s.
    pub struct AdapterList ("COVCLIENT_ADAPTER_LIST", 16) {
        /// Adapters bound in all.
        pub total: u32,
        /// Entries that follow (as many as the output buffer held).
        pub returned: u32,
        /// The request's `first`.
        pub first: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// The input of a request that names one handle: CLOSE_AF,
    /// DEREGISTER_SAP, CREATE_VC (the AF), DELETE_VC.
    pub struct HandleRequest ("COVCLIENT_HANDLE_REQUEST", 16) {
        /// The header.
        pub header: RequestHeader,
        /// The handle.
        pub handle: u64,
    }

    /// The output of every request that starts an NDIS operation.
    pub struct OpResult ("COVCLIENT_RESULT", 16) {
        /// The NDIS status NDIS returned; NDIS_STATUS_PENDING means the
        /// outcome arrives as an event.
        pub ndis_status: u32,
        /// Zero.
        pub reserved: u32,
        /// The new handle (AF, SAP, VC, party), or 0.
        pub handle: u64,
    }

    /// OPEN_AF's input.
    pub struct OpenAfRequest ("COVCLIENT_OPEN_AF_REQUEST", 32) {
        /// The header.
        pub header: RequestHeader,
        /// The adapter.
        pub adapter: u64,
        /// `CO_ADDRESS_FAMILY.AddressFamily`.
        pub address_family: u32,
        /// `.MajorVersion`.
        pub major_version: u32,
        /// `.MinorVersion`.
        pub minor_version: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// REGISTER_SAP's input.
    pub struct RegisterSapRequest ("COVCLIENT_REGISTER_SAP_REQUEST", 96) {
        /// The header.
        pub header: RequestHeader,
        /// The AF.
        pub af: u64,
        /// `CO_SAP.SapType` (any value: covmini's refusal is testable).
        pub sap_type: u32,
        /// `CO_SAP.SapLength`, at most [`crate::COVCLIENT_MAX_ADDRESS_BYTES`].
        pub sap_length: u32,
        /// How incoming calls on the SAP are answered: ACCEPT, REJECT or PEND.
        pub answer_mode: u32,
        /// REJECT's NDIS status (an error status); zero otherwise.
        pub reject_status: u32,
        /// The SAP bytes, the first `sap_length`; the rest zero.
        pub sap: [u8; 64],
    }

    /// A FLOWSPEC (qos.h), field for field.
    pub struct Flowspec ("COVCLIENT_FLOWSPEC", 32) {
        /// `TokenRate`, bytes per second.
        pub token_rate: u32,
        /// `TokenBucketSize`.
        pub token_bucket_size: u32,
        /// `PeakBandwidth`.
        pub peak_bandwidth: u32,
        /// `Latency`.
        pub latency: u32,
        /// `DelayVariation`.
        pub delay_variation: u32,
        /// `ServiceType`.
        pub service_type: u32,
        /// `MaxSduSize`.
        pub max_sdu_size: u32,
        /// `MinimumPolicedSize`.
        pub minimum_policed_size: u32,
    }

    /// A call's (or party's) parameters, as the driver builds its
    /// CO_CALL_PARAMETERS from them.
    pub struct CallParameters ("COVCLIENT_CALL_PARAMETERS", 144) {
        /// CALL flags ([`crate::COVCLIENT_CALL_FLAGS_ALL`]).
        pub flags: u32,
        /// `MediaSpecific.ParamType` (any value).
        pub param_type: u32,
        /// `MediaSpecific.Length`, at most [`crate::COVCLIENT_MAX_ADDRESS_BYTES`].
        pub address_length: u32,
        /// Zero.
        pub reserved: u32,
        /// The called address, the first `address_length` bytes; the rest zero.
        pub address: [u8; 64],
        /// The transmit FLOWSPEC.
        pub transmit: Flowspec,
        /// The receive FLOWSPEC.
        pub receive: Flowspec,
    }

    /// MAKE_CALL's and ADD_PARTY's input.
    pub struct CallRequest ("COVCLIENT_CALL_REQUEST", 160) {
        /// The header.
        pub header: RequestHeader,
        /// The VC (make call) or the multipoint call's VC (add party).
        pub vc: u64,
        /// The parameters.
        pub params: CallParameters,
    }

    /// ANSWER_CALL's input.
    pub struct AnswerRequest ("COVCLIENT_ANSWER_REQUEST", 24) {
        /// The header.
        pub header: RequestHeader,
        /// The incoming call's VC (from the INCOMING_CALL event).
        pub vc: u64,
        /// ACCEPT or REJECT.
        pub action: u32,
        /// REJECT's NDIS status (an error status); zero for ACCEPT.
        pub ndis_status: u32,
    }

    /// MODIFY_QOS's input.
    pub struct QosRequest ("COVCLIENT_QOS_REQUEST", 88) {
        /// The header.
        pub header: RequestHeader,
        /// The VC.
        pub vc: u64,
        /// 0 or CALL_NO_CALL_MGR_PARAMETERS.
        pub flags: u32,
        /// Zero.
        pub reserved: u32,
        /// The transmit FLOWSPEC.
        pub transmit: Flowspec,
        /// The receive FLOWSPEC.
        pub receive: Flowspec,
    }

    /// CLOSE_CALL's and DROP_PARTY's input.
    pub struct CloseRequest ("COVCLIENT_CLOSE_REQUEST", 96) {
        /// The header.
        pub header: RequestHeader,
        /// The VC (close call) or the party (drop party).
        pub handle: u64,
        /// Close call: the last party of a multipoint call, or 0. Drop
        /// party: 0.
        pub party: u64,
        /// Close data bytes to pass, at most [`crate::COVCLIENT_MAX_ADDRESS_BYTES`].
        pub data_length: u32,
        /// Zero.
        pub reserved: u32,
        /// The close data, the first `data_length` bytes; the rest zero.
        pub data: [u8; 64],
    }

    /// SEND's input.
    pub struct SendRequest ("COVCLIENT_SEND_REQUEST", 32) {
        /// The header.
        pub header: RequestHeader,
        /// The VC.
        pub vc: u64,
        /// NBLs to send, 1..=[`crate::COVCLIENT_MAX_SEND_NBLS`].
        pub nbl_count: u32,
        /// Bytes per NBL, 1..=[`crate::COVCLIENT_MAX_SEND_BYTES`].
        pub nbl_size: u32,
        /// PATTERN_CONSTANT or PATTERN_COUNTER.
        pub pattern: u32,
        /// The pattern's seed.
        pub seed: u32,
    }

    /// EXPECT_PATTERN's input.
    pub struct ExpectRequest ("COVCLIENT_EXPECT_REQUEST", 24) {
        /// The header.
        pub header: RequestHeader,
        /// The VC.
        pub vc: u64,
        /// PATTERN_NONE, PATTERN_CONSTANT or PATTERN_COUNTER.
        pub pattern: u32,
        /// The pattern's seed (zero with PATTERN_NONE).
        pub seed: u32,
    }

    /// GET_COUNTERS' input.
    pub struct CountersRequest ("COVCLIENT_COUNTERS_REQUEST", 24) {
        /// The header.
        pub header: RequestHeader,
        /// The VC.
        pub vc: u64,
        /// 0 or COUNTERS_RESET.
        pub flags: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// GET_COUNTERS' output.
    pub struct Counters ("COVCLIENT_COUNTERS", 80) {
        /// NBLs posted.
        pub sends: u64,
        /// Bytes posted.
        pub send_bytes: u64,
        /// NBLs completed with success.
        pub sends_completed: u64,
        /// NBLs completed with a failure.
        pub sends_failed: u64,
        /// The last failed NBL's status, or 0.
        pub last_send_status: u32,
        /// Zero.
        pub reserved: u32,
        /// NET_BUFFERs received.
        pub receives: u64,
        /// Bytes received.
        pub receive_bytes: u64,
        /// Received NET_BUFFERs that matched the expected pattern.
        pub receives_matched: u64,
        /// Received NET_BUFFERs that did not.
        pub receives_mismatched: u64,
        /// The offset of the first wrong byte in the first mismatching
        /// NET_BUFFER, or u64::MAX.
        pub first_mismatch: u64,
    }

    /// OID_REQUEST's input, followed (a set) by `data_length` bytes.
    pub struct OidRequest ("COVCLIENT_OID_REQUEST", 32) {
        /// The header.
        pub header: RequestHeader,
        /// The adapter, AF or VC the OID is for.
        pub handle: u64,
        /// The OID.
        pub oid: u32,
        /// OID_QUERY or OID_SET.
        pub kind: u32,
        /// A set: the bytes that follow. A query: the information buffer's
        /// length. At most [`crate::COVCLIENT_MAX_OID_BYTES`].
        pub data_length: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// OID_REQUEST's output, followed (a query) by `bytes_written` bytes.
    pub struct OidResult ("COVCLIENT_OID_RESULT", 16) {
        /// The request's NDIS status.
        pub ndis_status: u32,
        /// BytesWritten (query) or BytesRead (set).
        pub bytes_written: u32,
        /// BytesNeeded.
        pub bytes_needed: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// WAIT_EVENTS' input.
    pub struct EventsRequest ("COVCLIENT_EVENTS_REQUEST", 16) {
        /// The header.
        pub header: RequestHeader,
        /// Most events to return, 1..=[`crate::COVCLIENT_MAX_EVENTS`].
        pub max_events: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// WAIT_EVENTS' output, followed by `count` [`Event`]s.
    pub struct EventBatch ("COVCLIENT_EVENT_BATCH", 16) {
        /// Events that follow.
        pub count: u32,
        /// Events dropped (the queue was full) since the last batch.
        pub lost: u32,
        /// The first event's sequence number.
        pub first_sequence: u64,
    }

    /// One event.
    pub struct Event ("COVCLIENT_EVENT", 64) {
        /// An EVENT kind.
        pub kind: u32,
        /// The NDIS status the event carries (a completion's), or 0.
        pub ndis_status: u32,
        /// The event's sequence number (consecutive; a gap is `lost`).
        pub sequence: u64,
        /// The adapter, or 0.
        pub adapter: u64,
        /// The object the event is about (AF, SAP, VC), or 0.
        pub object: u64,
        /// A second handle (the SAP of an incoming call, a party), or 0.
        pub related: u64,
        /// Kind-specific.
        pub arg0: u64,
        /// Kind-specific.
        pub arg1: u64,
        /// Kind-specific.
        pub arg2: u64,
    }
}
