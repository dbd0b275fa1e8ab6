//! # ndis-sys: the NDIS 6 CoNDIS ABI, by hand
//!
//! The types, constants, handler types and imported functions that a CoNDIS
//! miniport with an integrated call manager (an MCM) and a CoNDIS client
//! protocol driver (covclient: [`protocol`], [`device`]) need, with Windows widths
//! on every host and C names kept, so the code reads like the WDK pages.
//!
//! What this crate owns:
//! * `#[repr(C)]` structures whose x64 size and field offsets are asserted at
//!   compile time against the WDK values, each with the source of the value
//!   (see [`layout`] for the tags `\[H\]`, `\[D\]`, `\[C\]`, `\[I\]`);
//! * the calling convention seam: one set of macros ([`ndis_abi_fn_types!`],
//!   [`ndis_import!`], [`ndis_fn!`]) picks `extern "system"` on Windows targets
//!   and `extern "win64"` on x86_64 hosts, so one emulator ABI can bind the
//!   host build and the real `.sys`;
//! * the `NdisMCm*` macro names of the WDK as `#[inline]` functions over the
//!   real exports, and the FORCEINLINE lookaside helpers written out.
//!
//! What it must not do: hold any policy or state, allocate, or depend on any
//! crate. It is `no_std` and has no dependencies. Generated WDK bindings
//! (wdk-sys) are only used on Windows, by the driver's build script, to check
//! these layouts; nothing here comes from mingw-w64's NDIS-5-era `ndis.h`.
#![no_std]
// C names are kept on purpose: `NDIS_OBJECT_HEADER`, `MajorNdisVersion`, ...
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
// Constants and field names are the WDK's; their meaning is documented there.
// Every module says what it owns and where its values come from.
#![allow(missing_docs)]

#[macro_use]
mod abi;
#[macro_use]
pub mod layout;

pub mod bugcheck;
pub mod client_imports;
pub mod cm;
pub mod co;
pub mod config;
pub mod device;
pub mod etw;
pub mod imports;
pub mod indication;
pub mod inline;
pub mod lookaside;
pub mod mcm;
pub mod miniport;
pub mod nbl;
pub mod object;
pub mod oid;
pub mod protocol;
pub mod status;
pub mod sync;
pub mod types;

pub use bugcheck::*;
pub use client_imports::*;
pub use cm::*;
pub use co::*;
pub use config::*;
pub use device::*;
pub use etw::*;
pub use imports::*;
pub use indication::*;
pub use inline::*;
pub use lookaside::*;
pub use mcm::*;
pub use miniport::*;
pub use nbl::*;
pub use object::*;
pub use oid::*;
pub use protocol::*;
pub use status::*;
pub use sync::*;
pub use types::*;
