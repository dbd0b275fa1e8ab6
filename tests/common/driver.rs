//! Which build of covmini a test drives: the host build (covmini's Rust code
//! linked into the test, the default) or, with `COVMINI_SYS=<path>`, the
//! real kernel image at that path, loaded by ndis-emu's PE loader (x86_64
//! Linux only). A test that brings covmini up with
//! `emu.load(common::driver::driver_entry())` runs against either:
//!
//! ```text
//! scripts/build-kernel.sh x64
//! COVMINI_SYS=target/kernel/x64/covmini.sys cargo test -p covmini --test <name>
//! ```
//!
//! The image is loaded once per test process (one image per process) and
//! stays mapped; every `Emulator` in the process then runs the same image,
//! as every emulator runs the same host build otherwise. A test that reads
//! covmini's Rust items directly (constants, tables) still gets the host
//! build's values: they are the same source.

use ndis_sys::DRIVER_INITIALIZE;

/// The environment variable naming a kernel image to drive instead of the
/// host build.
pub const COVMINI_SYS: &str = "COVMINI_SYS";

/// covmini's DriverEntry: the host build's, or the entry point of the image
/// named by `COVMINI_SYS`.
///
/// # Panics
///
/// If `COVMINI_SYS` is set and the image cannot be loaded (the loader's
/// error says why), or on a host the loader does not run on.
pub fn driver_entry() -> DRIVER_INITIALIZE {
    match std::env::var_os(COVMINI_SYS) {
        None => covmini::DriverEntry,
        Some(path) => image_entry(std::path::Path::new(&path)),
    }
}

/// The loaded image's entry point, loading it on first use.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn image_entry(path: &std::path::Path) -> DRIVER_INITIALIZE {
    use std::sync::OnceLock;

    use ndis_emu::loader::Image;

    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            Image::load(path).unwrap_or_else(|e| panic!("{COVMINI_SYS}={}: cannot load: {e}", path.display()))
        })
        .entry_point()
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn image_entry(path: &std::path::Path) -> DRIVER_INITIALIZE {
    panic!(
        "{COVMINI_SYS}={}: ndis-emu's PE loader runs on x86_64 Linux only",
        path.display()
    )
}
