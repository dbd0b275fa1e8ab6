//! The FFI seam: everything NDIS calls and everything that touches raw
//! NDIS pointers. Each handler turns raw pointers into checked references,
//! asks the FFI-free core what to do, and performs it.
//!
//! Rules for every routine here (netvmini's, restated):
//! * its doc says the IRQL it runs at;
//! * it never panics (a panic is a bug check) and never returns PENDING where
//!   the contract forbids it;
//! * every `unsafe` block states why it holds in a `// SAFETY:` comment.
//!
//! The files, by responsibility (the call-manager ones mirror
//! `crate::call_manager`):
//! * `entry`: DriverEntry and the handler tables; `adapter`: the miniport
//!   lifecycle handlers (initialize, halt, pause, restart);
//!   `adapter_events`: the other handlers every miniport registers
//!   (connectionless send, return, cancel, PnP, shutdown); `co`: the CoNDIS
//!   miniport handlers; `data`: the data path, over `nbl`'s safe views of
//!   NBLs and NET_BUFFERs (their only raw walks), `rx_pool`'s receive NBLs
//!   and `counters`' traffic counters; `oid`: every OID answer,
//!   the miniport's and the call manager's;
//! * the call manager's handlers: `af_sap` (address families, SAPs, halt's
//!   closing of the AFs), `vc` (client VCs), `call` (make call, echo,
//!   incoming call complete, close call), `setup` (runs a call's set-up the
//!   core drives, for calls and parties alike, and the answer to an
//!   offered call), `party` (point to multipoint),
//!   `qos` (ModifyCallQoS);
//! * `params`: the checked reading of a client's blocks (call parameters,
//!   SAPs, flows), the only raw reads of them;
//! * `effects`: performs the core's effects, and the locked entry into the
//!   core the handlers share; it depends on no handler and not on `data`;
//! * `context`, `cm_context`: the adapter's and the call manager's contexts
//!   (`signed`: the signature and token they share; `adapter_link`: a
//!   context's link to its adapter, which `cm_context` holds without naming
//!   the adapter's type, so that neither names the other; `cm_lists`: the
//!   contexts' lookaside lists; `halt_wait`: what HaltEx waits for before
//!   it frees the adapter); `call_block`: a VC's call parameters;
//!   `lookaside`, `sync`, `alloc`, `runtime`, `trace`: kernel services;
//!   `etw`: the ETW TraceLogging provider (registration, enable callback,
//!   EtwWriteTransfer);
//! * `flight`: the flight recorder's ring ([`emit`](flight::emit), the one
//!   entry point of every recorded event); `recorder`: its producers at the
//!   handler boundary (the `handler!` macro) and its crash-dump callback.
#![allow(unsafe_code)]

#[macro_use]
pub(crate) mod trace;
#[macro_use]
pub(crate) mod etw;
mod flight;
mod halt_wait;
#[macro_use]
mod recorder;

mod adapter;
mod adapter_events;
mod adapter_link;
mod af_sap;
#[cfg(all(windows, not(feature = "wdk")))]
mod alloc;
mod call;
mod call_block;
mod cm_context;
mod cm_lists;
mod co;
mod context;
mod counters;
mod data;
mod effects;
pub mod entry;
mod lookaside;
mod nbl;
mod oid;
mod params;
mod party;
mod qos;
mod runtime;
mod rx_pool;
mod setup;
mod signed;
mod sync;
mod vc;
