//! # covclient: a CoNDIS client protocol driver for covmini's address family
//!
//! `covclient.sys` registers as an NDIS 6.30 protocol driver with CoNDIS
//! client handlers, binds to CoWAN miniports (`NdisMediumCoWan`), and opens
//! covmini's address family (`0xC0C0`) when NDIS offers it through
//! ProtocolCoAfRegisterNotify, ignoring every other AF (Windows' own WAN
//! miniports offer TAPI AFs). Issue #12 describes the whole product; this
//! crate is its **skeleton**: it loads, binds, opens and closes the AF, and
//! unbinds and unloads cleanly.
//!
//! Built like covmini (README, `shared/architecture.md`): the kernel images
//! cross-built on Linux by `scripts/build-kernel.sh` (x64 and ARM64, the
//! same link arguments, `.cargo/kernel-cross.toml`), and on Windows with the
//! WDK (feature `wdk`, see `build.rs`). The host build compiles only the
//! FFI-free modules ([`policy`], [`pool`]) and their tests: ndis-emu has no
//! protocol side yet, so the `ffi` module, which calls the protocol DDIs of
//! `ndis_sys::client_imports`, exists on Windows targets only.
//!
//! Layout:
//! * [`policy`]: what covclient accepts (medium, AF) and registers as
//!   (name, versions), no FFI;
//! * [`pool`]: pool tags and context signatures;
//! * `ffi` (Windows targets): DriverEntry, the handlers, the contexts, the
//!   kernel runtime. The only place with `unsafe`.
//!
//! Nothing here may panic on a handler path, allocate on the data path, or
//! use wdk-sys types.
//!
//! ## TODO (the rest of issue #12; nothing below pretends to exist)
//! * **Calls.** No SAP is registered and no VC is created, so no call is
//!   made or received. Until then the client handlers NDIS requires are the
//!   documented placeholders: ProtocolCoCreateVc, ProtocolCoDeleteVc,
//!   ProtocolCoOidRequest and ProtocolClIncomingCall return
//!   `NDIS_STATUS_NOT_SUPPORTED` ("its placeholder ProtocolXxx functions
//!   should return NDIS_STATUS_NOT_SUPPORTED", NDIS_CO_CLIENT_OPTIONAL_HANDLERS
//!   \[D\]); the completions of requests covclient never makes
//!   (register/deregister SAP, make/close call, add/drop party, modify QoS,
//!   CO OID) and the call events (call connected, incoming close, incoming
//!   drop party, QoS change) can only arrive for a call, so they report the
//!   protocol violation in the debug output and do nothing else.
//! * **Data.** No send (no NBL pool); a receive indication, which cannot
//!   happen without a VC, is returned at once.
//! * **The control device** (NdisRegisterDeviceEx) and its IOCTLs: the ABI
//!   is `crates/covclient-abi` (another change); ndis-sys already has the
//!   device attributes, IRP and IO_STACK_LOCATION bindings.
//! * **Lookaside lists** for contexts: the binding context (also the AF
//!   context: one AF per binding) comes from nonpaged pool
//!   (NdisAllocateMemoryWithTagPriority), one allocation per bind
//!   (PASSIVE_LEVEL, never the data path). SAP, VC and party contexts will
//!   need their own, from lookaside lists.
//! * **ndis-emu** does not load covclient.sys yet (no protocol side), so the
//!   handlers here are exercised by no test beyond the image checks.
//! * **The WDK build** compiles and links on Windows by the same route as
//!   covmini's (unverified here: no Windows host); no INF, no package yet.
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

// The host build (tests) runs in an ordinary process with std's panic
// handler; the driver code itself uses only core.
#[cfg(not(windows))]
extern crate std;

pub mod core;
pub mod policy;
pub mod pool;

#[cfg(windows)]
mod ffi;

#[cfg(windows)]
pub use ffi::entry::DriverEntry;
