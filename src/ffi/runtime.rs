//! The kernel runtime: what `core` needs from a `no_std` image and the
//! kernel provides.
//!
//! * Build 2 (Linux cross build): a panic is a bug check. covmini denies
//!   unwrap/expect/indexing/panic on every handler path, so this is the last
//!   resort: it prints the location and calls `KeBugCheckEx` with
//!   [`COVMINI_PANIC_BUGCHECK`], the source file pointer and length, and the
//!   line and column, so `!analyze -v` shows where.
//! * Build 2's global allocator is nonpaged pool, tag `CvmT` (`ffi::alloc`).
//! * Build 3 (WDK): wdk-panic provides the panic handler and wdk-alloc the
//!   global allocator, as in the windows-drivers-rs samples.
//! * Host build: std provides both (see `lib.rs`).

#[cfg(all(windows, not(feature = "wdk")))]
mod kernel {
    use core::panic::PanicInfo;

    use ndis_sys::KeBugCheckEx;

    use crate::ffi::trace::ERROR;

    /// 'RPNC' ("Rust PaNiC"), the code windows-drivers-rs's wdk-panic uses
    /// for the same purpose.
    pub const COVMINI_PANIC_BUGCHECK: u32 = u32::from_be_bytes(*b"RPNC");

    #[panic_handler]
    fn panic(info: &PanicInfo<'_>) -> ! {
        let (file, line, column) = info
            .location()
            .map_or(("<unknown>", 0, 0), |l| (l.file(), l.line(), l.column()));
        trace!(ERROR, "panic at {}:{}:{}: {}", file, line, column, info.message());
        // SAFETY: KeBugCheckEx may be called at any IRQL and does not return;
        // the parameters are plain numbers (the file pointer is only shown).
        unsafe {
            KeBugCheckEx(
                COVMINI_PANIC_BUGCHECK,
                file.as_ptr() as usize,
                file.len(),
                line as usize,
                column as usize,
            )
        }
    }

    /// Bug check code for [`__CxxFrameHandler3`] being reached: 'RUNW'.
    pub const COVMINI_UNWIND_BUGCHECK: u32 = u32::from_be_bytes(*b"RUNW");

    /// The prebuilt `core` is compiled with unwind tables that name the MSVC
    /// C++ personality routine. The image is built with panic=abort, so no
    /// unwind ever happens and this is never called; if it were, stopping the
    /// machine with a distinct code beats continuing. (wdk-sys provides the
    /// same symbol in the WDK build.)
    #[unsafe(no_mangle)]
    pub extern "system" fn __CxxFrameHandler3() -> ! {
        // SAFETY: KeBugCheckEx may be called at any IRQL and does not return.
        unsafe { KeBugCheckEx(COVMINI_UNWIND_BUGCHECK, 0, 0, 0, 0) }
    }

    /// MSVC's marker that floating point is used: `core::fmt`'s float code is
    /// linked (never called: covmini formats no floats). Its value is unused;
    /// the C runtime that normally defines it is not linked into a driver.
    #[unsafe(no_mangle)]
    #[used]
    pub static _fltused: i32 = 0;
}

