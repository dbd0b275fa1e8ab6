//! The checked parser of covclient's requests (smoltcp's discipline: the
//! bytes are checked here, before any logic sees a value), and the
//! refusals with their NTSTATUS.
//!
//! Owns: [`Request::parse`] (length, code, version, reserved fields,
//! enumerations, counts, handle tags and kinds) and [`AbiError`]. Must not:
//! act on a request, or look a handle up (the driver checks a handle's
//! generation against its table).

use crate::handle::{Handle, HandleError, HandleKind};
use crate::ioctl::*;
use crate::layout::Wire;
use crate::wire::*;

/// NTSTATUS values and their meanings as ntstatus.h's MessageText (and
/// [MS-ERREF] 2.3.1 "NTSTATUS Values") gives them.
pub mod ntstatus {
    /// "The specified request is not a valid operation for the target
    /// device."
    pub const STATUS_INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
    /// "The buffer is too small to contain the entry. No information has
    /// been written to the buffer."
    pub const STATUS_BUFFER_TOO_SMALL: u32 = 0xC000_0023;
    /// "The size of the buffer is invalid for the specified operation."
    pub const STATUS_INVALID_BUFFER_SIZE: u32 = 0xC000_0206;
    /// "An invalid parameter was passed to a service or function."
    pub const STATUS_INVALID_PARAMETER: u32 = 0xC000_000D;
    /// "An invalid HANDLE was specified."
    pub const STATUS_INVALID_HANDLE: u32 = 0xC000_0008;
    /// "Indicates two revision levels are incompatible."
    pub const STATUS_REVISION_MISMATCH: u32 = 0xC000_0059;
}

use ntstatus::*;

