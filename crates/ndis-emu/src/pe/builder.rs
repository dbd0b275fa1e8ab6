//! Writes small synthetic PE32+ images, for tests of the parser, the loader
//! and the kernel image checks.
//!
//! The layout is fixed and simple: headers, `.text` at RVA [`TEXT_RVA`],
//! `.rdata` (import, export and debug directories, optional TLS directory),
//! `.reloc` if there are relocations, then any extra sections, each at the
//! next 4 KiB RVA and the next 512-byte file offset. The checksum is computed
//! and written last, so a built image is valid until a test changes it.
//!
//! This is a test tool, not a linker: sizes are small and chosen by the
//! caller, so plain arithmetic is used.

#![allow(clippy::arithmetic_side_effects)]

use super::{Machine, SUBSYSTEM_NATIVE, compute_checksum, dll_characteristics};

/// RVA of `.text`, the first section.
pub const TEXT_RVA: u32 = 0x1000;
const SECTION_ALIGNMENT: u32 = 0x1000;
const FILE_ALIGNMENT: u32 = 0x200;
const PE_OFFSET: usize = 0x40;
const OPT_OFFSET: usize = PE_OFFSET + 4 + 20;
const OPT_SIZE: usize = 240;
const SECTION_TABLE: usize = OPT_OFFSET + OPT_SIZE;

/// A symbol to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSpec {
    /// By name, with a hint.
    Name(String, u16),
    /// By ordinal.
    Ordinal(u16),
}

/// An extra section: name, contents, characteristics.
#[derive(Debug, Clone)]
struct ExtraSection {
    name: [u8; 8],
    data: Vec<u8>,
    characteristics: u32,
}

/// Builds a PE32+ image. See the [module docs](self) for the layout.
#[derive(Debug, Clone)]
pub struct PeBuilder {
    machine: Machine,
    subsystem: u16,
    dll_characteristics: u16,
    image_base: u64,
    entry_point: Option<u32>,
    text: Vec<u8>,
    dll_name: String,
    exports: Vec<(String, u32)>,
    imports: Vec<(String, Vec<ImportSpec>)>,
    relocations: Vec<(u32, u8)>,
    pdb_path: Option<String>,
    tls: bool,
    extra: Vec<ExtraSection>,
}

impl PeBuilder {
    /// A driver-like image for `machine`: native subsystem, DYNAMIC_BASE,
    /// NX_COMPAT, FORCE_INTEGRITY and HIGH_ENTROPY_VA, 16 bytes of `.text`,
    /// no imports, exports, relocations or debug data.
    pub fn new(machine: Machine) -> Self {
        PeBuilder {
            machine,
            subsystem: SUBSYSTEM_NATIVE,
            dll_characteristics: dll_characteristics::DYNAMIC_BASE
                | dll_characteristics::NX_COMPAT
                | dll_characteristics::FORCE_INTEGRITY
                | dll_characteristics::HIGH_ENTROPY_VA,
            image_base: 0x1_4000_0000,
            entry_point: None,
            text: vec![0xc3; 16],
            dll_name: "test.sys".to_owned(),
            exports: Vec::new(),
            imports: Vec::new(),
            relocations: Vec::new(),
            pdb_path: None,
            tls: false,
            extra: Vec::new(),
        }
    }

    /// Sets `Subsystem`.
    pub fn subsystem(mut self, subsystem: u16) -> Self {
        self.subsystem = subsystem;
        self
    }

    /// Sets `DllCharacteristics`.
    pub fn dll_characteristics(mut self, bits: u16) -> Self {
        self.dll_characteristics = bits;
        self
    }

    /// Sets `ImageBase`.
    pub fn image_base(mut self, base: u64) -> Self {
        self.image_base = base;
        self
    }

    /// Sets `AddressOfEntryPoint`. Default: the RVA of the export
    /// `DriverEntry` if there is one, else [`TEXT_RVA`].
    pub fn entry_point(mut self, rva: u32) -> Self {
        self.entry_point = Some(rva);
        self
    }

    /// Sets the contents of `.text`.
    pub fn text(mut self, code: Vec<u8>) -> Self {
        self.text = code;
        self
    }

    /// Sets the DLL name of the export directory.
    pub fn dll_name(mut self, name: &str) -> Self {
        self.dll_name = name.to_owned();
        self
    }

    /// Exports `name` at `rva`.
    pub fn export(mut self, name: &str, rva: u32) -> Self {
        self.exports.push((name.to_owned(), rva));
        self
    }

    /// Imports `names` (hint 0) from `module`, appending to an earlier
    /// import from the same module.
    pub fn import(self, module: &str, names: &[&str]) -> Self {
        let specs = names.iter().map(|n| ImportSpec::Name((*n).to_owned(), 0)).collect();
        self.import_specs(module, specs)
    }

