//! The one table of everything ndis-emu implements: (module, name) →
//! address. The host build of a driver links against the same functions by
//! symbol name; the PE loader binds a real image's imports through
//! [`resolve`]. A test checks the table covers every import ndis-sys
//! declares, so no function the driver may call is missing.

use std::sync::OnceLock;

use super::{
    bugcheck_callbacks, client, cm, data, deferred, etw, events, exports, io, lookaside, nbl, pnp, protocol,
    unimplemented,
};

/// One implemented import.
#[derive(Clone, Copy, Debug)]
pub struct Import {
    /// The module the driver imports it from (`ndis.sys`, `ntoskrnl.exe`).
    pub module: &'static str,
    /// The exported name.
    pub name: &'static str,
    /// The address of ndis-emu's implementation (an `extern "win64"` function).
    pub address: usize,
}

macro_rules! import {
    ($module:literal, $path:ident :: $name:ident) => {
        Import {
            module: $module,
            name: stringify!($name),
            address: ($path::$name as *const ()) as usize,
        }
    };
}

/// Every import ndis-emu provides.
pub fn table() -> &'static [Import] {
    static TABLE: OnceLock<Vec<Import>> = OnceLock::new();
    TABLE.get_or_init(|| {
        vec![
            import!("ndis.sys", exports::NdisMRegisterMiniportDriver),
            import!("ndis.sys", exports::NdisMDeregisterMiniportDriver),
            import!("ndis.sys", exports::NdisSetOptionalHandlers),
            import!("ndis.sys", protocol::NdisRegisterProtocolDriver),
            import!("ndis.sys", protocol::NdisDeregisterProtocolDriver),
            import!("ndis.sys", protocol::NdisOpenAdapterEx),
            import!("ndis.sys", protocol::NdisCloseAdapterEx),
            import!("ndis.sys", protocol::NdisCompleteBindAdapterEx),
            import!("ndis.sys", protocol::NdisCompleteUnbindAdapterEx),
            import!("ndis.sys", client::NdisClOpenAddressFamilyEx),
            import!("ndis.sys", client::NdisClCloseAddressFamily),
            import!("ndis.sys", client::NdisClRegisterSap),
            import!("ndis.sys", client::NdisClDeregisterSap),
            import!("ndis.sys", client::NdisCoCreateVc),
            import!("ndis.sys", client::NdisCoDeleteVc),
            import!("ndis.sys", exports::NdisMSetMiniportAttributes),
            import!("ndis.sys", exports::NdisMCmRegisterAddressFamilyEx),
            import!("ndis.sys", exports::NdisGetVersion),
            import!("ndis.sys", exports::NdisOpenConfigurationEx),
            import!("ndis.sys", exports::NdisReadConfiguration),
            import!("ndis.sys", exports::NdisCloseConfiguration),
            import!("ndis.sys", cm::NdisMCmCreateVc),
            import!("ndis.sys", cm::NdisMCmDeleteVc),
            import!("ndis.sys", cm::NdisMCmActivateVc),
            import!("ndis.sys", cm::NdisMCmDeactivateVc),
            import!("ndis.sys", cm::NdisMCmOidRequest),
            import!("ndis.sys", cm::NdisCmOpenAddressFamilyComplete),
            import!("ndis.sys", cm::NdisCmCloseAddressFamilyComplete),
            import!("ndis.sys", cm::NdisCmNotifyCloseAddressFamily),
            import!("ndis.sys", cm::NdisCmRegisterSapComplete),
            import!("ndis.sys", cm::NdisCmDeregisterSapComplete),
            import!("ndis.sys", cm::NdisCmMakeCallComplete),
            import!("ndis.sys", cm::NdisCmCloseCallComplete),
            import!("ndis.sys", cm::NdisCmAddPartyComplete),
            import!("ndis.sys", cm::NdisCmDropPartyComplete),
            import!("ndis.sys", cm::NdisCmDispatchIncomingCall),
            import!("ndis.sys", cm::NdisCmDispatchCallConnected),
            import!("ndis.sys", cm::NdisCmModifyCallQoSComplete),
            import!("ndis.sys", cm::NdisCmDispatchIncomingCallQoSChange),
            import!("ndis.sys", cm::NdisCmDispatchIncomingCloseCall),
            import!("ndis.sys", cm::NdisCmDispatchIncomingDropParty),
            import!("ndis.sys", cm::NdisCoOidRequestComplete),
            import!("ndis.sys", unimplemented::NdisMCoActivateVcComplete),
            import!("ndis.sys", unimplemented::NdisMCoDeactivateVcComplete),
            import!("ndis.sys", data::NdisMCoSendNetBufferListsComplete),
            import!("ndis.sys", data::NdisMCoIndicateReceiveNetBufferLists),
            import!("ndis.sys", cm::NdisMCoIndicateStatusEx),
            import!("ndis.sys", cm::NdisMCoOidRequestComplete),
            import!("ndis.sys", data::NdisMSendNetBufferListsComplete),
            import!("ndis.sys", exports::NdisAllocateMemoryWithTagPriority),
            import!("ndis.sys", exports::NdisFreeMemoryWithTagPriority),
            import!("ndis.sys", deferred::NdisAllocateIoWorkItem),
            import!("ndis.sys", deferred::NdisQueueIoWorkItem),
            import!("ndis.sys", deferred::NdisFreeIoWorkItem),
            import!("ndis.sys", deferred::NdisAllocateTimerObject),
            import!("ndis.sys", deferred::NdisSetTimerObject),
            import!("ndis.sys", deferred::NdisCancelTimerObject),
            import!("ndis.sys", deferred::NdisFreeTimerObject),
            import!("ndis.sys", nbl::NdisAllocateNetBufferListPool),
            import!("ndis.sys", nbl::NdisFreeNetBufferListPool),
            import!("ndis.sys", nbl::NdisAllocateNetBufferAndNetBufferList),
            import!("ndis.sys", nbl::NdisAllocateNetBufferList),
            import!("ndis.sys", nbl::NdisFreeNetBufferList),
            import!("ndis.sys", events::NdisInitializeEvent),
            import!("ndis.sys", events::NdisSetEvent),
            import!("ndis.sys", events::NdisResetEvent),
            import!("ndis.sys", events::NdisWaitEvent),
            import!("ntoskrnl.exe", lookaside::ExInitializeNPagedLookasideList),
            import!("ntoskrnl.exe", lookaside::ExDeleteNPagedLookasideList),
            import!("ntoskrnl.exe", lookaside::ExpInterlockedPopEntrySList),
            import!("ntoskrnl.exe", lookaside::ExpInterlockedPushEntrySList),
            import!("ntoskrnl.exe", lookaside::ExQueryDepthSList),
            import!("ntoskrnl.exe", exports::KeAcquireSpinLockRaiseToDpc),
            import!("ntoskrnl.exe", exports::KeReleaseSpinLock),
            import!("ntoskrnl.exe", exports::KeAcquireSpinLockAtDpcLevel),
            import!("ntoskrnl.exe", exports::KeReleaseSpinLockFromDpcLevel),
            import!("ntoskrnl.exe", exports::KeBugCheckEx),
            import!("ntoskrnl.exe", exports::DbgPrintEx),
            import!("ntoskrnl.exe", etw::EtwRegister),
            import!("ntoskrnl.exe", etw::EtwUnregister),
            import!("ntoskrnl.exe", etw::EtwSetInformation),
            import!("ntoskrnl.exe", etw::EtwWriteTransfer),
            import!("ntoskrnl.exe", bugcheck_callbacks::KeQueryInterruptTimePrecise),
            import!("ntoskrnl.exe", bugcheck_callbacks::KeGetCurrentProcessorNumberEx),
            import!("ntoskrnl.exe", bugcheck_callbacks::KeRegisterBugCheckReasonCallback),
            import!("ntoskrnl.exe", bugcheck_callbacks::KeDeregisterBugCheckReasonCallback),
            // Pause and restart mid-run (crate::pause).
            import!("ndis.sys", pnp::NdisMPauseComplete),
            // A control device (crate::io).
            import!("ndis.sys", io::NdisRegisterDeviceEx),
            import!("ndis.sys", io::NdisDeregisterDeviceEx),
            import!("ntoskrnl.exe", io::IofCompleteRequest),
            import!("ntoskrnl.exe", io::IoReleaseCancelSpinLock),
            import!("ntoskrnl.exe", io::IoAcquireCancelSpinLock),
        ]
    })
}

