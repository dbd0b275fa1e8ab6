//! The PE loader (`ndis_emu::loader`) runs the exact `covmini.sys` in this
//! process, refuses what it cannot run safely, and names the faulting
//! offset when an image crashes.
//!
//! One image per process: every scenario that maps an image runs in a child
//! process, this test binary re-run filtered to one `#[ignore]`d `child_*`
//! test with `NDIS_EMU_LOADER_CHILD` set. Refusals happen before anything is
//! mapped, so those tests run in-process.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use ndis_emu::loader::{CRASH_EXIT_CODE, Image, LoadError};
use ndis_emu::pe::builder::{ImportSpec, PeBuilder, TEXT_RVA};
use ndis_emu::pe::{ImportedSymbol, Machine, PeImage, compute_checksum, reloc_type, section_characteristics as scn};
use ndis_emu::{Emulator, ffi};

/// Which child scenario to run (and that this process is a child).
const CHILD: &str = "NDIS_EMU_LOADER_CHILD";
/// The image a child loads.
const IMAGE: &str = "NDIS_EMU_LOADER_IMAGE";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bytes of the real x64 `covmini.sys`, built once per test process
/// with `scripts/build-kernel.sh x64`.
fn covmini_sys() -> &'static [u8] {
    static BYTES: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    let result = BYTES.get_or_init(|| {
        let script = repo().join("scripts/build-kernel.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg("x64")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!(
                "scripts/build-kernel.sh x64 failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let path = repo().join("target/kernel/x64/covmini.sys");
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    });
    match result {
        Ok(bytes) => bytes,
        Err(message) => panic!("{message}"),
    }
}

/// A private temporary copy of an image, removed (with its directory) on
/// drop.
struct TempImage {
    dir: PathBuf,
    path: PathBuf,
}

impl TempImage {
    /// Writes `bytes` to a file named `name` in a directory of this test
    /// process and `tag`, so tests do not collide.
    fn new(tag: &str, name: &str, bytes: &[u8]) -> Self {
        let dir = std::env::temp_dir().join(format!("ndis-emu-loader-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write temp image");
        Self { dir, path }
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Re-runs this test binary as a child running only `test`, in `scenario`
/// with `image` (if any).
fn run_child(test: &str, scenario: &str, image: Option<&Path>) -> Output {
    let exe = std::env::current_exe().expect("test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--include-ignored", "--test-threads=1"])
        .env(CHILD, scenario);
    if let Some(image) = image {
        command.env(IMAGE, image);
    }
    output_within(command, CHILD_TIMEOUT)
}

/// The longest a child may run: a crash report that loops or hangs fails
/// the test instead of hanging it.
const CHILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `command` to completion, or kills it after `limit` and panics.
fn output_within(mut command: Command, limit: std::time::Duration) -> Output {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    // Drain both pipes on threads so a chatty child cannot block on them.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buffer);
        buffer
    });
    let err = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut buffer);
        buffer
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait child") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            panic!("the child ran over {limit:?} and was killed; stderr:\n{stderr}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// The scenario this process runs, if it is a child for `test`.
fn child_scenario() -> Option<String> {
    std::env::var(CHILD).ok()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `bytes` with its checksum recomputed (after a mutation).
fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    let offset = PeImage::parse(&bytes).expect("parse").checksum_offset();
    let sum = compute_checksum(&bytes, offset);
    bytes[offset..offset + 4].copy_from_slice(&sum.to_le_bytes());
    bytes
}

// ---------------------------------------------------------------------------
// (a) The real image runs the whole lifecycle.
// ---------------------------------------------------------------------------

#[test]
fn the_real_covmini_sys_runs_the_whole_lifecycle_clean() {
    let image = TempImage::new("lifecycle", "covmini.sys", covmini_sys());
    let out = run_child("child_lifecycle", "lifecycle", Some(&image.path));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("child: covmini.sys ran clean"),
        "{}",
        describe(&out)
    );
}

