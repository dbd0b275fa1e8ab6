//! covmini's ETW TraceLogging provider, without FFI: its name and GUID, its
//! levels and keywords, the catalogue of its events (name, level, keyword,
//! fields, and their TraceLogging metadata, all constants), the field values
//! an event carries, and the filter a session's enable request sets.
//!
//! The events are the flight recorder's ([`crate::flight::Event`]): each
//! variant has one ETW event ([`kind_of`]) whose fields are the variant's,
//! with the codes written as their names ([`values`]). `ffi::flight::emit`,
//! the one entry point of every recorded event, hands each to `ffi::etw`.
//!
//! `ffi::etw` registers the provider (EtwRegister at DriverEntry,
//! EtwUnregister at unload), keeps the filter the enable callback reports and
//! writes events with EtwWriteTransfer; docs/windows.md shows how to capture
//! them. Nothing is formatted: a field is a typed value the descriptor points
//! at, and an event no session wants is not even assembled.
//!
//! What it must not do: call NDIS or ETW, allocate, or change a published
//! event's name, level, keyword or fields silently (consumers filter on
//! them; docs/windows.md lists them and a test keeps it true).

pub mod guid;
pub mod metadata;

use ndis_sys::{EVENT_DESCRIPTOR, GUID, NDIS_STATUS, UCHAR, WINEVENT_CHANNEL_TRACELOGGING};
pub use ndis_sys::{WINEVENT_LEVEL_ERROR, WINEVENT_LEVEL_INFO, WINEVENT_LEVEL_VERBOSE, WINEVENT_LEVEL_WARNING};

use self::metadata::{Field, Metadata, in_type, out_type};
use crate::flight::Event;
use crate::flight::event::{AdapterStateCode, Machine};

/// The provider's name (what `wpr`, `tracelog` and WPA show).
pub const PROVIDER_NAME: &str = "Covmini";

/// The provider's GUID, derived from [`PROVIDER_NAME`] by the compiler
/// ([`guid::provider_id`]): {9ffedbf9-ea62-5004-f1bc-993a23972038}.
pub const PROVIDER_ID: GUID = guid::provider_id(PROVIDER_NAME);

/// The provider traits every event carries (descriptor type 2) and
/// EtwSetInformation(EventProviderSetTraits) registers.
pub static PROVIDER_TRAITS: Metadata = metadata::provider(PROVIDER_NAME);

/// Keywords: one bit per kind of event, so a session can ask for a subset.
pub mod keyword {
    /// Handler entry and return.
    pub const HANDLER: u64 = 0x1;
    /// Calls covmini makes into NDIS, with their status.
    pub const DDI: u64 = 0x2;
    /// Requests covmini refuses, with the reason.
    pub const REFUSAL: u64 = 0x4;
    /// State transitions of the adapter and the call manager's objects.
    pub const STATE: u64 = 0x8;
    /// Every keyword covmini defines.
    pub const ALL: u64 = HANDLER | DDI | REFUSAL | STATE;
}

/// One kind of event: what identifies it to a consumer, and its metadata.
#[derive(Debug)]
pub struct EventKind {
    /// The event's name (in its metadata; consumers filter on it).
    pub name: &'static str,
    /// Its level (`WINEVENT_LEVEL_*`).
    pub level: UCHAR,
    /// Its keyword (one of [`keyword`]).
    pub keyword: u64,
    /// Its fields, in payload order.
    pub fields: &'static [Field],
    /// Its TraceLogging event metadata.
    pub metadata: Metadata,
}

impl EventKind {
    const fn new(name: &'static str, level: UCHAR, keyword: u64, fields: &'static [Field]) -> Self {
        Self {
            name,
            level,
            keyword,
            fields,
            metadata: metadata::event(name, fields),
        }
    }

    /// The EVENT_DESCRIPTOR of a TraceLogging event: Id and Version 0, the
    /// TraceLogging channel (11), the level and keyword, opcode and task 0.
    pub const fn descriptor(&self) -> EVENT_DESCRIPTOR {
        EVENT_DESCRIPTOR {
            Id: 0,
            Version: 0,
            Channel: WINEVENT_CHANNEL_TRACELOGGING,
            Level: self.level,
            Opcode: 0,
            Task: 0,
            Keyword: self.keyword,
        }
    }
}

const fn f(name: &'static str, in_type: u8) -> Field {
    Field {
        name,
        in_type,
        out_type: out_type::NONE,
    }
}

