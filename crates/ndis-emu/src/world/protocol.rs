//! The records of a protocol (CoNDIS client) driver: its registration, the
//! bind or unbind NDIS is running, and its binding to the adapter.
//!
//! Plain state, read and written by `crate::protocol` (the rules) and
//! `crate::lifecycle` (which calls the driver); it checks nothing and names
//! no layer above the world.

use ndis_sys::*;

/// A protocol driver's registration (NdisRegisterProtocolDriver): the
/// handlers NDIS calls (the characteristics' `Name` is not kept: NDIS does
/// not keep its buffer), the CoNDIS blocks registered in
/// ProtocolSetOptions, and its one binding.
#[derive(Clone, Copy, Debug)]
pub struct ProtocolRec {
    pub handle: usize,
    pub driver_context: usize,
    pub bind: Option<PROTOCOL_BIND_ADAPTER_EX>,
    pub unbind: Option<PROTOCOL_UNBIND_ADAPTER_EX>,
    pub co: Option<NDIS_PROTOCOL_CO_CHARACTERISTICS>,
    pub client: Option<NDIS_CO_CLIENT_OPTIONAL_HANDLERS>,
    pub deregistered: bool,
    /// The bind or unbind NDIS is running (at most one at a time: NDIS
    /// serializes them per adapter).
    pub op: Option<BindOp>,
    /// The binding NdisOpenAdapterEx opened (until NdisCloseAdapterEx).
    pub binding: Option<BindingRec>,
}

/// Which of NDIS's two binding operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindOpKind {
    /// ProtocolBindAdapterEx, completed by NdisCompleteBindAdapterEx.
    Bind,
    /// ProtocolUnbindAdapterEx, completed by NdisCompleteUnbindAdapterEx.
    Unbind,
}

/// A bind or unbind in progress. The driver may complete it before its
/// handler returns NDIS_STATUS_PENDING (another thread finished the work
/// first), so the two are recorded apart.
// INVARIANT: `returned_pending` is false until the handler returns; an
// operation whose handler returned anything else is over (no BindOp).
#[derive(Clone, Copy, Debug)]
pub struct BindOp {
    pub kind: BindOpKind,
    /// Its BindContext or UnbindContext handle.
    pub handle: usize,
    /// The handler returned NDIS_STATUS_PENDING.
    pub returned_pending: bool,
    /// The status NdisComplete(Un)BindAdapterEx gave.
    pub completed: Option<NDIS_STATUS>,
}

/// The binding of the protocol to the adapter.
#[derive(Clone, Copy, Debug)]
pub struct BindingRec {
    /// NdisBindingHandle.
    pub handle: usize,
    /// The ProtocolBindingContext the driver gave NdisOpenAdapterEx.
    pub context: usize,
    /// NDIS has begun offering it the adapter's AFs
    /// (ProtocolCoAfRegisterNotify).
    pub afs_offered: bool,
    /// The CoNDIS client record (`crate::condis::ClientRec`) of this
    /// binding, once it opened an AF.
    pub client: Option<usize>,
}
