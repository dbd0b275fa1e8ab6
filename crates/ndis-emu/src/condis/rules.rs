//! The CoNDIS rules: completion discipline, the two seed pages'
//! make-call and close-call rules, VC ownership and activation, incoming-call
//! sequencing, and AF teardown at halt. Proving tests: tests/teeth_cm.rs.
//!
//! It declares the rules; their checks sit beside it, one file per part of
//! CoNDIS (`complete`, `mcm`, `client_requests`, `data`, `window`,
//! `pended`), and the check at halt that every AF is closed is here
//! (`check_afs_closed_at_halt`). RULES.md's "enforced in" column names
//! each rule's files. What this module must not do: call into the driver.

use ndis_sys::*;

use super::AfState;
use crate::world;

crate::define_rules! { CONDIS:
    COMPLETE_NOT_PENDING, "cm.complete-not-pending", false, "§2 [D]; seed pages (_S_)", "complete_not_pending_fires_on_a_pending_completion",
        "No NdisCm*/NdisMCm* completion is given NDIS_STATUS_PENDING as its status.";
    COMPLETE_ONLY_PENDED, "cm.complete-only-pended", false, "§2.3, §8.4", "complete_only_pended_fires_on_completing_a_synchronous_request",
        "A call manager calls NdisMCm*Complete only for a request whose handler returned PENDING, and exactly once: a non-PENDING return means NDIS already completed it.";
    VC_HANDLERS_NEVER_PEND, "cm.vc-handlers-never-pend", false, "§2.1, §8.5", "vc_handlers_never_pend_fires_on_a_pending_create_vc",
        "ProtocolCoCreateVc and ProtocolCoDeleteVc never return NDIS_STATUS_PENDING.";
    CALL_SUCCESS_NEEDS_ACTIVE_VC, "call.success-needs-active-vc", false, "seed NdisMCmMakeCallComplete; §3.3, §8.6", "call_success_needs_active_vc_fires_without_activation",
        "A make call completes with NDIS_STATUS_SUCCESS only after NdisMCmActivateVc on its VC.";
    CALL_FAILURE_LEAVES_VC_INACTIVE, "call.failure-leaves-vc-inactive", false, "seed NdisMCmMakeCallComplete; §3.3 [B], §8.6", "call_failure_leaves_vc_inactive_fires_on_a_failed_call_left_active",
        "A make call that fails leaves its VC deactivated (else the client's NdisCoDeleteVc fails with NOT_ACCEPTED and the VC leaks).";
    CALL_PARTY_CONTEXT, "call.party-context", false, "§3.3, §3.4", "call_party_context_fires_on_a_party_context_for_a_point_to_point_call",
        "A point-to-point make call leaves *CallMgrPartyContext NULL; a successful multipoint make call or add party returns a non-NULL party context.";
    VC_ACTIVATE_NEEDS_MEDIA_PARAMETERS, "vc.activate-needs-media-parameters", false, "§3.3 [B], §8.7", "vc_activate_needs_media_parameters_fires_on_null_media",
        "NdisMCmActivateVc gets call parameters with a non-NULL MediaParameters (ndis.sys dereferences it).";
    VC_ONLY_CREATOR_DELETES, "vc.only-creator-deletes", false, "§3.3, §8.7", "vc_only_creator_deletes_fires_on_deleting_a_client_vc",
        "NdisMCmDeleteVc deletes only VCs the call manager created with NdisMCmCreateVc.";
    VC_DEACTIVATED_BEFORE_DELETE, "vc.deactivated-before-delete", false, "seed NdisMCmCloseCallComplete; §3.3 [B]", "vc_deactivated_before_delete_fires_on_close_without_deactivation",
        "A VC is deactivated before it is deleted: NdisMCmDeleteVc on an active VC, or a closed call whose VC is still active when the client deletes it, breaks this.";
    VC_CREATE_ON_OPEN_AF, "vc.create-on-open-af", false, "§3.1", "vc_create_on_open_af_fires_on_a_null_af",
        "NdisMCmCreateVc names an open NdisAfHandle and an out handle initialised to NULL. Allowed race (NDIS refuses the VC with FAILURE, no violation): an AF whose close is under way but not complete, since the MCM may have begun the offer that creates the VC before the client's NdisClCloseAddressFamily reached it (and may hold that close pending for the offer).";
    INCOMING_SAP_REGISTERED, "incoming.sap-registered", false, "§3.2, §3.3, §8.8; NdisCmDeregisterSapComplete [D] (\"The call manager should consider the NdisSapHandle invalid when NdisCmDeregisterSapComplete returns control\")", "incoming_sap_registered_fires_on_a_deregistered_sap",
        "NdisMCmDispatchIncomingCall names a SAP whose registration did not fail and whose deregistration has not completed, on an AF whose close has not completed. Allowed race: an offer crossing the client's NdisClDeregisterSap (the SAP is deregistering, the call manager has not completed it), since the SAP handle stays valid for the call manager until it completes the deregistration.";
    INCOMING_VC_CREATED_AND_ACTIVE, "incoming.vc-created-and-active", false, "§3.3, §8.8", "incoming_vc_created_and_active_fires_on_an_inactive_vc",
        "NdisMCmDispatchIncomingCall offers a VC the call manager created and activated, on the SAP's AF, with no call on it.";
    INCOMING_CONNECTED_AFTER_ACCEPT, "incoming.connected-after-accept", true, "§3.3, §8.8", "incoming_connected_after_accept_fires_on_a_rejected_call",
        "NdisMCmDispatchCallConnected follows a successful ProtocolCmIncomingCallComplete, once. Allowed race: the client's NdisClCloseCall of the accepted call crossing it (NdisClCloseCall marks the VC closing before the call manager hears of it).";
    CLOSE_INCOMING_ON_A_CALL, "close.incoming-on-a-call", true, "§3.3; NdisMCmDispatchIncomingCloseCall [D] (\"tear down an active or offered call\"); NdisClCloseCall [D] (\"causes NDIS to mark the NdisVcHandle as closing and to call the CM's ProtocolCmCloseCall\")", "close_incoming_on_a_call_fires_on_an_idle_vc",
        "NdisMCmDispatchIncomingCloseCall names a VC that carries a call: outgoing, offered, accepted, connected, or being closed by its own client; never one with no call yet or whose close completed. Allowed races: both ends closing at once, and a multipoint root's close crossing a leaf's (the client's NdisClCloseCall marks its VC closing before the call manager hears of it, so the call manager cannot avoid telling it its peer hung up meanwhile).";
    PARTY_INCOMING_DROP_NOT_LAST, "party.incoming-drop-not-last", false, "§3.4", "party_incoming_drop_not_last_fires_on_the_last_party",
        "NdisMCmDispatchIncomingDropParty names a party of a call with other parties left; the last party goes with NdisMCmDispatchIncomingCloseCall.";
    OID_COMPLETION_MATCHES_PATH, "oid.completion-matches-path", true, "§2.1, §2.2", "oid_completion_matches_path_fires_on_the_miniport_completion_of_a_cm_request",
        "A request ProtocolCoOidRequest pended completes with NdisMCmOidRequestComplete (NdisCoOidRequestComplete); one MiniportCoOidRequest pended completes with NdisMCoOidRequestComplete.";
    OID_BYTES_WITHIN_BUFFER, "oid.bytes-within-buffer", false, "NDIS_OID_REQUEST, MiniportCoOidRequest [D]", "oid_bytes_within_buffer_fires_on_overstated_bytes_written",
        "An OID request reports BytesWritten/BytesRead within InformationBufferLength; when it fails with BUFFER_TOO_SHORT, BytesNeeded above it, and with INVALID_LENGTH, BytesNeeded other than it (a set may be refused for being longer than its structure).";
    STATUS_INDICATION_VALID, "status.indication-valid", false, "§2.2, NDIS_STATUS_INDICATION [D]", "status_indication_valid_fires_on_a_foreign_source_handle",
        "NdisMCoIndicateStatusEx comes after the registration attributes, with an NDIS_STATUS_INDICATION header (0x98, revision 1, size >= 112) whose SourceHandle is the miniport adapter handle, for the adapter or one of its VCs.";
    MCM_REQUEST_ON_OPEN_AF, "af.mcm-request-on-open-af", false, "§3.1", "mcm_request_on_open_af_fires_on_an_oid_to_a_closed_af",
        "NdisMCmOidRequest names an open AF (and, if given, a VC of it) and carries a valid NDIS_OID_REQUEST header.";
    DATA_SEND_COMPLETE_ONCE, "data.send-complete-once", false, "§2.2, §8.9", "data_send_complete_once_fires_on_a_double_completion",
        "NdisMCoSendNetBufferListsComplete completes only NBLs sent to the driver on that VC and not completed yet: every NBL exactly once.";
    DATA_SEND_STATUS, "data.send-status", false, "§2.2", "data_send_status_fires_on_an_unset_status",
        "Every NBL a miniport completes carries its final Status (never left unset, never PENDING).";
    DATA_RECEIVE_VALID, "data.receive-valid", false, "§2.2, §3.3, §8.9", "data_receive_valid_fires_on_a_foreign_source_handle",
        "NdisMCoIndicateReceiveNetBufferLists indicates, on an active VC, the driver's own NBLs, each with SourceHandle = the NdisVcHandle, NumberOfNetBufferLists counting them.";
    DATA_DRAIN_BEFORE_DEACTIVATE, "data.drain-before-deactivate", false, "§3.3 [D]", "data_drain_before_deactivate_fires_with_a_send_held",
        "Before NdisMCmDeactivateVc, every send the driver has on the VC is completed and every indicated receive returned; a send handler does not return holding a send on a VC that is not active. A send whose handler runs on another CPU and has not yet come back from a DDI call is still NDIS's (condis/window.rs, \"NDIS's window\").";
    HALT_AFS_CLOSED, "halt.afs-closed", false, "§1.4, §8.10", "halt_afs_closed_fires_when_halt_forgets_notify_close",
        "Every AF clients opened is closed before MiniportHaltEx returns (the MCM calls NdisMCmNotifyCloseAddressFamily for each one still open).";
}

