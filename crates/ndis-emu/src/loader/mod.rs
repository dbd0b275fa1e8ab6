//! The PE loader: runs a real kernel image (`covmini.sys`, built for
//! `x86_64-pc-windows-msvc`) in this process.
//!
//! [`Image::load`] does what the Windows memory manager does for a driver,
//! then hands back its entry point for [`Emulator::load`](crate::Emulator::load):
//!
//! 1. parse with [`pe::PeImage`](crate::pe::PeImage) and check: PE32+, AMD64,
//!    native subsystem, a correct checksum; no TLS, delay-load imports or CLR
//!    data; page-aligned sections, none both writable and executable; only
//!    `DIR64`/`ABSOLUTE` relocations; every import implemented (the error
//!    lists every one that is not, as `module!name`);
//! 2. map `SizeOfImage` bytes (anonymous, read-write) and copy the headers
//!    and sections;
//! 3. rebase every `DIR64` value to the actual load address;
//! 4. fill the IAT from [`ffi::table`](crate::ffi::table), the same functions
//!    the host build links against, plus the compiler intrinsics the image
//!    imports from `ntoskrnl.exe` (`intrinsics`);
//! 5. protect each section as its characteristics say, W^X: `.text` RX,
//!    `.rdata` R, `.data` RW, the headers R, any gap no access;
//! 6. install the crash handler (`crash`): a fault inside the image prints
//!    `covmini.sys+0x<offset>` with its section and nearest export, the
//!    registers, and what the emulator knows (the running handler, the NDIS
//!    handles and pool blocks involved with their histories, the violations
//!    and the last events); a fault in a DDI the image called is reported as
//!    such (which import, called from which image offset); both exit with
//!    [`CRASH_EXIT_CODE`]. The image's `KeBugCheckEx` is bound through
//!    `bugcheck`, which adds the call site and decodes covmini's `'RPNC'`
//!    (panic: file, line, column) and `'RUNW'` codes before the emulator's
//!    own report (exit code 101).
//!
//! Step 1 happens before anything is mapped, so a refused image leaves the
//! process untouched. **One image per process**: it is never unloaded (the
//! emulator holds pointers to its handlers, the crash handler its map), and
//! a second load is [`LoadError::AlreadyLoaded`]. Tests that load an image
//! run it in a child process each (the test binary re-run filtered to one
//! ignored `child_*` test: `crates/ndis-emu/tests/loader.rs`), which needs
//! nothing beyond `cargo test` and lets the parent assert on a crash's
//! output and exit status; cargo-nextest's process-per-test would give the
//! isolation but not the crash assertions. The scenario suite against the
//! image (`COVMINI_SYS`) loads it once per test binary and shares it between
//! that binary's tests (tests/common/driver.rs).
//!
//! x86_64 Linux only.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]
#![allow(unsafe_code)]

mod bugcheck;
mod context;
mod crash;
mod error;
mod intrinsics;
mod map;
mod plan;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ndis_sys::DRIVER_INITIALIZE;

use crate::pe::PeImage;

pub use bugcheck::{RUST_PANIC, RUST_UNWIND};
pub use crash::{CRASH_EXIT_CODE, ensure_alt_stack};
pub use error::LoadError;
use map::{Mapping, PAGE, Prot, page_up};

/// Set once an image is being, or has been, mapped in this process.
static LOADED: AtomicBool = AtomicBool::new(false);

/// A kernel image mapped into this process, relocated, bound and protected.
///
/// Its memory stays mapped for the life of the process.
#[derive(Debug, Clone)]
pub struct Image {
    name: String,
    base: usize,
    size: usize,
    entry: usize,
    image_base: u64,
}

