//! The bindings' news for the client core: an adapter bound, an AF offered
//! on it, the adapter gone. Each is posted to every open of the control
//! device (ADAPTER_BOUND, AF_OFFERED, ADAPTER_UNBIND events) and wakes the
//! pended WAIT_EVENTS IRPs.
//!
//! The binding keeps its adapter's core handle as the raw u64 (0: none,
//! when the core's adapter table was full; the binding still works, the
//! control device just does not list it).
//!
//! Must not: touch the binding context (binding.rs owns it).

use covclient_abi::{AfInfo, Handle, HandleKind};
use ndis_sys::{CO_ADDRESS_FAMILY, NET_IFINDEX, NET_LUID};

use super::control::locked;
use super::waiter;

/// An adapter is bound: its core handle's raw value, or 0.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn bound(net_luid: NET_LUID, if_index: NET_IFINDEX) -> u64 {
    let h = locked(|inner| inner.core.adapter_bound(net_luid, if_index)).flatten();
    waiter::wake_all();
    h.map_or(0, Handle::raw)
}

/// ProtocolCoAfRegisterNotify offered `af` on the adapter `adapter`.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn offered(adapter: u64, af: &CO_ADDRESS_FAMILY) {
    let Ok(h) = Handle::parse(adapter, &[HandleKind::Adapter]) else {
        return;
    };
    let info = AfInfo {
        address_family: af.AddressFamily,
        major_version: af.MajorVersion,
        minor_version: af.MinorVersion,
        reserved: 0,
    };
    let _ = locked(|inner| inner.core.af_offered(h, info));
    waiter::wake_all();
}

/// The adapter is unbound: everything the core held under it is gone.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn gone(adapter: u64) {
    let Ok(h) = Handle::parse(adapter, &[HandleKind::Adapter]) else {
        return;
    };
    let _ = locked(|inner| inner.core.adapter_gone(h));
    waiter::wake_all();
}

/// The binding opened covmini's AF on `adapter`: the core's handle for it
/// (the driver's AF, usable by every open), or 0.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn af_opened(adapter: u64) -> u64 {
    let Ok(h) = Handle::parse(adapter, &[HandleKind::Adapter]) else {
        return 0;
    };
    let af = locked(|inner| inner.core.driver_af_opened(h)).flatten();
    waiter::wake_all();
    af.map_or(0, Handle::raw)
}

/// Do the opens still have SAPs or VCs on the binding's AF `af`?
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn af_busy(af: u64) -> bool {
    let Ok(h) = Handle::parse(af, &[HandleKind::Af]) else {
        return false;
    };
    locked(|inner| inner.core.af_has_children(h)) == Some(true)
}

/// The binding starts closing its AF.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn af_closing(af: u64) {
    if let Ok(h) = Handle::parse(af, &[HandleKind::Af]) {
        let _ = locked(|inner| inner.core.driver_af_closing(h));
    }
}

/// The binding's AF is closed with `status`.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn af_closed(af: u64, status: ndis_sys::NDIS_STATUS) {
    let Ok(h) = Handle::parse(af, &[HandleKind::Af]) else {
        return;
    };
    // CAST: the NDIS_STATUS's bits, as the ABI carries them.
    let _ = locked(|inner| inner.core.driver_af_closed(h, status as u32));
    waiter::wake_all();
}
