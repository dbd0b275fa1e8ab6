//! Tests of the PE parser on images written by [`PeBuilder`], on targeted
//! corruptions (each must give its precise error) and on truncated, mutated
//! and random inputs (none may panic).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use super::builder::{ImportSpec, PeBuilder, TEXT_RVA};
use super::*;

const PE: usize = 0x40;
const COFF: usize = PE + 4;
const OPT: usize = COFF + 20;
const SECTIONS: usize = OPT + 240;

fn patch(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

/// A driver-like image with every table the parser reads.
fn driver() -> Vec<u8> {
    PeBuilder::new(Machine::Amd64)
        .text(vec![0xcc; 0x40])
        .export("DriverEntry", TEXT_RVA + 0x10)
        .export("Helper", TEXT_RVA + 0x20)
        .import("ndis.sys", &["NdisMRegisterMiniportDriver", "NdisGetVersion"])
        .import_specs(
            "ntoskrnl.exe",
            vec![ImportSpec::Name("DbgPrintEx".into(), 7), ImportSpec::Ordinal(42)],
        )
        .relocation(TEXT_RVA + 0x8, reloc_type::DIR64)
        .relocation(TEXT_RVA + 0x30, reloc_type::DIR64)
        .relocation(0x2010, reloc_type::DIR64)
        .pdb_path("C:\\build\\covmini.pdb")
        .build()
}

/// Runs every accessor; used to prove that nothing panics on bad input.
fn exercise(bytes: &[u8]) {
    if let Ok(image) = PeImage::parse(bytes) {
        let _ = image.computed_checksum();
        let _ = image.imports();
        let _ = image.exports();
        let _ = image.export_rva("DriverEntry");
        let _ = image.base_relocations();
        let _ = image.debug_entries();
        let _ = image.codeview();
        for section in image.sections() {
            let _ = image.section_data(section);
            let _ = image.rva_to_offset(section.virtual_address);
        }
        for rva in [0, 1, 0xfff, 0x1000, 0x2000, 0x2fff, u32::MAX] {
            let _ = image.rva_to_offset(rva);
            let _ = image.cstr_at_rva(rva, "probe");
            let _ = image.bytes_at_rva(rva, 16, "probe");
        }
    }
}

// ---------------------------------------------------------------------------
// A well-formed image
// ---------------------------------------------------------------------------

#[test]
fn headers() {
    let bytes = driver();
    let image = PeImage::parse(&bytes).unwrap();
    assert_eq!(image.machine(), Machine::Amd64);
    assert_eq!(image.machine().raw(), 0x8664);
    assert_eq!(image.magic(), MAGIC_PE32_PLUS);
    assert_eq!(image.subsystem(), SUBSYSTEM_NATIVE);
    let dc = image.dll_characteristics();
    assert_ne!(dc & dll_characteristics::DYNAMIC_BASE, 0);
    assert_ne!(dc & dll_characteristics::NX_COMPAT, 0);
    assert_ne!(dc & dll_characteristics::FORCE_INTEGRITY, 0);
    assert_eq!(image.image_base(), 0x1_4000_0000);
    assert_eq!(image.section_alignment(), 0x1000);
    assert_eq!(image.file_alignment(), 0x200);
    assert_eq!(image.size_of_headers(), 0x200);
    assert_eq!(image.pe_offset(), PE);
    assert_eq!(image.optional_header_offset(), OPT);
    assert_eq!(image.checksum_offset(), OPT + 64);
    assert_eq!(image.dll_characteristics_offset(), OPT + 70);
    assert_eq!(image.data_directories().len(), 16);
}

#[test]
fn checksum_is_written_and_recomputed() {
    let bytes = driver();
    let image = PeImage::parse(&bytes).unwrap();
    assert_ne!(image.checksum(), 0);
    assert_eq!(image.checksum(), image.computed_checksum());

    // Any change elsewhere in the file changes the computed value.
    let mut changed = bytes.clone();
    *changed.last_mut().unwrap() ^= 1;
    let image = PeImage::parse(&changed).unwrap();
    assert_ne!(image.checksum(), image.computed_checksum());
}

#[test]
fn sections_and_rva_translation() {
    let bytes = driver();
    let image = PeImage::parse(&bytes).unwrap();
    let names: Vec<_> = image.sections().iter().map(|s| s.name_str().unwrap()).collect();
    assert_eq!(names, [".text", ".rdata", ".reloc"]);

    let text = image.section_by_name(".text").unwrap();
    assert_eq!(text.virtual_address, 0x1000);
    assert_eq!(text.virtual_size, 0x40);
    assert_eq!(text.pointer_to_raw_data, 0x200);
    assert_eq!(text.size_of_raw_data, 0x200);
    assert_ne!(text.characteristics & section_characteristics::MEM_EXECUTE, 0);
    assert_eq!(image.section_data(text).unwrap(), &[0xcc; 0x40][..]);

    assert_eq!(image.rva_to_offset(0x1000), Some(0x200));
    assert_eq!(image.rva_to_offset(0x103f), Some(0x23f));
    // Past VirtualSize: inside the section's zero-filled tail, not the file.
    assert_eq!(image.rva_to_offset(0x1040), None);
    // Headers map one to one.
    assert_eq!(image.rva_to_offset(0x3c), Some(0x3c));
    // Beyond the image.
    assert_eq!(image.rva_to_offset(0x10_0000), None);
    assert_eq!(
        image.section_containing(0x1010).map(|s| s.virtual_address),
        Some(0x1000)
    );
    assert!(image.section_containing(0x1040).is_none());

    assert_eq!(image.bytes_at_rva(0x1000, 0x40, "t").unwrap().len(), 0x40);
    assert_eq!(
        image.bytes_at_rva(0x1000, 0x41, "text"),
        Err(PeError::RvaNotInFile {
            what: "text",
            rva: 0x1000,
            size: 0x41
        })
    );
}

#[test]
fn imports_by_name_and_ordinal() {
    let bytes = driver();
    let image = PeImage::parse(&bytes).unwrap();
    let imports = image.imports().unwrap();
    assert_eq!(imports.len(), 2);

    assert_eq!(imports[0].name, "ndis.sys");
    let names: Vec<_> = imports[0].symbols.iter().map(|s| s.name().unwrap()).collect();
    assert_eq!(names, ["NdisMRegisterMiniportDriver", "NdisGetVersion"]);
    assert_eq!(imports[0].symbols[0].iat_rva(), imports[0].iat_rva);
    assert_eq!(imports[0].symbols[1].iat_rva(), imports[0].iat_rva + 8);

    assert_eq!(imports[1].name, "ntoskrnl.exe");
    assert!(matches!(
        imports[1].symbols[0],
        ImportedSymbol::ByName {
            name: "DbgPrintEx",
            hint: 7,
            ..
        }
    ));
    assert!(matches!(
        imports[1].symbols[1],
        ImportedSymbol::ByOrdinal { ordinal: 42, .. }
    ));
    assert_eq!(imports[1].symbols[1].name(), None);

    let iat = image.data_directory(DirectoryEntry::Import);
    assert!(!iat.is_empty());
}

#[test]
fn exports_and_entry_point() {
    let bytes = driver();
    let image = PeImage::parse(&bytes).unwrap();
    let table = image.exports().unwrap().unwrap();
    assert_eq!(table.dll_name, "test.sys");
    assert_eq!(table.ordinal_base, 1);
    assert_eq!(table.exports.len(), 2);
    let entry = table.by_name("DriverEntry").unwrap();
    assert_eq!(entry.target, ExportTarget::Rva(TEXT_RVA + 0x10));
    assert_eq!(entry.ordinal, 1);
    assert_eq!(image.export_rva("Helper"), Ok(Some(TEXT_RVA + 0x20)));
    assert_eq!(image.export_rva("Missing"), Ok(None));
    // The builder points the entry point at DriverEntry.
    assert_eq!(image.entry_point(), TEXT_RVA + 0x10);
}

#[test]
fn base_relocations() {
    let bytes = driver();
    let image = PeImage::parse(&bytes).unwrap();
    let blocks = image.base_relocations().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].page_rva, 0x1000);
    assert_eq!(
        blocks[0].entries,
        [
            Relocation {
                kind: reloc_type::DIR64,
                rva: 0x1008
            },
            Relocation {
                kind: reloc_type::DIR64,
                rva: 0x1030
            },
        ]
    );
    assert_eq!(blocks[1].page_rva, 0x2000);
    // One entry plus one ABSOLUTE pad to keep the block 4-byte aligned.
    assert_eq!(
        blocks[1].entries,
        [
            Relocation {
                kind: reloc_type::DIR64,
                rva: 0x2010
            },
            Relocation {
                kind: reloc_type::ABSOLUTE,
                rva: 0x2000
            },
        ]
    );
}

