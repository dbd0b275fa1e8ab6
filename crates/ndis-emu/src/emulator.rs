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

use std::thread::JoinHandle;

use ndis_sys::*;

use crate::call_spec::CallSpec;
use crate::client::Clients;
use crate::condis::{Answer, CallState};
use crate::ffi::cm::OidResult;
use crate::ffi::raw::{RawCallParams, RawOidBuffer};
use crate::handles::{Af, Client, Party, Sap, Vc};
use crate::interleave::{At, Interleaving};
use crate::io::user::{FileHandle, IoOutcome, IoResult, PendingIrp};
use crate::lifecycle::{self, Driver, Pnp};
use crate::pause::DataPath;
use crate::report::{EmuError, Report};
use crate::world::{self, Event};

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
    /// The driver object and registry path DriverEntry gets.
    driver: Driver,
    /// The same for a protocol (CoNDIS client) driver ([`Self::load_protocol`]).
    protocol: Driver,
    /// The lock NDIS's PnP operations on the adapter are serialized by.
    pnp: Pnp,
    /// The scripted clients' requests.
    clients: Clients,
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The threads first; the world goes with the session (finish() may
        // have taken it already).
        crate::sched::stop_cpus(&mut self.threads);
    }
}

// --- A control device, as a user-mode program uses it (crate::io::user) -------

impl Emulator {
    /// CreateFile on a control device's symbolic link (`\\.\X`,
    /// `\DosDevices\X` or `X`), by an administrator or not: the device's
    /// SDDL refuses a non-administrator with STATUS_ACCESS_DENIED when it
    /// allows only SY and BA; then IRP_MJ_CREATE, whose failure status is
    /// returned. STATUS_OBJECT_NAME_NOT_FOUND when no device has the link.
    pub fn open_device(&self, link: &str, admin: bool) -> Result<FileHandle, NTSTATUS> {
        crate::io::user::open(link, admin)
    }

    /// DeviceIoControl with a METHOD_BUFFERED code: one SystemBuffer of
    /// max(input, output) bytes holding the input; a completed request
    /// returns its status, Information and the bytes copied out; a pended
    /// one returns a [`PendingIrp`] to poll, wait for or cancel.
    pub fn device_io_control(
        &self,
        file: FileHandle,
        code: ULONG,
        input: &[u8],
        output_length: ULONG,
    ) -> Result<IoOutcome, NTSTATUS> {
        crate::io::user::ioctl(file, code, input, output_length)
    }

    /// A pended request's result, once the driver completed it.
    pub fn poll_irp(&self, irp: &PendingIrp) -> Option<IoResult> {
        crate::io::user::poll(irp)
    }

    /// Waits up to `timeout` for a pended request (for the threaded mode,
    /// where another CPU completes it).
    pub fn wait_irp(&self, irp: &PendingIrp, timeout: std::time::Duration) -> Option<IoResult> {
        crate::io::user::wait(irp, timeout)
    }

    /// CancelIo on a pended request: the I/O manager sets Irp->Cancel,
    /// takes the cancel spin lock and calls the driver's cancel routine if
    /// one is set (true then).
    pub fn cancel_io(&self, irp: &PendingIrp) -> bool {
        crate::io::user::cancel(irp)
    }

    /// CloseHandle: IRP_MJ_CLEANUP, then IRP_MJ_CLOSE.
    pub fn close_device(&self, file: FileHandle) -> Result<(), NTSTATUS> {
        crate::io::user::close(file)
    }
}

// --- Modes, CPUs and IRQL (crate::sched, crate::world) -------------------------

impl Emulator {
    /// A fresh emulator in the deterministic mode (waits for any other in
    /// this process to finish).
    #[must_use]
    pub fn new() -> Self {
        Self {
            _session: lifecycle::open_session(),
            threads: Vec::new(),
            driver: Driver::new(),
            protocol: Driver::protocol(),
            pnp: Pnp::new(),
            clients: Clients::new(),
        }
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
        emu.threads = crate::sched::start_cpus(workers);
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
        crate::sched::concurrently(&*self, threads, script)
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
}

// --- The driver and its adapter (crate::lifecycle) ----------------------------

impl Emulator {
    /// Runs DriverEntry at PASSIVE_LEVEL, as the kernel does after loading
    /// the image. NDIS calls MiniportSetOptions inside it.
    pub fn load(&mut self, entry: DRIVER_INITIALIZE) -> Result<(), EmuError> {
        self.driver.load(entry)
    }

