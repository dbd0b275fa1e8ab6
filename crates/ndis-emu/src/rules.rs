//! The contract as named rules.
//!
//! Each rule has an id (named after the contract section it checks, the way
//! Firecracker names proofs after spec sections), a one-line statement, its
//! source, and whether it is stricter than the shipping ndis.sys. The test
//! that proves each rule fires on a wrong driver is named in the catalog
//! (`RULES.md`, generated from [`crate::catalog::all`] and checked by a test
//! so the two never drift).
//!
//! A [`Rule`] is a reference to its static [`RuleInfo`]. Each area of the
//! emulator declares its own rules with [`crate::define_rules!`] next to the code
//! that enforces them; [`crate::catalog::all`] lists every area's rules.
//!
//! What this module must not do: name any area (the catalog does), so every
//! area can name it without an import circle.

use core::fmt;

/// What ndis-emu knows about each rule.
#[derive(Debug)]
pub struct RuleInfo {
    /// Stable id, used in reports and the catalog.
    pub id: &'static str,
    /// The name of its constant (`HANDLE_VALID`), which the code that
    /// enforces it names (the catalog's "enforced in" column is checked by
    /// finding it).
    pub name: &'static str,
    /// What the driver must do, in one line.
    pub statement: &'static str,
    /// Contract section (shared/reference/condis-mcm-contract.md) or seed page.
    pub source: &'static str,
    /// True where real ndis.sys does not check this (contract \[B\]).
    pub stricter_than_windows: bool,
    /// The test (in crates/ndis-emu/tests/) that shows it fires.
    pub proving_test: &'static str,
}

/// A contract rule ndis-emu enforces. Two rules are equal when their ids are.
#[derive(Clone, Copy)]
pub struct Rule(&'static RuleInfo);

impl Rule {
    /// A rule from its static description.
    #[must_use]
    pub const fn new(info: &'static RuleInfo) -> Self {
        Self(info)
    }

    /// The catalog entry of this rule.
    #[must_use]
    pub fn info(self) -> &'static RuleInfo {
        self.0
    }

    /// The rule's id.
    #[must_use]
    pub fn id(self) -> &'static str {
        self.0.id
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}
impl Eq for Rule {}
impl PartialOrd for Rule {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Rule {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.id.cmp(other.0.id)
    }
}
impl core::hash::Hash for Rule {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}
impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.id)
    }
}

/// Declares rules as `pub const NAME: Rule`, and `pub const $list: &[Rule]`
/// with all of them in order:
///
/// ```text
/// define_rules! { LIST:
///     NAME, "area.id", stricter, "§source", "proving_test_name",
///         "statement";
/// }
/// ```
#[macro_export]
macro_rules! define_rules {
    ($list:ident: $($name:ident, $id:literal, $stricter:literal, $src:literal, $test:literal, $stmt:literal;)*) => {
        $(
            #[doc = $stmt]
            pub const $name: $crate::rules::Rule = $crate::rules::Rule::new(&$crate::rules::RuleInfo {
                id: $id, name: stringify!($name), statement: $stmt, source: $src, stricter_than_windows: $stricter, proving_test: $test,
            });
        )*
        /// The rules of this area, in catalog order.
        pub const $list: &[$crate::rules::Rule] = &[$($name),*];
    };
}

