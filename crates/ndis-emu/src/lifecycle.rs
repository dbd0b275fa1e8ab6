//! The driver's and its adapter's lifecycle, as NDIS runs it: load
//! (DriverEntry), add the adapter (MiniportInitializeEx, MiniportRestart),
//! pause, restart, PnP events and send cancels mid-run, halt (the unbind of
//! the protocols, MiniportPause, MiniportHaltEx), unload, and the end of a
//! run (what leaked). Also the admission of a client's request to the
//! adapter ([`admit`]): none once a halt has begun, and a halt waits for
//! those inside the driver.
//!
//! It owns the driver object and registry path a driver is loaded with
//! ([`Driver`]) and the lock NDIS serializes PnP operations with ([`Pnp`]).
//! The rules it checks at these steps are declared by their areas
//! (`crate::rules`, `crate::config`, `crate::pause`, `crate::sched`,
//! `crate::condis`); it calls the driver only through `crate::ffi`. What it
//! must not do: name the facade (`crate::emulator`) or the scripted
//! clients (`crate::client`), which name it.

use std::sync::Mutex;

use ndis_sys::*;

use crate::condis::ClientId;
use crate::ffi::calls;
use crate::pause::{DataPath, check_completed_before};
use crate::report::{EmuError, Report};
use crate::rules;
use crate::trace::tag_str;
use crate::world::{self, AdapterRec, BindOpKind, HandleKind, InitStep, World};

/// Opens this process's world for a new emulator (waiting for any other
/// emulator to finish), with the client hooks installed that the layers
/// below the shims run clients' answers through (`crate::hooks`).
pub(crate) fn open_session() -> world::Session {
    let verbose = std::env::var_os("NDIS_EMU_VERBOSE").is_some_and(|v| v != "0");
    let mut world = World::default();
    world.verbose = verbose;
    crate::hooks::install(crate::hooks::ClientHooks {
        pump: crate::answers::pump,
        run_action: crate::answers::run_action,
        unbind_clients_at_halt_wait: crate::answers::unbind_clients_at_halt_wait,
        inside: crate::answers::inside,
    });
    world::open(world)
}

/// The driver object and registry path a driver is loaded with; they live
/// as long as the emulator, as the kernel's do as long as the image.
pub(crate) struct Driver {
    object: Box<[u64; 0x150 / 8]>,
    registry_path: Vec<u16>,
}

impl Driver {
    pub(crate) fn new() -> Self {
        Self {
            object: Box::new([0; 0x150 / 8]),
            registry_path: "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\covmini"
                .encode_utf16()
                .collect(),
        }
    }

    /// A protocol (CoNDIS client) driver's object and registry path.
    pub(crate) fn protocol() -> Self {
        Self {
            object: Box::new([0; 0x150 / 8]),
            registry_path: "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\covclient"
                .encode_utf16()
                .collect(),
        }
    }

    fn object(&mut self) -> PDRIVER_OBJECT {
        self.object.as_mut_ptr().cast()
    }

    /// Runs DriverEntry at PASSIVE_LEVEL, as the kernel does after loading
    /// the image. NDIS calls MiniportSetOptions inside it.
    pub(crate) fn load(&mut self, entry: DRIVER_INITIALIZE) -> Result<(), EmuError> {
        self.run_entry(entry)?;
        if world::try_with(|w| w.driver.is_none()).unwrap_or(true) {
            return Err(EmuError::NotLoaded);
        }
        Ok(())
    }

    /// Runs a protocol driver's DriverEntry; it must have registered.
    pub(crate) fn load_protocol(&mut self, entry: DRIVER_INITIALIZE) -> Result<(), EmuError> {
        self.run_entry(entry)?;
        if world::try_with(|w| w.protocol.is_none()).unwrap_or(true) {
            return Err(EmuError::NotLoaded);
        }
        Ok(())
    }

    /// Runs a protocol driver's Unload routine, then checks it deregistered.
    pub(crate) fn unload_protocol(&mut self, unload: DRIVER_UNLOAD) {
        let object = self.object();
        calls::driver_unload(unload, object);
        world::try_with(crate::protocol::unloaded);
    }

