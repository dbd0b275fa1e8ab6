//! The lookaside quarantine, a test-only switch of the host build: with it
//! on (`NDIS_EMU_QUARANTINE=1` in the environment, or
//! [`crate::Emulator::set_lookaside_quarantine`]), every entry a lookaside
//! list's default Allocate routine hands out lives at the start of pages of
//! its own, which are made inaccessible (PROT_NONE) while the entry is
//! cached on its list and for ever once it goes back to the pool (never
//! unmapped, so its address is never handed out again). A driver that reads
//! or writes a context after freeing it to a lookaside list then faults at
//! that very access, and the SIGSEGV handler here names the entry before
//! the process dies.
//!
//! Why memory protection: the poison the list writes into a cached entry
//! (`crate::ffi::lookaside`) shows a *write* after free at the next
//! allocation, and a poisoned value the driver passes back into a DDI as a
//! handle fails that DDI's handle check (`handle.valid`), but a driver that
//! only *reads* a freed context and keeps what it read (a flight record, a
//! trace line) leaves nothing a DDI sees. Without the switch nothing
//! changes: entries come from the heap as before.
//!
//! It owns the quarantined pages and the fault handler only: which entry is
//! cached or out is `crate::world::lookaside`'s, and the DDIs that move an
//! entry call [`close`], [`open`] and [`retire`]. What it must not do:
//! take the world's lock in the signal handler (it may be held), or
//! allocate there.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// How many entries can be quarantined at once (a slot stays taken once its
/// entry is retired, so a long run fills it; allocations past it come from
/// the heap, unguarded).
const SLOTS: usize = 1 << 15;
/// The page size of the host (x86-64 and AArch64 Linux hosts use 4 KiB;
/// checked against sysconf when the handler is installed).
const PAGE: usize = 4096;

/// A slot's state.
const EMPTY: u8 = 0;
/// Handed out to the driver: readable and writable.
const OUT: u8 = 1;
/// Cached on its list: PROT_NONE.
const CACHED: u8 = 2;
/// Given back to the pool: PROT_NONE for ever.
const RETIRED: u8 = 3;

// INVARIANT: a slot's BASE and LEN are written once, while its STATE is
// EMPTY, before the STATE store that publishes them (Release); readers load
// STATE first (Acquire). BASE is page-aligned and LEN a whole number of
// pages, mapped by `allocate` and never unmapped.
static BASE: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static LEN: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static STATE: [AtomicU8; SLOTS] = [const { AtomicU8::new(EMPTY) }; SLOTS];
/// The next slot `allocate` takes.
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// The switch, as the Emulator set it.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether new lookaside entries are quarantined.
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed) || std::env::var_os("NDIS_EMU_QUARANTINE").is_some_and(|v| v == "1")
}

