//! The calling-convention seam.
//!
//! Every NDIS and ntoskrnl function and every handler a driver registers uses
//! the Windows x64 calling convention. On Windows targets that is
//! `extern "system"`; on an x86_64 host (the host build that links against
//! ndis-emu, and the emulator that binds the real `.sys`) it is
//! `extern "win64"`. These macros are the only place that choice is made.
//! Other hosts fall back to `extern "C"`: the host build still links there,
//! but the PE loader (x86_64 only) cannot bind a real image.

/// Declares handler (function pointer) types with the Windows ABI.
///
/// ```text
/// ndis_abi_fn_types! {
///     pub type MINIPORT_HALT = fn(MiniportAdapterContext: NDIS_HANDLE, HaltAction: NDIS_HALT_ACTION);
/// }
/// ```
/// expands to `pub type MINIPORT_HALT = unsafe extern "system" fn(...)` on
/// Windows and `unsafe extern "win64" fn(...)` on x86_64 hosts.
#[macro_export]
macro_rules! ndis_abi_fn_types {
    ($($(#[$m:meta])* $vis:vis type $name:ident = fn($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)*) => {
        $(
            #[cfg(windows)]
            $(#[$m])* $vis type $name = unsafe extern "system" fn($($arg: $ty),*) $(-> $ret)?;
            #[cfg(all(not(windows), target_arch = "x86_64"))]
            $(#[$m])* $vis type $name = unsafe extern "win64" fn($($arg: $ty),*) $(-> $ret)?;
            #[cfg(all(not(windows), not(target_arch = "x86_64")))]
            $(#[$m])* $vis type $name = unsafe extern "C" fn($($arg: $ty),*) $(-> $ret)?;
        )*
    };
}

/// Declares functions imported from a kernel module.
///
/// On Windows targets the block is `#[link(name = "<module>", kind =
/// "raw-dylib", modifiers = "+verbatim")]`, so no import library (and no WDK)
/// is needed to link the kernel image. On other hosts the symbols are left for
/// the linker to resolve: ndis-emu defines every one of them.
#[macro_export]
macro_rules! ndis_import {
    ($module:literal { $($body:tt)* }) => {
        #[cfg(windows)]
        #[link(name = $module, kind = "raw-dylib", modifiers = "+verbatim")]
        unsafe extern "system" { $($body)* }
        #[cfg(all(not(windows), target_arch = "x86_64"))]
        unsafe extern "win64" { $($body)* }
        #[cfg(all(not(windows), not(target_arch = "x86_64")))]
        unsafe extern "C" { $($body)* }
    };
}

/// Defines functions with the Windows ABI: driver handlers handed to NDIS and
/// the emulator's implementations of NDIS functions.
///
/// Two forms. The trampoline form generates only the `extern` entry, whose
/// body calls an ordinary Rust function written outside any macro (so
/// rustfmt and code navigators see it), with the same arguments; that
/// function carries the handler's documentation and contract:
///
/// ```text
/// ndis_fn! {
///     pub unsafe fn covmini_halt(ctx: NDIS_HANDLE, action: NDIS_HALT_ACTION) => halt;
/// }
/// /// MiniportHaltEx. Runs at IRQL = PASSIVE_LEVEL.
/// unsafe fn halt(ctx: NDIS_HANDLE, action: NDIS_HALT_ACTION) { ... }
/// ```
///
/// The body form (`{ ... }` in place of `=> path;`) defines the `extern`
/// function with that body, as the emulator's DDI implementations do.
#[macro_export]
macro_rules! ndis_fn {
    ($($(#[$m:meta])* $vis:vis unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:path;)*) => {
        $(
            $crate::ndis_fn! {
                #[doc = concat!("The `extern` entry NDIS calls: a trampoline to [`", stringify!($imp), "`].")]
                $(#[$m])* $vis unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                    // SAFETY: NDIS calls this entry under the contract of
                    // the handler it is registered as, which is the
                    // contract of the function it names; passed on unchanged.
                    unsafe { $imp($($arg),*) }
                }
            }
        )*
    };
    ($($(#[$m:meta])* $vis:vis unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block)*) => {
        $(
            #[cfg(windows)]
            $(#[$m])* $vis unsafe extern "system" fn $name($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(all(not(windows), target_arch = "x86_64"))]
            $(#[$m])* $vis unsafe extern "win64" fn $name($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(all(not(windows), not(target_arch = "x86_64")))]
            $(#[$m])* $vis unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? $body
        )*
    };
}
