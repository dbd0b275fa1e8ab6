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
//! every request left behind. Proving test: tests/teeth_cm.rs.

use crate::world;

crate::define_rules! { PENDED:
    HALT_REQUESTS_COMPLETED, "halt.requests-completed", false, "§2, §1.4, §8.4; Driver Verifier NdisOidDoubleRequest, NdisTimedOidComplete", "halt_requests_completed_fires_on_a_cm_oid_never_completed",
        "Every request the driver pended (a call-manager request, a call-manager OID or a miniport OID) is completed before MiniportHaltEx returns: after that no completion may reach NDIS, and its requester would wait for ever.";
}

/// After MiniportHaltEx returned: reports each request still pended.
pub(crate) fn check_requests_completed_at_halt() {
    world::try_with(|w| {
        let left: Vec<_> = w.condis.requests.pended().collect();
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