/// Why a request is refused before the driver acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiError {
    /// Not one of [`CODES`].
    UnknownCode(u32),
    /// The input is shorter than the request's struct (or than the OID
    /// data its header states).
    InputTooShort {
        /// Bytes the request needs.
        need: usize,
        /// Bytes it had.
        got: usize,
    },
    /// The input is longer than the request (trailing bytes).
    InputTooLong {
        /// Bytes the request takes.
        max: usize,
        /// Bytes it had.
        got: usize,
    },
    /// The output buffer cannot hold the response.
    OutputTooSmall {
        /// Bytes the response needs.
        need: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The header's version is not [`COVCLIENT_ABI_VERSION`].
    BadVersion(u32),
    /// A reserved field (or bytes past a stated length) is not zero.
    ReservedNotZero(&'static str),
    /// A field's value is out of its documented range (an unknown
    /// enumeration value, a count above its bound, unknown flags).
    BadValue {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A handle field is zero, foreign or of the wrong kind.
    BadHandle {
        /// The field.
        field: &'static str,
        /// Why.
        why: HandleError,
    },
}

impl AbiError {
    /// The NTSTATUS the IRP completes with (docs/covclient-ioctl.md,
    /// "Statuses", gives the reason for each):
    /// * an unknown code: STATUS_INVALID_DEVICE_REQUEST, "the specified
    ///   request is not a valid operation for the target device";
    /// * a short input, or an output buffer too small: STATUS_BUFFER_TOO_SMALL,
    ///   "the buffer is too small to contain the entry", and what the NT DDK's
    ///   "DispatchDeviceControl in Lowest-Level Drivers" (Kernel-Mode Guide
    ///   6.3.4.1) returns when `InputBufferLength < sizeof` the request's
    ///   structure;
    /// * trailing input bytes: STATUS_INVALID_BUFFER_SIZE, "the size of the
    ///   buffer is invalid for the specified operation" (the buffer is not
    ///   short, it is the wrong size);
    /// * another version: STATUS_REVISION_MISMATCH, "two revision levels
    ///   are incompatible";
    /// * a reserved field, an out-of-range value or count:
    ///   STATUS_INVALID_PARAMETER;
    /// * a zero, foreign or wrong-kind handle: STATUS_INVALID_HANDLE (the
    ///   driver answers a stale generation the same way).
    #[must_use]
    pub const fn ntstatus(self) -> u32 {
        match self {
            Self::UnknownCode(_) => STATUS_INVALID_DEVICE_REQUEST,
            Self::InputTooShort { .. } | Self::OutputTooSmall { .. } => STATUS_BUFFER_TOO_SMALL,
            Self::InputTooLong { .. } => STATUS_INVALID_BUFFER_SIZE,
            Self::BadVersion(_) => STATUS_REVISION_MISMATCH,
            Self::ReservedNotZero(_) | Self::BadValue { .. } => STATUS_INVALID_PARAMETER,
            Self::BadHandle { .. } => STATUS_INVALID_HANDLE,
        }
    }
}

/// A request that passed every check [`Request::parse`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// IOCTL_COVCLIENT_GET_VERSION (no input).
    GetVersion,
    /// IOCTL_COVCLIENT_LIST_ADAPTERS.
    ListAdapters {
        /// The first adapter's index.
        first: u32,
    },
    /// IOCTL_COVCLIENT_OPEN_AF.
    OpenAf {
        /// The adapter.
        adapter: Handle,
        /// The AF, as the client asked (the driver opens only offered AFs).
        af: AfInfo,
    },
    /// IOCTL_COVCLIENT_CLOSE_AF.
    CloseAf(Handle),
    /// IOCTL_COVCLIENT_REGISTER_SAP.
    RegisterSap {
        /// The AF.
        af: Handle,
        /// The request (lengths and modes checked).
        req: RegisterSapRequest,
    },
    /// IOCTL_COVCLIENT_DEREGISTER_SAP.
    DeregisterSap(Handle),
    /// IOCTL_COVCLIENT_CREATE_VC, on an AF.
    CreateVc(Handle),
    /// IOCTL_COVCLIENT_DELETE_VC.
    DeleteVc(Handle),
    /// IOCTL_COVCLIENT_MAKE_CALL.
    MakeCall {
        /// The VC.
        vc: Handle,
        /// The parameters (flags and lengths checked).
        params: CallParameters,
    },
    /// IOCTL_COVCLIENT_ANSWER_CALL.
    AnswerCall {
        /// The incoming call's VC.
        vc: Handle,
        /// `Ok(())` to accept, `Err(status)` to reject with an error status.
        answer: Result<(), u32>,
    },
    /// IOCTL_COVCLIENT_ADD_PARTY.
    AddParty {
        /// The multipoint call's VC.
        vc: Handle,
        /// The party's parameters.
        params: CallParameters,
    },
    /// IOCTL_COVCLIENT_DROP_PARTY.
    DropParty {
        /// The party.
        party: Handle,
        /// Close data length (the bytes are in `data`).
        data: CloseData,
    },
    /// IOCTL_COVCLIENT_MODIFY_QOS.
    ModifyQos {
        /// The VC.
        vc: Handle,
        /// Pass CallMgrParameters (false: CALL_NO_CALL_MGR_PARAMETERS).
        with_call_mgr_parameters: bool,
        /// Transmit FLOWSPEC.
        transmit: Flowspec,
        /// Receive FLOWSPEC.
        receive: Flowspec,
    },
    /// IOCTL_COVCLIENT_CLOSE_CALL.
    CloseCall {
        /// The VC.
        vc: Handle,
        /// The last party of a multipoint call.
        party: Option<Handle>,
        /// Close data.
        data: CloseData,
    },
    /// IOCTL_COVCLIENT_SEND.
    Send {
        /// The VC.
        vc: Handle,
        /// NBLs, 1..=COVCLIENT_MAX_SEND_NBLS.
        nbl_count: u32,
        /// Bytes per NBL, 1..=COVCLIENT_MAX_SEND_BYTES.
        nbl_size: u32,
        /// PATTERN_CONSTANT or PATTERN_COUNTER.
        pattern: u32,
        /// The seed.
        seed: u32,
    },
    /// IOCTL_COVCLIENT_GET_COUNTERS.
    GetCounters {
        /// The VC.
        vc: Handle,
        /// Zero the counters after reading them.
        reset: bool,
    },
    /// IOCTL_COVCLIENT_EXPECT_PATTERN.
    ExpectPattern {
        /// The VC.
        vc: Handle,
        /// PATTERN_NONE, PATTERN_CONSTANT or PATTERN_COUNTER.
        pattern: u32,
        /// The seed.
        seed: u32,
    },
    /// IOCTL_COVCLIENT_OID_REQUEST, a query.
    OidQuery {
        /// The adapter, AF or VC.
        handle: Handle,
        /// The OID.
        oid: u32,
        /// The information buffer's length.
        length: u32,
    },
    /// IOCTL_COVCLIENT_OID_REQUEST, a set.
    OidSet {
        /// The adapter, AF or VC.
        handle: Handle,
        /// The OID.
        oid: u32,
        /// The information buffer (exactly the stated length), borrowed
        /// from the input: with METHOD_BUFFERED the output overwrites the
        /// same system buffer, so the driver copies it before writing any.
        data: &'a [u8],
    },
    /// IOCTL_COVCLIENT_WAIT_EVENTS.
    WaitEvents {
        /// Most events to return, 1..=COVCLIENT_MAX_EVENTS.
        max_events: u32,
    },
}

/// Close data of a close call or drop party. INVARIANT: `len` is at most
/// [`COVCLIENT_MAX_ADDRESS_BYTES`] and the bytes past it are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseData {
    len: u32,
    bytes: [u8; 64],
}

