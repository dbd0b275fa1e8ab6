//! The flight recorder's event model: what covmini records, as values.
//!
//! [`Event`] is the one type every sink takes: the per-adapter ring
//! (`ffi::flight`, the crash-dump blob) and any other sink added at the same
//! fan-out point (`ffi::flight::emit`, e.g. ETW). Its encoding into a
//! fixed-size record ([`super::layout`]) is here too
//! ([`Event::encode`], [`Event::decode`]), so the driver and the offline
//! decoder share one definition.
//!
//! This module owns the codes: each enum's numeric values are part of the dump
//! format (a blob written by one build is decoded by another), so a value is
//! never reused or renumbered; new ones are appended. It has no FFI and no
//! unsafe, allocates nothing and never panics.

use ndis_sys::NDIS_STATUS;

/// Defines a `#[repr(u16)]` code enum whose variant names are the names the
/// decoder prints, with `code`, `from_code` and `name`.
macro_rules! codes {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $c:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        #[allow(missing_docs, reason = "each variant is named for what it stands for (an NDIS name or a state)")]
        pub enum $name { $($(#[$vm])* $v = $c,)* }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [Self] = &[$(Self::$v,)*];

            /// The value's code in the dump format.
            #[must_use]
            pub const fn code(self) -> u16 {
                self as u16
            }

            /// The value with this code, if any.
            #[must_use]
            pub const fn from_code(code: u16) -> Option<Self> {
                match code {
                    $($c => Some(Self::$v),)*
                    _ => None,
                }
            }

            /// Its name, as the decoder prints it.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$v => stringify!($v),)*
                }
            }
        }
    };
}

codes! {
    /// A handler NDIS calls, by its NDIS name.
    pub enum Handler {
        DriverEntry = 1,
        MiniportSetOptions = 2,
        MiniportDriverUnload = 3,
        MiniportInitializeEx = 4,
        MiniportHaltEx = 5,
        MiniportPause = 6,
        MiniportRestart = 7,
        MiniportSendNetBufferLists = 8,
        MiniportReturnNetBufferLists = 9,
        MiniportCancelSend = 10,
        MiniportDevicePnPEventNotify = 11,
        MiniportShutdownEx = 12,
        MiniportCancelOidRequest = 13,
        MiniportCoActivateVc = 14,
        MiniportCoDeactivateVc = 15,
        MiniportCoSendNetBufferLists = 16,
        MiniportCoOidRequest = 17,
        ProtocolCmOpenAf = 18,
        ProtocolCmCloseAf = 19,
        ProtocolCmNotifyCloseAfComplete = 20,
        ProtocolCmRegisterSap = 21,
        ProtocolCmDeregisterSap = 22,
        ProtocolCoCreateVc = 23,
        ProtocolCoDeleteVc = 24,
        ProtocolCmMakeCall = 25,
        ProtocolCmIncomingCallComplete = 26,
        ProtocolCmCloseCall = 27,
        ProtocolCmActivateVcComplete = 28,
        ProtocolCmDeactivateVcComplete = 29,
        ProtocolCmAddParty = 30,
        ProtocolCmDropParty = 31,
        ProtocolCmModifyCallQoS = 32,
        ProtocolCoOidRequest = 33,
        ProtocolCoOidRequestComplete = 34,
        /// Not an NDIS handler: the call-manager core, refusing inside the
        /// handler the same CPU entered last.
        CallManagerCore = 35,
    }
}

codes! {
    /// An NDIS or kernel function covmini calls whose status matters.
    pub enum Ddi {
        NdisMRegisterMiniportDriver = 1,
        NdisMSetMiniportAttributes = 2,
        NdisMCmRegisterAddressFamilyEx = 3,
        NdisMCmCreateVc = 4,
        NdisMCmDeleteVc = 5,
        NdisMCmActivateVc = 6,
        NdisMCmDeactivateVc = 7,
        NdisMCmOpenAddressFamilyComplete = 8,
        NdisMCmCloseAddressFamilyComplete = 9,
        NdisMCmNotifyCloseAddressFamily = 10,
        NdisMCmRegisterSapComplete = 11,
        NdisMCmDeregisterSapComplete = 12,
        NdisMCmMakeCallComplete = 13,
        NdisMCmCloseCallComplete = 14,
        NdisMCmAddPartyComplete = 15,
        NdisMCmDropPartyComplete = 16,
        NdisMCmDispatchIncomingCall = 17,
        NdisMCmDispatchCallConnected = 18,
        NdisMCmModifyCallQoSComplete = 19,
        NdisMCmDispatchIncomingCloseCall = 20,
        NdisMCmDispatchIncomingDropParty = 21,
        NdisMCmOidRequestComplete = 22,
        NdisMPauseComplete = 23,
        NdisMCoSendNetBufferListsComplete = 24,
        NdisMCoIndicateReceiveNetBufferLists = 25,
        NdisMCoIndicateStatusEx = 26,
        KeRegisterBugCheckReasonCallback = 27,
        KeDeregisterBugCheckReasonCallback = 28,
        NdisMCmDispatchIncomingCallQoSChange = 29,
    }
}

