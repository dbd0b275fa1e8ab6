//! The emulator's public face: bring a driver up, drive its adapter through
//! the NDIS lifecycle, take it down, and report what broke.
//!
//! ```text
//! let mut emu = Emulator::new();
//! emu.load(covmini::DriverEntry)?;
//! emu.add_adapter()?;            // InitializeEx, then Restart
//! emu.halt_adapter()?;           // Pause, then HaltEx
//! emu.unload()?;                 // MiniportDriverUnload
//! let report = emu.finish();     // + leak check
//! assert!(report.is_clean(), "{report}");
//! ```
//!
//! Two modes (see [`crate::sched`]): [`Emulator::new`] / [`Emulator::with_seed`]
//! run everything on the caller's thread, deterministically;
//! [`Emulator::threaded`] adds system worker threads and DPC threads that run
//! deferred work at once, and [`Emulator::concurrently`] runs client scripts
//! on several threads against one emulator (the stress mode).

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use ndis_sys::*;

use crate::condis::ClientId;
use crate::ffi::calls;
use crate::handles::{Af, Client, Vc};
use crate::interleave::{ARMED, At, InjectedDone, Interleaving, Phase, Run, VictimDone, lock, wait_turn};
use crate::pause::{DataPath, check_completed_before, restarted, running};
use crate::rules::{self, Rule, Violation};
use crate::trace::tag_str;
use crate::world::{self, AdapterRec, CpuKind, Event, HandleKind, InitStep, World};

/// Why an emulator step could not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmuError {
    /// DriverEntry returned a failure NTSTATUS.
    DriverEntryFailed(NTSTATUS),
    /// No driver is registered (DriverEntry not run, or it failed).
    NotLoaded,
    /// MiniportInitializeEx failed with this status.
    InitializeFailed(NDIS_STATUS),
    /// MiniportRestart failed with this status.
    RestartFailed(NDIS_STATUS),
    /// No adapter is up.
    NoAdapter,
    /// An adapter is already up (ndis-emu runs one adapter per driver).
    AdapterExists,
    /// The scheduler ran `steps` work item routines and timer callbacks and
    /// still had `pending` ready: a periodic timer or a work item that
    /// requeues itself keeps it busy (see [`Emulator::set_step_limit`]).
    NeverIdle {
        /// Routines and callbacks run before giving up.
        steps: usize,
        /// Work items queued and timers set when it gave up.
        pending: usize,
    },
}

impl fmt::Display for EmuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DriverEntryFailed(s) => write!(f, "DriverEntry failed with {s:#010x}"),
            Self::NotLoaded => f.write_str("no miniport driver is registered"),
            Self::InitializeFailed(s) => write!(f, "MiniportInitializeEx failed with {s:#010x}"),
            Self::RestartFailed(s) => write!(f, "MiniportRestart failed with {s:#010x}"),
            Self::NoAdapter => f.write_str("no adapter is up"),
            Self::AdapterExists => f.write_str("an adapter is already up"),
            Self::NeverIdle { steps, pending } => write!(
                f,
                "deferred work never went idle: {steps} routine(s) and callback(s) ran and {pending} work item(s) or \
                 timer(s) are still pending (a periodic timer or a self-requeuing work item; cancel it, or use \
                 advance_time)"
            ),
        }
    }
}

impl std::error::Error for EmuError {}

/// What a run left behind: violations (leaks included), the trace and the
/// driver's debug output.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every broken rule, in the order seen (leaks last).
    pub violations: Vec<Violation>,
    /// The trace: handler entries/returns and DDI calls, in order.
    pub events: Vec<Event>,
    /// What the driver printed with DbgPrintEx.
    pub debug_output: Vec<String>,
}

