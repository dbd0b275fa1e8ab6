//! The control device `\Device\covclient` (symbolic link
//! `\DosDevices\covclient`): NdisRegisterDeviceEx at DriverEntry,
//! NdisDeregisterDeviceEx at unload.
//!
//! Security: `NDIS_DEVICE_OBJECT_ATTRIBUTES.DefaultSDDLString` carries the
//! device object's security descriptor as an SDDL string (a
//! `PCUNICODE_STRING`, the same form IoCreateDeviceSecure takes, which the
//! structure's page \[D: ns-ndis-_ndis_device_object_attributes\] refers to
//! for its meaning); covclient passes `policy::DEVICE_SDDL`,
//! `D:P(A;;GA;;;SY)(A;;GA;;;BA)`: SYSTEM and Administrators only, so the
//! I/O manager refuses anyone else's CreateFile before IRP_MJ_CREATE.
//!
//! Must not: register more than one device, or deregister while an IRP of
//! the device can still be dispatched (unload runs only when no handle to
//! the device is open).

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use ndis_sys::*;

use super::dispatch;
use super::trace::{ERROR, INFO};
use crate::policy;

static DEVICE_NAME: [u16; policy::DEVICE_NAME_UTF16.len()] = policy::DEVICE_NAME_UTF16;
static SYMBOLIC_NAME: [u16; policy::SYMBOLIC_NAME_UTF16.len()] = policy::SYMBOLIC_NAME_UTF16;
static SDDL: [u16; policy::DEVICE_SDDL_UTF16.len()] = policy::DEVICE_SDDL_UTF16;

/// The dispatch table NdisRegisterDeviceEx reads: the four IRPs covclient
/// handles; NULL entries get NDIS's default (the attributes' page \[D\]).
#[allow(
    clippy::indexing_slicing,
    reason = "a constant initializer: an index out of bounds fails the build, never a handler"
)]
static MAJOR_FUNCTIONS: [Option<DRIVER_DISPATCH>; IRP_MJ_MAXIMUM_FUNCTION as usize + 1] = {
    let mut t: [Option<DRIVER_DISPATCH>; IRP_MJ_MAXIMUM_FUNCTION as usize + 1] =
        [None; IRP_MJ_MAXIMUM_FUNCTION as usize + 1];
    t[IRP_MJ_CREATE as usize] = Some(dispatch::create);
    t[IRP_MJ_CLEANUP as usize] = Some(dispatch::cleanup);
    t[IRP_MJ_CLOSE as usize] = Some(dispatch::close);
    t[IRP_MJ_DEVICE_CONTROL as usize] = Some(dispatch::device_control);
    t
};

/// The NdisDeviceHandle, NULL when no device is registered.
static DEVICE_HANDLE: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// A UNICODE_STRING over a static UTF-16 array (NDIS only reads it).
fn ustr(s: &'static [u16]) -> UNICODE_STRING {
    // CAST: the strings here are under 40 units, far below USHORT::MAX bytes.
    let bytes = (s.len() * 2) as USHORT;
    UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: s.as_ptr().cast_mut(),
    }
}

/// Registers the control device for protocol `protocol_handle`.
///
/// # IRQL
/// PASSIVE_LEVEL (NdisRegisterDeviceEx \[D\]). No lock.
///
/// # Errors
/// NdisRegisterDeviceEx's status.
pub(super) fn register(protocol_handle: NDIS_HANDLE) -> Result<(), NDIS_STATUS> {
    let mut name = ustr(&DEVICE_NAME);
    let mut link = ustr(&SYMBOLIC_NAME);
    let sddl = ustr(&SDDL);
    let mut attrs = NDIS_DEVICE_OBJECT_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES,
            NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
        ),
        DeviceName: &raw mut name,
        SymbolicName: &raw mut link,
        // NDIS reads the table only.
        MajorFunctions: MAJOR_FUNCTIONS.as_ptr().cast_mut(),
        ExtensionSize: 0,
        DefaultSDDLString: &raw const sddl,
        DeviceClassGuid: core::ptr::null(),
    };
    let mut device: PDEVICE_OBJECT = null_mut();
    let mut handle: NDIS_HANDLE = null_mut();
    // SAFETY: the attributes, the strings and the out slots live on this
    // frame for the call (the names and SDDL point into statics; the
    // dispatch table is static); a protocol driver handle from
    // NdisRegisterProtocolDriver; PASSIVE_LEVEL.
    let status = unsafe { NdisRegisterDeviceEx(protocol_handle, &raw mut attrs, &raw mut device, &raw mut handle) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, c"NdisRegisterDeviceEx failed");
        return Err(status);
    }
    DEVICE_HANDLE.store(handle, Ordering::Release);
    trace!(INFO, c"control device registered");
    Ok(())
}

/// Deregisters the control device, if registered.
///
/// # IRQL
/// PASSIVE_LEVEL (NdisDeregisterDeviceEx \[D\]). No lock.
pub(super) fn deregister() {
    let handle = DEVICE_HANDLE.swap(null_mut(), Ordering::AcqRel);
    if handle.is_null() {
        return;
    }
    // SAFETY: the handle NdisRegisterDeviceEx returned, deregistered once
    // (swapped out above); PASSIVE_LEVEL at unload, with no handle open.
    unsafe { NdisDeregisterDeviceEx(handle) };
}
