//! Crash reporting for a loaded image: a handler for SIGSEGV, SIGBUS,
//! SIGILL and SIGFPE that, when the faulting instruction lies in the image,
//! prints `covmini.sys+0x<offset>` (with RIP and the fault address) and
//! exits with [`CRASH_EXIT_CODE`]; any other fault goes to whatever handled
//! the signal before (Rust's stack-overflow handler, or the default action).
//!
//! The handler runs on an alternate signal stack (so a stack overflow in
//! the driver is reported too) and makes only async-signal-safe calls:
//! `write(2)`, `sigaction(2)`, `raise(3)` and `_exit(2)`.

use core::ffi::{c_int, c_void};
use std::sync::OnceLock;

use super::error::LoadError;
use super::map::Mapping;

/// The exit code of a process whose loaded image faulted.
pub const CRASH_EXIT_CODE: i32 = 3;

/// The signals a faulting instruction raises.
const SIGNALS: [(c_int, &str); 4] = [
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
];

/// Bytes of the alternate signal stack the loader gives a thread that has
/// none.
const ALT_STACK: usize = 64 * 1024;

/// The loaded image as the handler sees it.
struct Region {
    base: usize,
    size: usize,
    name: Box<[u8]>,
}

static REGION: OnceLock<Region> = OnceLock::new();
/// The actions the handler replaced, in [`SIGNALS`] order.
static PREVIOUS: OnceLock<[libc::sigaction; 4]> = OnceLock::new();

/// Installs the handler for the image at `base..base + size`, named `name`
/// in reports. Once per process (the loader loads one image).
pub(crate) fn install(base: usize, size: usize, name: &str) -> Result<(), LoadError> {
    ensure_alt_stack()?;
    let _ = REGION.set(Region {
        base,
        size,
        name: name.as_bytes().into(),
    });
    let mut previous = [zeroed_action(); 4];
    for ((signal, _), old) in SIGNALS.iter().zip(previous.iter_mut()) {
        // SAFETY: a query (no new action) into a valid out-parameter.
        let rc = unsafe { libc::sigaction(*signal, core::ptr::null(), old) };
        if rc != 0 {
            return Err(os_error("sigaction"));
        }
    }
    if PREVIOUS.set(previous).is_err() {
        return Ok(());
    }
    let mut action = zeroed_action();
    action.sa_sigaction = on_fault as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `sa_mask` is a valid sigset_t to initialise.
    let rc = unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
    if rc != 0 {
        return Err(os_error("sigemptyset"));
    }
    for (signal, _) in SIGNALS {
        // SAFETY: `action` is fully initialised and names a handler with the
        // SA_SIGINFO signature that stays valid for the life of the process.
        let rc = unsafe { libc::sigaction(signal, &raw const action, core::ptr::null_mut()) };
        if rc != 0 {
            return Err(os_error("sigaction"));
        }
    }
    Ok(())
}

/// Gives the calling thread an alternate signal stack if it has none (Rust
/// gives one to the main thread and to the threads it spawns; a thread
/// started some other way may not have one). The stack is never freed.
pub fn ensure_alt_stack() -> Result<(), LoadError> {
    let mut current = zeroed_stack();
    // SAFETY: a query (no new stack) into a valid out-parameter.
    let rc = unsafe { libc::sigaltstack(core::ptr::null(), &raw mut current) };
    if rc != 0 {
        return Err(os_error("sigaltstack"));
    }
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return Ok(());
    }
    let memory = Mapping::new(ALT_STACK)?;
    let stack = libc::stack_t {
        ss_sp: memory.base() as *mut c_void,
        ss_flags: 0,
        ss_size: memory.len(),
    };
    // SAFETY: `stack` describes a read-write mapping that is never unmapped
    // (leaked below), large enough for the handler.
    let rc = unsafe { libc::sigaltstack(&raw const stack, core::ptr::null_mut()) };
    if rc != 0 {
        return Err(os_error("sigaltstack"));
    }
    let _ = memory.leak();
    Ok(())
}

fn zeroed_action() -> libc::sigaction {
    // SAFETY: sigaction is a C struct of integers, a sigset_t and an
    // optional function pointer, for all of which zero is valid.
    unsafe { core::mem::zeroed() }
}

fn zeroed_stack() -> libc::stack_t {
    // SAFETY: stack_t is a C struct of a pointer and integers; zero is valid.
    unsafe { core::mem::zeroed() }
}

fn os_error(call: &'static str) -> LoadError {
    LoadError::Os {
        call,
        errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
    }
}