codes! {
    /// A state machine whose transitions are recorded.
    pub enum Machine {
        /// `crate::adapter::AdapterState`, by [`AdapterStateCode`].
        Adapter = 1,
    }
}

codes! {
    /// The adapter's lifecycle states (`crate::adapter::AdapterState`), as
    /// recorded.
    pub enum AdapterStateCode {
        Initializing = 1,
        Paused = 2,
        Pausing = 3,
        Running = 4,
        Halted = 5,
    }
}

codes! {
    /// Why covmini refused a request. The first ones mirror
    /// `crate::call_manager::Refusal`; the rest are the glue's own checks.
    pub enum Reason {
        Resources = 1,
        Invalid = 2,
        AfClosing = 3,
        DuplicateSap = 4,
        CallActive = 5,
        NoRoute = 6,
        NotSupported = 7,
        LastParty = 8,
        LeafSend = 9,
        /// A context handle that is not covmini's (wrong signature).
        BadContext = 10,
        /// A client's parameter block failed the checked read.
        BadParameters = 11,
        /// The adapter is not running (paused, pausing or halting).
        NotRunning = 12,
    }
}

impl From<crate::call_manager::Refusal> for Reason {
    fn from(r: crate::call_manager::Refusal) -> Self {
        use crate::call_manager::Refusal as R;
        match r {
            R::Resources => Self::Resources,
            R::Invalid => Self::Invalid,
            R::AfClosing => Self::AfClosing,
            R::DuplicateSap => Self::DuplicateSap,
            R::CallActive => Self::CallActive,
            R::NoRoute => Self::NoRoute,
            R::NotSupported => Self::NotSupported,
            R::LastParty => Self::LastParty,
            R::LeafSend => Self::LeafSend,
        }
    }
}

impl From<crate::adapter::AdapterState> for AdapterStateCode {
    fn from(s: crate::adapter::AdapterState) -> Self {
        use crate::adapter::AdapterState as S;
        match s {
            S::Initializing => Self::Initializing,
            S::Paused => Self::Paused,
            S::Pausing => Self::Pausing,
            S::Running => Self::Running,
            S::Halted => Self::Halted,
        }
    }
}

/// One recorded event. `object` is the address of the context the event is
/// about (the handle NDIS passed, or covmini's context for it), so events of
/// one VC or one call can be followed; 0 when there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A handler was entered.
    Enter {
        /// The handler.
        handler: Handler,
        /// The context it was called on.
        object: usize,
    },
    /// A handler returned `status` (NDIS_STATUS_SUCCESS for a VOID handler).
    Return {
        /// The handler.
        handler: Handler,
        /// The context it was called on.
        object: usize,
        /// What it returned.
        status: NDIS_STATUS,
    },
    /// covmini called `ddi`, which returned `status` (SUCCESS for a VOID DDI).
    Ddi {
        /// The function called.
        ddi: Ddi,
        /// The context (or NDIS handle) it was called for.
        object: usize,
        /// What it returned.
        status: NDIS_STATUS,
    },
    /// `machine` moved from state `from` to `to` (codes of the machine's
    /// state enum, e.g. [`AdapterStateCode`]).
    Transition {
        /// The state machine.
        machine: Machine,
        /// Its context.
        object: usize,
        /// The state before.
        from: u16,
        /// The state after.
        to: u16,
    },
    /// `handler` refused its request for `reason`, returning `status`.
    Refused {
        /// The handler that refused.
        handler: Handler,
        /// The context it was called on.
        object: usize,
        /// Why.
        reason: Reason,
        /// The status it returned.
        status: NDIS_STATUS,
    },
}

/// The record kinds of the dump format (`Encoded::kind`).
pub mod kind {
    /// [`super::Event::Enter`].
    pub const ENTER: u8 = 1;
    /// [`super::Event::Return`].
    pub const RETURN: u8 = 2;
    /// [`super::Event::Ddi`].
    pub const DDI: u8 = 3;
    /// [`super::Event::Transition`].
    pub const TRANSITION: u8 = 4;
    /// [`super::Event::Refused`].
    pub const REFUSED: u8 = 5;
}

/// An event as its record's fields hold it (see [`super::layout::record`]
/// for where each goes), without the time, CPU and sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// One of [`kind`].
    pub kind: u8,
    /// Refused: the [`Reason`] code; otherwise 0.
    pub detail: u8,
    /// The [`Handler`], [`Ddi`] or [`Machine`] code.
    pub code: u16,
    /// The status (as its bits), or for a transition `from | to << 16`.
    pub value: u32,
    /// The object's address.
    pub object: u64,
}

