//! The trace: one [`Event`] per handler entry, handler return, DDI call or
//! injected fault, in order, with its detail stored as typed fields and
//! formatted only when someone reads it.
//!
//! Every path the driver takes records events, the data path included, and
//! most runs never read them (a benchmark, a random run that passes). So an
//! event's [`Detail`] is a static template and up to [`MAX_ARGS`] numbers
//! (handles, counts, statuses, pool tags, times): recording one allocates
//! nothing and formats nothing; [`Display`](fmt::Display) writes the text.
//! Only a detail that is text already where it happens (the driver's debug
//! output, an error message, a rare diagnostic) is stored as text.
//!
//! A template's placeholders say how their number prints:
//!
//! | placeholder | prints                                                   |
//! |-------------|----------------------------------------------------------|
//! | `{x}`       | hex, `0x7e57…` (a handle, pointer or flags: `{:#x}`, `{:p}`) |
//! | `{}`        | a number in decimal (a count, size, IRQL, due time)      |
//! | `{s}`       | an NDIS_STATUS by name ([`status_name`]); hex without one |
//! | `{t}`       | a pool tag as its four characters                        |
//! | `{c}`       | a time on the emulator's clock, `t=10.0000ms`            |
//!
//! [`detail!`](crate::detail) builds a detail and checks at compile time that
//! the template has as many placeholders as it gets numbers.
//!
//! What this module must not do: depend on the rest of the emulator (every
//! module records through it), or format anything when an event is recorded.

use std::fmt;

use ndis_sys::*;

/// The most numbers one detail carries.
pub const MAX_ARGS: usize = 6;

/// Ticks (100 ns) per millisecond, for `{c}`.
const TICKS_PER_MS: i64 = 10_000;

/// The statuses with a name in the trace, the scenario files and the lab:
/// every NDIS_STATUS ndis-sys defines, by its name without `NDIS_STATUS_`.
/// (STATUS_SUCCESS and STATUS_INVALID_PARAMETER share their values with
/// SUCCESS and INVALID_PARAMETER.)
pub const STATUS_NAMES: &[(&str, NDIS_STATUS)] = &[
    ("SUCCESS", NDIS_STATUS_SUCCESS),
    ("PENDING", NDIS_STATUS_PENDING),
    ("NOT_RECOGNIZED", NDIS_STATUS_NOT_RECOGNIZED),
    ("NOT_COPIED", NDIS_STATUS_NOT_COPIED),
    ("NOT_ACCEPTED", NDIS_STATUS_NOT_ACCEPTED),
    ("CALL_ACTIVE", NDIS_STATUS_CALL_ACTIVE),
    ("WAN_CO_FRAGMENT", NDIS_STATUS_WAN_CO_FRAGMENT),
    ("WAN_CO_LINKPARAMS", NDIS_STATUS_WAN_CO_LINKPARAMS),
    ("WAN_CO_MTULINKPARAMS", NDIS_STATUS_WAN_CO_MTULINKPARAMS),
    ("FAILURE", NDIS_STATUS_FAILURE),
    ("INVALID_PARAMETER", NDIS_STATUS_INVALID_PARAMETER),
    ("RESOURCES", NDIS_STATUS_RESOURCES),
    ("NOT_SUPPORTED", NDIS_STATUS_NOT_SUPPORTED),
    ("CLOSING", NDIS_STATUS_CLOSING),
    ("BAD_VERSION", NDIS_STATUS_BAD_VERSION),
    ("BAD_CHARACTERISTICS", NDIS_STATUS_BAD_CHARACTERISTICS),
    ("ADAPTER_NOT_FOUND", NDIS_STATUS_ADAPTER_NOT_FOUND),
    ("REQUEST_ABORTED", NDIS_STATUS_REQUEST_ABORTED),
    ("INVALID_LENGTH", NDIS_STATUS_INVALID_LENGTH),
    ("INVALID_DATA", NDIS_STATUS_INVALID_DATA),
    ("BUFFER_TOO_SHORT", NDIS_STATUS_BUFFER_TOO_SHORT),
    ("INVALID_OID", NDIS_STATUS_INVALID_OID),
    ("UNSUPPORTED_MEDIA", NDIS_STATUS_UNSUPPORTED_MEDIA),
    ("INVALID_SAP", NDIS_STATUS_INVALID_SAP),
    ("SAP_IN_USE", NDIS_STATUS_SAP_IN_USE),
    ("INVALID_ADDRESS", NDIS_STATUS_INVALID_ADDRESS),
    ("VC_NOT_ACTIVATED", NDIS_STATUS_VC_NOT_ACTIVATED),
    ("DEST_OUT_OF_ORDER", NDIS_STATUS_DEST_OUT_OF_ORDER),
    ("VC_NOT_AVAILABLE", NDIS_STATUS_VC_NOT_AVAILABLE),
    ("CELLRATE_NOT_AVAILABLE", NDIS_STATUS_CELLRATE_NOT_AVAILABLE),
    ("INCOMPATABLE_QOS", NDIS_STATUS_INCOMPATABLE_QOS),
    ("AAL_PARAMS_UNSUPPORTED", NDIS_STATUS_AAL_PARAMS_UNSUPPORTED),
    ("NO_ROUTE_TO_DESTINATION", NDIS_STATUS_NO_ROUTE_TO_DESTINATION),
    ("SEND_ABORTED", NDIS_STATUS_SEND_ABORTED),
    ("PAUSED", NDIS_STATUS_PAUSED),
];

