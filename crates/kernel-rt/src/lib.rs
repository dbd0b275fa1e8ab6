//! # kernel-rt: the kernel runtime of covmini.sys and covclient.sys
//!
//! What `core` needs from a `no_std` kernel image and the kernel provides,
//! in the Linux cross build (build 2, `scripts/build-kernel.sh`), once for
//! both drivers:
//!
//! * `bug_check_on_panic` (Windows targets): a panic is a bug check. Each
//!   driver writes its own `#[panic_handler]` (a driver may trace first, and
//!   names its own code) and ends it with this function, which calls `KeBugCheckEx` with
//!   the driver's code, the source file pointer and length, and the line and
//!   column, so `!analyze -v` shows where. Both drivers deny
//!   unwrap/expect/indexing/panic on every handler path, so this is the last
//!   resort. [`RPNC`] is the code windows-drivers-rs's wdk-panic uses.
//! * `__CxxFrameHandler3`, bug check [`RUNW`]: the prebuilt `core` is
//!   compiled with unwind tables that name the MSVC C++ personality routine.
//!   The images are built with panic=abort, so no unwind ever happens and it
//!   is never called; if it were, stopping the machine with a distinct code
//!   beats continuing. `_fltused`: MSVC's floating-point marker.
//! * ARM64 only: `memcpy`, `memmove`, `memset`, `memcmp` and `__chkstk`. The
//!   x64 images import ntoskrnl's; for ARM64 no export listing confirms
//!   ntoskrnl has them, and the WDK itself links ARM64 drivers with a static
//!   runtime (arm64rt.lib), so the images carry their own.
//!
//! Not here: `strlen`, which only a driver that links liballoc needs
//! (covmini's `ffi::runtime`). cargo unifies this crate's features across
//! the one build of both drivers, so a feature could not keep it out of
//! covclient.sys's image and export table.
//!
//! Host build: empty (std provides all of it). WDK build (a driver's feature
//! `wdk`, which turns on this crate's `wdk`): empty too; wdk-panic provides
//! the panic handler, wdk-sys `__CxxFrameHandler3`, the WDK's runtime the
//! rest. A driver's global allocator is its own (covmini's `ffi::alloc`).
//!
//! Must not: hold state, allocate, or export anything a driver calls by
//! name other than `bug_check_on_panic` and the codes (the C symbols are
//! for the linker). Every function here may be reached at any IRQL.
#![no_std]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented
)]

/// 'RPNC' ("Rust PaNiC"): the panic bug-check code windows-drivers-rs's
/// wdk-panic uses, and covmini's and covclient's.
pub const RPNC: u32 = u32::from_be_bytes(*b"RPNC");

/// 'RUNW': the bug-check code of `__CxxFrameHandler3` being reached (an
/// unwind attempted in a panic=abort image).
pub const RUNW: u32 = u32::from_be_bytes(*b"RUNW");

#[cfg(all(windows, not(feature = "wdk")))]
pub use kernel::bug_check_on_panic;

#[cfg(all(windows, not(feature = "wdk")))]
mod kernel {
    use core::panic::PanicInfo;

    use ndis_sys::KeBugCheckEx;

    use crate::RUNW;

    /// The panic handler's last step: bug check `code` with parameters 1 and
    /// 2 the panic's source file (pointer, length), 3 its line and 4 its
    /// column (all 0, and "<unknown>", without a location).
    pub fn bug_check_on_panic(code: u32, info: &PanicInfo<'_>) -> ! {
        let (file, line, column) = info
            .location()
            .map_or(("<unknown>", 0, 0), |l| (l.file(), l.line(), l.column()));
        // SAFETY: KeBugCheckEx may be called at any IRQL and does not return;
        // the parameters are plain numbers (the file pointer is only shown).
        unsafe { KeBugCheckEx(code, file.as_ptr() as usize, file.len(), line as usize, column as usize) }
    }

    /// Named by `core`'s unwind tables; never called (panic=abort). Stops
    /// the machine with [`RUNW`] if it ever is. (wdk-sys provides the same
    /// symbol in the WDK build.)
    #[unsafe(no_mangle)]
    pub extern "system" fn __CxxFrameHandler3() -> ! {
        // SAFETY: KeBugCheckEx may be called at any IRQL and does not return.
        unsafe { KeBugCheckEx(RUNW, 0, 0, 0, 0) }
    }

    /// MSVC's marker that floating point is used: `core::fmt`'s float code is
    /// linked (never called: neither driver formats floats). Its value is
    /// unused; the C runtime that normally defines it is not linked into a
    /// driver.
    #[unsafe(no_mangle)]
    #[used]
    pub static _fltused: i32 = 0;
}

/// The C memory routines of the ARM64 images. Every access is volatile so
/// the compiler cannot recognise the loops as memcpy/memset and call them
/// recursively. Neither driver copies payload, so these only move small
/// structures.
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

/// `__chkstk` for the ARM64 images: the stack probe the compiler calls in
/// the prologue of any function whose frame is larger than a page (the dev
/// profile's unoptimised frames, e.g. covmini's `party::add_leaf`; the
/// release images have none today). The WDK links ARM64 drivers with
/// arm64rt.lib, which supplies it (see `mem`); the x64 images import
/// ntoskrnl's.
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
