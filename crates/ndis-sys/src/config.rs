//! Registry configuration: `NDIS_CONFIGURATION_OBJECT` and
//! `NDIS_CONFIGURATION_PARAMETER`, for NdisOpenConfigurationEx and
//! NdisReadConfiguration (the functions are in [`crate::imports`]).
//!
//! Sources: ndis.h field lists \[H\]; x64 offsets \[C\].

use crate::object::NDIS_OBJECT_HEADER;
use crate::types::*;

/// `NDIS_STRING` is a `UNICODE_STRING` in NDIS 6 drivers \[H\].
pub type NDIS_STRING = UNICODE_STRING;
pub type PNDIS_STRING = *mut NDIS_STRING;

/// `NDIS_CONFIGURATION_OBJECT { NDIS_OBJECT_HEADER Header; NDIS_HANDLE
/// NdisHandle; ULONG Flags; }` \[H\]: which registry location
/// NdisOpenConfigurationEx opens. With a MiniportAdapterHandle, the
/// adapter's software key, where the INF's `HKR` values of the install
/// section land.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_CONFIGURATION_OBJECT {
    pub Header: NDIS_OBJECT_HEADER,
    pub NdisHandle: NDIS_HANDLE,
    pub Flags: ULONG,
}
pub type PNDIS_CONFIGURATION_OBJECT = *mut NDIS_CONFIGURATION_OBJECT;
assert_layout!(NDIS_CONFIGURATION_OBJECT, size = 24, { Header: 0, NdisHandle: 8, Flags: 16 });

pub const NDIS_CONFIGURATION_OBJECT_REVISION_1: UCHAR = 1;
/// `RTL_SIZEOF_THROUGH_FIELD(NDIS_CONFIGURATION_OBJECT, Flags)` \[H\].
pub const NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1: usize = 20;

/// `NDIS_PARAMETER_TYPE` \[H\]: the type NdisReadConfiguration is asked for.
pub type NDIS_PARAMETER_TYPE = i32;
pub const NdisParameterInteger: NDIS_PARAMETER_TYPE = 0;
pub const NdisParameterHexInteger: NDIS_PARAMETER_TYPE = 1;
pub const NdisParameterString: NDIS_PARAMETER_TYPE = 2;
pub const NdisParameterMultiString: NDIS_PARAMETER_TYPE = 3;
pub const NdisParameterBinary: NDIS_PARAMETER_TYPE = 4;

/// `BINARY_DATA { USHORT Length; PVOID Buffer; }` \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BINARY_DATA {
    pub Length: USHORT,
    pub Buffer: PVOID,
}
assert_layout!(BINARY_DATA, size = 16, { Length: 0, Buffer: 8 });

/// The `ParameterData` union of `NDIS_CONFIGURATION_PARAMETER` \[H\].
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_CONFIGURATION_PARAMETER_DATA {
    pub IntegerData: ULONG,
    pub StringData: NDIS_STRING,
    pub BinaryData: BINARY_DATA,
}

/// `NDIS_CONFIGURATION_PARAMETER { NDIS_PARAMETER_TYPE ParameterType; union
/// { ULONG IntegerData; NDIS_STRING StringData; BINARY_DATA BinaryData; }
/// ParameterData; }` \[H\]. NDIS owns the one NdisReadConfiguration returns,
/// until NdisCloseConfiguration.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_CONFIGURATION_PARAMETER {
    pub ParameterType: NDIS_PARAMETER_TYPE,
    pub ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA,
}
pub type PNDIS_CONFIGURATION_PARAMETER = *mut NDIS_CONFIGURATION_PARAMETER;
assert_layout!(NDIS_CONFIGURATION_PARAMETER, size = 24, { ParameterType: 0, ParameterData: 8 });