impl CloseData {
    /// No close data (what a driver passes when it closes on its own, such
    /// as at cleanup).
    // INVARIANT: length 0, every byte zero.
    pub const EMPTY: Self = Self { len: 0, bytes: [0; 64] };

    /// The close data bytes (empty: no close data).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len as usize).unwrap_or(&[])
    }
}

const ADAPTER: &[HandleKind] = &[HandleKind::Adapter];
const AF: &[HandleKind] = &[HandleKind::Af];
const SAP: &[HandleKind] = &[HandleKind::Sap];
const VC: &[HandleKind] = &[HandleKind::Vc];
const PARTY: &[HandleKind] = &[HandleKind::Party];
const OID_TARGETS: &[HandleKind] = &[HandleKind::Adapter, HandleKind::Af, HandleKind::Vc];

/// The fixed struct `T` that is the whole input: exactly `T::SIZE` bytes,
/// the header's version and reserved field checked.
fn whole<T: Wire>(input: &[u8]) -> Result<T, AbiError> {
    let head = fixed::<T>(input)?;
    if input.len() > T::SIZE {
        return Err(AbiError::InputTooLong {
            max: T::SIZE,
            got: input.len(),
        });
    }
    Ok(head)
}

/// The fixed struct `T` at the start of `input` (more may follow); its
/// header checked.
fn fixed<T: Wire>(input: &[u8]) -> Result<T, AbiError> {
    let value = T::read(input).ok_or(AbiError::InputTooShort {
        need: T::SIZE,
        got: input.len(),
    })?;
    let header = RequestHeader::read(input).ok_or(AbiError::InputTooShort {
        need: RequestHeader::SIZE,
        got: input.len(),
    })?;
    if header.version != COVCLIENT_ABI_VERSION {
        return Err(AbiError::BadVersion(header.version));
    }
    zero("header.reserved", header.reserved)?;
    Ok(value)
}

fn zero(field: &'static str, v: u32) -> Result<(), AbiError> {
    if v == 0 {
        Ok(())
    } else {
        Err(AbiError::ReservedNotZero(field))
    }
}

fn handle(field: &'static str, raw: u64, kinds: &[HandleKind]) -> Result<Handle, AbiError> {
    Handle::parse(raw, kinds).map_err(|why| AbiError::BadHandle { field, why })
}

fn range(field: &'static str, v: u32, lo: u32, hi: u32) -> Result<u32, AbiError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(AbiError::BadValue {
            field,
            value: u64::from(v),
        })
    }
}