    /// Adds the adapter: MiniportInitializeEx, then (as NDIS does once the
    /// protocols are bound) MiniportRestart.
    pub fn add_adapter(&mut self) -> Result<(), EmuError> {
        lifecycle::add_adapter()
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
        self.pnp.halt(self.is_threaded())
    }

    /// Runs MiniportDriverUnload and checks it deregistered.
    pub fn unload(&mut self) -> Result<(), EmuError> {
        self.driver.unload()
    }

    /// Runs a protocol (CoNDIS client) driver's DriverEntry at
    /// PASSIVE_LEVEL; it registers with NdisRegisterProtocolDriver, inside
    /// which NDIS calls its ProtocolSetOptions (rules `proto.*`). Binding is
    /// not emulated yet: the scripted clients stay covmini's clients.
    pub fn load_protocol(&mut self, entry: DRIVER_INITIALIZE) -> Result<(), EmuError> {
        self.protocol.load_protocol(entry)
    }

    /// Runs the protocol driver's Unload routine (`unload`: what its
    /// DriverEntry put in `DriverObject->DriverUnload`) and checks it
    /// deregistered.
    pub fn unload_protocol(&mut self, unload: DRIVER_UNLOAD) {
        self.protocol.unload_protocol(unload);
    }

    /// NDIS binds the protocol driver to the adapter (after
    /// [`Self::load_protocol`] and [`Self::add_adapter`]): its
    /// ProtocolBindAdapterEx, in which it opens the adapter with
    /// NdisOpenAdapterEx (NdisMediumCoWan); if the bind pends, the driver's
    /// deferred work runs and NdisCompleteBindAdapterEx is due. Once bound,
    /// ProtocolCoAfRegisterNotify for each AF covmini registered. Returns
    /// the bind's status, or None if it pended and was never completed
    /// (`proto.op-completes`).
    ///
    /// # Errors
    /// [`EmuError::NotLoaded`] when there is nothing to bind (no protocol,
    /// no adapter up, or already bound); [`EmuError::NeverIdle`] from the
    /// deferred work.
    pub fn bind_protocol(&mut self) -> Result<Option<NDIS_STATUS>, EmuError> {
        lifecycle::bind_protocol()
    }

    /// NDIS unbinds the protocol: ProtocolUnbindAdapterEx, in which it
    /// closes the binding (NdisCloseAdapterEx), completed at once or by
    /// NdisCompleteUnbindAdapterEx after its deferred work. Whether the
    /// unbind completed.
    ///
    /// # Errors
    /// [`EmuError::NotLoaded`] when the protocol is not bound;
    /// [`EmuError::NeverIdle`] from the deferred work.
    pub fn unbind_protocol(&mut self) -> Result<bool, EmuError> {
        lifecycle::unbind_protocol()
    }

    /// Whether the protocol driver is bound to the adapter now.
    #[must_use]
    pub fn protocol_bound(&self) -> bool {
        world::try_with(|w| crate::protocol::is_bound(w)).unwrap_or(false)
    }

    /// Whether a protocol driver is registered with its CoNDIS client
    /// blocks (CO characteristics and client handlers) and not deregistered.
    #[must_use]
    pub fn protocol_client_registered(&self) -> bool {
        world::try_with(|w| crate::protocol::client_registered(w)).unwrap_or(false)
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
        self.pnp.pause()
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
        crate::pause::wait_for_pause(self.is_threaded())
    }

    /// MiniportRestart of a paused adapter (the state after a completed
    /// pause). NDIS waits for a pending pause to complete first; so does
    /// this: a pause still pending is an error here.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without a paused adapter;
    /// [`EmuError::RestartFailed`] if MiniportRestart fails.
    pub fn restart_adapter(&self) -> Result<(), EmuError> {
        self.pnp.restart()
    }

