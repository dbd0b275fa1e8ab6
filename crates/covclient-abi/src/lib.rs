//! # covclient-abi: the contract between covmini, covclient.sys and C clients
//!
//! One source for:
//! * covmini's wire constants a CoNDIS client needs ([`covmini`]): the
//!   address family 0xC0C0 v1.0, the SAP type, the make call's ParamType,
//!   the address bounds and the echo address. covmini itself uses them
//!   from here (`config`, `call_manager`).
//! * covclient's IOCTL interface, version 1 ([`ioctl`], [`wire`]): the
//!   control codes (CTL_CODE, METHOD_BUFFERED), the request and response
//!   structs with their sizes and offsets proven at compile time
//!   ([`layout`]), and opaque generation-carrying [`Handle`]s.
//! * The checked parser ([`Request::parse`]) with each refusal's NTSTATUS
//!   ([`AbiError::ntstatus`]), and the response encoding into a caller's
//!   output buffer ([`response`]).
//!
//! `include/covmini.h` carries the same definitions for C; the test
//! `tests/c_header.rs` compiles it and compares every size, offset and
//! value with the tables here ([`STRUCTS`], [`COVMINI_CONSTANTS`],
//! [`COVCLIENT_CONSTANTS`]). docs/covclient-ioctl.md is the reference.
//!
//! What this crate must not do: act on a request, hold state, allocate, or
//! use unsafe code. It builds for the host and for the kernel targets
//! (`no_std`, no `alloc`), so the driver that serves the interface (not yet
//! built: issue #12) parses with the same code the tests and the fuzzer run.
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented
)]

#[macro_use]
pub mod layout;
pub mod covmini;
pub mod handle;
pub mod ioctl;
pub mod request;
pub mod response;
pub mod wire;

pub use covmini::*;
pub use handle::{Handle, HandleError, HandleKind};
pub use ioctl::*;
pub use request::{AbiError, CloseData, Request, ntstatus};
pub use wire::*;