/// `len` bytes of `bytes` in use, at most the wire room; the rest zero.
fn tail(len_field: &'static str, tail_field: &'static str, len: u32, bytes: &[u8]) -> Result<(), AbiError> {
    range(len_field, len, 0, COVCLIENT_MAX_ADDRESS_BYTES)?;
    let rest = bytes.get(len as usize..).unwrap_or(&[]);
    if rest.iter().all(|b| *b == 0) {
        Ok(())
    } else {
        Err(AbiError::ReservedNotZero(tail_field))
    }
}

/// An NDIS error status (severity bits 11: the high two bits set), what a
/// rejection must carry.
fn error_status(field: &'static str, v: u32) -> Result<u32, AbiError> {
    if v >> 30 == 0b11 {
        Ok(v)
    } else {
        Err(AbiError::BadValue {
            field,
            value: u64::from(v),
        })
    }
}

fn call_params(p: &CallParameters) -> Result<(), AbiError> {
    if p.flags & !COVCLIENT_CALL_FLAGS_ALL != 0 {
        return Err(AbiError::BadValue {
            field: "params.flags",
            value: u64::from(p.flags),
        });
    }
    zero("params.reserved", p.reserved)?;
    tail("params.address_length", "params.address", p.address_length, &p.address)
}

fn close_data(req: &CloseRequest) -> Result<CloseData, AbiError> {
    zero("reserved", req.reserved)?;
    tail("data_length", "data", req.data_length, &req.data)?;
    // INVARIANT: the length is in range and the rest is zero (just checked).
    Ok(CloseData {
        len: req.data_length,
        bytes: req.data,
    })
}

