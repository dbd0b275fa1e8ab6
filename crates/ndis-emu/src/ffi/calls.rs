//! Calls from the emulator into the driver's handlers.
//!
//! Each call pushes a frame (the handler's name and the IRQL NDIS calls it
//! at) on the calling CPU ([`crate::world::Cpu`]: IRQL and frames are per
//! processor), runs the handler with no borrow of the world held (the driver
//! calls back into NDIS, and other CPUs need the world meanwhile), and on
//! return checks that the handler left the IRQL as it found it (rule
//! `irql.balance`). Every thread that calls into the driver (the emulator's
//! own, and the threaded mode's worker, DPC and client threads) goes through
//! these frames.

use ndis_sys::*;

use crate::rules;
use crate::trace::Detail;
use crate::world::{self, Frame, World};

pub(crate) fn enter(name: &'static str, irql: KIRQL, detail: Detail) -> KIRQL {
    let caller = world::cpu(name, |c| {
        let caller = c.irql;
        c.irql = irql;
        c.frames.push(Frame {
            handler: name,
            irql_at_entry: irql,
        });
        caller
    });
    world::with(name, |w| w.event("->", name, detail));
    caller
}

/// [`enter`] inside a critical section the caller already holds on the
/// world (`w`), so what the caller records there and the handler's entry
/// are one step for every other CPU. The caller read the CPU's IRQL (its
/// own caller's) before.
pub(crate) fn enter_locked(w: &mut World, name: &'static str, irql: KIRQL, detail: Detail) {
    world::cpu(name, |c| {
        c.irql = irql;
        c.frames.push(Frame {
            handler: name,
            irql_at_entry: irql,
        });
    });
    w.event("->", name, detail);
}

pub(crate) fn leave(name: &'static str, caller_irql: KIRQL, detail: Detail) {
    let (entry, now) = world::cpu(name, |c| {
        let frame = c.frames.pop();
        let now = c.irql;
        c.irql = caller_irql;
        (frame.map_or(caller_irql, |f| f.irql_at_entry), now)
    });
    world::with(name, |w| {
        if now != entry {
            w.violate(
                rules::IRQL_BALANCE,
                name,
                format!("returned at IRQL {now}, entered at {entry}: a spin lock is still held"),
                &[],
            );
        }
        w.event_at(now, "<-", name, detail);
    });
}

