//! # covmini: a CoNDIS miniport with an integrated call manager
//!
//! A virtual NDIS 6.30 connection-oriented miniport whose "network" is a
//! loopback fabric inside the driver. This crate is the driver itself, in
//! three builds (see `README.md` and `shared/architecture.md`):
//!
//! 1. the host build (rlib) that `cargo test` links against ndis-emu;
//! 2. the kernel image cross-built on Linux (`scripts/build-kernel.sh`);
//! 3. the Windows WDK build (`cargo make`, feature `wdk`).
//!
//! Layout, one responsibility per module (netvmini's split):
//! * [`adapter`]: the adapter lifecycle as a state machine (no FFI);
//! * [`pool`]: pool tags and context signatures, one per allocation type;
//! * [`config`]: what the adapter reports to NDIS (medium, link, AF);
//! * `ffi`: the only place with `unsafe`: `DriverEntry`, the handler
//!   trampolines NDIS calls, the context pointers handed to NDIS and back, the
//!   spin lock, the debug print sink;
//!   and (`ffi::runtime`) the kernel runtime, panic = bug check, of builds 2 and 3.
//!
//! Nothing in this crate may panic on a handler path (a panic is a bug
//! check), allocate on the data path, or use wdk-sys types: every build uses
//! `ndis-sys`.
#![no_std]
#![deny(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented
)]

// The host build runs inside an ordinary process: std provides the panic
// handler there (the tests unwind); the driver code itself uses only core.
#[cfg(not(windows))]
extern crate std;

pub mod adapter;
pub mod config;
pub mod pool;

mod ffi;

pub use ffi::entry::DriverEntry;
