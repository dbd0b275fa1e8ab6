//! A checked parser for PE32+ images (the `.sys` files of x64 and ARM64
//! Windows drivers).
//!
//! [`PeImage::parse`] validates the headers and the section table once:
//! every header field it keeps lies in the file, and every section's raw data
//! lies in the file and inside `SizeOfImage`. The tables reached through data
//! directories (imports, exports, base relocations, debug) are parsed on
//! request, each read checked against the file again. No input makes this
//! module panic: there is no `unsafe`, no indexing, and every offset
//! computation is checked; a malformed image is a [`PeError`] that says what
//! is wrong and where.
//!
//! The PE loader maps images with it; the kernel image test checks the
//! properties Windows requires of a driver (`tests/kernel_image.rs`).
//!
//! Layouts follow the Microsoft PE/COFF specification and winnt.h.

#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod builder;
mod checksum;
mod debug;
mod error;
mod exports;
mod headers;
mod imports;
mod read;
mod relocs;

pub use checksum::compute_checksum;
pub use debug::{CodeView, DEBUG_TYPE_CODEVIEW, DebugEntry};
pub use error::PeError;
pub use exports::{Export, ExportTable, ExportTarget};
pub use headers::{
    DataDirectory, DirectoryEntry, MAGIC_PE32, MAGIC_PE32_PLUS, Machine, SUBSYSTEM_NATIVE, SectionHeader,
    dll_characteristics, section_characteristics,
};
pub use imports::{ImportedModule, ImportedSymbol};
pub use relocs::{Relocation, RelocationBlock, reloc_type};

use headers::{coff, dos, opt, section};
use read::{Struct, add, add_rva, mul, slice};

/// A parsed PE32+ image borrowing the file's bytes.
#[derive(Debug, Clone)]
pub struct PeImage<'a> {
    bytes: &'a [u8],
    pe_offset: usize,
    optional_header_offset: usize,
    machine: Machine,
    time_date_stamp: u32,
    file_characteristics: u16,
    magic: u16,
    entry_point: u32,
    image_base: u64,
    section_alignment: u32,
    file_alignment: u32,
    size_of_image: u32,
    size_of_headers: u32,
    checksum: u32,
    subsystem: u16,
    dll_characteristics: u16,
    data_directories: Vec<DataDirectory>,
    sections: Vec<SectionHeader>,
}

impl<'a> PeImage<'a> {
    /// Parses and validates the headers and section table of `bytes`.
    ///
    /// # Errors
    ///
    /// A [`PeError`] naming the first thing that is wrong: a bad signature,
    /// a header or section outside the file, a non-PE32+ optional header.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, PeError> {
        let dos_header = Struct::at(bytes, 0, dos::SIZE, "DOS header")?;
        let mz = dos_header.u16(dos::MAGIC)?;
        if mz != dos::MZ {
            return Err(PeError::BadDosMagic { found: mz });
        }
        let pe_offset = usize::try_from(dos_header.u32(dos::LFANEW)?).map_err(|_| PeError::Overflow {
            what: "e_lfanew",
            at: 0x3c,
        })?;
        let signature = slice(bytes, pe_offset, 4, "PE signature")?;
        if signature != coff::SIGNATURE {
            let mut found = [0u8; 4];
            for (dst, src) in found.iter_mut().zip(signature) {
                *dst = *src;
            }
            return Err(PeError::BadPeSignature {
                offset: pe_offset,
                found,
            });
        }

        let coff_offset = add(pe_offset, 4, "COFF header offset")?;
        let coff_header = Struct::at(bytes, coff_offset, coff::SIZE, "COFF file header")?;
        let machine = Machine::from_raw(coff_header.u16(coff::MACHINE)?);
        let number_of_sections = coff_header.u16(coff::NUMBER_OF_SECTIONS)?;
        let time_date_stamp = coff_header.u32(coff::TIME_DATE_STAMP)?;
        let size_of_optional_header = coff_header.u16(coff::SIZE_OF_OPTIONAL_HEADER)?;
        let file_characteristics = coff_header.u16(coff::CHARACTERISTICS)?;

