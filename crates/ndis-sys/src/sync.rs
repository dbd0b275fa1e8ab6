//! `NDIS_SPIN_LOCK`, NDIS I/O work items and NDIS timer objects.
//!
//! Sources: ndis.h field lists and signatures [H]; x64 offsets [C].

use crate::object::NDIS_OBJECT_HEADER;
use crate::types::*;

/// `NDIS_SPIN_LOCK { KSPIN_LOCK SpinLock; KIRQL OldIrql; }` [H]; 16 bytes [C].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SPIN_LOCK {
    pub SpinLock: KSPIN_LOCK,
    pub OldIrql: KIRQL,
}
pub type PNDIS_SPIN_LOCK = *mut NDIS_SPIN_LOCK;
assert_layout!(NDIS_SPIN_LOCK, size = 16, { SpinLock: 0, OldIrql: 8 });

ndis_abi_fn_types! {
    /// `NDIS_IO_WORKITEM_ROUTINE` [H].
    pub type NDIS_IO_WORKITEM_ROUTINE = fn(WorkItemContext: PVOID, NdisIoWorkItemHandle: NDIS_HANDLE);
    /// `NDIS_TIMER_FUNCTION` [H].
    pub type NDIS_TIMER_FUNCTION = fn(SystemSpecific1: PVOID, FunctionContext: PVOID, SystemSpecific2: PVOID, SystemSpecific3: PVOID);
}

/// `NDIS_TIMER_CHARACTERISTICS` [H field list]; x64 offsets [C].
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