#[test]
fn codeview_pdb_path() {
    let bytes = driver();
    let image = PeImage::parse(&bytes).unwrap();
    let entries = image.debug_entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, DEBUG_TYPE_CODEVIEW);
    let cv = image.codeview().unwrap().unwrap();
    assert_eq!(cv.pdb_path, "C:\\build\\covmini.pdb");
    assert_eq!(cv.age, 1);
    assert_eq!(cv.guid, [0x5a; 16]);
    // The record is found through PointerToRawData and AddressOfRawData alike.
    assert_eq!(
        image.rva_to_offset(entries[0].address_of_raw_data),
        Some(entries[0].pointer_to_raw_data as usize)
    );
}

#[test]
fn optional_tables_absent() {
    let bytes = PeBuilder::new(Machine::Arm64).build();
    let image = PeImage::parse(&bytes).unwrap();
    assert_eq!(image.machine(), Machine::Arm64);
    assert_eq!(image.machine().raw(), 0xaa64);
    assert_eq!(image.imports().unwrap(), []);
    assert_eq!(image.exports().unwrap(), None);
    assert_eq!(image.base_relocations().unwrap(), []);
    assert_eq!(image.codeview().unwrap(), None);
    assert!(image.data_directory(DirectoryEntry::Tls).is_empty());
    assert!(image.data_directory(DirectoryEntry::DelayImport).is_empty());
    assert!(image.data_directory(DirectoryEntry::ComDescriptor).is_empty());
    assert_eq!(image.entry_point(), TEXT_RVA);
}

