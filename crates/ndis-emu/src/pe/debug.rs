//! The debug directory: an array of `IMAGE_DEBUG_DIRECTORY`. The CodeView
//! entry points at an `RSDS` record (GUID, age, PDB path) that debuggers
//! match against the `.pdb`.

use super::read::Field;
use super::{DirectoryEntry, PeError, PeImage, read};

/// Field offsets of `IMAGE_DEBUG_DIRECTORY`.
mod field {
    use super::Field;
    pub(super) const CHARACTERISTICS: Field = 0..4;
    pub(super) const TIME_DATE_STAMP: Field = 4..8;
    pub(super) const MAJOR_VERSION: Field = 8..10;
    pub(super) const MINOR_VERSION: Field = 10..12;
    pub(super) const TYPE: Field = 12..16;
    pub(super) const SIZE_OF_DATA: Field = 16..20;
    pub(super) const ADDRESS_OF_RAW_DATA: Field = 20..24;
    pub(super) const POINTER_TO_RAW_DATA: Field = 24..28;
    pub(super) const SIZE: usize = 28;
}

/// Field offsets of the `RSDS` CodeView record.
mod rsds {
    use super::Field;
    pub(super) const SIGNATURE: Field = 0..4;
    pub(super) const GUID: Field = 4..20;
    pub(super) const AGE: Field = 20..24;
    pub(super) const PATH: usize = 24;
    pub(super) const MAGIC: &[u8; 4] = b"RSDS";
}

/// `IMAGE_DEBUG_TYPE_CODEVIEW`.
pub const DEBUG_TYPE_CODEVIEW: u32 = 2;

/// One `IMAGE_DEBUG_DIRECTORY` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugEntry {
    /// `Characteristics` (reserved).
    pub characteristics: u32,
    /// `TimeDateStamp`.
    pub time_date_stamp: u32,
    /// `MajorVersion`.
    pub major_version: u16,
    /// `MinorVersion`.
    pub minor_version: u16,
    /// `Type` (`IMAGE_DEBUG_TYPE_*`, [`DEBUG_TYPE_CODEVIEW`] for PDB info).
    pub kind: u32,
    /// `SizeOfData`.
    pub size_of_data: u32,
    /// `AddressOfRawData`: RVA of the data when mapped (0 if not mapped).
    pub address_of_raw_data: u32,
    /// `PointerToRawData`: file offset of the data.
    pub pointer_to_raw_data: u32,
}

/// The `RSDS` CodeView record: which PDB matches the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeView<'a> {
    /// The PDB GUID, as stored.
    pub guid: [u8; 16],
    /// The PDB age.
    pub age: u32,
    /// The PDB path the linker wrote.
    pub pdb_path: &'a str,
}

impl<'a> PeImage<'a> {
    /// The debug directory entries. Empty if the image has none.
    ///
    /// # Errors
    ///
    /// [`PeError::BadDebugDirectorySize`] if the size is not a whole number
    /// of entries, or a [`PeError`] if the directory is outside the file.
    pub fn debug_entries(&self) -> Result<Vec<DebugEntry>, PeError> {
        let directory = self.data_directory(DirectoryEntry::Debug);
        let mut entries = Vec::new();
        if directory.rva == 0 || directory.size == 0 {
            return Ok(entries);
        }
        if !(directory.size as usize).is_multiple_of(field::SIZE) {
            return Err(PeError::BadDebugDirectorySize { size: directory.size });
        }
        let table = self.bytes_at_rva(directory.rva, directory.size as usize, "debug directory")?;
        let base = self.rva_to_offset(directory.rva).unwrap_or_default();
        for (index, raw) in (0usize..).zip(table.chunks_exact(field::SIZE)) {
            let offset = index.saturating_mul(field::SIZE).saturating_add(base);
            let entry = read::Struct::over(raw, offset, "debug directory entry");
            entries.push(DebugEntry {
                characteristics: entry.u32(field::CHARACTERISTICS)?,
                time_date_stamp: entry.u32(field::TIME_DATE_STAMP)?,
                major_version: entry.u16(field::MAJOR_VERSION)?,
                minor_version: entry.u16(field::MINOR_VERSION)?,
                kind: entry.u32(field::TYPE)?,
                size_of_data: entry.u32(field::SIZE_OF_DATA)?,
                address_of_raw_data: entry.u32(field::ADDRESS_OF_RAW_DATA)?,
                pointer_to_raw_data: entry.u32(field::POINTER_TO_RAW_DATA)?,
            });
        }
        Ok(entries)
    }

    /// The first `RSDS` CodeView record, or `None` if the image has none.
    ///
    /// # Errors
    ///
    /// As [`debug_entries`](Self::debug_entries); a [`PeError`] if the
    /// record is outside the file or its path is unterminated or not UTF-8.
    pub fn codeview(&self) -> Result<Option<CodeView<'a>>, PeError> {
        for entry in self.debug_entries()? {
            if entry.kind != DEBUG_TYPE_CODEVIEW {
                continue;
            }
            const WHAT: &str = "CodeView record";
            let len = entry.size_of_data as usize;
            let (data, offset) = if entry.pointer_to_raw_data != 0 {
                let offset = entry.pointer_to_raw_data as usize;
                (read::slice(self.bytes(), offset, len, WHAT)?, offset)
            } else {
                let data = self.bytes_at_rva(entry.address_of_raw_data, len, WHAT)?;
                (data, self.rva_to_offset(entry.address_of_raw_data).unwrap_or_default())
            };
            let record = read::Struct::over(data, offset, WHAT);
            if record.bytes(rsds::SIGNATURE).ok() != Some(rsds::MAGIC.as_slice()) {
                continue; // NB10 and other old formats
            }
            let mut guid = [0u8; 16];
            for (dst, src) in guid.iter_mut().zip(record.bytes(rsds::GUID)?) {
                *dst = *src;
            }
            let age = record.u32(rsds::AGE)?;
            let path_rva = read::add_rva(entry.address_of_raw_data, rsds::PATH, "PDB path")?;
            let tail = data.get(rsds::PATH..).ok_or(PeError::Truncated {
                what: WHAT,
                offset,
                size: rsds::PATH.saturating_add(1),
                file_len: self.bytes().len(),
            })?;
            let path_len = tail.iter().position(|&b| b == 0).ok_or(PeError::UnterminatedString {
                what: "PDB path",
                rva: path_rva,
            })?;
            let path =
                tail.get(..path_len)
                    .and_then(|p| core::str::from_utf8(p).ok())
                    .ok_or(PeError::InvalidString {
                        what: "PDB path",
                        rva: path_rva,
                    })?;
            return Ok(Some(CodeView {
                guid,
                age,
                pdb_path: path,
            }));
        }
        Ok(None)
    }
}
