//! A control device: `NDIS_DEVICE_OBJECT_ATTRIBUTES` (what
//! `NdisRegisterDeviceEx` takes) and the parts of `IRP` and
//! `IO_STACK_LOCATION` a device dispatch routine reads: `MajorFunction`,
//! `Parameters.DeviceIoControl`, `AssociatedIrp.SystemBuffer`, `IoStatus`
//! and the cancel fields.
//!
//! Sources \[H\]: `NDIS_DEVICE_OBJECT_ATTRIBUTES`: WDK 10.0.17763 km/ndis.h
//! line 5045 and WDK 10.0.22621 km/ndis.h line 4737 (same field list).
//! `IRP`: km/wdm.h, 17763 line 28933, 22621 line 31068; `IO_STACK_LOCATION`:
//! 17763 line 29532, 22621 line 31710 (`POINTER_ALIGNMENT` is
//! `DECLSPEC_ALIGN(8)` on 64-bit targets, 22621 line 31698). 22621 adds
//! `IoRingContext` and `IoRing` as union alternatives of existing
//! pointer-sized members, which changes no offset. IRP_MJ_* and the
//! statuses: wdm.h and ntstatus.h \[H\].
//!
//! Offsets are \[C\] from those field lists, except the well-known x64
//! values they agree with (sizeof(IRP) = 0xD0, `Tail.Overlay.
//! CurrentStackLocation` at 0xB8, sizeof(IO_STACK_LOCATION) = 0x48, the
//! offsets `!irp` and `dt nt!_IRP` print with public symbols). 64-bit ARM
//! has the same layout: the same LLP64 model, and `KAPC` (the largest
//! `Tail` member, 88 bytes) has no over-aligned field. The IRP members a
//! driver never touches are opaque padding here; only the named fields are
//! for use. build/layout_table.rs lists every structure here (IRP,
//! IO_STACK_LOCATION, DRIVER_OBJECT as `DRIVER_OBJECT_FIELDS`, ...) for the
//! WDK build's check; an independent gcc compile of the 22621 definitions
//! agreed with every value asserted here (LAYOUT.md).

use crate::config::PNDIS_STRING;
use crate::etw::LPCGUID;
use crate::object::NDIS_OBJECT_HEADER;
use crate::types::*;

/// `DEVICE_OBJECT` is only ever handled by pointer here.
#[repr(C)]
pub struct DEVICE_OBJECT {
    _opaque: [u8; 0],
}
pub type PDEVICE_OBJECT = *mut DEVICE_OBJECT;

pub const NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1: UCHAR = 1;

/// `NDIS_DEVICE_OBJECT_ATTRIBUTES` \[H\] (`Header.Type` =
/// `NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES`, 0x85); offsets \[C\].
/// `MajorFunctions` points to `IRP_MJ_MAXIMUM_FUNCTION + 1` dispatch entries
/// (NULL ones get NDIS's default).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_DEVICE_OBJECT_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub DeviceName: PNDIS_STRING,
    pub SymbolicName: PNDIS_STRING,
    pub MajorFunctions: *mut Option<DRIVER_DISPATCH>,
    pub ExtensionSize: ULONG,
    /// `PCUNICODE_STRING`.
    pub DefaultSDDLString: *const UNICODE_STRING,
    pub DeviceClassGuid: LPCGUID,
}
pub type PNDIS_DEVICE_OBJECT_ATTRIBUTES = *mut NDIS_DEVICE_OBJECT_ATTRIBUTES;
assert_layout!(NDIS_DEVICE_OBJECT_ATTRIBUTES, size = 56, align = 8, {
    Header: 0, DeviceName: 8, SymbolicName: 16, MajorFunctions: 24,
    ExtensionSize: 32, DefaultSDDLString: 40, DeviceClassGuid: 48,
});
/// Through `DeviceClassGuid` \[H, C\].
pub const NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1: usize = 56;

/// `IO_STATUS_BLOCK` (wdm.h) \[H\]: `union { NTSTATUS Status; PVOID Pointer; }`
/// then `ULONG_PTR Information`. The union is written as its pointer-sized
/// member; `Status` is its low 32 bits (little-endian), see [`IO_STATUS_BLOCK::set`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IO_STATUS_BLOCK {
    pub StatusOrPointer: ULONG_PTR,
    pub Information: ULONG_PTR,
}
assert_layout!(IO_STATUS_BLOCK, size = 16, align = 8, { StatusOrPointer: 0, Information: 8 });

impl IO_STATUS_BLOCK {
    /// The `Status` member.
    #[must_use]
    pub const fn status(&self) -> NTSTATUS {
        // CAST: the low 32 bits are `Status` (little-endian union).
        self.StatusOrPointer as u32 as NTSTATUS
    }

