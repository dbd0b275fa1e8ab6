//! The real kernel images (build 2 in shared/architecture.md).
//!
//! Builds `covmini.sys` and `covclient.sys` (the CoNDIS client protocol
//! driver, crates/covclient) for x64 and ARM64, in the release and the dev
//! profile, with `scripts/build-kernel.sh [--dev] all` (once per profile and
//! test process; the dev build reuses the release build's target directory
//! and recompiles only ndis-sys and covmini) and checks, with ndis-emu's PE parser, what
//! Windows requires of a driver image and what covmini promises:
//!
//! * PE32+, native subsystem, the right machine;
//! * DYNAMIC_BASE, NX_COMPAT and FORCE_INTEGRITY;
//! * a non-zero checksum equal to the computed one (the loader checks it);
//! * the entry point is the export `DriverEntry`;
//! * no TLS directory, no `.retplne` section;
//! * imports only from modules with a list in `crates/ndis-sys/exports/`, and
//!   only names listed there as exported by Windows 10 1809 or earlier on
//!   that architecture;
//! * `<driver>.pdb` beside each image.
//!
//! Both drivers pass the same checks; the lists in `crates/ndis-sys/exports/`
//! serve both.
//!
//! [`check_image`] returns every finding at once; the negative tests below
//! show that each check fires, on synthetic images and on mutated copies of
//! the real one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ndis_emu::pe::builder::{ImportSpec, PeBuilder, TEXT_RVA};
use ndis_emu::pe::{
    DirectoryEntry, ImportedSymbol, MAGIC_PE32_PLUS, Machine, PeImage, SUBSYSTEM_NATIVE, compute_checksum,
    dll_characteristics as dll,
};

/// Windows 10 1809 (build 17763): every import must exist there.
const OLDEST_BUILD: u32 = 17763;