/// A status's name (`NOT_ACCEPTED`), if it has one.
#[must_use]
pub fn status_name(status: NDIS_STATUS) -> Option<&'static str> {
    STATUS_NAMES.iter().find(|(_, v)| *v == status).map(|(n, _)| *n)
}

/// A status as the trace prints it: its name, or `0x%08x` without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub NDIS_STATUS);

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match status_name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}

/// A pool tag as its four characters, `.` for a byte that is not printable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag(pub ULONG);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.to_le_bytes() {
            let c = if b.is_ascii_graphic() { char::from(b) } else { '.' };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// A pool tag as poolmon shows it.
pub(crate) fn tag_str(tag: ULONG) -> String {
    Tag(tag).to_string()
}

/// One number of a detail, typed by its placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// `{x}`: a handle, address, pointer or flags.
    Hex(u64),
    /// `{}`: a count, size or other number (stored as i64: no count or
    /// size the emulator traces reaches 2^63).
    Dec(i64),
    /// `{s}`: an NDIS_STATUS.
    Status(NDIS_STATUS),
    /// `{t}`: a pool tag.
    Tag(ULONG),
    /// `{c}`: a time on the emulator's clock, in 100 ns ticks since it started.
    Clock(i64),
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Hex(v) => write!(f, "{v:#x}"),
            Self::Dec(v) => write!(f, "{v}"),
            Self::Status(s) => Status(s).fmt(f),
            Self::Tag(t) => Tag(t).fmt(f),
            Self::Clock(t) => write!(f, "t={}.{:04}ms", t / TICKS_PER_MS, (t % TICKS_PER_MS).abs()),
        }
    }
}

/// A placeholder's kind, as the template spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hex,
    Dec,
    Status,
    Tag,
    Clock,
}

impl Kind {
    /// The value stored for it, as the [`Arg`] it prints.
    fn arg(self, raw: u64) -> Arg {
        // CAST: each kind's value was stored from its own type (Detail::new),
        // so these are the same bits read back.
        match self {
            Self::Hex => Arg::Hex(raw),
            Self::Dec => Arg::Dec(raw as i64),
            Self::Status => Arg::Status(raw as u32 as NDIS_STATUS),
            Self::Tag => Arg::Tag(raw as ULONG),
            Self::Clock => Arg::Clock(raw as i64),
        }
    }
}

