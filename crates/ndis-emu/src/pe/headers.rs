//! Header layouts (PE/COFF specification, winnt.h) and the typed views of
//! the section table and data directories.

use super::read::Field;

/// Field offsets of the DOS header.
pub(crate) mod dos {
    use super::Field;
    pub(crate) const MAGIC: Field = 0..2;
    pub(crate) const LFANEW: Field = 0x3c..0x40;
    pub(crate) const SIZE: usize = 0x40;
    /// `MZ`.
    pub(crate) const MZ: u16 = 0x5a4d;
}

/// Field offsets of the COFF file header, which follows `PE\0\0`.
pub(crate) mod coff {
    use super::Field;
    pub(crate) const MACHINE: Field = 0..2;
    pub(crate) const NUMBER_OF_SECTIONS: Field = 2..4;
    pub(crate) const TIME_DATE_STAMP: Field = 4..8;
    pub(crate) const SIZE_OF_OPTIONAL_HEADER: Field = 16..18;
    pub(crate) const CHARACTERISTICS: Field = 18..20;
    pub(crate) const SIZE: usize = 20;
    /// `PE\0\0`.
    pub(crate) const SIGNATURE: [u8; 4] = *b"PE\0\0";
}

/// Field offsets of the PE32+ optional header.
pub(crate) mod opt {
    use super::Field;
    pub(crate) const MAGIC: Field = 0..2;
    pub(crate) const ADDRESS_OF_ENTRY_POINT: Field = 16..20;
    pub(crate) const IMAGE_BASE: Field = 24..32;
    pub(crate) const SECTION_ALIGNMENT: Field = 32..36;
    pub(crate) const FILE_ALIGNMENT: Field = 36..40;
    pub(crate) const SIZE_OF_IMAGE: Field = 56..60;
    pub(crate) const SIZE_OF_HEADERS: Field = 60..64;
    pub(crate) const CHECKSUM: Field = 64..68;
    pub(crate) const SUBSYSTEM: Field = 68..70;
    pub(crate) const DLL_CHARACTERISTICS: Field = 70..72;
    pub(crate) const NUMBER_OF_RVA_AND_SIZES: Field = 108..112;
    /// Where the data directory array starts.
    pub(crate) const DATA_DIRECTORIES: usize = 112;
    /// One `IMAGE_DATA_DIRECTORY`.
    pub(crate) const DATA_DIRECTORY_SIZE: usize = 8;
    pub(crate) const MAX_DATA_DIRECTORIES: u32 = 16;
}

/// Field offsets of a section header (`IMAGE_SECTION_HEADER`).
pub(crate) mod section {
    use super::Field;
    pub(crate) const NAME: Field = 0..8;
    pub(crate) const VIRTUAL_SIZE: Field = 8..12;
    pub(crate) const VIRTUAL_ADDRESS: Field = 12..16;
    pub(crate) const SIZE_OF_RAW_DATA: Field = 16..20;
    pub(crate) const POINTER_TO_RAW_DATA: Field = 20..24;
    pub(crate) const CHARACTERISTICS: Field = 36..40;
    pub(crate) const SIZE: usize = 40;
}

/// `IMAGE_NT_OPTIONAL_HDR64_MAGIC`.
pub const MAGIC_PE32_PLUS: u16 = 0x20b;
/// `IMAGE_NT_OPTIONAL_HDR32_MAGIC` (not supported by this parser).
pub const MAGIC_PE32: u16 = 0x10b;

/// `IMAGE_SUBSYSTEM_NATIVE`: kernel drivers and native programs.
pub const SUBSYSTEM_NATIVE: u16 = 1;

/// `IMAGE_DLLCHARACTERISTICS_*` bits.
pub mod dll_characteristics {
    /// `HIGH_ENTROPY_VA`: 64-bit ASLR.
    pub const HIGH_ENTROPY_VA: u16 = 0x0020;
    /// `DYNAMIC_BASE`: relocatable (ASLR, `/DYNAMICBASE`).
    pub const DYNAMIC_BASE: u16 = 0x0040;
    /// `FORCE_INTEGRITY`: signature checked at load (`/INTEGRITYCHECK`).
    pub const FORCE_INTEGRITY: u16 = 0x0080;
    /// `NX_COMPAT`: data is not executable (`/NXCOMPAT`).
    pub const NX_COMPAT: u16 = 0x0100;
    /// `NO_SEH`.
    pub const NO_SEH: u16 = 0x0400;
    /// `GUARD_CF`: Control Flow Guard.
    pub const GUARD_CF: u16 = 0x4000;
}

/// `IMAGE_SCN_*` section characteristics bits.
pub mod section_characteristics {
    /// Contains code.
    pub const CNT_CODE: u32 = 0x0000_0020;
    /// Contains initialized data.
    pub const CNT_INITIALIZED_DATA: u32 = 0x0000_0040;
    /// Contains uninitialized data.
    pub const CNT_UNINITIALIZED_DATA: u32 = 0x0000_0080;
    /// Can be discarded after load (`INIT`).
    pub const MEM_DISCARDABLE: u32 = 0x0200_0000;
    /// Not pageable.
    pub const MEM_NOT_PAGED: u32 = 0x0800_0000;
    /// Executable.
    pub const MEM_EXECUTE: u32 = 0x2000_0000;
    /// Readable.
    pub const MEM_READ: u32 = 0x4000_0000;
    /// Writable.
    pub const MEM_WRITE: u32 = 0x8000_0000;
}