/// The exports covmini is expected to import, which the lists must keep.
const REQUIRED: &[(&str, &str)] = &[
    ("ndis.sys", "NdisMRegisterMiniportDriver"),
    ("ndis.sys", "NdisMDeregisterMiniportDriver"),
    ("ndis.sys", "NdisSetOptionalHandlers"),
    ("ndis.sys", "NdisMSetMiniportAttributes"),
    ("ndis.sys", "NdisMCmRegisterAddressFamilyEx"),
    ("ndis.sys", "NdisMCmCreateVc"),
    ("ndis.sys", "NdisMCmDeleteVc"),
    ("ndis.sys", "NdisMCmActivateVc"),
    ("ndis.sys", "NdisMCmDeactivateVc"),
    ("ndis.sys", "NdisMCmOidRequest"),
    ("ndis.sys", "NdisCmOpenAddressFamilyComplete"),
    ("ndis.sys", "NdisCmCloseAddressFamilyComplete"),
    ("ndis.sys", "NdisCmNotifyCloseAddressFamily"),
    ("ndis.sys", "NdisCmRegisterSapComplete"),
    ("ndis.sys", "NdisCmDeregisterSapComplete"),
    ("ndis.sys", "NdisCmMakeCallComplete"),
    ("ndis.sys", "NdisCmCloseCallComplete"),
    ("ndis.sys", "NdisCmAddPartyComplete"),
    ("ndis.sys", "NdisCmDropPartyComplete"),
    ("ndis.sys", "NdisCmDispatchIncomingCall"),
    ("ndis.sys", "NdisCmDispatchCallConnected"),
    ("ndis.sys", "NdisCmModifyCallQoSComplete"),
    ("ndis.sys", "NdisCmDispatchIncomingCallQoSChange"),
    ("ndis.sys", "NdisCmDispatchIncomingCloseCall"),
    ("ndis.sys", "NdisCmDispatchIncomingDropParty"),
    ("ndis.sys", "NdisCoOidRequestComplete"),
    ("ndis.sys", "NdisMCoActivateVcComplete"),
    ("ndis.sys", "NdisMCoDeactivateVcComplete"),
    ("ndis.sys", "NdisMCoSendNetBufferListsComplete"),
    ("ndis.sys", "NdisMCoIndicateReceiveNetBufferLists"),
    ("ndis.sys", "NdisMCoIndicateStatusEx"),
    ("ndis.sys", "NdisMCoOidRequestComplete"),
    ("ndis.sys", "NdisGetVersion"),
    ("ndis.sys", "NdisAllocateMemoryWithTagPriority"),
    ("ndis.sys", "NdisFreeMemory"),
    ("ndis.sys", "NdisFreeMemoryWithTagPriority"),
    ("ndis.sys", "NdisAllocateSpinLock"),
    ("ndis.sys", "NdisFreeSpinLock"),
    ("ndis.sys", "NdisAcquireSpinLock"),
    ("ndis.sys", "NdisReleaseSpinLock"),
    ("ndis.sys", "NdisDprAcquireSpinLock"),
    ("ndis.sys", "NdisDprReleaseSpinLock"),
    ("ndis.sys", "NdisAllocateIoWorkItem"),
    ("ndis.sys", "NdisQueueIoWorkItem"),
    ("ndis.sys", "NdisFreeIoWorkItem"),
    ("ndis.sys", "NdisAllocateTimerObject"),
    ("ndis.sys", "NdisSetTimerObject"),
    ("ndis.sys", "NdisCancelTimerObject"),
    ("ndis.sys", "NdisFreeTimerObject"),
    ("ndis.sys", "NdisAllocateNetBufferListPool"),
    ("ndis.sys", "NdisFreeNetBufferListPool"),
    ("ndis.sys", "NdisAllocateNetBufferAndNetBufferList"),
    ("ndis.sys", "NdisFreeNetBufferList"),
    ("ndis.sys", "NdisAllocateNetBufferList"),
    ("ndis.sys", "NdisMSleep"),
    ("ndis.sys", "NdisInitializeEvent"),
    ("ndis.sys", "NdisSetEvent"),
    ("ndis.sys", "NdisResetEvent"),
    ("ndis.sys", "NdisWaitEvent"),
    ("ntoskrnl.exe", "ExInitializeNPagedLookasideList"),
    ("ntoskrnl.exe", "ExDeleteNPagedLookasideList"),
    ("ntoskrnl.exe", "ExpInterlockedPopEntrySList"),
    ("ntoskrnl.exe", "ExpInterlockedPushEntrySList"),
    ("ntoskrnl.exe", "ExQueryDepthSList"),
    ("ntoskrnl.exe", "ExAllocatePoolWithTag"),
    ("ntoskrnl.exe", "ExFreePoolWithTag"),
    ("ntoskrnl.exe", "ExFreePool"),
    ("ntoskrnl.exe", "KeBugCheckEx"),
    ("ntoskrnl.exe", "DbgPrintEx"),
    ("ntoskrnl.exe", "DbgPrint"),
    ("ntoskrnl.exe", "KeAcquireSpinLockRaiseToDpc"),
    ("ntoskrnl.exe", "KeReleaseSpinLock"),
    ("ntoskrnl.exe", "memcpy"),
    ("ntoskrnl.exe", "memset"),
    ("ntoskrnl.exe", "memmove"),
    ("ntoskrnl.exe", "memcmp"),
    ("ntoskrnl.exe", "__chkstk"),
    ("ntoskrnl.exe", "__C_specific_handler"),
    ("ntoskrnl.exe", "RtlCompareMemory"),
];

// ===========================================================================
// Architectures
// ===========================================================================

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arch {
    X64,
    Arm64,
}

impl Arch {
    const ALL: [Arch; 2] = [Arch::X64, Arch::Arm64];

    /// The name used by the build script, the output folders and the lists.
    fn name(self) -> &'static str {
        match self {
            Arch::X64 => "x64",
            Arch::Arm64 => "arm64",
        }
    }

    fn machine(self) -> Machine {
        match self {
            Arch::X64 => Machine::Amd64,
            Arch::Arm64 => Machine::Arm64,
        }
    }

    fn from_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == name)
    }
}

// ===========================================================================
// The export lists (crates/ndis-sys/exports/<module>.txt)
// ===========================================================================

/// Windows versions accepted in the min-Windows column, with their build.
const WINDOWS_VERSIONS: &[(&str, u32)] = &[
    ("Win2000", 2195),
    ("XP", 2600),
    ("Vista", 6000),
    ("Win7", 7600),
    ("Win8", 9200),
    ("Win8.1", 9600),
    ("1507", 10240),
    ("1511", 10586),
    ("1607", 14393),
    ("1703", 15063),
    ("1709", 16299),
    ("1803", 17134),
    ("1809", 17763),
    ("1903", 18362),
    ("1909", 18363),
    ("2004", 19041),
    ("20H2", 19042),
    ("21H1", 19043),
    ("21H2", 19044),
    ("22H2", 19045),
];

/// The min-Windows column of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Availability {
    /// Exported since this version.
    Since { label: String, build: u32 },
    /// `-`: not an export at all.
    NotExported,
    /// `?`: not confirmed.
    Unconfirmed,
}

