//! The control device's state: the client core (`crate::core`), the opens
//! of the device (FILE_OBJECT → `FileId`) and the pended WAIT_EVENTS IRPs,
//! behind one spin lock.
//!
//! One static, not a pool block: the core is tens of kilobytes (each open's
//! event queue is 8 KB), which must never be built on a kernel stack, and
//! a `const` initializer puts it in the image's nonpaged data instead. The
//! signature is checked on every entry, as a pool context's would be.
//!
//! Lock rule: [`locked`] takes the spin lock (raising to DISPATCH_LEVEL);
//! its closure must not call [`locked`] again, make an NDIS call, or
//! complete an IRP (NDIS may call back into covclient synchronously, and
//! IofCompleteRequest may run completion code): it decides, and the caller
//! acts after the lock is dropped.
//!
//! Must not: decide anything the core decides, or hold an IRP it has
//! completed.

use core::cell::UnsafeCell;

use ndis_sys::*;

use crate::core::{Core, FileId, MAX_FILES};
use crate::pool::SIG_CONTROL;

/// A pended WAIT_EVENTS.
///
/// INVARIANT: `irp` is an IRP covclient marked pending and holds (its
/// cancel routine is `waiter::cancel` or the cancel routine already ran and
/// waits for the lock to remove it); `out`/`out_len` are its system buffer
/// and output length.
#[derive(Clone, Copy)]
pub(super) struct Waiter {
    pub(super) file: FileId,
    pub(super) irp: PIRP,
    pub(super) max_events: u32,
    pub(super) out: *mut u8,
    pub(super) out_len: usize,
}

/// What the lock protects.
pub(super) struct Inner {
    pub(super) core: Core,
    /// Each open: its FILE_OBJECT's address and its core id.
    pub(super) files: [Option<(usize, FileId)>; MAX_FILES],
    pub(super) waiters: [Option<Waiter>; MAX_FILES],
}

/// The device state.
///
/// INVARIANT: `signature == SIG_CONTROL`; `inner` is touched only with
/// `lock` held (through [`locked`]); `lock` is an initialized NDIS spin
/// lock (a zero KSPIN_LOCK is the released state `NdisAllocateSpinLock`
/// writes, inline.rs).
pub(super) struct Control {
    signature: u32,
    lock: UnsafeCell<NDIS_SPIN_LOCK>,
    inner: UnsafeCell<Inner>,
}

// SAFETY: every access to the cells goes through `locked`, which holds the
// spin lock for the whole access, so no two CPUs touch them at once; the
// raw IRP and buffer pointers in `Inner` are only dereferenced by the
// glue under the rules of `waiter`.
unsafe impl Sync for Control {}

static CONTROL: Control = Control {
    signature: SIG_CONTROL,
    lock: UnsafeCell::new(NDIS_SPIN_LOCK {
        SpinLock: 0,
        OldIrql: 0,
    }),
    inner: UnsafeCell::new(Inner {
        core: Core::new(),
        files: [None; MAX_FILES],
        waiters: [None; MAX_FILES],
    }),
};

/// Runs `f` with the lock held; `None` if the signature is wrong (a
/// corrupted image: nothing is touched).
///
/// # IRQL
/// <= DISPATCH_LEVEL; runs `f` at DISPATCH_LEVEL. See the module's lock rule.
pub(super) fn locked<R>(f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
    if CONTROL.signature != SIG_CONTROL {
        return None;
    }
    let lock = CONTROL.lock.get();
    // SAFETY: an initialized spin lock (the type's invariant), not held by
    // this CPU (the lock rule forbids nesting); <= DISPATCH_LEVEL.
    unsafe { NdisAcquireSpinLock(lock) };
    // SAFETY: the lock is held until after `f` returns, so this is the only
    // reference to `inner` (the type's invariant).
    let r = f(unsafe { &mut *CONTROL.inner.get() });
    // SAFETY: held by this CPU through the acquire above.
    unsafe { NdisReleaseSpinLock(lock) };
    Some(r)
}

impl Inner {
    /// The open of FILE_OBJECT `file_object`, if the device knows it.
    pub(super) fn file_of(&self, file_object: PVOID) -> Option<FileId> {
        let key = file_object as usize;
        self.files
            .iter()
            .flatten()
            .find(|(fo, _)| *fo == key)
            .map(|(_, id)| *id)
    }
}
