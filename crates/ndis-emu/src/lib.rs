//! # ndis-emu: a user-mode NDIS that enforces the CoNDIS contract
//!
//! ndis-emu is covmini's Windows. It defines the NDIS and ntoskrnl functions
//! a CoNDIS miniport imports (so the host build of a driver links against
//! it), drives the driver through the NDIS lifecycle, and checks every call
//! against named rules from `shared/reference/condis-mcm-contract.md`.
//!
//! Layers, bottom to top (no file names a layer above it, and no two files
//! name each other: `tests/import_circles.rs`):
//! 1. `world` owns the state: `world.rs` (handles, ledger, locks, the
//!    driver and adapter, violations, the trace, behind one process-global
//!    lock; per-CPU IRQL and handler frames) and one leaf per subsystem's
//!    state under `world/` (faults, io, lookaside, nbl, pause, sched, sync);
//!    `condis/mod.rs` holds the CoNDIS objects' records the same way;
//! 2. the subsystems own their rules and the checks over the world
//!    (`condis/`, `io`, `pause`, `sched`, `sync`, `lookaside`, `nbl`,
//!    `memory`, `faults`, `interleave`), each taking the part of the world it
//!    touches where that is one part; what they must run above them (a
//!    client's answer) they call through `hooks`, which the Emulator fills;
//! 3. `ffi/` holds the DDI shims (a shim reads the raw arguments into
//!    checked values and calls the subsystem that checks the rule and
//!    changes the world) and the calls into the driver's handlers;
//! 4. `lifecycle` (the driver's and adapter's lifecycle), `client` (the
//!    scripted clients' requests), `answers` (what the clients answer
//!    when NDIS calls them) and `io::user` (a user-mode program's opens,
//!    IOCTLs, cancels and closes of a control device) run the steps NDIS,
//!    the I/O manager and their callers take, through `ffi`;
//! 5. [`Emulator`] is the facade (`emulator.rs`): thin methods that
//!    delegate to the layers below; `report` holds what it returns.
//!
//! RULES.md's "enforced in" column says where each rule's checks are: the
//! CoNDIS rules in `condis/` (`complete`, `mcm`, `client_requests`, `data`,
//! `window`, `pended`, `rules`), registration and initialization in
//! `registration`, a protocol driver's registration and binding in
//! `protocol`, NBL pools in `nbl`, ETW in `etw`, bug-check callbacks
//! in `bugcheck`; spin-lock, bug-check and lookaside rules are still
//! checked in their `ffi/` shims.
//!
//! What it owns:
//! * [`rules`]: what a rule is (id, statement, source, proving test) and the
//!   lifecycle rules; [`catalog`]: every area's rules, and `RULES.md`;
//! * [`compliance`]: Microsoft's NDIS DDI compliance rules (Static Driver
//!   Verifier, Driver Verifier) mapped to the rules that enforce them;
//! * [`memory`]: the pool-tag rule (the ledger's rule is in [`rules`]);
//! * `world`: handles, ledger, spin locks, registered driver and adapter,
//!   behind one process-global lock; per-CPU IRQL and handler frames; and
//!   (`world/`) each subsystem's state;
//! * [`condis`]: AFs, SAPs, VCs, parties, pended requests, and their rules
//!   with their checks: completions (`complete`), the call manager's DDIs
//!   (`mcm`), a client's requests to it (`client_requests`), the data path
//!   (`data`) and NDIS's window around a send (`window`);
//! * [`io`]: the I/O manager of a driver's control device
//!   (NdisRegisterDeviceEx): device objects, files, IRPs and the cancel spin
//!   lock, the `io.*` rules and their checks; `io::user` is a user-mode
//!   program's side ([`Emulator::open_device`], [`Emulator::device_io_control`],
//!   [`Emulator::cancel_io`], [`Emulator::close_device`]); `ffi::io` holds
//!   the DDIs, the memory the driver sees and the calls into its dispatch
//!   and cancel routines;
//! * `client`: the scripted CoNDIS clients' requests (the client methods of
//!   [`Emulator`] delegate there), with their handles (`handles`:
//!   [`Client`], [`Af`], [`Sap`], [`Vc`], [`Party`]) and [`CallSpec`]
//!   (`call_spec`), the call parameters they take as plain values;
//! * `answers`: the scripted clients' answers (incoming closes, NBL
//!   returns, AF teardowns, the unbind at halt) and a client's own
//!   serialization of its requests on an AF;
//! * `registration`: a miniport's registration with NDIS (its
//!   characteristics, optional handlers, adapter attributes and address
//!   families) and the `reg.*`, `opt.*`, `init.*` checks;
//! * [`protocol`]: a protocol (CoNDIS client) driver's registration
//!   (NdisRegisterProtocolDriver, its ProtocolSetOptions blocks,
//!   NdisDeregisterProtocolDriver) and its binding to the adapter
//!   (ProtocolBindAdapterEx, NdisOpenAdapterEx, pended binds, the unbind,
//!   NdisCloseAdapterEx), with the `proto.*` checks; its records are
//!   `world/protocol.rs`; and what a driver client adds to the checks of a
//!   client request (its binding, the AF offered to it). A client is
//!   scripted or a driver (`condis::ClientKind`): both kinds' requests take
//!   one route to the call manager (`ffi::cm`); a driver's DDIs are
//!   `ffi::client` and NDIS's calls into its handlers `ffi::client_calls`.
//!   Routed for a driver so far: NdisClOpenAddressFamilyEx,
//!   NdisClCloseAddressFamily, NdisClRegisterSap and NdisClDeregisterSap
//!   with their completions, NdisCoCreateVc and NdisCoDeleteVc; calls,
//!   parties, QoS, sends, OIDs and the MCM's indications reach scripted
//!   clients only (the MCM's notify-close of a driver client's AF fails
//!   loudly, `emu.unimplemented-ddi`, rather than be answered for it);
//! * `lifecycle`: load, add, pause, restart, PnP events, halt and unload of
//!   the driver and its adapter, the end of a run, and the admission of a
//!   client's request while a halt may begin; a protocol driver's load,
//!   bind (with ProtocolCoAfRegisterNotify for the call manager's AFs),
//!   unbind and unload;
//! * [`pause`]: pause, restart, PnP events and cancels mid-run, clients
//!   that hold receive NBLs, and the rules of a pause;
//! * [`sched`]: work items and timers on a seeded, deterministic queue with
//!   a virtual clock, or on worker and DPC threads (the threaded mode, for
//!   stress); `faults`: fail the Nth allocation, lookaside allocation (by
//!   pool tag) or call of a DDI, and the census of fault sites ([`Site`]);
//! * [`sync`]: NDIS events, and what NdisWaitEvent runs or blocks on while
//!   it waits in each mode;
//! * [`etw`]: ETW provider registrations, a trace session that calls the
//!   enable callbacks, the events EtwWriteTransfer wrote, and a TraceLogging
//!   decoder;
//! * [`trace`]: the trace's events, stored as typed fields and formatted
//!   only when read, and the names of NDIS statuses;
//! * [`interleave`]: deterministic interleavings: stop a CPU at a chosen
//!   DDI boundary and run another script to completion there
//!   ([`Emulator::interleave`], [`interleave::sweep`]);
//! * [`Emulator`]: the API tests and covmini-lab drive; [`EmuError`] and
//!   [`Report`] (`report`); `hooks`: the client-running entry points
//!   `lifecycle` installs for the layers below the shims;
//! * `ffi`: the exported DDIs, the one import table ([`ffi::table`]), call
//!   parameters in C memory, the calls into driver handlers, and how many
//!   times the driver called each import ([`ddi_calls`]);
//! * `loader` (x86_64 Linux): maps a real `.sys`, relocates it, binds its
//!   imports to the table, protects it W^X and reports crashes inside it.
//!
//! `ffi` and `loader` are the only modules with `unsafe`: they are the FFI
//! seam.
//!
//! What it must not do: trust the driver (every handle and header is checked
//! before use), succeed silently at something it does not implement, or
//! share state between emulators (one per process at a time; in the
//! threaded mode, one emulator runs on several threads).
//!
//! Status: registration, initialization, pause/restart/halt/unload, memory,
//! spin locks, debug output, the adapter's registry configuration (integer
//! values, `crate::config`), work items, timers, NDIS events and waits, the whole call-manager
//! surface (AFs, SAPs, VCs, outgoing and incoming calls, parties, QoS, OIDs,
//! status indications) and a control device's IRPs (create, close,
//! cleanup, METHOD_BUFFERED IOCTLs, pend, complete, cancel) are
//! implemented and checked. DDIs not implemented yet
//! are defined but fail loudly (`emu.unimplemented-ddi`); the list is
//! `ffi::unimplemented`.
#![deny(unsafe_code)]

