//! The protocol (CoNDIS client) driver's registration DDIs, as ndis-emu
//! implements them: NdisRegisterProtocolDriver (which calls the driver's
//! ProtocolSetOptions) and NdisDeregisterProtocolDriver. A protocol's
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
use crate::world;

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
            protocol::register_protocol(w, header, &chars)
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
