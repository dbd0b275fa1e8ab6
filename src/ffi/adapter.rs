//! The adapter's lifecycle handlers of the miniport driver characteristics:
//! MiniportInitializeEx, MiniportHaltEx, MiniportPause and MiniportRestart
//! (contract §1.3, §1.4). The other handlers every miniport registers are
//! `super::adapter_events`.

use core::ptr::{NonNull, null_mut};

use ndis_sys::*;

use super::af_sap;
use super::context::AdapterContext;
use super::trace::{ERROR, INFO, WARN};
use crate::adapter::{AdapterEvent, PauseOutcome};
use crate::flight::Event;
use crate::flight::event::{Ddi, Handler};
use crate::{config, ctrl_path};

/// Registration attributes (contract §1.3 (1)).
fn registration_attributes(ctx: NDIS_HANDLE) -> NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
        ),
        MiniportAdapterContext: ctx,
        AttributeFlags: config::ATTRIBUTE_FLAGS,
        // 0: NDIS's default check-for-hang period; covmini has no
        // CheckForHang handler, so the value is never used.
        CheckForHangTimeInSeconds: 0,
        InterfaceType: NdisInterfaceInternal,
    }
}

/// General attributes, revision 2 (contract §1.3 (2), §4.1).
fn general_attributes() -> NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
        ),
        Flags: 0,
        MediaType: config::MEDIUM,
        PhysicalMediumType: config::PHYSICAL_MEDIUM,
        MtuSize: config::MTU,
        MaxXmitLinkSpeed: config::LINK_SPEED_BPS,
        XmitLinkSpeed: config::LINK_SPEED_BPS,
        MaxRcvLinkSpeed: config::LINK_SPEED_BPS,
        RcvLinkSpeed: config::LINK_SPEED_BPS,
        MediaConnectState: MediaConnectStateConnected,
        MediaDuplexState: MediaDuplexStateFull,
        LookaheadSize: config::MTU,
        PowerManagementCapabilities: null_mut(),
        MacOptions: 0,
        SupportedPacketFilters: 0,
        MaxMulticastListSize: 0,
        MacAddressLength: 0,
        PermanentMacAddress: [0; NDIS_MAX_PHYS_ADDRESS_LENGTH],
        CurrentMacAddress: [0; NDIS_MAX_PHYS_ADDRESS_LENGTH],
        RecvScaleCapabilities: null_mut(),
        AccessType: NET_IF_ACCESS_POINT_TO_POINT,
        DirectionType: NET_IF_DIRECTION_SENDRECEIVE,
        ConnectionType: NET_IF_CONNECTION_DEMAND,
        IfType: config::IF_TYPE,
        IfConnectorPresent: FALSE,
        SupportedStatistics: 0,
        SupportedPauseFunctions: 0,
        DataBackFillSize: 0,
        ContextBackFillSize: 0,
        // The single OID table of ctrl_path, which also answers them.
        SupportedOidList: ctrl_path::SUPPORTED_OIDS.as_ptr().cast_mut(),
        SupportedOidListLength: ctrl_path::SUPPORTED_OID_LIST_LENGTH,
        AutoNegotiationFlags: 0,
        PowerManagementCapabilitiesEx: null_mut(),
    }
}

/// The three mandatory steps of initialization, in their mandatory order.
fn set_attributes_and_register_af(handle: NDIS_HANDLE, ctx: NDIS_HANDLE) -> Result<(), NDIS_STATUS> {
    let mut registration = registration_attributes(ctx);
    // SAFETY: header-first repr(C) block alive for the call; the handle is
    // the one NDIS passed to MiniportInitializeEx; PASSIVE_LEVEL.
    let status = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut registration).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, "registration attributes refused: {:#010x}", status);
        return Err(status);
    }
    let mut general = general_attributes();
    // SAFETY: `general` is a header-first repr(C) block on this stack, alive
    // for the call (NDIS copies it); the same MiniportInitializeEx handle;
    // PASSIVE_LEVEL.
    let status = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut general).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, "general attributes refused: {:#010x}", status);
        return Err(status);
    }
    let mut af = config::AF;
    // SAFETY: the AF block lives for the call (NDIS copies what it keeps);
    // the adapter is operational; PASSIVE_LEVEL.
    let status = unsafe { NdisMCmRegisterAddressFamilyEx(handle, &raw mut af) };
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, "NdisMCmRegisterAddressFamilyEx failed: {:#010x}", status);
        return Err(status);
    }
    Ok(())
}

/// Hands the adapter's flight recorder to crash dumps
/// (KeRegisterBugCheckReasonCallback, `ffi::flight::DumpHook`); a refusal
/// costs only the dump data, so initialize goes on. PASSIVE_LEVEL.
fn register_dump(adapter: &AdapterContext) {
    // SAFETY: the hook is in `adapter`, a live context from `allocate`
    // that `AdapterContext::free` deregisters before freeing it; it was never
    // registered (fresh context).
    let ok = unsafe { adapter.dump_hook().register(super::recorder::dump_callback) };
    let status = if ok { NDIS_STATUS_SUCCESS } else { NDIS_STATUS_FAILURE };
    if !ok {
        trace!(
            WARN,
            "KeRegisterBugCheckReasonCallback refused: no flight recorder in crash dumps"
        );
    }
    adapter.record(Event::Ddi {
        ddi: Ddi::KeRegisterBugCheckReasonCallback,
        object: core::ptr::from_ref(adapter) as usize,
        status,
    });
}

