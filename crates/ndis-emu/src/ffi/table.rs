//! The one table of everything ndis-emu implements: (module, name) →
//! address. The host build of a driver links against the same functions by
//! symbol name; the PE loader binds a real image's imports through
//! [`resolve`]. A test checks the table covers every import ndis-sys
//! declares, so no function the driver may call is missing.

use std::sync::OnceLock;

use super::{exports, unimplemented};

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
            import!("ndis.sys", exports::NdisMSetMiniportAttributes),
            import!("ndis.sys", exports::NdisMCmRegisterAddressFamilyEx),
            import!("ndis.sys", exports::NdisGetVersion),
            import!("ndis.sys", unimplemented::NdisMCmCreateVc),
            import!("ndis.sys", unimplemented::NdisMCmDeleteVc),
            import!("ndis.sys", unimplemented::NdisMCmActivateVc),
            import!("ndis.sys", unimplemented::NdisMCmDeactivateVc),
            import!("ndis.sys", unimplemented::NdisMCmOidRequest),
            import!("ndis.sys", unimplemented::NdisCmOpenAddressFamilyComplete),
            import!("ndis.sys", unimplemented::NdisCmCloseAddressFamilyComplete),
            import!("ndis.sys", unimplemented::NdisCmNotifyCloseAddressFamily),
            import!("ndis.sys", unimplemented::NdisCmRegisterSapComplete),
            import!("ndis.sys", unimplemented::NdisCmDeregisterSapComplete),
            import!("ndis.sys", unimplemented::NdisCmMakeCallComplete),
            import!("ndis.sys", unimplemented::NdisCmCloseCallComplete),
            import!("ndis.sys", unimplemented::NdisCmAddPartyComplete),
            import!("ndis.sys", unimplemented::NdisCmDropPartyComplete),
            import!("ndis.sys", unimplemented::NdisCmDispatchIncomingCall),
            import!("ndis.sys", unimplemented::NdisCmDispatchCallConnected),
            import!("ndis.sys", unimplemented::NdisCmModifyCallQoSComplete),
            import!("ndis.sys", unimplemented::NdisCmDispatchIncomingCallQoSChange),
            import!("ndis.sys", unimplemented::NdisCmDispatchIncomingCloseCall),
            import!("ndis.sys", unimplemented::NdisCmDispatchIncomingDropParty),
            import!("ndis.sys", unimplemented::NdisCoOidRequestComplete),
            import!("ndis.sys", unimplemented::NdisMCoActivateVcComplete),
            import!("ndis.sys", unimplemented::NdisMCoDeactivateVcComplete),
            import!("ndis.sys", unimplemented::NdisMCoSendNetBufferListsComplete),
            import!("ndis.sys", unimplemented::NdisMCoIndicateReceiveNetBufferLists),
            import!("ndis.sys", unimplemented::NdisMCoIndicateStatusEx),
            import!("ndis.sys", unimplemented::NdisMCoOidRequestComplete),
            import!("ndis.sys", unimplemented::NdisMSendNetBufferListsComplete),
            import!("ndis.sys", exports::NdisAllocateMemoryWithTagPriority),
            import!("ndis.sys", exports::NdisFreeMemoryWithTagPriority),
            import!("ndis.sys", unimplemented::NdisAllocateIoWorkItem),
            import!("ndis.sys", unimplemented::NdisQueueIoWorkItem),
            import!("ndis.sys", unimplemented::NdisFreeIoWorkItem),
            import!("ndis.sys", unimplemented::NdisAllocateTimerObject),
            import!("ndis.sys", unimplemented::NdisSetTimerObject),
            import!("ndis.sys", unimplemented::NdisCancelTimerObject),
            import!("ndis.sys", unimplemented::NdisFreeTimerObject),
            import!("ndis.sys", unimplemented::NdisAllocateNetBufferListPool),
            import!("ndis.sys", unimplemented::NdisFreeNetBufferListPool),
            import!("ndis.sys", unimplemented::NdisAllocateNetBufferAndNetBufferList),
            import!("ndis.sys", unimplemented::NdisAllocateNetBufferList),
            import!("ndis.sys", unimplemented::NdisFreeNetBufferList),
            import!("ntoskrnl.exe", unimplemented::ExInitializeNPagedLookasideList),
            import!("ntoskrnl.exe", unimplemented::ExDeleteNPagedLookasideList),
            import!("ntoskrnl.exe", unimplemented::ExpInterlockedPopEntrySList),
            import!("ntoskrnl.exe", unimplemented::ExpInterlockedPushEntrySList),
            import!("ntoskrnl.exe", unimplemented::ExQueryDepthSList),
            import!("ntoskrnl.exe", exports::KeAcquireSpinLockRaiseToDpc),
            import!("ntoskrnl.exe", exports::KeReleaseSpinLock),
            import!("ntoskrnl.exe", exports::KeAcquireSpinLockAtDpcLevel),
            import!("ntoskrnl.exe", exports::KeReleaseSpinLockFromDpcLevel),
            import!("ntoskrnl.exe", exports::KeBugCheckEx),
            import!("ntoskrnl.exe", exports::DbgPrintEx),
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