impl Report {
    /// No rule was broken and nothing leaked.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations of one rule.
    pub fn of(&self, rule: Rule) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.rule == rule)
    }

    /// The distinct rules broken, in catalog order.
    #[must_use]
    pub fn rules(&self) -> Vec<Rule> {
        let mut r: Vec<Rule> = self.violations.iter().map(|v| v.rule).collect();
        r.sort();
        r.dedup();
        r
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} violation(s)", self.violations.len())?;
        for v in &self.violations {
            writeln!(f, "  {v}")?;
        }
        writeln!(f, "trace (last 40 events):")?;
        let skip = self.events.len().saturating_sub(40);
        for e in self.events.iter().skip(skip) {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// A user-mode NDIS with one driver and at most one adapter.
///
/// INVARIANT: while an `Emulator` exists, this process runs no other
/// emulator (the session), the world is installed (until [`Self::finish`]
/// takes it) and the creating thread is its CPU 0. `Emulator` is `Sync` but
/// not `Send`: it stays on the thread that created it, and
/// [`Self::concurrently`] shares it with client threads for a while.
pub struct Emulator {
    /// Worker and DPC threads of the threaded mode (empty otherwise); they
    /// are stopped and joined before the session ends.
    threads: Vec<JoinHandle<()>>,
    _session: world::Session,
    driver_object: Box<[u64; 0x150 / 8]>,
    registry_path: Vec<u16>,
    entry: Option<DRIVER_INITIALIZE>,
    /// The last AF handle a client opened (also when the open is pending).
    pub(crate) last_af: Mutex<Option<Af>>,
    /// Held across each PnP operation on the adapter (halt, pause,
    /// restart, a PnP event): NDIS serializes them per miniport, so in the
    /// threaded mode a halt racing a pause on another CPU runs after it.
    pnp: Mutex<()>,
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Emulator {
    /// A fresh emulator in the deterministic mode (waits for any other in
    /// this process to finish).
    #[must_use]
    pub fn new() -> Self {
        let verbose = std::env::var_os("NDIS_EMU_VERBOSE").is_some_and(|v| v != "0");
        let mut world = World::default();
        world.verbose = verbose;
        crate::hooks::install(crate::hooks::ClientHooks {
            pump: crate::ffi::cm::pump,
            run_action: crate::ffi::cm::run_action,
            unbind_clients_at_halt_wait: crate::ffi::cm::unbind_clients_at_halt_wait,
        });
        let session = world::open(world);
        let registry_path: Vec<u16> = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\covmini"
            .encode_utf16()
            .collect();
        Self {
            threads: Vec::new(),
            _session: session,
            driver_object: Box::new([0; 0x150 / 8]),
            registry_path,
            entry: None,
            last_af: Mutex::new(None),
            pnp: Mutex::new(()),
        }
    }

    /// A fresh emulator in the threaded mode, for stress: `workers` system
    /// worker threads run queued work items at PASSIVE_LEVEL as soon as they
    /// are queued, and `workers` DPC threads (one per virtual processor) run
    /// timer callbacks at DISPATCH_LEVEL as soon as they are due; each is a
    /// CPU with its own IRQL, and spin locks really exclude CPUs from each
    /// other. Time is still virtual and moves only with
    /// [`Self::run_until_idle`] and [`Self::advance_time`], which wait for
    /// the threads to drain. `seed` picks among ready work as in
    /// [`Self::with_seed`], but the threads' interleaving is the machine's,
    /// so a run cannot be replayed. At least one thread of each kind.
    #[must_use]
    pub fn threaded(seed: u64, workers: usize) -> Self {
        let mut emu = Self::with_seed(seed);
        let workers = workers.max(1);
        let cpus = world::try_with(|w| {
            w.sched.set_threaded();
            let mut cpus: Vec<world::Cpu> = (0..workers).map(|_| w.new_cpu(CpuKind::Worker)).collect();
            cpus.extend((0..workers).map(|_| w.new_cpu(CpuKind::Dpc)));
            cpus
        })
        .unwrap_or_default();
        for cpu in cpus {
            let name = format!("ndis-emu cpu {} ({:?})", cpu.id, cpu.kind);
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || crate::sched::cpu_thread(cpu));
            match spawned {
                Ok(h) => emu.threads.push(h),
                Err(e) => panic!("ndis-emu: cannot start a worker thread: {e}"),
            }
        }
        emu
    }

    /// Whether this emulator runs in the threaded mode.
    #[must_use]
    pub fn is_threaded(&self) -> bool {
        world::try_with(|w| w.sched.threaded()).unwrap_or(false)
    }

    /// Runs `script(i, &emu)` for `i` in `0..threads`, each on its own
    /// thread and its own CPU, all at once, and returns what each returned,
    /// in index order. The scripts use the client API ([`Self::open_af`],
    /// [`Self::make_call`], [`Self::send`], ...), which takes `&self` for
    /// this; every client request runs on the calling script's CPU, and the
    /// answers a client owes NDIS after a driver handler returns (NBL
    /// returns, incoming-close answers) run on the CPU whose request
    /// produced them, before that request returns (a protocol may return
    /// NBLs from any CPU).
    ///
    /// A script that panics stops the process with its message (the other
    /// scripts may be waiting for it), rather than hang the test.
    ///
    /// # Panics
    /// In the deterministic mode: concurrent scripts would make the run
    /// depend on the machine. Use [`Self::threaded`].
    pub fn concurrently<T: Send>(&mut self, threads: usize, script: impl Fn(usize, &Self) -> T + Sync) -> Vec<T> {
        assert!(
            self.is_threaded(),
            "Emulator::concurrently needs the threaded mode (Emulator::threaded): the deterministic mode runs on one thread"
        );
        let cpus = world::try_with(|w| (0..threads).map(|_| w.new_cpu(CpuKind::Client)).collect::<Vec<_>>())
            .unwrap_or_default();
        let this: &Self = self;
        let script = &script;
        std::thread::scope(|s| {
            let handles: Vec<_> = cpus
                .into_iter()
                .enumerate()
                .map(|(i, cpu)| {
                    s.spawn(move || {
                        world::become_cpu(cpu);
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| script(i, this)));
                        crate::ffi::cm::pump();
                        world::leave_cpu();
                        match r {
                            Ok(r) => r,
                            Err(_) => {
                                eprintln!("ndis-emu: client script {i} panicked (above); stopping the process rather than leave the other scripts waiting for it");
                                std::process::abort();
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    /// Runs `f` on the calling thread's CPU at `irql`, then puts the CPU
    /// back at the IRQL it had. For tests of the DDIs' IRQL limits: nothing a
    /// driver does on ndis-emu raises a CPU above DISPATCH_LEVEL (spin locks
    /// stop there), so without this no test could show that a DDI whose
    /// limit is DISPATCH_LEVEL refuses a caller at device IRQL.
    pub fn at_irql<T>(&self, irql: KIRQL, f: impl FnOnce() -> T) -> T {
        let old = world::irql();
        world::set_irql(irql);
        let out = f();
        world::set_irql(old);
        out
    }

    /// The IRQL of the calling thread's CPU (each CPU has its own).
    #[must_use]
    pub fn current_irql(&self) -> KIRQL {
        world::irql()
    }

    /// The number of the calling thread's CPU (0: the emulator's thread).
    #[must_use]
    pub fn current_cpu(&self) -> u32 {
        world::cpu_id()
    }

    /// Stops the threaded mode's threads (each finishes what it is running).
    fn stop_threads(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        world::try_with(|w| w.sched.stop());
        world::changed();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }

    fn driver_object(&mut self) -> PDRIVER_OBJECT {
        self.driver_object.as_mut_ptr().cast()
    }

    /// Runs DriverEntry at PASSIVE_LEVEL, as the kernel does after loading
    /// the image. NDIS calls MiniportSetOptions inside it.
    pub fn load(&mut self, entry: DRIVER_INITIALIZE) -> Result<(), EmuError> {
        self.entry = Some(entry);
        let object = self.driver_object();
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
        if world::try_with(|w| w.driver.is_none()).unwrap_or(true) {
            return Err(EmuError::NotLoaded);
        }
        Ok(())
    }

    /// Adds the adapter: MiniportInitializeEx, then (as NDIS does once the
    /// protocols are bound) MiniportRestart.
    pub fn add_adapter(&mut self) -> Result<(), EmuError> {
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
        world::try_with(restarted);
        Ok(())
    }

    /// Pauses the adapter, then halts it (NDIS halts only paused adapters).
    /// It does not wait for the threaded mode's workers: NDIS does not drain
    /// a miniport's work items or timers at halt, so what the driver left
    /// queued, set or running when MiniportHaltEx returns is its own bug
    /// (rule `sched.leak`), as in the deterministic mode. Likewise an AF
    /// still open when HaltEx returns breaks `halt.afs-closed`, and the
    /// answers its client still owed (a pended notify-close, or the removal
    /// of what it left on an AF whose close pended, that the driver did not
    /// wait for) are dropped: the emulator never calls a halted driver.
    /// A client with an AF close pending removes what it left on that AF on a
    /// thread of its own (its unbind), once HaltEx waits.
    ///
    /// It takes `&self`, so a script of [`Self::concurrently`] can halt
    /// while the others run client requests, and it keeps what NDIS
    /// guarantees around MiniportHaltEx (contract §1.4): from the moment it
    /// begins, NDIS is unbinding the protocols, so no new send, send cancel,
    /// miniport OID request or AF open reaches the driver ([`Self::send`]
    /// refuses with NDIS_STATUS_PAUSED, the others with
    /// NDIS_STATUS_FAILURE), and it waits for those already inside the
    /// driver, and for a pended pause to complete, before it calls HaltEx. A client's call-manager
    /// requests on an AF that is still open go on reaching the driver, also
    /// while HaltEx waits for its NdisMCmNotifyCloseAddressFamily: closing
    /// those AFs is what HaltEx waits for. Once HaltEx returned, every
    /// client request is refused before it reaches the driver. Halt, pause,
    /// restart and PnP events are serialized, as NDIS serializes them.
    pub fn halt_adapter(&self) -> Result<(), EmuError> {
        let _pnp = self.pnp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (pause, halt, ctx, handle) = world::try_with(|w| {
            let d = w.driver?;
            let a = w.adapter.as_mut().filter(|a| !a.halted)?;
            a.halting = true;
            Some((d.chars.PauseHandler, d.chars.HaltHandlerEx, a.context, a.handle))
        })
        .flatten()
        .ok_or(EmuError::NoAdapter)?;
        if self.is_threaded() {
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
        pause_before_halt(pause, ctx, self.is_threaded());
        if let Some(halt) = halt {
            calls::halt(halt, ctx, NdisHaltDeviceDisabled);
        }
        if self.is_threaded() {
            // A ProtocolCmCloseAf whose last act let HaltEx return may still
            // be returning on another CPU: NDIS completes that close when it
            // returns, and finishes the halt after the calls into the driver
            // it made, so the check waits for it.
            crate::sync::wait_bounded(|w| !w.condis.requests.in_handler(crate::condis::ReqKind::CloseAf));
        }
        crate::condis::rules::check_afs_closed_at_halt();
        crate::condis::pended::check_requests_completed_at_halt();
        crate::ffi::cm::drop_client_answers_at_halt();
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

    /// Holds the PnP lock (see [`Self::halt_adapter`]) across `f`.
    pub(crate) fn pnp_op<R>(&self, f: impl FnOnce() -> R) -> R {
        let _pnp = self.pnp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f()
    }

    /// Runs `f`, a client's send, send cancel, miniport OID request or AF
    /// open, if
    /// the adapter is up and no halt has begun (else returns `refused`
    /// without reaching the driver), counting it as inside the driver
    /// meanwhile (a halt waits for it).
    pub(crate) fn adapter_call<R>(&self, refused: R, f: impl FnOnce() -> R) -> R {
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

    /// Runs MiniportDriverUnload and checks it deregistered.
    pub fn unload(&mut self) -> Result<(), EmuError> {
        let unload = world::try_with(|w| w.driver.and_then(|d| d.chars.UnloadHandler))
            .flatten()
            .ok_or(EmuError::NotLoaded)?;
        let object = self.driver_object();
        calls::unload(unload, object);
        world::try_with(|w| {
            if let Some(d) = w.driver {
                crate::sched::owner_done(w, d.handle, "MiniportDriverUnload");
            }
            crate::ffi::etw::unload_done(w, "MiniportDriverUnload");
            crate::ffi::bugcheck_callbacks::at_unload(w);
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

    /// Sets a value of the adapter's registry key (its software key, where
    /// the INF's `HKR` values of the install section land), as a `REG_DWORD`:
    /// what NdisReadConfiguration on a handle from NdisOpenConfigurationEx
    /// with the MiniportAdapterHandle returns for `name` (compared
    /// case-insensitively). A value not set reads as absent
    /// (NDIS_STATUS_FAILURE). Set it before [`Emulator::add_adapter`].
    pub fn set_adapter_parameter(&mut self, name: &str, value: u32) {
        world::try_with(|w| w.config.set(name, value));
    }

    /// A fresh emulator whose scheduler breaks ties with a PRNG seeded by
    /// `seed`: when several work items and timers are ready at once, the
    /// seed picks the order. Same seed, same run ([`Emulator::new`] is seed 0).
    #[must_use]
    pub fn with_seed(seed: u64) -> Self {
        let emu = Self::new();
        world::try_with(|w| w.sched = crate::sched::Sched::new(seed));
        emu
    }

    /// Runs queued work items (at PASSIVE_LEVEL) and due timers (at
    /// DISPATCH_LEVEL), moving virtual time to the next due timer whenever
    /// nothing is ready, until nothing is queued or set. Returns how many
    /// routines and callbacks ran.
    ///
    /// # Errors
    /// [`EmuError::NeverIdle`] after the step limit ([`Emulator::set_step_limit`],
    /// 10 000 by default): a periodic timer is never idle.
    ///
    /// In the threaded mode the worker and DPC threads run the work; this
    /// waits until nothing is queued, due or running, moves time to the
    /// next due timer, and so on.
    pub fn run_until_idle(&mut self) -> Result<usize, EmuError> {
        crate::sched::run(None)
    }

    /// Lets `ms` milliseconds of virtual time pass, running every work item
    /// and every timer that comes due on the way, at its due time (a 10 ms
    /// periodic timer fires 10 times in 100 ms). Returns how many routines and
    /// callbacks ran.
    ///
    /// # Errors
    /// [`EmuError::NeverIdle`] after the step limit.
    pub fn advance_time(&mut self, ms: u64) -> Result<usize, EmuError> {
        crate::sched::run(Some(ms))
    }

    /// Work items queued plus timers set (in the timer queue).
    #[must_use]
    pub fn pending_deferred(&self) -> usize {
        world::try_with(|w| w.sched.pending()).unwrap_or(0)
    }

    /// How many routines and callbacks one [`Emulator::run_until_idle`] or
    /// [`Emulator::advance_time`] may run before it reports
    /// [`EmuError::NeverIdle`].
    pub fn set_step_limit(&mut self, steps: usize) {
        world::try_with(|w| w.sched.set_step_limit(steps));
    }

    /// The virtual system time, in 100 ns units since 1601 (what an
    /// absolute `DueTime` of NdisSetTimerObject is compared with). It starts
    /// at 2025-01-01 00:00 UTC and moves only with the scheduler.
    #[must_use]
    pub fn system_time(&self) -> i64 {
        world::try_with(|w| w.sched.now()).unwrap_or(crate::sched::SYSTEM_TIME_BASE)
    }

    /// Makes the `n`-th allocation from now fail (`n` = 1: the next one),
    /// whichever DDI makes it: NdisAllocateMemoryWithTagPriority,
    /// NdisAllocateIoWorkItem, NdisAllocateTimerObject, and every other DDI
    /// that allocates. The DDI fails as its page documents (NULL or
    /// NDIS_STATUS_RESOURCES) and the trace shows a `!!` event.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn fail_nth_allocation(&mut self, n: u64) {
        world::try_with(|w| w.faults.fail_nth_allocation(n));
    }

    /// Makes the `n`-th call of the DDI `ddi` from now fail (`n` = 1: the
    /// next one), e.g. `fail_nth_call("NdisAllocateIoWorkItem", 2)`.
    ///
    /// # Panics
    /// If `n` is 0, or if ndis-emu implements no DDI of that name (a typo
    /// would otherwise make the test pass without any failure).
    pub fn fail_nth_call(&mut self, ddi: &str, n: u64) {
        assert!(
            crate::ffi::table::table().iter().any(|i| i.name == ddi),
            "fail_nth_call: ndis-emu has no DDI named {ddi:?}"
        );
        world::try_with(|w| w.faults.fail_nth_call(ddi, n));
    }

    /// Makes the `n`-th allocation from now from a lookaside list whose pool
    /// tag is `tag` fail (`n` = 1: the next one), whichever list of that tag
    /// it is: the driver's inline NdisAllocateFromNPagedLookasideList
    /// returns NULL, as on Windows when the list is empty and its Allocate
    /// routine (ExAllocatePoolWithTag) fails. The trace shows a `!!` event
    /// named `ExAllocateFromNPagedLookasideList`.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn fail_nth_lookaside(&mut self, tag: ULONG, n: u64) {
        world::try_with(|w| w.faults.fail_nth_lookaside(tag, n));
    }

    /// Makes every allocation from the `n`-th from now on fail (pool
    /// exhausted for good): allocating DDIs and lookaside allocations alike.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn fail_allocations_from(&mut self, n: u64) {
        world::try_with(|w| w.faults.fail_allocations_from(n));
    }

    /// The fault-site census so far: every allocation, lookaside allocation
    /// and failable DDI call the driver made, in order, each named by kind,
    /// DDI, tag and ordinal (see [`crate::Site`]). A clean run's census is
    /// the list of places the same run can be made to fail.
    #[must_use]
    pub fn fault_sites(&self) -> Vec<crate::Site> {
        world::try_with(|w| w.faults.sites().to_vec()).unwrap_or_default()
    }

    /// Makes the census site `site` fail when this run reaches it. Its
    /// ordinal counts from the emulator's creation, so a sweep configures
    /// it on a fresh emulator, before [`Self::load`].
    pub fn fail_site(&mut self, site: &crate::Site) {
        world::try_with(|w| w.faults.fail_site(site));
    }

    /// Live allocations in the ledger (pool blocks and lookaside entries,
    /// cached ones included), by pool tag: (tag, count, bytes), in tag order.
    #[must_use]
    pub fn ledger_by_tag(&self) -> Vec<(ULONG, usize, usize)> {
        world::try_with(|w| {
            let mut by: std::collections::BTreeMap<ULONG, (usize, usize)> = std::collections::BTreeMap::new();
            for a in w.ledger.values() {
                let e = by.entry(a.tag).or_default();
                e.0 += 1;
                e.1 += a.size;
            }
            by.into_iter().map(|(t, (n, b))| (t, n, b)).collect()
        })
        .unwrap_or_default()
    }

    /// Starts (or restarts from zero) counting where the data of every
    /// receive indication lies: in the sending client's own NBL memory
    /// (zero copy) or elsewhere (bytes the driver copied). See
    /// [`crate::nbl::CopyAudit`]; read it with [`Self::receive_copies`].
    pub fn audit_receive_copies(&mut self) {
        world::try_with(|w| w.nbls.audit = Some(crate::nbl::CopyAudit::default()));
    }

    /// The receive-copy audit so far (None if never started).
    #[must_use]
    pub fn receive_copies(&self) -> Option<crate::nbl::CopyAudit> {
        world::try_with(|w| w.nbls.audit).flatten()
    }

    /// The trace from event `from` on, and how many violations there are so
    /// far: what an observer that follows a run step by step needs, without
    /// copying the whole trace each time as [`Self::report`] does.
    #[must_use]
    pub fn events_since(&self, from: usize) -> (Vec<Event>, usize) {
        world::try_with(|w| (w.events.get(from..).unwrap_or(&[]).to_vec(), w.violations.len())).unwrap_or_default()
    }

    /// The report so far (no leak check).
    #[must_use]
    pub fn report(&self) -> Report {
        world::try_with(|w| Report {
            violations: w.violations.clone(),
            events: w.events.clone(),
            debug_output: w.debug_output.clone(),
        })
        .unwrap_or_default()
    }

    /// Ends the run: every allocation still in the ledger is a leak.
    #[must_use]
    pub fn finish(mut self) -> Report {
        self.stop_threads();
        let mut world = world::take().unwrap_or_default();
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
        Report {
            violations: world.violations,
            events: world.events,
            debug_output: world.debug_output,
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The threads first; the world goes with the session (finish() may
        // have taken it already).
        self.stop_threads();
    }
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

// --- Pause, restart, PnP events and holding clients (the rules and the
// state are crate::pause's and crate::world::pause's) ----------------------

/// The pause NDIS makes before MiniportHaltEx: protocols unbind first, so
/// every holding client gives back what it held; then MiniportPause, unless
/// the adapter is paused already (a test paused it); then the pause must be
/// complete. In the threaded mode NDIS waits for a pending pause (another
/// CPU may be completing the last send) before it checks.
pub(crate) fn pause_before_halt(handler: Option<MINIPORT_PAUSE>, ctx: usize, threaded: bool) {
    release_all_holders();
    let due = world::try_with(|w| running(w)).unwrap_or(false);
    if let (true, Some(handler)) = (due, handler) {
        let _ = crate::ffi::pnp::pause(handler, ctx);
        crate::ffi::cm::pump();
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
pub(crate) fn release_all_holders() {
    let clients: Vec<ClientId> = world::try_with(|w| {
        w.pause.holding.clear();
        w.pause.held.keys().copied().collect()
    })
    .unwrap_or_default();
    for c in clients {
        return_held_of(c);
    }
}

fn return_held_of(client: ClientId) -> usize {
    let held = world::try_with(|w| w.pause.held.remove(&client))
        .flatten()
        .unwrap_or_default();
    let mut n = 0;
    for (vc, nbls) in held {
        n += nbls.len();
        crate::ffi::data::return_nbls(vc, &nbls);
        crate::ffi::cm::pump();
    }
    n
}

impl Emulator {
    /// MiniportPause, mid-run (NDIS does this to bind or unbind a protocol,
    /// or to attach a filter). Returns what MiniportPause returned: SUCCESS
    /// (the adapter is paused) or PENDING (it is Pausing until the driver
    /// calls NdisMPauseComplete, typically when a holding client returns
    /// its receive NBLs: see [`Self::return_held`], [`Self::wait_for_pause`]).
    /// It returns at once in both modes.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without a running adapter (NDIS pauses only
    /// a running one).
    pub fn pause_adapter(&self) -> Result<NDIS_STATUS, EmuError> {
        self.pnp_op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                (w.pause.data_path == DataPath::Running).then_some((d.chars.PauseHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            let status = crate::ffi::pnp::pause(handler, ctx);
            crate::ffi::cm::pump();
            Ok(status)
        })
    }

    /// Where the adapter's data path is (None: no emulator on this thread).
    #[must_use]
    pub fn data_path(&self) -> Option<DataPath> {
        world::try_with(|w| w.pause.data_path)
    }

    /// Whether the adapter is paused. In the threaded mode it first waits
    /// while a pending pause is still waiting for its NdisMPauseComplete
    /// (other CPUs may be returning NBLs); in the deterministic mode it
    /// answers at once.
    #[must_use]
    pub fn wait_for_pause(&self) -> bool {
        if self.is_threaded() {
            world::wait_until(|w| {
                (w.pause.data_path != DataPath::Pausing).then_some(w.pause.data_path == DataPath::Paused)
            })
            .unwrap_or(false)
        } else {
            self.data_path() == Some(DataPath::Paused)
        }
    }

    /// MiniportRestart of a paused adapter (the state after a completed
    /// pause). NDIS waits for a pending pause to complete first; so does
    /// this: a pause still pending is an error here.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without a paused adapter;
    /// [`EmuError::RestartFailed`] if MiniportRestart fails.
    pub fn restart_adapter(&self) -> Result<(), EmuError> {
        self.pnp_op(|| {
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
            world::try_with(restarted);
            let status = crate::ffi::pnp::restart(handler, ctx);
            if status != NDIS_STATUS_SUCCESS {
                world::try_with(|w| w.pause.data_path = DataPath::Paused);
                return Err(EmuError::RestartFailed(status));
            }
            Ok(())
        })
    }

    /// MiniportDevicePnPEventNotify with a NET_DEVICE_PNP_EVENT of `event`
    /// (`NdisDevicePnPEvent*`). A power profile change carries its profile
    /// (`profile`, a ULONG: NdisPowerProfileBattery 0, AcOnLine 1) in the
    /// InformationBuffer; the other events carry none.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without an adapter.
    pub fn pnp_event(&self, event: NDIS_DEVICE_PNP_EVENT, profile: Option<ULONG>) -> Result<(), EmuError> {
        self.pnp_op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                Some((d.chars.DevicePnPEventNotifyHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            crate::ffi::pnp::pnp_event(handler, ctx, event, profile);
            crate::ffi::cm::pump();
            Ok(())
        })
    }

    /// NdisCoSendNetBufferLists on `vc` with every NBL tagged with
    /// `cancel_id` (NDIS_SET_NET_BUFFER_LIST_CANCEL_ID: the
    /// NetBufferListCancelId slot of NetBufferListInfo).
    /// Refused with NDIS_STATUS_PAUSED once a halt has begun (see
    /// [`Emulator::halt_adapter`]).
    pub fn send_with_cancel_id(&self, vc: Vc, payloads: &[&[u8]], cancel_id: usize) -> Result<(), NDIS_STATUS> {
        let r = self.adapter_call(Err(NDIS_STATUS_PAUSED), || {
            crate::ffi::cm::on_af(crate::ffi::cm::On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
                crate::ffi::data::send_tagged(vc.0, payloads, Some(cancel_id))
            })
        });
        crate::ffi::cm::pump();
        r
    }

    /// NdisCancelSendNetBufferLists: MiniportCancelSend with `cancel_id`,
    /// at DISPATCH_LEVEL.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without an adapter.
    pub fn cancel_sends(&self, cancel_id: usize) -> Result<(), EmuError> {
        self.adapter_call(Err(EmuError::NoAdapter), || {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| !a.halted)?;
                Some((d.chars.CancelSendHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            crate::ffi::pnp::cancel_send(handler, ctx, cancel_id);
            crate::ffi::cm::pump();
            Ok(())
        })
    }

    /// Whether `client` keeps the receive NBLs indicated to it (true) or
    /// returns each indication once the driver's handler returned (false,
    /// the default). Turning it off returns nothing: see
    /// [`Self::return_held`].
    pub fn hold_receives(&self, client: Client, hold: bool) {
        world::try_with(|w| {
            if hold {
                w.pause.holding.insert(client.0);
            } else {
                w.pause.holding.remove(&client.0);
            }
        });
    }

    /// Returns everything `client` holds (MiniportReturnNetBufferLists, one
    /// call per indication, oldest first); how many NBLs.
    pub fn return_held(&self, client: Client) -> usize {
        return_held_of(client.0)
    }

    /// Receive NBLs `client` holds now.
    #[must_use]
    pub fn held_receives(&self, client: Client) -> usize {
        world::try_with(|w| {
            w.pause
                .held
                .get(&client.0)
                .map_or(0, |h| h.iter().map(|(_, n)| n.len()).sum())
        })
        .unwrap_or(0)
    }
}

// --- Interleavings (the turns and the boundaries are crate::interleave's) ---

impl Emulator {
    /// Runs `victim` on the calling CPU and, when the driver on this CPU
    /// reaches `at`, runs `injected` on a new CPU to completion before that
    /// DDI proceeds (see [`crate::interleave`] for who runs when). Works in
    /// the deterministic mode (the run replays exactly) and the threaded
    /// one, from the emulator's thread or a script of
    /// [`Self::concurrently`]. The scripts use the client API as any
    /// script does.
    ///
    /// A panic in either script is raised here once both are done.
    ///
    /// # Panics
    /// If another interleaving is running in this process.
    pub fn interleave<A, B: Send>(
        &self,
        at: At,
        victim: impl FnOnce(&Self) -> A,
        injected: impl FnOnce(&Self) -> B + Send,
    ) -> Interleaving<A, B> {
        self.interleave_back(at, At::NEVER, victim, injected)
    }

    /// [`Self::interleave`], and when the injected script reaches `back`
    /// (matched against its own DDI calls from the point on, as `at` is
    /// against the victim's) it stops there, before that DDI does
    /// anything, and the victim runs to its end; then the injected script
    /// goes on. With [`At::NEVER`] as `back` this is [`Self::interleave`].
    ///
    /// # Panics
    /// As [`Self::interleave`].
    pub fn interleave_back<A, B: Send>(
        &self,
        at: At,
        back: At,
        victim: impl FnOnce(&Self) -> A,
        injected: impl FnOnce(&Self) -> B + Send,
    ) -> Interleaving<A, B> {
        let me = world::cpu_id();
        let Some(cpu) = world::try_with(|w| w.new_cpu(CpuKind::Client)) else {
            panic!("Emulator::interleave: no emulator runs on this thread");
        };
        let injected_cpu = cpu.id;
        {
            let mut g = lock();
            assert!(
                g.is_none(),
                "Emulator::interleave: one interleaving at a time per process"
            );
            *g = Some(Run {
                at,
                victim: me,
                injected: injected_cpu,
                phase: Phase::Armed,
                turn: me,
                matched: 0,
                crossed: Vec::new(),
                fired_at: None,
                victim_done: false,
                injected_done: false,
                back,
                back_matched: 0,
                injected_crossed: Vec::new(),
                back_fired_at: None,
                victim_runs: false,
            });
            ARMED.store(true, Ordering::Release);
        }
        let this: &Self = self;
        let (victim_result, injected_result) = std::thread::scope(|s| {
            let handle = std::thread::Builder::new()
                .name(format!("ndis-emu cpu {injected_cpu} (interleave)"))
                .spawn_scoped(s, move || {
                    world::become_cpu(cpu);
                    wait_turn(lock(), injected_cpu);
                    let go = lock().as_ref().is_some_and(|r| r.phase != Phase::Cancelled);
                    let r = go.then(|| {
                        let _done = InjectedDone;
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| injected(this)));
                        (crate::hooks::client().pump)();
                        r
                    });
                    world::leave_cpu();
                    r
                });
            let handle = match handle {
                Ok(h) => h,
                Err(e) => panic!("ndis-emu: cannot start the interleaving's CPU: {e}"),
            };
            let v = {
                let _done = VictimDone;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| victim(this)))
            };
            let i = handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (v, i)
        });
        let run = {
            let mut g = lock();
            ARMED.store(false, Ordering::Release);
            g.take()
        };
        let victim = victim_result.unwrap_or_else(|e| std::panic::resume_unwind(e));
        let injected = injected_result.map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)));
        let (crossed, fired_at, went_free, injected_crossed, back_fired_at) =
            run.map_or((Vec::new(), None, false, Vec::new(), None), |r| {
                let free = r.phase == Phase::Free;
                (r.crossed, r.fired_at, free, r.injected_crossed, r.back_fired_at)
            });
        Interleaving {
            victim,
            injected,
            crossed,
            fired_at,
            went_free,
            injected_crossed,
            back_fired_at,
        }
    }
}
