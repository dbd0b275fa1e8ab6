//! Debug output: fixed, NUL-terminated messages through `DbgPrintEx` under
//! `DPFLTR_IHVNETWORK_ID` (`ed nt!Kd_IHVNETWORK_Mask 0xf` in WinDbg shows
//! them). No formatting machinery: the skeleton prints constant messages
//! only, with `%s`, so no message is ever read as a format string.
//!
//! Must not: allocate, block, or be given a string without its NUL.

use core::ffi::CStr;

use ndis_sys::{DPFLTR_IHVNETWORK_ID, DbgPrintEx};

pub(crate) use ndis_sys::{DPFLTR_ERROR_LEVEL as ERROR, DPFLTR_INFO_LEVEL as INFO};

/// `trace!(LEVEL, c"message")`: one line, prefixed `covclient: `.
macro_rules! trace {
    ($level:expr, $msg:expr) => {
        $crate::ffi::trace::print($level, $msg)
    };
}

/// Prints `msg` at `level`. Any IRQL (DbgPrintEx \[D\]).
pub(crate) fn print(level: u32, msg: &'static CStr) {
    // SAFETY: both strings are NUL-terminated and 'static; the format
    // consumes exactly one `%s` argument, which is passed; DbgPrintEx may be
    // called at any IRQL.
    unsafe {
        DbgPrintEx(
            DPFLTR_IHVNETWORK_ID,
            level,
            c"covclient: %s\n".as_ptr().cast(),
            msg.as_ptr(),
        );
    }
}