    /// MiniportDevicePnPEventNotify with a NET_DEVICE_PNP_EVENT of `event`
    /// (`NdisDevicePnPEvent*`). A power profile change carries its profile
    /// (`profile`, a ULONG: NdisPowerProfileBattery 0, AcOnLine 1) in the
    /// InformationBuffer; the other events carry none.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without an adapter.
    pub fn pnp_event(&self, event: NDIS_DEVICE_PNP_EVENT, profile: Option<ULONG>) -> Result<(), EmuError> {
        self.pnp.pnp_event(event, profile)
    }

    /// NdisCoSendNetBufferLists on `vc` with every NBL tagged with
    /// `cancel_id` (NDIS_SET_NET_BUFFER_LIST_CANCEL_ID: the
    /// NetBufferListCancelId slot of NetBufferListInfo).
    /// Refused with NDIS_STATUS_PAUSED once a halt has begun (see
    /// [`Emulator::halt_adapter`]).
    pub fn send_with_cancel_id(&self, vc: Vc, payloads: &[&[u8]], cancel_id: usize) -> Result<(), NDIS_STATUS> {
        self.clients.send_with_cancel_id(vc, payloads, cancel_id)
    }

    /// NdisCancelSendNetBufferLists: MiniportCancelSend with `cancel_id`,
    /// at DISPATCH_LEVEL.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without an adapter.
    pub fn cancel_sends(&self, cancel_id: usize) -> Result<(), EmuError> {
        lifecycle::cancel_sends(cancel_id)
    }

    /// Whether `client` keeps the receive NBLs indicated to it (true) or
    /// returns each indication once the driver's handler returned (false,
    /// the default). Turning it off returns nothing: see
    /// [`Self::return_held`].
    pub fn hold_receives(&self, client: Client, hold: bool) {
        world::try_with(|w| w.pause.hold(client.0, hold));
    }

    /// Returns everything `client` holds (MiniportReturnNetBufferLists, one
    /// call per indication, oldest first); how many NBLs.
    pub fn return_held(&self, client: Client) -> usize {
        lifecycle::return_held_of(client.0)
    }

    /// Receive NBLs `client` holds now.
    #[must_use]
    pub fn held_receives(&self, client: Client) -> usize {
        world::try_with(|w| w.pause.held_count(client.0)).unwrap_or(0)
    }
}

// --- Deferred work and virtual time (crate::sched) -----------------------------

impl Emulator {
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
}

// --- Faults, memory and the receive-copy audit (crate::faults, memory, nbl) ----

impl Emulator {
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
        world::try_with(|w| crate::memory::by_tag(&w.ledger)).unwrap_or_default()
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
}

// --- What the run shows (crate::report) ----------------------------------------

impl Emulator {
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
        world::try_with(|w| Report::snapshot(w)).unwrap_or_default()
    }

    /// Ends the run: every allocation still in the ledger is a leak.
    #[must_use]
    pub fn finish(mut self) -> Report {
        crate::sched::stop_cpus(&mut self.threads);
        lifecycle::finish(world::take().unwrap_or_default())
    }
}

// --- ETW: the trace session (crate::etw; its DDIs are crate::ffi::etw) -------

impl Emulator {
    /// Starts (or changes) the trace session: it enables `provider` at
    /// `level` with the keywords, and ETW calls the enable callback of every
    /// registration of that provider (ENABLE_PROVIDER, at PASSIVE_LEVEL, as
    /// `Emulator` calls any handler). A provider registered later is
    /// enabled inside its EtwRegister, as ETW does.
    pub fn etw_enable(&mut self, provider: GUID, level: UCHAR, match_any: u64, match_all: u64) {
        crate::ffi::etw::enable_session(crate::etw::Session {
            provider,
            level,
            match_any,
            match_all,
        });
    }

    /// Stops the trace session: the enable callbacks get DISABLE_PROVIDER.
    pub fn etw_disable(&mut self) {
        crate::ffi::etw::disable_session();
    }

    /// The events the session logged so far, oldest first.
    #[must_use]
    pub fn etw_events(&self) -> Vec<crate::etw::Captured> {
        world::try_with(|w| w.etw.events.clone()).unwrap_or_default()
    }
}

// --- Interleavings (crate::interleave) -----------------------------------------

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
        crate::interleave::run(self, at, At::NEVER, victim, injected)
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
        crate::interleave::run(self, at, back, victim, injected)
    }
}

// --- The scripted clients (crate::client) ------------------------------------