    /// Imports `specs` from `module`, appending to an earlier import from the
    /// same module.
    pub fn import_specs(mut self, module: &str, specs: Vec<ImportSpec>) -> Self {
        match self.imports.iter_mut().find(|(m, _)| m == module) {
            Some((_, existing)) => existing.extend(specs),
            None => self.imports.push((module.to_owned(), specs)),
        }
        self
    }

    /// Adds a base relocation of type `kind` at `rva`.
    pub fn relocation(mut self, rva: u32, kind: u8) -> Self {
        self.relocations.push((rva, kind));
        self
    }

    /// Adds a CodeView `RSDS` debug record naming `path`.
    pub fn pdb_path(mut self, path: &str) -> Self {
        self.pdb_path = Some(path.to_owned());
        self
    }

    /// Adds an (all-zero) TLS directory.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Appends a section after the others. Names longer than 8 bytes are cut.
    pub fn section(mut self, name: &str, data: Vec<u8>, characteristics: u32) -> Self {
        let mut raw = [0u8; 8];
        for (dst, src) in raw.iter_mut().zip(name.bytes()) {
            *dst = src;
        }
        self.extra.push(ExtraSection {
            name: raw,
            data,
            characteristics,
        });
        self
    }

    /// Writes the image.
    pub fn build(&self) -> Vec<u8> {
        use super::section_characteristics as scn;

        let has_reloc = !self.relocations.is_empty();
        let number_of_sections = 2 + usize::from(has_reloc) + self.extra.len();
        let size_of_headers = align(
            u32::try_from(SECTION_TABLE + number_of_sections * 40).unwrap_or(0),
            FILE_ALIGNMENT,
        );

        // Every section's RVA and file offset follow from the sizes before
        // it, so `.rdata` can be laid out knowing its own addresses.
        let mut layout = Layout {
            rva: TEXT_RVA,
            file: size_of_headers,
        };
        let mut directories = [(0u32, 0u32); 16];
        let (text_rva, text_file) = layout.place(self.text.len());
        let (rdata_rva, rdata_file) = (layout.rva, layout.file);
        let rdata = self.rdata(rdata_rva, rdata_file, &mut directories);
        let _ = layout.place(rdata.len());

        let mut sections = vec![
            (
                *b".text\0\0\0",
                text_rva,
                text_file,
                self.text.clone(),
                scn::CNT_CODE | scn::MEM_EXECUTE | scn::MEM_READ,
            ),
            (
                *b".rdata\0\0",
                rdata_rva,
                rdata_file,
                rdata,
                scn::CNT_INITIALIZED_DATA | scn::MEM_READ,
            ),
        ];
        if has_reloc {
            let reloc = self.reloc_section();
            let (reloc_rva, reloc_file) = layout.place(reloc.len());
            directories[5] = (reloc_rva, u32::try_from(reloc.len()).unwrap_or(0));
            sections.push((
                *b".reloc\0\0",
                reloc_rva,
                reloc_file,
                reloc,
                scn::CNT_INITIALIZED_DATA | scn::MEM_DISCARDABLE | scn::MEM_READ,
            ));
        }
        for extra in &self.extra {
            let (extra_rva, extra_file) = layout.place(extra.data.len());
            sections.push((
                extra.name,
                extra_rva,
                extra_file,
                extra.data.clone(),
                extra.characteristics,
            ));
        }
        let size_of_image = layout.rva;
        let file_len = layout.file as usize;

        let mut out = vec![0u8; file_len];
        put(&mut out, 0, b"MZ");
        put(&mut out, 0x3c, &(PE_OFFSET as u32).to_le_bytes());
        put(&mut out, PE_OFFSET, b"PE\0\0");
        let coff = PE_OFFSET + 4;
        put(&mut out, coff, &self.machine.raw().to_le_bytes());
        put(&mut out, coff + 2, &(number_of_sections as u16).to_le_bytes());
        put(&mut out, coff + 16, &(OPT_SIZE as u16).to_le_bytes());
        // IMAGE_FILE_EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
        put(&mut out, coff + 18, &0x2022u16.to_le_bytes());

        let o = OPT_OFFSET;
        put(&mut out, o, &super::MAGIC_PE32_PLUS.to_le_bytes());
        put(&mut out, o + 2, &[14, 0]);
        put(
            &mut out,
            o + 4,
            &align(self.text.len() as u32, FILE_ALIGNMENT).to_le_bytes(),
        );
        let entry = self
            .entry_point
            .or_else(|| self.exports.iter().find(|(n, _)| n == "DriverEntry").map(|&(_, r)| r))
            .unwrap_or(TEXT_RVA);
        put(&mut out, o + 16, &entry.to_le_bytes());
        put(&mut out, o + 20, &TEXT_RVA.to_le_bytes());
        put(&mut out, o + 24, &self.image_base.to_le_bytes());
        put(&mut out, o + 32, &SECTION_ALIGNMENT.to_le_bytes());
        put(&mut out, o + 36, &FILE_ALIGNMENT.to_le_bytes());
        put(&mut out, o + 40, &10u16.to_le_bytes()); // OS version 10.0
        put(&mut out, o + 48, &10u16.to_le_bytes()); // subsystem version 10.0
        put(&mut out, o + 56, &size_of_image.to_le_bytes());
        put(&mut out, o + 60, &size_of_headers.to_le_bytes());
        put(&mut out, o + 68, &self.subsystem.to_le_bytes());
        put(&mut out, o + 70, &self.dll_characteristics.to_le_bytes());
        put(&mut out, o + 72, &0x10_0000u64.to_le_bytes());
        put(&mut out, o + 80, &0x1000u64.to_le_bytes());
        put(&mut out, o + 88, &0x10_0000u64.to_le_bytes());
        put(&mut out, o + 96, &0x1000u64.to_le_bytes());
        put(&mut out, o + 108, &16u32.to_le_bytes());
        for (i, (d_rva, d_size)) in directories.iter().enumerate() {
            put(&mut out, o + 112 + i * 8, &d_rva.to_le_bytes());
            put(&mut out, o + 116 + i * 8, &d_size.to_le_bytes());
        }

        for (i, (name, s_rva, s_file, data, characteristics)) in sections.iter().enumerate() {
            let h = SECTION_TABLE + i * 40;
            let len = u32::try_from(data.len()).unwrap_or(0);
            put(&mut out, h, name);
            put(&mut out, h + 8, &len.max(1).to_le_bytes());
            put(&mut out, h + 12, &s_rva.to_le_bytes());
            put(&mut out, h + 16, &align(len.max(1), FILE_ALIGNMENT).to_le_bytes());
            put(&mut out, h + 20, &s_file.to_le_bytes());
            put(&mut out, h + 36, &characteristics.to_le_bytes());
            put(&mut out, *s_file as usize, data);
        }

        let checksum = compute_checksum(&out, OPT_OFFSET + 64);
        put(&mut out, OPT_OFFSET + 64, &checksum.to_le_bytes());
        out
    }

