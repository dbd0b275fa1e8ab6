//! `NDIS_SPIN_LOCK`, NDIS events, NDIS I/O work items and NDIS timer
//! objects: their layouts and callback types. The spin-lock routines are
//! written out in [`crate::inline`], so this file depends on no import.
//!
//! Sources: ndis.h and wdm.h field lists and signatures \[H\]; x64 offsets
//! \[C\].
//!
//! The six `Ndis*SpinLock` routines are inline functions and macros over the
//! kernel's spin locks in the WDK \[H: WDK 10.0.17763 ndis.h\]: a C driver
//! built with a modern ndis.h never imports them from ndis.sys, it imports
//! `KeAcquireSpinLockRaiseToDpc` and friends from ntoskrnl.exe. They are
//! written out the same way in [`crate::inline`], so covmini imports what a C
//! MCM imports.

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
