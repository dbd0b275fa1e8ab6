//! covmini build script (the WDK half arrives with the Windows build).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
