//! Requests the driver pended and never completed.
//!
//! Every request a handler pends is owed exactly one completion (contract
//! §2, §8.4). Nothing may reach NDIS once MiniportHaltEx has returned
//! (`halt.nothing-after`), so a request still pended then can never be
//! completed: its requester (a client, or NDIS itself for a miniport OID)
//! waits for ever. On Windows NDIS does not even call MiniportHaltEx while an
//! OID request is outstanding (contract §1.4), and Driver Verifier's NDIS
//! rules NdisOidDoubleRequest and NdisTimedOidComplete report an OID left
//! pending. ndis-emu halts anyway when a test asks, so that the report names
//! every request left behind.
//!
//! An OID request also has a deadline: Driver Verifier's NdisTimedOidComplete
//! bug-checks a miniport that has not completed one within 12 seconds.
//! ndis-emu measures that on its virtual clock, which moves only when a test
//! runs timers, waits or calls `advance_time` (time does not pass inside a
//! handler), so a driver is held to it exactly when a test lets that much
//! time pass with the request pended. Call-manager requests have no
//! deadline: a make call waits for the callee client's answer, which may
//! take as long as the client likes. Proving tests: tests/teeth_cm.rs.

use ndis_sys::LONGLONG;

use super::{AfState, ReqKind};
use crate::world::sched::TICKS_PER_MS;
use crate::world::{self, World};

crate::define_rules! { PENDED:
    HALT_REQUESTS_COMPLETED, "halt.requests-completed", false, "§2, §1.4, §8.4; Driver Verifier NdisOidDoubleRequest, NdisTimedOidComplete", "halt_requests_completed_fires_on_a_cm_oid_never_completed",
        "Every request the driver pended (a call-manager request, a call-manager OID or a miniport OID) is completed before MiniportHaltEx returns: after that no completion may reach NDIS, and its requester would wait for ever.";
    OID_COMPLETES_IN_TIME, "oid.completes-in-time", true, "Driver Verifier NdisTimedOidComplete (12 s; DDI compliance rule for connectionless miniports); ndis-emu's virtual clock", "oid_completes_in_time_fires_after_twelve_seconds_pended",
        "An OID request the driver pended (MiniportCoOidRequest or ProtocolCoOidRequest) is completed within 12 seconds of system time, the limit Driver Verifier holds miniports to; measured on ndis-emu's virtual clock.";
}

/// Driver Verifier's NdisTimedOidComplete limit.
pub const OID_DEADLINE_MS: LONGLONG = 12_000;

/// When a pended OID request was first seen pended, and whether its
/// deadline was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Since {
    /// Which pend of the object this is ([`super::Requests::pend_serial`]).
    serial: u64,
    /// The virtual time it was pended at (100 ns units).
    at: LONGLONG,
    /// The deadline was reported (once per pend).
    reported: bool,
}

/// The virtual clock moved from `before` to `w.sched.now`: every OID request
/// pended now and not seen before was pended at `before` (time moves only
/// here, so nothing pended between two moves was pended at any other time);
/// one pended for longer than [`OID_DEADLINE_MS`] breaks
/// `oid.completes-in-time`, once.
pub(crate) fn clock_moved(w: &mut World, before: LONGLONG) {
    let now = w.sched.now();
    let pended: Vec<(ReqKind, usize, u64)> = w
        .condis
        .requests
        .pended()
        .filter(|(kind, _)| matches!(kind, ReqKind::CmOid | ReqKind::MiniportOid))
        .filter_map(|(kind, h)| w.condis.requests.pend_serial(kind, h).map(|serial| (kind, h, serial)))
        .collect();
    let requests = &mut w.condis.requests;
    requests.since.retain(|key, since| {
        pended
            .iter()
            .any(|(k, h, serial)| (*k, *h) == *key && *serial == since.serial)
    });
    let mut late = Vec::new();
    for (kind, h, serial) in pended {
        let since = requests.since.entry((kind, h)).or_insert(Since {
            serial,
            at: before,
            reported: false,
        });
        if !since.reported && now - since.at > OID_DEADLINE_MS * TICKS_PER_MS {
            since.reported = true;
            late.push((kind, h, (now - since.at) / TICKS_PER_MS));
        }
    }
    for (kind, h, ms) in late {
        w.violate(
            OID_COMPLETES_IN_TIME,
            kind.handler(),
            format!(
                "the request {h:#x} it pended has waited {ms} ms for {} (Driver Verifier's limit is {OID_DEADLINE_MS} ms)",
                kind.completion()
            ),
            &[h],
        );
    }
}

/// After MiniportHaltEx returned: reports each request still pended. A
/// pended close of an AF that is still open is `halt.afs-closed`'s, which
/// names that AF and why it is open: one fault is reported once.
pub(crate) fn check_requests_completed_at_halt() {
    world::try_with(|w| {
        let left: Vec<_> = w
            .condis
            .requests
            .pended()
            .filter(|(_, h)| w.condis.afs.get(h).is_none_or(|a| a.state == AfState::Closed))
            .collect();
        for (kind, h) in left {
            w.violate(
                HALT_REQUESTS_COMPLETED,
                "MiniportHaltEx",
                format!(
                    "{} pended the request on {h:#x} and HaltEx returned without {}",
                    kind.handler(),
                    kind.completion()
                ),
                &[h],
            );
        }
    });
}
