//! Which build of covmini a run drives: the host build (covmini's Rust code
//! linked into this binary, the default) or, with `--sys FILE`, a real
//! kernel image that ndis-emu's PE loader maps into this process (x86_64
//! Linux only; one image per process, which is all the CLI needs).

use std::path::Path;

use ndis_sys::DRIVER_INITIALIZE;

/// The DriverEntry to run and how to name the build in the output.
///
/// # Errors
/// Why the image cannot be loaded, or that this host cannot load one.
pub fn driver_entry(sys: Option<&Path>) -> Result<(DRIVER_INITIALIZE, String), String> {
    match sys {
        None => Ok((covmini::DriverEntry, "host build".to_owned())),
        Some(path) => load(path).map(|entry| (entry, format!("image {}", path.display()))),
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn load(path: &Path) -> Result<DRIVER_INITIALIZE, String> {
    // The mapping stays for the life of the process; the handle need not.
    ndis_emu::loader::Image::load(path)
        .map(|image| image.entry_point())
        .map_err(|e| format!("--sys {}: cannot load the image: {e}", path.display()))
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn load(path: &Path) -> Result<DRIVER_INITIALIZE, String> {
    Err(format!(
        "--sys {}: ndis-emu's PE loader runs on x86_64 Linux only; run the host build (no --sys) here",
        path.display()
    ))
}
