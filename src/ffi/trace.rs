//! Debug output: `DbgPrintEx` under `DPFLTR_IHVNETWORK_ID`, so WinDbg shows
//! it with `ed nt!Kd_IHVNETWORK_Mask 0xf` and ndis-emu records it in its
//! trace. Lines are formatted into a fixed stack buffer (no allocation; a long
//! line is cut, never an error) and printed with `%.*s`, so no driver text is
//! ever interpreted as a format string.
//!
//! **No formatting for a dropped message.** The kernel's own filter (the
//! `Kd_*_Mask` of the component) is applied inside DbgPrintEx, after covmini
//! has formatted the line, and Windows documents no routine that asks it
//! whether a level is on (DbgQueryDebugFilterState is exported but has no
//! documentation page, and covmini imports only documented DDIs). So covmini
//! keeps a level of its own: [`trace!`] formats and prints a message only if
//! its level is at most [`level()`], a relaxed atomic load (cheap and legal
//! at any IRQL). Above it, the message's arguments are not even evaluated.
//! The level is [`DEFAULT_LEVEL`] (errors and warnings) until
//! MiniportInitializeEx reads the adapter's registry value
//! [`TRACE_LEVEL_VALUE`] (`REG_DWORD`; 3 also prints INFO), see
//! [`configure_from_registry`] and docs/windows.md. The level is
//! driver-wide: with several adapters, the last one initialized sets it.
//!
//! What it must not do: allocate, block, or format a message its level
//! drops.

use core::fmt::{self, Write};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, Ordering};

use ndis_sys::{
    DPFLTR_IHVNETWORK_ID, DbgPrintEx, NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_OBJECT_REVISION_1, NDIS_HANDLE,
    NDIS_OBJECT_HEADER, NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT, NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
    NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS, NDIS_STRING, NdisCloseConfiguration, NdisOpenConfigurationEx,
    NdisParameterInteger, NdisReadConfiguration, PNDIS_CONFIGURATION_PARAMETER, ULONG, USHORT,
};

pub(crate) use ndis_sys::{DPFLTR_ERROR_LEVEL as ERROR, DPFLTR_INFO_LEVEL as INFO, DPFLTR_WARNING_LEVEL as WARN};

/// `trace!(LEVEL, "fmt", args…)`: one line of debug output, formatted and
/// printed only if `LEVEL` is enabled (its arguments are not evaluated
/// otherwise).
macro_rules! trace {
    ($level:expr, $($arg:tt)*) => {{
        let level = $level;
        if $crate::ffi::trace::enabled(level) {
            $crate::ffi::trace::emit(level, format_args!($($arg)*))
        }
    }};
}

const LINE_CAPACITY: usize = 192;

/// The level covmini prints at until the registry says otherwise: errors and
/// warnings, no INFO.
pub(crate) const DEFAULT_LEVEL: ULONG = WARN;

/// The adapter's registry value that sets the level (a `REG_DWORD`; the INF
/// installs it, docs/windows.md says how to change it).
pub(crate) const TRACE_LEVEL_VALUE: &[u8; 10] = b"TraceLevel";

/// The most verbose level printed. Any value is valid: a message prints if
/// its level is at most this one.
static LEVEL: AtomicU32 = AtomicU32::new(DEFAULT_LEVEL);

/// The current level. Any IRQL.
#[inline]
pub(crate) fn level() -> ULONG {
    LEVEL.load(Ordering::Relaxed)
}

/// Whether a message at `level` is printed (and so formatted). Any IRQL.
#[inline]
pub(crate) fn enabled(level: ULONG) -> bool {
    level <= self::level()
}

/// Sets the level. Any IRQL.
pub(crate) fn set_level(level: ULONG) {
    LEVEL.store(level, Ordering::Relaxed);
}

/// [`TRACE_LEVEL_VALUE`] as the UTF-16 an `NDIS_STRING` holds.
const fn utf16<const N: usize>(ascii: &[u8; N]) -> [u16; N] {
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        // Const evaluation: an index out of range would be a compile error.
        #[allow(clippy::indexing_slicing, reason = "evaluated at compile time, i < N")]
        {
            out[i] = ascii[i] as u16;
        }
        i += 1;
    }
    out
}

