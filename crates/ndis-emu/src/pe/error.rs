//! What can be wrong with an image, and where.

use core::fmt;

/// Why a PE image (or one of its tables) could not be parsed.
///
/// Every variant says what was being read and where: a file offset for
/// headers, an RVA for anything reached through a data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeError {
    /// A structure does not fit in the file.
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// File offset where it starts.
        offset: usize,
        /// Bytes it needs.
        size: usize,
        /// Length of the file.
        file_len: usize,
    },
    /// The file does not start with `MZ`.
    BadDosMagic {
        /// The first two bytes.
        found: u16,
    },
    /// `e_lfanew` does not point at `PE\0\0`.
    BadPeSignature {
        /// File offset of the would-be signature.
        offset: usize,
        /// The four bytes found there.
        found: [u8; 4],
    },
    /// The optional header is not PE32+ (`0x20b`).
    UnsupportedMagic {
        /// File offset of the magic.
        offset: usize,
        /// The magic found (`0x10b` is a 32-bit PE32 image).
        found: u16,
    },
    /// `SizeOfOptionalHeader` is too small for the fields it must hold.
    OptionalHeaderTooSmall {
        /// File offset of the optional header.
        offset: usize,
        /// `SizeOfOptionalHeader`.
        size: u16,
        /// Bytes needed.
        needed: usize,
    },
    /// `NumberOfRvaAndSizes` is larger than 16.
    TooManyDataDirectories {
        /// File offset of the field.
        offset: usize,
        /// Its value.
        count: u32,
    },
    /// `SizeOfHeaders` is larger than the file or does not cover the
    /// section table.
    BadSizeOfHeaders {
        /// `SizeOfHeaders`.
        size_of_headers: u32,
        /// Bytes the headers and section table actually take.
        needed: usize,
        /// Length of the file.
        file_len: usize,
    },
    /// A section's raw data (`PointerToRawData`, `SizeOfRawData`) lies
    /// outside the file.
    SectionDataOutOfFile {
        /// Index in the section table.
        index: usize,
        /// Section name (NUL-padded).
        name: [u8; 8],
        /// `PointerToRawData`.
        offset: u32,
        /// `SizeOfRawData`.
        size: u32,
        /// Length of the file.
        file_len: usize,
    },
    /// A section does not fit inside `SizeOfImage`.
    SectionOutsideImage {
        /// Index in the section table.
        index: usize,
        /// Section name (NUL-padded).
        name: [u8; 8],
        /// `VirtualAddress`.
        rva: u32,
        /// Its extent in memory.
        size: u32,
        /// `SizeOfImage`.
        size_of_image: u32,
    },
    /// A section starts below the end of the previous one.
    SectionsOverlap {
        /// Index in the section table.
        index: usize,
        /// Section name (NUL-padded).
        name: [u8; 8],
        /// `VirtualAddress`.
        rva: u32,
        /// End RVA of the previous section.
        previous_end: u64,
    },
    /// An RVA range is not backed by bytes of the file (outside every
    /// section, or in a section's zero-filled tail).
    RvaNotInFile {
        /// What the RVA was meant to point at.
        what: &'static str,
        /// The RVA.
        rva: u32,
        /// Bytes wanted from there.
        size: usize,
    },
    /// A string has no NUL terminator before the end of its section.
    UnterminatedString {
        /// What the string is.
        what: &'static str,
        /// Its RVA.
        rva: u32,
    },
    /// A string is not valid UTF-8 (PE names are ASCII).
    InvalidString {
        /// What the string is.
        what: &'static str,
        /// Its RVA.
        rva: u32,
    },
    /// An import lookup table entry has reserved bits set.
    BadImportThunk {
        /// RVA of the entry.
        rva: u32,
        /// The entry.
        value: u64,
    },
    /// An export name points at a function index past `NumberOfFunctions`.
    BadExportOrdinal {
        /// RVA of the name-ordinal entry.
        rva: u32,
        /// The (unbiased) index found.
        index: u16,
        /// `NumberOfFunctions`.
        number_of_functions: u32,
    },
    /// A base relocation block has an impossible size.
    BadRelocationBlock {
        /// RVA of the block header.
        rva: u32,
        /// Its `SizeOfBlock`.
        size: u32,
    },
    /// The debug directory's size is not a multiple of its entry size.
    BadDebugDirectorySize {
        /// The directory size.
        size: u32,
    },
    /// An address computation overflowed.
    Overflow {
        /// What was being computed.
        what: &'static str,
        /// The offset or RVA it started from.
        at: u64,
    },
}

