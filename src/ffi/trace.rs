//! Debug output: `DbgPrintEx` under `DPFLTR_IHVNETWORK_ID`, so WinDbg shows
//! it with `ed nt!Kd_IHVNETWORK_Mask 0xf` and ndis-emu records it in its
//! trace. Lines are formatted into a fixed stack buffer (no allocation; a long
//! line is cut, never an error) and printed with `%.*s`, so no driver text is
//! ever interpreted as a format string.

use core::fmt::{self, Write};
use ndis_sys::{DPFLTR_IHVNETWORK_ID, DbgPrintEx, ULONG};

pub(crate) use ndis_sys::{DPFLTR_ERROR_LEVEL as ERROR, DPFLTR_INFO_LEVEL as INFO, DPFLTR_WARNING_LEVEL as WARN};

const LINE_CAPACITY: usize = 192;

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

/// Prints one line at `level`. Callable at IRQL <= DISPATCH_LEVEL (DbgPrintEx
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

/// `trace!(LEVEL, "fmt", args…)`: one line of debug output.
macro_rules! trace {
    ($level:expr, $($arg:tt)*) => {
        $crate::ffi::trace::emit($level, format_args!($($arg)*))
    };
}