    /// DriverEntry with this driver's object and registry path.
    fn run_entry(&mut self, entry: DRIVER_INITIALIZE) -> Result<(), EmuError> {
        let object = self.object();
        let bytes = u16::try_from(self.registry_path.len() * 2).unwrap_or(u16::MAX);
        // The string's buffer lives as long as the emulator; the
        // UNICODE_STRING itself only across DriverEntry, as in Windows.
        let mut registry = UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: self.registry_path.as_mut_ptr(),
        };
        let status = calls::driver_entry(entry, object, &raw mut registry);
        if status != STATUS_SUCCESS {
            // No unload follows a failed DriverEntry: its ETW registrations
            // must be gone already.
            world::try_with(|w| crate::ffi::etw::unload_done(w, "DriverEntry"));
            return Err(EmuError::DriverEntryFailed(status));
        }
        Ok(())
    }

    /// Runs MiniportDriverUnload and checks it deregistered.
    pub(crate) fn unload(&mut self) -> Result<(), EmuError> {
        let unload = world::try_with(|w| w.driver.and_then(|d| d.chars.UnloadHandler))
            .flatten()
            .ok_or(EmuError::NotLoaded)?;
        let object = self.object();
        calls::unload(unload, object);
        world::try_with(|w| {
            if let Some(d) = w.driver {
                crate::sched::owner_done(w, d.handle, "MiniportDriverUnload");
            }
            crate::ffi::etw::unload_done(w, "MiniportDriverUnload");
            crate::bugcheck::at_unload(w);
            let left = crate::io::at_unload(w, "MiniportDriverUnload");
            crate::ffi::io::free_devices(left);
            let deregistered = w.driver.is_some_and(|d| d.deregistered);
            if !deregistered {
                let h = w.driver.map_or(0, |d| d.handle);
                w.violate(
                    rules::UNLOAD_DEREGISTERS,
                    "MiniportDriverUnload",
                    "returned without NdisMDeregisterMiniportDriver",
                    &[h],
                );
            }
        });
        Ok(())
    }
}

/// NDIS binds the registered protocol to the adapter
/// ([`crate::Emulator::bind_protocol`]): ProtocolBindAdapterEx (in which it
/// calls NdisOpenAdapterEx); if that pends, the driver's deferred work runs
/// and the bind must have been completed. Once bound, NDIS notifies it of
/// each AF the call manager registered (ProtocolCoAfRegisterNotify). The
/// bind's status, or None if it pended and was never completed.
pub(crate) fn bind_protocol() -> Result<Option<NDIS_STATUS>, EmuError> {
    let (medium, started) = world::try_with(|w| {
        let medium = w.adapter.as_ref().map_or(0, |a| a.medium);
        (medium, crate::protocol::begin_op(w, BindOpKind::Bind))
    })
    .ok_or(EmuError::NotLoaded)?;
    let Some((bind_context, driver_context, crate::protocol::OpHandler::Bind(bind))) = started else {
        return Err(EmuError::NotLoaded);
    };
    let mut name: Vec<u16> = "\\DEVICE\\{covmini}".encode_utf16().collect();
    let status = calls::bind_adapter(bind, driver_context, bind_context, medium, &mut name);
    let status = finish_op(status)?;
    if status == Some(NDIS_STATUS_SUCCESS) {
        notify_afs();
    }
    Ok(status)
}

/// NDIS unbinds the protocol ([`crate::Emulator::unbind_protocol`]):
/// ProtocolUnbindAdapterEx (in which it calls NdisCloseAdapterEx), completed
/// at once or after its deferred work. Whether it completed.
pub(crate) fn unbind_protocol() -> Result<bool, EmuError> {
    let started = world::try_with(|w| crate::protocol::begin_op(w, BindOpKind::Unbind)).ok_or(EmuError::NotLoaded)?;
    let Some((unbind_context, binding_context, crate::protocol::OpHandler::Unbind(unbind))) = started else {
        return Err(EmuError::NotLoaded);
    };
    let status = calls::unbind_adapter(unbind, unbind_context, binding_context);
    Ok(finish_op(status)?.is_some())
}

/// A bind's or unbind's handler returned `status`: if it pended, the
/// driver's deferred work runs, then the completion is due.
fn finish_op(status: NDIS_STATUS) -> Result<Option<NDIS_STATUS>, EmuError> {
    let pended = world::try_with(|w| crate::protocol::handler_returned(w, status)).unwrap_or(false);
    if !pended {
        return Ok(Some(status));
    }
    crate::sched::run(None)?;
    Ok(world::try_with(crate::protocol::finish_pended).flatten())
}

