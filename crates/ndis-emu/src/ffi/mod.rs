//! The FFI seam of the emulator: the NDIS and ntoskrnl functions a driver
//! calls (exported `#[no_mangle] extern "win64"`, so the host build of a
//! driver links against them), the one table that lists them all (what the
//! PE loader binds a real image's imports to), and the calls into the
//! driver's handlers.
//!
//! Every function here validates what the driver passes before using it:
//! handles against the world's table, headers before the bytes they announce.
//! A pointer that is non-NULL but dangling cannot be detected in-process; it
//! is read at the offsets the contract allows, no further.
#![allow(unsafe_code)]

/// Defines DDIs the driver imports: as `ndis_fn!`, with the DDI prologue
/// as each one's first act: the DDI's call count ([`count`]), the count of
/// DDI calls inside a send handler (`crate::condis::window::ddi_called`, "NDIS's window")
/// and the interleaving hook (`crate::interleave::boundary`), so every DDI
/// call is a point where a test can stop the calling CPU before the DDI
/// does anything. Every `#[unsafe(no_mangle)]` function of this module is
/// defined with it (a test reads the sources to keep it so).
///
/// A DDI is never inlined into its caller: on Windows it is an import, a
/// call across a module boundary, and the host build (linked with LTO)
/// keeps that boundary so a profile tells the driver's instructions from
/// NDIS's (`scripts/bench-callgrind.sh`).
macro_rules! ddi_fn {
    ($($(#[$m:meta])* pub unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block)*) => {
        ndis_fn! {
            $(
                $(#[$m])* #[inline(never)] pub unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                    static CALLS: crate::ffi::count::Count = crate::ffi::count::Count::new(stringify!($name));
                    CALLS.hit();
                    crate::condis::window::ddi_called();
                    crate::interleave::boundary(stringify!($name));
                    $body
                }
            )*
        }
    };
}

pub(crate) mod block;
pub mod bugcheck_callbacks;
pub(crate) mod calls;
mod client;
mod client_calls;
pub(crate) mod cm;
pub mod count;
pub(crate) mod data;
mod deferred;
pub(crate) mod etw;
mod events;
mod exports;
pub(crate) mod io;
pub(crate) mod lookaside;
pub(crate) mod nbl;
pub(crate) mod oid_request;
pub mod params;
pub(crate) mod pnp;
mod protocol;
pub(crate) mod quarantine;
pub mod raw;
pub(crate) mod shared;
pub mod table;
mod unimplemented;
pub(crate) mod zero;

/// An `NDIS_CONFIGURATION_PARAMETER` that NdisReadConfiguration handed out
/// (crate::config keeps it until NdisCloseConfiguration). INVARIANT: the
/// pointer came from `Box::into_raw` and is freed exactly once, when this is
/// dropped; nothing else frees it.
#[derive(Debug)]
pub(crate) struct ParamBlock(*mut ndis_sys::NDIS_CONFIGURATION_PARAMETER);

// SAFETY: the block holds an integer (the emulator never stores a pointer in
// it) and is reached only by the holder of the world lock, or by the driver
// through the pointer it was given, as on Windows.
unsafe impl Send for ParamBlock {}

impl ParamBlock {
    pub(crate) fn new(block: ndis_sys::NDIS_CONFIGURATION_PARAMETER) -> Self {
        Self(Box::into_raw(Box::new(block)))
    }

    /// The address the driver reads.
    pub(crate) fn as_ptr(&self) -> *mut ndis_sys::NDIS_CONFIGURATION_PARAMETER {
        self.0
    }
}

impl Drop for ParamBlock {
    fn drop(&mut self) {
        // SAFETY: from Box::into_raw in `new`, freed only here (the invariant).
        drop(unsafe { Box::from_raw(self.0) });
    }
}
