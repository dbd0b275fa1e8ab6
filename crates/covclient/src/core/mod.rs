//! The client logic of covclient, sans IO: what each IOCTL and each NDIS
//! callback does to covclient's objects, as decisions the FFI glue carries
//! out. No `unsafe`, no FFI, no allocation; host-tested (`cargo test -p
//! covclient`), like covmini's `call_manager`.
//!
//! Owns:
//! * the handle tables ([`table`]): adapters, AFs, SAPs, VCs, parties, each
//!   slot with a generation, so a stale handle or another open's is refused
//!   with STATUS_INVALID_HANDLE;
//! * each object's state machine ([`state`]);
//! * each open's event queue ([`events`]) and each VC's counters and receive
//!   pattern check ([`counters`]);
//! * the mapping from a parsed `covclient_abi::Request` to the NDIS call the
//!   glue must make ([`NdisCall`]) or the response, and from each NDIS
//!   callback to the state change and the event ([`Core::complete`]).
//!
//! The protocol with the glue (which holds one spin lock around the core):
//! 1. [`Core::request`] checks the output length, the handles and the
//!    object's state, applies the "-ing" arrow and answers an
//!    [`Outcome`]: refuse, done, pend, or make an [`NdisCall`];
//! 2. the glue drops the lock, makes the NDIS call, retakes the lock and
//!    reports its status with [`Core::returned`], which finishes a
//!    synchronous outcome (PENDING changes nothing: the completion handler
//!    does, through [`Core::complete`]) and writes the `COVCLIENT_RESULT`.
//!
//! A request the object's state does not allow (a make call on a VC in a
//! call, a close call on an idle VC, an answer to a call that was not
//! pended, closing an AF that still has SAPs or VCs) is refused with
//! STATUS_INVALID_DEVICE_STATE before any NDIS call is made.
//!
//! Must not: make NDIS calls, hold NDIS handles or pointers (the glue maps
//! core handles to NDIS's), or panic.

pub mod counters;
pub mod events;
pub mod incoming;
mod request;
pub mod state;
pub mod table;
mod undo;

#[cfg(test)]
mod tests;

use covclient_abi::layout::Wire;
use covclient_abi::{
    AfInfo, COVCLIENT_MAX_ADAPTER_AFS, CallParameters, CloseData, Event, Flowspec, Handle, HandleKind, OpResult,
};

use self::counters::VcCounters;
use self::events::EventQueue;
use self::state::{AfState, PartyState, SapState, VcState};
pub use self::table::FileId;
use self::table::{Lookup, Table};

/// Adapters covclient can bind at once.
pub const MAX_ADAPTERS: usize = 8;
/// AFs open at once (all opens together).
pub const MAX_AFS: usize = 16;
/// SAPs registered at once.
pub const MAX_SAPS: usize = 32;
/// VCs at once.
pub const MAX_VCS: usize = 64;
/// Parties at once.
pub const MAX_PARTIES: usize = 64;
/// Opens of the control device at once.
pub const MAX_FILES: usize = 8;

/// NTSTATUS values the core answers with beyond the parser's
/// (`covclient_abi::ntstatus`), meanings from \[MS-ERREF\] 2.3.1.
pub mod ntstatus {
    pub use covclient_abi::ntstatus::*;
    /// "The device is not in a valid state to perform this request.": the
    /// object's state has no arrow for the request.
    pub const STATUS_INVALID_DEVICE_STATE: u32 = 0xC000_0184;
    /// "Insufficient system resources exist to complete the API.": a table
    /// is full.
    pub const STATUS_INSUFFICIENT_RESOURCES: u32 = 0xC000_009A;
    /// "A process has requested access to an object, but has not been
    /// granted those access rights.": CLOSE_AF of the driver's own AF.
    pub const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
}
use ntstatus::*;

