//! `KeBugCheckEx` as a loaded image sees it: the loader binds the image's
//! `ntoskrnl.exe!KeBugCheckEx` here instead of straight to the emulator's.
//! This says what the image knows and the emulator does not: where in the
//! image the call came from, and what covmini's (and windows-drivers-rs's)
//! own codes mean: `'RPNC'` is a Rust panic whose parameters are the source
//! file (pointer, length), line and column, read back from the image;
//! `'RUNW'` is an unwind reaching `__CxxFrameHandler3` in a panic=abort
//! image. It repeats the driver's last debug output lines (where covmini's
//! panic handler prints the panic message). It then hands over to the emulator's `KeBugCheckEx`, which records
//! the bug check as a violation, prints the violations so far and ends the
//! process (exit code 101).

use core::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndis_sys::{ULONG, ULONG_PTR};

/// covmini's panic bug check, `'RPNC'` (src/ffi/runtime.rs, passed to crates/kernel-rt).
pub const RUST_PANIC: u32 = u32::from_be_bytes(*b"RPNC");
/// covmini's unwind bug check, `'RUNW'` (crates/kernel-rt, both drivers).
pub const RUST_UNWIND: u32 = u32::from_be_bytes(*b"RUNW");

/// How many of the driver's last debug lines a bug check repeats.
const LAST_DEBUG_LINES: usize = 3;

/// The return address of the last call to [`entry`], written by its
/// prologue.
static CALLER: AtomicUsize = AtomicUsize::new(0);

/// The address the loader binds `ntoskrnl.exe!KeBugCheckEx` to, if that is
/// the import.
pub(crate) fn resolve(module: &str, name: &str) -> Option<usize> {
    (module.eq_ignore_ascii_case("ntoskrnl.exe") && name == "KeBugCheckEx").then_some(entry as *const () as usize)
}

/// What the report says about a bug check with `code` and `params`, given a
/// way to read `len` bytes of the image at an address (`None` when they do
/// not all lie in a readable part of the image).
pub(crate) fn decode(code: u32, params: [usize; 4], read: impl Fn(usize, usize) -> Option<Vec<u8>>) -> String {
    let mut out = String::new();
    match code {
        RUST_PANIC => {
            let [file, len, line, column] = params;
            let _ = write!(out, "'RPNC' = covmini's Rust panic");
            match (len <= 4096).then(|| read(file, len)).flatten() {
                Some(bytes) => {
                    let _ = write!(out, " at {}:{line}:{column}", String::from_utf8_lossy(&bytes));
                }
                None => {
                    let _ = write!(
                        out,
                        " at line {line}, column {column} (the file name at {file:#x}, {len} bytes, is not in the image)"
                    );
                }
            }
        }
        RUST_UNWIND => {
            let _ = write!(
                out,
                "'RUNW' = covmini's unwind bug check: __CxxFrameHandler3 was reached, so something unwound \
                 in an image built with panic=abort"
            );
        }
        _ => {
            let _ = write!(out, "code {code:#010x}, not one of covmini's own");
        }
    }
    out
}

/// The prologue: notes the return address (the image's call site), then
/// tail-jumps to [`bug_check`] with the arguments untouched.
#[unsafe(naked)]
unsafe extern "win64" fn entry() {
    core::arch::naked_asm!(
        "mov rax, [rsp]",
        "mov [rip + {caller}], rax",
        "jmp {body}",
        caller = sym CALLER,
        body = sym bug_check,
    );
}

/// The body: reports what the image-side view adds, then calls the
/// emulator's `KeBugCheckEx`, which does not return.
unsafe extern "win64" fn bug_check(code: ULONG, p1: ULONG_PTR, p2: ULONG_PTR, p3: ULONG_PTR, p4: ULONG_PTR) -> ! {
    let caller = CALLER.load(Ordering::Relaxed);
    let (name, from) = super::crash::locate(caller);
    let what = decode(code, [p1, p2, p3, p4], super::crash::read_image);
    eprintln!(
        "ndis-emu: {name} called KeBugCheckEx({code:#010x}, {p1:#x}, {p2:#x}, {p3:#x}, {p4:#x}) from {from}: {what}"
    );
    // covmini's panic handler prints the message with DbgPrintEx first. The
    // image called here directly, so this thread holds no borrow of the world.
    let last = crate::world::try_with(|w| {
        let skip = w.debug_output.len().saturating_sub(LAST_DEBUG_LINES);
        w.debug_output.iter().skip(skip).cloned().collect::<Vec<_>>()
    })
    .unwrap_or_default();
    for line in last {
        eprintln!("ndis-emu:   debug output: {line}");
    }
    let emulator = crate::ffi::table::resolve("ntoskrnl.exe", "KeBugCheckEx");
    if let Some(address) = emulator {
        // SAFETY: the table's KeBugCheckEx is ndis-emu's `extern "win64"`
        // implementation with exactly this signature; it does not return.
        let f = unsafe {
            core::mem::transmute::<
                usize,
                unsafe extern "win64" fn(ULONG, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR) -> !,
            >(address)
        };
        // SAFETY: the arguments are the image's, passed on unchanged, as the
        // image would have called it directly.
        unsafe { f(code, p1, p2, p3, p4) }
    }
    // SAFETY: _exit ends the process; reached only if the table lost
    // KeBugCheckEx, which a test rules out.
    unsafe { libc::_exit(101) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covmini_codes_are_decoded_and_others_are_not() {
        let image = b"....src/lib.rs....";
        let read = |address: usize, len: usize| image.get(address..address + len).map(<[u8]>::to_vec);
        let panic = decode(RUST_PANIC, [4, 10, 42, 7], read);
        assert!(
            panic.contains("'RPNC'") && panic.contains("Rust panic at src/lib.rs:42:7"),
            "{panic}"
        );
        let outside = decode(RUST_PANIC, [0x7fff_0000, 10, 42, 7], read);
        assert!(
            outside.contains("line 42, column 7") && outside.contains("not in the image"),
            "{outside}"
        );
        let unwind = decode(RUST_UNWIND, [0; 4], read);
        assert!(
            unwind.contains("'RUNW'") && unwind.contains("__CxxFrameHandler3"),
            "{unwind}"
        );
        let other = decode(0xdead_f1c5, [1, 2, 3, 4], read);
        assert_eq!(other, "code 0xdeadf1c5, not one of covmini's own");
        assert_eq!(RUST_PANIC, 0x5250_4E43);
    }

    #[test]
    fn only_ntoskrnl_kebugcheckex_is_rebound() {
        assert!(resolve("ntoskrnl.exe", "KeBugCheckEx").is_some());
        assert!(resolve("NTOSKRNL.EXE", "KeBugCheckEx").is_some());
        assert!(resolve("ndis.sys", "KeBugCheckEx").is_none());
        assert!(resolve("ntoskrnl.exe", "KeBugCheck").is_none());
        assert!(crate::ffi::table::resolve("ntoskrnl.exe", "KeBugCheckEx").is_some());
    }
}
