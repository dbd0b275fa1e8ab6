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
//! Routed so far: NdisClOpenAddressFamilyEx, NdisClCloseAddressFamily,
//! NdisClRegisterSap and NdisClDeregisterSap (their completions:
//! `client_calls`), NdisCoCreateVc and NdisCoDeleteVc (which never pend). What it
//! must not do: check a rule itself, or decide what a scripted client
//! answers.

use ndis_sys::*;

use super::zero::read_prefix;
use crate::protocol;
use crate::world::{self, HandleKind};

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
            let ok = protocol::admit_driver_object(w, af_handle as usize, HandleKind::Af, CALL);
            if ok {
                protocol::check_close_af(w, af_handle as usize);
            }
            ok
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        super::cm::close_af(af_handle as usize).unwrap_or_else(|refused| refused)
    }
}

ddi_fn! {
    /// NdisClRegisterSap. <= DISPATCH_LEVEL (nf-ndis-ndisclregistersap). NDIS
    /// passes the client's CO_SAP to ProtocolCmRegisterSap; ndis-emu reads
    /// its SapType and SapLength bytes and hands the call manager a copy of
    /// the same bytes, as for a scripted client.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisClRegisterSap(
        af_handle: NDIS_HANDLE,
        sap_context: NDIS_HANDLE,
        sap: PCO_SAP,
        sap_handle_out: PNDIS_HANDLE,
    ) -> NDIS_STATUS {
        const CALL: &str = "NdisClRegisterSap";
        let af = af_handle as usize;
        let ok = world::with(CALL, |w| {
            w.event("=>", CALL, format!("{af_handle:p} context {sap_context:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            protocol::admit_driver_object(w, af, HandleKind::Af, CALL)
        });
        if !ok || sap.is_null() || sap_handle_out.is_null() {
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: non-null; the CO_SAP header (SapType, SapLength) is its first 8 bytes.
        let header = unsafe { read_prefix(sap, 8) };
        let Ok(len) = usize::try_from(header.SapLength) else {
            return NDIS_STATUS_INVALID_DATA;
        };
        let tail = sap.cast::<u8>().wrapping_add(core::mem::offset_of!(CO_SAP, Sap));
        // SAFETY: the client's CO_SAP holds SapLength bytes from its Sap
        // member (the structure's contract), alive across the call.
        let bytes = unsafe { core::slice::from_raw_parts(tail, len) }.to_vec();
        let registered = super::cm::register_sap_for(af, header.SapType, &bytes, None, |h| {
            // SAFETY: checked non-null above; the driver's handle slot, alive
            // across the call.
            unsafe { sap_handle_out.write(h as NDIS_HANDLE) };
            world::with(CALL, |w| protocol::sap_registered(w, h, sap_context as usize, sap as usize));
        });
        registered.map_or_else(|refused| refused, |(_, status)| status)
    }
}

ddi_fn! {
    /// NdisClDeregisterSap. <= DISPATCH_LEVEL (nf-ndis-ndisclderegistersap).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisClDeregisterSap(sap_handle: NDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisClDeregisterSap";
        let ok = world::with(CALL, |w| {
            w.event("=>", CALL, format!("{sap_handle:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            protocol::admit_driver_object(w, sap_handle as usize, HandleKind::Sap, CALL)
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        super::cm::deregister_sap(sap_handle as usize).unwrap_or_else(|refused| refused)
    }
}

ddi_fn! {
    /// NdisCoCreateVc by a driver client. <= DISPATCH_LEVEL
    /// (ndis-ddi-irql.txt). A client passes its AF handle (NULL is for a
    /// call manager's signalling VC: refused). The call manager's
    /// ProtocolCoCreateVc never pends (`cm.vc-handlers-never-pend`).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCoCreateVc(
        binding_handle: NDIS_HANDLE,
        af_handle: NDIS_HANDLE,
        vc_context: NDIS_HANDLE,
        vc_handle_out: PNDIS_HANDLE,
    ) -> NDIS_STATUS {
        const CALL: &str = "NdisCoCreateVc";
        let ok = world::with(CALL, |w| {
            w.event("=>", CALL, format!("{binding_handle:p} AF {af_handle:p} context {vc_context:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            protocol::admit_create_vc(w, binding_handle as usize, af_handle as usize)
        });
        if !ok || vc_handle_out.is_null() {
            return NDIS_STATUS_FAILURE;
        }
        match super::cm::create_vc(af_handle as usize) {
            Ok(h) => {
                world::with(CALL, |w| protocol::vc_created(w, h, vc_context as usize));
                // SAFETY: checked non-null above; the driver's handle slot,
                // alive across the call.
                unsafe { vc_handle_out.write(h as NDIS_HANDLE) };
                NDIS_STATUS_SUCCESS
            }
            Err(status) => status,
        }
    }
}

ddi_fn! {
    /// NdisCoDeleteVc by a driver client. <= DISPATCH_LEVEL (ndis-ddi-irql.txt).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCoDeleteVc(vc_handle: NDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisCoDeleteVc";
        let ok = world::with(CALL, |w| {
            w.event("=>", CALL, format!("{vc_handle:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            protocol::admit_driver_object(w, vc_handle as usize, HandleKind::Vc, CALL)
        });
        if !ok {
            return NDIS_STATUS_FAILURE;
        }
        super::cm::delete_vc(vc_handle as usize).unwrap_or_else(|refused| refused)
    }
}
