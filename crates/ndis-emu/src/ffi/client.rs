//! A protocol driver as a CoNDIS client, at the FFI seam: the NdisCl*
//! DDIs it calls, and NDIS's calls into its ProtocolCl* handlers.
//!
//! Its requests take the scripted clients' route to the call manager
//! (`crate::ffi::cm`: `condis::client_requests` admits them, the call
//! manager's handler runs, `condis::complete` settles them); what a driver
//! client adds is checked first by [`crate::protocol`] (its binding, the AF
//! offered to it). When the call manager completes a pended request of a
//! driver client, `crate::ffi::cm` hands it to `client_calls`, which calls
//! the driver's completion handler where a scripted client's inbox would
//! have been written.
//!
//! Routed so far: NdisClOpenAddressFamilyEx and NdisClCloseAddressFamily,
//! with ProtocolClOpenAfCompleteEx and ProtocolClCloseAfComplete. What it
//! must not do: check a rule itself, or decide what a scripted client
//! answers.

use ndis_sys::*;

use super::zero::read_prefix;
use crate::protocol;
use crate::world;

ddi_fn! {
    /// NdisClOpenAddressFamilyEx. PASSIVE_LEVEL
    /// (nf-ndis-ndisclopenaddressfamilyex, `req.irql`). The page: "When
    /// NdisClOpenAddressFamilyEx returns anything other than
    /// NDIS_STATUS_PENDING, the client should make an internal call to its
    /// ProtocolClOpenAfCompleteEx function. Otherwise, NDIS calls the
    /// client's ProtocolClOpenAfCompleteEx function".
    #[unsafe(no_mangle)]
    pub unsafe fn NdisClOpenAddressFamilyEx(
        binding_handle: NDIS_HANDLE,
        address_family: PCO_ADDRESS_FAMILY,
        client_af_context: NDIS_HANDLE,
        af_handle_out: PNDIS_HANDLE,
    ) -> NDIS_STATUS {
        const CALL: &str = "NdisClOpenAddressFamilyEx";
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{binding_handle:p} context {client_af_context:p}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
        });
        if address_family.is_null() || af_handle_out.is_null() {
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: non-null; the driver's CO_ADDRESS_FAMILY (12 bytes), alive across the call.
        let af = unsafe { read_prefix(address_family, core::mem::size_of::<CO_ADDRESS_FAMILY>()) };
        let client = match world::with(CALL, |w| protocol::admit_open_af(w, binding_handle as usize, af.AddressFamily)) {
            Ok(c) => c,
            Err(status) => return status,
        };
        let opened = super::cm::open_af_for(client, af, client_af_context as usize, |h| {
            // SAFETY: checked non-null above; the driver's handle slot, alive
            // across the call.
            unsafe { af_handle_out.write(h as NDIS_HANDLE) };
        });
        match opened {
            Ok((_, status)) => status,
            Err(refused) => refused,
        }
    }
}

ddi_fn! {
    /// NdisClCloseAddressFamily. <= DISPATCH_LEVEL
    /// (nf-ndis-ndisclcloseaddressfamily). A PENDING close completes in
    /// ProtocolClCloseAfComplete.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisClCloseAddressFamily(af_handle: NDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisClCloseAddressFamily";
        let ok = world::with(CALL, |w| {
            w.event("=>", CALL, format!("{af_handle:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            protocol::admit_driver_af(w, af_handle as usize, CALL)
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        super::cm::close_af(af_handle as usize).unwrap_or_else(|refused| refused)
    }
}
