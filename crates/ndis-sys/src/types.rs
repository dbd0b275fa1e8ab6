//! Base types with Windows widths on every host.
//!
//! ULONG is 32 bits on Windows (LLP64) even where `core::ffi::c_ulong` is 64
//! bits (Linux), so nothing here uses `c_ulong`. C enums are `int`-sized.
//! Source: WDK `minwindef.h`/`ntdef.h`/`ndis.h` typedefs \[H\].

use core::ffi::c_void;

pub type UCHAR = u8;
pub type CHAR = i8;
pub type USHORT = u16;
pub type CSHORT = i16;
pub type ULONG = u32;
pub type LONG = i32;
pub type UINT = u32;
pub type ULONG64 = u64;
pub type ULONGLONG = u64;
pub type LONGLONG = i64;
pub type ULONG_PTR = usize;
pub type SIZE_T = usize;
pub type BOOLEAN = u8;
pub type PVOID = *mut c_void;
pub type PCSTR = *const u8;
pub type PUCHAR = *mut u8;
pub type PULONG = *mut ULONG;

/// An opaque handle NDIS and the driver hand each other.
pub type NDIS_HANDLE = *mut c_void;
pub type PNDIS_HANDLE = *mut NDIS_HANDLE;
/// A status: `NDIS_STATUS` is a `LONG` in the WDK; failures have the top bit set.
pub type NDIS_STATUS = i32;
pub type PNDIS_STATUS = *mut NDIS_STATUS;
pub type NTSTATUS = i32;
pub type KIRQL = u8;
pub type KSPIN_LOCK = ULONG_PTR;
pub type NDIS_AF = ULONG;
pub type NDIS_OID = ULONG;
pub type NDIS_PORT_NUMBER = ULONG;
pub type NET_IFINDEX = ULONG;
pub type NET_LUID = u64;
pub type NET_IFTYPE = u16;
pub type NDIS_PHYSICAL_ADDRESS = i64;
pub type LARGE_INTEGER = i64;

// C enums: `int` on every Windows compiler.
pub type NDIS_MEDIUM = i32;
pub type NDIS_PHYSICAL_MEDIUM = i32;
pub type NDIS_REQUEST_TYPE = i32;
pub type NDIS_INTERFACE_TYPE = i32;
pub type NDIS_HALT_ACTION = i32;
pub type NDIS_SHUTDOWN_ACTION = i32;
pub type NDIS_DEVICE_PNP_EVENT = i32;
pub type NDIS_MEDIA_CONNECT_STATE = i32;
pub type NDIS_MEDIA_DUPLEX_STATE = i32;
pub type NDIS_SUPPORTED_PAUSE_FUNCTIONS = i32;
pub type NET_IF_ACCESS_TYPE = i32;
pub type NET_IF_DIRECTION_TYPE = i32;
pub type NET_IF_CONNECTION_TYPE = i32;
pub type POOL_TYPE = i32;
pub type EX_POOL_PRIORITY = i32;

/// `DRIVER_OBJECT` is only ever handled by pointer here.
#[repr(C)]
pub struct DRIVER_OBJECT {
    _opaque: [u8; 0],
}
pub type PDRIVER_OBJECT = *mut DRIVER_OBJECT;

/// `UNICODE_STRING` (ntdef.h) \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    pub Length: USHORT,
    pub MaximumLength: USHORT,
    pub Buffer: *mut u16,
}
pub type PUNICODE_STRING = *mut UNICODE_STRING;
assert_layout!(UNICODE_STRING, size = 16, { Length: 0, MaximumLength: 2, Buffer: 8 });

/// `LIST_ENTRY` (ntdef.h) \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LIST_ENTRY {
    pub Flink: *mut LIST_ENTRY,
    pub Blink: *mut LIST_ENTRY,
}
assert_layout!(LIST_ENTRY, size = 16, { Flink: 0, Blink: 8 });

/// `GUID` (guiddef.h) \[H\]: 16 bytes, 4-byte aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GUID {
    pub Data1: u32,
    pub Data2: u16,
    pub Data3: u16,
    pub Data4: [u8; 8],
}
assert_layout!(GUID, size = 16, align = 4);

pub const TRUE: BOOLEAN = 1;
pub const FALSE: BOOLEAN = 0;

/// IRQLs (wdm.h) \[H\].
pub const PASSIVE_LEVEL: KIRQL = 0;
pub const APC_LEVEL: KIRQL = 1;
pub const DISPATCH_LEVEL: KIRQL = 2;

/// POOL_TYPE values (wdm.h) \[H\].
pub const NonPagedPool: POOL_TYPE = 0;
pub const NonPagedPoolNx: POOL_TYPE = 512;
/// `POOL_NX_ALLOCATION` \[H\]: ORed into lookaside Flags by the 6.30+ inline helper.
pub const POOL_NX_ALLOCATION: ULONG = 0x200;

/// EX_POOL_PRIORITY values (wdm.h) \[H\].
pub const LowPoolPriority: EX_POOL_PRIORITY = 0;
pub const NormalPoolPriority: EX_POOL_PRIORITY = 16;
pub const HighPoolPriority: EX_POOL_PRIORITY = 32;

/// Builds a pool tag the way C does with a multi-character literal:
/// `pool_tag(b"Cmvc")` shows as `Cmvc` in `!pool` and poolmon.
#[must_use]
pub const fn pool_tag(tag: &[u8; 4]) -> ULONG {
    u32::from_le_bytes(*tag)
}

ndis_abi_fn_types! {
    /// `DRIVER_INITIALIZE`: the signature of DriverEntry (wdm.h) \[H\].
    pub type DRIVER_INITIALIZE = fn(DriverObject: PDRIVER_OBJECT, RegistryPath: PUNICODE_STRING) -> NTSTATUS;
}