const TRACE_LEVEL_NAME: [u16; 10] = utf16(TRACE_LEVEL_VALUE);

/// Sets the level from the adapter's [`TRACE_LEVEL_VALUE`], or to
/// [`DEFAULT_LEVEL`] when the value is absent or cannot be read.
///
/// # IRQL
/// PASSIVE_LEVEL (NdisOpenConfigurationEx, NdisReadConfiguration and
/// NdisCloseConfiguration all require it): called from MiniportInitializeEx.
pub(crate) fn configure_from_registry(adapter_handle: NDIS_HANDLE) {
    let mut object = NDIS_CONFIGURATION_OBJECT {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            NDIS_CONFIGURATION_OBJECT_REVISION_1,
            NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        ),
        NdisHandle: adapter_handle,
        Flags: 0,
    };
    let mut config: NDIS_HANDLE = null_mut();
    // SAFETY: the object and the handle slot live on this frame for the
    // call; the handle is the MiniportAdapterHandle NDIS passed to
    // MiniportInitializeEx, which is running; PASSIVE_LEVEL.
    let status = unsafe { NdisOpenConfigurationEx(&raw mut object, &raw mut config) };
    if status != NDIS_STATUS_SUCCESS {
        set_level(DEFAULT_LEVEL);
        trace!(
            WARN,
            "NdisOpenConfigurationEx failed: {:#010x}; trace level {}", status, DEFAULT_LEVEL
        );
        return;
    }
    let configured = read_level(config);
    // SAFETY: the handle opened above, closed once, after its last use
    // (`read_level` used NDIS's value block before it returned);
    // PASSIVE_LEVEL.
    unsafe { NdisCloseConfiguration(config) };
    set_level(configured.unwrap_or(DEFAULT_LEVEL));
    trace!(
        INFO,
        "trace level {} ({})",
        level(),
        if configured.is_some() { "TraceLevel" } else { "default" }
    );
}

/// The integer [`TRACE_LEVEL_VALUE`] of the open configuration `config`, if
/// it is there and is an integer.
///
/// # IRQL
/// PASSIVE_LEVEL (NdisReadConfiguration requires it): called from
/// [`configure_from_registry`], which closes `config` afterwards.
fn read_level(config: NDIS_HANDLE) -> Option<ULONG> {
    let mut name = TRACE_LEVEL_NAME;
    // CAST: 10 UTF-16 units, 20 bytes, fit a USHORT.
    let bytes = (name.len() * 2) as USHORT;
    let mut keyword = NDIS_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: name.as_mut_ptr(),
    };
    let mut read_status = NDIS_STATUS_FAILURE;
    let mut value: PNDIS_CONFIGURATION_PARAMETER = null_mut();
    // SAFETY: the status and value slots and the keyword (with its buffer,
    // `name`) live on this frame for the call; `config` is the handle
    // configure_from_registry just opened and closes only after this
    // returns; PASSIVE_LEVEL.
    unsafe {
        NdisReadConfiguration(
            &raw mut read_status,
            &raw mut value,
            config,
            &raw mut keyword,
            NdisParameterInteger,
        )
    };
    if read_status != NDIS_STATUS_SUCCESS || value.is_null() {
        return None;
    }
    // SAFETY: on success NDIS returned a block it owns until
    // NdisCloseConfiguration (in configure_from_registry, after this
    // returns); it is copied here and not read again.
    let parameter = unsafe { value.read() };
    if parameter.ParameterType != NdisParameterInteger {
        return None;
    }
    // SAFETY: ParameterType says the union holds IntegerData.
    Some(unsafe { parameter.ParameterData.IntegerData })
}

/// One formatted line. INVARIANT: `len <= LINE_CAPACITY`.
struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_CAPACITY - self.len;
        let take = s.len().min(room);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + take), s.as_bytes().get(..take)) {
            dst.copy_from_slice(src);
            // INVARIANT: take <= room keeps len <= LINE_CAPACITY.
            self.len += take;
        }
        Ok(())
    }
}