#[test]
fn tls_directory_and_extra_sections() {
    let bytes = PeBuilder::new(Machine::Amd64)
        .tls(true)
        .section(".retplne", vec![1, 2, 3], section_characteristics::MEM_READ)
        .build();
    let image = PeImage::parse(&bytes).unwrap();
    let tls = image.data_directory(DirectoryEntry::Tls);
    assert!(!tls.is_empty());
    assert_eq!(tls.size, 40);
    assert!(image.section_by_name(".retplne").is_some());
}

#[test]
fn machine_round_trip() {
    for raw in [0x8664, 0xaa64, 0x14c, 0] {
        assert_eq!(Machine::from_raw(raw).raw(), raw);
    }
    assert_eq!(Machine::from_raw(0x14c), Machine::Other(0x14c));
}

// ---------------------------------------------------------------------------
// Precise errors
// ---------------------------------------------------------------------------

#[test]
fn empty_and_tiny_files() {
    assert_eq!(
        PeImage::parse(&[]).unwrap_err(),
        PeError::Truncated {
            what: "DOS header",
            offset: 0,
            size: 64,
            file_len: 0
        }
    );
    assert_eq!(
        PeImage::parse(b"MZ").unwrap_err(),
        PeError::Truncated {
            what: "DOS header",
            offset: 0,
            size: 64,
            file_len: 2
        }
    );
}

#[test]
fn bad_dos_magic() {
    let mut bytes = driver();
    patch(&mut bytes, 0, b"ZM");
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::BadDosMagic { found: 0x4d5a }
    );
}

#[test]
fn e_lfanew_outside_the_file() {
    let mut bytes = driver();
    patch(&mut bytes, 0x3c, &0xffff_fff0u32.to_le_bytes());
    let err = PeImage::parse(&bytes).unwrap_err();
    assert_eq!(
        err,
        PeError::Truncated {
            what: "PE signature",
            offset: 0xffff_fff0,
            size: 4,
            file_len: bytes.len()
        }
    );
    assert!(
        err.to_string().contains("PE signature at file offset 0xfffffff0"),
        "{err}"
    );
}

#[test]
fn bad_pe_signature() {
    let mut bytes = driver();
    patch(&mut bytes, PE, b"NE\0\0");
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::BadPeSignature {
            offset: PE,
            found: *b"NE\0\0"
        }
    );
}

#[test]
fn pe32_is_unsupported() {
    let mut bytes = driver();
    patch(&mut bytes, OPT, &MAGIC_PE32.to_le_bytes());
    let err = PeImage::parse(&bytes).unwrap_err();
    assert_eq!(
        err,
        PeError::UnsupportedMagic {
            offset: OPT,
            found: 0x10b
        }
    );
    assert!(err.to_string().contains("0x10b"), "{err}");
}

