//! The kernel runtime of covclient: its panic handler. Must not define the C
//! symbols the images need: the shared `kernel_rt` crate provides them for
//! covmini.sys and covclient.sys alike (`__CxxFrameHandler3`, bug check
//! 'RUNW'; `_fltused`; for ARM64 the C memory routines and `__chkstk`).
//!
//! In the Linux cross build a panic is a bug check: `PANIC_BUGCHECK`
//! ('RPNC') with the source file pointer and length, line and column
//! ([`kernel_rt::bug_check_on_panic`]). covclient denies
//! unwrap/expect/indexing/panic on handler paths, so this is the last
//! resort. The WDK build (feature `wdk`) takes wdk-panic's handler instead,
//! and `kernel_rt` (feature `wdk`) is empty.

#[cfg(not(feature = "wdk"))]
mod kernel {
    use core::panic::PanicInfo;

    /// 'RPNC' ("Rust PaNiC"), the code wdk-panic and covmini use.
    const PANIC_BUGCHECK: u32 = kernel_rt::RPNC;

    #[panic_handler]
    fn panic(info: &PanicInfo<'_>) -> ! {
        kernel_rt::bug_check_on_panic(PANIC_BUGCHECK, info)
    }
}

#[cfg(feature = "wdk")]
use wdk_panic as _;