/// Formats and prints one line at `level`, unconditionally: [`trace!`]
/// checks [`enabled`] first. Callable at IRQL <= DISPATCH_LEVEL (DbgPrintEx
/// allows up to DIRQL for ANSI text).
pub(crate) fn emit(level: ULONG, args: fmt::Arguments<'_>) {
    let mut line = Line {
        buf: [0; LINE_CAPACITY],
        len: 0,
    };
    // Line::write_str never fails, so neither does formatting into it.
    let _ = line.write_fmt(args);
    // CAST: len <= LINE_CAPACITY (192) fits an i32.
    let len = line.len as i32;
    // SAFETY: the format is a NUL-terminated literal whose one conversion,
    // `%.*s`, consumes exactly the two arguments passed: an int length and a
    // pointer to at least that many bytes (line.buf, alive for the call).
    unsafe {
        DbgPrintEx(
            DPFLTR_IHVNETWORK_ID,
            level,
            c"covmini: %.*s\n".as_ptr().cast(),
            len,
            line.buf.as_ptr(),
        );
    }
}

#[cfg(test)]
mod tests {
    use core::cell::Cell;

    use super::*;

    /// Counts how often it is formatted.
    struct Counted<'a>(&'a Cell<u32>);

    impl fmt::Display for Counted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.set(self.0.get() + 1);
            f.write_str("counted")
        }
    }

    #[test]
    fn the_registry_name_is_the_utf16_of_the_value_name() {
        let expected: std::vec::Vec<u16> = "TraceLevel".encode_utf16().collect();
        assert_eq!(TRACE_LEVEL_NAME[..], expected[..]);
    }

    /// The gate: at the default level an INFO message is neither formatted
    /// (its Display runs zero times) nor printed (no DbgPrintEx reaches the
    /// emulator), and its arguments are not evaluated; a WARN message is
    /// formatted once and printed. With the level at INFO, the INFO message
    /// is formatted once and printed too. The emulator records every
    /// DbgPrintEx; holding it also keeps other tests of this binary off the
    /// global level (one emulator per process at a time).
    #[test]
    #[cfg_attr(
        miri,
        ignore = "drives DbgPrintEx through ndis-emu, whose handles are integers cast to pointers (permissive provenance) and whose DbgPrintEx is fixed-arity where ndis-sys declares it C-variadic; tests/trace_level.rs covers the same gate through the driver"
    )]
    fn nothing_is_formatted_below_the_level_and_everything_at_it() {
        let emu = ndis_emu::Emulator::new();
        let formatted = Cell::new(0);
        let evaluated = Cell::new(0);
        let argument = || {
            evaluated.set(evaluated.get() + 1);
            Counted(&formatted)
        };

        set_level(DEFAULT_LEVEL);
        trace!(INFO, "info {}", argument());
        assert_eq!((formatted.get(), evaluated.get()), (0, 0), "INFO at the default level");
        assert!(emu.report().debug_output.is_empty(), "{:?}", emu.report().debug_output);
        trace!(WARN, "warn {}", argument());
        assert_eq!((formatted.get(), evaluated.get()), (1, 1), "WARN at the default level");
        assert_eq!(emu.report().debug_output, ["covmini: warn counted"]);

        set_level(INFO);
        trace!(INFO, "info {}", argument());
        assert_eq!((formatted.get(), evaluated.get()), (2, 2), "INFO at level INFO");
        assert_eq!(
            emu.report().debug_output,
            ["covmini: warn counted", "covmini: info counted"]
        );

        set_level(ERROR);
        trace!(WARN, "warn {}", argument());
        trace!(ERROR, "error {}", argument());
        assert_eq!((formatted.get(), evaluated.get()), (3, 3), "only ERROR at level ERROR");
        assert_eq!(emu.report().debug_output.len(), 3);
        set_level(DEFAULT_LEVEL);
    }
}