/// The child of `the_real_covmini_sys_runs_the_whole_lifecycle_clean`. To
/// run it under memcheck (0 errors):
///
/// ```text
/// valgrind --trace-children=yes --trace-children-skip='*bash*,*cargo*,*rustup*,*rustc*' \
///   --error-exitcode=1 target/debug/deps/loader-<hash> --exact \
///   the_real_covmini_sys_runs_the_whole_lifecycle_clean
/// ```
#[test]
#[ignore = "runs only as a child of this file's tests"]
fn child_lifecycle() {
    use ndis_sys::{NDIS_STATUS_SUCCESS, NdisMediumCoWan, OID_GEN_CO_MEDIA_IN_USE};
    if child_scenario().as_deref() != Some("lifecycle") {
        return;
    }
    let path = std::env::var_os(IMAGE).expect("image path");
    let image = Image::load(&path).unwrap_or_else(|e| panic!("load: {e}"));
    assert_eq!(image.name(), "covmini.sys");
    assert_ne!(
        image.base() as u64,
        image.image_base(),
        "mapped away from ImageBase: relocated"
    );

    let mut emu = Emulator::new();
    emu.load(image.entry_point()).expect("DriverEntry");
    emu.add_adapter().expect("MiniportInitializeEx + MiniportRestart");
    let (_, media) = emu
        .oid_query(None, None, OID_GEN_CO_MEDIA_IN_USE, 4)
        .expect("OID_GEN_CO_MEDIA_IN_USE");
    assert_eq!((media.status, media.bytes_done), (NDIS_STATUS_SUCCESS, 4));
    assert_eq!(media.data, (NdisMediumCoWan as u32).to_ne_bytes());
    emu.halt_adapter().expect("MiniportPause + MiniportHaltEx");
    emu.unload().expect("MiniportDriverUnload");
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");

    // The steps the host build goes through, in order (tests/skeleton.rs).
    let names: Vec<&str> = report.events.iter().map(|e| e.name).collect();
    let mut rest = names.iter();
    for step in [
        "DriverEntry",
        "NdisMRegisterMiniportDriver",
        "MiniportSetOptions",
        "MiniportInitializeEx",
        "NdisMSetMiniportAttributes",
        "NdisMCmRegisterAddressFamilyEx",
        "MiniportRestart",
        "MiniportPause",
        "MiniportHaltEx",
        "MiniportDriverUnload",
        "NdisMDeregisterMiniportDriver",
    ] {
        assert!(rest.any(|n| *n == step), "{step} missing or out of order in {names:?}");
    }

    // The handlers NDIS holds are the image's.
    let af = report
        .events
        .iter()
        .find(|e| e.name == "NdisMCmRegisterAddressFamilyEx")
        .expect("AF registration");
    assert!(af.detail().ends_with("AF 0xc0c0 v1.0"), "{}", af.detail);

    // One image per process.
    assert_eq!(Image::load(&path).unwrap_err(), LoadError::AlreadyLoaded);
    println!("child: covmini.sys ran clean at {:#x}", image.base());
}

// ---------------------------------------------------------------------------
// Relocation, binding and protection, on a synthetic image.
// ---------------------------------------------------------------------------

/// Where [`relocated_image`]'s second function starts.
const CHKSTK_CALLER: u32 = TEXT_RVA + 0x20;
/// The frame it allocates with `__chkstk`.
const CHKSTK_FRAME: u32 = 0x5000;

/// A synthetic image with, in `.text`:
/// * at `TEXT_RVA`: `mov rax, [rip + 9]; ret`, reading the absolute address
///   `ImageBase + 0x1234` stored at `TEXT_RVA + 0x10` (a DIR64 relocation);
/// * at [`CHKSTK_CALLER`]: what MSVC emits for a big frame: `mov eax,
///   CHKSTK_FRAME; call [__chkstk]; sub rsp, rax`, a store into the frame,
///   then `add rsp, CHKSTK_FRAME` and return RSP's distance from where it
///   was (0 when `__chkstk` left RSP alone).
fn relocated_image() -> Vec<u8> {
    let build = |chkstk_slot: u32| {
        let base = 0x1_4000_0000u64;
        let mut text = vec![0x48, 0x8b, 0x05, 0x09, 0, 0, 0, 0xc3];
        text.resize(0x10, 0xcc);
        text.extend_from_slice(&(base + 0x1234).to_le_bytes());
        text.resize((CHKSTK_CALLER - TEXT_RVA) as usize, 0xcc);
        text.extend_from_slice(&[0x49, 0x89, 0xe0]); // mov r8, rsp
        text.push(0xb8); // mov eax, imm32
        text.extend_from_slice(&CHKSTK_FRAME.to_le_bytes());
        let next = CHKSTK_CALLER + 3 + 5 + 6;
        text.extend_from_slice(&[0xff, 0x15]); // call [rip + disp32]
        text.extend_from_slice(&chkstk_slot.wrapping_sub(next).to_le_bytes());
        text.extend_from_slice(&[0x48, 0x29, 0xc4]); // sub rsp, rax
        text.extend_from_slice(&[0x48, 0xc7, 0x04, 0x24, 1, 0, 0, 0]); // mov qword [rsp], 1
        text.extend_from_slice(&[0x48, 0x81, 0xc4]); // add rsp, imm32
        text.extend_from_slice(&CHKSTK_FRAME.to_le_bytes());
        text.extend_from_slice(&[0x4c, 0x89, 0xc0]); // mov rax, r8
        text.extend_from_slice(&[0x48, 0x29, 0xe0]); // sub rax, rsp
        text.push(0xc3); // ret
        PeBuilder::new(Machine::Amd64)
            .image_base(base)
            .text(text)
            .relocation(TEXT_RVA + 0x10, reloc_type::DIR64)
            .import("ndis.sys", &["NdisGetVersion"])
            .import("ntoskrnl.exe", &["memcpy", "__chkstk"])
            .section(
                ".data",
                vec![7; 8],
                scn::CNT_INITIALIZED_DATA | scn::MEM_READ | scn::MEM_WRITE,
            )
            .build()
    };
    // The IAT's place depends only on the length of .text: build once to
    // find the __chkstk slot, then again calling through it.
    let draft = build(0);
    let pe = PeImage::parse(&draft).expect("parse");
    let slot = pe
        .imports()
        .expect("imports")
        .iter()
        .flat_map(|m| m.symbols.clone())
        .find(|s| s.name() == Some("__chkstk"))
        .expect("__chkstk")
        .iat_rva();
    build(slot)
}

#[test]
fn a_synthetic_image_is_relocated_bound_and_protected_w_xor_x() {
    let image = TempImage::new("synthetic", "synthetic.sys", &relocated_image());
    let out = run_child("child_synthetic", "synthetic", Some(&image.path));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("child: synthetic ok"),
        "{}",
        describe(&out)
    );
}

