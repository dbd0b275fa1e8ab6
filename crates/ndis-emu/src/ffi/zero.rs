//! Plain C structures read from the driver: [`ZeroValid`], the promise that
//! any bytes make a valid value, and [`read_prefix`], which reads only as
//! much of a structure as its header announces.
//!
//! It owns that promise and that read (the FFI seam). A leaf: it must name
//! no other module of the crate.
#![allow(unsafe_code)]

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
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, UCHAR/ULONG integers,
// an NDIS_STRING (two USHORTs and a raw pointer) and Option<fn> handlers.
unsafe impl ZeroValid for ndis_sys::NDIS_PROTOCOL_DRIVER_CHARACTERISTICS {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, a ULONG and Option<fn>
// handlers only.
unsafe impl ZeroValid for ndis_sys::NDIS_PROTOCOL_CO_CHARACTERISTICS {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, a ULONG and Option<fn>
// handlers only.
unsafe impl ZeroValid for ndis_sys::NDIS_CO_CLIENT_OPTIONAL_HANDLERS {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, raw pointers and UINTs.
unsafe impl ZeroValid for ndis_sys::NDIS_OPEN_PARAMETERS {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, integers (its C enums
// are integer aliases, NET_LUID a ULONG64), a UCHAR array, a BOOLEAN and
// raw pointers only.
unsafe impl ZeroValid for ndis_sys::NDIS_BIND_PARAMETERS {}
// SAFETY: a repr(C) struct of three integers (UCHAR, UCHAR, USHORT).
unsafe impl ZeroValid for ndis_sys::NDIS_OBJECT_HEADER {}
// SAFETY: a repr(C) struct of two ULONGs and a one-UCHAR array.
unsafe impl ZeroValid for ndis_sys::CO_SAP {}
// SAFETY: a repr(C) struct of three ULONGs (NDIS_AF is a ULONG alias).
unsafe impl ZeroValid for ndis_sys::CO_ADDRESS_FAMILY {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER, raw pointers and a
// ULONG only.
unsafe impl ZeroValid for ndis_sys::NDIS_DEVICE_OBJECT_ATTRIBUTES {}

/// An all-zero `T` (what NDIS hands a driver before it fills a block in).
pub(crate) fn zeroed<T: ZeroValid>() -> T {
    // SAFETY: ZeroValid promises all-zero bytes are a valid T.
    unsafe { core::mem::MaybeUninit::<T>::zeroed().assume_init() }
}
