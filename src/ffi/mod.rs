//! The FFI seam: everything NDIS calls and everything that touches raw
//! NDIS pointers. Each handler turns raw pointers into checked references,
//! asks the FFI-free core what to do, and performs it.
//!
//! Rules for every routine here (netvmini's, restated):
//! * its doc says the IRQL it runs at;
//! * it never panics (a panic is a bug check) and never returns PENDING where
//!   the contract forbids it;
//! * every `unsafe` block states why it holds in a `// SAFETY:` comment.
#![allow(unsafe_code)]

#[macro_use]
pub(crate) mod trace;

mod adapter;
#[cfg(all(windows, not(feature = "wdk")))]
mod alloc;
mod cm;
mod cm_context;
mod co;
mod context;
mod data;
pub mod entry;
mod lookaside;
mod nbl;
mod oid;
mod runtime;
mod sync;