/// ProtocolCoAfRegisterNotify for each AF the call manager registered on
/// the adapter, now that the protocol is bound.
fn notify_afs() {
    let Some((notify, binding_context, afs)) = world::try_with(|w| {
        let n = crate::protocol::af_notifications(w);
        crate::protocol::offering_afs(w);
        n
    })
    .flatten() else {
        return;
    };
    for af in afs {
        // NDIS stops once the binding is gone (the handler may close it).
        if !world::try_with(|w| crate::protocol::is_bound(w)).unwrap_or(false) {
            break;
        }
        calls::af_register_notify(notify, binding_context, af);
    }
}

/// MiniportInitializeEx, then MiniportRestart ([`crate::Emulator::add_adapter`]).
pub(crate) fn add_adapter() -> Result<(), EmuError> {
    let (init, restart, driver_context) = world::try_with(|w| {
        let d = w.driver.filter(|d| !d.deregistered)?;
        Some((d.chars.InitializeHandlerEx, d.chars.RestartHandler, d.driver_context))
    })
    .flatten()
    .ok_or(EmuError::NotLoaded)?;
    if world::try_with(|w| w.adapter.as_ref().is_some_and(|a| !a.halted)).unwrap_or(false) {
        return Err(EmuError::AdapterExists);
    }
    let (Some(init), Some(restart)) = (init, restart) else {
        return Err(EmuError::NotLoaded);
    };
    let handle = world::try_with(|w| {
        let h = w.new_handle(HandleKind::Adapter, "adapter added");
        w.adapter = Some(AdapterRec {
            handle: h,
            context: 0,
            step: InitStep::Started,
            attribute_flags: 0,
            medium: -1,
            afs: Vec::new(),
            halting: false,
            calls_in: 0,
            halted: false,
        });
        h
    })
    .ok_or(EmuError::NotLoaded)?;
    let mut params = NDIS_MINIPORT_INIT_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS,
            NDIS_MINIPORT_INIT_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_MINIPORT_INIT_PARAMETERS_REVISION_1,
        ),
        Flags: 0,
        AllocatedResources: core::ptr::null_mut(),
        IMDeviceInstanceContext: core::ptr::null_mut(),
        MiniportAddDeviceContext: core::ptr::null_mut(),
        IfIndex: 7,
        NetLuid: 0x0083_0000_0000_0001,
        DefaultPortAuthStates: core::ptr::null_mut(),
        PciDeviceCustomProperties: core::ptr::null_mut(),
    };
    let status = calls::initialize(init, handle, driver_context as NDIS_HANDLE, &mut params);
    let ctx = world::try_with(|w| {
        if status != NDIS_STATUS_SUCCESS {
            crate::sched::owner_done(w, handle, "MiniportInitializeEx");
            config_owner_done(w, handle, "MiniportInitializeEx");
            if let Some(r) = w.handles.get_mut(&handle) {
                r.alive = false;
            }
            w.adapter = None;
            return Err(EmuError::InitializeFailed(status));
        }
        let step = w.adapter.as_ref().map_or(InitStep::Started, |a| a.step);
        if step < InitStep::GeneralAttributes {
            w.violate(
                rules::INIT_ATTRIBUTE_ORDER,
                "MiniportInitializeEx",
                format!("returned SUCCESS at step {step:?}, without registration and general attributes"),
                &[handle],
            );
        }
        Ok(w.adapter.as_ref().map_or(0, |a| a.context))
    })
    .ok_or(EmuError::NotLoaded)??;
    let mut restart_params = NDIS_MINIPORT_RESTART_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_MINIPORT_RESTART_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1,
        ),
        RestartAttributes: core::ptr::null_mut(),
        Flags: 0,
    };
    let status = calls::restart(restart, ctx, &mut restart_params);
    if status != NDIS_STATUS_SUCCESS {
        return Err(EmuError::RestartFailed(status));
    }
    world::try_with(|w| w.pause.restarted());
    Ok(())
}

/// NDIS's PnP operations on the adapter (halt, pause, restart, a PnP
/// event), serialized as NDIS serializes them per miniport: in the threaded
/// mode a halt racing a pause on another CPU runs after it.
pub(crate) struct Pnp {
    /// Held across each operation.
    lock: Mutex<()>,
}

impl Pnp {
    pub(crate) fn new() -> Self {
        Self { lock: Mutex::new(()) }
    }

