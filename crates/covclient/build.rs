//! Build script of covclient.
//!
//! Linux cross build and host build: nothing to do. Windows with the WDK
//! (feature `wdk`, `cargo build -p covclient --features wdk --config
//! .cargo/kernel-wdk.toml` in an eWDK prompt, with `RUSTFLAGS=-C
//! target-feature=+crt-static`, which wdk-build requires and covmini's
//! Makefile.toml sets): wdk-build configures the WDM kernel-image link from
//! `[package.metadata.wdk]`, as for covmini. Not run here (no Windows host).
//! `cargo make covclient` (Makefile.toml) runs that build; there is no
//! package task yet (no INF). No layout check here: covmini's build.rs
//! checks every ndis-sys structure against the WDK with bindgen, covclient's
//! (ndis-sys `protocol`, `device`) included (build/layout_table.rs).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(all(windows, feature = "wdk"))]
    wdk_build::configure_wdk_binary_build()?;
    Ok(())
}
