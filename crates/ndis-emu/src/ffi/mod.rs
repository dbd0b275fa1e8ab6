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
/// DDI calls inside a send handler (`data::ddi_called`, "NDIS's window")
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
                    crate::ffi::data::ddi_called();
                    crate::interleave::boundary(stringify!($name));
                    $body
                }
            )*
        }
    };
}

pub(crate) mod calls;
pub(crate) mod cm;
pub mod count;
pub(crate) mod data;
mod deferred;
mod events;
mod exports;
pub(crate) mod lookaside;
pub(crate) mod nbl;
pub mod params;
pub(crate) mod pnp;
pub mod raw;
pub(crate) mod shared;
pub mod table;
mod unimplemented;

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

/// Copies the first `len` bytes (at most `size_of::<T>()`) of a driver
/// structure into a zeroed `T`: NDIS reads only what the driver's header
/// announces, and so does the emulator.
///
/// # Safety
/// 1. `src` is non-null and readable for `len.min(size_of::<T>())` bytes;
/// 2. an all-zero `T` is valid (plain integers, raw pointers and
///    `Option<fn>` fields only), which [`ZeroValid`] promises.
pub(crate) unsafe fn read_prefix<T: ZeroValid>(src: *const T, len: usize) -> T {
    let n = len.min(core::mem::size_of::<T>());
    let mut out = core::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `src` is readable for n bytes (1.), `out` is writable for
    // size_of::<T>() >= n bytes, and the two do not overlap.
    unsafe { core::ptr::copy_nonoverlapping(src.cast::<u8>(), out.as_mut_ptr().cast::<u8>(), n) };
    // SAFETY: zero bytes are a valid T (2.) and any byte pattern the driver
    // wrote into a field of these plain-data types is too.
    unsafe { out.assume_init() }
}

/// Types for which all-zero bytes (and any bytes) are a valid value.
///
/// # Safety
/// Implement only for `repr(C)` structs of integers, raw pointers and
/// `Option<fn>` (whose zero is `None`).
pub(crate) unsafe trait ZeroValid: Copy {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER (integers), UCHAR/ULONG
// integers and Option<fn> handlers only.
unsafe impl ZeroValid for ndis_sys::NDIS_MINIPORT_DRIVER_CHARACTERISTICS {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, a ULONG and Option<fn>
// handlers only.
unsafe impl ZeroValid for ndis_sys::NDIS_MINIPORT_CO_CHARACTERISTICS {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, a ULONG and Option<fn>
// handlers only.
unsafe impl ZeroValid for ndis_sys::NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, an NDIS_HANDLE (raw
// pointer) and integers (the C enum NDIS_INTERFACE_TYPE is an i32 alias).
unsafe impl ZeroValid for ndis_sys::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, integers (its C enums
// are i32/u16 aliases), UCHAR arrays and raw pointers only.
unsafe impl ZeroValid for ndis_sys::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {}
// SAFETY: a repr(C) struct of three integers (UCHAR, UCHAR, USHORT).
unsafe impl ZeroValid for ndis_sys::NDIS_OBJECT_HEADER {}
// SAFETY: a repr(C) struct of three ULONGs (NDIS_AF is a ULONG alias).
unsafe impl ZeroValid for ndis_sys::CO_ADDRESS_FAMILY {}

pub(crate) use crate::trace::tag_str;