define_rules! { LIFECYCLE:
    REG_CHARACTERISTICS_HEADER, "reg.characteristics-header", false, "§1.1 (2)", "reg_characteristics_header_fires_on_a_short_revision",
        "NdisMRegisterMiniportDriver gets a known NDIS version and a characteristics header of the type, revision and size that version needs.";
    REG_REQUIRED_HANDLERS, "reg.required-handlers", false, "§1.1 (3)", "reg_required_handlers_fires_without_cancel_send",
        "InitializeEx, HaltEx, Unload, Pause, Restart, SendNetBufferLists, ReturnNetBufferLists, CancelSend, DevicePnPEventNotify, ShutdownEx and CancelOidRequest are all non-NULL, even for CoNDIS.";
    REG_DIRECT_OID_PAIR, "reg.direct-oid-pair", false, "§1.1 (4)", "reg_direct_oid_pair_fires_on_half_a_pair",
        "DirectOidRequest and CancelDirectOidRequest are both set or both NULL.";
    REG_SET_OPTIONS_REQUIRED, "reg.set-options-required", true, "§1.1 [D]", "reg_set_options_required_fires_without_set_options",
        "A CoNDIS miniport registers MiniportSetOptions: its CoNDIS handlers can only be registered from inside it.";
    REG_OID_HANDLER, "reg.oid-handler", false, "§1.1 (6)", "reg_oid_handler_fires_without_any_oid_handler",
        "After MiniportSetOptions returns, the driver has an OidRequest handler or a registered CoOidRequest handler.";
    OPT_ONLY_IN_SET_OPTIONS, "opt.only-in-set-options", false, "§8.2", "opt_only_in_set_options_fires_from_initialize",
        "NdisSetOptionalHandlers is called only inside MiniportSetOptions, with the NdisDriverHandle NDIS passed to it.";
    OPT_CO_REQUIRED_HANDLERS, "opt.co-required-handlers", true, "§1.2 (a)", "opt_co_required_handlers_fires_without_co_send",
        "The CoNDIS miniport characteristics have CoSendNetBufferLists and CoOidRequest.";
    OPT_CM_HEADER, "opt.cm-header", false, "§1.2 (b)", "opt_cm_header_fires_on_a_short_block",
        "The call-manager block has Revision >= 1 and Size >= NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1 (136 on x64).";
    OPT_CM_ALL_HANDLERS, "opt.cm-all-handlers", true, "§1.2 (b)", "opt_cm_all_handlers_fires_on_a_null_add_party",
        "Every Cm* handler of an MCM is non-NULL, even for unsupported features (which return NDIS_STATUS_NOT_SUPPORTED).";
    OPT_CM_OID_DISTINCT, "opt.cm-oid-distinct", true, "§1.2 (b)", "opt_cm_oid_distinct_fires_on_a_shared_oid_handler",
        "CmOidRequestHandler is the call manager's own ProtocolCoOidRequest, not the miniport's CoOidRequestHandler.";
    OPT_UNKNOWN_TYPE, "opt.unknown-type", false, "§1.2", "opt_unknown_type_fires_on_a_default_header",
        "NdisSetOptionalHandlers gets a CO miniport (0x91) or call-manager (0xA5) block from a miniport driver.";
    INIT_ATTRIBUTE_ORDER, "init.attribute-order", false, "§1.3, §8.3", "init_attribute_order_fires_on_general_first",
        "MiniportInitializeEx sets registration attributes first, then general attributes, then registers its AF, all before it returns.";
    INIT_NOT_CO_NDIS, "init.not-co-ndis", false, "§1.3 (1)", "init_not_co_ndis_fires_on_the_flag",
        "A CoNDIS MCM does not set NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS.";
    INIT_GENERAL_ATTRIBUTES, "init.general-attributes", false, "§1.3 (2)", "init_general_attributes_fires_on_ethernet",
        "General attributes have revision 1 or 2 with at least that revision's size, and a CoNDIS medium (CoWan or Atm).";
    INIT_AF_REGISTRATION, "init.af-registration", false, "§1.3 (3)", "init_af_registration_fires_on_a_duplicate_af",
        "NdisMCmRegisterAddressFamilyEx names a new (AF, major, minor) for the adapter, after a call-manager block was registered.";
    INIT_ADAPTER_CONTEXT, "init.adapter-context", false, "§1.3 (1)", "init_adapter_context_fires_on_a_null_context",
        "The registration attributes carry a non-NULL MiniportAdapterContext.";
    IRQL_LIMIT, "irql.limit", false, "§6, ndis-ddi-irql.txt", "irql_limit_fires_on_register_af_under_a_spin_lock",
        "Every DDI is called at or below the IRQL its page allows.";
    IRQL_BALANCE, "irql.balance", true, "§6", "irql_balance_fires_on_a_lock_held_across_return",
        "A handler returns at the IRQL NDIS called it at: every spin lock it took is released, in order.";
    IRQL_SPIN_LOCK_OWNER, "irql.spin-lock-owner", true, "KeReleaseSpinLock, KeReleaseSpinLockFromDpcLevel (the caller holds the lock); §6", "irql_spin_lock_owner_fires_on_a_release_from_another_cpu",
        "A spin lock is released by the CPU that acquired it (acquiring raised that CPU to DISPATCH_LEVEL, so only it can release): never by another CPU, such as a work item releasing what a timer callback took.";
    HANDLE_VALID, "handle.valid", true, "architecture.md (ndis-emu)", "handle_valid_fires_on_a_made_up_handle",
        "Every handle the driver passes to NDIS is one NDIS gave it, of the kind the DDI takes, and still alive.";
    NOTHING_AFTER_HALT, "halt.nothing-after", false, "§1.4, §8.10", "nothing_after_halt_fires_on_a_late_attribute_call",
        "No call for an adapter reaches NDIS after its MiniportHaltEx returned.";
    UNLOAD_DEREGISTERS, "unload.deregisters", false, "§1.4, §8.10", "unload_deregisters_fires_when_unload_forgets",
        "MiniportDriverUnload calls NdisMDeregisterMiniportDriver with the driver handle.";
    MEMORY_LEDGER, "memory.ledger", false, "§8.10", "memory_ledger_fires_on_a_leak_and_on_a_wrong_tag",
        "Every allocation is freed exactly once, with its own tag, before unload completes.";
    UNIMPLEMENTED_DDI, "emu.unimplemented-ddi", true, "architecture.md (ndis-emu)", "unimplemented_ddi_fires_on_mco_activate_vc_complete",
        "The driver called a DDI ndis-emu does not implement yet; the run fails rather than pretend it succeeded.";
    BUG_CHECK, "driver.bug-check", false, "windows-drivers-rs (panic = bug check)", "bug_check_is_reported_with_its_code",
        "The driver called KeBugCheckEx: on Windows the machine stops here.";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.id)
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The NDIS call (or handler) during which it was seen.
    pub call: &'static str,
    /// What exactly was wrong, with the objects involved.
    pub detail: String,
    /// The last events of the objects involved, oldest first.
    pub history: Vec<String>,
    /// The CPU it was seen on (0: the emulator's own thread).
    pub cpu: u32,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.rule.info();
        write!(f, "[{}] in {}", info.id, self.call)?;
        // CPU 0 is left out, so a single-CPU report reads as it always did.
        if self.cpu != 0 {
            write!(f, " on CPU {}", self.cpu)?;
        }
        write!(f, ": {} ({}: {})", self.detail, info.source, info.statement)?;
        for h in &self.history {
            write!(f, "\n    history: {h}")?;
        }
        Ok(())
    }
}
