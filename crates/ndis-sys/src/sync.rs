//! `NDIS_SPIN_LOCK` and its routines, NDIS events, NDIS I/O work items and
//! NDIS timer objects.
//!
//! Sources: ndis.h and wdm.h field lists and signatures \[H\]; x64 offsets
//! \[C\].
//!
//! The six `Ndis*SpinLock` routines are inline functions and macros over the
//! kernel's spin locks in the WDK \[H: WDK 10.0.17763 ndis.h\]: a C driver
//! built with a modern ndis.h never imports them from ndis.sys, it imports
//! `KeAcquireSpinLockRaiseToDpc` and friends from ntoskrnl.exe. They are
//! written out here the same way, so covmini imports what a C MCM imports.

use crate::imports::{
    KeAcquireSpinLockAtDpcLevel, KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock, KeReleaseSpinLockFromDpcLevel,
};
use crate::object::NDIS_OBJECT_HEADER;
use crate::types::*;

/// `NDIS_SPIN_LOCK { KSPIN_LOCK SpinLock; KIRQL OldIrql; }` \[H\]; 16 bytes \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SPIN_LOCK {
    pub SpinLock: KSPIN_LOCK,
    pub OldIrql: KIRQL,
}
pub type PNDIS_SPIN_LOCK = *mut NDIS_SPIN_LOCK;
assert_layout!(NDIS_SPIN_LOCK, size = 16, { SpinLock: 0, OldIrql: 8 });

/// The `SpinLock` member, the first field (offset 0, asserted above).
fn spin_lock(lock: PNDIS_SPIN_LOCK) -> *mut KSPIN_LOCK {
    lock.cast()
}

/// `NdisAllocateSpinLock` → `KeInitializeSpinLock`, whose inline form
/// (`KzInitializeSpinLock`) stores 0 \[H\].
///
/// # Safety
/// `lock` points to writable storage for an NDIS_SPIN_LOCK not in use.
#[inline]
pub unsafe fn NdisAllocateSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: writable and not in use (precondition).
    unsafe { (*lock).SpinLock = 0 };
}

/// `NdisFreeSpinLock`: "On the NT platform, there is nothing to do here" \[H\].
///
/// # Safety
/// `lock` is not held (kept for symmetry with the DDI's contract).
#[inline]
pub unsafe fn NdisFreeSpinLock(_lock: PNDIS_SPIN_LOCK) {}

/// `NdisAcquireSpinLock` → `KeAcquireSpinLock(&L->SpinLock, &L->OldIrql)`,
/// which on x64/ARM64 is `L->OldIrql = KeAcquireSpinLockRaiseToDpc(...)` \[H\].
///
/// # Safety
/// 1. `lock` was initialized with [`NdisAllocateSpinLock`] and is not held by
///    this CPU; 2. IRQL <= DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisAcquireSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: an initialized lock (1.); IRQL within the DDI's limit (2.).
    let old = unsafe { KeAcquireSpinLockRaiseToDpc(spin_lock(lock)) };
    // SAFETY: the lock is now held by this CPU, so OldIrql is ours to write.
    unsafe { (*lock).OldIrql = old };
}

/// `NdisReleaseSpinLock` → `KeReleaseSpinLock(&L->SpinLock, L->OldIrql)` \[H\].
///
/// # Safety
/// `lock` is held by this CPU through [`NdisAcquireSpinLock`].
#[inline]
pub unsafe fn NdisReleaseSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: held by this CPU (precondition), so OldIrql is stable.
    let old = unsafe { (*lock).OldIrql };
    // SAFETY: releases the lock this CPU holds, back to the saved IRQL.
    unsafe { KeReleaseSpinLock(spin_lock(lock), old) };
}

/// `NdisDprAcquireSpinLock` → `KeAcquireSpinLockAtDpcLevel` \[H\].
///
/// # Safety
/// An initialized lock not held by this CPU; IRQL = DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisDprAcquireSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: forwarded preconditions.
    unsafe { KeAcquireSpinLockAtDpcLevel(spin_lock(lock)) };
}

/// `NdisDprReleaseSpinLock` → `KeReleaseSpinLockFromDpcLevel` \[H\].
///
/// # Safety
/// Held by this CPU through [`NdisDprAcquireSpinLock`]; IRQL = DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisDprReleaseSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: forwarded preconditions.
    unsafe { KeReleaseSpinLockFromDpcLevel(spin_lock(lock)) };
}