/// Renders a section name: its bytes up to the first NUL, non-ASCII escaped.
pub(crate) struct SectionName<'a>(pub &'a [u8; 8]);

impl fmt::Display for SectionName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0.iter().take_while(|&&b| b != 0) {
            write!(f, "{}", core::ascii::escape_default(b))?;
        }
        Ok(())
    }
}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PeError::Truncated {
                what,
                offset,
                size,
                file_len,
            } => write!(
                f,
                "truncated: the {what} at file offset {offset:#x} needs {size} bytes \
                 but the file has {file_len}"
            ),
            PeError::BadDosMagic { found } => {
                write!(f, "not an MZ image: file offset 0x0 holds {found:#06x}, not 0x5a4d")
            }
            PeError::BadPeSignature { offset, found } => write!(
                f,
                "no PE signature at file offset {offset:#x} (e_lfanew): found {found:02x?}"
            ),
            PeError::UnsupportedMagic { offset, found } => write!(
                f,
                "optional header magic {found:#x} at file offset {offset:#x} is not PE32+ (0x20b)"
            ),
            PeError::OptionalHeaderTooSmall { offset, size, needed } => write!(
                f,
                "optional header at file offset {offset:#x} is {size} bytes, needs {needed}"
            ),
            PeError::TooManyDataDirectories { offset, count } => write!(
                f,
                "NumberOfRvaAndSizes at file offset {offset:#x} is {count}, more than 16"
            ),
            PeError::BadSizeOfHeaders {
                size_of_headers,
                needed,
                file_len,
            } => write!(
                f,
                "SizeOfHeaders {size_of_headers:#x} must cover the {needed:#x} bytes of headers \
                 and lie within the file ({file_len:#x} bytes)"
            ),
            PeError::SectionDataOutOfFile {
                index,
                ref name,
                offset,
                size,
                file_len,
            } => write!(
                f,
                "section {index} `{}`: raw data at file offset {offset:#x}, size {size:#x}, \
                 runs past the end of the file ({file_len:#x} bytes)",
                SectionName(name)
            ),
            PeError::SectionOutsideImage {
                index,
                ref name,
                rva,
                size,
                size_of_image,
            } => write!(
                f,
                "section {index} `{}`: RVA {rva:#x} + size {size:#x} exceeds SizeOfImage \
                 {size_of_image:#x}",
                SectionName(name)
            ),
            PeError::SectionsOverlap {
                index,
                ref name,
                rva,
                previous_end,
            } => write!(
                f,
                "section {index} `{}`: RVA {rva:#x} is below the end of the previous section \
                 ({previous_end:#x})",
                SectionName(name)
            ),
            PeError::RvaNotInFile { what, rva, size } => write!(
                f,
                "the {what} at RVA {rva:#x} ({size} bytes) is not backed by file data"
            ),
            PeError::UnterminatedString { what, rva } => {
                write!(f, "the {what} at RVA {rva:#x} has no NUL terminator")
            }
            PeError::InvalidString { what, rva } => {
                write!(f, "the {what} at RVA {rva:#x} is not valid UTF-8")
            }
            PeError::BadImportThunk { rva, value } => write!(
                f,
                "import lookup entry at RVA {rva:#x} has reserved bits set: {value:#018x}"
            ),
            PeError::BadExportOrdinal {
                rva,
                index,
                number_of_functions,
            } => write!(
                f,
                "export name-ordinal entry at RVA {rva:#x} is {index}, \
                 but there are only {number_of_functions} functions"
            ),
            PeError::BadRelocationBlock { rva, size } => write!(
                f,
                "base relocation block at RVA {rva:#x} has SizeOfBlock {size:#x} \
                 (must be even, at least 8, and inside the directory)"
            ),
            PeError::BadDebugDirectorySize { size } => {
                write!(f, "debug directory size {size:#x} is not a multiple of 28")
            }
            PeError::Overflow { what, at } => {
                write!(f, "address overflow computing the {what} from {at:#x}")
            }
        }
    }
}

impl core::error::Error for PeError {}
