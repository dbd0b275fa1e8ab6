//! Everything the loader decides before it touches memory: the checks that
//! can refuse an image, and the list of what to copy, patch and protect.
//!
//! This part has no `unsafe` and runs before the process-wide "one image"
//! slot is taken, so a refused image leaves the process as it was.

use crate::ffi::table;
use crate::pe::{
    DirectoryEntry, ImportedSymbol, Machine, PeImage, SUBSYSTEM_NATIVE, reloc_type, section_characteristics as scn,
};

use super::error::LoadError;
use super::map::{PAGE, Prot};
use super::{bugcheck, intrinsics};

/// `IMAGE_FILE_RELOCS_STRIPPED`: the image can only run at its `ImageBase`.
const RELOCS_STRIPPED: u16 = 0x0001;
/// Images larger than this are refused (a CoNDIS miniport is ~100 KiB).
const MAX_IMAGE: u32 = 256 << 20;

/// One section to copy and protect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SectionPlan {
    /// Its name, for errors.
    pub(crate) name: String,
    /// Its RVA (page aligned).
    pub(crate) rva: usize,
    /// Bytes it spans in memory (`VirtualSize`).
    pub(crate) extent: usize,
    /// File offset and length of the bytes copied to `rva`; the rest of
    /// `extent` stays zero.
    pub(crate) raw: (usize, usize),
    /// Page protection once loaded.
    pub(crate) prot: Prot,
}

/// What to do to map an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// `SizeOfImage`.
    pub(crate) size_of_image: usize,
    /// `SizeOfHeaders`: file bytes copied to RVA 0.
    pub(crate) size_of_headers: usize,
    /// `ImageBase`: what the relocations assume.
    pub(crate) image_base: u64,
    /// `AddressOfEntryPoint`.
    pub(crate) entry_rva: usize,
    /// The sections, ascending by RVA.
    pub(crate) sections: Vec<SectionPlan>,
    /// RVAs of the 64-bit values to rebase (`IMAGE_REL_BASED_DIR64`).
    pub(crate) dir64: Vec<usize>,
    /// IAT slots to fill: (RVA, address of the implementation).
    pub(crate) bindings: Vec<(usize, usize)>,
    /// The IAT slots by name, `module!name`, ascending by RVA: a crash in
    /// host code names the DDI the image called through its slot.
    pub(crate) import_names: Vec<(usize, String)>,
    /// The named exports (RVA, name), ascending: crash offsets are also
    /// given from the nearest one.
    pub(crate) exports: Vec<(usize, String)>,
}

/// Checks `pe` and plans its mapping.
///
/// # Errors
///
/// The first thing that makes the image unloadable; unresolved imports are
/// collected and reported together.
pub(crate) fn plan(pe: &PeImage<'_>) -> Result<Plan, LoadError> {
    if pe.machine() != Machine::Amd64 {
        return Err(LoadError::WrongMachine(pe.machine()));
    }
    if pe.subsystem() != SUBSYSTEM_NATIVE {
        return Err(LoadError::NotNative {
            subsystem: pe.subsystem(),
        });
    }
    let computed = pe.computed_checksum();
    if pe.checksum() != computed {
        return Err(LoadError::BadChecksum {
            stored: pe.checksum(),
            computed,
        });
    }
    for (entry, what) in [
        (DirectoryEntry::Tls, "thread-local storage"),
        (DirectoryEntry::DelayImport, "delay-load imports"),
        (DirectoryEntry::ComDescriptor, "CLR (.NET) data"),
    ] {
        let directory = pe.data_directory(entry);
        if !directory.is_empty() {
            return Err(LoadError::Unsupported {
                what,
                detail: format!("data directory {} at RVA {:#x}", entry as usize, directory.rva),
            });
        }
    }
    if pe.file_characteristics() & RELOCS_STRIPPED != 0 {
        return Err(LoadError::Unsupported {
            what: "stripped relocations",
            detail: "IMAGE_FILE_RELOCS_STRIPPED: the image can only run at its ImageBase".to_owned(),
        });
    }

    let size_of_image = pe.size_of_image();
    if size_of_image == 0 || size_of_image > MAX_IMAGE {
        return Err(LoadError::BadLayout {
            detail: format!("SizeOfImage {size_of_image:#x} is not between 1 and {MAX_IMAGE:#x}"),
        });
    }
    if !(pe.section_alignment() as usize).is_multiple_of(PAGE) {
        return Err(LoadError::BadLayout {
            detail: format!(
                "SectionAlignment {:#x} is not a multiple of the page size {PAGE:#x}",
                pe.section_alignment()
            ),
        });
    }

    let sections = sections(pe)?;
    let entry_rva = pe.entry_point();
    let in_code = pe
        .section_containing(entry_rva)
        .is_some_and(|s| s.characteristics & scn::MEM_EXECUTE != 0);
    if !in_code {
        return Err(LoadError::EntryPointNotExecutable { rva: entry_rva });
    }

    Ok(Plan {
        size_of_image: size_of_image as usize,
        size_of_headers: pe.size_of_headers() as usize,
        image_base: pe.image_base(),
        entry_rva: entry_rva as usize,
        sections,
        dir64: relocations(pe)?,
        bindings: bindings(pe)?,
        import_names: import_names(pe)?,
        exports: exports(pe)?,
    })
}