/// The signal handler. Async-signal-safe: no allocation, no locks, no
/// formatting machinery; the report is built in a stack buffer.
extern "C" fn on_fault(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let rip = instruction_pointer(context);
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler,
    // alive during the handler.
    let info_ref = unsafe { &*info };
    // SAFETY: si_addr is meaningful for the four fault signals handled here
    // (for SIGILL and SIGFPE it is the faulting instruction).
    let address = unsafe { info_ref.si_addr() } as usize;
    if let Some(region) = REGION.get()
        && let Some(offset) = rip.checked_sub(region.base).filter(|&o| o < region.size)
    {
        let name = SIGNALS.iter().find(|(s, _)| *s == signal).map_or("signal", |(_, n)| n);
        let mut line = Line::default();
        line.push(b"ndis-emu: the driver crashed: ");
        line.push(name.as_bytes());
        line.push(b" at ");
        line.push(&region.name);
        line.push(b"+");
        line.hex(offset);
        line.push(b" (rip ");
        line.hex(rip);
        line.push(b", fault address ");
        line.hex(address);
        line.push(b")\n");
        line.write_stderr();
        // SAFETY: _exit is async-signal-safe and ends the process at once.
        unsafe { libc::_exit(CRASH_EXIT_CODE) };
    }
    chain(signal, info);
}

/// RIP at the fault, from the ucontext (0 if there is none).
fn instruction_pointer(context: *mut c_void) -> usize {
    if context.is_null() {
        return 0;
    }
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: for an SA_SIGINFO handler the third argument is the
    // interrupted thread's ucontext_t, valid during the handler.
    let gregs = unsafe { &(*context).uc_mcontext.gregs };
    let rip = gregs.get(libc::REG_RIP as usize).copied().unwrap_or(0);
    rip as usize
}

/// Hands a fault outside the image to the action installed before ours: put
/// it back and return, so the faulting instruction runs again under it (a
/// signal sent by kill is raised again instead).
fn chain(signal: c_int, info: *mut libc::siginfo_t) {
    let index = SIGNALS.iter().position(|(s, _)| *s == signal);
    let mut action = match (PREVIOUS.get(), index) {
        (Some(previous), Some(i)) => previous.get(i).copied().unwrap_or_else(zeroed_action),
        _ => zeroed_action(),
    };
    // An ignored fault would run again forever: take the default instead.
    if action.sa_sigaction == libc::SIG_IGN {
        action.sa_sigaction = libc::SIG_DFL;
    }
    // SAFETY: sigaction is async-signal-safe; `action` is a value the
    // kernel gave us (or SIG_DFL).
    let _ = unsafe { libc::sigaction(signal, &raw const action, core::ptr::null_mut()) };
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    if code <= 0 {
        // Sent by a process (SI_USER, SI_TKILL...): raise it again; it is
        // delivered under the restored action once this handler returns.
        // SAFETY: raise is async-signal-safe.
        let _ = unsafe { libc::raise(signal) };
    }
}

/// A fixed-size line for the handler.
struct Line {
    bytes: [u8; 256],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, text: &[u8]) {
        for &b in text {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    /// `0x` and the lowercase hex digits of `value`.
    fn hex(&mut self, value: usize) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.push(b"0x");
        let mut digits = [0u8; 16];
        let mut n = 0;
        let mut v = value;
        loop {
            if let Some(slot) = digits.get_mut(n) {
                *slot = DIGITS.get(v & 0xf).copied().unwrap_or(b'?');
            }
            n += 1;
            v >>= 4;
            if v == 0 || n == digits.len() {
                break;
            }
        }
        for i in (0..n).rev() {
            let d = digits.get(i).copied().unwrap_or(b'?');
            self.push(&[d]);
        }
    }

    fn write_stderr(&self) {
        let text = self.bytes.get(..self.len).unwrap_or_default();
        // SAFETY: write(2) is async-signal-safe; `text` is readable for its
        // length. A short or failed write loses part of a report about to end
        // the process anyway.
        let _ = unsafe { libc::write(libc::STDERR_FILENO, text.as_ptr().cast(), text.len()) };
    }
}

#[cfg(test)]
mod tests {
    use super::Line;

    #[test]
    fn lines_format_hex_without_allocating() {
        let mut line = Line::default();
        line.push(b"covmini.sys+");
        line.hex(0x1a2b);
        line.push(b" ");
        line.hex(0);
        line.push(b" ");
        line.hex(usize::MAX);
        assert_eq!(
            line.bytes.get(..line.len).unwrap(),
            b"covmini.sys+0x1a2b 0x0 0xffffffffffffffff"
        );
    }
}
