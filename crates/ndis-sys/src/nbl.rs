//! `NET_BUFFER_LIST`, `NET_BUFFER` and `MDL` (nbl.h, wdm.h), the flags of
//! the send/receive/return paths, and the NBL accessors the WDK writes as
//! macros.
//!
//! Layouts: field lists from the WDK headers \[H\]; x64 offsets \[C\] (the
//! `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)` reserved arrays are 16-byte
//! aligned on x64). The CoNDIS-relevant fields (contract §4.1) are `Next`,
//! `FirstNetBuffer`, `SourceHandle` and `Status` of the NBL, and the MDL chain
//! fields of the NET_BUFFER.

use crate::types::*;

/// `MDL` (wdm.h) \[H\]; 48 bytes on x64 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MDL {
    pub Next: *mut MDL,
    pub Size: CSHORT,
    pub MdlFlags: CSHORT,
    pub AllocationProcessorNumber: USHORT,
    pub Reserved: USHORT,
    pub Process: PVOID,
    pub MappedSystemVa: PVOID,
    pub StartVa: PVOID,
    pub ByteCount: ULONG,
    pub ByteOffset: ULONG,
}
pub type PMDL = *mut MDL;
assert_layout!(MDL, size = 48, {
    Next: 0, Size: 8, MdlFlags: 10, Process: 16, MappedSystemVa: 24, StartVa: 32,
    ByteCount: 40, ByteOffset: 44,
});
/// MDL flags (wdm.h) \[H\].
pub const MDL_MAPPED_TO_SYSTEM_VA: CSHORT = 0x0001;
pub const MDL_SOURCE_IS_NONPAGED_POOL: CSHORT = 0x0004;

/// `NET_BUFFER` \[H field list\]; x64 offsets \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_BUFFER {
    pub Next: *mut NET_BUFFER,
    pub CurrentMdl: PMDL,
    pub CurrentMdlOffset: ULONG,
    /// `union { ULONG DataLength; SIZE_T stDataLength; }`: the low 32 bits are
    /// DataLength on a little-endian machine.
    pub stDataLength: SIZE_T,
    pub MdlChain: PMDL,
    pub DataOffset: ULONG,
    /// The leading union (`NET_BUFFER_DATA` / `SLIST_HEADER Link` /
    /// `NET_BUFFER_HEADER`) is 48 bytes: DataOffset ends at 44 \[C\].
    pub _Pad0: ULONG,
    pub ChecksumBias: USHORT,
    pub Reserved: USHORT,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub NdisReserved: NblReserved<2>,
    pub ProtocolReserved: NblReserved<6>,
    pub MiniportReserved: NblReserved<4>,
    pub DataPhysicalAddress: NDIS_PHYSICAL_ADDRESS,
    pub SharedMemoryInfo: PVOID,
}
pub type PNET_BUFFER = *mut NET_BUFFER;
assert_layout!(NET_BUFFER, size = 176, {
    Next: 0, CurrentMdl: 8, CurrentMdlOffset: 16, stDataLength: 24, MdlChain: 32,
    DataOffset: 40, ChecksumBias: 48, Reserved: 50, NdisPoolHandle: 56,
    NdisReserved: 64, ProtocolReserved: 80, MiniportReserved: 128,
    DataPhysicalAddress: 160, SharedMemoryInfo: 168,
});

/// `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) PVOID Xxx[N]`: 16-byte
/// aligned on x64 (`MEMORY_ALLOCATION_ALIGNMENT` = 16) \[H\].
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct NblReserved<const N: usize>(pub [PVOID; N]);

/// The `NDIS_NET_BUFFER_LIST_INFO` index of the cancel id, read by
/// `NDIS_GET_NET_BUFFER_LIST_CANCEL_ID` \[H: WDK nblinfo.h enumerator order,
/// cross-checked against PDB type dumps of ndis.sys].
pub const NetBufferListCancelId: usize = 5;
/// `MediaSpecificInformation` index \[H, as above\].
pub const MediaSpecificInformation: usize = 6;
/// `MaxNetBufferListInfo` for a header compiled for NDIS 6.30 on x64/ARM64:
/// 24 \[C from the \[H\] enumerator list of nblinfo.h: 6.0 has 11, 6.1 13,
/// 6.20 18, 6.30 24, 6.50 26, 6.80+ 27]. NBLs are allocated by NDIS (or
/// ndis-emu), never by covmini, so only the indices above bind the driver.
pub const MaxNetBufferListInfo: usize = 24;

/// `NET_BUFFER_LIST` \[H field list, WDK nbl.h\]; x64 offsets \[H: PDB type
/// dumps of ndis.sys, Windows 10 x64]; sizeof 336 for NDIS 6.30 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_BUFFER_LIST {
    pub Next: *mut NET_BUFFER_LIST,
    pub FirstNetBuffer: PNET_BUFFER,
    pub Context: PVOID,
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub NdisReserved: NblReserved<2>,
    pub ProtocolReserved: NblReserved<4>,
    pub MiniportReserved: NblReserved<2>,
    pub Scratch: PVOID,
    pub SourceHandle: NDIS_HANDLE,
    pub NblFlags: ULONG,
    pub ChildRefCount: LONG,
    pub Flags: ULONG,
    pub Status: NDIS_STATUS,
    pub NetBufferListInfo: [PVOID; MaxNetBufferListInfo],
}
pub type PNET_BUFFER_LIST = *mut NET_BUFFER_LIST;
assert_layout!(NET_BUFFER_LIST, size = 336, align = 16, {
    Next: 0, FirstNetBuffer: 8, Context: 16, ParentNetBufferList: 24,
    NdisPoolHandle: 32, NdisReserved: 48, ProtocolReserved: 64,
    MiniportReserved: 96, Scratch: 112, SourceHandle: 120, NblFlags: 128,
    ChildRefCount: 132, Flags: 136, Status: 140, NetBufferListInfo: 144,
});

// Send / send-complete / receive / return flags (ndis.h) [H].
pub const NDIS_SEND_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
pub const NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
pub const NDIS_RETURN_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
pub const NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
pub const NDIS_RECEIVE_FLAGS_RESOURCES: ULONG = 0x0000_0002;

/// `NET_BUFFER_LIST_POOL_PARAMETERS` \[H field list\]; x64 offsets \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_BUFFER_LIST_POOL_PARAMETERS {
    pub Header: crate::object::NDIS_OBJECT_HEADER,
    pub ProtocolId: UCHAR,
    pub fAllocateNetBuffer: BOOLEAN,
    pub ContextSize: USHORT,
    pub PoolTag: ULONG,
    pub DataSize: ULONG,
}
pub type PNET_BUFFER_LIST_POOL_PARAMETERS = *mut NET_BUFFER_LIST_POOL_PARAMETERS;
assert_layout!(NET_BUFFER_LIST_POOL_PARAMETERS, size = 16, {
    Header: 0, ProtocolId: 4, fAllocateNetBuffer: 5, ContextSize: 6, PoolTag: 8, DataSize: 12,
});
pub const NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: UCHAR = 1;
pub const NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: usize = 16;
/// `NDIS_PROTOCOL_ID_DEFAULT` \[H\].
pub const NDIS_PROTOCOL_ID_DEFAULT: UCHAR = 0;