impl Emulator {
    /// A new client that accepts incoming calls at once.
    pub fn client(&self, name: &str) -> Client {
        self.clients.client(name)
    }

    /// How `client` answers incoming calls: at once or pended, and with
    /// which status (SUCCESS accepts, anything else rejects).
    pub fn set_incoming_answer(&self, client: Client, answer: Answer, status: NDIS_STATUS) {
        self.clients.set_incoming_answer(client, answer, status)
    }

    /// How `client`'s ProtocolClNotifyCloseAf answers the call manager's
    /// NdisMCmNotifyCloseAddressFamily (contract §1.4): [`Answer::Sync`]
    /// (the default) drops its parties but the last, tears its calls, VCs
    /// and SAPs down, closes the AF and completes the notification before
    /// the call returns (if its close pends, once the close has completed,
    /// as a pended answer does); [`Answer::Pend`]
    /// returns PENDING and does the same later, on a thread of its own,
    /// completing with NdisClNotifyCloseAddressFamilyComplete once its
    /// close has completed. The later part runs while the driver waits in
    /// NdisWaitEvent (by the waiting CPU in the deterministic mode, by a
    /// system worker thread in the threaded mode) or when the test calls
    /// [`Self::pump`]; whatever is still owed when MiniportHaltEx returns is
    /// dropped (rule `halt.afs-closed` names the AFs).
    pub fn set_notify_close_answer(&self, client: Client, answer: Answer) {
        self.clients.set_notify_close_answer(client, answer)
    }

    /// Turns the lookaside quarantine (`NDIS_EMU_QUARANTINE=1` does the
    /// same) on or off for the whole process, for entries allocated from
    /// now on: each lookaside entry from a list's default Allocate routine
    /// gets pages of its own, inaccessible while it is cached on its list
    /// and for ever once it goes back to the pool, so a driver that reads
    /// or writes a context it freed to a lookaside list faults at that
    /// access, and the process dies naming the entry (a test-only switch:
    /// each entry costs whole pages, and the addresses are never reused).
    pub fn set_lookaside_quarantine(on: bool) {
        crate::ffi::quarantine::set(on);
    }

    /// Whether `client` reacts inside NDIS's calls into it, before they
    /// return to the driver, as a real client may (default: no, it reacts
    /// once the driver's outermost handler has returned). Inside, at
    /// PASSIVE_LEVEL: its ProtocolClCloseCallComplete (SUCCESS) and a failed
    /// ProtocolClMakeCallComplete delete its own VC with NdisCoDeleteVc, so
    /// the driver's VC context may be freed before its
    /// NdisMCmCloseCallComplete / NdisMCmMakeCallComplete returns;
    /// ProtocolClIncomingCloseCall calls NdisClCloseCall;
    /// ProtocolClIncomingDropParty calls NdisClDropParty; and a completion
    /// its teardown of an AF waited for goes on with that teardown
    /// (closing calls, deleting VCs, deregistering SAPs, closing the AF).
    pub fn set_reacts_inside(&self, client: Client, inside: bool) {
        self.clients.set_reacts_inside(client, inside)
    }

    /// What `client`'s ProtocolCoCreateVc returns when the MCM creates a VC for it.
    pub fn set_create_vc_status(&self, client: Client, status: NDIS_STATUS) {
        self.clients.set_create_vc_status(client, status)
    }

    /// Everything NDIS indicated to `client`, in order.
    #[must_use]
    pub fn inbox(&self, client: Client) -> Vec<String> {
        self.clients.inbox(client)
    }

    /// NdisClOpenAddressFamilyEx. `Err` carries the failure status; a
    /// request the MCM pended and has not completed is `Err(PENDING)` with the
    /// handle in [`Self::last_af`].
    ///
    /// Refused with NDIS_STATUS_FAILURE once a halt has begun, and a halt
    /// waits for an open already inside the driver: NDIS unbinds the
    /// protocols before MiniportHaltEx, and an unbind does not complete
    /// while its client's open is under way ([`Self::halt_adapter`]).
    pub fn open_af(&self, client: Client, af: CO_ADDRESS_FAMILY) -> Result<Af, NDIS_STATUS> {
        self.clients.open_af(client, af)
    }