        let opt_offset = add(coff_offset, coff::SIZE, "optional header offset")?;
        let magic = Struct::at(bytes, opt_offset, 2, "optional header magic")?.u16(opt::MAGIC)?;
        if magic != MAGIC_PE32_PLUS {
            return Err(PeError::UnsupportedMagic {
                offset: opt_offset,
                found: magic,
            });
        }
        let opt_size = usize::from(size_of_optional_header);
        if opt_size < opt::DATA_DIRECTORIES {
            return Err(PeError::OptionalHeaderTooSmall {
                offset: opt_offset,
                size: size_of_optional_header,
                needed: opt::DATA_DIRECTORIES,
            });
        }
        let optional = Struct::at(bytes, opt_offset, opt_size, "optional header")?;
        let number_of_directories = optional.u32(opt::NUMBER_OF_RVA_AND_SIZES)?;
        if number_of_directories > opt::MAX_DATA_DIRECTORIES {
            return Err(PeError::TooManyDataDirectories {
                offset: add(opt_offset, opt::NUMBER_OF_RVA_AND_SIZES.start, "field offset")?,
                count: number_of_directories,
            });
        }
        let directories_len = mul(number_of_directories, opt::DATA_DIRECTORY_SIZE, "data directories size")?;
        let needed = add(opt::DATA_DIRECTORIES, directories_len, "optional header size")?;
        if opt_size < needed {
            return Err(PeError::OptionalHeaderTooSmall {
                offset: opt_offset,
                size: size_of_optional_header,
                needed,
            });
        }
        let mut data_directories = Vec::new();
        let mut at = opt::DATA_DIRECTORIES;
        for _ in 0..number_of_directories {
            let rva_end = add(at, 4, "data directory")?;
            let size_end = add(rva_end, 4, "data directory")?;
            data_directories.push(DataDirectory {
                rva: optional.u32(at..rva_end)?,
                size: optional.u32(rva_end..size_end)?,
            });
            at = size_end;
        }

        let size_of_image = optional.u32(opt::SIZE_OF_IMAGE)?;
        let size_of_headers = optional.u32(opt::SIZE_OF_HEADERS)?;
        let table_offset = add(opt_offset, opt_size, "section table offset")?;
        let table_len = mul(u32::from(number_of_sections), section::SIZE, "section table")?;
        let table = Struct::at(bytes, table_offset, table_len, "section table")?;
        let headers_end = add(table_offset, table_len, "end of headers")?;
        let soh = usize::try_from(size_of_headers).unwrap_or(usize::MAX);
        if soh < headers_end || soh > bytes.len() {
            return Err(PeError::BadSizeOfHeaders {
                size_of_headers,
                needed: headers_end,
                file_len: bytes.len(),
            });
        }

        let mut sections: Vec<SectionHeader> = Vec::new();
        let mut previous_end: u64 = 0;
        for index in 0..usize::from(number_of_sections) {
            let start = mul(
                u32::try_from(index).unwrap_or(u32::MAX),
                section::SIZE,
                "section header",
            )?;
            let one = Struct::over(
                table.bytes(start..add(start, section::SIZE, "section header")?)?,
                add(table_offset, start, "section header")?,
                "section header",
            );
            let mut name = [0u8; 8];
            for (dst, src) in name.iter_mut().zip(one.bytes(section::NAME)?) {
                *dst = *src;
            }
            let header = SectionHeader {
                name,
                virtual_size: one.u32(section::VIRTUAL_SIZE)?,
                virtual_address: one.u32(section::VIRTUAL_ADDRESS)?,
                size_of_raw_data: one.u32(section::SIZE_OF_RAW_DATA)?,
                pointer_to_raw_data: one.u32(section::POINTER_TO_RAW_DATA)?,
                characteristics: one.u32(section::CHARACTERISTICS)?,
            };
            // Sums of two u32 values cannot overflow a u64.
            let raw_end = u64::from(header.pointer_to_raw_data).saturating_add(u64::from(header.size_of_raw_data));
            if header.size_of_raw_data != 0 && raw_end > bytes.len() as u64 {
                return Err(PeError::SectionDataOutOfFile {
                    index,
                    name,
                    offset: header.pointer_to_raw_data,
                    size: header.size_of_raw_data,
                    file_len: bytes.len(),
                });
            }
            let virtual_end = u64::from(header.virtual_address).saturating_add(u64::from(header.extent()));
            if virtual_end > u64::from(size_of_image) {
                return Err(PeError::SectionOutsideImage {
                    index,
                    name,
                    rva: header.virtual_address,
                    size: header.extent(),
                    size_of_image,
                });
            }
            if u64::from(header.virtual_address) < previous_end {
                return Err(PeError::SectionsOverlap {
                    index,
                    name,
                    rva: header.virtual_address,
                    previous_end,
                });
            }
            previous_end = virtual_end;
            sections.push(header);
        }

