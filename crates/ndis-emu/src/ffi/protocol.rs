//! The protocol (CoNDIS client) driver's registration and binding DDIs, as
//! ndis-emu implements them: NdisRegisterProtocolDriver (which calls the
//! driver's ProtocolSetOptions), NdisDeregisterProtocolDriver,
//! NdisOpenAdapterEx, NdisCloseAdapterEx, NdisCompleteBindAdapterEx and
//! NdisCompleteUnbindAdapterEx. A protocol's
//! NdisSetOptionalHandlers is the one shim in `exports.rs`, which hands a
//! protocol handle's blocks to [`crate::protocol`].
//!
//! Each shim reads the driver's blocks into values and hands them to
//! [`crate::protocol`], which checks the `proto.*` rules and records the
//! registration. What it must not do: decide a rule itself.

use ndis_sys::*;

use super::calls;
use super::zero::read_prefix;
use crate::protocol;
use crate::world::{self, BindOpKind};

ddi_fn! {
    /// NdisRegisterProtocolDriver. PASSIVE_LEVEL (nf-ndis-ndisregisterprotocoldriver,
    /// `req.irql`). Calls ProtocolSetOptions "within the context of
    /// NdisRegisterProtocolDriver" (the page), after writing the handle.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisRegisterProtocolDriver(
        driver_context: NDIS_HANDLE,
        characteristics: PNDIS_PROTOCOL_DRIVER_CHARACTERISTICS,
        handle_out: PNDIS_HANDLE,
    ) -> NDIS_STATUS {
        const CALL: &str = "NdisRegisterProtocolDriver";
        world::with(CALL, |w| w.check_irql(CALL, PASSIVE_LEVEL));
        if characteristics.is_null() || handle_out.is_null() {
            world::with(CALL, protocol::null_characteristics);
            return NDIS_STATUS_BAD_CHARACTERISTICS;
        }
        // SAFETY: non-null; the header is the first 4 bytes of the block.
        let header = unsafe { read_prefix(characteristics.cast::<NDIS_OBJECT_HEADER>(), 4) };
        // SAFETY: non-null; NDIS reads as many bytes as the header announces
        // (read_prefix zero-fills past them).
        let chars = unsafe { read_prefix(characteristics, usize::from(header.Size)) };
        let registered = world::with(CALL, |w| {
            w.event(
                "=>",
                CALL,
                format!(
                    "NDIS {}.{}, characteristics rev {} size {}",
                    chars.MajorNdisVersion, chars.MinorNdisVersion, header.Revision, header.Size
                ),
            );
            protocol::register_protocol(w, header, &chars, driver_context as usize)
        });
        let handle = match registered {
            Ok(h) => h,
            Err(status) => return status,
        };
        // SAFETY: checked non-null above; the driver passed a handle slot.
        unsafe { handle_out.write(handle as NDIS_HANDLE) };
        let Some(set_options) = chars.SetOptionsHandler else {
            return NDIS_STATUS_BAD_CHARACTERISTICS;
        };
        let status = calls::protocol_set_options(set_options, handle, driver_context);
        world::with(CALL, |w| protocol::set_options_returned(w, handle, status))
    }
}

ddi_fn! {
    /// NdisDeregisterProtocolDriver. PASSIVE_LEVEL
    /// (nf-ndis-ndisderegisterprotocoldriver, `req.irql`).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisDeregisterProtocolDriver(handle: NDIS_HANDLE) {
        const CALL: &str = "NdisDeregisterProtocolDriver";
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{handle:p}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            protocol::deregister_protocol(w, handle as usize);
        });
    }
}

ddi_fn! {
    /// NdisOpenAdapterEx. PASSIVE_LEVEL (nf-ndis-ndisopenadapterex,
    /// `req.irql`). ndis-emu opens synchronously (never NDIS_STATUS_PENDING):
    /// the binding handle and SelectedMediumIndex are written before it
    /// returns SUCCESS.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisOpenAdapterEx(
        protocol_handle: NDIS_HANDLE,
        binding_context: NDIS_HANDLE,
        open_parameters: PNDIS_OPEN_PARAMETERS,
        bind_context: NDIS_HANDLE,
        binding_handle_out: PNDIS_HANDLE,
    ) -> NDIS_STATUS {
        const CALL: &str = "NdisOpenAdapterEx";
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{protocol_handle:p} bind context {bind_context:p}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
        });
        if open_parameters.is_null() || binding_handle_out.is_null() {
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: non-null; the driver's NDIS_OPEN_PARAMETERS (56 bytes:
        // integers and raw pointers), alive across the call.
        let params = unsafe { read_prefix(open_parameters, core::mem::size_of::<NDIS_OPEN_PARAMETERS>()) };
        let count = usize::try_from(params.MediumArraySize).unwrap_or(0);
        let mediums: Vec<NDIS_MEDIUM> = if params.MediumArray.is_null() {
            Vec::new()
        } else {
            // SAFETY: the driver's MediumArray of MediumArraySize entries,
            // alive across the call (the page's contract).
            unsafe { core::slice::from_raw_parts(params.MediumArray, count) }.to_vec()
        };
        let opened = world::with(CALL, |w| {
            protocol::open_adapter(w, protocol_handle as usize, binding_context as usize, bind_context as usize, &mediums)
        });
        match opened {
            Ok((handle, index)) => {
                if !params.SelectedMediumIndex.is_null() {
                    // SAFETY: non-null; the driver's UINT slot, alive across the call.
                    unsafe { params.SelectedMediumIndex.write(index) };
                }
                // SAFETY: checked non-null above; the driver's handle slot.
                unsafe { binding_handle_out.write(handle as NDIS_HANDLE) };
                NDIS_STATUS_SUCCESS
            }
            Err(status) => status,
        }
    }
}

ddi_fn! {
    /// NdisCloseAdapterEx. PASSIVE_LEVEL (nf-ndis-ndiscloseadapterex,
    /// `req.irql`). ndis-emu closes synchronously (never PENDING, so
    /// ProtocolCloseAdapterCompleteEx is not called).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCloseAdapterEx(binding_handle: NDIS_HANDLE) -> NDIS_STATUS {
        const CALL: &str = "NdisCloseAdapterEx";
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{binding_handle:p}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            protocol::close_adapter(w, binding_handle as usize)
        })
    }
}

ddi_fn! {
    /// NdisCompleteBindAdapterEx. <= DISPATCH_LEVEL (ndis-ddi-irql.txt).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCompleteBindAdapterEx(bind_context: NDIS_HANDLE, status: NDIS_STATUS) {
        const CALL: &str = "NdisCompleteBindAdapterEx";
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{bind_context:p} {}", crate::trace::Status(status)));
            w.check_irql(CALL, DISPATCH_LEVEL);
            protocol::complete_op(w, BindOpKind::Bind, bind_context as usize, status, CALL);
        });
    }
}

ddi_fn! {
    /// NdisCompleteUnbindAdapterEx. <= DISPATCH_LEVEL (ndis-ddi-irql.txt).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCompleteUnbindAdapterEx(unbind_context: NDIS_HANDLE) {
        const CALL: &str = "NdisCompleteUnbindAdapterEx";
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{unbind_context:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            protocol::complete_op(w, BindOpKind::Unbind, unbind_context as usize, NDIS_STATUS_SUCCESS, CALL);
        });
    }
}
