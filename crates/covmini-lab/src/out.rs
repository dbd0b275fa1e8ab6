//! Everything the lab prints on stdout goes through here, so a reader that
//! goes away (`covmini-lab run | head -3`) ends the lab quietly instead of
//! panicking in `println!`.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with EPIPE
//! (`ErrorKind::BrokenPipe`). A Unix filter that loses its reader dies of
//! SIGPIPE, which a shell reports as status 128 + 13; the lab exits with
//! that status, without a message (resetting the signal itself would take
//! `unsafe`, which this crate forbids). Any other write error (a full disk)
//! is a failure worth a line on stderr and exit status 1.
//!
//! It owns only that; what is printed is the callers' business.

use std::io::{ErrorKind, Write};

/// The exit status of a lab whose stdout reader went away: 128 + SIGPIPE
/// (13), as a shell reports a filter killed by SIGPIPE.
pub const EXIT_BROKEN_PIPE: i32 = 128 + 13;

/// Writes `text` to stdout and flushes it; exits the process when stdout
/// cannot be written (see the module docs).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if let Err(e) = written {
        drop(out);
        exit_on(&e);
    }
}

/// Ends the process for a failed write to stdout: quietly with
/// [`EXIT_BROKEN_PIPE`] when the reader went away, else with a message and
/// status 1.
fn exit_on(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(EXIT_BROKEN_PIPE);
    }
    eprintln!("covmini-lab: cannot write to stdout: {e}");
    std::process::exit(1);
}