impl<'a> Request<'a> {
    /// Parses the input of control code `code`. Refuses (see
    /// [`AbiError::ntstatus`]): an unknown code; an input shorter or longer
    /// than the request; another interface version; a nonzero reserved
    /// field or byte past a stated length; an unknown enumeration value or
    /// flag; a count above its bound (SEND's NBLs and bytes, OID data,
    /// events, address lengths); a zero, foreign or wrong-kind handle.
    pub fn parse(code: u32, input: &'a [u8]) -> Result<Self, AbiError> {
        match code {
            IOCTL_COVCLIENT_GET_VERSION => {
                if input.is_empty() {
                    Ok(Self::GetVersion)
                } else {
                    Err(AbiError::InputTooLong {
                        max: 0,
                        got: input.len(),
                    })
                }
            }
            IOCTL_COVCLIENT_LIST_ADAPTERS => {
                let r: ListAdaptersRequest = whole(input)?;
                zero("reserved", r.reserved)?;
                Ok(Self::ListAdapters { first: r.first })
            }
            IOCTL_COVCLIENT_OPEN_AF => {
                let r: OpenAfRequest = whole(input)?;
                zero("reserved", r.reserved)?;
                Ok(Self::OpenAf {
                    adapter: handle("adapter", r.adapter, ADAPTER)?,
                    af: AfInfo {
                        address_family: r.address_family,
                        major_version: r.major_version,
                        minor_version: r.minor_version,
                        reserved: 0,
                    },
                })
            }
            IOCTL_COVCLIENT_CLOSE_AF => Ok(Self::CloseAf(one_handle(input, AF)?)),
            IOCTL_COVCLIENT_REGISTER_SAP => {
                let r: RegisterSapRequest = whole(input)?;
                let af = handle("af", r.af, AF)?;
                tail("sap_length", "sap", r.sap_length, &r.sap)?;
                match r.answer_mode {
                    COVCLIENT_ANSWER_REJECT => {
                        error_status("reject_status", r.reject_status)?;
                    }
                    COVCLIENT_ANSWER_ACCEPT | COVCLIENT_ANSWER_PEND => {
                        zero("reject_status", r.reject_status)?;
                    }
                    m => {
                        return Err(AbiError::BadValue {
                            field: "answer_mode",
                            value: u64::from(m),
                        });
                    }
                }
                Ok(Self::RegisterSap { af, req: r })
            }
            IOCTL_COVCLIENT_DEREGISTER_SAP => Ok(Self::DeregisterSap(one_handle(input, SAP)?)),
            IOCTL_COVCLIENT_CREATE_VC => Ok(Self::CreateVc(one_handle(input, AF)?)),
            IOCTL_COVCLIENT_DELETE_VC => Ok(Self::DeleteVc(one_handle(input, VC)?)),
            IOCTL_COVCLIENT_MAKE_CALL | IOCTL_COVCLIENT_ADD_PARTY => {
                let r: CallRequest = whole(input)?;
                let vc = handle("vc", r.vc, VC)?;
                call_params(&r.params)?;
                Ok(if code == IOCTL_COVCLIENT_MAKE_CALL {
                    Self::MakeCall { vc, params: r.params }
                } else {
                    Self::AddParty { vc, params: r.params }
                })
            }
            IOCTL_COVCLIENT_ANSWER_CALL => {
                let r: AnswerRequest = whole(input)?;
                let vc = handle("vc", r.vc, VC)?;
                let answer = match r.action {
                    COVCLIENT_ANSWER_ACCEPT => zero("ndis_status", r.ndis_status).map(Ok)?,
                    COVCLIENT_ANSWER_REJECT => Err(error_status("ndis_status", r.ndis_status)?),
                    a => {
                        return Err(AbiError::BadValue {
                            field: "action",
                            value: u64::from(a),
                        });
                    }
                };
                Ok(Self::AnswerCall { vc, answer })
            }
            IOCTL_COVCLIENT_DROP_PARTY => {
                let r: CloseRequest = whole(input)?;
                let party = handle("handle", r.handle, PARTY)?;
                if r.party != 0 {
                    return Err(AbiError::ReservedNotZero("party"));
                }
                Ok(Self::DropParty {
                    party,
                    data: close_data(&r)?,
                })
            }
            IOCTL_COVCLIENT_CLOSE_CALL => {
                let r: CloseRequest = whole(input)?;
                let vc = handle("handle", r.handle, VC)?;
                let party = match r.party {
                    0 => None,
                    raw => Some(handle("party", raw, PARTY)?),
                };
                Ok(Self::CloseCall {
                    vc,
                    party,
                    data: close_data(&r)?,
                })
            }
            IOCTL_COVCLIENT_MODIFY_QOS => {
                let r: QosRequest = whole(input)?;
                let vc = handle("vc", r.vc, VC)?;
                if r.flags & !COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS != 0 {
                    return Err(AbiError::BadValue {
                        field: "flags",
                        value: u64::from(r.flags),
                    });
                }
                zero("reserved", r.reserved)?;
                Ok(Self::ModifyQos {
                    vc,
                    with_call_mgr_parameters: r.flags == 0,
                    transmit: r.transmit,
                    receive: r.receive,
                })
            }
            IOCTL_COVCLIENT_SEND => {
                let r: SendRequest = whole(input)?;
                let vc = handle("vc", r.vc, VC)?;
                let nbl_count = range("nbl_count", r.nbl_count, 1, COVCLIENT_MAX_SEND_NBLS)?;
                let nbl_size = range("nbl_size", r.nbl_size, 1, COVCLIENT_MAX_SEND_BYTES)?;
                let pattern = range(
                    "pattern",
                    r.pattern,
                    COVCLIENT_PATTERN_CONSTANT,
                    COVCLIENT_PATTERN_COUNTER,
                )?;
                Ok(Self::Send {
                    vc,
                    nbl_count,
                    nbl_size,
                    pattern,
                    seed: r.seed,
                })
            }
            IOCTL_COVCLIENT_GET_COUNTERS => {
                let r: CountersRequest = whole(input)?;
                let vc = handle("vc", r.vc, VC)?;
                if r.flags & !COVCLIENT_COUNTERS_RESET != 0 {
                    return Err(AbiError::BadValue {
                        field: "flags",
                        value: u64::from(r.flags),
                    });
                }
                zero("reserved", r.reserved)?;
                Ok(Self::GetCounters {
                    vc,
                    reset: r.flags != 0,
                })
            }
            IOCTL_COVCLIENT_EXPECT_PATTERN => {
                let r: ExpectRequest = whole(input)?;
                let vc = handle("vc", r.vc, VC)?;
                let pattern = range("pattern", r.pattern, COVCLIENT_PATTERN_NONE, COVCLIENT_PATTERN_COUNTER)?;
                if pattern == COVCLIENT_PATTERN_NONE {
                    zero("seed", r.seed)?;
                }
                Ok(Self::ExpectPattern {
                    vc,
                    pattern,
                    seed: r.seed,
                })
            }
            IOCTL_COVCLIENT_OID_REQUEST => {
                let r: OidRequest = fixed(input)?;
                let handle = handle("handle", r.handle, OID_TARGETS)?;
                zero("reserved", r.reserved)?;
                let length = range("data_length", r.data_length, 0, COVCLIENT_MAX_OID_BYTES)?;
                let data = input.get(OidRequest::SIZE..).unwrap_or(&[]);
                match r.kind {
                    COVCLIENT_OID_QUERY => {
                        if data.is_empty() {
                            Ok(Self::OidQuery {
                                handle,
                                oid: r.oid,
                                length,
                            })
                        } else {
                            Err(AbiError::InputTooLong {
                                max: OidRequest::SIZE,
                                got: input.len(),
                            })
                        }
                    }
                    COVCLIENT_OID_SET => {
                        // data_length <= 4096 (checked), so the sum cannot overflow.
                        let need = OidRequest::SIZE + length as usize;
                        match data.len().cmp(&(length as usize)) {
                            core::cmp::Ordering::Less => Err(AbiError::InputTooShort { need, got: input.len() }),
                            core::cmp::Ordering::Greater => Err(AbiError::InputTooLong {
                                max: need,
                                got: input.len(),
                            }),
                            core::cmp::Ordering::Equal => Ok(Self::OidSet {
                                handle,
                                oid: r.oid,
                                data,
                            }),
                        }
                    }
                    k => Err(AbiError::BadValue {
                        field: "kind",
                        value: u64::from(k),
                    }),
                }
            }
            IOCTL_COVCLIENT_WAIT_EVENTS => {
                let r: EventsRequest = whole(input)?;
                zero("reserved", r.reserved)?;
                let max_events = range("max_events", r.max_events, 1, COVCLIENT_MAX_EVENTS)?;
                Ok(Self::WaitEvents { max_events })
            }
            _ => Err(AbiError::UnknownCode(code)),
        }
    }

