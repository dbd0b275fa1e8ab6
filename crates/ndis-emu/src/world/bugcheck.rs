//! The bug-check reason callbacks the driver registered (a field of the
//! world). It owns that list only; registering, deregistering and calling
//! them at a bug check is `crate::ffi::bugcheck_callbacks`. A leaf of the
//! world: it must not name the world nor anything that does.

use ndis_sys::{KBUGCHECK_CALLBACK_REASON, KBUGCHECK_REASON_CALLBACK_ROUTINE};

/// A registered callback.
#[derive(Clone, Debug)]
pub(crate) struct Registered {
    pub(crate) record: usize,
    pub(crate) routine: KBUGCHECK_REASON_CALLBACK_ROUTINE,
    pub(crate) reason: KBUGCHECK_CALLBACK_REASON,
    pub(crate) component: String,
}

/// The callbacks registered now, in registration order.
#[derive(Debug, Default)]
pub struct Registry {
    pub(crate) registered: Vec<Registered>,
}