const fn text(name: &'static str) -> Field {
    f(name, in_type::COUNTEDANSISTRING)
}

const fn object() -> Field {
    f("object", in_type::HEXINT64)
}

const fn status(name: &'static str) -> Field {
    Field {
        name,
        in_type: in_type::UINT32,
        out_type: out_type::NTSTATUS,
    }
}

/// [`Event::Enter`]: a handler NDIS called, and the context it got.
pub static HANDLER_ENTRY: EventKind = EventKind::new(
    "HandlerEntry",
    WINEVENT_LEVEL_VERBOSE,
    keyword::HANDLER,
    &[text("handler"), object()],
);

/// [`Event::Return`]: a handler returning to NDIS, with its status.
pub static HANDLER_RETURN: EventKind = EventKind::new(
    "HandlerReturn",
    WINEVENT_LEVEL_VERBOSE,
    keyword::HANDLER,
    &[text("handler"), object(), status("status")],
);

/// [`Event::Ddi`]: an NDIS function covmini called, and its status.
pub static DDI_CALL: EventKind = EventKind::new(
    "DdiCall",
    WINEVENT_LEVEL_VERBOSE,
    keyword::DDI,
    &[text("ddi"), object(), status("status")],
);

/// [`Event::Transition`]: a state machine's transition, by state name.
pub static STATE_CHANGE: EventKind = EventKind::new(
    "StateChange",
    WINEVENT_LEVEL_INFO,
    keyword::STATE,
    &[text("machine"), object(), text("from"), text("to")],
);

/// [`Event::Refused`]: a request covmini refused, why, and the status it
/// answered.
pub static REFUSAL: EventKind = EventKind::new(
    "Refusal",
    WINEVENT_LEVEL_WARNING,
    keyword::REFUSAL,
    &[text("handler"), object(), text("reason"), status("status")],
);

/// Every event covmini writes, one per [`Event`] variant.
pub static KINDS: [&EventKind; 5] = [&HANDLER_ENTRY, &HANDLER_RETURN, &DDI_CALL, &STATE_CHANGE, &REFUSAL];

/// The ETW event of a recorded event.
#[must_use]
pub const fn kind_of(event: &Event) -> &'static EventKind {
    match event {
        Event::Enter { .. } => &HANDLER_ENTRY,
        Event::Return { .. } => &HANDLER_RETURN,
        Event::Ddi { .. } => &DDI_CALL,
        Event::Transition { .. } => &STATE_CHANGE,
        Event::Refused { .. } => &REFUSAL,
    }
}

/// The name of state `code` of `machine`, or "unknown" for a code the
/// machine does not have.
#[must_use]
pub const fn state_name(machine: Machine, code: u16) -> &'static str {
    match machine {
        Machine::Adapter => match AdapterStateCode::from_code(code) {
            Some(s) => s.name(),
            None => "unknown",
        },
    }
}

/// The most fields an event has.
pub const MAX_FIELDS: usize = 4;
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range is a compile error"
)]
const _: () = {
    let mut i = 0;
    while i < KINDS.len() {
        assert!(KINDS[i].fields.len() <= MAX_FIELDS);
        i += 1;
    }
};

/// One field's value, as the event's data descriptors point at it.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// `UINT32`, also a status (`NTSTATUS` out-type).
    U32(u32),
    /// `HEXINT64`: an address (a context or handle).
    Hex(u64),
    /// `COUNTEDANSISTRING`: its byte count (at most `u16::MAX`; a longer
    /// text is cut) and the text.
    Text(u16, &'a str),
}

impl<'a> Value<'a> {
    /// A text field.
    #[must_use]
    pub fn text(s: &'a str) -> Self {
        Value::Text(u16::try_from(s.len()).unwrap_or(u16::MAX), s)
    }

    /// A status field: its bits, as an NTSTATUS field carries them.
    #[must_use]
    pub const fn status(s: NDIS_STATUS) -> Self {
        Value::U32(s.cast_unsigned())
    }

    /// An address field.
    #[must_use]
    pub const fn address(a: usize) -> Self {
        // CAST: usize is at most 64 bits on every target.
        Value::Hex(a as u64)
    }

    /// Whether this value encodes as `in_type`.
    #[must_use]
    pub const fn fits(&self, in_type: u8) -> bool {
        matches!(
            (self, in_type),
            (Value::U32(_), in_type::UINT32)
                | (Value::Hex(_), in_type::HEXINT64)
                | (Value::Text(..), in_type::COUNTEDANSISTRING)
        )
    }
}