        Ok(PeImage {
            bytes,
            pe_offset,
            optional_header_offset: opt_offset,
            machine,
            time_date_stamp,
            file_characteristics,
            magic,
            entry_point: optional.u32(opt::ADDRESS_OF_ENTRY_POINT)?,
            image_base: optional.u64(opt::IMAGE_BASE)?,
            section_alignment: optional.u32(opt::SECTION_ALIGNMENT)?,
            file_alignment: optional.u32(opt::FILE_ALIGNMENT)?,
            size_of_image,
            size_of_headers,
            checksum: optional.u32(opt::CHECKSUM)?,
            subsystem: optional.u16(opt::SUBSYSTEM)?,
            dll_characteristics: optional.u16(opt::DLL_CHARACTERISTICS)?,
            data_directories,
            sections,
        })
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// File offset of the `PE\0\0` signature (`e_lfanew`).
    pub fn pe_offset(&self) -> usize {
        self.pe_offset
    }

    /// File offset of the optional header.
    pub fn optional_header_offset(&self) -> usize {
        self.optional_header_offset
    }

    /// COFF `Machine`.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    /// COFF `TimeDateStamp`.
    pub fn time_date_stamp(&self) -> u32 {
        self.time_date_stamp
    }

    /// COFF `Characteristics` (`IMAGE_FILE_*`).
    pub fn file_characteristics(&self) -> u16 {
        self.file_characteristics
    }

    /// Optional header `Magic`: always [`MAGIC_PE32_PLUS`] once parsed.
    pub fn magic(&self) -> u16 {
        self.magic
    }

    /// `AddressOfEntryPoint` (an RVA; a driver's is `DriverEntry`).
    pub fn entry_point(&self) -> u32 {
        self.entry_point
    }

    /// `ImageBase`: the preferred load address.
    pub fn image_base(&self) -> u64 {
        self.image_base
    }

    /// `SectionAlignment`.
    pub fn section_alignment(&self) -> u32 {
        self.section_alignment
    }

    /// `FileAlignment`.
    pub fn file_alignment(&self) -> u32 {
        self.file_alignment
    }

    /// `SizeOfImage`: bytes the mapped image spans.
    pub fn size_of_image(&self) -> u32 {
        self.size_of_image
    }

    /// `SizeOfHeaders`.
    pub fn size_of_headers(&self) -> u32 {
        self.size_of_headers
    }

    /// The `CheckSum` field as stored.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// File offset of the `CheckSum` field.
    pub fn checksum_offset(&self) -> usize {
        self.optional_header_offset.saturating_add(opt::CHECKSUM.start)
    }

    /// The checksum computed over the file (see [`compute_checksum`]); a
    /// correct image has [`checksum`](Self::checksum) equal to it.
    pub fn computed_checksum(&self) -> u32 {
        compute_checksum(self.bytes, self.checksum_offset())
    }

    /// `Subsystem` ([`SUBSYSTEM_NATIVE`] for drivers).
    pub fn subsystem(&self) -> u16 {
        self.subsystem
    }

    /// `DllCharacteristics` (see [`dll_characteristics`]).
    pub fn dll_characteristics(&self) -> u16 {
        self.dll_characteristics
    }

    /// File offset of the `DllCharacteristics` field.
    pub fn dll_characteristics_offset(&self) -> usize {
        self.optional_header_offset
            .saturating_add(opt::DLL_CHARACTERISTICS.start)
    }

    /// The section table, in file order (validated ascending by RVA).
    pub fn sections(&self) -> &[SectionHeader] {
        &self.sections
    }

    /// The first section whose name is `name`.
    pub fn section_by_name(&self, name: &str) -> Option<&SectionHeader> {
        self.sections.iter().find(|s| s.name_str() == Some(name))
    }

    /// The section whose extent contains `rva`.
    pub fn section_containing(&self, rva: u32) -> Option<&SectionHeader> {
        self.sections.iter().find(|s| s.contains_rva(rva))
    }

