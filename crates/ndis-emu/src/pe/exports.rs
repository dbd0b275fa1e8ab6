//! The export directory (`IMAGE_EXPORT_DIRECTORY`): the export address table
//! (one RVA per function, indexed by ordinal minus `Base`), and the parallel
//! name pointer and name-ordinal tables that give some functions names.
//! A function RVA inside the export directory itself is a forwarder string
//! (`module.name`), not code.

use super::read::Field;
use super::{DirectoryEntry, PeError, PeImage, read};

/// Field offsets of `IMAGE_EXPORT_DIRECTORY`.
mod field {
    use super::Field;
    pub(super) const NAME: Field = 12..16;
    pub(super) const BASE: Field = 16..20;
    pub(super) const NUMBER_OF_FUNCTIONS: Field = 20..24;
    pub(super) const NUMBER_OF_NAMES: Field = 24..28;
    pub(super) const ADDRESS_OF_FUNCTIONS: Field = 28..32;
    pub(super) const ADDRESS_OF_NAMES: Field = 32..36;
    pub(super) const ADDRESS_OF_NAME_ORDINALS: Field = 36..40;
    pub(super) const SIZE: usize = 40;
}

/// The parsed export directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTable<'a> {
    /// The image's own name as its linker recorded it (`covmini.dll`).
    pub dll_name: &'a str,
    /// `Base`: the ordinal of the first export address table entry.
    pub ordinal_base: u32,
    /// Every export: one entry per name, plus one for each unnamed function.
    /// Empty slots of the export address table are left out.
    pub exports: Vec<Export<'a>>,
}

impl<'a> ExportTable<'a> {
    /// The export named `name`.
    pub fn by_name(&self, name: &str) -> Option<&Export<'a>> {
        self.exports.iter().find(|e| e.name == Some(name))
    }
}

/// One exported function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export<'a> {
    /// Its (biased) ordinal.
    pub ordinal: u32,
    /// Its name, if it has one.
    pub name: Option<&'a str>,
    /// Where it is.
    pub target: ExportTarget<'a>,
}

impl Export<'_> {
    /// The RVA, unless the export is forwarded.
    pub fn rva(&self) -> Option<u32> {
        match self.target {
            ExportTarget::Rva(rva) => Some(rva),
            ExportTarget::Forwarder(_) => None,
        }
    }
}

/// What an export resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTarget<'a> {
    /// Code or data in this image.
    Rva(u32),
    /// Another module's export, as `module.name` or `module.#ordinal`.
    Forwarder(&'a str),
}

impl<'a> PeImage<'a> {
    /// The export table, or `None` if the image exports nothing.
    ///
    /// # Errors
    ///
    /// A [`PeError`] naming the table or string that is outside the file, or
    /// a name whose ordinal index is past `NumberOfFunctions`.
    pub fn exports(&self) -> Result<Option<ExportTable<'a>>, PeError> {
        let directory = self.data_directory(DirectoryEntry::Export);
        if directory.rva == 0 {
            return Ok(None);
        }
        let header = self.struct_at_rva(directory.rva, field::SIZE, "export directory")?;
        let dll_name = self.cstr_at_rva(header.u32(field::NAME)?, "export DLL name")?;
        let ordinal_base = header.u32(field::BASE)?;
        let number_of_functions = header.u32(field::NUMBER_OF_FUNCTIONS)?;
        let number_of_names = header.u32(field::NUMBER_OF_NAMES)?;
        let functions_rva = header.u32(field::ADDRESS_OF_FUNCTIONS)?;
        let names_rva = header.u32(field::ADDRESS_OF_NAMES)?;
        let ordinals_rva = header.u32(field::ADDRESS_OF_NAME_ORDINALS)?;

        // Each table is checked whole before anything is allocated, so the
        // counts cannot ask for more entries than the file holds.
        let functions = self.table(functions_rva, number_of_functions, 4, "export address table")?;
        let names = self.table(names_rva, number_of_names, 4, "export name pointer table")?;
        let ordinals = self.table(ordinals_rva, number_of_names, 2, "export ordinal table")?;

        let mut named: Vec<(u32, &'a str)> = Vec::new();
        let mut name_entry_rva = ordinals_rva;
        for (name_ptr, index) in names.chunks_exact(4).zip(ordinals.chunks_exact(2)) {
            let index = u16::try_from(read::le(index)).unwrap_or(u16::MAX);
            if u32::from(index) >= number_of_functions {
                return Err(PeError::BadExportOrdinal {
                    rva: name_entry_rva,
                    index,
                    number_of_functions,
                });
            }
            let name_rva = u32::try_from(read::le(name_ptr)).unwrap_or(u32::MAX);
            named.push((u32::from(index), self.cstr_at_rva(name_rva, "export name")?));
            name_entry_rva = Self::rva_plus(name_entry_rva, 2, "export ordinal table")?;
        }
        named.sort_by_key(|&(index, _)| index);

        let directory_end = u64::from(directory.rva).saturating_add(u64::from(directory.size));
        let mut exports = Vec::new();
        let mut names_iter = named.into_iter().peekable();
        for (index, entry) in (0u32..).zip(functions.chunks_exact(4)) {
            let rva = u32::try_from(read::le(entry)).unwrap_or(u32::MAX);
            let ordinal = ordinal_base.checked_add(index).ok_or(PeError::Overflow {
                what: "export ordinal",
                at: u64::from(ordinal_base),
            })?;
            let mut these_names = Vec::new();
            while let Some((_, name)) = names_iter.next_if(|&(i, _)| i == index) {
                these_names.push(Some(name));
            }
            if rva == 0 {
                continue; // an unused slot; a name pointing at it resolves to nothing
            }
            let in_directory = u64::from(rva) >= u64::from(directory.rva) && u64::from(rva) < directory_end;
            let target = if in_directory {
                ExportTarget::Forwarder(self.cstr_at_rva(rva, "export forwarder")?)
            } else {
                ExportTarget::Rva(rva)
            };
            if these_names.is_empty() {
                these_names.push(None);
            }
            for name in these_names {
                exports.push(Export { ordinal, name, target });
            }
        }
        Ok(Some(ExportTable {
            dll_name,
            ordinal_base,
            exports,
        }))
    }

    /// The RVA of the export named `name`: `None` if there is no such export
    /// (or it is forwarded).
    ///
    /// # Errors
    ///
    /// As [`exports`](Self::exports).
    pub fn export_rva(&self, name: &str) -> Result<Option<u32>, PeError> {
        Ok(self
            .exports()?
            .and_then(|table| table.by_name(name).and_then(Export::rva)))
    }

    /// `count` entries of `size` bytes at `rva`, checked whole.
    fn table(&self, rva: u32, count: u32, size: usize, what: &'static str) -> Result<&'a [u8], PeError> {
        if count == 0 {
            return Ok(&[]);
        }
        self.bytes_at_rva(rva, read::mul(count, size, what)?, what)
    }
}