/// The field values of `event`, in its kind's field order (as many as
/// [`kind_of`] declares; the rest of the array is unused).
#[must_use]
pub fn values(event: &Event) -> [Value<'static>; MAX_FIELDS] {
    let none = Value::U32(0);
    match *event {
        Event::Enter { handler, object } => [Value::text(handler.name()), Value::address(object), none, none],
        Event::Return {
            handler,
            object,
            status,
        } => [
            Value::text(handler.name()),
            Value::address(object),
            Value::status(status),
            none,
        ],
        Event::Ddi { ddi, object, status } => [
            Value::text(ddi.name()),
            Value::address(object),
            Value::status(status),
            none,
        ],
        Event::Transition {
            machine,
            object,
            from,
            to,
        } => [
            Value::text(machine.name()),
            Value::address(object),
            Value::text(state_name(machine, from)),
            Value::text(state_name(machine, to)),
        ],
        Event::Refused {
            handler,
            object,
            reason,
            status,
        } => [
            Value::text(handler.name()),
            Value::address(object),
            Value::text(reason.name()),
            Value::status(status),
        ],
    }
}

/// What the sessions listening to the provider asked for, as the enable
/// callback last reported it (ETW merges the sessions into one request).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Some session is listening.
    pub enabled: bool,
    /// The most verbose level wanted; 0 means every level.
    pub level: UCHAR,
    /// An event's keyword needs one of these bits...
    pub match_any: u64,
    /// ... and all of these.
    pub match_all: u64,
}

impl Filter {
    /// Whether an event of `level` and `keyword` passes, as evntprov.h's
    /// comment on the enable callback spells the filter: enabled, level at
    /// most the session's (a session level of 0 "is the same as session
    /// level 255"), and a keyword of 0 or one that has some bit of
    /// MatchAnyKeyword and every bit of MatchAllKeyword.
    #[must_use]
    pub fn passes(&self, level: UCHAR, keyword: u64) -> bool {
        self.enabled
            && (self.level == 0 || level <= self.level)
            && (keyword == 0 || (keyword & self.match_any != 0 && keyword & self.match_all == self.match_all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_id_is_the_name_hash_of_covmini() {
        assert_eq!(PROVIDER_ID, guid::provider_id("COVMINI"));
        assert_eq!(
            PROVIDER_ID,
            GUID {
                Data1: 0x9ffe_dbf9,
                Data2: 0xea62,
                Data3: 0x5004,
                Data4: [0xf1, 0xbc, 0x99, 0x3a, 0x23, 0x97, 0x20, 0x38],
            },
            "the GUID docs/windows.md and the module doc give"
        );
    }

    #[test]
    fn event_names_are_unique_and_keywords_are_covmini_s() {
        for (i, a) in KINDS.iter().enumerate() {
            assert!(a.keyword & !keyword::ALL == 0, "{}", a.name);
            assert!(a.keyword != 0, "{}: a keyword lets sessions select it", a.name);
            for b in KINDS.iter().skip(i + 1) {
                assert_ne!(a.name, b.name);
            }
        }
    }

    /// The filter, case by case, from evntprov.h's formula.
    #[test]
    fn the_filter_follows_evntprov() {
        let off = Filter::default();
        assert!(!off.passes(WINEVENT_LEVEL_ERROR, keyword::HANDLER));
        let info = Filter {
            enabled: true,
            level: WINEVENT_LEVEL_INFO,
            match_any: keyword::REFUSAL | keyword::STATE,
            match_all: 0,
        };
        assert!(info.passes(WINEVENT_LEVEL_WARNING, keyword::REFUSAL));
        assert!(
            !info.passes(WINEVENT_LEVEL_VERBOSE, keyword::STATE),
            "level too verbose"
        );
        assert!(
            !info.passes(WINEVENT_LEVEL_WARNING, keyword::HANDLER),
            "keyword not asked for"
        );
        assert!(info.passes(WINEVENT_LEVEL_WARNING, 0), "an uncategorized event passes");
        let every_level = Filter { level: 0, ..info };
        assert!(every_level.passes(WINEVENT_LEVEL_VERBOSE, keyword::STATE));
        let all = Filter {
            match_all: keyword::STATE | keyword::REFUSAL,
            ..info
        };
        assert!(
            !all.passes(WINEVENT_LEVEL_WARNING, keyword::REFUSAL),
            "lacks a MatchAll bit"
        );
    }
}
