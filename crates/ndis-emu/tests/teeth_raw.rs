//! Teeth of the raw client API's guard (`ndis_emu::ffi::raw::Guarded`): a
//! read one byte past a guarded block kills the process with SIGSEGV, and a
//! read of its last byte does not. Each read runs in a child process (this
//! test binary, re-run on one test with `COVMINI_GUARD_CHILD` set), so the
//! fault the guard exists to cause is observed rather than suffered.

use ndis_emu::Placement;
use ndis_emu::ffi::raw::Guarded;

const CHILD: &str = "COVMINI_GUARD_CHILD";

/// In the child: reads byte `at` of a 27-byte guarded block (27: not a
/// multiple of 8, the case alignment would hide).
#[test]
fn child_reads_the_block() {
    let Some(at) = std::env::var(CHILD).ok().and_then(|s| s.parse::<usize>().ok()) else {
        return; // Run directly: nothing to do.
    };
    let mut g = Guarded::new(&[0x5A; 27], Placement::ExactEnd);
    let p = g.as_mut_ptr().wrapping_add(at);
    // SAFETY: deliberately not, for at = 27: the read the guard must stop.
    // For at < 27 the byte is the block's own.
    let b = unsafe { p.read_volatile() };
    assert_eq!(b, 0x5A);
}

fn child(at: usize) -> std::process::ExitStatus {
    std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "child_reads_the_block", "--test-threads=1", "--quiet"])
        .env(CHILD, at.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the child runs")
}

/// The guard's teeth: the last byte reads, the next one is SIGSEGV.
#[test]
#[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
fn a_read_one_byte_past_a_guarded_block_faults_and_its_last_byte_does_not() {
    use std::os::unix::process::ExitStatusExt;
    assert!(child(26).success(), "the block's last byte is readable");
    assert_eq!(child(27).signal(), Some(11), "one byte past it is SIGSEGV");
}
