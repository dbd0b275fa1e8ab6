//! The flight recorder's format: what covmini records about itself, and the
//! dump blob it leaves in a crash dump.
//!
//! * [`event`]: the [`Event`] model (handler entry and return, DDI calls,
//!   state transitions, refusals) and its encoding into a record;
//! * [`layout`]: the blob's fixed `#[repr(C)]`-equivalent layout (header,
//!   records), its magic, version and capacity, and covmini's secondary dump
//!   data GUID;
//! * [`decode`]: the offline reader of a blob (`covmini-lab flight`).
//!
//! The ring itself, written at any IRQL, and the bug-check callback that
//! hands it to the crash dump are FFI and live in `ffi::flight`; this module
//! has no unsafe, no FFI and no allocation, so the decoder and the driver
//! share it.

pub mod decode;
pub mod event;
pub mod layout;

pub use event::Event;