/// NDIS statuses as the ABI carries them (u32), from ndis-sys.
pub mod ndis {
    // CAST (all): NDIS_STATUS is an i32 of the same 32 bits.
    /// NDIS_STATUS_SUCCESS.
    pub const SUCCESS: u32 = ndis_sys::NDIS_STATUS_SUCCESS as u32;
    /// NDIS_STATUS_PENDING.
    pub const PENDING: u32 = ndis_sys::NDIS_STATUS_PENDING as u32;
}

/// How a SAP answers incoming calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerMode {
    /// Accept inside ProtocolClIncomingCall.
    Accept,
    /// Reject with this NDIS error status.
    Reject(u32),
    /// Return PENDING and post INCOMING_CALL; the client answers.
    Pend,
}

/// A bound adapter. INVARIANT: `af_count <= COVCLIENT_MAX_ADAPTER_AFS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adapter {
    /// `NDIS_BIND_PARAMETERS.NetLuid`.
    pub net_luid: u64,
    /// `.IfIndex`.
    pub if_index: u32,
    af_count: u32,
    afs: [AfInfo; COVCLIENT_MAX_ADAPTER_AFS as usize],
}

/// An AF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Af {
    /// The adapter it is open on.
    pub adapter: Handle,
    /// Its state.
    pub state: AfState,
}

/// A SAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sap {
    /// Its AF.
    pub af: Handle,
    /// Its state.
    pub state: SapState,
    /// How it answers.
    pub answer: AnswerMode,
}

/// Who created a VC, and so who deletes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The client (CREATE_VC → NdisCoCreateVc).
    Client,
    /// The call manager, for an incoming call (ProtocolCoCreateVc).
    CallManager,
}

/// A VC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vc {
    /// Its AF.
    pub af: Handle,
    /// Its state.
    pub state: VcState,
    /// Who created it.
    pub origin: Origin,
    /// The SAP an incoming call arrived on.
    pub sap: Option<Handle>,
    /// The call is multipoint.
    pub multipoint: bool,
    /// Its counters.
    pub counters: VcCounters,
}

/// A party of a multipoint call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Party {
    /// The call's VC.
    pub vc: Handle,
    /// Its state.
    pub state: PartyState,
}

/// An NDIS call the glue must make (then report with [`Core::returned`]).
/// Handles are the core's; the glue maps each to NDIS's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NdisCall {
    /// NdisClOpenAddressFamilyEx on the adapter's binding; `af` is the new
    /// AF's context.
    OpenAf {
        /// The adapter.
        adapter: Handle,
        /// The new AF.
        af: Handle,
        /// The CO_ADDRESS_FAMILY.
        family: AfInfo,
    },
    /// NdisClCloseAddressFamily.
    CloseAf(Handle),
    /// NdisClRegisterSap.
    RegisterSap {
        /// The AF.
        af: Handle,
        /// The new SAP.
        sap: Handle,
        /// `CO_SAP.SapType`.
        sap_type: u32,
        /// `CO_SAP.SapLength`.
        sap_length: u32,
        /// The SAP bytes (the first `sap_length`).
        bytes: [u8; 64],
    },
    /// NdisClDeregisterSap.
    DeregisterSap(Handle),
    /// NdisCoCreateVc.
    CreateVc {
        /// The AF.
        af: Handle,
        /// The new VC.
        vc: Handle,
    },
    /// NdisCoDeleteVc.
    DeleteVc(Handle),
    /// NdisClMakeCall (`party`: the initial party of a multipoint call).
    MakeCall {
        /// The VC.
        vc: Handle,
        /// The initial party's context.
        party: Option<Handle>,
        /// The parameters.
        params: CallParameters,
    },
    /// NdisClIncomingCallComplete (the client's answer to a pended call).
    IncomingCallComplete {
        /// The VC.
        vc: Handle,
        /// SUCCESS or the rejection status.
        status: u32,
    },
    /// NdisClAddParty.
    AddParty {
        /// The call's VC.
        vc: Handle,
        /// The new party.
        party: Handle,
        /// Its parameters.
        params: CallParameters,
    },
    /// NdisClDropParty.
    DropParty {
        /// The party.
        party: Handle,
        /// The close data.
        data: CloseData,
    },
    /// NdisClModifyCallQoS.
    ModifyQos {
        /// The VC.
        vc: Handle,
        /// Pass CallMgrParameters.
        with_call_mgr_parameters: bool,
        /// Transmit FLOWSPEC.
        transmit: Flowspec,
        /// Receive FLOWSPEC.
        receive: Flowspec,
    },
    /// NdisClCloseCall.
    CloseCall {
        /// The VC.
        vc: Handle,
        /// The last party of a multipoint call.
        party: Option<Handle>,
        /// The close data.
        data: CloseData,
    },
    /// NdisCoSendNetBufferLists of `nbl_count` NBLs.
    Send {
        /// The VC.
        vc: Handle,
        /// NBLs.
        nbl_count: u32,
        /// Bytes each.
        nbl_size: u32,
        /// The pattern.
        pattern: u32,
        /// Its seed.
        seed: u32,
    },
    /// NdisCoOidRequest (the IRP pends until it completes). A set's data is
    /// in the request (`Request::OidSet`), which the glue still holds.
    Oid {
        /// The adapter, AF or VC.
        target: Handle,
        /// The OID.
        oid: u32,
        /// A query (else a set).
        query: bool,
        /// A query's buffer length.
        length: u32,
    },
}