/// The pages of `base..base + size` in /proc/self/maps: (start, perms).
fn mapped_pages(base: usize, size: usize) -> Vec<(usize, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let mut pages = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let range = fields.next().unwrap_or_default();
        let perms = fields.next().unwrap_or_default().to_owned();
        let (start, end) = range.split_once('-').expect("range");
        let (start, end) = (
            usize::from_str_radix(start, 16).expect("start"),
            usize::from_str_radix(end, 16).expect("end"),
        );
        let mut page = start.max(base);
        while page < end.min(base + size) {
            pages.push((page - base, perms.clone()));
            page += 0x1000;
        }
    }
    pages
}

#[test]
#[ignore = "runs only as a child of this file's tests"]
fn child_synthetic() {
    if child_scenario().as_deref() != Some("synthetic") {
        return;
    }
    let path = std::env::var_os(IMAGE).expect("image path");
    let bytes = std::fs::read(&path).expect("read");
    let pe = PeImage::parse(&bytes).expect("parse");
    let image = Image::load(&path).unwrap_or_else(|e| panic!("load: {e}"));
    assert_eq!(image.size(), pe.size_of_image() as usize);
    assert_eq!(image.offset_of(image.base() + 0x1010), Some(0x1010));
    assert_eq!(image.offset_of(image.base() + image.size()), None);
    assert_eq!(image.offset_of(image.base().wrapping_sub(1)), None);

    // The code runs, and reads the relocated address.
    let code = image.address_of(TEXT_RVA as usize).expect("text");
    // SAFETY: `code` is the synthetic .text above: `mov rax, [rip+9]; ret`,
    // a win64 function of no arguments returning a u64.
    let f = unsafe { std::mem::transmute::<usize, extern "win64" fn() -> u64>(code) };
    assert_eq!(f(), image.base() as u64 + 0x1234, "DIR64 relocation applied");

    // The image probes its stack through the bound __chkstk and gets it back
    // as it was.
    let code = image.address_of(CHKSTK_CALLER as usize).expect("text");
    // SAFETY: `code` is the synthetic function above, a win64 function of no
    // arguments returning a u64, whose 0x5000-byte frame fits this thread's
    // stack.
    let f = unsafe { std::mem::transmute::<usize, extern "win64" fn() -> u64>(code) };
    assert_eq!(f(), 0, "RSP unchanged across __chkstk and the frame");

    // The IAT holds the implementations.
    for module in pe.imports().expect("imports") {
        for symbol in module.symbols {
            let ImportedSymbol::ByName { name, iat_rva, .. } = symbol else {
                panic!("by ordinal")
            };
            let slot = image.address_of(iat_rva as usize).expect("slot");
            // SAFETY: the slot lies in the mapped, readable .rdata.
            let bound = unsafe { (slot as *const u64).read_unaligned() } as usize;
            match ffi::table::resolve(module.name, name) {
                Some(address) => assert_eq!(bound, address, "{name}"),
                None => assert!(
                    bound != 0 && image.offset_of(bound).is_none(),
                    "{name}: intrinsic bound outside the image"
                ),
            }
        }
    }

    // W^X, section by section.
    let pages = mapped_pages(image.base(), image.size());
    let perms = |offset: usize| {
        pages
            .iter()
            .find(|(o, _)| *o == offset)
            .map(|(_, p)| &p[..3])
            .unwrap_or_else(|| panic!("page {offset:#x} not mapped: {pages:?}"))
    };
    for (offset, p) in &pages {
        assert!(!(p.contains('w') && p.contains('x')), "page {offset:#x} is {p}");
    }
    assert_eq!(perms(0), "r--", "headers");
    for section in pe.sections() {
        let want = match section.name_str() {
            Some(".text") => "r-x",
            Some(".data") => "rw-",
            _ => "r--",
        };
        assert_eq!(
            perms(section.virtual_address as usize),
            want,
            "{:?}",
            section.name_str()
        );
    }

    assert_eq!(Image::load(&path).unwrap_err(), LoadError::AlreadyLoaded);
    println!("child: synthetic ok");
}

// ---------------------------------------------------------------------------
// (c) A crash names the faulting offset; a crash elsewhere is not ours.
// ---------------------------------------------------------------------------

/// An image whose DriverEntry (at `TEXT_RVA + 0x10`) executes `ud2`, and
/// whose `TEXT_RVA + 0x20` reads address 0.
fn crashing_image() -> Vec<u8> {
    let mut text = vec![0x90; 0x10];
    text.extend_from_slice(&[0x0f, 0x0b]); // ud2
    text.resize(0x20, 0xcc);
    text.extend_from_slice(&[0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xc3]); // mov rax, [0]; ret
    PeBuilder::new(Machine::Amd64)
        .text(text)
        .export("DriverEntry", TEXT_RVA + 0x10)
        .build()
}

fn crash(scenario: &str) -> Output {
    let image = TempImage::new(scenario, "crash.sys", &crashing_image());
    run_child("child_crash", scenario, Some(&image.path))
}

