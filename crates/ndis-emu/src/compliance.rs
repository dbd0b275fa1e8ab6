//! Microsoft's NDIS DDI compliance rules, mapped to ndis-emu's.
//!
//! Static Driver Verifier (at compile time) and Driver Verifier (at run
//! time) check NDIS drivers against rules Microsoft publishes by rule set:
//! DDI usage, IRQL, Locking, Memory usage, Miscellaneous, OidProcessing,
//! Warning and NDIS/WIFI verification. `data/ms-ndis-rules.txt` lists every
//! one of them (name, set and a one-line summary in our words) with the
//! commit of Microsoft's documentation it was read from. [`MAPPINGS`] says,
//! for each, how it bears on a CoNDIS miniport with an integrated call
//! manager (contract §0-§8) such as covmini:
//!
//! * [`Verdict::Enforced`]: ndis-emu rules check it at run time, and a
//!   teeth test shows one of them firing on a fixture driver that breaks it;
//! * [`Verdict::NotApplicable`]: it concerns a driver type, a DDI or a
//!   handler an MCM like covmini does not have or use (the reason says which
//!   and why covmini cannot reach it);
//! * [`Verdict::NotEnforced`]: it applies, and ndis-emu does not check it
//!   (the reason says why, and what covers part of it).
//!
//! The table is part of `RULES.md` ([`crate::catalog::catalog_markdown`]); the
//! catalog test fails if a Microsoft rule of the data file has no mapping,
//! a mapping names no Microsoft rule, or an enforced mapping names an
//! ndis-emu rule or a proving test that does not exist.

use core::fmt::Write as _;

/// The list of Microsoft's NDIS rules (see the file's header for its source).
pub const MS_RULES_TXT: &str = include_str!("../data/ms-ndis-rules.txt");

/// One of Microsoft's NDIS rules, as `data/ms-ndis-rules.txt` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsRule {
    /// Its rule set ("DDI usage", "IRQL", ...).
    pub set: &'static str,
    /// Its name, as Microsoft spells it.
    pub name: &'static str,
    /// What it asks, in one line of our own.
    pub summary: &'static str,
}

/// Every rule of `data/ms-ndis-rules.txt`, in file order.
///
/// # Errors
///
/// The first malformed line (see [`parse`]).
pub fn ms_rules() -> Result<Vec<MsRule>, String> {
    parse(MS_RULES_TXT)
}

/// The rules of a list in the format of `data/ms-ndis-rules.txt`: `#`
/// comments, blank lines, and `set | rule | summary` lines. A line that is
/// not a comment and does not have exactly three non-empty `|`-separated
/// fields is an error naming it, so the catalog test fails on it instead of
/// dropping a rule.
///
/// # Errors
///
/// The first malformed line.
pub fn parse(text: &'static str) -> Result<Vec<MsRule>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&'static str> = line.split('|').map(str::trim).collect();
        match fields[..] {
            [set, name, summary] if !set.is_empty() && !name.is_empty() && !summary.is_empty() => {
                out.push(MsRule { set, name, summary });
            }
            _ => return Err(format!("malformed line in data/ms-ndis-rules.txt: {line}")),
        }
    }
    Ok(out)
}

/// How a Microsoft rule bears on covmini and ndis-emu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Checked at run time by these ndis-emu rules (ids); `test` (in
    /// crates/ndis-emu/tests/) shows one of them firing on a driver that
    /// breaks Microsoft's rule.
    Enforced {
        /// The ndis-emu rule ids that check it.
        rules: &'static [&'static str],
        /// The teeth test that proves it.
        test: &'static str,
    },
    /// Does not apply to a CoNDIS MCM like covmini.
    NotApplicable,
    /// Applies; ndis-emu does not check it.
    NotEnforced,
}

/// One Microsoft rule's mapping.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    /// The Microsoft rule's name.
    pub name: &'static str,
    /// Enforced, not applicable, or not enforced.
    pub verdict: Verdict,
    /// How ndis-emu enforces it, or why it does not apply, or why it is not
    /// enforced.
    pub why: &'static str,
}