#[test]
fn optional_header_too_small() {
    let mut bytes = driver();
    patch(&mut bytes, COFF + 16, &100u16.to_le_bytes());
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::OptionalHeaderTooSmall {
            offset: OPT,
            size: 100,
            needed: 112
        }
    );
    // Room for the fixed part but not for 16 directories.
    patch(&mut bytes, COFF + 16, &120u16.to_le_bytes());
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::OptionalHeaderTooSmall {
            offset: OPT,
            size: 120,
            needed: 240
        }
    );
}

#[test]
fn too_many_data_directories() {
    let mut bytes = driver();
    patch(&mut bytes, OPT + 108, &17u32.to_le_bytes());
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::TooManyDataDirectories {
            offset: OPT + 108,
            count: 17
        }
    );
}

#[test]
fn fewer_data_directories_read_as_empty() {
    let mut bytes = driver();
    patch(&mut bytes, OPT + 108, &2u32.to_le_bytes());
    let image = PeImage::parse(&bytes).unwrap();
    assert_eq!(image.data_directories().len(), 2);
    assert!(image.data_directory(DirectoryEntry::Debug).is_empty());
    assert_eq!(image.codeview().unwrap(), None);
}

#[test]
fn section_table_outside_the_file() {
    let mut bytes = driver();
    patch(&mut bytes, COFF + 2, &0xffffu16.to_le_bytes());
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::Truncated {
            what: "section table",
            offset: SECTIONS,
            size: 0xffff * 40,
            file_len: bytes.len()
        }
    );
}

#[test]
fn bad_size_of_headers() {
    let mut bytes = driver();
    patch(&mut bytes, OPT + 60, &0x100u32.to_le_bytes());
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::BadSizeOfHeaders {
            size_of_headers: 0x100,
            needed: SECTIONS + 3 * 40,
            file_len: bytes.len()
        }
    );
}

#[test]
fn section_data_outside_the_file() {
    let mut bytes = driver();
    let len = bytes.len();
    // .rdata's SizeOfRawData
    patch(&mut bytes, SECTIONS + 40 + 16, &0x10_0000u32.to_le_bytes());
    let err = PeImage::parse(&bytes).unwrap_err();
    assert_eq!(
        err,
        PeError::SectionDataOutOfFile {
            index: 1,
            name: *b".rdata\0\0",
            offset: 0x400,
            size: 0x10_0000,
            file_len: len
        }
    );
    assert!(err.to_string().starts_with("section 1 `.rdata`"), "{err}");
}

#[test]
fn section_outside_the_image() {
    let mut bytes = driver();
    // SizeOfImage smaller than the last section's end.
    patch(&mut bytes, OPT + 56, &0x2000u32.to_le_bytes());
    assert!(matches!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::SectionOutsideImage {
            index: 1,
            rva: 0x2000,
            size_of_image: 0x2000,
            ..
        }
    ));
}

#[test]
fn overlapping_sections() {
    let mut bytes = driver();
    // .rdata moved onto .text.
    patch(&mut bytes, SECTIONS + 40 + 12, &0x1010u32.to_le_bytes());
    assert_eq!(
        PeImage::parse(&bytes).unwrap_err(),
        PeError::SectionsOverlap {
            index: 1,
            name: *b".rdata\0\0",
            rva: 0x1010,
            previous_end: 0x1040
        }
    );
}

