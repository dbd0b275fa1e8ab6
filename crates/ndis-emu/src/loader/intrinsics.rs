//! The compiler intrinsics an x64 kernel image imports from `ntoskrnl.exe`
//! (`memcpy`, `memset`, `memmove`, `memcmp`, `__chkstk`): the loader's
//! private table, consulted after [`ffi::table`](crate::ffi::table).
//!
//! They are `extern "win64"` functions with Rust names, not `#[no_mangle]`:
//! in the host build the driver gets these from the C library, and exporting
//! `memcpy` from here would clash with it.

use core::ffi::{c_int, c_void};

/// The address of the intrinsic `module!name`, if it is one.
pub(crate) fn resolve(module: &str, name: &str) -> Option<usize> {
    if !module.eq_ignore_ascii_case("ntoskrnl.exe") {
        return None;
    }
    let address = match name {
        "memcpy" => memcpy as *const (),
        "memmove" => memmove as *const (),
        "memset" => memset as *const (),
        "memcmp" => memcmp as *const (),
        "__chkstk" => chkstk as *const (),
        _ => return None,
    };
    Some(address as usize)
}

/// `memcpy`: copies `n` bytes from `src` to `dst`, which do not overlap.
///
/// # Safety
/// C's contract: `dst` writable and `src` readable for `n` bytes, disjoint.
pub(crate) unsafe extern "win64" fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    if n != 0 {
        // SAFETY: the caller keeps memcpy's contract (above).
        unsafe { core::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
    }
    dst
}

/// `memmove`: copies `n` bytes from `src` to `dst`, which may overlap.
///
/// # Safety
/// C's contract: `dst` writable and `src` readable for `n` bytes.
pub(crate) unsafe extern "win64" fn memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    if n != 0 {
        // SAFETY: the caller keeps memmove's contract (above).
        unsafe { core::ptr::copy(src.cast::<u8>(), dst.cast::<u8>(), n) };
    }
    dst
}

/// `memset`: fills `n` bytes at `dst` with the low byte of `c`.
///
/// # Safety
/// C's contract: `dst` writable for `n` bytes.
pub(crate) unsafe extern "win64" fn memset(dst: *mut c_void, c: c_int, n: usize) -> *mut c_void {
    if n != 0 {
        // SAFETY: the caller keeps memset's contract (above).
        unsafe { core::ptr::write_bytes(dst.cast::<u8>(), c.to_le_bytes()[0], n) };
    }
    dst
}

/// `memcmp`: compares `n` bytes as unsigned chars; the sign of the first
/// difference, or 0.
///
/// # Safety
/// C's contract: `a` and `b` readable for `n` bytes.
pub(crate) unsafe extern "win64" fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    if n == 0 {
        return 0;
    }
    // SAFETY: `a` is readable for n > 0 bytes (the caller's contract) and
    // the driver does not write them during the call.
    let a = unsafe { core::slice::from_raw_parts(a.cast::<u8>(), n) };
    // SAFETY: `b` is readable for n > 0 bytes (the caller's contract) and
    // the driver does not write them during the call.
    let b = unsafe { core::slice::from_raw_parts(b.cast::<u8>(), n) };
    a.iter()
        .zip(b)
        .find(|(x, y)| x != y)
        .map_or(0, |(&x, &y)| c_int::from(x) - c_int::from(y))
}

