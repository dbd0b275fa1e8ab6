//! # covclient: a CoNDIS client protocol driver for covmini's address family
//!
//! `covclient.sys` registers as an NDIS 6.30 protocol driver with CoNDIS
//! client handlers, binds to CoWAN miniports (`NdisMediumCoWan`), and opens
//! covmini's address family (`0xC0C0`) when NDIS offers it through
//! ProtocolCoAfRegisterNotify, ignoring every other AF (Windows' own WAN
//! miniports offer TAPI AFs). Issue #12 describes the whole product; this
//! crate has its skeleton (load, bind, open and close the AF, unbind,
//! unload), its client logic as a sans-IO core, and its control device.
//!
//! Built like covmini (README, `shared/architecture.md`): the kernel images
//! cross-built on Linux by `scripts/build-kernel.sh` (x64 and ARM64, the
//! same link arguments, `.cargo/kernel-cross.toml`), and on Windows with the
//! WDK (feature `wdk`, see `build.rs`). The host build compiles only the
//! FFI-free modules ([`core`], [`policy`], [`pool`]) and their tests:
//! ndis-emu has no protocol side yet, so the `ffi` module, which calls the
//! protocol DDIs of `ndis_sys::client_imports`, exists on Windows targets
//! only.
//!
//! Layout:
//! * [`core`]: the client logic, sans IO and without unsafe, as covmini's
//!   `call_manager`: the handle table (generations, owners), the AF, SAP, VC
//!   and party state machines, each open's event queue, the counters and
//!   the receive pattern check, and each IOCTL's decision (the NDIS call to
//!   make, the response, or pending). Host-tested.
//! * [`policy`]: what covclient accepts (medium, AF) and registers as
//!   (protocol name, versions, the device's names and SDDL), no FFI;
//! * [`pool`]: pool tags and context signatures;
//! * `ffi` (Windows targets): DriverEntry, the protocol handlers, the
//!   bindings, the control device (`device`, `dispatch`, `waiter`, `irp`,
//!   `control`), the kernel runtime. The only place with `unsafe`.
//!
//! Nothing here may panic on a handler path, allocate on the data path, or
//! use wdk-sys types.
//!
//! ## What runs, and what does not (the rest of issue #12)
//! * **Built and host-tested:** the core (`cargo test -p covclient`): every
//!   state transition and refusal, the event queue's overflow accounting,
//!   the pattern check, cleanup's undo order, and a random sequence of
//!   requests and callbacks against the invariants.
//! * **Built, never run** (no protocol side in ndis-emu, no Windows host):
//!   the control device `\Device\covclient` (link `\DosDevices\covclient`,
//!   SDDL `D:P(A;;GA;;;SY)(A;;GA;;;BA)`), registered at DriverEntry and
//!   deregistered at unload; IRP_MJ_CREATE/CLEANUP/CLOSE/DEVICE_CONTROL; the
//!   pended WAIT_EVENTS with its cancel routine; the bindings' news
//!   (ADAPTER_BOUND, AF_OFFERED, the driver's AF's OPEN_AF_COMPLETE and
//!   CLOSE_AF_COMPLETE, ADAPTER_UNBIND) posted to every open.
//!   GET_VERSION, LIST_ADAPTERS, WAIT_EVENTS, GET_COUNTERS and
//!   EXPECT_PATTERN are answered by the core.
//! * **TODO: the NDIS calls.** Every request that maps to an NDIS call
//!   (OPEN_AF, CLOSE_AF, REGISTER_SAP, DEREGISTER_SAP, CREATE_VC, DELETE_VC,
//!   MAKE_CALL, ANSWER_CALL, ADD_PARTY, DROP_PARTY, MODIFY_QOS, CLOSE_CALL,
//!   SEND) passes the core's checks and then answers
//!   `NDIS_STATUS_NOT_SUPPORTED` without reaching NDIS (`ffi::calls`): the
//!   map from core handles to NDIS handles, the CO_SAP / CO_CALL_PARAMETERS
//!   builders and the NBL pool do not exist. So no SAP is registered and no
//!   VC is created, and the client handlers NDIS requires stay the documented
//!   placeholders: ProtocolCoCreateVc, ProtocolCoDeleteVc,
//!   ProtocolCoOidRequest and ProtocolClIncomingCall return
//!   `NDIS_STATUS_NOT_SUPPORTED` ("its placeholder ProtocolXxx functions
//!   should return NDIS_STATUS_NOT_SUPPORTED", NDIS_CO_CLIENT_OPTIONAL_HANDLERS
//!   \[D\]); the completions and call events print the protocol violation.
//!   The core's answers for them (`Core::complete`, `cm_create_vc`,
//!   `incoming_call`) exist and are tested; the handlers do not call them yet.
//! * **TODO: OID_REQUEST** answers STATUS_NOT_IMPLEMENTED (no pended OID
//!   glue).
//! * **The AF.** The binding still opens covmini's AF by itself (the
//!   skeleton's behaviour); the core records it as the driver's AF (every
//!   open may use it; CLOSE_AF on it is refused with STATUS_ACCESS_DENIED)
//!   and posts OPEN_AF_COMPLETE and CLOSE_AF_COMPLETE for it. OPEN_AF opens
//!   nothing yet (above).
//! * **TODO: data.** No send (no NBL pool); a receive indication, which
//!   cannot happen without a VC, is returned at once (the core's
//!   `VcCounters` are ready for it).
//! * **Lookaside lists** for contexts: not needed so far: the core's objects
//!   live in its fixed tables (one static), and the binding context
//!   (also the AF context) comes from nonpaged pool, one per bind.
//! * **ndis-emu** does not load covclient.sys yet (no protocol side), so the
//!   FFI here is exercised by no test beyond the image checks.
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

pub mod blocks;
pub mod core;
pub mod policy;
pub mod pool;

#[cfg(windows)]
mod ffi;

#[cfg(windows)]
pub use ffi::entry::DriverEntry;