/// Turns the quarantine on or off for entries allocated from now on.
pub(crate) fn set(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// The slot of the entry starting at `p`, if it is quarantined.
fn slot_of(p: usize) -> Option<usize> {
    let n = NEXT.load(Ordering::Acquire).min(SLOTS);
    (0..n).find(|&i| STATE[i].load(Ordering::Acquire) != EMPTY && BASE[i].load(Ordering::Relaxed) == p)
}

/// A zeroed entry of `size` bytes on pages of its own, or None (the table is
/// full, or mmap failed): the caller then allocates from the heap.
pub(crate) fn allocate(size: usize) -> Option<*mut u8> {
    install_handler();
    let len = size.div_ceil(PAGE).max(1).checked_mul(PAGE)?;
    let i = NEXT.fetch_add(1, Ordering::AcqRel);
    if i >= SLOTS {
        return None;
    }
    // SAFETY: an anonymous private mapping of `len` bytes at an address the
    // kernel picks; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    BASE[i].store(p as usize, Ordering::Relaxed);
    LEN[i].store(len, Ordering::Relaxed);
    STATE[i].store(OUT, Ordering::Release);
    Some(p.cast())
}

/// Whether `p` is a quarantined entry.
pub(crate) fn holds(p: usize) -> bool {
    slot_of(p).is_some()
}

/// Sets the protection of slot `i`'s pages and its state.
fn protect(i: usize, prot: libc::c_int, state: u8) {
    let (base, len) = (BASE[i].load(Ordering::Relaxed), LEN[i].load(Ordering::Relaxed));
    // SAFETY: `base..base + len` is the mapping `allocate` made for this
    // slot and never unmapped (the slot's INVARIANT); changing its
    // protection touches no other memory.
    let rc = unsafe { libc::mprotect(base as *mut libc::c_void, len, prot) };
    if rc == 0 {
        STATE[i].store(state, Ordering::Release);
    }
}

/// The entry at `p` was cached on its list: no access until [`open`].
pub(crate) fn close(p: usize) {
    if let Some(i) = slot_of(p) {
        protect(i, libc::PROT_NONE, CACHED);
    }
}

/// The entry at `p` leaves its list (allocated again, or freed with the
/// list): accessible again.
pub(crate) fn open(p: usize) {
    if let Some(i) = slot_of(p) {
        protect(i, libc::PROT_READ | libc::PROT_WRITE, OUT);
    }
}

/// The entry at `p` went back to the pool: no access, for ever.
pub(crate) fn retire(p: usize) {
    if let Some(i) = slot_of(p) {
        protect(i, libc::PROT_NONE, RETIRED);
    }
}

static INSTALL: Once = Once::new();

/// Installs [`on_fault`] for SIGSEGV (and SIGBUS), once per process.
fn install_handler() {
    INSTALL.call_once(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if usize::try_from(page).ok() != Some(PAGE) {
            // A host with bigger pages: whole pages still cover each entry
            // only if PAGE is a multiple of them; refuse rather than guess.
            set(false);
            return;
        }
        for sig in [libc::SIGSEGV, libc::SIGBUS] {
            // SAFETY: sigaction is plain data, for which all zeroes is a
            // valid value (empty mask, no flags, no handler).
            let mut act: libc::sigaction = unsafe { core::mem::zeroed() };
            act.sa_sigaction = on_fault as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND;
            // SAFETY: the mask of a live sigaction, written in place.
            unsafe { libc::sigemptyset(&raw mut act.sa_mask) };
            // SAFETY: a fully initialized sigaction whose handler is an
            // `extern "C"` function of the SA_SIGINFO shape, as its flags
            // say; the old action is not asked for (NULL).
            unsafe { libc::sigaction(sig, &raw const act, core::ptr::null_mut()) };
        }
    });
}

/// Writes `s` to stderr (async-signal-safe).
fn say(s: &[u8]) {
    // SAFETY: write(2) on fd 2 with a live buffer; async-signal-safe.
    let _ = unsafe { libc::write(2, s.as_ptr().cast(), s.len()) };
}

/// Writes `v` in hex to stderr (no allocation).
fn say_hex(v: usize) {
    let mut buf = [0_u8; 18];
    buf[0] = b'0';
    buf[1] = b'x';
    for (k, b) in buf[2..].iter_mut().enumerate() {
        let nibble = (v >> (4 * (15 - k))) & 0xF;
        *b = b"0123456789abcdef"[nibble];
    }
    say(&buf);
}

/// The SIGSEGV/SIGBUS handler: if the faulting address lies in a
/// quarantined entry, names it; then returns with the default action
/// restored (SA_RESETHAND), so the access faults again and the process
/// dies as it would have.
extern "C" fn on_fault(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let info = unsafe { &*info };
    // SAFETY: a SIGSEGV/SIGBUS siginfo_t, whose si_addr field is the one set.
    let addr = unsafe { info.si_addr() } as usize;
    let n = NEXT.load(Ordering::Acquire).min(SLOTS);
    for i in 0..n {
        let state = STATE[i].load(Ordering::Acquire);
        let (base, len) = (BASE[i].load(Ordering::Relaxed), LEN[i].load(Ordering::Relaxed));
        if (state == CACHED || state == RETIRED) && addr >= base && addr - base < len {
            say(b"ndis-emu: [lookaside.cached-entry-intact] the driver touched lookaside entry ");
            say_hex(base);
            say(b" at offset ");
            say_hex(addr - base);
            say(if state == CACHED {
                b" after freeing it to its list (use after free; NDIS_EMU_QUARANTINE)\n"
            } else {
                b" after it went back to the pool (use after free; NDIS_EMU_QUARANTINE)\n"
            });
            return;
        }
    }
    say(b"ndis-emu: a fault outside the lookaside quarantine at ");
    say_hex(addr);
    say(b"\n");
}
