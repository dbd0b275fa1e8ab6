//! # ndis-emu: a user-mode NDIS that enforces the CoNDIS contract
//!
//! ndis-emu is covmini's Windows. It defines the NDIS and ntoskrnl functions
//! a CoNDIS miniport imports (so the host build of a driver links against
//! it), drives the driver through the NDIS lifecycle, and checks every call
//! against named rules from `shared/reference/condis-mcm-contract.md`.
//!
//! What it owns:
//! * [`rules`]: the rules catalog (id, statement, source, proving test);
//! * `world`: handles, ledger, IRQL, registered driver and adapter;
//! * [`Emulator`]: the API tests and covmini-lab drive;
//! * `ffi` (the only module with `unsafe`): the exported DDIs, the one
//!   import table ([`ffi::table`]) and the calls into driver handlers.
//!
//! What it must not do: trust the driver (every handle and header is checked
//! before use), succeed silently at something it does not implement, or
//! share state between emulators (one per process at a time).
//!
//! Status: registration, optional handlers, initialization attributes, AF
//! registration, pause/restart/halt/unload, memory, spin locks and debug
//! output are implemented and checked; the call-manager and data-path DDIs
//! are defined but fail loudly (`emu.unimplemented-ddi`) until issue #3.
#![deny(unsafe_code)]

mod emulator;
pub mod ffi;
pub mod pe;
pub mod rules;
mod world;

pub use emulator::{EmuError, Emulator, Report};
pub use rules::{Rule, RuleInfo, Violation};
pub use world::Event;