/// After MiniportHaltEx returned: every AF must be closed (contract §1.4).
pub(crate) fn check_afs_closed_at_halt() {
    world::try_with(|w| {
        let open: Vec<usize> = w
            .condis
            .afs
            .iter()
            .filter(|(_, a)| a.state != AfState::Closed)
            .map(|(h, _)| *h)
            .collect();
        for h in open {
            let why = match w.condis.afs.get(&h) {
                Some(a) if a.notify_close_pending => {
                    ": its client's ProtocolClNotifyCloseAf pended, and HaltEx returned without waiting for \
                     ProtocolCmNotifyCloseAfComplete (on Windows the client's close then runs on freed contexts)"
                }
                Some(a) if a.state == AfState::Closing => {
                    ": its close pended, and HaltEx returned without waiting for it to complete \
                     (NdisMCmCloseAddressFamilyComplete) while its client removed what it left"
                }
                _ => "",
            };
            w.violate(
                HALT_AFS_CLOSED,
                "MiniportHaltEx",
                format!("AF {h:#x} is still open after HaltEx returned{why}"),
                &[h],
            );
        }
    });
}

/// A Status the driver must overwrite before completing a send: the
/// emulator stores it in every NBL it sends, so an unset Status is visible.
pub(crate) const STATUS_NOT_SET: NDIS_STATUS = NDIS_STATUS_PENDING;