ndis_fn! {
    pub(super) unsafe fn initialize(
        handle: NDIS_HANDLE,
        _driver_ctx: NDIS_HANDLE,
        _params: PNDIS_MINIPORT_INIT_PARAMETERS,
    ) -> NDIS_STATUS => initialize_impl;
}

/// MiniportInitializeEx: reads the trace level from the adapter's
/// registry key, allocates the adapter context, sets the registration
/// and general attributes and registers the AF.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL.
unsafe fn initialize_impl(
    handle: NDIS_HANDLE,
    _driver_ctx: NDIS_HANDLE,
    _params: PNDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    super::trace::configure_from_registry(handle);
    trace!(
        INFO,
        "InitializeEx (NDIS {}.{})",
        config::NDIS_MAJOR_VERSION,
        config::NDIS_MINOR_VERSION
    );
    let adapter = match AdapterContext::allocate(handle) {
        Ok(adapter) => adapter,
        Err(status) => {
            trace!(ERROR, "adapter context allocation failed");
            return status;
        }
    };
    // The recorder lives in the context: the entry is recorded once it exists.
    let enter = Event::Enter {
        handler: Handler::MiniportInitializeEx,
        object: adapter.as_ptr().addr(),
    };
    // SAFETY: allocated just above, alive until freed below or at halt.
    unsafe { adapter.as_ref() }.record(enter);
    if let Err(status) = set_attributes_and_register_af(handle, adapter.as_ptr().cast()) {
        // SAFETY: `adapter` came from AdapterContext::allocate above and is
        // freed once (1.); NDIS forgets the context when initialize fails
        // and no handler got it, so nothing else holds it (2.); the AF was
        // not registered, so no context was ever taken from its lists (3.).
        unsafe { AdapterContext::free(adapter) };
        return status;
    }
    // SAFETY: allocated above and alive.
    let adapter_ref = unsafe { adapter.as_ref() };
    match adapter_ref.transition(AdapterEvent::InitComplete) {
        Ok(_) => {
            register_dump(adapter_ref);
            let (handler, object) = (Handler::MiniportInitializeEx, adapter.as_ptr().addr());
            adapter_ref.record(Event::Return {
                handler,
                object,
                status: NDIS_STATUS_SUCCESS,
            });
            NDIS_STATUS_SUCCESS
        }
        Err(e) => {
            trace!(ERROR, "InitializeEx: {}", e);
            // SAFETY: `adapter` came from AdapterContext::allocate above
            // and is freed once (1.); `adapter_ref` is not used after this
            // point and InitializeEx fails, so NDIS never hands the context
            // back (2.). (3.) holds because this branch does not run:
            // InitComplete cannot fail on the fresh adapter `allocate`
            // just built (the lifecycle's transition table), so no client
            // has had time to open the AF. A new lifecycle rule that lets
            // it fail must first close what clients opened here.
            unsafe { AdapterContext::free(adapter) };
            NDIS_STATUS_FAILURE
        }
    }
}

ndis_fn! {
    pub(super) unsafe fn halt(ctx: NDIS_HANDLE, action: NDIS_HALT_ACTION) => halt_impl;
}

/// MiniportHaltEx: asks every client with covmini's AF open to close it
/// (NdisMCmNotifyCloseAddressFamily) and waits, without timeout, until
/// every one has completed (ProtocolCmNotifyCloseAfComplete; a client
/// may pend its ProtocolClNotifyCloseAf and close later, from another
/// thread), and until every AF whose close covmini pended has completed
/// its close (NdisMCmCloseAddressFamilyComplete; NDIS does not notify an
/// AF already closing): contract §1.4 and §8.10, "every AF closed before
/// HaltEx returns". Each client tears its calls, VCs and SAPs down
/// through the ordinary handlers meanwhile, so every call-manager context
/// goes back to its list, and no call-manager handler is still running
/// when the wait ends. Then it frees the adapter, its lookaside lists
/// and receive NBLs with it.
/// NDIS halts a paused adapter with no OID or send outstanding; no NDIS
/// call may follow on this adapter. Why the wait has no timeout:
/// [`af_sap::notify_close_all`].
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL, which the wait needs. Holds no lock
/// across the notifications or the wait (the clients' closes take the
/// adapter's locks on other CPUs meanwhile).
unsafe fn halt_impl(ctx: NDIS_HANDLE, action: NDIS_HALT_ACTION) {
    // SAFETY: NDIS passes back the MiniportAdapterContext we registered.
    let Some(adapter) = (unsafe { AdapterContext::from_context(ctx) }) else {
        trace!(ERROR, "HaltEx: not an adapter context: {:p}", ctx);
        return;
    };
    trace!(INFO, "HaltEx (action {})", action);
    adapter.record(Event::Enter {
        handler: Handler::MiniportHaltEx,
        object: ctx.addr(),
    });
    if let Err(e) = adapter.transition(AdapterEvent::Halt) {
        // Halt cannot be refused: record NDIS's misstep and tear down anyway.
        trace!(WARN, "HaltEx: {}", e);
    }
    let (afs, saps, vcs) = af_sap::notify_close_all(adapter);
    let parties = adapter.cm().live_parties();
    if (afs, saps, vcs, parties) != (0, 0, 0, 0) {
        // Only when a client completed its notification without closing
        // its AF (a client bug: no close will come): its contexts are
        // leaked rather than deleted under NDIS's feet.
        trace!(
            ERROR,
            "HaltEx: {} AF opens, {} SAPs, {} VCs, {} parties still alive after every AF close and notify-close completed",
            afs,
            saps,
            vcs,
            parties
        );
        return;
    }
    // The last event of the adapter: its ring goes with it just below.
    let object = ctx.addr();
    adapter.record(Event::Return {
        handler: Handler::MiniportHaltEx,
        object,
        status: NDIS_STATUS_SUCCESS,
    });
    // SAFETY: the context is valid (checked), every call-manager context
    // went back to its list, every AF close and notification halt waited
    // for completed and no call-manager handler is still running on it
    // (the wait counts them), and NDIS never hands it back after HaltEx.
    unsafe { AdapterContext::free(NonNull::from(adapter)) };
}

