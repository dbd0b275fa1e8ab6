//! The kernel runtime of the Linux cross build (what `core` needs from a
//! `no_std` image and the kernel provides), as covmini's `ffi::runtime`:
//!
//! * a panic is a bug check (`KeBugCheckEx` with 'RPNC', the source file
//!   pointer and length, line and column); covclient denies
//!   unwrap/expect/indexing/panic on handler paths, so this is the last
//!   resort;
//! * `__CxxFrameHandler3` (named by `core`'s unwind tables; never reached
//!   with panic=abort) bug-checks with 'RUNW'; `_fltused` satisfies MSVC's
//!   float marker;
//! * the ARM64 image carries its own `memcpy`/`memmove`/`memset`/`memcmp`
//!   and `__chkstk`, as the WDK links ARM64 drivers with arm64rt.lib (the
//!   x64 image imports ntoskrnl's).
//!
//! The WDK build (feature `wdk`) takes wdk-panic's handler instead.
//! Duplicated from covmini on purpose for now: the driver crate cannot be a
//! dependency (it has its own DriverEntry and runtime); a shared kernel
//! runtime crate is the follow-up.

#[cfg(not(feature = "wdk"))]
mod kernel {
    use core::panic::PanicInfo;

    use ndis_sys::KeBugCheckEx;

    /// 'RPNC' ("Rust PaNiC"), the code wdk-panic and covmini use.
    const PANIC_BUGCHECK: u32 = u32::from_be_bytes(*b"RPNC");
    /// 'RUNW': an unwind was attempted in a panic=abort image.
    const UNWIND_BUGCHECK: u32 = u32::from_be_bytes(*b"RUNW");

    #[panic_handler]
    fn panic(info: &PanicInfo<'_>) -> ! {
        let (file, line, column) = info
            .location()
            .map_or(("<unknown>", 0, 0), |l| (l.file(), l.line(), l.column()));
        // SAFETY: KeBugCheckEx may be called at any IRQL and does not return;
        // the parameters are plain numbers (the file pointer is only shown).
        unsafe {
            KeBugCheckEx(
                PANIC_BUGCHECK,
                file.as_ptr() as usize,
                file.len(),
                line as usize,
                column as usize,
            )
        }
    }

    /// Never called (panic=abort); stops the machine with a distinct code if
    /// it ever is.
    #[unsafe(no_mangle)]
    pub extern "system" fn __CxxFrameHandler3() -> ! {
        // SAFETY: KeBugCheckEx may be called at any IRQL and does not return.
        unsafe { KeBugCheckEx(UNWIND_BUGCHECK, 0, 0, 0, 0) }
    }

    /// MSVC's floating-point marker; its value is unused.
    #[unsafe(no_mangle)]
    #[used]
    pub static _fltused: i32 = 0;
}

#[cfg(feature = "wdk")]
use wdk_panic as _;

/// The C memory routines of the ARM64 image: volatile byte loops, so the
/// compiler cannot turn them back into calls to themselves. covclient moves
/// only small structures with them.
#[cfg(all(target_arch = "aarch64", not(feature = "wdk")))]
mod mem {
    /// # Safety
    /// `dest` and `src` are valid for `n` bytes and do not overlap.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        for i in 0..n {
            // SAFETY: i < n, within `src` (caller's contract).
            let byte = unsafe { src.wrapping_add(i).read_volatile() };
            // SAFETY: i < n, within `dest`, which does not overlap `src`.
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
                // SAFETY: i < n, within `dest`; with dest <= src, dest[i] is
                // never a source byte still to be read.
                unsafe { dest.wrapping_add(i).write_volatile(byte) };
            }
        } else {
            for i in (0..n).rev() {
                // SAFETY: i < n; copying downwards never reads a byte already written.
                let byte = unsafe { src.wrapping_add(i).read_volatile() };
                // SAFETY: i < n, within `dest`; with dest > src, every source
                // byte above i has been read already.
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
            // SAFETY: i < n, within `a`.
            let x = unsafe { a.wrapping_add(i).read_volatile() };
            // SAFETY: i < n, within `b` (caller's contract).
            let y = unsafe { b.wrapping_add(i).read_volatile() };
            if x != y {
                return i32::from(x) - i32::from(y);
            }
        }
        0
    }
}

/// `__chkstk` of the ARM64 image: the stack probe for frames larger than a
/// page (`x15` = size / 16; only `x16`, `x17` clobbered; `sp` unchanged).
/// Touches each page from the top down, so an overflow faults on the guard
/// page. The contract and the code are covmini's `ffi::runtime::chkstk`.
#[cfg(all(target_arch = "aarch64", not(feature = "wdk")))]
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
