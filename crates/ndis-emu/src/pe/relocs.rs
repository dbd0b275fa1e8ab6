//! The base relocation directory (`.reloc`): blocks of
//! `IMAGE_BASE_RELOCATION { PageRVA, SizeOfBlock }` each followed by 16-bit
//! entries, type in the top 4 bits and page offset in the low 12. A loader
//! that maps the image away from `ImageBase` adds the difference at each
//! entry's RVA.

use super::read::Field;
use super::{DirectoryEntry, PeError, PeImage, read};

/// Field offsets of `IMAGE_BASE_RELOCATION`.
mod field {
    use super::Field;
    pub(super) const PAGE_RVA: Field = 0..4;
    pub(super) const SIZE_OF_BLOCK: Field = 4..8;
    pub(super) const SIZE: usize = 8;
}

/// `IMAGE_REL_BASED_*` relocation types found in images.
pub mod reloc_type {
    /// Padding; the loader skips it.
    pub const ABSOLUTE: u8 = 0;
    /// The high 16 bits of a 32-bit address.
    pub const HIGH: u8 = 1;
    /// The low 16 bits of a 32-bit address.
    pub const LOW: u8 = 2;
    /// A 32-bit address.
    pub const HIGHLOW: u8 = 3;
    /// High 16 bits adjusted by the following entry.
    pub const HIGHADJ: u8 = 4;
    /// A 64-bit address (the only type x64 and ARM64 images use).
    pub const DIR64: u8 = 10;
}

/// One base relocation block: the relocations of one 4 KiB page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocationBlock {
    /// `PageRVA`.
    pub page_rva: u32,
    /// Its entries in order, padding ([`reloc_type::ABSOLUTE`]) included.
    pub entries: Vec<Relocation>,
}

/// One base relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relocation {
    /// The type (see [`reloc_type`]).
    pub kind: u8,
    /// RVA of the value to adjust.
    pub rva: u32,
}

impl PeImage<'_> {
    /// The base relocation blocks. Empty if the image has none.
    ///
    /// # Errors
    ///
    /// [`PeError::BadRelocationBlock`] for a block smaller than its header,
    /// of odd size or running past the directory; a [`PeError`] for one
    /// outside the file.
    pub fn base_relocations(&self) -> Result<Vec<RelocationBlock>, PeError> {
        let directory = self.data_directory(DirectoryEntry::BaseReloc);
        let mut blocks = Vec::new();
        if directory.rva == 0 || directory.size == 0 {
            return Ok(blocks);
        }
        let mut done: u32 = 0;
        while done < directory.size {
            let block_rva = read::add_rva(directory.rva, done as usize, "relocation block")?;
            let header = self.struct_at_rva(block_rva, field::SIZE, "relocation block")?;
            let page_rva = header.u32(field::PAGE_RVA)?;
            let size = header.u32(field::SIZE_OF_BLOCK)?;
            let remaining = directory.size.saturating_sub(done);
            if (size as usize) < field::SIZE || !size.is_multiple_of(2) || size > remaining {
                return Err(PeError::BadRelocationBlock { rva: block_rva, size });
            }
            let entries_rva = read::add_rva(block_rva, field::SIZE, "relocation entries")?;
            let entries_len = (size as usize).saturating_sub(field::SIZE);
            let raw = self.bytes_at_rva(entries_rva, entries_len, "relocation entries")?;
            let mut entries = Vec::new();
            for entry in raw.chunks_exact(2) {
                let value = read::le(entry);
                let offset = u32::try_from(value & 0x0fff).unwrap_or_default();
                entries.push(Relocation {
                    kind: u8::try_from(value >> 12).unwrap_or(u8::MAX),
                    rva: page_rva.checked_add(offset).ok_or(PeError::Overflow {
                        what: "relocation RVA",
                        at: u64::from(page_rva),
                    })?,
                });
            }
            blocks.push(RelocationBlock { page_rva, entries });
            done = done.saturating_add(size);
        }
        Ok(blocks)
    }
}
