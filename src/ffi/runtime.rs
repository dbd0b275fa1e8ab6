//! The kernel runtime: what `core` needs from a `no_std` image and the
//! kernel provides. Owns covmini's panic handler and, in the WDK build, its
//! choice of panic handler and global allocator; must not define the C
//! symbols the images need (they are the shared `kernel_rt` crate's).
//!
//! * Build 2 (Linux cross build): a panic is a bug check. covmini denies
//!   unwrap/expect/indexing/panic on every handler path, so this is the last
//!   resort: it prints the location and ends in
//!   [`kernel_rt::bug_check_on_panic`], which calls `KeBugCheckEx` with
//!   [`COVMINI_PANIC_BUGCHECK`] ('RPNC'), the source file pointer and length,
//!   and the line and column, so `!analyze -v` shows where. `kernel_rt`
//!   also provides `__CxxFrameHandler3` (bug check 'RUNW'), `_fltused` and,
//!   for ARM64, the C memory routines and `__chkstk`, for covmini.sys and
//!   covclient.sys alike. `strlen` stays here (`cstr`): only covmini links
//!   liballoc.
//! * Build 2's global allocator is nonpaged pool, tag `CvmT` (`ffi::alloc`).
//! * Build 3 (WDK): wdk-panic provides the panic handler and wdk-alloc the
//!   global allocator, as in the windows-drivers-rs samples; `kernel_rt`
//!   (feature `wdk`) is empty.
//! * Host build: std provides both (see `lib.rs`).

#[cfg(all(windows, not(feature = "wdk")))]
mod kernel {
    use core::panic::PanicInfo;

    use crate::ffi::trace::ERROR;

    /// 'RPNC' ("Rust PaNiC"), the code windows-drivers-rs's wdk-panic uses
    /// for the same purpose.
    pub const COVMINI_PANIC_BUGCHECK: u32 = kernel_rt::RPNC;

    #[panic_handler]
    fn panic(info: &PanicInfo<'_>) -> ! {
        let (file, line, column) = info
            .location()
            .map_or(("<unknown>", 0, 0), |l| (l.file(), l.line(), l.column()));
        trace!(ERROR, "panic at {}:{}:{}: {}", file, line, column, info.message());
        kernel_rt::bug_check_on_panic(COVMINI_PANIC_BUGCHECK, info)
    }
}

/// `strlen` for the kernel images of build 2. Linking `alloc` (the VC
/// table's `Vec`, see `ffi::alloc`) pulls in an object of liballoc whose
/// `CString` code names `strlen`; the linker must resolve every symbol of an
/// object it includes, even though covmini never makes a C string and
/// `/OPT:REF` then drops that code and this function from the image. So this
/// definition satisfies the link and imports nothing (the x64 image imports
/// only what it calls from ntoskrnl.exe). Not in `kernel_rt`: covclient
/// links no liballoc and should neither carry nor export it.
#[cfg(all(windows, not(feature = "wdk")))]
mod cstr {
    /// # Safety
    /// `s` points to a NUL-terminated string.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
        let mut n = 0;
        // SAFETY: every byte up to and including the NUL is readable
        // (caller's contract); reading stops at the NUL.
        while unsafe { s.wrapping_add(n).read_volatile() } != 0 {
            n += 1;
        }
        n
    }
}

#[cfg(all(windows, feature = "wdk"))]
mod kernel {
    use wdk_panic as _;

    #[global_allocator]
    static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;
}

#[cfg(all(not(windows), feature = "wdk"))]
compile_error!(
    "feature `wdk` is the Windows WDK build (cargo make on Windows); on other hosts use the default features"
);
