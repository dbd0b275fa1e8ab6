//! The timer and work item DDIs as ndis-sys declares them have the WDK's
//! signatures (WDK 10.0.17763 and 10.0.22621 `km/ndis.h`, transcribed below
//! with the header's parameter names), and ndis-emu's import table binds
//! those names. The host build links the declarations to ndis-emu's
//! definitions by symbol name alone, so a wrong width here (ndis-sys once
//! declared NdisSetTimerObject's `MillisecondsPeriod` a ULONG; ndis.h has
//! `_In_opt_ LONG MillisecondsPeriod`) would otherwise go unnoticed.

// The header's parameter names, kept so each type reads like its ndis.h line.
#![allow(non_snake_case)]

use ndis_sys::*;

ndis_sys::ndis_abi_fn_types! {
    /// `NDIS_STATUS NdisAllocateTimerObject(NDIS_HANDLE NdisHandle,
    /// PNDIS_TIMER_CHARACTERISTICS TimerCharacteristics, PNDIS_HANDLE pTimerObject)`.
    type AllocateTimerObject = fn(NdisHandle: NDIS_HANDLE, TimerCharacteristics: PNDIS_TIMER_CHARACTERISTICS, pTimerObject: PNDIS_HANDLE) -> NDIS_STATUS;
    /// `BOOLEAN NdisSetTimerObject(NDIS_HANDLE TimerObject, LARGE_INTEGER DueTime,
    /// LONG MillisecondsPeriod, PVOID FunctionContext)`.
    type SetTimerObject = fn(TimerObject: NDIS_HANDLE, DueTime: LARGE_INTEGER, MillisecondsPeriod: LONG, FunctionContext: PVOID) -> BOOLEAN;
    /// `BOOLEAN NdisCancelTimerObject(NDIS_HANDLE TimerObject)`.
    type CancelTimerObject = fn(TimerObject: NDIS_HANDLE) -> BOOLEAN;
    /// `VOID NdisFreeTimerObject(NDIS_HANDLE TimerObject)`.
    type FreeTimerObject = fn(TimerObject: NDIS_HANDLE);
    /// `NDIS_HANDLE NdisAllocateIoWorkItem(NDIS_HANDLE NdisObjectHandle)`.
    type AllocateIoWorkItem = fn(NdisObjectHandle: NDIS_HANDLE) -> NDIS_HANDLE;
    /// `VOID NdisQueueIoWorkItem(NDIS_HANDLE NdisIoWorkItemHandle,
    /// NDIS_IO_WORKITEM_ROUTINE Routine, PVOID WorkItemContext)`.
    type QueueIoWorkItem = fn(NdisIoWorkItemHandle: NDIS_HANDLE, Routine: NDIS_IO_WORKITEM_ROUTINE, WorkItemContext: PVOID);
    /// `VOID NdisFreeIoWorkItem(NDIS_HANDLE NdisIoWorkItemHandle)`.
    type FreeIoWorkItem = fn(NdisIoWorkItemHandle: NDIS_HANDLE);
}

/// Each declaration coerces to the header's function type (a compile error
/// otherwise: `MillisecondsPeriod: ULONG` does not coerce to `LONG`), and
/// the import table resolves the same name to the function the host build
/// links against.
#[test]
fn timer_and_work_item_imports_have_the_wdk_signatures() {
    let declared: [(&str, usize); 7] = [
        (
            "NdisAllocateTimerObject",
            NdisAllocateTimerObject as AllocateTimerObject as usize,
        ),
        ("NdisSetTimerObject", NdisSetTimerObject as SetTimerObject as usize),
        (
            "NdisCancelTimerObject",
            NdisCancelTimerObject as CancelTimerObject as usize,
        ),
        ("NdisFreeTimerObject", NdisFreeTimerObject as FreeTimerObject as usize),
        (
            "NdisAllocateIoWorkItem",
            NdisAllocateIoWorkItem as AllocateIoWorkItem as usize,
        ),
        ("NdisQueueIoWorkItem", NdisQueueIoWorkItem as QueueIoWorkItem as usize),
        ("NdisFreeIoWorkItem", NdisFreeIoWorkItem as FreeIoWorkItem as usize),
    ];
    for (name, linked) in declared {
        assert_eq!(
            ndis_emu::ffi::table::resolve("ndis.sys", name),
            Some(linked),
            "{name}: the import table and the host link disagree"
        );
    }
}
