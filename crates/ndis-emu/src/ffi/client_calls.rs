//! NDIS's calls into a protocol driver acting as a CoNDIS client: its
//! ProtocolCl* completion handlers, where a scripted client's inbox would
//! have been written. `crate::ffi::cm` hands each completion of a driver
//! client's pended request here (the other half of the seam between the
//! two kinds of client, `crate::condis::ClientKind`); the driver client's
//! DDIs are `crate::ffi::client`.
//!
//! Delivered so far: ProtocolClOpenAfCompleteEx, ProtocolClCloseAfComplete,
//! ProtocolClRegisterSapComplete and ProtocolClDeregisterSapComplete. What it must not do: check a rule, or run a
//! scripted client's answer.

use ndis_sys::*;

use super::calls::{enter, leave};
use crate::condis::{ClientKind, DriverClient, ReqKind};
use crate::trace::Detail;
use crate::world::{self, World};

/// The driver client (and the ClientAfContext) behind request `(kind, h)`,
/// if a driver client made it. Read before the completion changes the
/// records.
pub(crate) fn driver_of(w: &World, kind: ReqKind, h: usize) -> Option<Delivery> {
    let (af, context, sap) = match kind {
        ReqKind::OpenAf | ReqKind::CloseAf => {
            let af = w.condis.afs.get(&h)?;
            (af, af.client_context, 0)
        }
        ReqKind::RegisterSap | ReqKind::DeregisterSap => {
            let sap = w.condis.saps.get(&h)?;
            (w.condis.afs.get(&sap.af)?, sap.client_context, sap.client_sap)
        }
        _ => return None,
    };
    match w.condis.clients.get(af.client)?.kind {
        ClientKind::Driver(d) => Some(Delivery {
            driver: d,
            context,
            sap,
        }),
        ClientKind::Scripted => None,
    }
}

/// What a completion for a driver client needs: its handlers, the context
/// it gave for the object, and (for a SAP) its CO_SAP's address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Delivery {
    driver: DriverClient,
    context: usize,
    sap: usize,
}

/// NDIS calls the driver client's completion handler for its pended request
/// `(kind, h)`, which the call manager completed with `status`, at the IRQL
/// of that completion.
pub(crate) fn deliver_completion(delivery: Delivery, kind: ReqKind, h: usize, status: NDIS_STATUS) {
    let Delivery {
        driver: d,
        context,
        sap,
    } = delivery;
    let irql = world::cpu("deliver_completion", |c| c.irql);
    match kind {
        ReqKind::OpenAf => {
            let Some(f) = d.handlers.ClOpenAfCompleteHandlerEx else {
                return;
            };
            let caller = enter("ProtocolClOpenAfCompleteEx", irql, Detail::status(status));
            // SAFETY: the driver's registered handler, with the
            // ClientAfContext it gave and the NdisAfHandle NDIS wrote for it.
            unsafe { f(context as NDIS_HANDLE, h as NDIS_HANDLE, status) };
            leave("ProtocolClOpenAfCompleteEx", caller, Detail::EMPTY);
        }
        ReqKind::CloseAf => {
            let Some(f) = d.handlers.ClCloseAfCompleteHandler else {
                return;
            };
            let caller = enter("ProtocolClCloseAfComplete", irql, Detail::status(status));
            // SAFETY: the driver's registered handler with its ClientAfContext.
            unsafe { f(status, context as NDIS_HANDLE) };
            leave("ProtocolClCloseAfComplete", caller, Detail::EMPTY);
        }
        ReqKind::RegisterSap => {
            let Some(f) = d.handlers.ClRegisterSapCompleteHandler else {
                return;
            };
            let caller = enter("ProtocolClRegisterSapComplete", irql, Detail::status(status));
            // SAFETY: the driver's registered handler, with its
            // ProtocolSapContext, the CO_SAP it registered (its memory, which
            // it keeps until this completion) and the NdisSapHandle.
            unsafe { f(status, context as NDIS_HANDLE, sap as PCO_SAP, h as NDIS_HANDLE) };
            leave("ProtocolClRegisterSapComplete", caller, Detail::EMPTY);
        }
        ReqKind::DeregisterSap => {
            let Some(f) = d.handlers.ClDeregisterSapCompleteHandler else {
                return;
            };
            let caller = enter("ProtocolClDeregisterSapComplete", irql, Detail::status(status));
            // SAFETY: the driver's registered handler with its ProtocolSapContext.
            unsafe { f(status, context as NDIS_HANDLE) };
            leave("ProtocolClDeregisterSapComplete", caller, Detail::EMPTY);
        }
        _ => {}
    }
}
