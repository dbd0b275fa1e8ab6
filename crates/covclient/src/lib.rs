//! # covclient: a CoNDIS client protocol driver for covmini's address family
//!
//! `covclient.sys` registers as an NDIS 6.30 protocol driver with CoNDIS
//! client handlers, binds to CoWAN miniports (`NdisMediumCoWan`), and opens
//! covmini's address family (`0xC0C0`) when NDIS offers it through
//! ProtocolCoAfRegisterNotify, ignoring every other AF (Windows' own WAN
//! miniports offer TAPI AFs). Issue #12 describes the whole product; this
//! crate has the driver (load, bind, the AF, the client calls, incoming
//! calls, send and receive, unbind, unload), its client logic as a sans-IO
//! core, and its control device.
//!
//! Built like covmini (README, `shared/architecture.md`): the kernel images
//! cross-built on Linux by `scripts/build-kernel.sh` (x64 and ARM64, the
//! same link arguments, `.cargo/kernel-cross.toml`), and on Windows with the
//! WDK (feature `wdk`, see `build.rs`). The host build compiles only the
//! FFI-free modules ([`core`], [`blocks`], [`policy`], [`pool`]) and their tests:
//! ndis-emu has no protocol side yet, so the `ffi` module, which calls the
//! protocol DDIs of `ndis_sys::client_imports`, exists on Windows targets
//! only.
//!
//! Layout:
//! * [`core`]: the client logic, sans IO and without unsafe, as covmini's
//!   `call_manager`: the handle table (generations, owners), the AF, SAP, VC
//!   and party state machines, each open's event queue, the counters and
//!   the receive pattern check, each IOCTL's decision (the NDIS call to
//!   make, the response, or pending), and the undo order of cleanup and
//!   unbind. Host-tested.
//! * [`blocks`]: the CO_SAP and CO_CALL_PARAMETERS blocks in covmini's
//!   format, built in place in the context that keeps them until the
//!   completion (no FFI, host-tested);
//! * [`policy`]: what covclient accepts (medium, AF) and registers as
//!   (protocol name, versions, the device's names and SDDL), no FFI;
//! * [`pool`]: pool tags and context signatures;
//! * `ffi` (Windows targets): DriverEntry, the protocol handlers, the
//!   bindings, the per-object NDIS contexts (`objects`, nonpaged lookaside
//!   lists), the NDIS calls (`calls`), incoming calls (`incoming`), the
//!   data path (`send`, `data`), OID requests (`oid`), the unbind's teardown, the control device
//!   (`device`, `dispatch`, `waiter`, `irp`, `control`), the kernel runtime.
//!   The only place with `unsafe`.
//!
//! Nothing here may panic on a handler path, allocate on the data path
//! (beyond NBLs from covclient's pool), or use wdk-sys types.
//!
//! ## What runs, and what does not (the rest of issue #12)
//! * **Built and host-tested:** the core (`cargo test -p covclient`): every
//!   state transition and refusal, the event queue's overflow accounting,
//!   the pattern check, cleanup's and the unbind's undo order, and a random
//!   sequence of requests and callbacks against the invariants; the
//!   CO_SAP / CO_CALL_PARAMETERS blocks (`blocks`).
//! * **Built, never run** (no protocol side in ndis-emu, no Windows host):
//!   - the control device `\Device\covclient` (link `\DosDevices\covclient`,
//!     SDDL `D:P(A;;GA;;;SY)(A;;GA;;;BA)`), IRP_MJ_CREATE/CLEANUP/CLOSE/
//!     DEVICE_CONTROL, the pended WAIT_EVENTS with its cancel routine, the
//!     bindings' news posted to every open;
//!   - the NDIS calls (`ffi::calls`): OPEN_AF, CLOSE_AF, REGISTER_SAP,
//!     DEREGISTER_SAP, CREATE_VC, DELETE_VC, MAKE_CALL, ANSWER_CALL,
//!     ADD_PARTY, DROP_PARTY, MODIFY_QOS and CLOSE_CALL make their
//!     NdisCl*/NdisCo* call. Each object's NDIS handle and the blocks NDIS
//!     reads live in its context (`ffi::objects`: one nonpaged lookaside
//!     list per kind, tags `CcAd`/`CcAf`/`CcSp`/`CcVc`/`CcPy`, signatures),
//!     keyed by the core handle, whose value is the ProtocolXxxContext NDIS
//!     gets; a context is freed once the core no longer holds its object,
//!     on the dispatch path or at unbind/unload (never in a handler). The
//!     completions and call events feed the core (`ffi::callbacks`,
//!     `ffi::binding::af`);
//!   - incoming calls (`ffi::incoming`): ProtocolCoCreateVc,
//!     ProtocolClIncomingCall (accept, reject or pend as REGISTER_SAP said;
//!     ANSWER_CALL answers a pended one with NDIS's parameters) and
//!     ProtocolCoDeleteVc;
//!   - SEND (`ffi::send`): N NBLs of S bytes with the pattern from an NBL
//!     pool and a 1 MiB slab made at DriverEntry (tag `CcTx`); one send in
//!     flight driver-wide; the completion frees them and posts
//!     SEND_COMPLETE. Receives (`ffi::data`): each NET_BUFFER counted and
//!     pattern-checked through its MDL chain (`MmGetSystemAddressForMdlSafe`,
//!     ndis-sys), no copy, then returned;
//!   - the unbind (`ffi::teardown`): rejects pended calls, closes calls,
//!     deletes the client's VCs, deregisters SAPs and closes the opens' AFs
//!     on the adapter, waiting for completions, then closes the binding's
//!     AF and the adapter;
//!   - OID_REQUEST (`ffi::oid`): NdisCoOidRequest with the request block
//!     and data in a lookaside context (tag `CcOi`), the IRP pended until
//!     ProtocolCoOidRequestComplete.
//! * ProtocolCoOidRequest (the call manager asking the client) answers
//!   NDIS_STATUS_NOT_SUPPORTED (no OID of covclient's own).
//! * **TODO, and a defect: the control device is made with
//!   NdisRegisterDeviceEx, which is documented for miniport and filter
//!   drivers only** (nf-ndis-ndisregisterdeviceex: NdisHandle is "A miniport
//!   driver handle or filter driver handle that the caller obtained by
//!   calling the NdisMRegisterMiniportDriver function or the
//!   NdisFRegisterFilterDriver function"; Remarks: "Miniport drivers and
//!   filter drivers can call NdisRegisterDeviceEx"). A protocol driver
//!   makes its device itself, as Microsoft's NDISPROT sample does
//!   (IoCreateDeviceSecure with the SDDL, IoCreateSymbolicLink, the
//!   driver object's MajorFunction table). ndis-emu refuses a protocol
//!   handle here (`handle.valid`), so covclient's DriverEntry will fail
//!   there until this moves to IoCreateDevice; on Windows it may fail
//!   the same way.
//! * **TODO: the core's state** is still one static (the client core,
//!   about 80 KB of the image's nonpaged data, behind one spin lock), not
//!   lookaside contexts: the per-object contexts hold only NDIS's side.
//! * **TODO: a call manager's close of an AF with objects on it**
//!   (ProtocolClNotifyCloseAf, the binding's AF or an open's) is failed
//!   rather than torn down: tearing down needs waiting, which that handler
//!   must not do, and protocol drivers get no work item; the unbind and
//!   each open's cleanup do tear down.
//! * **Assumed, unverified:** NDIS writes a multipoint NdisClMakeCall's
//!   NdisPartyHandle through its out-parameter (which points into the
//!   party's context) before the call returns, pended or not;
//!   ProtocolClMakeCallComplete's party handle is not stored again.
//! * **The AF.** The binding still opens covmini's AF by itself (the
//!   skeleton's behaviour); the core records it as the driver's AF (every
//!   open may use it; CLOSE_AF on it is refused with STATUS_ACCESS_DENIED)
//!   and posts OPEN_AF_COMPLETE and CLOSE_AF_COMPLETE for it.
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