    /// Sets `Status` (clearing the rest of the union) and `Information`.
    pub const fn set(&mut self, status: NTSTATUS, information: ULONG_PTR) {
        // CAST: NTSTATUS bits stored in the low half, sign not extended.
        self.StatusOrPointer = status as u32 as ULONG_PTR;
        self.Information = information;
    }
}

ndis_abi_fn_types! {
    /// `DRIVER_DISPATCH` (wdm.h) \[H\].
    pub type DRIVER_DISPATCH = fn(DeviceObject: PDEVICE_OBJECT, Irp: PIRP) -> NTSTATUS;
    /// `DRIVER_CANCEL` (wdm.h) \[H\]: called with the cancel spin lock held,
    /// which the routine releases with `IoReleaseCancelSpinLock(Irp->CancelIrql)`.
    pub type DRIVER_CANCEL = fn(DeviceObject: PDEVICE_OBJECT, Irp: PIRP);
}

/// `IRP` (wdm.h) \[H field list\]; x64 offsets \[C\]. `DECLSPEC_ALIGN(
/// MEMORY_ALLOCATION_ALIGNMENT)`: 16-byte aligned.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct IRP {
    pub Type: CSHORT,
    pub Size: USHORT,
    pub MdlAddress: PVOID,
    pub Flags: ULONG,
    /// `union { PIRP MasterIrp; LONG IrpCount; PVOID SystemBuffer; }`: the
    /// buffered-I/O buffer of `METHOD_BUFFERED` IOCTLs.
    pub AssociatedIrp_SystemBuffer: PVOID,
    pub ThreadListEntry: LIST_ENTRY,
    pub IoStatus: IO_STATUS_BLOCK,
    pub RequestorMode: CHAR,
    pub PendingReturned: BOOLEAN,
    pub StackCount: CHAR,
    pub CurrentLocation: CHAR,
    /// Set by the I/O manager when the IRP is cancelled.
    pub Cancel: BOOLEAN,
    /// The IRQL to pass to `IoReleaseCancelSpinLock` in a cancel routine.
    pub CancelIrql: KIRQL,
    pub ApcEnvironment: CHAR,
    pub AllocationFlags: UCHAR,
    pub UserIosb: PVOID,
    pub UserEvent: PVOID,
    /// `union Overlay` (two pointers or a LARGE_INTEGER).
    pub Overlay: [PVOID; 2],
    /// `__volatile PDRIVER_CANCEL CancelRoutine`: exchange it atomically
    /// (`IoSetCancelRoutine` is `InterlockedExchangePointer` on it).
    pub CancelRoutine: Option<DRIVER_CANCEL>,
    /// The user buffer (the output buffer of `METHOD_NEITHER`).
    pub UserBuffer: PVOID,
    /// `Tail.Overlay`: `DriverContext[4]` (a driver's while it owns the IRP),
    /// `Thread`, `AuxiliaryBuffer`, `ListEntry`, `CurrentStackLocation`,
    /// `OriginalFileObject`; `Tail` is 88 bytes (its `KAPC` member).
    pub Tail_Overlay_DriverContext: [PVOID; 4],
    pub Tail_Overlay_Thread: PVOID,
    pub Tail_Overlay_AuxiliaryBuffer: PVOID,
    pub Tail_Overlay_ListEntry: LIST_ENTRY,
    pub Tail_Overlay_CurrentStackLocation: PIO_STACK_LOCATION,
    pub Tail_Overlay_OriginalFileObject: PVOID,
    pub _TailApcRest: PVOID,
}
pub type PIRP = *mut IRP;
assert_layout!(IRP, size = 208, align = 16, {
    Type: 0, Size: 2, MdlAddress: 8, Flags: 16, AssociatedIrp_SystemBuffer: 24,
    ThreadListEntry: 32, IoStatus: 48, RequestorMode: 64, PendingReturned: 65,
    StackCount: 66, CurrentLocation: 67, Cancel: 68, CancelIrql: 69,
    ApcEnvironment: 70, AllocationFlags: 71, UserIosb: 72, UserEvent: 80,
    Overlay: 88, CancelRoutine: 104, UserBuffer: 112,
    Tail_Overlay_DriverContext: 120, Tail_Overlay_Thread: 152,
    Tail_Overlay_AuxiliaryBuffer: 160, Tail_Overlay_ListEntry: 168,
    Tail_Overlay_CurrentStackLocation: 184, Tail_Overlay_OriginalFileObject: 192,
});

/// `Parameters.DeviceIoControl` of `IO_STACK_LOCATION` \[H\]: the two later
/// ULONGs are `POINTER_ALIGNMENT` (8-byte aligned on 64-bit).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IO_STACK_LOCATION_DeviceIoControl {
    pub OutputBufferLength: ULONG,
    pub _Pad0: ULONG,
    pub InputBufferLength: ULONG,
    pub _Pad1: ULONG,
    pub IoControlCode: ULONG,
    pub _Pad2: ULONG,
    pub Type3InputBuffer: PVOID,
}
assert_layout!(IO_STACK_LOCATION_DeviceIoControl, size = 32, align = 8, {
    OutputBufferLength: 0, InputBufferLength: 8, IoControlCode: 16, Type3InputBuffer: 24,
});