/// `__chkstk`: the stack probe MSVC-ABI code calls before a frame larger
/// than a page. The frame size comes in RAX; on return RSP is unchanged and
/// only R10, R11 and the flags differ.
///
/// It touches every page from the caller's RSP down to `RSP - RAX`, one
/// page at a time, so a guard page is hit in order and a stack that grows on
/// demand grows. Unlike Windows' probe, which reads below RSP, it walks RSP
/// itself down before each touch and restores it afterwards, so every access
/// is inside the stack as memcheck sees it (valgrind stays clean).
///
/// ```text
/// r10 = rsp                 ; entry RSP (the return address)
/// r11 = rsp + 8 - rax       ; the lowest byte of the caller's new frame
/// loop: rsp -= 0x1000; if rsp < r11 -> last; touch [rsp]; loop
/// last: rsp = r11; touch [rsp]; rsp = r10; ret
/// ```
///
/// Never called from Rust: its address is bound into the image's IAT.
#[unsafe(naked)]
pub(crate) unsafe extern "win64" fn chkstk() {
    core::arch::naked_asm!(
        "mov r10, rsp",
        "lea r11, [rsp + 8]",
        "sub r11, rax",
        // A frame larger than the address space below RSP: probe down to 0
        // (a guard page ends it first).
        "jae 2f",
        "xor r11d, r11d",
        "2:",
        "sub rsp, 0x1000",
        "cmp rsp, r11",
        "jb 3f",
        "test byte ptr [rsp], 0",
        "jmp 2b",
        "3:",
        "mov rsp, r11",
        "test byte ptr [rsp], 0",
        "mov rsp, r10",
        "ret",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_five_intrinsics_of_ntoskrnl_only() {
        for name in ["memcpy", "memmove", "memset", "memcmp", "__chkstk"] {
            assert!(resolve("ntoskrnl.exe", name).is_some(), "{name}");
            assert!(resolve("NTOSKRNL.EXE", name).is_some(), "{name}");
            assert!(resolve("ndis.sys", name).is_none(), "{name}");
        }
        assert!(resolve("ntoskrnl.exe", "strlen").is_none());
    }

    #[test]
    fn mem_functions_follow_c() {
        let mut buf = *b"abcdefgh";
        let src = *b"XYZ";
        // SAFETY: both buffers are live for the lengths given.
        let r = unsafe { memcpy(buf.as_mut_ptr().cast(), src.as_ptr().cast(), 3) };
        assert_eq!(r, buf.as_mut_ptr().cast());
        assert_eq!(&buf, b"XYZdefgh");
        // SAFETY: overlapping ranges inside `buf`, which memmove allows.
        unsafe { memmove(buf.as_mut_ptr().wrapping_add(1).cast(), buf.as_ptr().cast(), 4) };
        assert_eq!(&buf, b"XXYZdfgh");
        // SAFETY: `buf` is writable for 8 bytes.
        unsafe { memset(buf.as_mut_ptr().cast(), 0x141, 2) };
        assert_eq!(&buf, b"AAYZdfgh");
        let (a, b) = (*b"abc\x01", *b"abc\xff");
        // SAFETY: both are readable for 4 bytes.
        assert!(unsafe { memcmp(a.as_ptr().cast(), b.as_ptr().cast(), 4) } < 0);
        // SAFETY: the same two 4-byte arrays, swapped: readable for 4 bytes.
        assert!(unsafe { memcmp(b.as_ptr().cast(), a.as_ptr().cast(), 4) } > 0);
        // SAFETY: the same 4-byte arrays, readable for the 3 bytes compared.
        assert_eq!(unsafe { memcmp(a.as_ptr().cast(), b.as_ptr().cast(), 3) }, 0);
        // SAFETY: zero lengths touch nothing, even through NULL.
        unsafe {
            memcpy(core::ptr::null_mut(), core::ptr::null(), 0);
        }
        // SAFETY: a zero length reads nothing (memcmp returns before making
        // a slice), even through NULL.
        assert_eq!(unsafe { memcmp(core::ptr::null(), core::ptr::null(), 0) }, 0);
    }

    /// Calls `__chkstk` with `size` in RAX the way compiled code does and
    /// returns (RSP before, RSP after, the callee-saved and argument
    /// registers before/after as equal).
    fn probe(size: usize) -> (usize, usize, bool) {
        let (before, after): (usize, usize);
        let (rcx, rdx, r8, r9): (usize, usize, usize, usize);
        // SAFETY: a call to chkstk with its register contract: size in RAX,
        // R10/R11 clobbered; the asm block may use the stack (no `nostack`),
        // and the probe touches at most `size` bytes of this thread's stack,
        // which the caller keeps well below its size.
        unsafe {
            core::arch::asm!(
                "mov {before}, rsp",
                "call {f}",
                "mov {after}, rsp",
                f = sym chkstk,
                before = out(reg) before,
                after = out(reg) after,
                inout("rax") size => _,
                inout("rcx") 0x1111usize => rcx,
                inout("rdx") 0x2222usize => rdx,
                inout("r8") 0x3333usize => r8,
                inout("r9") 0x4444usize => r9,
                out("r10") _,
                out("r11") _,
            );
        }
        (before, after, (rcx, rdx, r8, r9) == (0x1111, 0x2222, 0x3333, 0x4444))
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "__chkstk is naked assembly, called from inline assembly: Miri runs no assembly"
    )]
    fn chkstk_leaves_rsp_and_registers_as_it_found_them() {
        for size in [0, 8, 0xff8, 0x1000, 0x1008, 0x5000, 0x3_0000] {
            let (before, after, preserved) = probe(size);
            assert_eq!(before, after, "size {size:#x}");
            assert!(preserved, "size {size:#x}");
        }
    }
}