    /// The pause, then MiniportHaltEx, and the checks of what must be over
    /// when it returns ([`crate::Emulator::halt_adapter`] says what NDIS
    /// guarantees around it).
    pub(crate) fn halt(&self, threaded: bool) -> Result<(), EmuError> {
        let _pnp = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (pause, halt, ctx, handle) = world::try_with(|w| {
            let d = w.driver?;
            let a = w.adapter.as_mut().filter(|a| !a.halted)?;
            a.halting = true;
            Some((d.chars.PauseHandler, d.chars.HaltHandlerEx, a.context, a.handle))
        })
        .flatten()
        .ok_or(EmuError::NoAdapter)?;
        if threaded {
            // Other CPUs may be inside MiniportCoSendNetBufferLists,
            // MiniportCancelSend, MiniportCoOidRequest or ProtocolCmOpenAf
            // (or have a miniport OID pended): NDIS waits for them before
            // pausing and halting.
            crate::sync::wait_bounded(|w| {
                let sends_or_oids = w.adapter.as_ref().map_or(0, |a| a.calls_in);
                let pended = w
                    .condis
                    .requests
                    .pending()
                    .any(|(k, _)| k == crate::condis::ReqKind::MiniportOid);
                sends_or_oids == 0 && !pended
            });
        }
        pause_before_halt(pause, ctx, threaded);
        if let Some(halt) = halt {
            calls::halt(halt, ctx, NdisHaltDeviceDisabled);
        }
        if threaded {
            // A ProtocolCmCloseAf whose last act let HaltEx return may still
            // be returning on another CPU: NDIS completes that close when it
            // returns, and finishes the halt after the calls into the driver
            // it made, so the check waits for it.
            crate::sync::wait_bounded(|w| !w.condis.requests.in_handler(crate::condis::ReqKind::CloseAf));
        }
        crate::condis::rules::check_afs_closed_at_halt();
        crate::condis::pended::check_requests_completed_at_halt();
        crate::answers::drop_client_answers_at_halt();
        world::try_with(|w| {
            crate::sched::owner_done(w, handle, "MiniportHaltEx");
            config_owner_done(w, handle, "MiniportHaltEx");
        });
        world::try_with(|w| {
            if let Some(a) = w.adapter.as_mut() {
                a.halted = true;
            }
            if let Some(r) = w.handles.get_mut(&handle) {
                r.alive = false;
                r.history.push("halted".into());
            }
        });
        world::changed();
        Ok(())
    }

    /// Holds the PnP lock (see [`Self::halt`]) across `f`.
    fn op<R>(&self, f: impl FnOnce() -> R) -> R {
        let _pnp = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f()
    }

    /// MiniportPause mid-run ([`crate::Emulator::pause_adapter`]).
    pub(crate) fn pause(&self) -> Result<NDIS_STATUS, EmuError> {
        self.op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                (w.pause.data_path == DataPath::Running).then_some((d.chars.PauseHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            let status = crate::ffi::pnp::pause(handler, ctx);
            crate::answers::pump();
            Ok(status)
        })
    }

    /// MiniportRestart of a paused adapter ([`crate::Emulator::restart_adapter`]).
    pub(crate) fn restart(&self) -> Result<(), EmuError> {
        self.op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                (w.pause.data_path == DataPath::Paused).then_some((d.chars.RestartHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            // The data path may flow from the moment the driver opens it inside
            // MiniportRestart (another CPU may send then); a failed restart
            // leaves the adapter paused.
            world::try_with(|w| w.pause.restarted());
            let status = crate::ffi::pnp::restart(handler, ctx);
            if status != NDIS_STATUS_SUCCESS {
                world::try_with(|w| w.pause.data_path = DataPath::Paused);
                return Err(EmuError::RestartFailed(status));
            }
            Ok(())
        })
    }

    /// MiniportDevicePnPEventNotify ([`crate::Emulator::pnp_event`]).
    pub(crate) fn pnp_event(&self, event: NDIS_DEVICE_PNP_EVENT, profile: Option<ULONG>) -> Result<(), EmuError> {
        self.op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                Some((d.chars.DevicePnPEventNotifyHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            crate::ffi::pnp::pnp_event(handler, ctx, event, profile);
            crate::answers::pump();
            Ok(())
        })
    }
}