/// One line of an exports file.
#[derive(Debug, Clone)]
struct Listed {
    availability: Availability,
    /// Architectures it is confirmed for; `None` means all.
    archs: Option<Vec<Arch>>,
    /// `file:line`, for messages.
    at: String,
}

/// Every exports file, by lower-case module name.
#[derive(Debug, Default)]
struct ExportLists {
    modules: BTreeMap<String, BTreeMap<String, Listed>>,
}

impl ExportLists {
    /// Loads `<dir>/<module>.txt` for every module.
    fn load(dir: &Path) -> Result<ExportLists, Vec<String>> {
        let mut lists = ExportLists::default();
        let mut errors = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
        for entry in entries {
            let path = entry.map_err(|e| vec![e.to_string()])?.path();
            let Some(module) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".txt"))
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
            if let Err(mut e) = lists.add(module, &format!("crates/ndis-sys/exports/{module}.txt"), &text) {
                errors.append(&mut e);
            }
        }
        if errors.is_empty() { Ok(lists) } else { Err(errors) }
    }

    /// The committed lists.
    fn committed() -> &'static ExportLists {
        static LISTS: OnceLock<ExportLists> = OnceLock::new();
        LISTS.get_or_init(|| {
            let dir = repo().join("crates/ndis-sys/exports");
            ExportLists::load(&dir)
                .unwrap_or_else(|errors| panic!("malformed exports lists:\n  {}", errors.join("\n  ")))
        })
    }

    /// Parses one file's `text` as the list of `module`.
    fn add(&mut self, module: &str, file: &str, text: &str) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let names = self.modules.entry(module.to_ascii_lowercase()).or_default();
        for (index, raw) in text.lines().enumerate() {
            let at = format!("{file}:{}", index + 1);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line, &at) {
                Ok((name, listed)) => {
                    if let Some(first) = names.get(&name) {
                        errors.push(format!("{at}: {name} is listed twice (first at {})", first.at));
                    } else {
                        names.insert(name, listed);
                    }
                }
                Err(e) => errors.push(format!("{at}: {e}: {line:?}")),
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn get(&self, module: &str, name: &str) -> Option<&Listed> {
        self.modules.get(&module.to_ascii_lowercase())?.get(name)
    }

    fn has_module(&self, module: &str) -> bool {
        self.modules.contains_key(&module.to_ascii_lowercase())
    }
}