// --- NDIS events ---------------------------------------------------------------
//
// `NdisInitializeEvent`, `NdisSetEvent`, `NdisResetEvent` and `NdisWaitEvent`
// are real ndis.sys exports (ndis.h declares them `EXPORT`; each Learn page
// names Ndis.lib), imported in `crate::imports`. An NDIS event is a kernel
// notification event: `NDIS_EVENT { KEVENT Event; }` \[H: ndis.h\], and
// `KEVENT { DISPATCHER_HEADER Header; }` \[H: wdm.h\].

/// `DISPATCHER_HEADER` (wdm.h) \[H\], the part every dispatcher object
/// starts with. Its first four bytes are a union in wdm.h (`Lock`, or the
/// `Type`/`Signalling`/`Size`/`Reserved1` bytes of events, or timer, queue,
/// thread and mutant views); ndis-sys flattens it to the event view, which
/// is what `KeInitializeEvent` writes. 24 bytes on x64 and ARM64 \[C\],
/// confirmed by the public symbol dumps of ntoskrnl.exe (Vista x64 onwards:
/// `DISPATCHER_HEADER` 0x18, `SignalState` at 4, `WaitListHead` at 8).
/// Drivers treat it as opaque: only the kernel (here, ndis-emu) writes it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DISPATCHER_HEADER {
    pub Type: UCHAR,
    pub Signalling: UCHAR,
    pub Size: UCHAR,
    pub Reserved1: UCHAR,
    pub SignalState: LONG,
    pub WaitListHead: LIST_ENTRY,
}
assert_layout!(DISPATCHER_HEADER, size = 24, align = 8, {
    Type: 0, Signalling: 1, Size: 2, Reserved1: 3, SignalState: 4, WaitListHead: 8,
});

/// `KEVENT { DISPATCHER_HEADER Header; }` (wdm.h) \[H\]; 24 bytes \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KEVENT {
    pub Header: DISPATCHER_HEADER,
}
assert_layout!(KEVENT, size = 24, align = 8, { Header: 0 });

/// `NDIS_EVENT { KEVENT Event; }` (ndis.h) \[H\]; 24 bytes \[C\]. Opaque to
/// drivers ("caller-supplied storage for the event object, which is opaque
/// to drivers", NdisInitializeEvent \[D\]): it lives in the driver's memory,
/// does not move while in use, and is reached only through the four
/// `Ndis*Event` functions.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_EVENT {
    pub Event: KEVENT,
}
pub type PNDIS_EVENT = *mut NDIS_EVENT;
assert_layout!(NDIS_EVENT, size = 24, align = 8, { Event: 0 });

impl NDIS_EVENT {
    /// Zeroed storage, to be set up in place by `NdisInitializeEvent`.
    #[must_use]
    pub const fn zeroed() -> Self {
        let list = LIST_ENTRY {
            Flink: core::ptr::null_mut(),
            Blink: core::ptr::null_mut(),
        };
        Self {
            Event: KEVENT {
                Header: DISPATCHER_HEADER {
                    Type: 0,
                    Signalling: 0,
                    Size: 0,
                    Reserved1: 0,
                    SignalState: 0,
                    WaitListHead: list,
                },
            },
        }
    }
}

/// `EventNotificationObject`, 0 in the kernel's `KOBJECTS` enumeration (not in
/// wdm.h; `dt nt!_KOBJECTS` with Microsoft's public ntoskrnl symbols shows it)
/// \[H: public symbols\]: the `Type` byte of a notification event, which is
/// what NdisInitializeEvent creates ("an event type of NotificationEvent and
/// an initial state of not-signaled" \[D\]).
pub const EventNotificationObject: UCHAR = 0;

ndis_abi_fn_types! {
    /// `NDIS_IO_WORKITEM_ROUTINE` \[H\].
    pub type NDIS_IO_WORKITEM_ROUTINE = fn(WorkItemContext: PVOID, NdisIoWorkItemHandle: NDIS_HANDLE);
    /// `NDIS_TIMER_FUNCTION` \[H\].
    pub type NDIS_TIMER_FUNCTION = fn(SystemSpecific1: PVOID, FunctionContext: PVOID, SystemSpecific2: PVOID, SystemSpecific3: PVOID);
}

/// `NDIS_TIMER_CHARACTERISTICS` \[H field list\]; x64 offsets \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_TIMER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub AllocationTag: ULONG,
    pub TimerFunction: Option<NDIS_TIMER_FUNCTION>,
    pub FunctionContext: PVOID,
}
pub type PNDIS_TIMER_CHARACTERISTICS = *mut NDIS_TIMER_CHARACTERISTICS;
assert_layout!(NDIS_TIMER_CHARACTERISTICS, size = 24, {
    Header: 0, AllocationTag: 4, TimerFunction: 8, FunctionContext: 16,
});
pub const NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1: usize = 24;