impl Image {
    /// Reads the file at `path` and loads it (see the [module docs](self)).
    /// The image is named by its file name in crash reports.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] saying why the file cannot be read or loaded.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        let name = path
            .file_name()
            .map_or_else(|| "image".to_owned(), |n| n.to_string_lossy().into_owned());
        Self::load_bytes(&name, &bytes)
    }

    /// Loads an image from its file's `bytes`, named `name` in crash reports.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] saying why the image cannot be loaded.
    pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Self, LoadError> {
        let pe = PeImage::parse(bytes)?;
        let plan = plan::plan(&pe)?;
        if LOADED.swap(true, Ordering::AcqRel) {
            return Err(LoadError::AlreadyLoaded);
        }
        match map(&plan, bytes, name) {
            Ok(image) => Ok(image),
            Err(e) => {
                // Nothing of the image is left mapped: let a later load try.
                LOADED.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Checks `bytes` as [`load_bytes`](Self::load_bytes) would, without
    /// mapping anything (any number of times per process).
    ///
    /// # Errors
    ///
    /// The [`LoadError`] a load would fail with before mapping.
    pub fn check(bytes: &[u8]) -> Result<(), LoadError> {
        let pe = PeImage::parse(bytes)?;
        plan::plan(&pe).map(|_| ())
    }

    /// `DriverEntry`, for [`Emulator::load`](crate::Emulator::load).
    #[must_use]
    pub fn entry_point(&self) -> DRIVER_INITIALIZE {
        // SAFETY: `entry` is the image's AddressOfEntryPoint, checked to lie
        // in an executable section of a mapping that is never unmapped; for a
        // driver it is DriverEntry, which has this signature and ABI (the
        // image declares it with /ENTRY:DriverEntry; nothing in the file can
        // prove the signature, as with any loader).
        unsafe { core::mem::transmute::<usize, DRIVER_INITIALIZE>(self.entry) }
    }

    /// The file name it was loaded from (or the name given).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address it is loaded at.
    #[must_use]
    pub fn base(&self) -> usize {
        self.base
    }

    /// `SizeOfImage`.
    #[must_use]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The `ImageBase` it was linked for (the relocations moved it to
    /// [`base`](Self::base)).
    #[must_use]
    pub fn image_base(&self) -> u64 {
        self.image_base
    }

    /// The offset of `address` in the image (its RVA), if it lies inside.
    #[must_use]
    pub fn offset_of(&self, address: usize) -> Option<usize> {
        address.checked_sub(self.base).filter(|&o| o < self.size)
    }

    /// The address of `rva`, if it lies inside the image.
    #[must_use]
    pub fn address_of(&self, rva: usize) -> Option<usize> {
        (rva < self.size).then(|| self.base.wrapping_add(rva))
    }
}

/// Steps 2 to 6: map, copy, relocate, bind, protect, watch.
fn map(plan: &plan::Plan, bytes: &[u8], name: &str) -> Result<Image, LoadError> {
    let mut memory = Mapping::new(plan.size_of_image)?;
    let headers = bytes.get(..plan.size_of_headers).unwrap_or_default();
    memory.write(0, headers, "headers")?;
    for section in &plan.sections {
        let (offset, len) = section.raw;
        let raw = offset
            .checked_add(len)
            .and_then(|end| bytes.get(offset..end))
            .ok_or(LoadError::BadLayout {
                detail: format!("section `{}` raw data is outside the file", section.name),
            })?;
        memory.write(section.rva, raw, "section data")?;
    }

    let base = memory.base();
    let delta = (base as u64).wrapping_sub(plan.image_base);
    for &rva in &plan.dir64 {
        let value = memory.read_u64(rva, "DIR64 relocation")?;
        memory.write_u64(rva, value.wrapping_add(delta), "DIR64 relocation")?;
    }
    for &(rva, address) in &plan.bindings {
        memory.write_u64(rva, address as u64, "import address slot")?;
    }

    memory.protect(0, memory.len(), Prot::default())?;
    memory.protect(0, page_up(plan.size_of_headers.max(1)), Prot::READ)?;
    for section in &plan.sections {
        if section.extent != 0 {
            memory.protect(section.rva, section.extent, section.prot)?;
        }
    }
    debug_assert!(plan.sections.iter().all(|s| s.rva % PAGE == 0));

    crash::install(crash::ImageMap {
        name: name.to_owned(),
        base,
        size: plan.size_of_image,
        sections: plan
            .sections
            .iter()
            .map(|s| crash::SectionInfo {
                name: s.name.clone(),
                rva: s.rva,
                extent: s.extent,
                prot: s.prot,
            })
            .collect(),
        exports: plan.exports.clone(),
        imports: plan.import_names.clone(),
    })?;
    let image = Image {
        name: name.to_owned(),
        base,
        size: plan.size_of_image,
        entry: base.wrapping_add(plan.entry_rva),
        image_base: plan.image_base,
    };
    let _ = memory.leak();
    Ok(image)
}