/// DriverEntry at PASSIVE_LEVEL.
pub(crate) fn driver_entry(
    entry: DRIVER_INITIALIZE,
    driver_object: PDRIVER_OBJECT,
    registry_path: PUNICODE_STRING,
) -> NTSTATUS {
    let caller = enter("DriverEntry", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: the emulator passes a zeroed DRIVER_OBJECT-sized block and a
    // valid UNICODE_STRING, both alive across the call, as the kernel does.
    let status = unsafe { entry(driver_object, registry_path) };
    leave("DriverEntry", caller, Detail::status(status));
    status
}

/// MiniportSetOptions at PASSIVE_LEVEL.
pub(crate) fn set_options(f: MINIPORT_SET_OPTIONS, handle: usize, driver_context: NDIS_HANDLE) -> NDIS_STATUS {
    let caller = enter("MiniportSetOptions", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: the driver registered this handler; the handle is the driver
    // handle NDIS just created and the context the one the driver passed.
    let status = unsafe { f(handle as NDIS_HANDLE, driver_context) };
    leave("MiniportSetOptions", caller, Detail::status(status));
    status
}

/// ProtocolSetOptions at PASSIVE_LEVEL (inside NdisRegisterProtocolDriver).
pub(crate) fn protocol_set_options(f: PROTOCOL_SET_OPTIONS, handle: usize, driver_context: NDIS_HANDLE) -> NDIS_STATUS {
    let caller = enter("ProtocolSetOptions", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: the protocol registered this handler; the handle is the
    // protocol handle NDIS just created and the context the one it passed.
    let status = unsafe { f(handle as NDIS_HANDLE, driver_context) };
    leave("ProtocolSetOptions", caller, Detail::status(status));
    status
}

/// A protocol driver's Unload routine (DRIVER_UNLOAD) at PASSIVE_LEVEL.
pub(crate) fn driver_unload(f: DRIVER_UNLOAD, driver_object: PDRIVER_OBJECT) {
    let caller = enter("Unload", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: the routine the driver's DriverEntry set; the same
    // DRIVER_OBJECT DriverEntry got, alive as long as the emulator.
    unsafe { f(driver_object) };
    leave("Unload", caller, Detail::EMPTY);
}

/// ProtocolBindAdapterEx at PASSIVE_LEVEL, with NDIS_BIND_PARAMETERS
/// (revision 1) for an adapter of `medium` named `adapter_name`.
pub(crate) fn bind_adapter(
    f: PROTOCOL_BIND_ADAPTER_EX,
    driver_context: usize,
    bind_context: usize,
    medium: NDIS_MEDIUM,
    adapter_name: &mut [u16],
) -> NDIS_STATUS {
    let bytes = u16::try_from(adapter_name.len().saturating_mul(2)).unwrap_or(u16::MAX);
    let mut name = NDIS_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: adapter_name.as_mut_ptr(),
    };
    let mut params: NDIS_BIND_PARAMETERS = super::zero::zeroed();
    params.Header = NDIS_OBJECT_HEADER {
        Type: NDIS_OBJECT_TYPE_BIND_PARAMETERS,
        Revision: NDIS_BIND_PARAMETERS_REVISION_1,
        Size: NDIS_SIZEOF_BIND_PARAMETERS_REVISION_1 as u16,
    };
    params.AdapterName = &raw mut name;
    params.MediaType = medium;
    let caller = enter("ProtocolBindAdapterEx", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: the protocol registered this handler; the contexts are the
    // driver's own and the BindContext handle NDIS made; the parameters and
    // the name they point to live across the call.
    let status = unsafe {
        f(
            driver_context as NDIS_HANDLE,
            bind_context as NDIS_HANDLE,
            &raw mut params,
        )
    };
    leave("ProtocolBindAdapterEx", caller, Detail::status(status));
    status
}

/// ProtocolUnbindAdapterEx at PASSIVE_LEVEL.
pub(crate) fn unbind_adapter(
    f: PROTOCOL_UNBIND_ADAPTER_EX,
    unbind_context: usize,
    binding_context: usize,
) -> NDIS_STATUS {
    let caller = enter("ProtocolUnbindAdapterEx", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: registered handler; the UnbindContext handle NDIS made and the
    // binding context the driver gave NdisOpenAdapterEx.
    let status = unsafe { f(unbind_context as NDIS_HANDLE, binding_context as NDIS_HANDLE) };
    leave("ProtocolUnbindAdapterEx", caller, Detail::status(status));
    status
}

/// ProtocolCoAfRegisterNotify at PASSIVE_LEVEL for `af`.
pub(crate) fn af_register_notify(f: PROTOCOL_CO_AF_REGISTER_NOTIFY, binding_context: usize, mut af: CO_ADDRESS_FAMILY) {
    let caller = enter("ProtocolCoAfRegisterNotify", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: registered handler; the binding context the driver gave
    // NdisOpenAdapterEx; the AF lives across the call.
    unsafe { f(binding_context as NDIS_HANDLE, &raw mut af) };
    leave("ProtocolCoAfRegisterNotify", caller, Detail::EMPTY);
}

/// MiniportInitializeEx at PASSIVE_LEVEL.
pub(crate) fn initialize(
    f: MINIPORT_INITIALIZE,
    handle: usize,
    driver_context: NDIS_HANDLE,
    params: &mut NDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    let caller = enter("MiniportInitializeEx", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: registered handler; adapter handle just created; the parameter
    // block lives across the call.
    let status = unsafe { f(handle as NDIS_HANDLE, driver_context, params) };
    leave("MiniportInitializeEx", caller, Detail::status(status));
    status
}

/// MiniportRestart at PASSIVE_LEVEL.
pub(crate) fn restart(f: MINIPORT_RESTART, ctx: usize, params: &mut NDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
    let caller = enter("MiniportRestart", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: registered handler; the adapter context the driver gave NDIS.
    let status = unsafe { f(ctx as NDIS_HANDLE, params) };
    leave("MiniportRestart", caller, Detail::status(status));
    status
}

/// MiniportPause at PASSIVE_LEVEL.
pub(crate) fn pause(f: MINIPORT_PAUSE, ctx: usize, params: &mut NDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
    let caller = enter("MiniportPause", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: `f` is the MiniportPause the driver registered (its
    // characteristics), called with the adapter context it gave NDIS at
    // initialize and live pause parameters, at PASSIVE_LEVEL as the DDI says.
    let status = unsafe { f(ctx as NDIS_HANDLE, params) };
    leave("MiniportPause", caller, Detail::status(status));
    status
}

/// MiniportHaltEx at PASSIVE_LEVEL.
pub(crate) fn halt(f: MINIPORT_HALT, ctx: usize, action: NDIS_HALT_ACTION) {
    let caller = enter("MiniportHaltEx", PASSIVE_LEVEL, crate::detail!("action {}", action));
    // SAFETY: `f` is the MiniportHaltEx the driver registered, called once
    // with the adapter context it gave NDIS at initialize, at PASSIVE_LEVEL;
    // the emulator does not use the context afterwards.
    unsafe { f(ctx as NDIS_HANDLE, action) };
    leave("MiniportHaltEx", caller, Detail::EMPTY);
}

/// MiniportDriverUnload at PASSIVE_LEVEL.
pub(crate) fn unload(f: MINIPORT_UNLOAD, driver_object: PDRIVER_OBJECT) {
    let caller = enter("MiniportDriverUnload", PASSIVE_LEVEL, Detail::EMPTY);
    // SAFETY: registered handler; the same DRIVER_OBJECT DriverEntry got.
    unsafe { f(driver_object) };
    leave("MiniportDriverUnload", caller, Detail::EMPTY);
}

/// An NDIS I/O work item's routine (NDIS_IO_WORKITEM_ROUTINE) at
/// PASSIVE_LEVEL, as a system worker thread calls it (crate::sched).
pub(crate) fn work_item(routine: NDIS_IO_WORKITEM_ROUTINE, context: usize, handle: usize, detail: Detail) {
    let caller = enter("WorkItemRoutine", PASSIVE_LEVEL, detail);
    // SAFETY: the routine the driver passed to NdisQueueIoWorkItem for this
    // work item, called with the context it passed and the work item's
    // handle, as NDIS calls it.
    unsafe { routine(context as PVOID, handle as NDIS_HANDLE) };
    leave("WorkItemRoutine", caller, Detail::EMPTY);
}

/// An NDIS timer object's NetTimerCallback (NDIS_TIMER_FUNCTION) at
/// DISPATCH_LEVEL, as its DPC calls it (crate::sched). The three
/// system-specific arguments are reserved; NDIS-emu passes NULL.
pub(crate) fn timer(function: NDIS_TIMER_FUNCTION, context: usize, detail: Detail) {
    let caller = enter("NetTimerCallback", DISPATCH_LEVEL, detail);
    // SAFETY: the TimerFunction the driver registered for a live timer that
    // fired, with the FunctionContext it chose.
    unsafe {
        function(
            core::ptr::null_mut(),
            context as PVOID,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
    };
    leave("NetTimerCallback", caller, Detail::EMPTY);
}