/// `IO_STACK_LOCATION.Parameters` \[H\]: 32 bytes on 64-bit (its largest
/// members are four pointers, `Others`).
#[repr(C)]
#[derive(Clone, Copy)]
pub union IO_STACK_LOCATION_Parameters {
    pub DeviceIoControl: IO_STACK_LOCATION_DeviceIoControl,
    pub Others: [PVOID; 4],
}
assert_layout!(IO_STACK_LOCATION_Parameters, size = 32, align = 8);

/// `IO_STACK_LOCATION` (wdm.h) \[H field list\]; x64 offsets \[C\].
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IO_STACK_LOCATION {
    pub MajorFunction: UCHAR,
    pub MinorFunction: UCHAR,
    pub Flags: UCHAR,
    pub Control: UCHAR,
    pub Parameters: IO_STACK_LOCATION_Parameters,
    pub DeviceObject: PDEVICE_OBJECT,
    /// `PFILE_OBJECT`.
    pub FileObject: PVOID,
    pub CompletionRoutine: PVOID,
    pub Context: PVOID,
}
pub type PIO_STACK_LOCATION = *mut IO_STACK_LOCATION;
assert_layout!(IO_STACK_LOCATION, size = 72, align = 8, {
    MajorFunction: 0, MinorFunction: 1, Flags: 2, Control: 3, Parameters: 8,
    DeviceObject: 40, FileObject: 48, CompletionRoutine: 56, Context: 64,
});

/// `IoGetCurrentIrpStackLocation` (wdm.h, FORCEINLINE): the IRP's
/// `Tail.Overlay.CurrentStackLocation`.
///
/// # Safety
/// `irp` points to an IRP the caller was dispatched with.
#[inline]
#[must_use]
pub unsafe fn IoGetCurrentIrpStackLocation(irp: PIRP) -> PIO_STACK_LOCATION {
    // SAFETY: `irp` is a valid IRP (precondition); a plain field read.
    unsafe { (*irp).Tail_Overlay_CurrentStackLocation }
}

/// IRP major function codes (wdm.h) \[H\].
pub const IRP_MJ_CREATE: UCHAR = 0x00;
pub const IRP_MJ_CLOSE: UCHAR = 0x02;
pub const IRP_MJ_READ: UCHAR = 0x03;
pub const IRP_MJ_WRITE: UCHAR = 0x04;
pub const IRP_MJ_DEVICE_CONTROL: UCHAR = 0x0e;
pub const IRP_MJ_INTERNAL_DEVICE_CONTROL: UCHAR = 0x0f;
pub const IRP_MJ_CLEANUP: UCHAR = 0x12;
pub const IRP_MJ_MAXIMUM_FUNCTION: UCHAR = 0x1b;

/// `IO_NO_INCREMENT` (wdm.h) \[H\]: the priority boost of `IoCompleteRequest`.
pub const IO_NO_INCREMENT: CHAR = 0;

/// Casts the SDK's unsigned hex spelling to `NTSTATUS`.
const fn nt(v: u32) -> NTSTATUS {
    // CAST: NTSTATUS is the same 32 bits, reinterpreted as signed.
    v as NTSTATUS
}

/// NTSTATUS values (ntstatus.h, SDK 10.0.25290 shared/ntstatus.h lines
/// 2053, 2191, 2380, 4716) \[H\].
pub const STATUS_UNSUCCESSFUL: NTSTATUS = nt(0xC000_0001);
pub const STATUS_INVALID_DEVICE_REQUEST: NTSTATUS = nt(0xC000_0010);
pub const STATUS_BUFFER_TOO_SMALL: NTSTATUS = nt(0xC000_0023);
pub const STATUS_CANCELLED: NTSTATUS = nt(0xC000_0120);
/// ntstatus.h \[H\]: what a dispatch routine returns for an IRP it pended.
pub const STATUS_PENDING: NTSTATUS = nt(0x0000_0103);
/// ntstatus.h \[H\]: an open refused by the device's security descriptor.
pub const STATUS_ACCESS_DENIED: NTSTATUS = nt(0xC000_0022);
/// ntstatus.h \[H\]: an open of a name no device object has.
pub const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = nt(0xC000_0034);
/// ntstatus.h \[H\]: a handle that names no open file.
pub const STATUS_INVALID_HANDLE: NTSTATUS = nt(0xC000_0008);