    /// The contents of `.rdata` at `base` (file offset `file`), filling in
    /// the import, export, debug and TLS `directories`.
    fn rdata(&self, base: u32, file: u32, directories: &mut [(u32, u32); 16]) -> Vec<u8> {
        let mut rd = Blob { base, data: Vec::new() };

        if !self.imports.is_empty() {
            let descriptors = rd.reserve((self.imports.len() + 1) * 20);
            for (i, (module, symbols)) in self.imports.iter().enumerate() {
                let table_len = (symbols.len() + 1) * 8;
                let ilt = rd.reserve(table_len);
                let iat = rd.reserve(table_len);
                for (j, symbol) in symbols.iter().enumerate() {
                    let entry = match symbol {
                        ImportSpec::Name(name, hint) => {
                            let mut hint_name = hint.to_le_bytes().to_vec();
                            hint_name.extend_from_slice(name.as_bytes());
                            hint_name.push(0);
                            u64::from(rd.alloc(&hint_name))
                        }
                        ImportSpec::Ordinal(ordinal) => (1u64 << 63) | u64::from(*ordinal),
                    };
                    rd.put(ilt + 8 * j as u32, &entry.to_le_bytes());
                    rd.put(iat + 8 * j as u32, &entry.to_le_bytes());
                }
                let name = rd.alloc_cstr(module);
                let d = descriptors + 20 * i as u32;
                rd.put(d, &ilt.to_le_bytes());
                rd.put(d + 12, &name.to_le_bytes());
                rd.put(d + 16, &iat.to_le_bytes());
            }
            directories[1] = (descriptors, ((self.imports.len() + 1) * 20) as u32);
        }

        if !self.exports.is_empty() {
            let mut sorted = self.exports.clone();
            sorted.sort();
            let n = sorted.len();
            let directory = rd.reserve(40);
            let functions = rd.reserve(4 * n);
            let names = rd.reserve(4 * n);
            let ordinals = rd.reserve(2 * n);
            let dll_name = rd.alloc_cstr(&self.dll_name);
            for (i, (name, rva)) in sorted.iter().enumerate() {
                let name_rva = rd.alloc_cstr(name);
                rd.put(functions + 4 * i as u32, &rva.to_le_bytes());
                rd.put(names + 4 * i as u32, &name_rva.to_le_bytes());
                rd.put(ordinals + 2 * i as u32, &(i as u16).to_le_bytes());
            }
            rd.put(directory + 12, &dll_name.to_le_bytes());
            rd.put(directory + 16, &1u32.to_le_bytes());
            rd.put(directory + 20, &(n as u32).to_le_bytes());
            rd.put(directory + 24, &(n as u32).to_le_bytes());
            rd.put(directory + 28, &functions.to_le_bytes());
            rd.put(directory + 32, &names.to_le_bytes());
            rd.put(directory + 36, &ordinals.to_le_bytes());
            let end = rd.base + rd.data.len() as u32;
            directories[0] = (directory, end - directory);
        }

        if let Some(path) = &self.pdb_path {
            let directory = rd.reserve(28);
            let mut record = b"RSDS".to_vec();
            record.extend_from_slice(&[0x5a; 16]);
            record.extend_from_slice(&1u32.to_le_bytes());
            record.extend_from_slice(path.as_bytes());
            record.push(0);
            let record_rva = rd.alloc(&record);
            rd.put(directory + 12, &super::DEBUG_TYPE_CODEVIEW.to_le_bytes());
            rd.put(directory + 16, &(record.len() as u32).to_le_bytes());
            rd.put(directory + 20, &record_rva.to_le_bytes());
            rd.put(directory + 24, &(file + (record_rva - base)).to_le_bytes());
            directories[6] = (directory, 28);
        }

        if self.tls {
            directories[9] = (rd.reserve(40), 40);
        }
        rd.data
    }

