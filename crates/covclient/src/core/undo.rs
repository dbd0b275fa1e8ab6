//! The undo order ([`Core::cleanup_next`] for IRP_MJ_CLEANUP,
//! [`Core::unbind_next`] for ProtocolUnbindAdapterEx) and the call
//! manager's close of a control device open's AF ([`Core::cm_close_af`]).
//!
//! Owns: which object to undo next, in the contract's order (answer pended
//! calls by rejecting them, close calls, delete the client's VCs,
//! deregister SAPs, close AFs), and the arrow it applies. Must not: make
//! NDIS calls (the glue makes each and reports it with `Core::returned`).

use covclient_abi::{CloseData, Handle};

use super::state::{AfEvent, AfState, SapEvent, SapState, VcEvent, VcState};
use super::{Core, FileId, NdisCall, Origin, bad_handle, ntstatus::*};

/// Which objects an undo covers.
#[derive(Clone, Copy)]
enum Scope {
    /// Those `file` owns (cleanup), its AFs included.
    File(FileId),
    /// Those on the adapter's AFs (unbind), the opens' AFs included and
    /// the binding's own AF (owner `None`) left to the binding.
    Adapter(Handle),
}

impl Core {
    /// Is the AF `af` in `scope` for an object owned by `owner`?
    fn in_scope(&self, scope: Scope, owner: Option<FileId>, af: Handle) -> bool {
        match scope {
            Scope::File(f) => owner == Some(f),
            Scope::Adapter(a) => self.afs.get(af, None).is_ok_and(|x| x.adapter == a),
        }
    }

    /// IRP_MJ_CLEANUP: the next NDIS call that undoes something `file`
    /// owns, its arrow applied; `None` when nothing is left that can be
    /// undone now (what remains has a call in flight, whose completion
    /// frees it). The glue makes each call and reports it with
    /// [`Core::returned`] (into a scratch output), then asks again.
    pub fn cleanup_next(&mut self, file: FileId) -> Option<NdisCall> {
        self.undo_next(Scope::File(file))
    }

    /// ProtocolUnbindAdapterEx: the next NDIS call that undoes an object on
    /// `adapter`'s AFs (whoever owns it), the opens' AFs closed last; the
    /// binding's own AF is left to the binding, which closes it after.
    /// `None` when nothing can be undone now; [`Self::adapter_busy`] says
    /// whether calls are still in flight.
    pub fn unbind_next(&mut self, adapter: Handle) -> Option<NdisCall> {
        self.undo_next(Scope::Adapter(adapter))
    }

    /// Are objects of the opens still on `adapter`'s AFs (a call in flight,
    /// or an open's AF)? The unbind waits until not.
    #[must_use]
    pub fn adapter_busy(&self, adapter: Handle) -> bool {
        let on = |af: Handle| self.afs.get(af, None).is_ok_and(|a| a.adapter == adapter);
        self.vcs.iter().any(|(_, _, v)| on(v.af) && v.origin == Origin::Client)
            || self.saps.iter().any(|(_, _, s)| on(s.af))
            || self.afs.iter().any(|(_, o, a)| o.is_some() && a.adapter == adapter)
    }

    fn undo_next(&mut self, scope: Scope) -> Option<NdisCall> {
        let pick = |me: &Self, want: &dyn Fn(VcState, Origin) -> bool| {
            me.vcs
                .iter()
                .find(|(_, o, v)| me.in_scope(scope, *o, v.af) && want(v.state, v.origin))
                .map(|(h, o, _)| (h, o))
        };
        if let Some((vc, o)) = pick(self, &|s, _| s == VcState::Pended) {
            let status = ndis_sys::NDIS_STATUS_FAILURE as u32;
            let _ = self.vc_on(o, vc, VcEvent::Reject);
            return Some(NdisCall::IncomingCallComplete { vc, status });
        }
        if let Some((vc, o)) = pick(self, &|s, _| matches!(s, VcState::Connected | VcState::PeerClosed)) {
            let _ = self.vc_on(o, vc, VcEvent::CloseCall);
            return Some(NdisCall::CloseCall {
                vc,
                party: None,
                data: CloseData::EMPTY,
            });
        }
        if let Some((vc, o)) = pick(self, &|s, origin| s == VcState::Idle && origin == Origin::Client) {
            let _ = self.vc_on(o, vc, VcEvent::Delete);
            return Some(NdisCall::DeleteVc(vc));
        }
        let sap = self
            .saps
            .iter()
            .find(|(_, o, s)| self.in_scope(scope, *o, s.af) && s.state == SapState::Registered)
            .map(|(h, o, _)| (h, o));
        if let Some((sap, o)) = sap {
            let _ = self.sap_on(o, sap, SapEvent::Deregister);
            return Some(NdisCall::DeregisterSap(sap));
        }
        let af = self
            .afs
            .iter()
            .find(|(h, o, a)| {
                o.is_some() && self.in_scope(scope, *o, *h) && a.state == AfState::Open && !self.af_has_children(*h)
            })
            .map(|(h, ..)| h);
        let af = af?;
        let _ = self.af_on(af, AfEvent::Close);
        Some(NdisCall::CloseAf(af))
    }

    /// Does `af` still have SAPs or VCs (any owner)? A call manager's close
    /// of it is failed while it has (the glue asks before closing).
    #[must_use]
    pub fn af_has_children(&self, af: Handle) -> bool {
        self.vcs.iter().any(|(_, _, v)| v.af == af) || self.saps.iter().any(|(_, _, s)| s.af == af)
    }

    /// ProtocolClNotifyCloseAf for an open's AF: CLOSING if it has no SAP
    /// or VC left (the glue then closes it); refused otherwise
    /// (STATUS_INVALID_DEVICE_STATE: the glue fails the notification, and
    /// the open's cleanup or the unbind closes the AF after its children).
    ///
    /// # Errors
    /// STATUS_INVALID_HANDLE for an AF the core does not hold;
    /// STATUS_INVALID_DEVICE_STATE as above or when not open.
    pub fn cm_close_af(&mut self, af: Handle) -> Result<(), u32> {
        self.afs.get(af, None).map_err(bad_handle)?;
        if self.af_has_children(af) {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        self.af_on(af, AfEvent::Close)
    }
}