/// `SL_PENDING_RETURNED` (wdm.h) \[H\]: the bit of `IO_STACK_LOCATION.
/// Control` that `IoMarkIrpPending` sets.
pub const SL_PENDING_RETURNED: UCHAR = 0x01;

/// `METHOD_BUFFERED` (devioctl.h) \[H\]: the transfer type in an IOCTL
/// code's low two bits.
pub const METHOD_BUFFERED: ULONG = 0;

/// `IoMarkIrpPending` (wdm.h, FORCEINLINE): sets `SL_PENDING_RETURNED` in
/// the current stack location's `Control`.
///
/// # Safety
/// `irp` points to an IRP the caller was dispatched with and still owns.
#[inline]
pub unsafe fn IoMarkIrpPending(irp: PIRP) {
    // SAFETY: the caller's IRP (precondition), dispatched to it.
    let stack = unsafe { IoGetCurrentIrpStackLocation(irp) };
    // SAFETY: the I/O manager set the current stack location before
    // dispatching the IRP; the caller owns the IRP and so the location.
    unsafe { (*stack).Control |= SL_PENDING_RETURNED };
}

/// `IoSetCancelRoutine` (wdm.h, FORCEINLINE): `InterlockedExchangePointer`
/// on `Irp->CancelRoutine`; returns the previous routine (None when there
/// was none or a cancel already took it).
///
/// # Safety
/// `irp` points to an IRP the caller owns (pended, not yet completed).
#[inline]
pub unsafe fn IoSetCancelRoutine(irp: PIRP, routine: Option<DRIVER_CANCEL>) -> Option<DRIVER_CANCEL> {
    // SAFETY: a live IRP (precondition); only the field's address is taken.
    let field = unsafe { &raw mut (*irp).CancelRoutine };
    // SAFETY: `CancelRoutine` is a pointer-sized, pointer-aligned field of a
    // live IRP, which every party exchanges atomically, so it may be viewed
    // as an AtomicPtr for the exchange.
    let slot = unsafe { &*field.cast::<core::sync::atomic::AtomicPtr<()>>() };
    let new = routine.map_or(core::ptr::null_mut(), |r| r as *mut ());
    let old = slot.swap(new, core::sync::atomic::Ordering::SeqCst);
    // SAFETY: the slot only ever holds NULL or a DRIVER_CANCEL, and
    // Option<fn> has the null-pointer niche, so the bits are a valid value.
    unsafe { core::mem::transmute::<*mut (), Option<DRIVER_CANCEL>>(old) }
}

ndis_abi_fn_types! {
    /// `DRIVER_UNLOAD` (wdm.h) \[H\]: a protocol driver's unload routine, which
    /// it stores in `DriverObject->DriverUnload` itself (NDIS 6 protocol
    /// characteristics have no unload member).
    pub type DRIVER_UNLOAD = fn(DriverObject: PDRIVER_OBJECT);
}

/// The fields of `DRIVER_OBJECT` (wdm.h: 22621 line 30844, 17763 line
/// 28731, same field list) \[H\]; x64 offsets \[C\], agreeing with the
/// well-known `DriverUnload` at 0x68 and `MajorFunction` at 0x70. A
/// `PDRIVER_OBJECT` from DriverEntry may be cast to a pointer to this; a
/// driver writes only `DriverUnload` (and, without NDIS's device helpers,
/// `MajorFunction`).
#[repr(C)]
pub struct DRIVER_OBJECT_FIELDS {
    pub Type: CSHORT,
    pub Size: CSHORT,
    pub DeviceObject: PDEVICE_OBJECT,
    pub Flags: ULONG,
    pub DriverStart: PVOID,
    pub DriverSize: ULONG,
    pub DriverSection: PVOID,
    /// `PDRIVER_EXTENSION`.
    pub DriverExtension: PVOID,
    pub DriverName: UNICODE_STRING,
    pub HardwareDatabase: *mut UNICODE_STRING,
    /// `PFAST_IO_DISPATCH`.
    pub FastIoDispatch: PVOID,
    pub DriverInit: Option<DRIVER_INITIALIZE>,
    /// `PDRIVER_STARTIO`.
    pub DriverStartIo: PVOID,
    pub DriverUnload: Option<DRIVER_UNLOAD>,
    pub MajorFunction: [Option<DRIVER_DISPATCH>; IRP_MJ_MAXIMUM_FUNCTION as usize + 1],
}
assert_layout!(DRIVER_OBJECT_FIELDS, size = 336, align = 8, {
    Type: 0, Size: 2, DeviceObject: 8, Flags: 16, DriverStart: 24, DriverSize: 32,
    DriverSection: 40, DriverExtension: 48, DriverName: 56, HardwareDatabase: 72,
    FastIoDispatch: 80, DriverInit: 88, DriverStartIo: 96, DriverUnload: 104,
    MajorFunction: 112,
});
