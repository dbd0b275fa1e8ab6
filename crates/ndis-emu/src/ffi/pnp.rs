//! The PnP side of a running adapter: MiniportPause and MiniportRestart
//! mid-run, NdisMPauseComplete, MiniportDevicePnPEventNotify and
//! MiniportCancelSend (the bookkeeping and rules are `crate::pause`).

use ndis_sys::*;

use super::calls::{self, enter, leave};
use crate::detail;
use crate::pause;
use crate::trace::Detail;
use crate::world::{self, HandleKind};

/// MiniportPause at PASSIVE_LEVEL, with the pause's bookkeeping around it;
/// what it returned.
pub(crate) fn pause(handler: MINIPORT_PAUSE, ctx: usize) -> NDIS_STATUS {
    let mut params = NDIS_MINIPORT_PAUSE_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
        ),
        Flags: 0,
        PauseReason: 0,
    };
    world::with("MiniportPause", |w| w.pause.pause_begins());
    let status = calls::pause(handler, ctx, &mut params);
    world::with("MiniportPause", |w| pause::pause_returned(w, status));
    world::changed();
    status
}

/// MiniportRestart at PASSIVE_LEVEL; what it returned.
pub(crate) fn restart(handler: MINIPORT_RESTART, ctx: usize) -> NDIS_STATUS {
    let mut params = NDIS_MINIPORT_RESTART_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_MINIPORT_RESTART_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1,
        ),
        RestartAttributes: core::ptr::null_mut(),
        Flags: 0,
    };
    calls::restart(handler, ctx, &mut params)
}

/// MiniportDevicePnPEventNotify at PASSIVE_LEVEL with a revision-1
/// NET_DEVICE_PNP_EVENT; a power profile travels as a ULONG in
/// InformationBuffer.
pub(crate) fn pnp_event(
    handler: MINIPORT_DEVICE_PNP_EVENT_NOTIFY,
    ctx: usize,
    event: NDIS_DEVICE_PNP_EVENT,
    profile: Option<ULONG>,
) {
    let mut info: ULONG = profile.unwrap_or(0);
    let (buffer, length) = if profile.is_some() {
        ((&raw mut info).cast::<core::ffi::c_void>(), 4)
    } else {
        (core::ptr::null_mut(), 0)
    };
    let mut block = NET_DEVICE_PNP_EVENT {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_DEVICE_PNP_EVENT_REVISION_1,
            NDIS_SIZEOF_NET_DEVICE_PNP_EVENT_REVISION_1,
        ),
        PortNumber: 0,
        DevicePnPEvent: event,
        InformationBuffer: buffer,
        InformationBufferLength: length,
        NdisReserved: [0; 2 * core::mem::size_of::<PVOID>()],
    };
    let caller = enter(
        "MiniportDevicePnPEventNotify",
        PASSIVE_LEVEL,
        detail!("event {}", event),
    );
    // SAFETY: the registered handler with the adapter context; the event
    // block and its information buffer live across the call.
    unsafe { handler(ctx as NDIS_HANDLE, &raw mut block) };
    leave("MiniportDevicePnPEventNotify", caller, Detail::EMPTY);
}

/// MiniportCancelSend at DISPATCH_LEVEL (NdisCancelSendNetBufferLists may
/// be called at <= DISPATCH_LEVEL; the higher one finds more bugs).
pub(crate) fn cancel_send(handler: MINIPORT_CANCEL_SEND, ctx: usize, cancel_id: usize) {
    let caller = enter(
        "MiniportCancelSend",
        DISPATCH_LEVEL,
        detail!("cancel id {x}", cancel_id),
    );
    // SAFETY: the registered handler with the adapter context; the cancel
    // id is an opaque value the driver only compares.
    unsafe { handler(ctx as NDIS_HANDLE, cancel_id as PVOID) };
    leave("MiniportCancelSend", caller, Detail::EMPTY);
}

ddi_fn! {
    /// NdisMPauseComplete: completes the pending MiniportPause of this
    /// adapter, once, with every send completed and every receive returned.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMPauseComplete(adapter: NDIS_HANDLE) {
        const CALL: &str = "NdisMPauseComplete";
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", adapter));
            w.check_irql(CALL, DISPATCH_LEVEL);
            if w.check_handle(adapter as usize, HandleKind::Adapter, CALL) {
                pause::pause_completed(w, CALL);
            }
        });
        world::changed();
    }
}
