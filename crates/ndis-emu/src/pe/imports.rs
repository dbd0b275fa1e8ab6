//! The import directory: an array of `IMAGE_IMPORT_DESCRIPTOR`, one per
//! module, ended by an all-zero descriptor. Each names its module and points
//! at a lookup table (ILT, `OriginalFirstThunk`) and the import address table
//! (IAT, `FirstThunk`) that the loader fills; in PE32+ both are arrays of
//! 64-bit entries ended by zero.

use super::read::Field;
use super::{DirectoryEntry, PeError, PeImage};

/// Field offsets of `IMAGE_IMPORT_DESCRIPTOR`.
mod field {
    use super::Field;
    pub(super) const ORIGINAL_FIRST_THUNK: Field = 0..4;
    pub(super) const NAME: Field = 12..16;
    pub(super) const FIRST_THUNK: Field = 16..20;
    pub(super) const SIZE: usize = 20;
}

/// PE32+ lookup entries are eight bytes.
const THUNK_SIZE: usize = 8;
/// `IMAGE_ORDINAL_FLAG64`: the entry is an ordinal, not a name.
const ORDINAL_FLAG: u64 = 1 << 63;
/// Bits an ordinal entry may use besides the flag.
const ORDINAL_MASK: u64 = 0xffff;
/// Bits a name entry (an RVA of `IMAGE_IMPORT_BY_NAME`) may use.
const NAME_RVA_MASK: u64 = 0x7fff_ffff;

/// One module the image imports from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedModule<'a> {
    /// The module name as written (`ndis.sys`, `ntoskrnl.exe`).
    pub name: &'a str,
    /// RVA of the module's IAT: the slots the loader fills, one per symbol.
    pub iat_rva: u32,
    /// The symbols, in IAT order.
    pub symbols: Vec<ImportedSymbol<'a>>,
}

/// One imported symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportedSymbol<'a> {
    /// Imported by name (`IMAGE_IMPORT_BY_NAME`).
    ByName {
        /// The export name.
        name: &'a str,
        /// Index into the exporter's name table to try first.
        hint: u16,
        /// RVA of the IAT slot to fill with its address.
        iat_rva: u32,
    },
    /// Imported by ordinal.
    ByOrdinal {
        /// The (biased) export ordinal.
        ordinal: u16,
        /// RVA of the IAT slot to fill with its address.
        iat_rva: u32,
    },
}

impl<'a> ImportedSymbol<'a> {
    /// The name, for symbols imported by name.
    pub fn name(&self) -> Option<&'a str> {
        match *self {
            ImportedSymbol::ByName { name, .. } => Some(name),
            ImportedSymbol::ByOrdinal { .. } => None,
        }
    }

    /// RVA of the IAT slot.
    pub fn iat_rva(&self) -> u32 {
        match *self {
            ImportedSymbol::ByName { iat_rva, .. } | ImportedSymbol::ByOrdinal { iat_rva, .. } => iat_rva,
        }
    }
}

impl<'a> PeImage<'a> {
    /// The import table: every module and its symbols. Empty if the image
    /// has no import directory.
    ///
    /// # Errors
    ///
    /// A [`PeError`] naming the descriptor, table entry or string that is
    /// outside the file, unterminated, or has reserved bits set.
    pub fn imports(&self) -> Result<Vec<ImportedModule<'a>>, PeError> {
        let directory = self.data_directory(DirectoryEntry::Import);
        let mut modules = Vec::new();
        if directory.rva == 0 {
            return Ok(modules);
        }
        let mut descriptor_rva = directory.rva;
        loop {
            let descriptor = self.struct_at_rva(descriptor_rva, field::SIZE, "import descriptor")?;
            let lookup_rva = descriptor.u32(field::ORIGINAL_FIRST_THUNK)?;
            let name_rva = descriptor.u32(field::NAME)?;
            let iat_rva = descriptor.u32(field::FIRST_THUNK)?;
            if descriptor.bytes(0..field::SIZE)?.iter().all(|&b| b == 0) {
                break;
            }
            let name = self.cstr_at_rva(name_rva, "import module name")?;
            // Without an ILT (old linkers) the IAT holds the lookup entries.
            let table_rva = if lookup_rva != 0 { lookup_rva } else { iat_rva };
            let symbols = self.import_symbols(table_rva, iat_rva)?;
            modules.push(ImportedModule { name, iat_rva, symbols });
            descriptor_rva = Self::rva_plus(descriptor_rva, field::SIZE, "import descriptor")?;
        }
        Ok(modules)
    }

    /// The symbols of one module, read from its lookup table at `table_rva`;
    /// slot `i` of the IAT at `iat_rva` receives symbol `i`.
    fn import_symbols(&self, table_rva: u32, iat_rva: u32) -> Result<Vec<ImportedSymbol<'a>>, PeError> {
        let mut symbols = Vec::new();
        let mut entry_rva = table_rva;
        let mut slot_rva = iat_rva;
        loop {
            let entry = self.struct_at_rva(entry_rva, THUNK_SIZE, "import lookup entry")?;
            let value = entry.u64(0..THUNK_SIZE)?;
            if value == 0 {
                break;
            }
            let symbol = if value & ORDINAL_FLAG != 0 {
                if value & !(ORDINAL_FLAG | ORDINAL_MASK) != 0 {
                    return Err(PeError::BadImportThunk { rva: entry_rva, value });
                }
                ImportedSymbol::ByOrdinal {
                    ordinal: u16::try_from(value & ORDINAL_MASK).unwrap_or(u16::MAX),
                    iat_rva: slot_rva,
                }
            } else {
                if value & !NAME_RVA_MASK != 0 {
                    return Err(PeError::BadImportThunk { rva: entry_rva, value });
                }
                let hint_rva = u32::try_from(value).unwrap_or(u32::MAX);
                let hint = self.struct_at_rva(hint_rva, 2, "import hint")?.u16(0..2)?;
                let name_rva = Self::rva_plus(hint_rva, 2, "import name")?;
                let name = self.cstr_at_rva(name_rva, "import name")?;
                ImportedSymbol::ByName {
                    name,
                    hint,
                    iat_rva: slot_rva,
                }
            };
            symbols.push(symbol);
            entry_rva = Self::rva_plus(entry_rva, THUNK_SIZE, "import lookup entry")?;
            slot_rva = Self::rva_plus(slot_rva, THUNK_SIZE, "import address slot")?;
        }
        Ok(symbols)
    }
}
