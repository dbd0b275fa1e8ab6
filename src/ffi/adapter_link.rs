//! A call-manager context's link to its adapter ([`AdapterLink`]): made
//! when a context is (the contexts' `new`) and followed by every handler
//! (their `adapter()`), and [`Inside::leave`], the one part of a VC's
//! handshake that needs the adapter (its lock and the effect performer).
//!
//! `super::cm_context` holds the link as an address because it cannot name
//! `AdapterContext` without closing an import circle (the adapter holds the
//! contexts' lists); this file names both, so the type of the address is
//! known again here and only here.
//!
//! The contexts' `new` and `adapter()` run at any IRQL and take no lock;
//! `Inside::leave` says its own.
//!
//! Must not: hold state, or follow a link anywhere but in the contexts'
//! `adapter()`.

use core::ptr::NonNull;

use ndis_sys::NDIS_HANDLE;

use super::cm_context::{AdapterLink, AfContext, Inside, PartyContext, SapContext, VcContext};
use super::context::AdapterContext;
use super::effects::perform;

/// A link to `adapter`.
fn link(adapter: &AdapterContext) -> AdapterLink {
    // SAFETY: AdapterLink::to's precondition: the address of `adapter`, an
    // adapter context.
    unsafe { AdapterLink::to(NonNull::from(adapter).cast()) }
}

/// The adapter `link` names.
///
/// # Safety
/// The adapter outlives the reference: `link` is the link of a live
/// context, whose adapter frees it before HaltEx frees the adapter.
unsafe fn follow<'a>(link: AdapterLink) -> &'a AdapterContext {
    // SAFETY: an adapter context's address (AdapterLink's invariant), alive
    // for 'a (precondition); only shared references are ever made to it.
    unsafe { link.address().cast::<AdapterContext>().as_ref() }
}

impl AfContext {
    /// An AF context of `adapter` for the client's NdisAfHandle `ndis`.
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self::linked(link(adapter), ndis)
    }
    /// The adapter the AF is open on.
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: `self` is a live context of the adapter its link names,
        // and the adapter outlives every context it allocated (they are all
        // freed before HaltEx frees it).
        unsafe { follow(self.link()) }
    }
}

impl SapContext {
    /// A SAP context of `adapter` for the client's NdisSapHandle `ndis`.
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self::linked(link(adapter), ndis)
    }
    /// The adapter the SAP is registered on.
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: `self` is a live SAP context, freed (FreeSap) before its
        // adapter is (HaltEx waits for every AF close, which waits for its
        // SAPs), so the adapter its link names outlives the reference.
        unsafe { follow(self.link()) }
    }
}

impl VcContext {
    /// A VC context of `adapter`: `ndis` is the client's NdisVcHandle for a
    /// VC the client creates (ProtocolCoCreateVc), or NULL for one covmini
    /// creates (its handle comes with NdisMCmCreateVc).
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self::linked(link(adapter), ndis)
    }
    /// The adapter the VC is on.
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: `self` is a live VC context, freed (FreeVc, DeleteVc, or
        // the client's ProtocolCoDeleteVc) before its adapter is (HaltEx
        // waits for every AF close, which waits for the AF's VCs), so the
        // adapter its link names outlives the reference.
        unsafe { follow(self.link()) }
    }
}

impl PartyContext {
    /// A party context of `adapter` for the NdisPartyHandle `ndis`.
    pub(crate) fn new(adapter: &AdapterContext, ndis: NDIS_HANDLE) -> Self {
        Self::linked(link(adapter), ndis)
    }
    /// The adapter the party's call is on.
    pub(crate) fn adapter(&self) -> &AdapterContext {
        // SAFETY: `self` is a live party context, freed (FreeParty) before
        // its VC and so before its adapter (HaltEx waits for every AF
        // close, which waits for the AF's VCs), so the adapter its link
        // names outlives the reference.
        unsafe { follow(self.link()) }
    }
}

impl Inside<'_> {
    /// Leaves, with no lock held. Should this be the last handler out of a
    /// VC whose close waits for them, finishes the close (takes the
    /// adapter lock, performs the core's effects).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(crate) fn leave(self) {
        let vc = self.vc();
        let adapter = vc.adapter();
        let Some((id, token)) = self.give_back() else {
            return;
        };
        // From here the context may be gone (a close that did not wait for
        // this handler): only the adapter, and the core, which says whether
        // the VC still waits for handlers, and so still lives.
        let fx = {
            let mut cm = adapter.cm();
            Inside::last_out(&mut cm, vc, id, token)
        };
        perform(adapter, &fx);
    }
}
