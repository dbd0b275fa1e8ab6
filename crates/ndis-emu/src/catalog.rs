//! The rules catalog: every area's rules in catalog order ([`all`]) and
//! the catalog as Markdown ([`catalog_markdown`], what `RULES.md` holds).
//!
//! It owns the list of areas only; each area declares its rules with
//! [`crate::define_rules!`] next to the code that enforces them, and
//! [`crate::rules`] defines what a rule is. Nothing but the catalog's
//! readers (tests, covmini-lab) may depend on this module: it names every
//! area, so an area that named it would close an import circle.

use crate::rules::Rule;

/// Every rule ndis-emu enforces, area by area, in catalog order.
#[must_use]
pub fn all() -> Vec<Rule> {
    [
        crate::rules::LIFECYCLE,
        crate::protocol::PROTOCOL,
        crate::condis::rules::CONDIS,
        crate::condis::pended::PENDED,
        crate::sched::SCHED,
        crate::sync::SYNC,
        crate::memory::MEMORY,
        crate::lookaside::LOOKASIDE,
        crate::nbl::NBLS,
        crate::pause::PAUSE,
        crate::config::CONFIG,
        crate::etw::ETW,
        crate::bugcheck::BUGCHECK,
        crate::io::IO,
    ]
    .concat()
}

/// Where each rule is enforced, by rule id: the files (under
/// `crates/ndis-emu/src`) whose code names the rule's constant to report or
/// check it. `every_rule_is_enforced_where_the_catalog_says`
/// (tests/catalog.rs) reads the sources and fails, printing the table as it
/// should read, when this differs from them.
pub const ENFORCED_IN: &[(&str, &[&str])] = &[
    ("reg.characteristics-header", &["registration.rs"]),
    ("reg.required-handlers", &["registration.rs"]),
    ("reg.direct-oid-pair", &["registration.rs"]),
    ("reg.set-options-required", &["registration.rs"]),
    ("reg.oid-handler", &["registration.rs"]),
    ("opt.only-in-set-options", &["registration.rs"]),
    ("opt.co-required-handlers", &["registration.rs"]),
    ("opt.cm-header", &["registration.rs"]),
    ("opt.cm-all-handlers", &["registration.rs"]),
    ("opt.cm-oid-distinct", &["registration.rs"]),
    ("opt.unknown-type", &["registration.rs"]),
    ("init.attribute-order", &["lifecycle.rs", "registration.rs"]),
    ("init.not-co-ndis", &["registration.rs"]),
    ("init.general-attributes", &["registration.rs"]),
    ("init.af-registration", &["registration.rs"]),
    ("init.adapter-context", &["registration.rs"]),
    ("irql.limit", &["ffi/exports.rs", "sync.rs", "world.rs"]),
    ("irql.balance", &["ffi/calls.rs", "ffi/exports.rs"]),
    ("irql.spin-lock-owner", &["ffi/exports.rs"]),
    (
        "handle.valid",
        &["condis/mcm.rs", "ffi/exports.rs", "nbl.rs", "protocol.rs", "world.rs"],
    ),
    ("halt.nothing-after", &["condis/mcm.rs", "registration.rs", "sched.rs"]),
    ("unload.deregisters", &["lifecycle.rs"]),
    ("memory.ledger", &["ffi/exports.rs", "ffi/lookaside.rs", "lifecycle.rs"]),
    ("emu.unimplemented-ddi", &["ffi/unimplemented.rs", "protocol.rs"]),
    ("driver.bug-check", &["ffi/exports.rs"]),
    ("proto.characteristics", &["protocol.rs"]),
    ("proto.required-handlers", &["protocol.rs"]),
    ("proto.set-options-required", &["protocol.rs"]),
    ("proto.only-in-set-options", &["protocol.rs"]),
    ("proto.cl-all-handlers", &["protocol.rs"]),
    ("proto.deregister-outside-ndis", &["protocol.rs"]),
    ("proto.open-in-bind", &["protocol.rs"]),
    ("proto.complete-only-pended", &["protocol.rs"]),
    ("proto.op-completes", &["protocol.rs"]),
    ("proto.unbind-closes", &["protocol.rs"]),
    ("proto.af-after-notify", &["protocol.rs"]),
    ("proto.close-af-empty", &["protocol.rs"]),
    ("proto.close-adapter-after-afs", &["protocol.rs"]),
    ("proto.unload-deregisters", &["protocol.rs"]),
    ("cm.complete-not-pending", &["condis/complete.rs"]),
    ("cm.complete-only-pended", &["condis/complete.rs"]),
    ("cm.vc-handlers-never-pend", &["condis/client_requests.rs"]),
    ("call.success-needs-active-vc", &["condis/complete.rs"]),
    ("call.failure-leaves-vc-inactive", &["condis/complete.rs"]),
    (
        "call.party-context",
        &["condis/client_requests.rs", "condis/complete.rs"],
    ),
    ("vc.activate-needs-media-parameters", &["condis/mcm.rs"]),
    ("vc.only-creator-deletes", &["condis/mcm.rs"]),
    (
        "vc.deactivated-before-delete",
        &["condis/client_requests.rs", "condis/mcm.rs"],
    ),
    ("vc.create-on-open-af", &["condis/mcm.rs"]),
    ("incoming.sap-registered", &["condis/mcm.rs"]),
    ("incoming.vc-created-and-active", &["condis/mcm.rs"]),
    ("incoming.connected-after-accept", &["condis/mcm.rs"]),
    ("close.incoming-on-a-call", &["condis/mcm.rs"]),
    ("party.incoming-drop-not-last", &["condis/mcm.rs"]),
    ("oid.completion-matches-path", &["condis/complete.rs"]),
    ("oid.bytes-within-buffer", &["condis/complete.rs"]),
    ("status.indication-valid", &["condis/mcm.rs"]),
    ("af.mcm-request-on-open-af", &["condis/mcm.rs"]),
    ("data.send-complete-once", &["condis/data.rs"]),
    ("data.send-status", &["condis/data.rs"]),
    ("data.receive-valid", &["condis/data.rs"]),
    ("data.drain-before-deactivate", &["condis/window.rs"]),
    ("halt.afs-closed", &["condis/rules.rs"]),
    ("halt.requests-completed", &["condis/pended.rs"]),
    ("oid.completes-in-time", &["condis/pended.rs"]),
    ("sched.timer-characteristics", &["sched.rs"]),
    ("sched.workitem-queue", &["sched.rs"]),
    ("sched.workitem-freed-while-queued", &["sched.rs"]),
    ("sched.timer-freed-while-queued", &["sched.rs"]),
    ("sched.periodic-cancel-passive", &["sched.rs"]),
    ("sched.timer-period", &["sched.rs"]),
    ("sched.leak", &["sched.rs"]),
    ("sync.event-valid", &["sync.rs"]),
    ("sync.wait-forever", &["sync.rs"]),
    ("memory.tag", &["memory.rs"]),
    ("lookaside.init", &["ffi/lookaside.rs"]),
    ("lookaside.live-list", &["ffi/lookaside.rs", "lookaside.rs"]),
    ("lookaside.entry", &["ffi/lookaside.rs"]),
    ("lookaside.cached-entry-intact", &["ffi/lookaside.rs"]),
    ("lookaside.delete-outstanding", &["ffi/lookaside.rs"]),
    ("lookaside.not-deleted", &["lookaside.rs"]),
    ("nbl.pool-params", &["nbl.rs"]),
    ("nbl.alloc-params", &["nbl.rs"]),
    ("nbl.free-owner", &["nbl.rs"]),
    ("nbl.pool-free-outstanding", &["nbl.rs"]),
    ("nbl.leak", &["nbl.rs"]),
    ("pause.status", &["pause.rs"]),
    ("pause.complete-once", &["pause.rs"]),
    ("pause.drained", &["pause.rs"]),
    ("pause.no-receive-while-paused", &["pause.rs"]),
    ("config.closed", &["lifecycle.rs"]),
    ("etw.registered-at-unload", &["etw.rs"]),
    ("etw.handle-valid", &["etw.rs"]),
    ("etw.event-format", &["etw.rs"]),
    ("bugcheck.callback-registered-at-unload", &["bugcheck.rs"]),
    ("bugcheck.dump-data-too-large", &["bugcheck.rs"]),
    ("bugcheck.duplicate-dump-guid", &["bugcheck.rs"]),
    ("io.device-attributes", &["io/mod.rs"]),
    ("io.complete-once", &["io/mod.rs"]),
    ("io.complete-not-pending", &["io/mod.rs"]),
    ("io.mark-pending", &["io/mod.rs"]),
    ("io.dispatch-status", &["io/mod.rs"]),
    ("io.information-within-output", &["io/mod.rs"]),
    ("io.cancel-routine-cleared", &["io/mod.rs"]),
    ("io.cancel-releases-lock", &["io/mod.rs"]),
    ("io.cleanup-completes-pended", &["io/mod.rs"]),
    ("io.deregister-idle", &["io/mod.rs"]),
    ("io.deregister-before-unload", &["io/mod.rs"]),
];

