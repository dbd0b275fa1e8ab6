//! Nothing privileged in the kernel images (issue #5, item 4): every
//! executable section of the real x64 and ARM64 `covmini.sys` and
//! `covclient.sys` (issue #12) decodes
//! completely, and no instruction in it needs CPL0/EL1 (reading CR8 for the
//! IRQL, `cli`/`sti`, `gs:`/x18-relative per-CPU access...). A driver gets
//! all of that from ntoskrnl, which is what keeps the image runnable, and
//! testable, under ndis-emu in a user-mode process.
//!
//! The scanner is `tests/common/privileged.rs`; the teeth tests below build
//! deliberately bad images with ndis-emu's PE builder and show that every
//! kind of privileged instruction is reported at its offset, that padding
//! and harmless prefixes are not, and that undecodable bytes are reported.
//!
//! Why a test and not the loader: the scan needs a full decoder, which the
//! emulator (a library every test links) should not carry; and a privileged
//! instruction the loader missed still cannot hide at run time: it faults in
//! user mode and the loader's crash report names its offset. The test is the
//! gate that catches it before it runs.

#[path = "common/kernel_build.rs"]
mod kernel_build;
use kernel_build::{build_kernel_images, repo};

#[path = "common/privileged.rs"]
mod privileged;

use std::path::{Path, PathBuf};

use ndis_emu::pe::Machine;
use ndis_emu::pe::builder::{PeBuilder, TEXT_RVA};
use privileged::{Scan, scan};

fn real_image(arch: &str) -> (PathBuf, Vec<u8>) {
    driver_image(arch, "covmini")
}