    /// The contents of `.reloc`: one block per page, padded to 4 bytes.
    fn reloc_section(&self) -> Vec<u8> {
        let mut relocations = self.relocations.clone();
        relocations.sort();
        let mut pages: Vec<(u32, Vec<u16>)> = Vec::new();
        for (rva, kind) in relocations {
            let entry = (u16::from(kind) << 12) | (rva & 0xfff) as u16;
            match pages.last_mut() {
                Some((page, entries)) if *page == rva & !0xfff => entries.push(entry),
                _ => pages.push((rva & !0xfff, vec![entry])),
            }
        }
        let mut out = Vec::new();
        for (page, mut entries) in pages {
            if !entries.len().is_multiple_of(2) {
                entries.push(0); // IMAGE_REL_BASED_ABSOLUTE padding
            }
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&(8 + 2 * entries.len() as u32).to_le_bytes());
            for entry in entries {
                out.extend_from_slice(&entry.to_le_bytes());
            }
        }
        out
    }
}

/// Where the next section goes.
struct Layout {
    rva: u32,
    file: u32,
}

impl Layout {
    /// Places a section of `len` bytes, returning its RVA and file offset.
    fn place(&mut self, len: usize) -> (u32, u32) {
        let here = (self.rva, self.file);
        let len = u32::try_from(len.max(1)).unwrap_or(u32::MAX);
        self.rva = align(self.rva + len, SECTION_ALIGNMENT);
        self.file += align(len, FILE_ALIGNMENT);
        here
    }
}

/// A growing section body addressed by RVA.
struct Blob {
    base: u32,
    data: Vec<u8>,
}

impl Blob {
    /// Appends `len` zero bytes at an 8-aligned RVA, returning it.
    fn reserve(&mut self, len: usize) -> u32 {
        while !self.data.len().is_multiple_of(8) {
            self.data.push(0);
        }
        let rva = self.base + self.data.len() as u32;
        self.data.resize(self.data.len() + len, 0);
        rva
    }

    /// Appends `bytes` at an 8-aligned RVA, returning it.
    fn alloc(&mut self, bytes: &[u8]) -> u32 {
        let rva = self.reserve(bytes.len());
        self.put(rva, bytes);
        rva
    }

    /// Appends a NUL-terminated string, returning its RVA.
    fn alloc_cstr(&mut self, text: &str) -> u32 {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        self.alloc(&bytes)
    }

    /// Overwrites the bytes at `rva`.
    fn put(&mut self, rva: u32, bytes: &[u8]) {
        put(&mut self.data, (rva - self.base) as usize, bytes);
    }
}

/// Overwrites `out[at..at + bytes.len()]`, growing `out` if needed.
fn put(out: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let end = at + bytes.len();
    if out.len() < end {
        out.resize(end, 0);
    }
    if let Some(dst) = out.get_mut(at..end) {
        dst.copy_from_slice(bytes);
    }
}

/// `value` rounded up to a multiple of `to` (a power of two).
fn align(value: u32, to: u32) -> u32 {
    (value + to - 1) & !(to - 1)
}