impl Event {
    /// The record fields of this event.
    #[must_use]
    pub const fn encode(&self) -> Encoded {
        // CAST (every `as` below): NDIS_STATUS is an i32 kept as its bits;
        // usize is at most 64 bits on every target; Reason codes are < 256.
        match *self {
            Self::Enter { handler, object } => Encoded {
                kind: kind::ENTER,
                detail: 0,
                code: handler.code(),
                value: 0,
                object: object as u64,
            },
            Self::Return {
                handler,
                object,
                status,
            } => Encoded {
                kind: kind::RETURN,
                detail: 0,
                code: handler.code(),
                value: status as u32,
                object: object as u64,
            },
            Self::Ddi { ddi, object, status } => Encoded {
                kind: kind::DDI,
                detail: 0,
                code: ddi.code(),
                value: status as u32,
                object: object as u64,
            },
            Self::Transition {
                machine,
                object,
                from,
                to,
            } => Encoded {
                kind: kind::TRANSITION,
                detail: 0,
                code: machine.code(),
                value: from as u32 | (to as u32) << 16,
                object: object as u64,
            },
            Self::Refused {
                handler,
                object,
                reason,
                status,
            } => Encoded {
                kind: kind::REFUSED,
                detail: reason.code() as u8,
                code: handler.code(),
                value: status as u32,
                object: object as u64,
            },
        }
    }

    /// The event a record holds, or `None` for an unknown kind or code (a
    /// record of a newer format, or a torn one).
    #[must_use]
    pub fn decode(e: Encoded) -> Option<Self> {
        // CAST: the object was a usize when written; on a 32-bit decoder a
        // 64-bit address would truncate, and covmini has no such target.
        let object = e.object as usize;
        // CAST: the status's bits back to the i32 they were.
        let status = e.value as NDIS_STATUS;
        Some(match e.kind {
            kind::ENTER => Self::Enter {
                handler: Handler::from_code(e.code)?,
                object,
            },
            kind::RETURN => Self::Return {
                handler: Handler::from_code(e.code)?,
                object,
                status,
            },
            kind::DDI => Self::Ddi {
                ddi: Ddi::from_code(e.code)?,
                object,
                status,
            },
            kind::TRANSITION => Self::Transition {
                machine: Machine::from_code(e.code)?,
                object,
                // CAST: the low and high halves, as encode packed them.
                from: e.value as u16,
                to: (e.value >> 16) as u16,
            },
            kind::REFUSED => Self::Refused {
                handler: Handler::from_code(e.code)?,
                object,
                reason: Reason::from_code(u16::from(e.detail))?,
                status,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndis_sys::{NDIS_STATUS_PENDING, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS};

    /// Every code decodes back to its value, and the codes are distinct (a
    /// duplicate would not compile in `from_code`'s match, this proves the
    /// tables are complete both ways).
    #[test]
    fn codes_round_trip() {
        for h in Handler::ALL {
            assert_eq!(Handler::from_code(h.code()), Some(*h));
        }
        for d in Ddi::ALL {
            assert_eq!(Ddi::from_code(d.code()), Some(*d));
        }
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(*r));
            assert!(r.code() < 256, "a reason must fit the detail byte");
        }
        assert_eq!(Handler::from_code(0), None);
        assert_eq!(Handler::ProtocolCmMakeCall.name(), "ProtocolCmMakeCall");
    }

    /// Each kind of event survives encode/decode with every field intact,
    /// including a negative (error) status and a 64-bit address.
    #[test]
    fn events_round_trip() {
        let object = 0xffff_a000_1234_5670_u64 as usize;
        let events = [
            Event::Enter {
                handler: Handler::ProtocolCmMakeCall,
                object,
            },
            Event::Return {
                handler: Handler::ProtocolCmMakeCall,
                object,
                status: NDIS_STATUS_PENDING,
            },
            Event::Ddi {
                ddi: Ddi::NdisMCmActivateVc,
                object,
                status: NDIS_STATUS_SUCCESS,
            },
            Event::Transition {
                machine: Machine::Adapter,
                object,
                from: AdapterStateCode::Paused.code(),
                to: AdapterStateCode::Running.code(),
            },
            Event::Refused {
                handler: Handler::ProtocolCmRegisterSap,
                object,
                reason: Reason::Resources,
                status: NDIS_STATUS_RESOURCES,
            },
        ];
        for e in events {
            assert_eq!(Event::decode(e.encode()), Some(e), "{e:?}");
        }
        let unknown = Encoded {
            kind: 99,
            detail: 0,
            code: 1,
            value: 0,
            object: 0,
        };
        assert_eq!(Event::decode(unknown), None);
    }
}