/// The C memory routines of the ARM64 image (build 2). The x64 image imports
/// them from ntoskrnl.exe; for ARM64 no export listing confirms ntoskrnl has
/// them, and the WDK itself links ARM64 drivers with a static runtime
/// (arm64rt.lib), so covmini carries its own. Every access is volatile so the
/// compiler cannot recognise the loops as memcpy/memset and call them
/// recursively. covmini copies no payload, so these only move small structures.
#[cfg(all(windows, target_arch = "aarch64", not(feature = "wdk")))]
mod mem {
    /// # Safety
    /// `dest` and `src` are valid for `n` bytes and do not overlap.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        for i in 0..n {
            // SAFETY: i < n, within both buffers (caller's contract).
            let byte = unsafe { src.wrapping_add(i).read_volatile() };
            // SAFETY: i < n and `dest` is valid for writes of `n` bytes
            // (caller's contract); no overlap, so the write cannot clobber a
            // source byte still to be read.
            unsafe { dest.wrapping_add(i).write_volatile(byte) };
        }
        dest
    }

    /// # Safety
    /// `dest` and `src` are valid for `n` bytes; they may overlap.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        if (dest as usize) <= (src as usize) {
            for i in 0..n {
                // SAFETY: i < n; copying upwards never reads a byte already written.
                let byte = unsafe { src.wrapping_add(i).read_volatile() };
                // SAFETY: i < n and `dest` is valid for writes of `n` bytes
                // (caller's contract); with dest <= src, dest[i] is at or below
                // src[i], so it is never a source byte still to be read.
                unsafe { dest.wrapping_add(i).write_volatile(byte) };
            }
        } else {
            for i in (0..n).rev() {
                // SAFETY: i < n; copying downwards never reads a byte already written.
                let byte = unsafe { src.wrapping_add(i).read_volatile() };
                // SAFETY: i < n and `dest` is valid for writes of `n` bytes
                // (caller's contract); with dest > src, dest[i] is above
                // src[i], and every source byte above i has been read already.
                unsafe { dest.wrapping_add(i).write_volatile(byte) };
            }
        }
        dest
    }

    /// # Safety
    /// `dest` is valid for `n` bytes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
        for i in 0..n {
            // CAST: memset stores the low byte of `c`, as C does.
            // SAFETY: i < n, within the buffer.
            unsafe { dest.wrapping_add(i).write_volatile(c as u8) };
        }
        dest
    }

    /// # Safety
    /// `a` and `b` are valid for `n` bytes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        for i in 0..n {
            // SAFETY: i < n, within both buffers.
            let x = unsafe { a.wrapping_add(i).read_volatile() };
            // SAFETY: i < n and `b` is valid for reads of `n` bytes (caller's
            // contract).
            let y = unsafe { b.wrapping_add(i).read_volatile() };
            if x != y {
                return i32::from(x) - i32::from(y);
            }
        }
        0
    }
}

/// `__chkstk` for the ARM64 image of build 2: the stack probe the compiler
/// calls in the prologue of any function whose frame is larger than a page
/// (the dev profile's unoptimised frames, e.g. `party::add_leaf`; the release
/// image has none today). The WDK links ARM64 drivers with arm64rt.lib, which
/// supplies it (see `mem`); the x64 image imports ntoskrnl's.
///
/// The contract (Raymond Chen, "Windows stack limit checking retrospective:
/// arm64, also known as AArch64", The Old New Thing, 2026-03-20, and its
/// follow-up of 2026-06-17): on entry `x15` holds the caller's allocation in
/// 16-byte units; the routine validates the stack but does not move `sp`; it
/// may modify only `x16` and `x17` (and the flags), so the caller's argument
/// registers `x0`..`x7` survive.
///
/// A kernel stack is resident with a guard page below it and cannot grow,
/// so the probe's only job is to touch every page between `sp` and
/// `sp - size` from the top down, never more than a page apart: an overflow
/// then faults on the guard page (bug check 0x7F/0x50) instead of the
/// function writing past it into whatever lies below. Written from that
/// contract: `x16` counts the bytes still to probe, `x17` walks down a page
/// at a time, and the last probe is the new stack pointer itself.
#[cfg(all(windows, target_arch = "aarch64", not(feature = "wdk")))]
mod chkstk {
    core::arch::global_asm!(
        ".globl __chkstk",
        ".p2align 2",
        "__chkstk:",
        "    lsl   x16, x15, #4",
        "    mov   x17, sp",
        "0:",
        "    cmp   x16, #4096",
        "    b.ls  1f",
        "    sub   x17, x17, #4096",
        "    sub   x16, x16, #4096",
        "    ldr   xzr, [x17]",
        "    b     0b",
        "1:",
        "    sub   x17, x17, x16",
        "    ldr   xzr, [x17]",
        "    ret",
    );
}

/// `strlen` for the kernel images of build 2. Linking `alloc` (the VC
/// table's `Vec`, see `ffi::alloc`) pulls in an object of liballoc whose
/// `CString` code names `strlen`; the linker must resolve every symbol of an
/// object it includes, even though covmini never makes a C string and
/// `/OPT:REF` then drops that code and this function from the image. So this
/// definition satisfies the link and imports nothing (the x64 image imports
/// only what it calls from ntoskrnl.exe).
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