    /// NdisClCloseAddressFamily: the final status, or PENDING.
    ///
    /// The call is a DDI boundary of its own for `crate::interleave`
    /// (before NDIS marks the AF closing, after the client decided to close
    /// it): a client's close may cross NDIS's notification of that AF
    /// (ProtocolClNotifyCloseAf, on another thread) there, and a test can
    /// stop it there.
    pub fn close_af(&self, af: Af) -> NDIS_STATUS {
        self.clients.close_af(af)
    }

    /// NdisClRegisterSap for a SAP of `sap_type` with these bytes.
    pub fn register_sap(&self, af: Af, sap_type: ULONG, sap: &[u8]) -> Result<Sap, NDIS_STATUS> {
        self.clients.register_sap(af, sap_type, sap)
    }

    /// NdisClDeregisterSap: the final status, or PENDING.
    pub fn deregister_sap(&self, sap: Sap) -> NDIS_STATUS {
        self.clients.deregister_sap(sap)
    }

    /// NdisCoCreateVc on an open AF.
    pub fn create_vc(&self, af: Af) -> Result<Vc, NDIS_STATUS> {
        self.clients.create_vc(af)
    }

    /// NdisCoDeleteVc of a client-created VC.
    pub fn delete_vc(&self, vc: Vc) -> NDIS_STATUS {
        self.clients.delete_vc(vc)
    }

    /// NdisClMakeCall (point to point): the final status, or PENDING.
    pub fn make_call(&self, vc: Vc, params: &CallSpec) -> NDIS_STATUS {
        self.clients.make_call(vc, params)
    }

    /// NdisClMakeCall with an initial party (point to multipoint).
    pub fn make_multipoint_call(&self, vc: Vc, params: &CallSpec) -> (NDIS_STATUS, Option<Party>) {
        self.clients.make_multipoint_call(vc, params)
    }

    /// NdisClCloseCall: the final status, or PENDING.
    pub fn close_call(&self, vc: Vc, close_data: &[u8]) -> NDIS_STATUS {
        self.clients.close_call(vc, close_data)
    }

    /// NdisClAddParty on a connected multipoint call.
    pub fn add_party(&self, vc: Vc, params: &CallSpec) -> (NDIS_STATUS, Option<Party>) {
        self.clients.add_party(vc, params)
    }

    /// NdisClDropParty (not for the last party: close the call instead).
    pub fn drop_party(&self, party: Party, data: &[u8]) -> NDIS_STATUS {
        self.clients.drop_party(party, data)
    }

    /// NdisClModifyCallQoS on a connected call.
    pub fn modify_qos(&self, vc: Vc, params: &CallSpec) -> NDIS_STATUS {
        self.clients.modify_qos(vc, params)
    }

    /// The parties of a VC's call.
    #[must_use]
    pub fn parties(&self, vc: Vc) -> Vec<Party> {
        self.clients.parties(vc)
    }

    /// NdisCoOidRequest query: through the call manager when `af` is given
    /// (ProtocolCoOidRequest), else the miniport (MiniportCoOidRequest),
    /// for `vc` or adapter-wide, with an information buffer of `len` bytes.
    /// Returns the request id and what it came back with (PENDING while the
    /// driver holds it; ask again with [`Self::oid_result`]).
    pub fn oid_query(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        oid: NDIS_OID,
        len: usize,
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        self.clients.oid_query(af, vc, oid, len)
    }

    /// NdisCoOidRequest set with `data` as the information buffer.
    pub fn oid_set(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        oid: NDIS_OID,
        data: &[u8],
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        self.clients.oid_set(af, vc, oid, data)
    }

    /// The current result of OID request `id`.
    #[must_use]
    pub fn oid_result(&self, id: usize) -> Option<OidResult> {
        self.clients.oid_result(id)
    }

    /// NdisCoSendNetBufferLists on `vc`: one NBL per payload. Refused with
    /// NDIS_STATUS_PAUSED once a halt has begun: NDIS unbinds the
    /// protocols first ([`Self::halt_adapter`]).
    pub fn send(&self, vc: Vc, payloads: &[&[u8]]) -> Result<(), NDIS_STATUS> {
        self.clients.send(vc, payloads)
    }

