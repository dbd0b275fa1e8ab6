//! Build script of covclient.
//!
//! Linux cross build and host build: nothing to do. Windows with the WDK
//! (feature `wdk`, `cargo build -p covclient --features wdk --config
//! .cargo/kernel-wdk.toml` in an eWDK prompt, with `RUSTFLAGS=-C
//! target-feature=+crt-static`, which wdk-build requires and covmini's
//! Makefile.toml sets): wdk-build configures the WDM kernel-image link from
//! `[package.metadata.wdk]`, as for covmini. Not run here (no Windows host);
//! no cargo-make package task exists for covclient yet (no INF). There is
//! no layout check here yet: covmini's build.rs checks its structures against
//! the WDK with bindgen; covclient's (ndis-sys `protocol`, `device`) are not
//! in that table yet.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(all(windows, feature = "wdk"))]
    wdk_build::configure_wdk_binary_build()?;
    Ok(())
}