/// Parses `Name | min-Windows | source [| arch]`.
fn parse_line(line: &str, at: &str) -> Result<(String, Listed), String> {
    let fields: Vec<&str> = line.split('|').map(str::trim).collect();
    if !(3..=4).contains(&fields.len()) {
        return Err(format!("expected 3 or 4 `|`-separated fields, found {}", fields.len()));
    }
    let name = fields[0];
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err("bad export name".into());
    }
    let availability = match fields[1] {
        "-" => Availability::NotExported,
        "?" => Availability::Unconfirmed,
        label => match WINDOWS_VERSIONS.iter().find(|(l, _)| *l == label) {
            Some(&(label, build)) => Availability::Since {
                label: label.into(),
                build,
            },
            None => return Err(format!("unknown Windows version {label:?}")),
        },
    };
    if fields[2].is_empty() {
        return Err("no source".into());
    }
    let archs = match fields.get(3) {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|a| Arch::from_name(a.trim()).ok_or(format!("unknown architecture {a:?}")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok((
        name.into(),
        Listed {
            availability,
            archs,
            at: at.into(),
        },
    ))
}

// ===========================================================================
// The checks
// ===========================================================================

/// Everything wrong with `bytes` as a driver image for `arch`; empty if the
/// image is fine.
fn check_image(bytes: &[u8], arch: Arch, lists: &ExportLists) -> Vec<String> {
    let mut findings = Vec::new();
    let image = match PeImage::parse(bytes) {
        Ok(image) => image,
        Err(e) => return vec![format!("not a PE32+ image: {e}")],
    };

    if image.magic() != MAGIC_PE32_PLUS {
        findings.push(format!(
            "optional header magic {:#x} is not PE32+ (0x20b)",
            image.magic()
        ));
    }
    if image.machine() != arch.machine() {
        findings.push(format!(
            "machine is {:?} ({:#x}), expected {:?} ({:#x}) for {}",
            image.machine(),
            image.machine().raw(),
            arch.machine(),
            arch.machine().raw(),
            arch.name()
        ));
    }
    if image.subsystem() != SUBSYSTEM_NATIVE {
        findings.push(format!("subsystem is {}, expected 1 (native)", image.subsystem()));
    }
    for (bit, name, flag) in [
        (dll::DYNAMIC_BASE, "DYNAMIC_BASE", "/DYNAMICBASE"),
        (dll::NX_COMPAT, "NX_COMPAT", "/NXCOMPAT"),
        (dll::FORCE_INTEGRITY, "FORCE_INTEGRITY", "/INTEGRITYCHECK"),
    ] {
        if image.dll_characteristics() & bit == 0 {
            findings.push(format!(
                "DllCharacteristics {:#06x} lacks {name} ({bit:#x}; link with {flag})",
                image.dll_characteristics()
            ));
        }
    }
    if image.checksum() == 0 {
        findings.push("CheckSum is 0: link with /RELEASE".into());
    } else if image.checksum() != image.computed_checksum() {
        findings.push(format!(
            "CheckSum {:#x} does not match the computed checksum {:#x}",
            image.checksum(),
            image.computed_checksum()
        ));
    }

    match image.export_rva("DriverEntry") {
        Ok(Some(rva)) if rva == image.entry_point() => {}
        Ok(Some(rva)) => findings.push(format!(
            "entry point RVA {:#x} is not DriverEntry's RVA {rva:#x}",
            image.entry_point()
        )),
        Ok(None) => findings.push("no export named DriverEntry".into()),
        Err(e) => findings.push(format!("export table unreadable: {e}")),
    }

    let tls = image.data_directory(DirectoryEntry::Tls);
    if !tls.is_empty() {
        findings.push(format!(
            "has a TLS directory (RVA {:#x}, {} bytes): drivers cannot use TLS",
            tls.rva, tls.size
        ));
    }
    if image.section_by_name(".retplne").is_some() {
        findings.push("has a .retplne section (retpoline metadata)".into());
    }

    match image.imports() {
        Err(e) => findings.push(format!("import table unreadable: {e}")),
        Ok(modules) => {
            for module in modules {
                if !lists.has_module(module.name) {
                    findings.push(format!(
                        "imports from {}, which has no list in crates/ndis-sys/exports/ (lists: {})",
                        module.name,
                        lists.modules.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                    continue;
                }
                for symbol in &module.symbols {
                    if let Some(finding) = check_import(module.name, symbol, arch, lists) {
                        findings.push(finding);
                    }
                }
            }
        }
    }
    findings
}

/// What is wrong with importing `symbol` from `module` on `arch`, if anything.
fn check_import(module: &str, symbol: &ImportedSymbol<'_>, arch: Arch, lists: &ExportLists) -> Option<String> {
    let name = match *symbol {
        ImportedSymbol::ByName { name, .. } => name,
        ImportedSymbol::ByOrdinal { ordinal, .. } => {
            return Some(format!(
                "imports {module}!#{ordinal} by ordinal; only names can be checked"
            ));
        }
    };
    let Some(listed) = lists.get(module, name) else {
        return Some(format!(
            "imports {module}!{name}, which crates/ndis-sys/exports/{}.txt does not list",
            module.to_ascii_lowercase()
        ));
    };
    let at = &listed.at;
    match &listed.availability {
        Availability::NotExported => {
            return Some(format!("imports {module}!{name}, which is not an export (`-` at {at})"));
        }
        Availability::Unconfirmed => {
            return Some(format!(
                "imports {module}!{name}, whose first Windows version is unconfirmed (`?` at {at})"
            ));
        }
        Availability::Since { label, build } if *build > OLDEST_BUILD => {
            return Some(format!(
                "imports {module}!{name}, exported only since {label} (build {build}), \
                 newer than Windows 10 1809 (build {OLDEST_BUILD}) ({at})"
            ));
        }
        Availability::Since { .. } => {}
    }
    match &listed.archs {
        Some(archs) if !archs.contains(&arch) => Some(format!(
            "imports {module}!{name}, confirmed exported only on {} ({at}), not on {}",
            archs.iter().map(|a| a.name()).collect::<Vec<_>>().join(","),
            arch.name()
        )),
        _ => None,
    }
}

// ===========================================================================
// The real images
// ===========================================================================

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo profile a kernel image is built with. Both abort on panic
/// (`.cargo/kernel-cross.toml`); the dev image is the one `cargo make` builds
/// by default on Windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    Release,
    Dev,
}

impl Profile {
    const ALL: [Profile; 2] = [Profile::Release, Profile::Dev];

    /// The arguments `scripts/build-kernel.sh` takes for this profile.
    fn script_args(self) -> &'static [&'static str] {
        match self {
            Profile::Release => &["all"],
            Profile::Dev => &["--dev", "all"],
        }
    }

    /// Where the script puts the images of this profile, under `target/`.
    fn out_dir(self) -> &'static str {
        match self {
            Profile::Release => "kernel",
            Profile::Dev => "kernel-dev",
        }
    }

    fn index(self) -> usize {
        match self {
            Profile::Release => 0,
            Profile::Dev => 1,
        }
    }
}