/// The placeholder at the start of `s`, and its length.
fn placeholder(s: &[u8]) -> Option<(Kind, usize)> {
    match s {
        [b'{', b'}', ..] => Some((Kind::Dec, 2)),
        [b'{', k, b'}', ..] => {
            let kind = match k {
                b'x' => Kind::Hex,
                b's' => Kind::Status,
                b't' => Kind::Tag,
                b'c' => Kind::Clock,
                _ => return None,
            };
            Some((kind, 3))
        }
        _ => None,
    }
}

/// How many placeholders `template` has (for [`detail!`](crate::detail)'s
/// compile-time check).
#[must_use]
pub const fn placeholders(template: &str) -> usize {
    let b = template.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        if b[i] == b'{' && i + 1 < b.len() {
            if b[i + 1] == b'}' {
                n += 1;
                i += 2;
                continue;
            }
            if i + 2 < b.len() && b[i + 2] == b'}' && matches!(b[i + 1], b'x' | b's' | b't' | b'c') {
                n += 1;
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    n
}

/// A value for a placeholder: what [`detail!`](crate::detail) accepts.
pub trait ToArg {
    /// The bits stored for it.
    fn raw(self) -> u64;
}

macro_rules! to_arg_unsigned {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn raw(self) -> u64 {
                // CAST: widening (usize is at most 64 bits on every target).
                self as u64
            }
        }
    )*};
}
to_arg_unsigned!(u8, u16, u32, u64, usize);

macro_rules! to_arg_signed {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn raw(self) -> u64 {
                // CAST: sign-extended to 64 bits and kept as bits; `{}`
                // reads them back as i64, `{s}` as the low 32 bits.
                i64::from(self) as u64
            }
        }
    )*};
}
to_arg_signed!(i8, i16, i32, i64);

impl<T> ToArg for *const T {
    fn raw(self) -> u64 {
        self.addr() as u64
    }
}

impl<T> ToArg for *mut T {
    fn raw(self) -> u64 {
        self.addr() as u64
    }
}

/// What an event says beyond its direction and name: typed numbers in a
/// static template, or text.
///
/// INVARIANT: in `Fields`, `values[..placeholders(template)]` are the
/// placeholders' values and `placeholders(template) <= MAX_ARGS`; the other
/// values are 0 (so two equal details compare equal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detail(Repr);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Fields {
        template: &'static str,
        values: [u64; MAX_ARGS],
    },
    Text(Box<str>),
}

impl Default for Detail {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Detail {
    /// No detail.
    pub const EMPTY: Self = Self(Repr::Fields {
        template: "",
        values: [0; MAX_ARGS],
    });

    /// `template` with `values` in its placeholders (prefer
    /// [`detail!`](crate::detail), which checks the count at compile
    /// time). Missing values print as 0; extra ones are dropped.
    #[must_use]
    pub fn new(template: &'static str, values: &[u64]) -> Self {
        let n = placeholders(template).min(MAX_ARGS);
        debug_assert_eq!(n, values.len(), "detail template {template:?}");
        let mut v = [0; MAX_ARGS];
        for (slot, x) in v.iter_mut().zip(values).take(n) {
            *slot = *x;
        }
        Self(Repr::Fields { template, values: v })
    }

    /// A handler's return status (`SUCCESS`, `PENDING`, …).
    #[must_use]
    pub fn status(status: NDIS_STATUS) -> Self {
        Self::new("{s}", &[status.raw()])
    }

    /// Text made where the event happened (the cold paths only: it
    /// allocates).
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self(Repr::Text(text.into().into_boxed_str()))
    }

