//! DDIs the driver may import that ndis-emu does not implement yet.
//!
//! Each is defined, so the host build links and the PE loader can bind every
//! name, but a call records `emu.unimplemented-ddi` (failing the run), says so
//! on stderr at once, and returns a failure status or NULL: never a silent
//! success. The call-manager, data-path, work-item, timer and NBL-pool DDIs
//! arrive with the emulator's call paths (issue #3).

use ndis_sys::*;

use crate::rules;
use crate::world;

fn unimplemented_ddi(name: &'static str) {
    eprintln!("ndis-emu: the driver called {name}, which ndis-emu does not implement yet");
    world::with(name, |w| {
        w.event("=>", name, "NOT IMPLEMENTED");
        w.violate(
            rules::UNIMPLEMENTED_DDI,
            name,
            format!("{name} is not implemented by ndis-emu"),
            &[],
        );
    });
}

macro_rules! unimplemented_ddis {
    ($(fn $name:ident($($a:ident: $t:ty),* $(,)?) $(-> $r:ty = $default:expr)?;)*) => {
        $(
            ndis_fn! {
                #[doc = concat!("`", stringify!($name), "`: not implemented yet (records `emu.unimplemented-ddi`).")]
                #[unsafe(no_mangle)]
                pub unsafe fn $name($($a: $t),*) $(-> $r)? {
                    $(let _ = $a;)*
                    unimplemented_ddi(stringify!($name));
                    $($default)?
                }
            }
        )*
    };
}

unimplemented_ddis! {
    fn NdisMCmCreateVc(a: NDIS_HANDLE, af: NDIS_HANDLE, ctx: NDIS_HANDLE, vc: PNDIS_HANDLE) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisMCmDeleteVc(vc: NDIS_HANDLE) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisMCmActivateVc(vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisMCmDeactivateVc(vc: NDIS_HANDLE) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisMCmOidRequest(af: NDIS_HANDLE, vc: NDIS_HANDLE, party: NDIS_HANDLE, r: PNDIS_OID_REQUEST) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisCmOpenAddressFamilyComplete(s: NDIS_STATUS, af: NDIS_HANDLE, ctx: NDIS_HANDLE);
    fn NdisCmCloseAddressFamilyComplete(s: NDIS_STATUS, af: NDIS_HANDLE);
    fn NdisCmNotifyCloseAddressFamily(af: NDIS_HANDLE) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisCmRegisterSapComplete(s: NDIS_STATUS, sap: NDIS_HANDLE, ctx: NDIS_HANDLE);
    fn NdisCmDeregisterSapComplete(s: NDIS_STATUS, sap: NDIS_HANDLE);
    fn NdisCmMakeCallComplete(s: NDIS_STATUS, vc: NDIS_HANDLE, party: NDIS_HANDLE, ctx: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS);
    fn NdisCmCloseCallComplete(s: NDIS_STATUS, vc: NDIS_HANDLE, party: NDIS_HANDLE);
    fn NdisCmAddPartyComplete(s: NDIS_STATUS, party: NDIS_HANDLE, ctx: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS);
    fn NdisCmDropPartyComplete(s: NDIS_STATUS, party: NDIS_HANDLE);
    fn NdisCmDispatchIncomingCall(sap: NDIS_HANDLE, vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisCmDispatchCallConnected(vc: NDIS_HANDLE);
    fn NdisCmModifyCallQoSComplete(s: NDIS_STATUS, vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS);
    fn NdisCmDispatchIncomingCallQoSChange(vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS);
    fn NdisCmDispatchIncomingCloseCall(s: NDIS_STATUS, vc: NDIS_HANDLE, buf: PVOID, size: UINT);
    fn NdisCmDispatchIncomingDropParty(s: NDIS_STATUS, party: NDIS_HANDLE, buf: PVOID, size: UINT);
    fn NdisCoOidRequestComplete(af: NDIS_HANDLE, vc: NDIS_HANDLE, party: NDIS_HANDLE, r: PNDIS_OID_REQUEST, s: NDIS_STATUS);
    fn NdisMCoActivateVcComplete(s: NDIS_STATUS, vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS);
    fn NdisMCoDeactivateVcComplete(s: NDIS_STATUS, vc: NDIS_HANDLE);
    fn NdisMCoSendNetBufferListsComplete(vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG);
    fn NdisMCoIndicateReceiveNetBufferLists(vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, n: ULONG, flags: ULONG);
    fn NdisMCoIndicateStatusEx(a: NDIS_HANDLE, vc: NDIS_HANDLE, s: PNDIS_STATUS_INDICATION);
    fn NdisMCoOidRequestComplete(a: NDIS_HANDLE, vc: NDIS_HANDLE, r: PNDIS_OID_REQUEST, s: NDIS_STATUS);
    fn NdisMSendNetBufferListsComplete(a: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG);
    fn NdisAllocateIoWorkItem(h: NDIS_HANDLE) -> NDIS_HANDLE = core::ptr::null_mut();
    fn NdisQueueIoWorkItem(h: NDIS_HANDLE, routine: NDIS_IO_WORKITEM_ROUTINE, ctx: PVOID);
    fn NdisFreeIoWorkItem(h: NDIS_HANDLE);
    fn NdisAllocateTimerObject(h: NDIS_HANDLE, c: PNDIS_TIMER_CHARACTERISTICS, t: PNDIS_HANDLE) -> NDIS_STATUS = NDIS_STATUS_FAILURE;
    fn NdisSetTimerObject(t: NDIS_HANDLE, due: LARGE_INTEGER, period: ULONG, ctx: PVOID) -> BOOLEAN = FALSE;
    fn NdisCancelTimerObject(t: NDIS_HANDLE) -> BOOLEAN = FALSE;
    fn NdisFreeTimerObject(t: NDIS_HANDLE);
    fn NdisAllocateNetBufferListPool(h: NDIS_HANDLE, p: PNET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE = core::ptr::null_mut();
    fn NdisFreeNetBufferListPool(p: NDIS_HANDLE);
    fn NdisAllocateNetBufferAndNetBufferList(p: NDIS_HANDLE, cs: USHORT, cb: USHORT, mdl: PMDL, off: ULONG, len: SIZE_T) -> PNET_BUFFER_LIST = core::ptr::null_mut();
    fn NdisAllocateNetBufferList(p: NDIS_HANDLE, cs: USHORT, cb: USHORT) -> PNET_BUFFER_LIST = core::ptr::null_mut();
    fn NdisFreeNetBufferList(nbl: PNET_BUFFER_LIST);
    fn ExInitializeNPagedLookasideList(l: PNPAGED_LOOKASIDE_LIST, a: Option<PALLOCATE_FUNCTION>, f: Option<PFREE_FUNCTION>, flags: ULONG, size: SIZE_T, tag: ULONG, depth: USHORT);
    fn ExDeleteNPagedLookasideList(l: PNPAGED_LOOKASIDE_LIST);
    fn ExpInterlockedPopEntrySList(h: PSLIST_HEADER) -> PSLIST_ENTRY = core::ptr::null_mut();
    fn ExpInterlockedPushEntrySList(h: PSLIST_HEADER, e: PSLIST_ENTRY) -> PSLIST_ENTRY = core::ptr::null_mut();
    fn ExQueryDepthSList(h: PSLIST_HEADER) -> USHORT = 0;
}