/// The drivers `scripts/build-kernel.sh` builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Covmini,
    Covclient,
}

impl Driver {
    const ALL: [Driver; 2] = [Driver::Covmini, Driver::Covclient];

    fn name(self) -> &'static str {
        match self {
            Driver::Covmini => "covmini",
            Driver::Covclient => "covclient",
        }
    }
}

fn driver_path(profile: Profile, arch: Arch, driver: Driver) -> PathBuf {
    repo()
        .join("target")
        .join(profile.out_dir())
        .join(arch.name())
        .join(format!("{}.sys", driver.name()))
}

/// Runs `scripts/build-kernel.sh [--dev] all` once per profile and test
/// process; panics with its output if it fails.
fn build_kernel_images(profile: Profile) {
    static BUILT: [OnceLock<Result<(), String>>; 2] = [OnceLock::new(), OnceLock::new()];
    let result = BUILT[profile.index()].get_or_init(|| {
        let script = repo().join("scripts/build-kernel.sh");
        let args = profile.script_args();
        let output = Command::new("bash")
            .arg(&script)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!(
                "scripts/build-kernel.sh {} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                args.join(" "),
                output.status
            ));
        }
        for (arch, driver) in Arch::ALL.into_iter().flat_map(|a| Driver::ALL.map(|d| (a, d))) {
            let path = driver_path(profile, arch, driver);
            if !stdout.lines().any(|l| Path::new(l.trim()) == path) {
                return Err(format!(
                    "scripts/build-kernel.sh {} did not print {}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                    args.join(" "),
                    path.display()
                ));
            }
        }
        Ok(())
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

fn read_image(profile: Profile, arch: Arch) -> Vec<u8> {
    read_driver(profile, arch, Driver::Covmini)
}

fn read_driver(profile: Profile, arch: Arch, driver: Driver) -> Vec<u8> {
    build_kernel_images(profile);
    let path = driver_path(profile, arch, driver);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_valid_driver(profile: Profile, arch: Arch) {
    assert_valid(profile, arch, Driver::Covmini);
}

fn assert_valid(profile: Profile, arch: Arch, driver: Driver) {
    let bytes = read_driver(profile, arch, driver);
    let findings = check_image(&bytes, arch, ExportLists::committed());
    assert!(
        findings.is_empty(),
        "{} does not meet the driver image requirements:\n  {}",
        driver_path(profile, arch, driver).display(),
        findings.join("\n  ")
    );
}

#[test]
fn x64_image_meets_the_driver_image_requirements() {
    assert_valid_driver(Profile::Release, Arch::X64);
}

#[test]
fn arm64_image_meets_the_driver_image_requirements() {
    assert_valid_driver(Profile::Release, Arch::Arm64);
}

/// The dev profile's images (what `cargo make` builds by default) build on
/// Linux and meet the same requirements as the release ones: rustc refuses a
/// `no_std` image that unwinds ("unwinding panics are not supported without
/// std"), so this fails unless the kernel builds abort on panic in the dev
/// profile too, and the unoptimised ARM64 image links only because covmini
/// carries its own `__chkstk` (crates/kernel-rt).
#[test]
fn x64_dev_image_meets_the_driver_image_requirements() {
    assert_valid_driver(Profile::Dev, Arch::X64);
}

/// See [`x64_dev_image_meets_the_driver_image_requirements`].
#[test]
fn arm64_dev_image_meets_the_driver_image_requirements() {
    assert_valid_driver(Profile::Dev, Arch::Arm64);
}

/// covclient.sys (release, x64) meets the same requirements as covmini.sys.
#[test]
fn covclient_x64_image_meets_the_driver_image_requirements() {
    assert_valid(Profile::Release, Arch::X64, Driver::Covclient);
}

/// covclient.sys (release, ARM64).
#[test]
fn covclient_arm64_image_meets_the_driver_image_requirements() {
    assert_valid(Profile::Release, Arch::Arm64, Driver::Covclient);
}

/// covclient.sys (dev, x64): the unoptimised image links and passes too.
#[test]
fn covclient_x64_dev_image_meets_the_driver_image_requirements() {
    assert_valid(Profile::Dev, Arch::X64, Driver::Covclient);
}

/// covclient.sys (dev, ARM64): links only because covclient carries its own
/// `__chkstk` and memory routines, the ones covmini carries (crates/kernel-rt).
#[test]
fn covclient_arm64_dev_image_meets_the_driver_image_requirements() {
    assert_valid(Profile::Dev, Arch::Arm64, Driver::Covclient);
}

/// covclient.sys imports the protocol DDIs it is built on (and its control
/// device's), so the export lists are checked on them and not only on
/// covmini's miniport DDIs.
#[test]
fn covclient_imports_the_protocol_ddis() {
    let bytes = read_driver(Profile::Release, Arch::X64, Driver::Covclient);
    let image = PeImage::parse(&bytes).unwrap();
    let imported: Vec<String> = image
        .imports()
        .unwrap()
        .iter()
        .flat_map(|m| m.symbols.iter().filter_map(|s| s.name().map(str::to_string)))
        .collect();
    for name in [
        "NdisRegisterProtocolDriver",
        "NdisDeregisterProtocolDriver",
        "NdisSetOptionalHandlers",
        "NdisOpenAdapterEx",
        "NdisCloseAdapterEx",
        "NdisCompleteBindAdapterEx",
        "NdisClOpenAddressFamilyEx",
        "NdisClCloseAddressFamily",
        "NdisClNotifyCloseAddressFamilyComplete",
        // The control device (crates/covclient/src/ffi/device.rs, dispatch.rs,
        // waiter.rs).
        "NdisRegisterDeviceEx",
        "NdisDeregisterDeviceEx",
        "IofCompleteRequest",
        "IoReleaseCancelSpinLock",
    ] {
        assert!(
            imported.iter().any(|i| i == name),
            "covclient.sys does not import {name}: {imported:?}"
        );
    }
    // Not a miniport: no miniport registration.
    assert!(
        !imported.iter().any(|i| i == "NdisMRegisterMiniportDriver"),
        "{imported:?}"
    );
}

#[test]
fn pdb_is_beside_each_image_and_named_by_it() {
    let mut problems = String::new();
    for profile in Profile::ALL {
        for arch in Arch::ALL {
            for driver in Driver::ALL {
                let pdb_name = format!("{}.pdb", driver.name());
                let pdb = driver_path(profile, arch, driver).with_file_name(&pdb_name);
                let bytes = read_driver(profile, arch, driver);
                match std::fs::metadata(&pdb) {
                    Ok(m) if m.len() > 0 => {}
                    Ok(_) => writeln!(problems, "{} is empty", pdb.display()).unwrap(),
                    Err(e) => writeln!(problems, "{}: {e}", pdb.display()).unwrap(),
                }
                let image = PeImage::parse(&bytes).unwrap();
                match image.codeview() {
                    Ok(Some(cv)) if cv.pdb_path.rsplit(['/', '\\']).next() == Some(pdb_name.as_str()) => {}
                    other => writeln!(
                        problems,
                        "{profile:?} {} {} CodeView record: {other:?}",
                        arch.name(),
                        driver.name()
                    )
                    .unwrap(),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

#[test]
fn export_lists_are_well_formed_and_complete() {
    let lists = ExportLists::committed();
    for module in ["ndis.sys", "ntoskrnl.exe"] {
        assert!(lists.has_module(module), "no exports/{module}.txt");
    }
    let missing: Vec<_> = REQUIRED
        .iter()
        .filter(|(module, name)| lists.get(module, name).is_none())
        .map(|(module, name)| format!("{module}!{name}"))
        .collect();
    assert!(missing.is_empty(), "not in the exports lists: {missing:?}");
}

/// Rewrites the CheckSum field so only the intended mutation shows.
fn fix_checksum(bytes: &mut [u8]) {
    let at = PeImage::parse(bytes).unwrap().checksum_offset();
    let sum = compute_checksum(bytes, at);
    bytes[at..at + 4].copy_from_slice(&sum.to_le_bytes());
}

/// The findings of `mutated` that `original` does not have.
fn new_findings(original: &[u8], mutated: &[u8], arch: Arch) -> Vec<String> {
    let lists = ExportLists::committed();
    let before = check_image(original, arch, lists);
    check_image(mutated, arch, lists)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect()
}

#[test]
fn checks_catch_mutations_of_the_real_image() {
    let good = read_image(Profile::Release, Arch::X64);
    let image = PeImage::parse(&good).unwrap();

    // NX_COMPAT cleared.
    let mut bytes = good.clone();
    let at = image.dll_characteristics_offset();
    let value = u16::from_le_bytes([bytes[at], bytes[at + 1]]) & !dll::NX_COMPAT;
    bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
    fix_checksum(&mut bytes);
    assert_one_finding(new_findings(&good, &bytes, Arch::X64), "lacks NX_COMPAT");

    // An imported name changed to one no list has.
    let mut bytes = good.clone();
    let modules = image.imports().unwrap();
    let name = modules[0].symbols.iter().find_map(|s| s.name()).unwrap();
    let offset = name.as_ptr() as usize - good.as_ptr() as usize;
    bytes[offset] = b'Q';
    fix_checksum(&mut bytes);
    let renamed = format!("Q{}", &name[1..]);
    assert_one_finding(new_findings(&good, &bytes, Arch::X64), &format!("!{renamed}, which"));

    // A wrong checksum.
    let mut bytes = good.clone();
    bytes[image.checksum_offset()] ^= 0x55;
    assert_one_finding(
        new_findings(&good, &bytes, Arch::X64),
        "does not match the computed checksum",
    );

    // The x64 image is not an ARM64 image.
    let findings = check_image(&good, Arch::Arm64, ExportLists::committed());
    assert!(findings.iter().any(|f| f.contains("machine is Amd64")), "{findings:#?}");
}

// ===========================================================================
// Negative tests on synthetic images: each check can fail
// ===========================================================================

fn assert_one_finding(findings: Vec<String>, needle: &str) {
    assert!(
        findings.len() == 1 && findings[0].contains(needle),
        "expected exactly one finding containing {needle:?}, got {findings:#?}"
    );
}

/// A small image that passes every check on x64.
fn synthetic() -> PeBuilder {
    PeBuilder::new(Machine::Amd64)
        .export("DriverEntry", TEXT_RVA)
        .import("ndis.sys", &["NdisMRegisterMiniportDriver", "NdisCmMakeCallComplete"])
        .import("ntoskrnl.exe", &["DbgPrintEx", "memcpy"])
        .pdb_path("covmini.pdb")
}

fn synthetic_findings(builder: PeBuilder) -> Vec<String> {
    check_image(&builder.build(), Arch::X64, ExportLists::committed())
}

#[test]
fn synthetic_good_image_has_no_findings() {
    assert_eq!(synthetic_findings(synthetic()), Vec::<String>::new());
}

#[test]
fn garbage_is_not_an_image() {
    assert_one_finding(
        check_image(b"MZ", Arch::X64, ExportLists::committed()),
        "not a PE32+ image",
    );
    let mut bytes = synthetic().build();
    let at = PeImage::parse(&bytes).unwrap().optional_header_offset();
    bytes[at..at + 2].copy_from_slice(&0x10bu16.to_le_bytes());
    assert_one_finding(check_image(&bytes, Arch::X64, ExportLists::committed()), "not PE32+");
}

#[test]
fn wrong_machine_is_reported() {
    let bytes = PeBuilder::new(Machine::Amd64).export("DriverEntry", TEXT_RVA).build();
    assert_one_finding(
        check_image(&bytes, Arch::Arm64, ExportLists::committed()),
        "expected Arm64",
    );
}

#[test]
fn non_native_subsystem_is_reported() {
    assert_one_finding(synthetic_findings(synthetic().subsystem(2)), "subsystem is 2");
}

#[test]
fn each_missing_dll_characteristic_is_reported() {
    let all = dll::DYNAMIC_BASE | dll::NX_COMPAT | dll::FORCE_INTEGRITY;
    for (bit, name) in [
        (dll::DYNAMIC_BASE, "DYNAMIC_BASE"),
        (dll::NX_COMPAT, "NX_COMPAT"),
        (dll::FORCE_INTEGRITY, "FORCE_INTEGRITY"),
    ] {
        let findings = synthetic_findings(synthetic().dll_characteristics(all & !bit));
        assert_one_finding(findings, &format!("lacks {name}"));
    }
    assert_eq!(synthetic_findings(synthetic().dll_characteristics(0)).len(), 3);
}

#[test]
fn zero_and_wrong_checksums_are_reported() {
    let good = synthetic().build();
    let at = PeImage::parse(&good).unwrap().checksum_offset();
    let mut zero = good.clone();
    zero[at..at + 4].fill(0);
    assert_one_finding(check_image(&zero, Arch::X64, ExportLists::committed()), "CheckSum is 0");
    let mut wrong = good.clone();
    wrong[at] = wrong[at].wrapping_add(1);
    assert_one_finding(
        check_image(&wrong, Arch::X64, ExportLists::committed()),
        "does not match the computed checksum",
    );
}

#[test]
fn entry_point_must_be_driver_entry() {
    assert_one_finding(
        synthetic_findings(synthetic().entry_point(TEXT_RVA + 4)),
        "is not DriverEntry's RVA",
    );
    let no_export = PeBuilder::new(Machine::Amd64).import("ntoskrnl.exe", &["DbgPrintEx"]);
    assert_one_finding(synthetic_findings(no_export), "no export named DriverEntry");
}

#[test]
fn tls_directory_is_reported() {
    assert_one_finding(synthetic_findings(synthetic().tls(true)), "TLS directory");
}

#[test]
fn retpoline_section_is_reported() {
    let builder = synthetic().section(".retplne", vec![0; 16], 0x4000_0040);
    assert_one_finding(synthetic_findings(builder), ".retplne");
}

#[test]
fn imports_from_unlisted_modules_are_reported() {
    assert_one_finding(
        synthetic_findings(synthetic().import("hal.dll", &["KeStallExecutionProcessor"])),
        "hal.dll",
    );
    assert_one_finding(
        synthetic_findings(synthetic().import("wdfldr.sys", &["WdfVersionBind"])),
        "wdfldr.sys",
    );
}

#[test]
fn unlisted_names_are_reported() {
    let builder = synthetic().import("ndis.sys", &["NdisMadeUpFunction"]);
    assert_one_finding(synthetic_findings(builder), "ndis.sys!NdisMadeUpFunction, which");
}

#[test]
fn imports_newer_than_1809_are_reported() {
    let builder = synthetic().import("ntoskrnl.exe", &["ExAllocatePool2"]);
    assert_one_finding(synthetic_findings(builder), "exported only since 2004");
}

#[test]
fn macro_names_are_not_exports() {
    let builder = synthetic().import("ndis.sys", &["NdisMCmMakeCallComplete"]);
    assert_one_finding(
        synthetic_findings(builder),
        "NdisMCmMakeCallComplete, which is not an export",
    );
}

#[test]
fn ordinal_imports_are_reported() {
    let builder = synthetic().import_specs("ndis.sys", vec![ImportSpec::Ordinal(7)]);
    assert_one_finding(synthetic_findings(builder), "ndis.sys!#7 by ordinal");
}

#[test]
fn unconfirmed_and_architecture_restricted_entries_are_reported() {
    let mut lists = ExportLists::default();
    lists
        .add(
            "ntoskrnl.exe",
            "test.txt",
            "# a comment\n\
             DbgPrintEx | XP | a source\n\
             Mystery | ? | a source\n\
             X64Only | Vista | a source | x64\n\
             Both | Win7 | a source | x64, arm64\n",
        )
        .unwrap();
    let base = PeBuilder::new(Machine::Arm64).export("DriverEntry", TEXT_RVA);
    let findings = |builder: PeBuilder| check_image(&builder.build(), Arch::Arm64, &lists);
    assert_eq!(
        findings(base.clone().import("ntoskrnl.exe", &["DbgPrintEx", "Both"])),
        Vec::<String>::new()
    );
    assert_one_finding(
        findings(base.clone().import("ntoskrnl.exe", &["Mystery"])),
        "unconfirmed (`?` at test.txt:3)",
    );
    assert_one_finding(
        findings(base.clone().import("ntoskrnl.exe", &["X64Only"])),
        "confirmed exported only on x64 (test.txt:4), not on arm64",
    );
    // Module names compare without case, as the Windows loader does.
    assert_eq!(
        findings(base.import("NTOSKRNL.EXE", &["DbgPrintEx"])),
        Vec::<String>::new()
    );
}

#[test]
fn malformed_list_lines_are_rejected() {
    for (line, error) in [
        ("OnlyName", "expected 3 or 4"),
        ("A | Win12 | source", "unknown Windows version"),
        ("A | Vista | ", "no source"),
        ("A | Vista | source | sparc", "unknown architecture"),
        ("Two Words | Vista | source", "bad export name"),
    ] {
        let mut lists = ExportLists::default();
        let errors = lists.add("x.sys", "x.txt", line).unwrap_err();
        assert!(errors[0].contains(error), "{line:?}: {errors:?}");
        assert!(errors[0].starts_with("x.txt:1: "), "{errors:?}");
    }
    let mut lists = ExportLists::default();
    let errors = lists.add("x.sys", "x.txt", "A | Vista | s\nA | Win7 | s").unwrap_err();
    assert!(errors[0].contains("listed twice (first at x.txt:1)"), "{errors:?}");
}