/// Every IAT slot with its `module!name` (or `module!#ordinal`).
fn import_names(pe: &PeImage<'_>) -> Result<Vec<(usize, String)>, LoadError> {
    let mut out = Vec::new();
    for module in pe.imports()? {
        for symbol in &module.symbols {
            let name = match *symbol {
                ImportedSymbol::ByName { name, .. } => format!("{}!{name}", module.name),
                ImportedSymbol::ByOrdinal { ordinal, .. } => format!("{}!#{ordinal}", module.name),
            };
            out.push((symbol.iat_rva() as usize, name));
        }
    }
    out.sort();
    Ok(out)
}

/// The named exports that are code or data in the image.
fn exports(pe: &PeImage<'_>) -> Result<Vec<(usize, String)>, LoadError> {
    let mut out: Vec<(usize, String)> = pe
        .exports()?
        .map(|table| {
            table
                .exports
                .iter()
                .filter_map(|e| Some((e.rva()? as usize, e.name?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    Ok(out)
}

/// The sections, each checked for page alignment and W^X.
fn sections(pe: &PeImage<'_>) -> Result<Vec<SectionPlan>, LoadError> {
    let mut out = Vec::new();
    for section in pe.sections() {
        let name = section.name_str().unwrap_or("?").to_owned();
        let c = section.characteristics;
        let (read, write, execute) = (
            c & scn::MEM_READ != 0,
            c & scn::MEM_WRITE != 0,
            c & scn::MEM_EXECUTE != 0,
        );
        if write && execute {
            return Err(LoadError::WritableAndExecutable {
                section: name,
                characteristics: c,
            });
        }
        if !(section.virtual_address as usize).is_multiple_of(PAGE) {
            return Err(LoadError::BadLayout {
                detail: format!(
                    "section `{name}` starts at RVA {:#x}, not on a page boundary",
                    section.virtual_address
                ),
            });
        }
        out.push(SectionPlan {
            name,
            rva: section.virtual_address as usize,
            extent: section.extent() as usize,
            raw: (section.pointer_to_raw_data as usize, section.file_backed_len() as usize),
            prot: Prot { read, write, execute },
        });
    }
    Ok(out)
}

/// The RVAs of the DIR64 relocations; any type but DIR64 and ABSOLUTE is
/// refused.
fn relocations(pe: &PeImage<'_>) -> Result<Vec<usize>, LoadError> {
    let mut out = Vec::new();
    for block in pe.base_relocations()? {
        for relocation in block.entries {
            match relocation.kind {
                reloc_type::ABSOLUTE => {}
                reloc_type::DIR64 => {
                    check_fits(pe, relocation.rva, 8, "DIR64 relocation")?;
                    out.push(relocation.rva as usize);
                }
                kind => {
                    return Err(LoadError::UnsupportedRelocation {
                        kind,
                        rva: relocation.rva,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Binds every import, or lists every one that does not resolve.
fn bindings(pe: &PeImage<'_>) -> Result<Vec<(usize, usize)>, LoadError> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for module in pe.imports()? {
        for symbol in &module.symbols {
            check_fits(pe, symbol.iat_rva(), 8, "import address slot")?;
            // KeBugCheckEx goes through the loader's prologue (`bugcheck`),
            // which adds the image's view, then to the table's.
            let address = match *symbol {
                ImportedSymbol::ByName { name, .. } => bugcheck::resolve(module.name, name)
                    .or_else(|| table::resolve(module.name, name))
                    .or_else(|| intrinsics::resolve(module.name, name)),
                ImportedSymbol::ByOrdinal { .. } => None,
            };
            match (address, symbol) {
                (Some(address), _) => out.push((symbol.iat_rva() as usize, address)),
                (None, ImportedSymbol::ByName { name, .. }) => missing.push(format!("{}!{name}", module.name)),
                (None, ImportedSymbol::ByOrdinal { ordinal, .. }) => {
                    missing.push(format!("{}!#{ordinal}", module.name));
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(LoadError::UnresolvedImports(missing))
    }
}

/// `len` bytes at `rva` lie inside `SizeOfImage`.
fn check_fits(pe: &PeImage<'_>, rva: u32, len: u32, what: &'static str) -> Result<(), LoadError> {
    match rva.checked_add(len) {
        Some(end) if end <= pe.size_of_image() => Ok(()),
        _ => Err(LoadError::OutsideImage { what, rva }),
    }
}