fn driver_image(arch: &str, driver: &str) -> (PathBuf, Vec<u8>) {
    build_kernel_images();
    let path = repo().join("target/kernel").join(arch).join(format!("{driver}.sys"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, bytes)
}

fn assert_clean(path: &Path, bytes: &[u8]) -> Scan {
    let scan = scan(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(scan.is_clean(), "{}: {scan}", path.display());
    assert!(
        scan.sections.iter().any(|s| s == ".text"),
        "{}: .text scanned: {scan}",
        path.display()
    );
    // A real driver: over a thousand instructions (covclient's skeleton has
    // ~1400), not an empty sweep.
    assert!(scan.instructions > 1000, "{}: {scan}", path.display());
    println!("{}: {scan}", path.display());
    scan
}

#[test]
fn the_x64_image_has_no_privileged_instruction_and_decodes_completely() {
    let (path, bytes) = real_image("x64");
    assert_clean(&path, &bytes);
}

#[test]
fn the_arm64_image_has_no_privileged_instruction_and_decodes_completely() {
    let (path, bytes) = real_image("arm64");
    assert_clean(&path, &bytes);
}

#[test]
fn the_x64_covclient_image_has_no_privileged_instruction_and_decodes_completely() {
    let (path, bytes) = driver_image("x64", "covclient");
    assert_clean(&path, &bytes);
}

#[test]
fn the_arm64_covclient_image_has_no_privileged_instruction_and_decodes_completely() {
    let (path, bytes) = driver_image("arm64", "covclient");
    assert_clean(&path, &bytes);
}

// ---------------------------------------------------------------------------
// Teeth: deliberately bad images.
// ---------------------------------------------------------------------------

/// Appends `bytes` to `text` and returns the RVA it starts at.
fn emit(text: &mut Vec<u8>, bytes: &[u8]) -> u32 {
    let rva = TEXT_RVA + u32::try_from(text.len()).expect("small");
    text.extend_from_slice(bytes);
    rva
}

/// Asserts that `scan` reports exactly `expected` (RVA, a piece of the
/// instruction's text), in order.
fn assert_reported(scan: &Scan, expected: &[(u32, &str)]) {
    let got: Vec<(u32, &str)> = scan.privileged.iter().map(|f| (f.rva, f.text.as_str())).collect();
    assert_eq!(got.len(), expected.len(), "{scan}");
    for ((rva, text), (want_rva, want_text)) in got.iter().zip(expected) {
        assert_eq!(rva, want_rva, "{scan}");
        assert!(
            text.contains(want_text),
            "{text:?} should contain {want_text:?}: {scan}"
        );
    }
}

#[test]
fn every_privileged_x64_instruction_is_reported_at_its_offset() {
    let mut text = Vec::new();
    let mut expected = Vec::new();
    let mut bad = |text: &mut Vec<u8>, bytes: &[u8], shows: &'static str| expected.push((emit(text, bytes), shows));
    // Harmless: a function prologue, int3 padding, the multi-byte nop with a
    // cs: prefix compilers pad with, rdtsc, pause, a ds:/ss: override.
    emit(&mut text, &[0x48, 0x83, 0xec, 0x28]); // sub rsp, 28h
    emit(&mut text, &[0xcc, 0xcc, 0xcc]);
    emit(&mut text, &[0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0]);
    emit(&mut text, &[0x0f, 0x31, 0xf3, 0x90]);
    emit(&mut text, &[0x3e, 0x48, 0x8b, 0x00, 0x36, 0x48, 0x8b, 0x04, 0x24]);
    bad(&mut text, &[0x44, 0x0f, 0x20, 0xc0], "cr8"); // mov rax, cr8
    bad(&mut text, &[0x44, 0x0f, 0x22, 0xc0], "cr8"); // mov cr8, rax
    bad(&mut text, &[0x0f, 0x22, 0xd8], "cr3"); // mov cr3, rax
    bad(&mut text, &[0x0f, 0x21, 0xf8], "dr7"); // mov rax, dr7
    bad(&mut text, &[0xfa], "cli");
    bad(&mut text, &[0xfb], "sti");
    bad(&mut text, &[0xf4], "hlt");
    bad(
        &mut text,
        &[0x65, 0x48, 0x8b, 0x04, 0x25, 0x88, 0x01, 0, 0],
        "gs:[188h]",
    ); // KeGetCurrentThread
    bad(&mut text, &[0x64, 0x48, 0x8b, 0x04, 0x25, 0x30, 0, 0, 0], "fs:[30h]");
    bad(&mut text, &[0x65, 0x48, 0x89, 0x08], "gs:[rax]"); // a write, too
    bad(&mut text, &[0xec], "in");
    bad(&mut text, &[0xee], "out");
    bad(&mut text, &[0x6c], "insb");
    bad(&mut text, &[0x6e], "outsb");
    bad(&mut text, &[0x0f, 0x32], "rdmsr");
    bad(&mut text, &[0x0f, 0x30], "wrmsr");
    bad(&mut text, &[0x0f, 0x01, 0xf8], "swapgs");
    bad(&mut text, &[0x0f, 0x01, 0x10], "lgdt");
    bad(&mut text, &[0x0f, 0x01, 0x18], "lidt");
    bad(&mut text, &[0x0f, 0x00, 0x10], "lldt");
    bad(&mut text, &[0x0f, 0x00, 0x18], "ltr");
    bad(&mut text, &[0x0f, 0x01, 0x38], "invlpg");
    bad(&mut text, &[0x0f, 0x08], "invd");
    bad(&mut text, &[0x0f, 0x09], "wbinvd");
    bad(&mut text, &[0x0f, 0x33], "rdpmc");
    bad(&mut text, &[0x48, 0xcf], "iretq");
    bad(&mut text, &[0x48, 0x0f, 0x07], "sysretq");
    bad(&mut text, &[0x0f, 0x05], "syscall");
    bad(&mut text, &[0xcd, 0x2e], "int");
    bad(&mut text, &[0x9d], "popf");
    bad(&mut text, &[0x8e, 0xe8], "mov gs"); // mov gs, ax
    bad(&mut text, &[0xf3, 0x48, 0x0f, 0xae, 0xd8], "wrgsbase");
    bad(&mut text, &[0x0f, 0x01, 0xca], "clac");
    emit(&mut text, &[0xc3, 0xcc, 0xcc, 0xcc]); // ret, padding
    let bytes = PeBuilder::new(Machine::Amd64).text(text).build();

    let scan = scan(&bytes).expect("scan");
    assert!(scan.undecodable.is_empty(), "{scan}");
    assert_reported(&scan, &expected);
    for finding in &scan.privileged {
        assert_eq!(finding.section, ".text");
        assert!(!finding.why.is_empty());
    }
}

#[test]
fn undecodable_x64_bytes_are_reported_not_skipped() {
    let mut text = Vec::new();
    emit(&mut text, &[0x90, 0x90]);
    let push_es = emit(&mut text, &[0x06]); // invalid in 64-bit mode
    emit(&mut text, &[0xc3]);
    let bytes = PeBuilder::new(Machine::Amd64).text(text).build();
    let scan = scan(&bytes).expect("scan");
    assert!(scan.privileged.is_empty(), "{scan}");
    let bad: Vec<(u32, &str)> = scan.undecodable.iter().map(|f| (f.rva, f.bytes.as_str())).collect();
    assert_eq!(bad, [(push_es, "06")], "{scan}");
    assert!(!scan.is_clean());
}

/// A little-endian A64 word.
fn word(w: u32) -> [u8; 4] {
    w.to_le_bytes()
}

#[test]
fn every_privileged_arm64_instruction_is_reported_at_its_offset() {
    let mut text = Vec::new();
    let mut expected = Vec::new();
    let mut bad = |text: &mut Vec<u8>, w: u32, shows: &'static str| expected.push((emit(text, &word(w)), shows));
    // Harmless: nop, ret, brk (Rust's abort), a TPIDR_EL0 read (EL0's own
    // register), a load through x19, a DC ZVA (op1 = 3), and udf #0 padding.
    for w in [
        0xD503_201F,
        0xD65F_03C0,
        0xD43E_0000,
        0xD53B_D040,
        0xF940_0A60,
        0xD50B_7420,
        0,
    ] {
        emit(&mut text, &word(w));
    }
    bad(&mut text, 0xD538_D080, "mrs x0, s3_0_c13_c0_4"); // mrs x0, TPIDR_EL1
    bad(&mut text, 0xD518_D080, "msr s3_0_c13_c0_4, x0"); // msr TPIDR_EL1, x0
    bad(&mut text, 0xD503_42DF, "msr pstate.0x1e"); // msr daifset, #2
    bad(&mut text, 0xD503_41FF, "msr pstate.0x1f"); // msr daifclr, #1
    bad(&mut text, 0xF940_0A40, "[x18, #0x10]"); // ldr x0, [x18, #0x10]: the KPCR
    bad(&mut text, 0x3940_E240, "[x18, #0x38]"); // ldrb w0, [x18, #0x38]: KPCR->Irql
    bad(&mut text, 0xD508_871F, "sys #0x0, c8, c7"); // tlbi vmalle1
    bad(&mut text, 0xD69F_03E0, "eret");
    bad(&mut text, 0xD400_0002, "hvc");
    bad(&mut text, 0xD400_0003, "smc");
    bad(&mut text, 0xD400_0001, "svc");
    bad(&mut text, 0xD503_207F, "wfi");
    bad(&mut text, 0xD440_0000, "hlt");
    let bytes = PeBuilder::new(Machine::Arm64).text(text).build();

    let scan = scan(&bytes).expect("scan");
    assert!(scan.undecodable.is_empty(), "{scan}");
    assert_reported(&scan, &expected);
}

#[test]
fn undecodable_arm64_words_are_reported_not_skipped() {
    let mut text = Vec::new();
    emit(&mut text, &word(0xD503_201F));
    let invalid = emit(&mut text, &word(0xFFFF_FFFF));
    emit(&mut text, &word(0xD65F_03C0));
    let bytes = PeBuilder::new(Machine::Arm64).text(text).build();
    let scan = scan(&bytes).expect("scan");
    let bad: Vec<u32> = scan.undecodable.iter().map(|f| f.rva).collect();
    assert_eq!(bad, [invalid], "{scan}");
}

/// The file offset and RVA of the `.text` section of `bytes`.
fn text_section(bytes: &[u8]) -> (usize, u32, usize) {
    let pe = ndis_emu::pe::PeImage::parse(bytes).expect("parse");
    let text = pe.section_by_name(".text").expect(".text");
    (
        text.pointer_to_raw_data as usize,
        text.virtual_address,
        (text.virtual_size as usize).min(text.size_of_raw_data as usize),
    )
}

#[test]
fn a_cli_patched_into_the_real_x64_image_is_found_at_its_offset() {
    let (_, mut bytes) = real_image("x64");
    let (file, rva, len) = text_section(&bytes);
    // The first int3 the sweep decodes on its own (padding between
    // functions): a one-byte instruction boundary, so `cli` (one byte)
    // replaces it without shifting anything.
    let code = &bytes[file..file + len];
    let mut decoder = iced_x86::Decoder::with_ip(64, code, u64::from(rva), iced_x86::DecoderOptions::NONE);
    let int3 = decoder
        .iter()
        .find(|i| i.mnemonic() == iced_x86::Mnemonic::Int3)
        .expect("an int3 in .text");
    let at = u32::try_from(int3.ip()).expect("rva");
    bytes[file + (at - rva) as usize] = 0xfa;
    let scan = scan(&bytes).expect("scan");
    assert_reported(&scan, &[(at, "cli")]);
}

#[test]
fn an_x18_load_patched_into_the_real_arm64_image_is_found_at_its_offset() {
    let (_, mut bytes) = real_image("arm64");
    let (file, rva, _) = text_section(&bytes);
    // Every aligned word is an instruction: the 16th becomes KPCR->Irql.
    let at = rva + 0x40;
    let offset = file + 0x40;
    bytes[offset..offset + 4].copy_from_slice(&word(0x3940_E240));
    let scan = scan(&bytes).expect("scan");
    assert_reported(&scan, &[(at, "[x18, #0x38]")]);
}