const fn enforced(
    name: &'static str,
    rules: &'static [&'static str],
    test: &'static str,
    why: &'static str,
) -> Mapping {
    Mapping {
        name,
        verdict: Verdict::Enforced { rules, test },
        why,
    }
}

const fn not_applicable(name: &'static str, why: &'static str) -> Mapping {
    Mapping {
        name,
        verdict: Verdict::NotApplicable,
        why,
    }
}

const fn not_enforced(name: &'static str, why: &'static str) -> Mapping {
    Mapping {
        name,
        verdict: Verdict::NotEnforced,
        why,
    }
}

/// Every Microsoft rule's mapping, in the data file's order.
pub const MAPPINGS: &[Mapping] = &[
    // --- DDI usage ---------------------------------------------------------
    not_applicable(
        "Init_DeRegisterInterrupt",
        "covmini is a virtual adapter with no hardware interrupt: it never calls NdisMRegisterInterruptEx (not imported).",
    ),
    enforced(
        "Init_NdisAllocateIoWorkItem",
        &["sched.leak"],
        "sched_leak_fires_on_a_timer_kept_past_halt",
        "Stricter than the rule: every work item owned by the adapter, wherever allocated, is freed before MiniportHaltEx returns, or before a failing MiniportInitializeEx returns (also proved by `a_driver_that_does_not_unwind_a_failed_initialize_leaks`). The proving test's second case is a work item kept past halt.",
    ),
    not_applicable(
        "Init_RegisterInterrupt",
        "No hardware interrupt: covmini never calls NdisMRegisterInterruptEx or NdisMDeregisterInterruptEx (not imported).",
    ),
    not_applicable(
        "Init_RegisterSG",
        "No DMA: covmini never calls NdisMRegisterScatterGatherDma (not imported); its data path moves NBLs between VCs in memory.",
    ),
    not_applicable(
        "NdisFDeregisterFilterDriver",
        "Filter drivers only. The miniport counterpart (MiniportDriverUnload calls NdisMDeregisterMiniportDriver) is `unload.deregisters`.",
    ),
    not_applicable(
        "NdisMDeregisterInterruptEx",
        "No hardware interrupt: covmini never calls NdisMSynchronizeWithInterruptEx or NdisMDeregisterInterruptEx (not imported).",
    ),
    not_enforced(
        "NullCheck",
        "A static data-flow property of the driver's source; ndis-emu sees only the calls a driver makes. In covmini, safe Rust has no NULL references and raw pointers exist only at the FFI seam; a NULL dereference in the loaded image is a crash the PE loader's crash handler reports, with the handler it happened in, but no ndis-emu rule names it.",
    ),
    // --- IRQL ----------------------------------------------------------------
    not_enforced(
        "Flags_Irql",
        "Applies to MiniportCoSendNetBufferLists and MiniportReturnNetBufferLists, which get a DISPATCH_LEVEL flag. KeGetCurrentIrql is inline code in wdm.h (a read of CR8 on x64), so no call reaches ndis-emu to be checked; covmini cannot break the rule, since ndis-sys declares no KeGetCurrentIrql.",
    ),
    enforced(
        "Irql_CallManager_Function",
        &["irql.limit"],
        "irql_limit_fires_on_notify_close_under_a_spin_lock",
        "Every NdisCm* export covmini imports (the completions and dispatches the NdisMCm* macros expand to, and NdisCmNotifyCloseAddressFamily) checks its page's limit: PASSIVE_LEVEL for NdisCmNotifyCloseAddressFamily, <= DISPATCH_LEVEL for the rest (ndis-ddi-irql.txt; each called above its limit by `every_ddi_refuses_a_caller_above_its_irql_limit`). NdisCmActivateVc, NdisCmDeactivateVc and NdisCmRegisterAddressFamilyEx are for stand-alone call managers; covmini uses the NdisMCm* functions.",
    ),
    enforced(
        "Irql_Connection_Function",
        &["irql.limit"],
        "every_ddi_refuses_a_caller_above_its_irql_limit",
        "Of these, covmini calls only NdisCoOidRequestComplete (what NdisMCmOidRequestComplete expands to), whose limit (<= DISPATCH_LEVEL) is checked; the rest are client calls, which ndis-emu's scripted clients make. No driver running on ndis-emu gets above DISPATCH_LEVEL by itself (spin locks stop there), so the proving test calls every DDI at DISPATCH_LEVEL + 1.",
    ),
    not_applicable(
        "Irql_Filter_Driver_Function",
        "Filter drivers only (NdisF*); covmini imports none of them.",
    ),
    not_applicable(
        "Irql_Gather_DMA_Function",
        "No DMA: covmini imports none of the scatter-gather or shared-memory DMA functions.",
    ),
    not_applicable(
        "Irql_IM_Function",
        "Intermediate drivers only (NdisIM*); covmini imports none of them.",
    ),
    not_applicable(
        "Irql_Interfaces_Function",
        "Network interface providers only (NdisIf*): NDIS registers the miniport's interface itself; covmini imports none of them.",
    ),
    not_applicable(
        "Irql_Interrupt_Function",
        "No hardware interrupt: covmini imports neither NdisMRegisterInterruptEx nor NdisMDeregisterInterruptEx.",
    ),
    not_applicable(
        "Irql_IrqlSetting_Function",
        "covmini never raises or lowers the IRQL itself (the macros expand to KeRaiseIrql/KeLowerIrql, which it does not import); its only IRQL changes are spin locks (Irql_Synch_Function, Locking).",
    ),
    enforced(
        "Irql_MCM_Function",
        &["irql.limit"],
        "irql_limit_fires_on_register_af_under_a_spin_lock",
        "Every NdisMCm* function covmini calls checks its limit: PASSIVE_LEVEL for NdisMCmRegisterAddressFamilyEx and NdisMCmNotifyCloseAddressFamily (also proved by `irql_limit_fires_on_notify_close_under_a_spin_lock`), <= DISPATCH_LEVEL for create/delete/activate/deactivate VC, NdisMCmOidRequest and the completions and dispatches (each called above its limit by `every_ddi_refuses_a_caller_above_its_irql_limit`).",
    ),
    enforced(
        "Irql_MCO_Function",
        &["irql.limit"],
        "every_ddi_refuses_a_caller_above_its_irql_limit",
        "NdisMCoSendNetBufferListsComplete, NdisMCoIndicateReceiveNetBufferLists, NdisMCoIndicateStatusEx and NdisMCoOidRequestComplete check their limit (<= DISPATCH_LEVEL). covmini never calls NdisMCoActivateVcComplete or NdisMCoDeactivateVcComplete (its VCs are activated with NdisMCmActivateVc, which completes synchronously, contract §8); ndis-emu fails a run that does (`emu.unimplemented-ddi`). NdisMCompleteDmaTransfer is not imported. The proving test calls each at DISPATCH_LEVEL + 1.",
    ),
    enforced(
        "Irql_Miniport_Driver_Function",
        &["irql.limit"],
        "irql_limit_fires_on_register_af_under_a_spin_lock",
        "covmini calls NdisMRegisterMiniportDriver, NdisMDeregisterMiniportDriver and NdisMSetMiniportAttributes (PASSIVE_LEVEL) and NdisMPauseComplete (<= DISPATCH_LEVEL); each checks its limit (`every_ddi_refuses_a_caller_above_its_irql_limit` calls each above it). The logging, port, I/O port, DMA-channel and shared-memory functions of this rule are not imported (no hardware).",
    ),
    enforced(
        "Irql_Miscellaneous_Function",
        &["irql.limit"],
        "irql_limit_fires_on_a_wait_under_a_spin_lock",
        "Of this rule's functions covmini imports NdisAllocateMemoryWithTagPriority, NdisAllocateIoWorkItem, NdisQueueIoWorkItem, NdisFreeIoWorkItem, NdisGetVersion, NdisSetOptionalHandlers, NdisWaitEvent and the configuration functions NdisOpenConfigurationEx, NdisReadConfiguration and NdisCloseConfiguration (PASSIVE_LEVEL); each checks its limit (the proving test: NdisWaitEvent at DISPATCH_LEVEL; the others in `every_ddi_refuses_a_caller_above_its_irql_limit`). Its lookaside functions are macros over ExInitializeNPagedLookasideList and the SList calls, which check theirs too. File, string and device functions are not imported.",
    ),
    enforced(
        "Irql_NetBuffer_Function",
        &["irql.limit"],
        "every_ddi_refuses_a_caller_above_its_irql_limit",
        "covmini's NBL pool and NBL functions (NdisAllocateNetBufferListPool, NdisFreeNetBufferListPool, NdisAllocateNetBufferAndNetBufferList, NdisAllocateNetBufferList, NdisFreeNetBufferList) check their limit (<= DISPATCH_LEVEL); the MDL, clone, fragment and NET_BUFFER functions are not imported. The proving test calls each at DISPATCH_LEVEL + 1.",
    ),
    not_applicable(
        "Irql_OID_Function",
        "The connectionless OID path: covmini registers no OidRequestHandler and imports none of these; its OIDs complete with NdisMCoOidRequestComplete (Irql_MCO_Function) and NdisCoOidRequestComplete (Irql_Connection_Function).",
    ),
    not_applicable(
        "Irql_Protocol_Driver_Function",
        "Protocol drivers and CoNDIS clients (binding, NdisCl*); ndis-emu's scripted clients play that part. covmini imports none of them, NdisMNetPnPEvent included.",
    ),
    enforced(
        "Irql_SendRcv_Function",
        &["irql.limit"],
        "every_ddi_refuses_a_caller_above_its_irql_limit",
        "covmini's only connectionless data call is NdisMSendNetBufferListsComplete, with which the MiniportSendNetBufferLists NDIS requires of every miniport refuses what it is sent; its limit (<= DISPATCH_LEVEL) is checked; the proving test calls it at DISPATCH_LEVEL + 1.",
    ),
    not_applicable(
        "Irql_StatusIndication_Function",
        "covmini indicates status with NdisMCoIndicateStatusEx (Irql_MCO_Function), never NdisMIndicateStatusEx; NdisFIndicateStatus is for filters.",
    ),
    enforced(
        "Irql_Synch_Function",
        &["irql.limit"],
        "irql_limit_fires_on_a_dpr_acquire_at_passive_level",
        "NdisSetEvent and NdisResetEvent check <= DISPATCH_LEVEL (`every_ddi_refuses_a_caller_above_its_irql_limit`; NdisInitializeEvent's page allows any IRQL, though ndis.h annotates it <= DISPATCH_LEVEL, and ndis-emu follows the page). The Ndis*SpinLock routines are inline code over the Ke* spin locks in the WDK (LAYOUT.md), which ndis-emu implements: KeAcquireSpinLockAtDpcLevel and KeReleaseSpinLockFromDpcLevel (NdisDprAcquireSpinLock, NdisDprReleaseSpinLock) require DISPATCH_LEVEL, the others <= DISPATCH_LEVEL. Read-write locks and NDIS mutexes are not imported.",
    ),
    enforced(
        "Irql_Timer_Function",
        &["irql.limit", "sched.periodic-cancel-passive"],
        "sched_periodic_cancel_passive_fires_from_the_timer_callback",
        "All four timer object functions check <= DISPATCH_LEVEL (`every_ddi_refuses_a_caller_above_its_irql_limit`); NdisCancelTimerObject on a periodic timer requires PASSIVE_LEVEL (`sched.periodic-cancel-passive`, the proving test).",
    ),
    // --- Locking -------------------------------------------------------------
    enforced(
        "SpinLock",
        &["irql.balance"],
        "irql_balance_fires_on_a_second_acquire_of_a_held_lock",
        "On the Ke* spin locks the NDIS routines expand to: acquiring a lock the CPU already holds is reported (a self-deadlock on Windows), and so is a handler returning with a lock held (`irql_balance_fires_on_a_lock_held_across_return`). A lock held by another CPU is waited for, as on Windows.",
    ),
    enforced(
        "SpinLockBalanced",
        &["irql.balance", "irql.spin-lock-owner"],
        "irql_balance_fires_on_a_lock_held_across_return",
        "A handler returns with every lock it took released, in order, at the IRQL it was called at; a release by another CPU than the one that acquired is `irql.spin-lock-owner`.",
    ),
    enforced(
        "SpinLockDpr",
        &["irql.balance", "irql.limit"],
        "irql_balance_fires_on_a_second_acquire_of_a_held_lock",
        "NdisDprAcquireSpinLock is KeAcquireSpinLockAtDpcLevel: the proving test takes a held lock with it; taking one at PASSIVE_LEVEL is `irql.limit` (`irql_limit_fires_on_a_dpr_acquire_at_passive_level`); a lock held across the handler's return is `irql.balance`.",
    ),
    enforced(
        "SpinLockDprRelease",
        &["irql.balance"],
        "irql_balance_fires_on_a_lock_held_across_return",
        "Either acquire on a held lock (`irql_balance_fires_on_a_second_acquire_of_a_held_lock`) and a lock still held when the handler returns are both reported.",
    ),
    enforced(
        "SpinLockRelease",
        &["irql.balance"],
        "irql_balance_fires_on_a_release_without_an_acquire",
        "A release of a lock no CPU holds is reported.",
    ),
    // --- Memory usage --------------------------------------------------------
    not_applicable(
        "NdisAllocateGenericObject",
        "covmini allocates no generic objects (NdisAllocateGenericObject is not imported).",
    ),
    not_applicable(
        "NdisAllocateMdl",
        "covmini allocates no MDLs (NdisAllocateMdl is not imported): its receive NBLs point at the sender's MDL chain, zero copy, and `nbl.alloc-params` checks what it builds.",
    ),
    enforced(
        "NdisAllocateMemoryWithTagPriority",
        &["memory.tag"],
        "memory_tag_fires_on_a_zero_tag",
        "The tag must be four printable characters (so never 0). That every block is freed, once, with its tag, is `memory.ledger`.",
    ),
    not_applicable(
        "NdisAllocateNetBuffer",
        "covmini allocates each NET_BUFFER with its NBL (NdisAllocateNetBufferAndNetBufferList) and frees it with the NBL; NdisAllocateNetBuffer is not imported. Those NBLs are covered by `nbl.free-owner`, `nbl.pool-free-outstanding` and `nbl.leak`.",
    ),
    not_applicable(
        "NdisMFreeSharedMemory",
        "No DMA: covmini allocates no shared memory (not imported).",
    ),
    enforced(
        "NdisMIndicateStatusEx",
        &["halt.nothing-after"],
        "nothing_after_halt_fires_on_a_status_indication_after_halt",
        "On the CoNDIS counterpart covmini uses, NdisMCoIndicateStatusEx: no call for the adapter may follow MiniportHaltEx, a status indication included.",
    ),
    not_applicable(
        "NdisMMapIoSpace",
        "No device memory to map: covmini is virtual (not imported).",
    ),
    not_applicable(
        "NdisMRegisterIoPortRange",
        "No I/O ports: covmini is virtual (not imported).",
    ),
    // --- Miscellaneous -------------------------------------------------------
    enforced(
        "CancelTimerObject",
        &["sched.timer-freed-while-queued", "sched.leak"],
        "sched_timer_freed_while_queued_fires_without_a_cancel",
        "A timer the adapter owns is freed before MiniportHaltEx returns (`sched.leak`), and freeing one still set is reported, so a timer still set when HaltEx returns breaks one of the two. A timer allocated with the driver handle may stay set until unload (it serves the driver, not one adapter).",
    ),
    enforced(
        "MiniportPause_Return",
        &["pause.status"],
        "pause_status_fires_on_a_failed_pause",
        "MiniportPause returns SUCCESS or PENDING; a PENDING pause must then be completed once (`pause.complete-once`).",
    ),
    enforced(
        "NdisOpenConfigurationEx",
        &["config.closed"],
        "config_closed_fires_on_a_handle_kept_past_halt",
        "covmini opens the adapter's configuration in MiniportInitializeEx to read its trace level; a handle still open when MiniportHaltEx (or a failed MiniportInitializeEx) of its adapter returns breaks `config.closed`.",
    ),
    not_applicable("NdisQueryBindInstanceName", "Protocol drivers only (not imported)."),
    not_applicable(
        "NdisReEnumerateProtocolBindings",
        "Protocol drivers only (not imported).",
    ),
    enforced(
        "PeriodicTimer",
        &["sched.periodic-cancel-passive"],
        "sched_periodic_cancel_passive_fires_from_the_timer_callback",
        "NdisCancelTimerObject on a timer set with a non-zero period runs at PASSIVE_LEVEL; a one-shot timer may be cancelled at <= DISPATCH_LEVEL.",
    ),
    not_applicable(
        "WriteErrorLog",
        "About a failed NdisMAllocateSharedMemory in MiniportInitializeEx; covmini allocates no shared memory (not imported), and imports no NdisWriteErrorLogEntry.",
    ),
    // --- OidProcessing -------------------------------------------------------
    enforced(
        "DoubleComplete",
        &["cm.complete-only-pended"],
        "complete_only_pended_fires_on_a_cm_oid_completed_twice",
        "On the CoNDIS OID path (MiniportCoOidRequest with NdisMCoOidRequestComplete, ProtocolCoOidRequest with NdisMCmOidRequestComplete): a request is completed only after its handler returned PENDING, and once. The same tracker covers every call-manager request.",
    ),
    enforced(
        "DoubleCompleteWorkItem",
        &["cm.complete-only-pended"],
        "complete_only_pended_fires_on_a_cm_oid_completed_twice",
        "ndis-emu tracks the request, not the context that completes it: a second completion is reported whether it comes from the handler, a work item, a timer callback or another handler.",
    ),
    not_applicable(
        "NdisMNetPnPEventInOIDRequest",
        "covmini never calls NdisMNetPnPEvent (not imported).",
    ),
    // --- Warning -------------------------------------------------------------
    not_applicable(
        "NdisStallExecution_Delay",
        "covmini never stalls the CPU (NdisStallExecution is not imported).",
    ),
    // --- NDIS/WIFI verification ------------------------------------------------
    not_applicable("NdisFilterTimedDataReceive", "Filter drivers only."),
    not_applicable("NdisFilterTimedDataSend", "Filter drivers only."),
    not_applicable(
        "NdisFilterTimedPauseComplete",
        "Filter drivers only. The miniport counterparts are `pause.status` and `pause.complete-once`.",
    ),
    enforced(
        "NdisOidComplete",
        &["cm.complete-not-pending"],
        "complete_not_pending_fires_on_a_pending_completion",
        "No completion carries NDIS_STATUS_PENDING (every NdisCm*/NdisMCo* completion, the OID ones included). The per-OID status lists concern OIDs covmini is never sent: OID_PNP_SET_POWER goes only to miniports that report power management capabilities (covmini reports none), and the receive filter, NIC switch, IPsec offload, power management and tunnel OIDs belong to features it does not advertise.",
    ),
    enforced(
        "NdisOidDoubleComplete",
        &["cm.complete-only-pended"],
        "complete_only_pended_fires_on_a_cm_oid_completed_twice",
        "On NdisMCoOidRequestComplete and NdisMCmOidRequestComplete, the completions covmini uses (it has no NdisMOidRequestComplete).",
    ),
    enforced(
        "NdisOidDoubleRequest",
        &["halt.requests-completed"],
        "halt_requests_completed_fires_on_a_cm_oid_never_completed",
        "An OID (or call-manager) request the driver pended and never completed is reported when MiniportHaltEx returns: after that nothing can complete it. (NDIS never issues a second request of a kind on an object before the first completes: the emulator's request tracker holds that invariant.)",
    ),
    not_enforced(
        "NdisTimedDataHang",
        "On the path the rule names, covmini's MiniportSendNetBufferLists completes every NBL inside the call (NOT_SUPPORTED), so it cannot hang there. On its CoNDIS path a send completes when the peer returns the zero-copy receive (src/ffi/data.rs), so a client that holds its receives holds the sender's sends as long. ndis-emu sets no deadline on a send (its clock is virtual and advances only with timers); a send never completed is reported when its VC is deactivated (`data.drain-before-deactivate`) or the adapter pauses (`pause.drained`), not after 22 seconds. Driver Verifier's NDIS/WIFI option targets connectionless and WLAN drivers (contract §7).",
    ),
    not_enforced(
        "NdisTimedDataSend",
        "As NdisTimedDataHang: covmini's MiniportSendNetBufferLists completes at once; ndis-emu sets no 30-second deadline on a CoNDIS send, and one never completed is caught by `data.drain-before-deactivate` or `pause.drained`.",
    ),
    enforced(
        "NdisTimedOidComplete",
        &["oid.completes-in-time"],
        "oid_completes_in_time_fires_after_twelve_seconds_pended",
        "On the CoNDIS OID paths (MiniportCoOidRequest, ProtocolCoOidRequest), stricter than Windows, whose Driver Verifier checks connectionless miniports (contract §7). Measured on ndis-emu's virtual clock, which moves only when a test runs timers, waits or advances time; an OID never completed is also `halt.requests-completed`.",
    ),
    not_applicable("WlanAssert", "WDI Wi-Fi drivers only."),
    not_applicable("WlanAssociation", "Native 802.11 (Wi-Fi) miniports only."),
    not_applicable("WlanConnectionRoaming", "Native 802.11 (Wi-Fi) miniports only."),
    not_applicable("WlanDisassociation", "Native 802.11 (Wi-Fi) miniports only."),
    not_applicable("WlanTimedAssociation", "Native 802.11 (Wi-Fi) miniports only."),
    not_applicable("WlanTimedConnectionRoaming", "Native 802.11 (Wi-Fi) miniports only."),
    not_applicable("WlanTimedConnectRequest", "Native 802.11 (Wi-Fi) miniports only."),
    not_applicable("WlanTimedScan", "Native 802.11 (Wi-Fi) miniports only."),
    not_applicable("WlanTimedLinkQuality", "Native 802.11 (Wi-Fi) miniports only."),
];