/// Bytes of `driver()` and the parsed image, for corrupting one table.
fn corrupt(f: impl FnOnce(&PeImage<'_>, &mut Vec<u8>)) -> Vec<u8> {
    let bytes = driver();
    let mut copy = bytes.clone();
    f(&PeImage::parse(&bytes).unwrap(), &mut copy);
    copy
}

#[test]
fn import_name_outside_the_file() {
    let mut descriptor_rva = 0;
    let bytes = corrupt(|image, out| {
        descriptor_rva = image.data_directory(DirectoryEntry::Import).rva;
        let at = image.rva_to_offset(descriptor_rva).unwrap();
        patch(out, at + 12, &0x9_0000u32.to_le_bytes());
    });
    let image = PeImage::parse(&bytes).unwrap();
    assert_eq!(
        image.imports().unwrap_err(),
        PeError::RvaNotInFile {
            what: "import module name",
            rva: 0x9_0000,
            size: 1
        }
    );
    // The headers stay readable.
    assert_eq!(image.machine(), Machine::Amd64);
}

#[test]
fn import_thunk_with_reserved_bits() {
    let mut thunk_rva = 0;
    let bytes = corrupt(|image, out| {
        let d = image
            .rva_to_offset(image.data_directory(DirectoryEntry::Import).rva)
            .unwrap();
        thunk_rva = u32::from_le_bytes(out[d..d + 4].try_into().unwrap());
        let at = image.rva_to_offset(thunk_rva).unwrap();
        patch(out, at, &0x0000_0001_0000_2000u64.to_le_bytes());
    });
    let image = PeImage::parse(&bytes).unwrap();
    assert_eq!(
        image.imports().unwrap_err(),
        PeError::BadImportThunk {
            rva: thunk_rva,
            value: 0x0000_0001_0000_2000
        }
    );
}

#[test]
fn unterminated_string_runs_into_the_section_end() {
    let bytes = corrupt(|image, out| {
        let rdata = image.section_by_name(".rdata").unwrap();
        let start = rdata.pointer_to_raw_data as usize;
        let len = rdata.file_backed_len() as usize;
        // Overwrite the whole of .rdata after the tables with non-NUL bytes
        // and point the module name at its last byte.
        let d = image
            .rva_to_offset(image.data_directory(DirectoryEntry::Import).rva)
            .unwrap();
        let last = rdata.virtual_address + rdata.file_backed_len() - 1;
        out[start + len - 1] = b'x';
        patch(out, d + 12, &last.to_le_bytes());
    });
    let image = PeImage::parse(&bytes).unwrap();
    let rdata = image.section_by_name(".rdata").unwrap();
    let last = rdata.virtual_address + rdata.file_backed_len() - 1;
    assert_eq!(
        image.imports().unwrap_err(),
        PeError::UnterminatedString {
            what: "import module name",
            rva: last
        }
    );
}

#[test]
fn export_name_ordinal_out_of_range() {
    let bytes = corrupt(|image, out| {
        let dir = image
            .rva_to_offset(image.data_directory(DirectoryEntry::Export).rva)
            .unwrap();
        let ordinals = u32::from_le_bytes(out[dir + 36..dir + 40].try_into().unwrap());
        let at = image.rva_to_offset(ordinals).unwrap();
        patch(out, at, &9u16.to_le_bytes());
    });
    let image = PeImage::parse(&bytes).unwrap();
    assert!(matches!(
        image.exports().unwrap_err(),
        PeError::BadExportOrdinal {
            index: 9,
            number_of_functions: 2,
            ..
        }
    ));
}

#[test]
fn export_counts_larger_than_the_file() {
    let bytes = corrupt(|image, out| {
        let dir = image
            .rva_to_offset(image.data_directory(DirectoryEntry::Export).rva)
            .unwrap();
        patch(out, dir + 20, &u32::MAX.to_le_bytes());
    });
    let image = PeImage::parse(&bytes).unwrap();
    assert!(matches!(
        image.exports().unwrap_err(),
        PeError::RvaNotInFile {
            what: "export address table",
            ..
        }
    ));
}

#[test]
fn relocation_block_of_bad_size() {
    for bad in [0u32, 4, 9, 0x1000] {
        let bytes = corrupt(|image, out| {
            let at = image.rva_to_offset(image.data_directory(DirectoryEntry::BaseReloc).rva);
            patch(out, at.unwrap() + 4, &bad.to_le_bytes());
        });
        let image = PeImage::parse(&bytes).unwrap();
        let rva = image.data_directory(DirectoryEntry::BaseReloc).rva;
        assert_eq!(
            image.base_relocations().unwrap_err(),
            PeError::BadRelocationBlock { rva, size: bad },
            "SizeOfBlock {bad:#x}"
        );
    }
}

#[test]
fn debug_directory_of_bad_size() {
    let mut bytes = driver();
    patch(&mut bytes, OPT + 112 + 6 * 8 + 4, &27u32.to_le_bytes());
    let image = PeImage::parse(&bytes).unwrap();
    assert_eq!(
        image.codeview().unwrap_err(),
        PeError::BadDebugDirectorySize { size: 27 }
    );
}

#[test]
fn codeview_record_outside_the_file() {
    let bytes = corrupt(|image, out| {
        let at = image
            .rva_to_offset(image.data_directory(DirectoryEntry::Debug).rva)
            .unwrap();
        patch(out, at + 24, &0x7fff_0000u32.to_le_bytes());
    });
    let image = PeImage::parse(&bytes).unwrap();
    assert!(matches!(
        image.codeview().unwrap_err(),
        PeError::Truncated {
            what: "CodeView record",
            offset: 0x7fff_0000,
            ..
        }
    ));
}

#[test]
fn errors_display_what_and_where() {
    let cases: Vec<(PeError, &str)> = vec![
        (PeError::BadDosMagic { found: 0x4d5a }, "0x4d5a"),
        (
            PeError::RvaNotInFile {
                what: "import name",
                rva: 0x2345,
                size: 1,
            },
            "import name at RVA 0x2345",
        ),
        (
            PeError::UnterminatedString {
                what: "export name",
                rva: 0x10,
            },
            "export name at RVA 0x10",
        ),
        (
            PeError::BadImportThunk {
                rva: 0x3000,
                value: 1 << 40,
            },
            "RVA 0x3000",
        ),
        (PeError::BadRelocationBlock { rva: 0x5000, size: 3 }, "RVA 0x5000"),
        (
            PeError::TooManyDataDirectories {
                offset: 0xc4,
                count: 99,
            },
            "offset 0xc4",
        ),
        (
            PeError::SectionsOverlap {
                index: 2,
                name: *b".da\xfft\0\0\0",
                rva: 1,
                previous_end: 2,
            },
            "section 2 `.da\\xfft`",
        ),
    ];
    for (err, needle) in cases {
        let text = err.to_string();
        assert!(text.contains(needle), "{text:?} should contain {needle:?}");
    }
}

// ---------------------------------------------------------------------------
// No panics on any input
// ---------------------------------------------------------------------------

/// The driver image cut at every `step`-th length: each prefix parses to an
/// error or a smaller image, and a cut inside the headers is always an error.
fn truncations(step: usize) {
    let bytes = driver();
    for len in (0..bytes.len()).step_by(step) {
        exercise(&bytes[..len]);
    }
    // Cut inside the headers: always an error, never a panic.
    for len in (0..0x200).step_by(step) {
        assert!(PeImage::parse(&bytes[..len]).is_err(), "prefix of {len} bytes parsed");
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "2.5k parses take minutes under Miri; a_truncation_every_41_bytes_is_an_error_or_a_smaller_image is its Miri-sized variant"
)]
fn every_truncation_is_an_error_or_a_smaller_image() {
    truncations(1);
}

/// The Miri-sized variant of the every-truncation test: one cut in 41 bytes
/// (odd, so the cuts fall at every offset of the 2-, 4- and 8-byte fields).
#[test]
fn a_truncation_every_41_bytes_is_an_error_or_a_smaller_image() {
    truncations(41);
}

/// Every `step`-th byte of the driver image set to each of five values in
/// turn: nothing panics.
fn mutations(step: usize) {
    let bytes = driver();
    let mut copy = bytes.clone();
    for at in (0..bytes.len()).step_by(step) {
        for value in [0x00, 0xff, 0x80, 0x7f, 0x01] {
            copy[at] = value;
            exercise(&copy);
        }
        copy[at] = bytes[at];
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "10k parses take many minutes under Miri; a_mutation_every_1021_bytes is its Miri-sized variant"
)]
fn every_single_byte_mutation() {
    mutations(1);
}

/// The Miri-sized variant of the every-byte mutation test: one byte in 1021,
/// from the DOS header's first on, each set to the same five values.
#[test]
fn a_mutation_every_1021_bytes() {
    mutations(1021);
}

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `rounds` garbage inputs (half with a valid-looking start) and `rounds`
/// copies of the driver image with random words overwritten: nothing panics.
fn garbage_and_corruption(rounds: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Pure garbage, with and without a valid-looking start.
    for round in 0..rounds {
        let len = (rng.next() % 1200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 2 == 0 && len >= 0x48 {
            patch(&mut bytes, 0, b"MZ");
            patch(&mut bytes, 0x3c, &0x40u32.to_le_bytes());
            patch(&mut bytes, 0x40, b"PE\0\0");
        }
        exercise(&bytes);
    }
    // A valid image with many random words overwritten.
    let good = driver();
    for _ in 0..rounds {
        let mut bytes = good.clone();
        for _ in 0..(rng.next() % 8 + 1) {
            let at = (rng.next() as usize) % (bytes.len() - 4);
            let word = rng.next() as u32;
            patch(&mut bytes, at, &word.to_le_bytes());
        }
        exercise(&bytes);
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "4k parses take minutes under Miri; some_random_garbage_and_random_corruption is its Miri-sized variant"
)]
fn random_garbage_and_random_corruption() {
    garbage_and_corruption(2000);
}

/// The Miri-sized variant of the random-input test: the first 4 garbage
/// inputs and 4 corrupted images of the same sequence.
#[test]
fn some_random_garbage_and_random_corruption() {
    garbage_and_corruption(4);
}