/// The address of `module!name`, if ndis-emu implements it (module names
/// compare case-insensitively, as the Windows loader does).
#[must_use]
pub fn resolve(module: &str, name: &str) -> Option<usize> {
    table()
        .iter()
        .find(|i| i.module.eq_ignore_ascii_case(module) && i.name == name)
        .map(|i| i.address)
}

#[cfg(test)]
// The header's parameter names, kept so each type reads like its ndis.h line.
#[allow(non_snake_case)]
mod tests {
    use ndis_sys::*;

    use super::*;
    use crate::ffi::deferred::{
        NdisAllocateTimerObject, NdisCancelTimerObject, NdisFreeTimerObject, NdisSetTimerObject,
    };

    ndis_sys::ndis_abi_fn_types! {
        /// NdisSetTimerObject as WDK 10.0.17763 and 10.0.22621 km/ndis.h declare it.
        type SetTimerObject = fn(TimerObject: NDIS_HANDLE, DueTime: LARGE_INTEGER, MillisecondsPeriod: LONG, FunctionContext: PVOID) -> BOOLEAN;
        /// NdisAllocateTimerObject, as above.
        type AllocateTimerObject = fn(NdisHandle: NDIS_HANDLE, TimerCharacteristics: PNDIS_TIMER_CHARACTERISTICS, pTimerObject: PNDIS_HANDLE) -> NDIS_STATUS;
        /// NdisCancelTimerObject, as above.
        type CancelTimerObject = fn(TimerObject: NDIS_HANDLE) -> BOOLEAN;
        /// NdisFreeTimerObject, as above.
        type FreeTimerObject = fn(TimerObject: NDIS_HANDLE);
    }

    /// ndis-emu's timer exports have the header's types (the definitions the
    /// driver's calls land on: the host build binds by name only, so an
    /// emulator taking `MillisecondsPeriod` as a ULONG would read -1 as a
    /// 49-day period), and they are what the import table hands the loader.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri gives each cast of a fn item to a pointer its own address (fn pointer identity is not guaranteed), so the table's address and the test's never compare equal there; the signatures themselves are checked at compile time by the casts"
    )]
    fn the_timer_exports_have_the_wdk_signatures() {
        let ours: [(&str, usize); 4] = [
            (
                "NdisAllocateTimerObject",
                NdisAllocateTimerObject as AllocateTimerObject as usize,
            ),
            ("NdisSetTimerObject", NdisSetTimerObject as SetTimerObject as usize),
            (
                "NdisCancelTimerObject",
                NdisCancelTimerObject as CancelTimerObject as usize,
            ),
            ("NdisFreeTimerObject", NdisFreeTimerObject as FreeTimerObject as usize),
        ];
        for (name, address) in ours {
            assert_eq!(resolve("ndis.sys", name), Some(address), "{name}");
        }
    }
}
