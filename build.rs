//! Build script of the covmini driver package.
//!
//! Three builds of one driver (docs/windows.md, shared/architecture.md):
//!
//! * Host build and the kernel cross build on Linux (builds 1 and 2): nothing
//!   to do. The build script only re-checks that build/layout_table.rs is
//!   well formed; it emits no link arguments, cfgs or files. No wdk crate is
//!   compiled: they are `cfg(windows)` dependencies (the host, for a build
//!   dependency) and the driver's ones sit behind the cargo feature `wdk`.
//! * Windows with the WDK (build 3: `cargo make` on Windows, feature `wdk`):
//!   1. wdk-build configures the kernel-image link (`/DRIVER`, `/KERNEL`,
//!      `/ENTRY:DriverEntry`, ... and the WDK library paths) and the
//!      `driver_model__driver_type` cfg, from `[package.metadata.wdk]`;
//!   2. bindgen runs over the WDK's `ndis.h` (patched, see
//!      build/wdk_layout.rs) and `OUT_DIR/wdk_layout_check.rs` receives
//!      compile-time assertions that every type in build/layout_table.rs has
//!      the WDK's size, alignment and field offsets in `ndis-sys`. The driver
//!      includes that file under `cfg(all(windows, feature = "wdk"))`.
//!
//! `cfg(windows)` here is the *host* (a build script runs on the host); the
//! target is `CARGO_CFG_TARGET_OS`. The `wdk` feature reaches a build script
//! both as `cfg(feature = "wdk")` and as `CARGO_FEATURE_WDK`.

#[cfg_attr(
    not(all(windows, feature = "wdk")),
    allow(
        dead_code,
        reason = "read by the WDK layout check, compiled only on Windows with feature `wdk`"
    )
)]
#[path = "build/layout_table.rs"]
mod layout_table;

#[cfg(all(windows, feature = "wdk"))]
#[path = "build/wdk_layout.rs"]
mod wdk_layout;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=build/layout_table.rs");
    layout_table::validate()?;

    #[cfg(all(windows, feature = "wdk"))]
    wdk::build()?;

    Ok(())
}

/// Build 3: the Windows WDK build.
#[cfg(all(windows, feature = "wdk"))]
mod wdk {
    use std::{
        env,
        error::Error,
        fs,
        path::{Path, PathBuf},
    };

    use wdk_build::{BuilderExt as _, Config};

    use crate::{layout_table::View, wdk_layout};

    /// Configures the kernel-image link and writes the layout check.
    pub(crate) fn build() -> Result<(), Box<dyn Error>> {
        println!("cargo::rerun-if-changed=build/wdk_layout.rs");
        // wdk-build finds the WDK through WDKContentRoot (set by the eWDK
        // prompt) or the registry; bindgen loads libclang from LIBCLANG_PATH
        // or PATH.
        println!("cargo::rerun-if-env-changed=WDKContentRoot");
        println!("cargo::rerun-if-env-changed=LIBCLANG_PATH");

        let target_os = env::var("CARGO_CFG_TARGET_OS")?;
        let target_env = env::var("CARGO_CFG_TARGET_ENV")?;
        if target_os != "windows" || target_env != "msvc" {
            return Err(format!(
                "the `wdk` feature builds the Windows kernel image: the target must be \
                 x86_64-pc-windows-msvc or aarch64-pc-windows-msvc (got {target_os}/{target_env})"
            )
            .into());
        }

        // 1. What `wdk_build::configure_wdk_binary_build()` does, in its two
        //    steps, so the Config can be reused for bindgen below: read
        //    `[package.metadata.wdk.driver-model]` (driver-type = "WDM"), then
        //    emit the WDM link arguments, library paths and cfgs. It fails
        //    unless `-C target-feature=+crt-static` is set (Makefile.toml sets
        //    RUSTFLAGS on Windows).
        let config = Config::from_env_auto()?;
        config.configure_binary_build()?;

        // 2. The layout check.
        let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
        let ndis_h = config
            .include_paths()?
            .map(|dir| dir.join("ndis.h"))
            .find(|path| path.is_file())
            .ok_or("ndis.h is not in any include directory of the WDK (Include/<version>/km)")?;
        println!("cargo::rerun-if-changed={}", ndis_h.display());

        let include_dir = out_dir.join(wdk_layout::INCLUDE_DIR);
        fs::create_dir_all(&include_dir)?;
        let (patched, count) = wdk_layout::patch_ndis_h(&fs::read(&ndis_h)?)?;
        if count == 0 {
            println!(
                "cargo::warning={} no longer defines NDIS_API_VERSION_AVAILABLE the way \
                 build/wdk_layout.rs patches; using it unpatched",
                ndis_h.display()
            );
        }
        write_if_changed(&include_dir.join("ndis.h"), &patched)?;

        let origin = ndis_h.display().to_string();
        let mut bindings = Vec::new();
        for view in View::ALL {
            let header = include_dir.join(wdk_layout::header_name(view));
            write_if_changed(&header, wdk_layout::wrapper_header(view, &origin).as_bytes())?;
            // wdk_default: the WDK include paths (km/crt, km, shared), the
            // target's defines (_AMD64_/AMD64/_WIN64 or _ARM64_/ARM64, and
            // _KERNEL_MODE for WDM) and the MSVC-compatibility flags. Only the
            // enum is generated.
            let generated = bindgen::Builder::wdk_default(&config)?
                .header(header.to_str().ok_or("OUT_DIR is not valid UTF-8")?)
                .allowlist_item(wdk_layout::ENUM)
                .constified_enum_module(wdk_layout::ENUM)
                .layout_tests(false)
                .generate()?;
            bindings.push((view, generated.to_string()));
        }

        let provenance = format!(
            "From {origin} for {} (views: {}).",
            env::var("TARGET")?,
            View::ALL.map(View::name).join(", ")
        );
        write_if_changed(
            &out_dir.join(wdk_layout::CHECK_FILE),
            wdk_layout::check_file(&bindings, &provenance).as_bytes(),
        )?;
        Ok(())
    }

    /// Writes `contents` unless the file already holds them, so unchanged
    /// outputs keep their timestamps (bindgen reports the headers it read as
    /// `rerun-if-changed`, including the ones written here).
    fn write_if_changed(path: &Path, contents: &[u8]) -> std::io::Result<()> {
        if fs::read(path).is_ok_and(|existing| existing == contents) {
            return Ok(());
        }
        fs::write(path, contents)
    }
}
