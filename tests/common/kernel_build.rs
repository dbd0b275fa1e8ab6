//! Building the kernel images once per test process, for the test files that
//! inspect the release images (privileged.rs, natvis.rs; kernel_image.rs
//! builds both profiles on its own). Included with
//! `#[path = "common/kernel_build.rs"] mod kernel_build;`, not through
//! `mod common;`: a file that has `mod common;` is also run against the
//! loaded image by scripts/test.sh, which these files have no use for.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/build-kernel.sh all` once per test process (it does nothing
/// when the images are up to date) and returns what it printed on stdout:
/// the path of each image it built. Panics with its whole output if it fails.
pub fn build_kernel_images() -> &'static str {
    static BUILT: OnceLock<Result<String, String>> = OnceLock::new();
    let result = BUILT.get_or_init(|| {
        let script = repo().join("scripts/build-kernel.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg("all")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "scripts/build-kernel.sh all failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    match result {
        Ok(stdout) => stdout,
        Err(message) => panic!("{message}"),
    }
}