/// The mapping of Microsoft rule `name`, if there is one.
#[must_use]
pub fn mapping(name: &str) -> Option<&'static Mapping> {
    MAPPINGS.iter().find(|m| m.name == name)
}

/// How many rules are enforced, not applicable and not enforced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rules in the data file.
    pub total: usize,
    /// Enforced by ndis-emu.
    pub enforced: usize,
    /// Not applicable to a CoNDIS MCM like covmini.
    pub not_applicable: usize,
    /// Applicable and not enforced.
    pub not_enforced: usize,
}

impl Counts {
    /// Rules that apply (enforced or not).
    #[must_use]
    pub fn applicable(self) -> usize {
        self.enforced + self.not_enforced
    }
}

/// The counts over `rules` (rules without a mapping count in `total` only).
#[must_use]
pub fn counts(rules: &[MsRule]) -> Counts {
    let mut c = Counts {
        total: rules.len(),
        ..Counts::default()
    };
    for m in rules.iter().filter_map(|r| mapping(r.name)) {
        match m.verdict {
            Verdict::Enforced { .. } => c.enforced += 1,
            Verdict::NotApplicable => c.not_applicable += 1,
            Verdict::NotEnforced => c.not_enforced += 1,
        }
    }
    c
}

/// The compliance table as Markdown (a section of `RULES.md`).
#[must_use]
pub fn table_markdown() -> String {
    let rules = ms_rules().unwrap_or_default();
    let c = counts(&rules);
    let mut s = String::from(
        "\n## Microsoft's NDIS DDI compliance rules\n\n\
         Static Driver Verifier and Driver Verifier check NDIS drivers against the rules Microsoft \
         publishes by rule set (the \"Rules for NDIS Drivers\" pages of the Windows driver documentation). \
         `crates/ndis-emu/data/ms-ndis-rules.txt` lists every one, with the documentation commit it was \
         read from; `crates/ndis-emu/src/compliance.rs` maps each to the ndis-emu rules above that enforce \
         it, with the teeth test that proves them on a driver breaking it, or says why it does not apply \
         to a CoNDIS MCM like covmini, or why ndis-emu does not enforce it. The catalog test \
         `the_compliance_table_covers_every_microsoft_rule` fails if a rule of the list has no mapping or a \
         mapping names an ndis-emu rule or test that does not exist. The summaries are ours.\n\n\
         \"Not imported\" means covmini's import table (ndis-sys) does not declare the DDI: the host build \
         cannot call it, and the PE loader refuses a `.sys` importing a DDI ndis-emu does not implement.\n\n",
    );
    let _ = writeln!(
        s,
        "{} rules: {} apply to covmini, of which {} are enforced and {} are not; {} do not apply.\n",
        c.total,
        c.applicable(),
        c.enforced,
        c.not_enforced,
        c.not_applicable
    );
    s.push_str("| rule set | rules | enforced | applies, not enforced | does not apply |\n|---|---|---|---|---|\n");
    let mut sets: Vec<&str> = Vec::new();
    for r in &rules {
        if !sets.contains(&r.set) {
            sets.push(r.set);
        }
    }
    for set in sets {
        let of_set: Vec<MsRule> = rules.iter().copied().filter(|r| r.set == set).collect();
        let k = counts(&of_set);
        let _ = writeln!(
            s,
            "| {set} | {} | {} | {} | {} |",
            k.total, k.enforced, k.not_enforced, k.not_applicable
        );
    }
    s.push('\n');
    s.push_str("| Microsoft rule | set | what it asks (our summary) | status | ndis-emu rules | proving test | how, or why not |\n");
    s.push_str("|---|---|---|---|---|---|---|\n");
    for r in &rules {
        let (status, ids, test, why) = match mapping(r.name) {
            Some(m) => match m.verdict {
                Verdict::Enforced { rules, test } => (
                    "enforced",
                    rules.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", "),
                    format!("`{test}`"),
                    m.why,
                ),
                Verdict::NotApplicable => ("does not apply", String::new(), String::new(), m.why),
                Verdict::NotEnforced => ("applies, not enforced", String::new(), String::new(), m.why),
            },
            None => ("UNMAPPED", String::new(), String::new(), ""),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {status} | {ids} | {test} | {why} |",
            r.name, r.set, r.summary
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data file parses, and each mapping is spelled once and says why.
    #[test]
    fn the_list_parses_and_no_rule_is_mapped_twice() {
        let rules = ms_rules().expect("well formed");
        assert!(rules.len() >= 50, "parsed only {} rules", rules.len());
        for (i, m) in MAPPINGS.iter().enumerate() {
            assert!(
                MAPPINGS.iter().skip(i + 1).all(|n| n.name != m.name),
                "{} is mapped twice",
                m.name
            );
            assert!(!m.why.is_empty(), "{} says nothing", m.name);
        }
    }

    /// A line with a field missing or empty is an error, not a rule dropped.
    #[test]
    fn a_malformed_line_is_refused() {
        assert_eq!(
            parse("# c\n\nIRQL | Irql_Timer_Function | timers\n"),
            Ok(vec![MsRule {
                set: "IRQL",
                name: "Irql_Timer_Function",
                summary: "timers"
            }])
        );
        assert!(parse("IRQL | Irql_Timer_Function\n").is_err());
        assert!(parse("IRQL |  | timers\n").is_err());
        assert!(parse("IRQL | a | b | c\n").is_err());
    }
}