/// What the glue does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Complete the IRP with this NTSTATUS and no output.
    Refuse(u32),
    /// Complete the IRP with STATUS_SUCCESS and this many output bytes.
    Done(usize),
    /// Pend the IRP (WAIT_EVENTS with no event queued).
    Pend,
    /// Make this NDIS call, then [`Core::returned`].
    Call(NdisCall),
}

/// One open's state.
#[derive(Debug)]
struct File {
    id: FileId,
    events: EventQueue,
}

/// covclient's client state: every object and every open.
///
/// INVARIANT: every AF's adapter, SAP's and VC's AF, and party's VC is live
/// in its table (an object is freed only after its children, or with them);
/// an object's owner is the owner of its parent (or `None` for the
/// driver's own).
#[derive(Debug)]
pub struct Core {
    adapters: Table<Adapter, MAX_ADAPTERS>,
    afs: Table<Af, MAX_AFS>,
    saps: Table<Sap, MAX_SAPS>,
    vcs: Table<Vc, MAX_VCS>,
    parties: Table<Party, MAX_PARTIES>,
    files: [Option<File>; MAX_FILES],
    next_file: u32,
}

impl Default for Core {
    fn default() -> Self {
        Self::new()
    }
}

/// A table lookup's refusal: STATUS_INVALID_HANDLE.
const fn bad_handle(_: Lookup) -> u32 {
    STATUS_INVALID_HANDLE
}

/// An arrow the state lacks: STATUS_INVALID_DEVICE_STATE.
fn bad_state<T>(_: T) -> u32 {
    STATUS_INVALID_DEVICE_STATE
}