/// Runs `f`, a client's send, send cancel, miniport OID request or AF
/// open, if
/// the adapter is up and no halt has begun (else returns `refused`
/// without reaching the driver), counting it as inside the driver
/// meanwhile (a halt waits for it).
pub(crate) fn admit<R>(refused: R, f: impl FnOnce() -> R) -> R {
    let admitted = world::try_with(|w| match w.adapter.as_mut() {
        Some(a) if !a.halting && !a.halted => {
            a.calls_in += 1;
            true
        }
        _ => false,
    })
    .unwrap_or(false);
    if !admitted {
        return refused;
    }
    let r = f();
    world::try_with(|w| {
        if let Some(a) = w.adapter.as_mut() {
            a.calls_in = a.calls_in.saturating_sub(1);
        }
    });
    world::changed();
    r
}

/// MiniportCancelSend at DISPATCH_LEVEL ([`crate::Emulator::cancel_sends`]).
pub(crate) fn cancel_sends(cancel_id: usize) -> Result<(), EmuError> {
    admit(Err(EmuError::NoAdapter), || {
        let target = world::try_with(|w| {
            let d = w.driver?;
            let a = w.adapter.as_ref().filter(|a| !a.halted)?;
            Some((d.chars.CancelSendHandler?, a.context))
        })
        .flatten();
        let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
        crate::ffi::pnp::cancel_send(handler, ctx, cancel_id);
        crate::answers::pump();
        Ok(())
    })
}

/// Ends the run: every allocation still in the ledger is a leak, and so is
/// every configuration handle, timer and work item still open.
pub(crate) fn finish(mut world: World) -> Report {
    crate::sched::leftovers(&mut world);
    for owner in world.config.owners() {
        config_owner_done(&mut world, owner, "unload");
    }
    crate::lookaside::leaks_at_unload(&mut world);
    let leaks: Vec<(usize, world::Allocation)> = world.ledger.iter().map(|(a, b)| (*a, b.clone())).collect();
    for (addr, a) in leaks {
        world.violate(
            rules::MEMORY_LEDGER,
            "unload",
            format!(
                "leaked {} bytes, tag {}, allocated in {} at {addr:#x}",
                a.size,
                tag_str(a.tag),
                a.origin
            ),
            &[],
        );
    }
    Report::from_world(world)
}

/// The configuration handles `owner` must have closed by now (its
/// MiniportHaltEx or failed MiniportInitializeEx returned, or the run
/// ended): each still open breaks `config.closed`, once (it is closed here).
fn config_owner_done(w: &mut World, owner: usize, when: &'static str) {
    for (h, origin) in w.config.close_all_of(owner) {
        if let Some(r) = w.handles.get_mut(&h) {
            r.alive = false;
        }
        w.violate(
            crate::config::CONFIG_CLOSED,
            when,
            format!("configuration handle {h:#x} opened in {origin} is not closed when {when} returned"),
            &[h],
        );
    }
}

/// The pause NDIS makes before MiniportHaltEx: protocols unbind first, so
/// every holding client gives back what it held; then MiniportPause, unless
/// the adapter is paused already (a test paused it); then the pause must be
/// complete. In the threaded mode NDIS waits for a pending pause (another
/// CPU may be completing the last send) before it checks.
fn pause_before_halt(handler: Option<MINIPORT_PAUSE>, ctx: usize, threaded: bool) {
    release_all_holders();
    let due = world::try_with(|w| w.pause.running()).unwrap_or(false);
    if let (true, Some(handler)) = (due, handler) {
        let _ = crate::ffi::pnp::pause(handler, ctx);
        crate::answers::pump();
    }
    if threaded {
        crate::sync::wait_bounded(|w| w.pause.data_path != DataPath::Pausing);
    }
    world::try_with(|w| check_completed_before(w, "MiniportHaltEx"));
}

/// The adapter is up and no halt has begun (NDIS sends it no PnP event,
/// pause or restart once it is halting).
fn live(a: &crate::world::AdapterRec) -> bool {
    !a.halted && !a.halting
}

/// Every client stops holding and gives back what it held (protocols
/// unbinding before a halt), in indication order per client.
fn release_all_holders() {
    let clients: Vec<ClientId> = world::try_with(|w| {
        w.pause.holding.clear();
        w.pause.held.keys().copied().collect()
    })
    .unwrap_or_default();
    for c in clients {
        return_held_of(c);
    }
}

pub(crate) fn return_held_of(client: ClientId) -> usize {
    let held = world::try_with(|w| w.pause.held.remove(&client))
        .flatten()
        .unwrap_or_default();
    let mut n = 0;
    for (vc, nbls) in held {
        n += nbls.len();
        crate::ffi::data::return_nbls(vc, &nbls);
        crate::answers::pump();
    }
    n
}
