//! Bug-check reason callbacks (wdm.h): the record a driver registers with
//! `KeRegisterBugCheckReasonCallback`, the callback's type, and the
//! `KBUGCHECK_SECONDARY_DUMP_DATA` block a `KbCallbackSecondaryDumpData`
//! callback fills to add its own data to a crash dump.
//!
//! Sources: the field lists, enum orders and signatures are WDK 10.0.22621
//! wdm.h (T-RN-R/ddk_headers, `km/wdm.h`: `_KBUGCHECK_BUFFER_DUMP_STATE`
//! at line 23048, `_KBUGCHECK_CALLBACK_REASON` 23101,
//! `KBUGCHECK_REASON_CALLBACK_ROUTINE` 23117, `_KBUGCHECK_REASON_CALLBACK_RECORD`
//! 23127, `_KBUGCHECK_SECONDARY_DUMP_DATA` 23137) \[H\]; the x64 offsets
//! follow from them by the C layout rules \[C\] and match the Learn pages'
//! field lists \[D\] (ns-wdm-_kbugcheck_secondary_dump_data).

use crate::types::*;

/// `KBUGCHECK_CALLBACK_REASON` (wdm.h 23101) \[H\]: a C enum, 4 bytes.
pub type KBUGCHECK_CALLBACK_REASON = i32;
pub const KbCallbackInvalid: KBUGCHECK_CALLBACK_REASON = 0;
pub const KbCallbackReserved1: KBUGCHECK_CALLBACK_REASON = 1;
pub const KbCallbackSecondaryDumpData: KBUGCHECK_CALLBACK_REASON = 2;
pub const KbCallbackDumpIo: KBUGCHECK_CALLBACK_REASON = 3;
pub const KbCallbackAddPages: KBUGCHECK_CALLBACK_REASON = 4;

/// `KBUGCHECK_BUFFER_DUMP_STATE` (wdm.h 23048) \[H\]: the values of
/// `KBUGCHECK_REASON_CALLBACK_RECORD::State`. `KeInitializeCallbackRecord`
/// (a wdm.h macro, line 23076) sets `State = BufferEmpty`.
pub const BufferEmpty: UCHAR = 0;
pub const BufferInserted: UCHAR = 1;
pub const BufferStarted: UCHAR = 2;
pub const BufferFinished: UCHAR = 3;
pub const BufferIncomplete: UCHAR = 4;

crate::ndis_abi_fn_types! {
    /// `KBUGCHECK_REASON_CALLBACK_ROUTINE` (wdm.h 23117) \[H\]:
    /// `VOID (KBUGCHECK_CALLBACK_REASON Reason, struct
    /// _KBUGCHECK_REASON_CALLBACK_RECORD *Record, PVOID ReasonSpecificData,
    /// ULONG ReasonSpecificDataLength)`, `_IRQL_requires_same_`: for
    /// KbCallbackSecondaryDumpData it runs at HIGH_LEVEL.
    pub type KBUGCHECK_REASON_CALLBACK_ROUTINE = fn(
        Reason: KBUGCHECK_CALLBACK_REASON,
        Record: *mut KBUGCHECK_REASON_CALLBACK_RECORD,
        ReasonSpecificData: PVOID,
        ReasonSpecificDataLength: ULONG,
    );
}
pub type PKBUGCHECK_REASON_CALLBACK_ROUTINE = Option<KBUGCHECK_REASON_CALLBACK_ROUTINE>;

/// `KBUGCHECK_REASON_CALLBACK_RECORD` (wdm.h 23127) \[H\]: owned by the
/// kernel between register and deregister; the driver only initialises
/// `State` (`KeInitializeCallbackRecord`). 48 bytes on x64 \[C\]: the enum
/// at 40, the UCHAR at 44, padded to pointer alignment.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KBUGCHECK_REASON_CALLBACK_RECORD {
    pub Entry: LIST_ENTRY,
    pub CallbackRoutine: PKBUGCHECK_REASON_CALLBACK_ROUTINE,
    pub Component: PUCHAR,
    pub Checksum: ULONG_PTR,
    pub Reason: KBUGCHECK_CALLBACK_REASON,
    pub State: UCHAR,
}
pub type PKBUGCHECK_REASON_CALLBACK_RECORD = *mut KBUGCHECK_REASON_CALLBACK_RECORD;
assert_layout!(KBUGCHECK_REASON_CALLBACK_RECORD, size = 48, align = 8, {
    Entry: 0, CallbackRoutine: 16, Component: 24, Checksum: 32, Reason: 40, State: 44,
});

/// `KBUGCHECK_SECONDARY_DUMP_DATA` (wdm.h 23137) \[H\]: the system fills
/// `InBuffer`, `InBufferLength`, `MaximumAllowed` (and `OutBuffer`, NULL on
/// the size query); the callback fills `Guid`, `OutBuffer` and
/// `OutBufferLength`. 48 bytes on x64 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KBUGCHECK_SECONDARY_DUMP_DATA {
    pub InBuffer: PVOID,
    pub InBufferLength: ULONG,
    pub MaximumAllowed: ULONG,
    pub Guid: GUID,
    pub OutBuffer: PVOID,
    pub OutBufferLength: ULONG,
}
pub type PKBUGCHECK_SECONDARY_DUMP_DATA = *mut KBUGCHECK_SECONDARY_DUMP_DATA;
assert_layout!(KBUGCHECK_SECONDARY_DUMP_DATA, size = 48, align = 8, {
    InBuffer: 0, InBufferLength: 8, MaximumAllowed: 12, Guid: 16, OutBuffer: 32, OutBufferLength: 40,
});
