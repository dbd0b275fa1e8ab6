//! The FFI seam of covclient (Windows targets only): the only place with
//! `unsafe`. Every handler NDIS calls is an `ndis_fn!` trampoline to a
//! Rust function that says its IRQL; contexts are recovered from NDIS's
//! handles by `binding`, which checks their signatures.
//!
//! Must not: decide what to accept (that is `crate::policy`), block where the
//! DDI pages say not to, or hold a context past the call that frees it.
#![allow(unsafe_code)]

#[macro_use]
mod trace;

mod adapters;
pub(crate) mod binding;
mod callbacks;
mod calls;
mod control;
mod data;
mod device;
mod dispatch;
pub(crate) mod entry;
mod handle;
mod incoming;
mod irp;
mod lookaside;
mod objects;
mod oid;
mod route;
mod runtime;
mod send;
mod teardown;
mod waiter;