    /// Nothing to say.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Fields { template, .. } => template.is_empty(),
            Repr::Text(t) => t.is_empty(),
        }
    }

    /// The typed numbers, in order (none for a text detail).
    pub fn args(&self) -> impl Iterator<Item = Arg> + '_ {
        let (template, values): (&[u8], &[u64]) = match &self.0 {
            Repr::Fields { template, values } => (template.as_bytes(), values),
            Repr::Text(_) => (&[], &[]),
        };
        let mut i = 0;
        let mut k = 0;
        core::iter::from_fn(move || {
            while i < template.len() {
                if let Some((kind, len)) = template.get(i..).and_then(placeholder) {
                    i += len;
                    let v = values.get(k).copied()?;
                    k += 1;
                    return Some(kind.arg(v));
                }
                i += 1;
            }
            None
        })
    }

    /// The first status it carries (a handler's return status, a
    /// completion's status), if any.
    #[must_use]
    pub fn first_status(&self) -> Option<NDIS_STATUS> {
        self.args().find_map(|a| match a {
            Arg::Status(s) => Some(s),
            _ => None,
        })
    }

    /// The hex numbers it carries (handles, pointers, flags), in order.
    pub fn hex(&self) -> impl Iterator<Item = u64> + '_ {
        self.args().filter_map(|a| match a {
            Arg::Hex(v) => Some(v),
            _ => None,
        })
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (template, values) = match &self.0 {
            Repr::Text(t) => return f.write_str(t),
            Repr::Fields { template, values } => (*template, values),
        };
        let b = template.as_bytes();
        let (mut i, mut lit, mut k) = (0, 0, 0);
        while i < b.len() {
            match b.get(i..).and_then(placeholder) {
                Some((kind, len)) => {
                    // Placeholders are ASCII, so these are char boundaries.
                    f.write_str(template.get(lit..i).unwrap_or(""))?;
                    kind.arg(values.get(k).copied().unwrap_or(0)).fmt(f)?;
                    k += 1;
                    i += len;
                    lit = i;
                }
                None => i += 1,
            }
        }
        f.write_str(template.get(lit..).unwrap_or(""))
    }
}

/// A detail equals the text it prints (tests compare with the text).
impl PartialEq<&str> for Detail {
    fn eq(&self, other: &&str) -> bool {
        match &self.0 {
            Repr::Text(t) => &**t == *other,
            Repr::Fields { .. } => self.to_string().as_str() == *other,
        }
    }
}

impl From<String> for Detail {
    fn from(text: String) -> Self {
        Self::text(text)
    }
}

impl From<&'static str> for Detail {
    /// A fixed text with no placeholders (stored as the template: no
    /// allocation). A text with braces is stored as text.
    fn from(text: &'static str) -> Self {
        if placeholders(text) == 0 {
            Self::new(text, &[])
        } else {
            Self::text(text)
        }
    }
}

/// Builds a [`Detail`] from a template and its values, checking at compile
/// time that the template has one placeholder per value:
/// `detail!("VC {x}, {} NBL(s)", vc, n)`.
#[macro_export]
macro_rules! detail {
    ($template:literal $(, $v:expr)* $(,)?) => {{
        const _: () = assert!(
            $crate::trace::placeholders($template) == 0usize $(+ $crate::detail!(@one $v))*
                && $crate::trace::placeholders($template) <= $crate::trace::MAX_ARGS,
            "a detail! template needs one placeholder per value"
        );
        $crate::trace::Detail::new($template, &[$($crate::trace::ToArg::raw($v)),*])
    }};
    (@one $v:expr) => { 1usize };
}

/// A CPU's number (the same as `world::CpuId`; this module depends on no
/// other).
type CpuId = u32;

/// One line of the emulator's trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the trace, from 0.
    pub seq: u64,
    /// The CPU it happened on (0: the emulator's own thread).
    pub cpu: CpuId,
    /// The IRQL of that CPU at the time.
    pub irql: KIRQL,
    /// `->` a handler NDIS calls, `<-` its return, `=>` a DDI the driver
    /// calls, `!!` an injected fault, `~~` an interleaving's switch.
    pub dir: &'static str,
    /// The handler or DDI.
    pub name: &'static str,
    /// Arguments, statuses, objects (formatted on demand).
    pub detail: Detail,
}

