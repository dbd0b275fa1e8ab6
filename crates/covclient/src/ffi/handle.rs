//! The NdisProtocolHandle, the one driver-wide value: written by DriverEntry
//! and ProtocolSetOptions (which NDIS calls inside NdisRegisterProtocolDriver),
//! cleared at unload, read by the bindings (NdisOpenAdapterEx, the pool).
//!
//! Must not: hold anything else.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use ndis_sys::NDIS_HANDLE;

static PROTOCOL_HANDLE: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// The NdisProtocolHandle, or NULL before registration and after unload.
pub(crate) fn protocol_handle() -> NDIS_HANDLE {
    PROTOCOL_HANDLE.load(Ordering::Acquire)
}

/// Records (or, with NULL, forgets) the NdisProtocolHandle.
pub(crate) fn set_protocol_handle(handle: NDIS_HANDLE) {
    PROTOCOL_HANDLE.store(handle, Ordering::Release);
}