/// The target machine of an image (`IMAGE_FILE_MACHINE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Machine {
    /// `IMAGE_FILE_MACHINE_AMD64` (0x8664).
    Amd64,
    /// `IMAGE_FILE_MACHINE_ARM64` (0xAA64).
    Arm64,
    /// Any other value.
    Other(u16),
}

impl Machine {
    /// `IMAGE_FILE_MACHINE_AMD64`.
    pub const AMD64: u16 = 0x8664;
    /// `IMAGE_FILE_MACHINE_ARM64`.
    pub const ARM64: u16 = 0xaa64;

    /// The machine named by a COFF `Machine` field.
    pub fn from_raw(raw: u16) -> Self {
        match raw {
            Self::AMD64 => Machine::Amd64,
            Self::ARM64 => Machine::Arm64,
            other => Machine::Other(other),
        }
    }

    /// The COFF `Machine` value.
    pub fn raw(self) -> u16 {
        match self {
            Machine::Amd64 => Self::AMD64,
            Machine::Arm64 => Self::ARM64,
            Machine::Other(raw) => raw,
        }
    }
}

/// The data directories of the optional header, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum DirectoryEntry {
    /// `IMAGE_DIRECTORY_ENTRY_EXPORT`.
    Export = 0,
    /// `IMAGE_DIRECTORY_ENTRY_IMPORT`.
    Import = 1,
    /// `IMAGE_DIRECTORY_ENTRY_RESOURCE`.
    Resource = 2,
    /// `IMAGE_DIRECTORY_ENTRY_EXCEPTION` (`.pdata`).
    Exception = 3,
    /// `IMAGE_DIRECTORY_ENTRY_SECURITY`: a *file offset*, not an RVA.
    Security = 4,
    /// `IMAGE_DIRECTORY_ENTRY_BASERELOC`.
    BaseReloc = 5,
    /// `IMAGE_DIRECTORY_ENTRY_DEBUG`.
    Debug = 6,
    /// `IMAGE_DIRECTORY_ENTRY_ARCHITECTURE`.
    Architecture = 7,
    /// `IMAGE_DIRECTORY_ENTRY_GLOBALPTR`.
    GlobalPtr = 8,
    /// `IMAGE_DIRECTORY_ENTRY_TLS`.
    Tls = 9,
    /// `IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG`.
    LoadConfig = 10,
    /// `IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT`.
    BoundImport = 11,
    /// `IMAGE_DIRECTORY_ENTRY_IAT`.
    Iat = 12,
    /// `IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT`.
    DelayImport = 13,
    /// `IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR` (the CLR header).
    ComDescriptor = 14,
}

/// One `IMAGE_DATA_DIRECTORY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataDirectory {
    /// `VirtualAddress` (a file offset for [`DirectoryEntry::Security`]).
    pub rva: u32,
    /// `Size`.
    pub size: u32,
}

impl DataDirectory {
    /// True when both fields are zero: the image has no such table.
    pub fn is_empty(&self) -> bool {
        self.rva == 0 && self.size == 0
    }
}

/// One section header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionHeader {
    /// `Name`, NUL-padded. Images do not use the `/n` long-name form.
    pub name: [u8; 8],
    /// `VirtualSize`: its size in memory.
    pub virtual_size: u32,
    /// `VirtualAddress`: its RVA.
    pub virtual_address: u32,
    /// `SizeOfRawData`: bytes in the file.
    pub size_of_raw_data: u32,
    /// `PointerToRawData`: file offset of those bytes.
    pub pointer_to_raw_data: u32,
    /// `Characteristics` (see [`section_characteristics`]).
    pub characteristics: u32,
}

impl SectionHeader {
    /// The name up to its first NUL, if it is UTF-8.
    pub fn name_str(&self) -> Option<&str> {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        self.name.get(..len).and_then(|n| core::str::from_utf8(n).ok())
    }

    /// Bytes the section spans in memory: `VirtualSize`, or `SizeOfRawData`
    /// when a linker left `VirtualSize` zero.
    pub fn extent(&self) -> u32 {
        if self.virtual_size != 0 {
            self.virtual_size
        } else {
            self.size_of_raw_data
        }
    }

    /// Bytes of the section that come from the file; the rest of its extent
    /// is zero-filled.
    pub fn file_backed_len(&self) -> u32 {
        self.size_of_raw_data.min(self.extent())
    }

    /// True if `rva` lies in the section's extent.
    pub fn contains_rva(&self, rva: u32) -> bool {
        rva.checked_sub(self.virtual_address)
            .is_some_and(|off| off < self.extent())
    }
}