    /// The smallest output buffer the response needs: the driver checks it
    /// with [`Self::check_output`] *before* acting, so an operation is never
    /// done and then unreportable.
    #[must_use]
    pub fn min_output(&self) -> usize {
        match self {
            Self::GetVersion => VersionInfo::SIZE,
            // The header alone: a caller can ask how many there are.
            Self::ListAdapters { .. } => AdapterList::SIZE,
            Self::GetCounters { .. } => Counters::SIZE,
            // Bounded by COVCLIENT_MAX_OID_BYTES: no overflow.
            Self::OidQuery { length, .. } => OidResult::SIZE + *length as usize,
            Self::OidSet { .. } => OidResult::SIZE,
            // Room for at least one event.
            Self::WaitEvents { .. } => EventBatch::SIZE + Event::SIZE,
            _ => OpResult::SIZE,
        }
    }

    /// Refuses an output buffer of `len` bytes that cannot hold the
    /// response (STATUS_BUFFER_TOO_SMALL).
    pub fn check_output(&self, len: usize) -> Result<(), AbiError> {
        let need = self.min_output();
        if len < need {
            Err(AbiError::OutputTooSmall { need, got: len })
        } else {
            Ok(())
        }
    }
}

/// A [`HandleRequest`] whose handle is one of `kinds`.
fn one_handle(input: &[u8], kinds: &[HandleKind]) -> Result<Handle, AbiError> {
    let r: HandleRequest = whole(input)?;
    handle("handle", r.handle, kinds)
}