handler! {
    #[flight(MiniportPause, ctx: AdapterContext)]
    pub(super) unsafe fn pause(ctx: NDIS_HANDLE, _params: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS => pause_impl;
}

/// MiniportPause: stops the data path. "Miniport drivers cannot fail a
/// pause request" (MiniportPause \[D\]): it returns SUCCESS or PENDING.
///
/// From now on every new send is refused, each NBL completed with
/// NDIS_STATUS_PAUSED ("Rejects all new send requests ... It should set
/// the complete status in each NET_BUFFER_LIST to NDIS_STATUS_PAUSED",
/// MiniportPause \[D\]; NET_BUFFER_LIST.Status \[D\]), and no new receive
/// is indicated (receives come only from sends). With nothing in flight
/// the pause is complete: SUCCESS. Otherwise covmini holds sends whose
/// data a protocol still holds as receive NBLs; the pause returns PENDING
/// and the data path calls NdisMPauseComplete when the last of them is
/// completed, which is after NDIS returned the last receive NBL
/// ("After a miniport driver completes all outstanding send requests and
/// NDIS returns all received network data structures ... the driver must
/// complete the pause operation", MiniportPause \[D\]; NdisMPauseComplete
/// \[D\]; "Pausing an Adapter" \[D\]). See `crate::adapter`.
///
/// Call control is not data flow: calls, closes, SAPs and OIDs go on
/// while the adapter is paused (docs/call-manager.md, "Pause").
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL; takes the adapter's state lock alone.
unsafe fn pause_impl(ctx: NDIS_HANDLE, _params: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
    // SAFETY: NDIS passes back our MiniportAdapterContext.
    let Some(adapter) = (unsafe { AdapterContext::from_context(ctx) }) else {
        trace!(ERROR, "Pause: not an adapter context: {:p}", ctx);
        return NDIS_STATUS_SUCCESS;
    };
    match adapter.pause() {
        Ok(PauseOutcome::Complete) => {
            trace!(INFO, "Pause: complete");
            NDIS_STATUS_SUCCESS
        }
        Ok(PauseOutcome::Pending) => {
            trace!(INFO, "Pause: pending until the sends in flight complete");
            NDIS_STATUS_PENDING
        }
        Err(e) => {
            // NDIS never pauses an adapter that is not running; the pause
            // must not fail, and nothing is in flight to wait for.
            trace!(WARN, "Pause: {}", e);
            NDIS_STATUS_SUCCESS
        }
    }
}

handler! {
    #[flight(MiniportRestart, ctx: AdapterContext)]
    pub(super) unsafe fn restart(
        ctx: NDIS_HANDLE,
        _params: PNDIS_MINIPORT_RESTART_PARAMETERS,
    ) -> NDIS_STATUS => restart_impl;
}

/// MiniportRestart: reopens the data path of a paused adapter. NDIS
/// restarts only a paused adapter (MiniportPause \[D\]); anything else is
/// refused with NDIS_STATUS_FAILURE.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL; takes the adapter's state lock alone.
unsafe fn restart_impl(ctx: NDIS_HANDLE, _params: PNDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
    // SAFETY: NDIS passes back our MiniportAdapterContext.
    let Some(adapter) = (unsafe { AdapterContext::from_context(ctx) }) else {
        trace!(ERROR, "Restart: not an adapter context: {:p}", ctx);
        return NDIS_STATUS_FAILURE;
    };
    match adapter.transition(AdapterEvent::Restart) {
        Ok(_) => {
            trace!(INFO, "Restart");
            NDIS_STATUS_SUCCESS
        }
        Err(e) => {
            trace!(WARN, "Restart: {}", e);
            NDIS_STATUS_FAILURE
        }
    }
}
