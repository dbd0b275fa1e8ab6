//! Event Tracing for Windows, kernel mode: the types of `evntprov.h` and the
//! enable callback of `wdm.h` that a TraceLogging provider needs
//! (EtwRegister, EtwSetInformation, EtwWriteTransfer, EtwUnregister; the
//! imports are in [`crate::imports`]).
//!
//! Sources \[H\]: `shared/evntprov.h` of the Windows SDK 10.0.25290
//! (T-RN-R/WindowsPreviewSDKs, commit acd9e30d) for the structures and
//! constants; `km/wdm.h` of WDK 10.0.22621 (T-RN-R/ddk_headers, commit
//! 817c426) for `ETWENABLECALLBACK` and the DDIs, which wdm.h declares after
//! `#include <evntprov.h>` under `_ETW_KM_`. The TraceLogging values
//! (channel 11, the descriptor types) are in `shared/TraceLoggingProvider.h`
//! of the same SDK. Build 3 also compares the three structures and the
//! descriptor-type, control-code and `EventProviderSetTraits` values with
//! the WDK's (`build/layout_table.rs`).

use crate::types::*;

/// `REGHANDLE` (evntprov.h: `typedef ULONGLONG REGHANDLE, *PREGHANDLE;`)
/// \[H\]: an opaque registration handle, 0 when not registered.
pub type REGHANDLE = u64;
pub type PREGHANDLE = *mut REGHANDLE;
pub type LPCGUID = *const GUID;

/// `EVENT_DESCRIPTOR` (evntprov.h) \[H\]: what identifies and filters one
/// event. For TraceLogging events `Id` and `Version` are 0 and ignored
/// (evntprov.h's comment on `Id`); the name is in the event metadata.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EVENT_DESCRIPTOR {
    pub Id: USHORT,
    pub Version: UCHAR,
    pub Channel: UCHAR,
    pub Level: UCHAR,
    pub Opcode: UCHAR,
    pub Task: USHORT,
    pub Keyword: u64,
}
// [C] from the [H] field list: USHORT, 4 UCHARs, USHORT, ULONGLONG.
assert_layout!(EVENT_DESCRIPTOR, size = 16, align = 8, {
    Id: 0, Version: 2, Channel: 3, Level: 4, Opcode: 5, Task: 6, Keyword: 8,
});
pub type PCEVENT_DESCRIPTOR = *const EVENT_DESCRIPTOR;

/// `EVENT_DATA_DESCRIPTOR` (evntprov.h) \[H\]: one piece of an event's data.
/// The C union `{ ULONG Reserved; struct { UCHAR Type; UCHAR Reserved1;
/// USHORT Reserved2; } }` is flattened to its struct member: `Type` is one
/// of the `EVENT_DATA_DESCRIPTOR_TYPE_*` values.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EVENT_DATA_DESCRIPTOR {
    /// `(ULONGLONG)(ULONG_PTR)pData`.
    pub Ptr: u64,
    /// Size of the data in bytes.
    pub Size: ULONG,
    pub Type: UCHAR,
    pub Reserved1: UCHAR,
    pub Reserved2: USHORT,
}
// [C] from the [H] field list: ULONGLONG, ULONG, then the 4-byte union.
assert_layout!(EVENT_DATA_DESCRIPTOR, size = 16, align = 8, {
    Ptr: 0, Size: 8, Type: 12, Reserved1: 13, Reserved2: 14,
});
pub type PEVENT_DATA_DESCRIPTOR = *mut EVENT_DATA_DESCRIPTOR;

/// `EVENT_FILTER_DESCRIPTOR` (evntprov.h) \[H\]: filter data a session passes
/// to the enable callback.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EVENT_FILTER_DESCRIPTOR {
    pub Ptr: u64,
    pub Size: ULONG,
    pub Type: ULONG,
}
// [C] from the [H] field list: ULONGLONG, ULONG, ULONG.
assert_layout!(EVENT_FILTER_DESCRIPTOR, size = 16, align = 8, { Ptr: 0, Size: 8, Type: 12 });
pub type PEVENT_FILTER_DESCRIPTOR = *mut EVENT_FILTER_DESCRIPTOR;

/// `EVENT_INFO_CLASS` (evntprov.h) \[H\]: a C enum, an `int`.
pub type EVENT_INFO_CLASS = i32;
/// `EventProviderSetTraits` (evntprov.h, the third enumerator) \[H\]: sets the
/// provider traits and "also configures the ETW runtime to respect the Type
/// field of EVENT_DATA_DESCRIPTOR (by default the Type field is ignored)".
pub const EventProviderSetTraits: EVENT_INFO_CLASS = 2;

/// `EVENT_DATA_DESCRIPTOR_TYPE_*` (evntprov.h) \[H\].
pub const EVENT_DATA_DESCRIPTOR_TYPE_NONE: UCHAR = 0;
pub const EVENT_DATA_DESCRIPTOR_TYPE_EVENT_METADATA: UCHAR = 1;
pub const EVENT_DATA_DESCRIPTOR_TYPE_PROVIDER_METADATA: UCHAR = 2;

/// `EVENT_CONTROL_CODE_*` (evntprov.h, the enable callback's `ControlCode`)
/// \[H\].
pub const EVENT_CONTROL_CODE_DISABLE_PROVIDER: ULONG = 0;
pub const EVENT_CONTROL_CODE_ENABLE_PROVIDER: ULONG = 1;
pub const EVENT_CONTROL_CODE_CAPTURE_STATE: ULONG = 2;

/// `WINEVENT_CHANNEL_TRACELOGGING` (TraceLoggingProvider.h: "the default
/// channel 11 (WINEVENT_CHANNEL_TRACELOGGING) marks the event as using
/// TraceLogging-based decoding") \[H\].
pub const WINEVENT_CHANNEL_TRACELOGGING: UCHAR = 11;

/// Event levels (evntprov.h's comment on `EVENT_DESCRIPTOR::Level`: "1
/// (critical/fatal), 2 (error), 3 (warning), 4 (information), and 5
/// (verbose)"; winmeta.h's `WINEVENT_LEVEL_*`) \[H\].
pub const WINEVENT_LEVEL_CRITICAL: UCHAR = 1;
pub const WINEVENT_LEVEL_ERROR: UCHAR = 2;
pub const WINEVENT_LEVEL_WARNING: UCHAR = 3;
pub const WINEVENT_LEVEL_INFO: UCHAR = 4;
pub const WINEVENT_LEVEL_VERBOSE: UCHAR = 5;

ndis_abi_fn_types! {
    /// `PETWENABLECALLBACK` (wdm.h `ETWENABLECALLBACK`) \[H\]: called by ETW
    /// at PASSIVE_LEVEL (`_IRQL_requires_max_(PASSIVE_LEVEL)`) when a session
    /// enables or disables the provider or changes its level or keywords.
    pub type PETWENABLECALLBACK = fn(
        SourceId: LPCGUID,
        ControlCode: ULONG,
        Level: UCHAR,
        MatchAnyKeyword: u64,
        MatchAllKeyword: u64,
        FilterData: PEVENT_FILTER_DESCRIPTOR,
        CallbackContext: PVOID,
    );
}