#[test]
fn an_invalid_instruction_in_the_image_is_reported_at_its_offset() {
    let out = crash("ud2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(CRASH_EXIT_CODE), "{}", describe(&out));
    assert!(
        stderr.contains("the driver crashed: SIGILL at crash.sys+0x1010"),
        "{}",
        describe(&out)
    );
    assert!(stderr.contains("(rip 0x"), "{}", describe(&out));
}

#[test]
fn a_null_read_in_the_image_is_reported_at_its_offset() {
    let out = crash("null");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(CRASH_EXIT_CODE), "{}", describe(&out));
    assert!(
        stderr.contains("the driver crashed: SIGSEGV at crash.sys+0x1020") && stderr.contains("fault address 0x0)"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_fault_outside_the_image_keeps_its_default_action() {
    let out = crash("outside");
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{}", describe(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("the driver crashed"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_real_covmini_sys_that_faults_is_reported_in_driver_entry() {
    let mut bytes = covmini_sys().to_vec();
    let pe = PeImage::parse(&bytes).expect("parse");
    let entry = pe.entry_point();
    let text = *pe.section_containing(entry).expect("entry section");
    let at = pe.rva_to_offset(entry).expect("entry in the file");
    bytes[at..at + 2].copy_from_slice(&[0x0f, 0x0b]); // ud2 at DriverEntry
    let image = TempImage::new("real-ud2", "covmini.sys", &with_checksum(bytes));
    let out = run_child("child_crash", "ud2", Some(&image.path));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(CRASH_EXIT_CODE), "{}", describe(&out));
    let needle = format!(
        "the driver crashed: SIGILL at covmini.sys+{entry:#x} [.text+{:#x}, DriverEntry+0x0]",
        entry - text.virtual_address
    );
    assert!(stderr.contains(&needle), "{needle:?} missing:\n{}", describe(&out));
    assert!(
        stderr.contains("the driver was running DriverEntry at IRQL 0 (handlers: DriverEntry)"),
        "{}",
        describe(&out)
    );
}

#[test]
#[ignore = "runs only as a child of this file's tests"]
fn child_crash() {
    let Some(scenario) = child_scenario() else { return };
    let path = std::env::var_os(IMAGE).expect("image path");
    let image = Image::load(&path).unwrap_or_else(|e| panic!("load: {e}"));
    match scenario.as_str() {
        "ud2" => {
            let mut emu = Emulator::new();
            let _ = emu.load(image.entry_point());
        }
        "null" => {
            let code = image.address_of(TEXT_RVA as usize + 0x20).expect("code");
            // SAFETY: `code` is `mov rax, [0]; ret` in the mapped .text: it
            // faults, which is the point.
            let f = unsafe { std::mem::transmute::<usize, extern "win64" fn() -> u64>(code) };
            let _ = f();
        }
        "outside" => {
            // SAFETY: reads address 0 from this test's own code: a fault
            // outside the image, which must keep SIGSEGV's default action.
            unsafe { core::arch::asm!("mov rax, qword ptr [0]", out("rax") _) };
        }
        other => panic!("unknown scenario {other}"),
    }
    panic!("scenario {scenario} did not crash");
}

// ---------------------------------------------------------------------------
// Crash reports with the emulator's view: a fault in a handler on an NDIS
// handle, a fault in a DDI the image called with a bad pointer, and bug
// checks with covmini's codes. Each runs in a child (one image per process;
// the report ends the process).
// ---------------------------------------------------------------------------

/// Where the functions of [`faulty_image`] are, as RVAs.
mod faulty {
    use super::TEXT_RVA;
    /// Registers a miniport whose MiniportSetOptions reads its driver handle.
    pub const DRIVER_ENTRY: u32 = TEXT_RVA;
    /// Calls NdisMRegisterMiniportDriver with characteristics at address 0x10.
    pub const BAD_POINTER_ENTRY: u32 = TEXT_RVA + 0x40;
    /// DbgPrintEx(MESSAGE), then KeBugCheckEx('RPNC', FILE, FILE.len(), 42,
    /// 7), as covmini's panic handler does.
    pub const PANIC_ENTRY: u32 = TEXT_RVA + 0x80;
    /// KeBugCheckEx('RUNW', 0, 0, 0, 0), as covmini's __CxxFrameHandler3.
    pub const UNWIND_ENTRY: u32 = TEXT_RVA + 0xd0;
    /// `xor eax, eax; ret`: every other handler.
    pub const STUB: u32 = TEXT_RVA + 0x100;
    /// MiniportSetOptions: `mov rax, [rcx]; ret`, a read through the handle.
    pub const SET_OPTIONS: u32 = TEXT_RVA + 0x110;
    /// The "source file" of the panic, in .text (read-only).
    pub const FILE_RVA: u32 = TEXT_RVA + 0x120;
    pub const FILE: &str = "src/ffi/adapter.rs";
    /// The panic message, NUL-terminated, in .text.
    pub const MESSAGE_RVA: u32 = TEXT_RVA + 0x140;
    pub const MESSAGE: &str = "covmini: panic at src/ffi/adapter.rs:42:7: boom";
}

/// A tiny x64 assembler: bytes at known RVAs, with RIP-relative operands.
struct Asm {
    text: Vec<u8>,
}

impl Asm {
    fn at(&mut self, rva: u32) {
        let offset = (rva - TEXT_RVA) as usize;
        assert!(self.text.len() <= offset, "code overlaps at {rva:#x}");
        self.text.resize(offset, 0xcc);
    }

    fn rva(&self) -> u32 {
        TEXT_RVA + self.text.len() as u32
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.text.extend_from_slice(bytes);
    }

    /// `opcode` followed by a disp32 to `target`, relative to the end of
    /// the instruction (`tail` more bytes follow the disp32).
    fn rip(&mut self, opcode: &[u8], target: u32, tail: &[u8]) {
        let end = self.rva() + opcode.len() as u32 + 4 + tail.len() as u32;
        self.bytes(opcode);
        self.bytes(&target.wrapping_sub(end).to_le_bytes());
        self.bytes(tail);
    }
}

/// The RVA of the IAT slot of `name` in `bytes`.
fn iat_slot(bytes: &[u8], name: &str) -> u32 {
    let pe = PeImage::parse(bytes).expect("parse");
    pe.imports()
        .expect("imports")
        .iter()
        .flat_map(|m| m.symbols.clone())
        .find(|s| s.name() == Some(name))
        .unwrap_or_else(|| panic!("{name} imported"))
        .iat_rva()
}

/// [`faulty`]'s functions, and the return addresses of their import calls
/// (BAD_POINTER_ENTRY's and PANIC_ENTRY's), given the two IAT slots and the
/// RVA of the characteristics in `.data`.
fn faulty_text(register_slot: u32, bugcheck_slot: u32, print_slot: u32, chars: u32) -> (Vec<u8>, u32, u32) {
    use faulty::*;
    let mut a = Asm { text: Vec::new() };
    a.at(DRIVER_ENTRY);
    a.bytes(&[0x48, 0x83, 0xec, 0x38]); // sub rsp, 38h
    a.rip(&[0x4c, 0x8d, 0x0d], chars, &[]); // lea r9, [rip + chars]
    a.bytes(&[0x45, 0x31, 0xc0]); // xor r8d, r8d (DriverContext)
    a.bytes(&[0x48, 0x8d, 0x44, 0x24, 0x30]); // lea rax, [rsp+30h]
    a.bytes(&[0x48, 0x89, 0x44, 0x24, 0x20]); // mov [rsp+20h], rax (handle out)
    a.rip(&[0xff, 0x15], register_slot, &[]); // call [NdisMRegisterMiniportDriver]
    a.bytes(&[0x48, 0x83, 0xc4, 0x38, 0xc3]); // add rsp, 38h; ret

    a.at(BAD_POINTER_ENTRY);
    a.bytes(&[0x48, 0x83, 0xec, 0x38]);
    a.bytes(&[0x41, 0xb9, 0x10, 0, 0, 0]); // mov r9d, 10h: a bad pointer
    a.bytes(&[0x45, 0x31, 0xc0]);
    a.bytes(&[0x48, 0x8d, 0x44, 0x24, 0x30]);
    a.bytes(&[0x48, 0x89, 0x44, 0x24, 0x20]);
    a.rip(&[0xff, 0x15], register_slot, &[]);
    let bad_pointer_return = a.rva();
    a.bytes(&[0x48, 0x83, 0xc4, 0x38, 0xc3]);

    a.at(PANIC_ENTRY);
    a.bytes(&[0x48, 0x83, 0xec, 0x38]);
    a.bytes(&[0xb9, 77, 0, 0, 0, 0x31, 0xd2]); // mov ecx, 77; xor edx, edx
    a.rip(&[0x4c, 0x8d, 0x05], MESSAGE_RVA, &[]); // lea r8, [rip + MESSAGE]
    a.rip(&[0xff, 0x15], print_slot, &[]); // call [DbgPrintEx]
    a.bytes(&[0xb9]); // mov ecx, 'RPNC'
    a.bytes(&u32::from_be_bytes(*b"RPNC").to_le_bytes());
    a.rip(&[0x48, 0x8d, 0x15], FILE_RVA, &[]); // lea rdx, [rip + FILE]
    a.bytes(&[0x41, 0xb8]); // mov r8d, len
    a.bytes(&(FILE.len() as u32).to_le_bytes());
    a.bytes(&[0x41, 0xb9, 42, 0, 0, 0]); // mov r9d, 42
    a.bytes(&[0x48, 0xc7, 0x44, 0x24, 0x20, 7, 0, 0, 0]); // mov qword [rsp+20h], 7
    a.rip(&[0xff, 0x15], bugcheck_slot, &[]); // call [KeBugCheckEx]
    let panic_return = a.rva();
    a.bytes(&[0xcc]);

    a.at(UNWIND_ENTRY);
    a.bytes(&[0x48, 0x83, 0xec, 0x38]);
    a.bytes(&[0xb9]);
    a.bytes(&u32::from_be_bytes(*b"RUNW").to_le_bytes());
    a.bytes(&[0x31, 0xd2, 0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9]); // xor edx, r8d, r9d
    a.bytes(&[0x48, 0xc7, 0x44, 0x24, 0x20, 0, 0, 0, 0]);
    a.rip(&[0xff, 0x15], bugcheck_slot, &[]);
    a.bytes(&[0xcc]);

    a.at(STUB);
    a.bytes(&[0x31, 0xc0, 0xc3]);
    a.at(SET_OPTIONS);
    a.bytes(&[0x48, 0x8b, 0x01, 0xc3]); // mov rax, [rcx]; ret
    a.at(FILE_RVA);
    a.bytes(FILE.as_bytes());
    a.at(MESSAGE_RVA);
    a.bytes(MESSAGE.as_bytes());
    a.bytes(&[0]);
    (a.text, bad_pointer_return, panic_return)
}

/// NDIS 6.30 miniport driver characteristics (revision 2) whose handlers
/// are all [`faulty::STUB`] but MiniportSetOptions, as `.data` bytes with
/// the offsets of the pointers (each a DIR64 relocation).
fn faulty_characteristics(image_base: u64) -> (Vec<u8>, Vec<usize>) {
    use ndis_sys::*;
    let mut data = vec![0u8; core::mem::size_of::<NDIS_MINIPORT_DRIVER_CHARACTERISTICS>()];
    data[0] = NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS;
    data[1] = NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2;
    data[2..4].copy_from_slice(&(NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2 as u16).to_le_bytes());
    data[4] = 6;
    data[5] = 30;
    let mut pointers = Vec::new();
    let handlers = core::mem::offset_of!(NDIS_MINIPORT_DRIVER_CHARACTERISTICS, SetOptionsHandler)
        ..core::mem::offset_of!(NDIS_MINIPORT_DRIVER_CHARACTERISTICS, DirectOidRequestHandler);
    for offset in handlers.step_by(8) {
        let target = if offset == core::mem::offset_of!(NDIS_MINIPORT_DRIVER_CHARACTERISTICS, SetOptionsHandler) {
            faulty::SET_OPTIONS
        } else {
            faulty::STUB
        };
        data[offset..offset + 8].copy_from_slice(&(image_base + u64::from(target)).to_le_bytes());
        pointers.push(offset);
    }
    (data, pointers)
}

/// The image of [`faulty`], with the return offsets of its bad-pointer and
/// panic calls.
fn faulty_image() -> (Vec<u8>, u32, u32) {
    let base = 0x1_4000_0000u64;
    let (chars, pointers) = faulty_characteristics(base);
    let build = |register_slot: u32, bugcheck_slot: u32, print_slot: u32, data_rva: u32| {
        let (text, bad, panic) = faulty_text(register_slot, bugcheck_slot, print_slot, data_rva);
        let mut builder = PeBuilder::new(Machine::Amd64)
            .image_base(base)
            .text(text)
            .import("ndis.sys", &["NdisMRegisterMiniportDriver"])
            .import("ntoskrnl.exe", &["KeBugCheckEx", "DbgPrintEx"])
            .export("DriverEntry", faulty::DRIVER_ENTRY)
            .export("BadPointerEntry", faulty::BAD_POINTER_ENTRY)
            .export("PanicEntry", faulty::PANIC_ENTRY)
            .export("UnwindEntry", faulty::UNWIND_ENTRY)
            .export("Stub", faulty::STUB)
            .export("SetOptions", faulty::SET_OPTIONS)
            .section(
                ".data",
                chars.clone(),
                scn::CNT_INITIALIZED_DATA | scn::MEM_READ | scn::MEM_WRITE,
            );
        for &offset in &pointers {
            builder = builder.relocation(data_rva + offset as u32, reloc_type::DIR64);
        }
        (builder.build(), bad, panic)
    };
    // The layout depends only on sizes: build once to learn where the slots
    // and .data land, then again pointing at them.
    let data_rva_of = |bytes: &[u8]| {
        PeImage::parse(bytes)
            .expect("parse")
            .section_by_name(".data")
            .expect(".data")
            .virtual_address
    };
    let (draft, _, _) = build(0, 0, 0, 0x5000);
    let data_rva = data_rva_of(&draft);
    let (draft, _, _) = build(0, 0, 0, data_rva);
    let slots = (
        iat_slot(&draft, "NdisMRegisterMiniportDriver"),
        iat_slot(&draft, "KeBugCheckEx"),
        iat_slot(&draft, "DbgPrintEx"),
    );
    let (bytes, bad, panic) = build(slots.0, slots.1, slots.2, data_rva);
    assert_eq!(data_rva_of(&bytes), data_rva, "layout stable");
    assert_eq!(iat_slot(&bytes, "KeBugCheckEx"), slots.1, "layout stable");
    (bytes, bad, panic)
}

fn faulty_run(scenario: &str) -> (Output, String, u32, u32) {
    let (bytes, bad, panic) = faulty_image();
    let image = TempImage::new(scenario, "faulty.sys", &bytes);
    let out = run_child("child_faulty", scenario, Some(&image.path));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The report, for `--nocapture` readers.
    println!("--- {scenario}: {}\n{stderr}", out.status);
    (out, stderr, bad, panic)
}

#[test]
fn a_fault_in_a_handler_names_the_handler_and_the_ndis_handle_it_touched() {
    let (out, stderr, _, _) = faulty_run("handle");
    assert_eq!(out.status.code(), Some(CRASH_EXIT_CODE), "{}", describe(&out));
    let offset = faulty::SET_OPTIONS;
    for needle in [
        format!(
            "the driver crashed: SIGSEGV at faulty.sys+{offset:#x} [.text+{:#x}, SetOptions+0x0]",
            offset - TEXT_RVA
        ),
        "ndis-emu: registers: rax=".to_owned(),
        "the driver was running MiniportSetOptions at IRQL 0 (handlers: DriverEntry > MiniportSetOptions)".to_owned(),
        "is inside NDIS Driver handle".to_owned(),
        "a handle is opaque, never dereference it".to_owned(),
        "rcx = 0x".to_owned(),
        ": NdisMRegisterMiniportDriver".to_owned(),
        "0 rule violation(s) so far".to_owned(),
        "-> MiniportSetOptions".to_owned(),
        "exiting with code 3".to_owned(),
    ] {
        assert!(stderr.contains(&needle), "{needle:?} missing:\n{}", describe(&out));
    }
    // The handle in the fault address and in rcx is the same one, and the
    // report gives its history once.
    let fault = stderr
        .split("fault address ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("fault address");
    assert!(
        stderr.contains(&format!("rcx = {fault}: NDIS Driver handle {fault} (alive)")),
        "{}",
        describe(&out)
    );
    assert_eq!(stderr.matches("history of").count(), 1, "{}", describe(&out));
}

#[test]
fn a_fault_in_a_ddi_the_image_called_names_the_ddi_and_the_call_site() {
    let (out, stderr, bad_return, _) = faulty_run("bad-pointer");
    assert_eq!(out.status.code(), Some(CRASH_EXIT_CODE), "{}", describe(&out));
    let needle = format!(
        "the emulator crashed in host code: SIGSEGV inside ndis.sys!NdisMRegisterMiniportDriver, called from \
         faulty.sys+{bad_return:#x} [.text+{:#x}, BadPointerEntry+{:#x}]",
        bad_return - TEXT_RVA,
        bad_return - faulty::BAD_POINTER_ENTRY
    );
    assert!(stderr.contains(&needle), "{needle:?} missing:\n{}", describe(&out));
    assert!(stderr.contains("fault address 0x10)"), "{}", describe(&out));
    assert!(
        stderr.contains("it most likely passed a bad pointer"),
        "{}",
        describe(&out)
    );
    assert!(!stderr.contains("the driver crashed"), "{}", describe(&out));
}

#[test]
fn a_rust_panic_bug_check_is_decoded_with_its_source_location() {
    let (out, stderr, _, panic_return) = faulty_run("panic");
    assert_eq!(out.status.code(), Some(101), "{}", describe(&out));
    // The file pointer is wherever the image was loaded: the rest is fixed.
    let call = "faulty.sys called KeBugCheckEx(0x52504e43, 0x";
    let rest = format!(
        ", 0x12, 0x2a, 0x7) from faulty.sys+{panic_return:#x} [.text+{:#x}, PanicEntry+{:#x}]: \
         'RPNC' = covmini's Rust panic at {}:42:7",
        panic_return - TEXT_RVA,
        panic_return - faulty::PANIC_ENTRY,
        faulty::FILE
    );
    assert!(
        stderr.contains(call) && stderr.contains(&rest),
        "{rest:?} missing:\n{}",
        describe(&out)
    );
    // The panic message the driver printed just before.
    assert!(
        stderr.contains(&format!("debug output: {}", faulty::MESSAGE)),
        "{}",
        describe(&out)
    );
    // Then the emulator's own report: the code, and the violation.
    assert!(stderr.contains("bug-checked: code 0x52504e43"), "{}", describe(&out));
    assert!(stderr.contains("[driver.bug-check]"), "{}", describe(&out));
}

#[test]
fn an_unwind_bug_check_is_decoded() {
    let (out, stderr, _, _) = faulty_run("unwind");
    assert_eq!(out.status.code(), Some(101), "{}", describe(&out));
    assert!(
        stderr.contains("KeBugCheckEx(0x52554e57, 0x0, 0x0, 0x0, 0x0)")
            && stderr.contains("'RUNW' = covmini's unwind bug check: __CxxFrameHandler3 was reached"),
        "{}",
        describe(&out)
    );
    assert!(stderr.contains("bug-checked: code 0x52554e57"), "{}", describe(&out));
}

#[test]
#[ignore = "runs only as a child of this file's tests"]
fn child_faulty() {
    let Some(scenario) = child_scenario() else { return };
    let path = std::env::var_os(IMAGE).expect("image path");
    let image = Image::load(&path).unwrap_or_else(|e| panic!("load: {e}"));
    let rva = match scenario.as_str() {
        "handle" => faulty::DRIVER_ENTRY,
        "bad-pointer" => faulty::BAD_POINTER_ENTRY,
        "panic" => faulty::PANIC_ENTRY,
        "unwind" => faulty::UNWIND_ENTRY,
        other => panic!("unknown scenario {other}"),
    };
    let address = image.address_of(rva as usize).expect("in the image");
    // SAFETY: each entry above is a win64 function with DriverEntry's
    // signature (it ignores or forwards its two arguments).
    let entry = unsafe { std::mem::transmute::<usize, ndis_sys::DRIVER_INITIALIZE>(address) };
    let mut emu = Emulator::new();
    let _ = emu.load(entry);
    panic!("scenario {scenario} did not crash");
}

// ---------------------------------------------------------------------------
// (b), (d) Refusals: nothing is mapped, so these run in-process.
// ---------------------------------------------------------------------------

#[test]
fn the_real_image_passes_every_check() {
    Image::check(covmini_sys()).unwrap_or_else(|e| panic!("{e}"));
}

/// The file offset and text of the name of an import of `module`: `wanted`,
/// or the first.
fn import_name_offset(bytes: &[u8], module: &str, wanted: Option<&str>) -> (usize, String) {
    let pe = PeImage::parse(bytes).expect("parse");
    let imports = pe.imports().expect("imports");
    let m = imports
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(module))
        .expect("module");
    let name = m
        .symbols
        .iter()
        .filter_map(ImportedSymbol::name)
        .find(|n| wanted.is_none_or(|w| *n == w))
        .expect("symbol");
    (name.as_ptr() as usize - bytes.as_ptr() as usize, name.to_owned())
}

#[test]
fn every_unresolved_import_of_a_mutated_covmini_sys_is_named_at_once() {
    let mut bytes = covmini_sys().to_vec();
    let mut expected = Vec::new();
    for (module, wanted) in [("ndis.sys", None), ("ntoskrnl.exe", Some("memset"))] {
        let (offset, name) = import_name_offset(&bytes, module, wanted);
        let last = offset + name.len() - 1;
        bytes[last] = b'Q';
        let mut renamed = name.clone();
        renamed.pop();
        renamed.push('Q');
        expected.push(format!("{module}!{renamed}"));
    }
    let image = TempImage::new("unresolved", "covmini.sys", &with_checksum(bytes));
    let error = Image::load(&image.path).unwrap_err();
    let LoadError::UnresolvedImports(mut names) = error.clone() else {
        panic!("{error}")
    };
    names.sort();
    expected.sort();
    assert_eq!(names, expected, "import table order aside");
    let message = error.to_string();
    for name in &expected {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn a_bad_checksum_is_refused() {
    let mut bytes = covmini_sys().to_vec();
    let (offset, _) = import_name_offset(&bytes, "ndis.sys", None);
    bytes[offset] ^= 0x20; // a case change: the name no longer resolves either
    let error = Image::load_bytes("covmini.sys", &bytes).unwrap_err();
    assert!(matches!(error, LoadError::BadChecksum { .. }), "{error}");
}

#[test]
fn a_writable_and_executable_section_is_refused() {
    let bytes = PeBuilder::new(Machine::Amd64)
        .section(
            ".rwx",
            vec![0xc3; 4],
            scn::CNT_CODE | scn::MEM_READ | scn::MEM_WRITE | scn::MEM_EXECUTE,
        )
        .build();
    let error = Image::load_bytes("rwx.sys", &bytes).unwrap_err();
    assert!(
        matches!(&error, LoadError::WritableAndExecutable { section, .. } if section == ".rwx"),
        "{error}"
    );
    assert!(
        error.to_string().contains("`.rwx` is both writable and executable"),
        "{error}"
    );
}

#[test]
fn a_relocation_of_another_type_is_refused_with_its_type_and_rva() {
    let bytes = PeBuilder::new(Machine::Amd64)
        .text(vec![0; 32])
        .relocation(TEXT_RVA + 8, reloc_type::DIR64)
        .relocation(TEXT_RVA + 0x10, reloc_type::HIGHLOW)
        .build();
    let error = Image::load_bytes("reloc.sys", &bytes).unwrap_err();
    assert_eq!(
        error,
        LoadError::UnsupportedRelocation {
            kind: reloc_type::HIGHLOW,
            rva: TEXT_RVA + 0x10
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("IMAGE_REL_BASED_HIGHLOW") && message.contains("0x1010"),
        "{message}"
    );
}

#[test]
fn images_a_driver_loader_cannot_run_are_refused() {
    let x64 = || PeBuilder::new(Machine::Amd64);
    let refuse = |bytes: Vec<u8>| Image::load_bytes("refused.sys", &bytes).unwrap_err();

    assert_eq!(
        refuse(PeBuilder::new(Machine::Arm64).build()),
        LoadError::WrongMachine(Machine::Arm64)
    );
    assert_eq!(
        refuse(x64().subsystem(2).build()),
        LoadError::NotNative { subsystem: 2 }
    );
    let tls = refuse(x64().tls(true).build());
    assert!(
        matches!(
            tls,
            LoadError::Unsupported {
                what: "thread-local storage",
                ..
            }
        ),
        "{tls}"
    );

    // Delay-load imports and CLR data: set their data directories.
    for (index, what) in [(13, "delay-load imports"), (14, "CLR (.NET) data")] {
        let mut bytes = x64().build();
        let opt = PeImage::parse(&bytes).expect("parse").optional_header_offset();
        let at = opt + 112 + index * 8;
        bytes[at..at + 4].copy_from_slice(&0x2000u32.to_le_bytes());
        bytes[at + 4..at + 8].copy_from_slice(&0x40u32.to_le_bytes());
        let error = refuse(with_checksum(bytes));
        assert!(
            matches!(&error, LoadError::Unsupported { what: w, .. } if *w == what),
            "{error}"
        );
    }

    let ordinal = refuse(
        x64()
            .import_specs("ndis.sys", vec![ImportSpec::Ordinal(7)])
            .import("ndis.sys", &["NdisGetVersion", "NdisNoSuchFunction"])
            .build(),
    );
    assert_eq!(
        ordinal,
        LoadError::UnresolvedImports(vec!["ndis.sys!#7".to_owned(), "ndis.sys!NdisNoSuchFunction".to_owned()])
    );

    let rdata_entry = refuse(x64().entry_point(0x2000).build());
    assert_eq!(rdata_entry, LoadError::EntryPointNotExecutable { rva: 0x2000 });

    let missing = Image::load("/nonexistent/covmini.sys").unwrap_err();
    assert!(matches!(missing, LoadError::Io { .. }), "{missing}");
}
