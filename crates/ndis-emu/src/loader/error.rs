//! Why an image could not be loaded.

use core::fmt;

use crate::pe::{Machine, PeError, reloc_type};

/// Why [`Image::load`](super::Image::load) refused or failed an image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// The path given.
        path: String,
        /// What the OS said.
        error: String,
    },
    /// The headers or a table are malformed.
    Pe(PeError),
    /// The image is not for x64.
    WrongMachine(Machine),
    /// The image is not a native (kernel) image.
    NotNative {
        /// Its `Subsystem`.
        subsystem: u16,
    },
    /// The stored checksum is not the computed one (Windows refuses such a
    /// driver).
    BadChecksum {
        /// `CheckSum` as stored.
        stored: u32,
        /// The checksum of the file.
        computed: u32,
    },
    /// The image uses something this loader (and a kernel driver) does not:
    /// TLS, delay-load imports, CLR data, stripped relocations.
    Unsupported {
        /// What it is.
        what: &'static str,
        /// Where the image declares it.
        detail: String,
    },
    /// The image cannot be mapped with per-section page protections.
    BadLayout {
        /// What is wrong.
        detail: String,
    },
    /// A section asks to be writable and executable at once.
    WritableAndExecutable {
        /// The section name.
        section: String,
        /// Its `Characteristics`.
        characteristics: u32,
    },
    /// The entry point does not lie in an executable section.
    EntryPointNotExecutable {
        /// `AddressOfEntryPoint`.
        rva: u32,
    },
    /// A base relocation of a type x64 images do not use.
    UnsupportedRelocation {
        /// The `IMAGE_REL_BASED_*` type.
        kind: u8,
        /// The RVA it applies to.
        rva: u32,
    },
    /// A base relocation or import slot that does not fit in the image.
    OutsideImage {
        /// What it is.
        what: &'static str,
        /// Its RVA.
        rva: u32,
    },
    /// Imports the emulator does not implement, every one of them, as
    /// `module!name` (or `module!#ordinal`).
    UnresolvedImports(Vec<String>),
    /// An image is already loaded in this process (one per process).
    AlreadyLoaded,
    /// mmap, mprotect or sigaction failed.
    Os {
        /// The call.
        call: &'static str,
        /// errno.
        errno: i32,
    },
}

/// The name of an `IMAGE_REL_BASED_*` type.
pub(crate) fn reloc_type_name(kind: u8) -> &'static str {
    match kind {
        reloc_type::ABSOLUTE => "IMAGE_REL_BASED_ABSOLUTE",
        reloc_type::HIGH => "IMAGE_REL_BASED_HIGH",
        reloc_type::LOW => "IMAGE_REL_BASED_LOW",
        reloc_type::HIGHLOW => "IMAGE_REL_BASED_HIGHLOW",
        reloc_type::HIGHADJ => "IMAGE_REL_BASED_HIGHADJ",
        5 => "IMAGE_REL_BASED_MIPS_JMPADDR/ARM_MOV32",
        7 => "IMAGE_REL_BASED_THUMB_MOV32",
        9 => "IMAGE_REL_BASED_MIPS_JMPADDR16",
        reloc_type::DIR64 => "IMAGE_REL_BASED_DIR64",
        _ => "an unknown type",
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, error } => write!(f, "cannot read {path}: {error}"),
            Self::Pe(e) => write!(f, "malformed PE image: {e}"),
            Self::WrongMachine(m) => write!(
                f,
                "the image is for machine {:#06x}, not AMD64 (0x8664): ndis-emu runs x64 images only",
                m.raw()
            ),
            Self::NotNative { subsystem } => {
                write!(
                    f,
                    "the image's subsystem is {subsystem}, not NATIVE (1): not a kernel driver"
                )
            }
            Self::BadChecksum { stored, computed } => write!(
                f,
                "the image checksum is {stored:#010x} but the file's is {computed:#010x}: \
                 Windows refuses to load such a driver"
            ),
            Self::Unsupported { what, detail } => write!(f, "the image uses {what} ({detail}), which is not supported"),
            Self::BadLayout { detail } => write!(f, "the image cannot be mapped: {detail}"),
            Self::WritableAndExecutable {
                section,
                characteristics,
            } => write!(
                f,
                "section `{section}` is both writable and executable (characteristics {characteristics:#010x}): \
                 refused (W^X)"
            ),
            Self::EntryPointNotExecutable { rva } => {
                write!(f, "the entry point RVA {rva:#x} does not lie in an executable section")
            }
            Self::UnsupportedRelocation { kind, rva } => write!(
                f,
                "base relocation of type {kind} ({}) at RVA {rva:#x}: an x64 image uses only \
                 IMAGE_REL_BASED_DIR64 and IMAGE_REL_BASED_ABSOLUTE",
                reloc_type_name(*kind)
            ),
            Self::OutsideImage { what, rva } => write!(f, "the {what} at RVA {rva:#x} lies outside the image"),
            Self::UnresolvedImports(names) => write!(
                f,
                "{} unresolved import(s), not implemented by ndis-emu: {}",
                names.len(),
                names.join(", ")
            ),
            Self::AlreadyLoaded => f.write_str("an image is already loaded in this process (one image per process)"),
            Self::Os { call, errno } => write!(
                f,
                "{call} failed: {} (errno {errno})",
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Pe(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PeError> for LoadError {
    fn from(e: PeError) -> Self {
        Self::Pe(e)
    }
}