impl Event {
    /// The detail as text.
    #[must_use]
    pub fn detail(&self) -> String {
        self.detail.to_string()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // CPU 0 is left out, so a single-CPU trace reads as it always did.
        if self.cpu != 0 {
            write!(f, "{:5} cpu={} ", self.seq, self.cpu)?;
        } else {
            write!(f, "{:5} ", self.seq)?;
        }
        write!(f, "irql={} {} {} {}", self.irql, self.dir, self.name, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each placeholder prints its number as the `format!` it replaces did
    /// (`{:#x}`, `{:p}`, `{}`), statuses by name and unknown ones as hex.
    #[test]
    fn placeholders_print_as_the_formats_they_replace() {
        let p = 0x7e57_0000_1230usize as *const u8;
        let d = detail!("VC {x} {x} x{} flags {x}", 0x7e57_0000_0010usize, p, 3u32, 0x1u32);
        assert_eq!(
            d.to_string(),
            format!("VC {:#x} {p:p} x3 flags 0x1", 0x7e57_0000_0010usize)
        );
        assert_eq!(detail!("{x}", core::ptr::null::<u8>()).to_string(), "0x0");
        assert_eq!(Detail::status(NDIS_STATUS_PENDING).to_string(), "PENDING");
        assert_eq!(Detail::status(NDIS_STATUS_NOT_ACCEPTED).to_string(), "NOT_ACCEPTED");
        assert_eq!(Detail::status(0x1234).to_string(), "0x00001234");
        assert_eq!(
            detail!("{s} {x}", NDIS_STATUS_NO_ROUTE_TO_DESTINATION, 0x10usize).to_string(),
            "NO_ROUTE_TO_DESTINATION 0x10"
        );
        assert_eq!(detail!("tag {}", 1u8).to_string(), "tag 1");
        assert_eq!(detail!("{t}", u32::from_le_bytes(*b"CvmA")).to_string(), "CvmA");
        assert_eq!(detail!("{t}", 0x0041_0043u32).to_string(), "C.A.");
        assert_eq!(
            detail!("due {} period {}ms", -100_000i64, 5i32).to_string(),
            "due -100000 period 5ms"
        );
        assert_eq!(detail!("{c}", 100_005i64).to_string(), "t=10.0005ms");
        assert_eq!(Detail::text("a {x} b").to_string(), "a {x} b");
        assert_eq!(Detail::from("NOT IMPLEMENTED").to_string(), "NOT IMPLEMENTED");
        assert!(Detail::EMPTY.is_empty() && Detail::EMPTY.to_string().is_empty());
    }

    /// A structured detail gives back its numbers typed: the lab reads a
    /// return's status and the handles an event names from them.
    #[test]
    fn a_detail_gives_back_its_typed_numbers() {
        let d = detail!("{s} VC {x} x{}", NDIS_STATUS_FAILURE, 0xa0usize, 2u32);
        assert_eq!(
            d.args().collect::<Vec<_>>(),
            [Arg::Status(NDIS_STATUS_FAILURE), Arg::Hex(0xa0), Arg::Dec(2)]
        );
        assert_eq!(d.first_status(), Some(NDIS_STATUS_FAILURE));
        assert_eq!(d.hex().collect::<Vec<_>>(), [0xa0]);
        assert_eq!(Detail::text("0xa0").hex().count(), 0);
    }

    /// Recording a structured detail stores no heap text, and an event is
    /// small: the trace of a long run grows by this much per event.
    #[test]
    fn a_detail_is_small_and_owns_no_text() {
        assert!(
            core::mem::size_of::<Detail>() <= 64,
            "{}",
            core::mem::size_of::<Detail>()
        );
        assert!(
            core::mem::size_of::<Event>() <= 112,
            "{}",
            core::mem::size_of::<Event>()
        );
        let d = detail!("VC {x}, {} NBL(s)", 1usize, 1usize);
        assert!(matches!(d.0, Repr::Fields { .. }));
    }

    /// Every named status has one name, and the table names every status
    /// ndis-sys defines that a trace shows.
    #[test]
    fn status_names_are_unique() {
        for (i, (n, v)) in STATUS_NAMES.iter().enumerate() {
            assert_eq!(status_name(*v), Some(*n), "{n}");
            assert!(STATUS_NAMES[..i].iter().all(|(m, w)| m != n && w != v), "{n}");
        }
    }
}
