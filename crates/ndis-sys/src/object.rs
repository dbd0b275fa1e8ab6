//! `NDIS_OBJECT_HEADER` and the object types, revisions and `NDIS_SIZEOF_*`
//! values of the versioned structures covmini hands to NDIS.
//!
//! Sources: contract §1 and §4.2 \[H\]; sizes are `RTL_SIZEOF_THROUGH_FIELD` of
//! the last field of each revision, asserted against the Rust structs in the
//! modules that define them.

use crate::types::{UCHAR, USHORT};

/// `NDIS_OBJECT_HEADER { UCHAR Type; UCHAR Revision; USHORT Size; }` \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_OBJECT_HEADER {
    pub Type: UCHAR,
    pub Revision: UCHAR,
    pub Size: USHORT,
}
pub type PNDIS_OBJECT_HEADER = *mut NDIS_OBJECT_HEADER;
assert_layout!(NDIS_OBJECT_HEADER, size = 4, { Type: 0, Revision: 1, Size: 2 });

impl NDIS_OBJECT_HEADER {
    /// A header for an object of `size` bytes (the `NDIS_SIZEOF_*` value).
    #[must_use]
    pub const fn new(ty: UCHAR, revision: UCHAR, size: usize) -> Self {
        // CAST: every NDIS_SIZEOF_* value is far below 64 KiB; checked below.
        assert!(size <= u16::MAX as usize, "NDIS object size exceeds USHORT");
        Self {
            Type: ty,
            Revision: revision,
            Size: size as USHORT,
        }
    }
}

// NDIS_OBJECT_TYPE_* (contract §4.2) [H].
pub const NDIS_OBJECT_TYPE_DEFAULT: UCHAR = 0x80;
pub const NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS: UCHAR = 0x81;
pub const NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS: UCHAR = 0x8A;
pub const NDIS_OBJECT_TYPE_CO_PROTOCOL_CHARACTERISTICS: UCHAR = 0x90;
pub const NDIS_OBJECT_TYPE_CO_MINIPORT_CHARACTERISTICS: UCHAR = 0x91;
pub const NDIS_OBJECT_TYPE_MINIPORT_PNP_CHARACTERISTICS: UCHAR = 0x92;
pub const NDIS_OBJECT_TYPE_OID_REQUEST: UCHAR = 0x96;
/// \[H: SDK ntddndis.h\].
pub const NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: UCHAR = 0x97;
pub const NDIS_OBJECT_TYPE_STATUS_INDICATION: UCHAR = 0x98;
pub const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES: UCHAR = 0x9E;
pub const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES: UCHAR = 0x9F;
pub const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES: UCHAR = 0xA0;
pub const NDIS_OBJECT_TYPE_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES: UCHAR = 0xA4;
pub const NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS: UCHAR = 0xA5;
pub const NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT: UCHAR = 0xA9;
pub const NDIS_OBJECT_TYPE_CO_CLIENT_OPTIONAL_HANDLERS: UCHAR = 0xA6;

// Revisions (contract §4.2) [H].
pub const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1: UCHAR = 1;
pub const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2: UCHAR = 2;
pub const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3: UCHAR = 3;
pub const NDIS_MINIPORT_CO_CHARACTERISTICS_REVISION_1: UCHAR = 1;
pub const NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1: UCHAR = 1;
pub const NDIS_CO_CLIENT_OPTIONAL_HANDLERS_REVISION_1: UCHAR = 1;
pub const NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1: UCHAR = 1;
pub const NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2: UCHAR = 2;
pub const NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1: UCHAR = 1;
pub const NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2: UCHAR = 2;
pub const NDIS_OID_REQUEST_REVISION_1: UCHAR = 1;
pub const NDIS_OID_REQUEST_REVISION_2: UCHAR = 2;
pub const NDIS_STATUS_INDICATION_REVISION_1: UCHAR = 1;
pub const NDIS_TIMER_CHARACTERISTICS_REVISION_1: UCHAR = 1;
pub const NDIS_MINIPORT_INIT_PARAMETERS_REVISION_1: UCHAR = 1;