    /// The file-backed bytes of a section (its first
    /// [`file_backed_len`](SectionHeader::file_backed_len) bytes in memory).
    ///
    /// # Errors
    ///
    /// [`PeError::Truncated`] if `section` is not from this image's table and
    /// does not fit in the file.
    pub fn section_data(&self, section: &SectionHeader) -> Result<&'a [u8], PeError> {
        slice(
            self.bytes,
            usize::try_from(section.pointer_to_raw_data).unwrap_or(usize::MAX),
            usize::try_from(section.file_backed_len()).unwrap_or(usize::MAX),
            "section data",
        )
    }

    /// All data directories present (`NumberOfRvaAndSizes` of them).
    pub fn data_directories(&self) -> &[DataDirectory] {
        &self.data_directories
    }

    /// One data directory; empty if the image has fewer directories.
    pub fn data_directory(&self, entry: DirectoryEntry) -> DataDirectory {
        self.data_directories.get(entry as usize).copied().unwrap_or_default()
    }

    /// The file offset holding the byte at `rva`, or `None` if no file byte
    /// backs it (outside headers and sections, or in a zero-filled tail).
    pub fn rva_to_offset(&self, rva: u32) -> Option<usize> {
        self.file_span(rva).map(|(offset, _)| offset)
    }

    /// The file offset of `rva` and the number of file bytes from there to
    /// the end of the region (headers or section data) that contains it.
    fn file_span(&self, rva: u32) -> Option<(usize, usize)> {
        if let Some(section) = self.section_containing(rva) {
            let within = rva.checked_sub(section.virtual_address)?;
            let available = section.file_backed_len().checked_sub(within)?;
            if available == 0 {
                return None;
            }
            let offset = section.pointer_to_raw_data.checked_add(within)?;
            return Some((usize::try_from(offset).ok()?, usize::try_from(available).ok()?));
        }
        let available = self.size_of_headers.checked_sub(rva)?;
        if available == 0 {
            return None;
        }
        Some((usize::try_from(rva).ok()?, usize::try_from(available).ok()?))
    }

    /// `len` bytes of the image at `rva`, all from one region of the file.
    ///
    /// # Errors
    ///
    /// [`PeError::RvaNotInFile`] if any of them is not backed by the file.
    pub fn bytes_at_rva(&self, rva: u32, len: usize, what: &'static str) -> Result<&'a [u8], PeError> {
        let not_in_file = PeError::RvaNotInFile { what, rva, size: len };
        let (offset, available) = self.file_span(rva).ok_or(not_in_file)?;
        if len > available {
            return Err(not_in_file);
        }
        slice(self.bytes, offset, len, what)
    }

    /// A structure of `size` bytes at `rva`.
    fn struct_at_rva(&self, rva: u32, size: usize, what: &'static str) -> Result<Struct<'a>, PeError> {
        let bytes = self.bytes_at_rva(rva, size, what)?;
        let offset = self.rva_to_offset(rva).unwrap_or_default();
        Ok(Struct::over(bytes, offset, what))
    }

    /// The NUL-terminated string at `rva` (without its NUL).
    ///
    /// # Errors
    ///
    /// [`PeError::RvaNotInFile`], [`PeError::UnterminatedString`] if no NUL
    /// comes before the end of its region, [`PeError::InvalidString`] if it
    /// is not UTF-8.
    pub fn cstr_at_rva(&self, rva: u32, what: &'static str) -> Result<&'a str, PeError> {
        let (offset, available) = self
            .file_span(rva)
            .ok_or(PeError::RvaNotInFile { what, rva, size: 1 })?;
        let region = slice(self.bytes, offset, available, what)?;
        let len = region
            .iter()
            .position(|&b| b == 0)
            .ok_or(PeError::UnterminatedString { what, rva })?;
        let text = region.get(..len).ok_or(PeError::UnterminatedString { what, rva })?;
        core::str::from_utf8(text).map_err(|_| PeError::InvalidString { what, rva })
    }

    /// `rva + delta`, checked.
    fn rva_plus(rva: u32, delta: usize, what: &'static str) -> Result<u32, PeError> {
        add_rva(rva, delta, what)
    }
}

#[cfg(test)]
mod tests;
