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

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use ndis_sys::*;

use crate::ffi::calls;
use crate::ffi::tag_str;
use crate::rules::{self, Rule, Violation};
use crate::world::{self, AdapterRec, Event, HandleKind, InitStep, World};

/// One driver per process at a time: a driver keeps globals (its
/// NdisMiniportDriverHandle), exactly as in the kernel. Emulators on several
/// test threads therefore take turns; cargo-nextest runs each test in its own
/// process and so in parallel.
static SESSION: Mutex<()> = Mutex::new(());

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
/// INVARIANT: while an `Emulator` exists, this thread has a world installed
/// and this process runs no other emulator (the session lock).
pub struct Emulator {
    _session: MutexGuard<'static, ()>,
    driver_object: Box<[u64; 0x150 / 8]>,
    registry_path: Vec<u16>,
    registry_string: Box<UNICODE_STRING>,
    entry: Option<DRIVER_INITIALIZE>,
    /// The last AF handle a client opened (also when the open is pending).
    pub(crate) last_af: Option<crate::client::Af>,
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Emulator {
    /// A fresh emulator (waits for any other in this process to finish).
    #[must_use]
    pub fn new() -> Self {
        let session = SESSION.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let verbose = std::env::var_os("NDIS_EMU_VERBOSE").is_some_and(|v| v != "0");
        world::install(World {
            verbose,
            ..World::default()
        });
        let mut registry_path: Vec<u16> = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\covmini"
            .encode_utf16()
            .collect();
        let bytes = u16::try_from(registry_path.len() * 2).unwrap_or(u16::MAX);
        let registry_string = Box::new(UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: registry_path.as_mut_ptr(),
        });
        Self {
            _session: session,
            driver_object: Box::new([0; 0x150 / 8]),
            registry_path,
            registry_string,
            entry: None,
            last_af: None,
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
        debug_assert_eq!(self.registry_string.Buffer, self.registry_path.as_mut_ptr());
        let status = calls::driver_entry(entry, object, &raw mut *self.registry_string);
        if status != STATUS_SUCCESS {
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
        Ok(())
    }

    /// Pauses the adapter, then halts it (NDIS halts only paused adapters).
    pub fn halt_adapter(&mut self) -> Result<(), EmuError> {
        let (pause, halt, ctx, handle) = world::try_with(|w| {
            let d = w.driver?;
            let a = w.adapter.as_ref().filter(|a| !a.halted)?;
            Some((d.chars.PauseHandler, d.chars.HaltHandlerEx, a.context, a.handle))
        })
        .flatten()
        .ok_or(EmuError::NoAdapter)?;
        if let Some(pause) = pause {
            let mut params = NDIS_MINIPORT_PAUSE_PARAMETERS {
                Header: NDIS_OBJECT_HEADER::new(
                    NDIS_OBJECT_TYPE_DEFAULT,
                    NDIS_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
                    NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
                ),
                Flags: 0,
                PauseReason: 0,
            };
            let status = calls::pause(pause, ctx, &mut params);
            if status != NDIS_STATUS_SUCCESS {
                world::try_with(|w| {
                    w.violate(
                        rules::INIT_ATTRIBUTE_ORDER,
                        "MiniportPause",
                        format!("returned {status:#x}; the pause operation must not fail"),
                        &[handle],
                    )
                });
            }
        }
        if let Some(halt) = halt {
            calls::halt(halt, ctx, NdisHaltDeviceDisabled);
        }
        crate::ffi::cm::check_afs_closed_at_halt();
        world::try_with(|w| crate::sched::owner_done(w, handle, "MiniportHaltEx"));
        world::try_with(|w| {
            if let Some(a) = w.adapter.as_mut() {
                a.halted = true;
            }
            if let Some(r) = w.handles.get_mut(&handle) {
                r.alive = false;
                r.history.push("halted".into());
            }
        });
        Ok(())
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
    pub fn finish(self) -> Report {
        let mut world = world::take().unwrap_or_default();
        crate::sched::leftovers(&mut world);
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
        // The world goes with the emulator (finish() may have taken it already).
        let _ = world::take();
    }
}