    /// The payloads `client` received, one per NET_BUFFER, in order.
    #[must_use]
    pub fn received(&self, client: Client) -> Vec<Vec<u8>> {
        self.clients.received(client)
    }

    /// The completion status of each NBL `client` sent, in completion order.
    #[must_use]
    pub fn send_results(&self, client: Client) -> Vec<NDIS_STATUS> {
        self.clients.send_results(client)
    }

    /// The AF handle of the last [`Self::open_af`], also when that open is
    /// still pending (its `Err(PENDING)` carries no handle).
    #[must_use]
    pub fn last_af(&self) -> Option<Af> {
        self.clients.last_af()
    }

    /// NdisClIncomingCallComplete for a call the client pended.
    pub fn answer_incoming(&self, vc: Vc, status: NDIS_STATUS) -> Result<(), NDIS_STATUS> {
        self.clients.answer_incoming(vc, status)
    }

    /// Runs the clients' deferred answers (incoming closes, AF teardowns),
    /// and then the answers they give later on threads of their own (the
    /// rest of a notify-close pended with [`Self::set_notify_close_answer`]).
    pub fn pump(&self) {
        self.clients.pump()
    }

    /// The call on a VC and NDIS's active bit, or None for a deleted VC.
    #[must_use]
    pub fn vc_state(&self, vc: Vc) -> Option<(CallState, bool)> {
        self.clients.vc_state(vc)
    }

    /// VCs the call manager offered `client` (incoming calls), oldest first.
    #[must_use]
    pub fn offered_vcs(&self, client: Client) -> Vec<Vc> {
        self.clients.offered_vcs(client)
    }

    /// The client's call parameters of the last make call on `vc` as they
    /// stood when it completed (a call manager may change them and set
    /// CALL_PARAMETERS_CHANGED in `flags`).
    #[must_use]
    pub fn completed_call_params(&self, vc: Vc) -> Option<CallSpec> {
        self.clients.completed_call_params(vc)
    }

    /// Likewise for the add party of `party`.
    #[must_use]
    pub fn completed_party_params(&self, party: Party) -> Option<CallSpec> {
        self.clients.completed_party_params(party)
    }

    /// NdisClMakeCall with raw call parameters; `multipoint` makes NDIS
    /// allocate an initial party (the Flags are the test's: nothing is added).
    pub fn make_call_raw(&self, vc: Vc, params: &RawCallParams, multipoint: bool) -> (NDIS_STATUS, Option<Party>) {
        self.clients.make_call_raw(vc, params, multipoint)
    }

    /// NdisClAddParty with raw call parameters.
    pub fn add_party_raw(&self, vc: Vc, params: &RawCallParams) -> (NDIS_STATUS, Option<Party>) {
        self.clients.add_party_raw(vc, params)
    }

    /// NdisClModifyCallQoS with raw call parameters.
    pub fn modify_qos_raw(&self, vc: Vc, params: &RawCallParams) -> NDIS_STATUS {
        self.clients.modify_qos_raw(vc, params)
    }

    /// NdisClIncomingCallComplete for a pended offer, with raw call
    /// parameters in place of the offered ones.
    pub fn answer_incoming_raw(&self, vc: Vc, status: NDIS_STATUS, params: &RawCallParams) -> Result<(), NDIS_STATUS> {
        self.clients.answer_incoming_raw(vc, status, params)
    }

    /// NdisClRegisterSap with a raw CO_SAP block: SapType, SapLength and
    /// the tail exactly as `block` has them (see [`crate::ffi::raw::raw_sap`]).
    pub fn register_sap_raw(&self, af: Af, block: &[u8]) -> Result<Sap, NDIS_STATUS> {
        self.clients.register_sap_raw(af, block)
    }

    /// NdisCoOidRequest with a raw information buffer (a NULL one, or one
    /// whose InformationBufferLength is whatever `buffer` states), through
    /// the call manager when `af` is given, else the miniport; a query, or a
    /// set with `set`.
    pub fn oid_raw(
        &self,
        af: Option<Af>,
        vc: Option<Vc>,
        set: bool,
        oid: NDIS_OID,
        buffer: &RawOidBuffer,
    ) -> Result<(usize, OidResult), NDIS_STATUS> {
        self.clients.oid_raw(af, vc, set, oid, buffer)
    }
}