impl Core {
    /// No adapters, no opens.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            adapters: Table::new(HandleKind::Adapter),
            afs: Table::new(HandleKind::Af),
            saps: Table::new(HandleKind::Sap),
            vcs: Table::new(HandleKind::Vc),
            parties: Table::new(HandleKind::Party),
            files: [const { None }; MAX_FILES],
            next_file: 1,
        }
    }

    /// IRP_MJ_CREATE: a new open, or `None` when [`MAX_FILES`] are open
    /// (the glue answers STATUS_INSUFFICIENT_RESOURCES).
    pub fn open_file(&mut self) -> Option<FileId> {
        let slot = self.files.iter_mut().find(|f| f.is_none())?;
        let id = FileId(self.next_file);
        self.next_file = self.next_file.wrapping_add(1).max(1);
        *slot = Some(File {
            id,
            events: EventQueue::new(),
        });
        Some(id)
    }

    /// IRP_MJ_CLOSE: forgets the open (after cleanup undid what it owned).
    /// Objects it still owns (an undo still in flight) stay in the tables:
    /// their completions still apply (callbacks look objects up regardless
    /// of owner), and their events, with no open to go to, are not queued.
    /// A new open gets a new id, so it cannot use them.
    pub fn close_file(&mut self, file: FileId) {
        if let Some(slot) = self.files.iter_mut().find(|f| f.as_ref().is_some_and(|f| f.id == file)) {
            *slot = None;
        }
    }

    fn file_mut(&mut self, file: FileId) -> Option<&mut File> {
        self.files.iter_mut().flatten().find(|f| f.id == file)
    }

    /// Queues `event` for `owner` (`None`: every open). Returns the open
    /// whose pended WAIT_EVENTS must now be completed, if one (for a
    /// broadcast, the glue checks every open with [`Self::has_waiter`]).
    fn post(&mut self, owner: Option<FileId>, event: Event) -> Option<FileId> {
        let mut wake = None;
        for f in self.files.iter_mut().flatten() {
            if (owner.is_none() || owner == Some(f.id)) && f.events.push(event) && wake.is_none() {
                wake = Some(f.id);
            }
        }
        wake
    }

    /// Does `file` have a pended WAIT_EVENTS with events to deliver?
    #[must_use]
    pub fn has_waiter(&self, file: FileId) -> bool {
        self.files
            .iter()
            .flatten()
            .any(|f| f.id == file && f.events.has_waiter() && !f.events.is_empty())
    }

    /// Completes `file`'s pended WAIT_EVENTS: writes the batch into `out`.
    ///
    /// # Errors
    /// The NTSTATUS for an unknown open or a buffer too small.
    pub fn take_events(&mut self, file: FileId, max_events: u32, out: &mut [u8]) -> Result<usize, u32> {
        let f = self.file_mut(file).ok_or(STATUS_INVALID_HANDLE)?;
        f.events
            .take(max_events, out)
            .map_err(covclient_abi::AbiError::ntstatus)
    }

    /// The pended WAIT_EVENTS of `file` was cancelled or cleaned up.
    pub fn waiter_gone(&mut self, file: FileId) {
        if let Some(f) = self.file_mut(file) {
            f.events.waiter_gone();
        }
    }

    /// A VC's counters, for the receive path.
    pub fn counters_mut(&mut self, vc: Handle) -> Option<&mut VcCounters> {
        self.vcs.get_mut(vc, None).ok().map(|v| &mut v.counters)
    }

    /// The AF `h` names (any owner), for the glue.
    #[must_use]
    pub fn af(&self, h: Handle) -> Option<Af> {
        self.afs.get(h, None).ok().copied()
    }

    /// Does the core still hold the SAP, VC or party `h` (any owner)? The
    /// glue keeps an object's NDIS context exactly as long as this holds.
    #[must_use]
    pub fn holds(&self, h: Handle) -> bool {
        match h.kind() {
            HandleKind::Sap => self.saps.get(h, None).is_ok(),
            HandleKind::Vc => self.vcs.get(h, None).is_ok(),
            HandleKind::Party => self.parties.get(h, None).is_ok(),
            HandleKind::Af => self.afs.get(h, None).is_ok(),
            HandleKind::Adapter => self.adapters.get(h, None).is_ok(),
        }
    }

    /// The VC `h` names (any owner), for the glue.
    #[must_use]
    pub fn vc(&self, h: Handle) -> Option<Vc> {
        self.vcs.get(h, None).ok().copied()
    }
}

/// Writes a `COVCLIENT_RESULT`.
fn op_result(status: u32, handle: Option<Handle>, out: &mut [u8]) -> Outcome {
    let r = OpResult {
        ndis_status: status,
        reserved: 0,
        handle: handle.map_or(0, Handle::raw),
    };
    match r.write(out) {
        Some(()) => Outcome::Done(OpResult::SIZE),
        None => Outcome::Refuse(STATUS_BUFFER_TOO_SMALL),
    }
}