/// The files that enforce `rule` ([`ENFORCED_IN`]; empty if it has no row).
#[must_use]
pub fn enforced_in(rule: Rule) -> &'static [&'static str] {
    ENFORCED_IN
        .iter()
        .find(|(id, _)| *id == rule.id())
        .map_or(&[], |(_, files)| files)
}

/// The rules catalog as Markdown (what `RULES.md` holds).
#[must_use]
pub fn catalog_markdown() -> String {
    let mut s = String::from(
        "# ndis-emu rules catalog\n\nGenerated from `crates/ndis-emu/src/rules.rs`, the rules each area \
         declares (`define_rules!`) and where each is enforced (`src/catalog.rs`), with Microsoft's NDIS \
         compliance rules mapped to them at the end (`src/compliance.rs`): regenerate with \
         `NDIS_EMU_BLESS=1 cargo test -p ndis-emu --test catalog`; the test `rules_catalog_is_in_sync` fails \
         if this file and the code differ. Each rule's proving test is in `crates/ndis-emu/tests/` (`teeth*.rs`). \
         \"Stricter\" marks rules the shipping ndis.sys does not check. \"Enforced in\" names the files (under \
         `crates/ndis-emu/src/`) whose code reports or checks the rule; the test \
         `every_rule_is_enforced_where_the_catalog_says` reads the sources to keep it true.\n\n\
         | id | statement | source | stricter | proving test | enforced in |\n|---|---|---|---|---|---|\n",
    );
    for rule in all() {
        let r = rule.info();
        let files: Vec<String> = enforced_in(rule).iter().map(|f| format!("`{f}`")).collect();
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | `{}` | {} |\n",
            r.id,
            r.statement,
            r.source,
            if r.stricter_than_windows { "yes" } else { "no" },
            r.proving_test,
            files.join(", ")
        ));
    }
    s.push_str(&crate::compliance::table_markdown());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_proving_tests_are_unique_across_areas() {
        let all = all();
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a.id(), b.id());
                assert_ne!(a.info().proving_test, b.info().proving_test);
            }
        }
    }
}