mod answers;
pub mod bugcheck;
mod call_spec;
pub mod catalog;
mod client;
pub mod compliance;
pub mod condis;
pub mod config;
mod emulator;
pub mod etw;
mod faults;
pub mod ffi;
mod handles;
mod hooks;
pub mod interleave;
pub mod io;
mod lifecycle;
pub mod loader;
pub mod lookaside;
pub mod memory;
pub mod nbl;
pub mod pause;
pub mod pe;
pub mod protocol;
mod registration;
mod report;
pub mod rules;
pub mod sched;
pub mod sync;
pub mod trace;
mod world;

pub use bugcheck::DumpBlock;
pub use call_spec::CallSpec;
pub use condis::{Answer, CallState};
pub use emulator::Emulator;
pub use ffi::bugcheck_callbacks::{guid_text, secondary_dump_data};
pub use ffi::cm::OidResult;
pub use ffi::count::ddi_calls;
pub use ffi::raw::{Placement, RawCallParams, RawOidBuffer};
pub use handles::{Af, Client, Party, Sap, Vc};
pub use io::user::{FileHandle, IoOutcome, IoResult, PendingIrp};
pub use pause::DataPath;
pub use report::{EmuError, Report};
pub use rules::{Rule, RuleInfo, Violation};
pub use trace::{Detail, Event};
pub use world::faults::{Site, SiteKind};
