//! Static checks of `inf/covmini.inx`, the INF template that stampinf turns
//! into `covmini.inf` in the Windows build.
//!
//! No Windows is needed: a small INF reader below takes the template the way
//! SetupAPI reads an INF (sections, `key = value` lines, comma lists, `;`
//! comments outside quotes, `\` line continuations, `%string%` tokens with
//! `%%` escapes and `%13%`-style DIRIDs, case-insensitive section and key
//! names, repeated sections merged), and each check states one thing that
//! installing covmini as a root-enumerated virtual CoNDIS WAN adapter needs.
//!
//! Every check is a function that returns the problems it found. The tests on
//! the real template expect none; the negative tests feed each check a broken
//! template (the real one with one line changed, or a small snippet) and
//! expect it to object, so no check passes vacuously.

use std::collections::BTreeSet;

// ===========================================================================
// What the template must say
// ===========================================================================

/// `GUID_DEVCLASS_NET`: the Net setup class.
const NET_CLASS_GUID: &str = "{4d36e972-e325-11ce-bfc1-08002be10318}";
/// The root-enumerated hardware id that devcon/devgen create the device with.
const HARDWARE_ID: &str = r"root\covmini";
const SERVICE_NAME: &str = "covmini";
const DRIVER_BINARY: &str = "covmini.sys";
const CATALOG_FILE: &str = "covmini.cat";

/// Network `Characteristics` flags (DDInstall section of a network INF).
const NCF_VIRTUAL: u64 = 0x1;
const NCF_SOFTWARE_ENUMERATED: u64 = 0x2;
const NCF_PHYSICAL: u64 = 0x4;

/// `*IfType`: the IfType the driver reports in its general attributes, so the
/// INF and the driver cannot disagree. It is IANA `IF_TYPE_TUNNEL` (131), the
/// `*IfType` of Microsoft's CoNDIS WAN miniports (PPTP, L2TP, SSTP, IKEv2).
const IF_TYPE_TUNNEL: u64 = covmini::config::IF_TYPE as u64;
/// `*MediaType`: the medium the driver registers, `NdisMediumCoWan` (12).
const NDIS_MEDIUM_CO_WAN: u64 = covmini::config::MEDIUM as u64;
/// `*PhysicalMediaType`: the driver's physical medium,
/// `NdisPhysicalMediumUnspecified` (0).
const NDIS_PHYSICAL_MEDIUM_UNSPECIFIED: u64 = covmini::config::PHYSICAL_MEDIUM as u64;

#[test]
fn the_driver_reports_the_values_microsoft_condis_wan_miniports_use() {
    assert_eq!(IF_TYPE_TUNNEL, 131);
    assert_eq!(NDIS_MEDIUM_CO_WAN, 12);
    assert_eq!(NDIS_PHYSICAL_MEDIUM_UNSPECIFIED, 0);
}

/// Binding interface of the upper edge of a WAN adapter that runs CoNDIS.
const UPPER_RANGE: &str = "ndiscowan";
/// Binding interface of a component that binds to nothing below it.
const LOWER_RANGE: &str = "nolower";

const SERVICE_KERNEL_DRIVER: u64 = 1;
const SERVICE_DEMAND_START: u64 = 3;
const SERVICE_ERROR_NORMAL: u64 = 1;
const SPSVCINST_ASSOCSERVICE: u64 = 0x2;
/// DIRID 13: the driver store; the binary runs from where it was staged.
const DIRID_DRIVER_STORE: u64 = 13;

// ===========================================================================
// A small INF reader
// ===========================================================================

/// One logical line of a section: `key = v1, v2, ...` or just `v1, v2, ...`
/// (AddReg and CopyFiles lines have no key). Values are trimmed and unquoted;
/// `%tokens%` are kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: Option<String>,
    values: Vec<String>,
    /// 1-based number of the first physical line.
    line: usize,
}

impl Entry {
    /// The value at `index`, or "" when the line is shorter.
    fn value(&self, index: usize) -> &str {
        self.values.get(index).map_or("", String::as_str)
    }

    fn has_key(&self, key: &str) -> bool {
        self.key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(key))
    }
}

#[derive(Debug)]
struct Section {
    /// The name as first written in the file.
    name: String,
    entries: Vec<Entry>,
}

impl Section {
    /// Every line whose key is `key`, in file order.
    fn all<'s>(&'s self, key: &str) -> impl Iterator<Item = &'s Entry> {
        self.entries.iter().filter(move |e| e.has_key(key))
    }

    fn get(&self, key: &str) -> Option<&Entry> {
        self.all(key).next()
    }

    /// The non-empty values of every `key = a, b` line: the section lists of
    /// directives such as `AddReg` and `CopyFiles`, which may repeat.
    fn list(&self, key: &str) -> Vec<&str> {
        self.all(key)
            .flat_map(|e| e.values.iter().map(String::as_str))
            .filter(|v| !v.is_empty())
            .collect()
    }
}

#[derive(Debug)]
struct Inf {
    sections: Vec<Section>,
}

/// A piece of a value: literal text, a `%%` escape, or a `%name%` token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Percent,
    Token(&'a str),
}

impl Inf {
    /// Reads INF text. Errors name the line that cannot be read.
    fn parse(text: &str) -> Result<Self, String> {
        let mut inf = Self { sections: Vec::new() };
        let mut current = None;
        // A logical line being continued: its first line number and text.
        let mut pending: Option<(usize, String)> = None;
        for (index, raw) in text.lines().enumerate() {
            let (first_line, mut logical) = pending.take().unwrap_or((index + 1, String::new()));
            let code = strip_comment(raw);
            // A backslash ending the line (comments aside) continues it.
            if let Some(head) = code.trim_end().strip_suffix('\\') {
                logical.push_str(head);
                pending = Some((first_line, logical));
                continue;
            }
            logical.push_str(code);
            let line = logical.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let close = rest
                    .find(']')
                    .ok_or_else(|| format!("line {first_line}: section header without ']'"))?;
                if !rest[close + 1..].trim().is_empty() {
                    return Err(format!("line {first_line}: text after a section header"));
                }
                current = Some(inf.section_index(rest[..close].trim()));
            } else {
                let section = current.ok_or_else(|| format!("line {first_line}: entry outside any section"))?;
                inf.sections[section].entries.push(parse_entry(line, first_line));
            }
        }
        if let Some((first_line, _)) = pending {
            return Err(format!("line {first_line}: continued past the end of the file"));
        }
        Ok(inf)
    }

    /// The index of section `name`, created if new. Windows merges sections
    /// that appear more than once.
    fn section_index(&mut self, name: &str) -> usize {
        if let Some(index) = self.sections.iter().position(|s| s.name.eq_ignore_ascii_case(name)) {
            return index;
        }
        self.sections.push(Section {
            name: name.to_string(),
            entries: Vec::new(),
        });
        self.sections.len() - 1
    }

    /// Section `name`, compared without regard to case as Windows does.
    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The [Strings] value of `token`.
    fn string(&self, token: &str) -> Option<&str> {
        self.section("Strings")?.get(token).map(|e| e.value(0))
    }

    /// `text` with its %tokens% replaced from [Strings], `%%` turned into `%`
    /// and DIRID tokens such as `%13%` left for SetupAPI.
    fn expand(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        for piece in pieces(text)? {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Percent => out.push('%'),
                Piece::Token(token) if is_dirid(token) => {
                    out.push('%');
                    out.push_str(token);
                    out.push('%');
                }
                Piece::Token(token) => out.push_str(
                    self.string(token)
                        .ok_or_else(|| format!("%{token}% is not defined in [Strings]"))?,
                ),
            }
        }
        Ok(out)
    }
}

/// Decodes an INF file: UTF-16LE with a byte order mark (the encoding of the
/// windows-drivers-rs sample templates), or UTF-8/ASCII.
fn decode(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if rest.len() % 2 != 0 {
            return Err("UTF-16LE text with an odd number of bytes".to_string());
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units).map_err(|e| e.to_string())
    } else {
        let rest = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8(rest.to_vec()).map_err(|e| e.to_string())
    }
}

/// `line` without its `;` comment; a `;` inside double quotes is text.
fn strip_comment(line: &str) -> &str {
    find_unquoted(line, ';').map_or(line, |at| &line[..at])
}

/// The byte offset of the first `wanted` outside double quotes.
fn find_unquoted(text: &str, wanted: char) -> Option<usize> {
    let mut quoted = false;
    text.char_indices()
        .find(|&(_, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            c == wanted && !quoted
        })
        .map(|(at, _)| at)
}

/// Splits a comma list outside quotes, keeping empty fields (`1 = d,,,""`).
fn split_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut rest = text;
    while let Some(comma) = find_unquoted(rest, ',') {
        fields.push(unquote(rest[..comma].trim()));
        rest = &rest[comma + 1..];
    }
    fields.push(unquote(rest.trim()));
    fields
}

/// Removes double quotes; `""` inside a quoted string is one `"`.
fn unquote(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut quoted = false;
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
        } else if quoted && chars.peek() == Some(&'"') {
            out.push('"');
            chars.next();
        } else {
            quoted = !quoted;
        }
    }
    out
}

fn parse_entry(text: &str, line: usize) -> Entry {
    match find_unquoted(text, '=') {
        Some(eq) => Entry {
            key: Some(unquote(text[..eq].trim())),
            values: split_fields(&text[eq + 1..]),
            line,
        },
        None => Entry {
            key: None,
            values: split_fields(text),
            line,
        },
    }
}

/// Splits `text` into literal text, `%%` escapes and `%name%` tokens.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push(Piece::Percent);
            rest = tail;
            continue;
        }
        let end = after
            .find('%')
            .ok_or_else(|| format!("unterminated %token in {text:?}"))?;
        out.push(Piece::Token(&after[..end]));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// `%13%`, `%10%`...: a directory id, not a [Strings] token.
fn is_dirid(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit())
}

/// An INF number: `0x` hexadecimal or decimal.
fn parse_int(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// A binding-interface list (`"flpp4, flpp6"`) as a set of lowercase names.
fn binding_list(value: &str) -> BTreeSet<String> {
    value
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

// ===========================================================================
// Navigation: Manufacturer -> models -> install section
// ===========================================================================

/// The models sections [Manufacturer] points at: `base.decoration` for each
/// TargetOSVersion decoration, or `base` when there is none.
fn models_section_names(inf: &Inf) -> Vec<String> {
    let Some(manufacturer) = inf.section("Manufacturer") else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for entry in &manufacturer.entries {
        let base = entry.value(0);
        let decorations: Vec<&String> = entry.values.iter().skip(1).filter(|d| !d.is_empty()).collect();
        if decorations.is_empty() {
            names.push(base.to_string());
        }
        names.extend(decorations.iter().map(|d| format!("{base}.{d}")));
    }
    names
}

/// The DDInstall section Windows picks for install-section `name` on an NT
/// platform: `name.NT<arch>` (here still `name.NT$ARCH$`), then `name.NT`,
/// then `name`.
fn resolve_ddinstall<'a>(inf: &'a Inf, name: &str) -> Option<&'a Section> {
    [format!("{name}.NT$ARCH$"), format!("{name}.NT"), name.to_string()]
        .iter()
        .find_map(|candidate| inf.section(candidate))
}

/// The install section of the model entry that names `HARDWARE_ID`.
fn install_section(inf: &Inf) -> Result<&Section, String> {
    let model = models_section_names(inf)
        .iter()
        .filter_map(|name| inf.section(name))
        .flat_map(|models| models.entries.iter())
        .find(|entry| {
            entry
                .values
                .iter()
                .skip(1)
                .any(|id| id.eq_ignore_ascii_case(HARDWARE_ID))
        })
        .ok_or_else(|| format!("no models section entry names {HARDWARE_ID}"))?;
    let name = model.value(0);
    resolve_ddinstall(inf, name).ok_or_else(|| format!("install section {name} of {HARDWARE_ID} does not exist"))
}

/// The registry values the install section writes under the driver key (HKR)
/// through its AddReg sections, as (subkey, value name, data).
fn hkr_values<'a>(inf: &'a Inf, install: &'a Section) -> Vec<(&'a str, &'a str, &'a str)> {
    install
        .list("AddReg")
        .into_iter()
        .filter_map(|name| inf.section(name))
        .flat_map(|section| section.entries.iter())
        .filter(|e| e.key.is_none() && e.value(0).eq_ignore_ascii_case("HKR"))
        .map(|e| (e.value(1), e.value(2), e.value(4)))
        .collect()
}

/// The DIRID a CopyFiles section copies to: its [DestinationDirs] entry, or
/// DefaultDestDir.
fn destination_dirid(inf: &Inf, copy_files: &str) -> Option<u64> {
    let dirs = inf.section("DestinationDirs")?;
    let entry = dirs.get(copy_files).or_else(|| dirs.get("DefaultDestDir"))?;
    parse_int(entry.value(0))
}

// ===========================================================================
// The checks
// ===========================================================================

/// What a check found wrong; empty when the template is right.
type Problems = Vec<String>;

/// [Version]: the Net class, signed through covmini.cat, locked down, and
/// DriverVer left for stampinf.
fn check_version(inf: &Inf) -> Problems {
    let Some(version) = inf.section("Version") else {
        return vec!["there is no [Version] section".to_string()];
    };
    let mut problems = Problems::new();
    for (key, wanted) in [
        ("Signature", "$Windows NT$"),
        ("Class", "Net"),
        ("ClassGuid", NET_CLASS_GUID),
        ("CatalogFile", CATALOG_FILE),
    ] {
        match version.get(key).map(|e| e.value(0)) {
            Some(value) if value.eq_ignore_ascii_case(wanted) => {}
            other => problems.push(format!("[Version] {key} is {other:?}, want {wanted:?}")),
        }
    }
    match version.get("PnpLockdown").map(|e| parse_int(e.value(0))) {
        Some(Some(1)) => {}
        other => problems.push(format!("[Version] PnpLockdown is {other:?}, want 1")),
    }
    match version.get("Provider").map(|e| e.value(0)) {
        Some(provider) if provider.starts_with('%') => match inf.expand(provider) {
            Ok(expanded) if !expanded.trim().is_empty() => {}
            other => problems.push(format!("[Version] Provider {provider} expands to {other:?}")),
        },
        other => problems.push(format!(
            "[Version] Provider is {other:?}, want a %token% from [Strings]"
        )),
    }
    match version.get("DriverVer") {
        None => problems.push("[Version] has no DriverVer placeholder for stampinf".to_string()),
        Some(entry) if !entry.values.iter().all(String::is_empty) => problems.push(format!(
            "[Version] DriverVer is hard-coded as {:?}; stampinf must stamp it",
            entry.values
        )),
        Some(_) => {}
    }
    problems
}

/// [Manufacturer] has an NT$ARCH$ decoration for stampinf to stamp, its models
/// sections exist, and one of them installs the root\covmini hardware id.
fn check_models(inf: &Inf) -> Problems {
    let Some(manufacturer) = inf.section("Manufacturer") else {
        return vec!["there is no [Manufacturer] section".to_string()];
    };
    let mut problems = Problems::new();
    let has_arch = manufacturer.entries.iter().any(|entry| {
        entry
            .values
            .iter()
            .skip(1)
            .any(|d| strip_prefix_ignore_case(d, "NT$ARCH$").is_some())
    });
    if !has_arch {
        problems.push("[Manufacturer] has no NT$ARCH$ decoration for stampinf -a".to_string());
    }
    for name in models_section_names(inf) {
        if inf.section(&name).is_none() {
            problems.push(format!("models section [{name}] does not exist"));
        }
    }
    if let Err(problem) = install_section(inf) {
        problems.push(problem);
    }
    problems
}

/// The install section says NCF_VIRTUAL, and neither NCF_PHYSICAL nor
/// NCF_SOFTWARE_ENUMERATED (the three are mutually exclusive).
fn check_characteristics(inf: &Inf) -> Problems {
    let install = match install_section(inf) {
        Ok(install) => install,
        Err(problem) => return vec![problem],
    };
    let Some(entry) = install.get("Characteristics") else {
        return vec![format!("[{}] has no Characteristics", install.name)];
    };
    let Some(flags) = parse_int(entry.value(0)) else {
        return vec![format!("Characteristics {:?} is not a number", entry.value(0))];
    };
    let mut problems = Problems::new();
    if flags & NCF_VIRTUAL == 0 {
        problems.push(format!("Characteristics {flags:#x} lacks NCF_VIRTUAL (0x1)"));
    }
    if flags & NCF_PHYSICAL != 0 {
        problems.push(format!("Characteristics {flags:#x} has NCF_PHYSICAL (0x4)"));
    }
    if flags & NCF_SOFTWARE_ENUMERATED != 0 {
        problems.push(format!("Characteristics {flags:#x} has NCF_SOFTWARE_ENUMERATED (0x2)"));
    }
    problems
}

/// Each of *IfType, *MediaType and *PhysicalMediaType is set exactly once
/// (as a DDInstall directive or an HKR AddReg value) to the CoNDIS WAN value.
fn check_standardized_keywords(inf: &Inf) -> Problems {
    let install = match install_section(inf) {
        Ok(install) => install,
        Err(problem) => return vec![problem],
    };
    let hkr = hkr_values(inf, install);
    let mut problems = Problems::new();
    for (keyword, wanted) in [
        ("*IfType", IF_TYPE_TUNNEL),
        ("*MediaType", NDIS_MEDIUM_CO_WAN),
        ("*PhysicalMediaType", NDIS_PHYSICAL_MEDIUM_UNSPECIFIED),
    ] {
        let definitions: Vec<&str> = install
            .all(keyword)
            .map(|e| e.value(0))
            .chain(
                hkr.iter()
                    .filter(|(subkey, name, _)| subkey.is_empty() && name.eq_ignore_ascii_case(keyword))
                    .map(|&(_, _, data)| data),
            )
            .collect();
        match definitions.as_slice() {
            [] => problems.push(format!("{keyword} is not set")),
            [one] if parse_int(one) == Some(wanted) => {}
            [one] => problems.push(format!("{keyword} is {one:?}, want {wanted}")),
            many => problems.push(format!("{keyword} is set {} times: {many:?}", many.len())),
        }
    }
    problems
}

/// Ndi\Service names the service, and Ndi\Interfaces binds CoNDIS clients
/// above ("ndiscowan") and nothing below ("nolower").
fn check_ndi(inf: &Inf) -> Problems {
    let install = match install_section(inf) {
        Ok(install) => install,
        Err(problem) => return vec![problem],
    };
    let hkr = hkr_values(inf, install);
    let mut problems = Problems::new();
    for (subkey, name, wanted) in [
        ("Ndi", "Service", SERVICE_NAME),
        (r"Ndi\Interfaces", "UpperRange", UPPER_RANGE),
        (r"Ndi\Interfaces", "LowerRange", LOWER_RANGE),
    ] {
        let found: Vec<&str> = hkr
            .iter()
            .filter(|(s, n, _)| s.eq_ignore_ascii_case(subkey) && n.eq_ignore_ascii_case(name))
            .map(|&(_, _, data)| data)
            .collect();
        match found.as_slice() {
            [] => problems.push(format!(r"HKR\{subkey} {name} is not set")),
            [one] if binding_list(one) == binding_list(wanted) => {}
            other => problems.push(format!(r"HKR\{subkey} {name} is {other:?}, want {wanted:?}")),
        }
    }
    problems
}

/// `<install>.Services` adds the covmini service as the device's function
/// driver: a demand-start kernel driver in the NDIS group running from the
/// driver store.
fn check_service(inf: &Inf) -> Problems {
    let install = match install_section(inf) {
        Ok(install) => install,
        Err(problem) => return vec![problem],
    };
    let services_name = format!("{}.Services", install.name);
    let Some(services) = inf.section(&services_name) else {
        return vec![format!("[{services_name}] does not exist")];
    };
    let Some(add) = services
        .all("AddService")
        .find(|e| e.value(0).eq_ignore_ascii_case(SERVICE_NAME))
    else {
        return vec![format!("[{services_name}] has no AddService = {SERVICE_NAME}")];
    };
    let mut problems = Problems::new();
    match inf.expand(add.value(1)).ok().as_deref().and_then(parse_int) {
        Some(flags) if flags & SPSVCINST_ASSOCSERVICE != 0 => {}
        _ => problems.push(format!(
            "AddService flags {:?} lack SPSVCINST_ASSOCSERVICE (0x2)",
            add.value(1)
        )),
    }
    let Some(service) = inf.section(add.value(2)) else {
        problems.push(format!("service install section [{}] does not exist", add.value(2)));
        return problems;
    };
    for (key, wanted) in [
        ("ServiceType", SERVICE_KERNEL_DRIVER),
        ("StartType", SERVICE_DEMAND_START),
        ("ErrorControl", SERVICE_ERROR_NORMAL),
    ] {
        let value = service.get(key).map(|e| e.value(0));
        if value.and_then(parse_int) != Some(wanted) {
            problems.push(format!("[{}] {key} is {value:?}, want {wanted}", service.name));
        }
    }
    let binary = service.get("ServiceBinary").map(|e| e.value(0));
    let file = binary.and_then(|path| strip_prefix_ignore_case(path, &format!("%{DIRID_DRIVER_STORE}%\\")));
    if !file.is_some_and(|file| file.eq_ignore_ascii_case(DRIVER_BINARY)) {
        problems.push(format!(
            "[{}] ServiceBinary is {binary:?}, want %{DIRID_DRIVER_STORE}%\\{DRIVER_BINARY}",
            service.name
        ));
    }
    let group = service.get("LoadOrderGroup").map(|e| e.value(0));
    if !group.is_some_and(|group| group.eq_ignore_ascii_case("NDIS")) {
        problems.push(format!("[{}] LoadOrderGroup is {group:?}, want \"NDIS\"", service.name));
    }
    if service.get("DisplayName").is_none_or(|e| e.value(0).is_empty()) {
        problems.push(format!("[{}] has no DisplayName", service.name));
    }
    problems
}

/// Directives whose values name sections of the same INF.
const SECTION_LIST_DIRECTIVES: [&str; 8] = [
    "AddReg",
    "DelReg",
    "BitReg",
    "CopyFiles",
    "DelFiles",
    "RenFiles",
    "AddProperty",
    "DelProperty",
];

fn require_section(inf: &Inf, problems: &mut Problems, name: &str, from: &str) {
    if inf.section(name).is_none() {
        problems.push(format!("[{name}], referenced by {from}, does not exist"));
    }
}

/// Every section the INF refers to exists: AddReg/CopyFiles/... lists,
/// AddService install and event-log sections, [DestinationDirs] keys,
/// [Manufacturer] models sections, model install sections (with their
/// decorations) and the `.Services` section each install section implies.
fn check_references(inf: &Inf) -> Problems {
    let mut problems = Problems::new();
    for section in &inf.sections {
        for entry in &section.entries {
            let from = format!("[{}] line {}", section.name, entry.line);
            for directive in SECTION_LIST_DIRECTIVES {
                if entry.has_key(directive) {
                    // CopyFiles = @file copies one file, not a section.
                    for name in entry.values.iter().filter(|v| !v.is_empty() && !v.starts_with('@')) {
                        require_section(inf, &mut problems, name, &from);
                    }
                }
            }
            if entry.has_key("AddService") {
                for name in [entry.value(2), entry.value(3)] {
                    if !name.is_empty() {
                        require_section(inf, &mut problems, name, &from);
                    }
                }
            }
        }
    }
    if let Some(dirs) = inf.section("DestinationDirs") {
        for entry in &dirs.entries {
            match entry.key.as_deref() {
                Some(key) if !key.eq_ignore_ascii_case("DefaultDestDir") => {
                    require_section(inf, &mut problems, key, "[DestinationDirs]");
                }
                _ => {}
            }
        }
    }
    for models_name in models_section_names(inf) {
        let Some(models) = inf.section(&models_name) else {
            require_section(inf, &mut problems, &models_name, "[Manufacturer]");
            continue;
        };
        for entry in &models.entries {
            let name = entry.value(0);
            match resolve_ddinstall(inf, name) {
                None => problems.push(format!(
                    "install section {name} ([{models_name}] line {}) exists neither as \
                     [{name}.NT$ARCH$], [{name}.NT] nor [{name}]",
                    entry.line
                )),
                Some(install) => require_section(
                    inf,
                    &mut problems,
                    &format!("{}.Services", install.name),
                    &format!("install section [{}]", install.name),
                ),
            }
        }
    }
    problems
}

/// Every %token% outside [Strings] is defined in [Strings] (DIRIDs such as
/// %13% and %% escapes aside), and no token is left open.
fn check_strings(inf: &Inf) -> Problems {
    let mut problems = Problems::new();
    for section in inf.sections.iter().filter(|s| !s.name.eq_ignore_ascii_case("Strings")) {
        for entry in &section.entries {
            let place = format!("[{}] line {}", section.name, entry.line);
            for text in entry.key.iter().chain(&entry.values) {
                match undefined_tokens(inf, text) {
                    Err(problem) => problems.push(format!("{place}: {problem}")),
                    Ok(tokens) => problems.extend(
                        tokens
                            .into_iter()
                            .map(|token| format!("{place}: %{token}% is not defined in [Strings]")),
                    ),
                }
            }
        }
    }
    problems
}

/// The tokens of `text` that are neither DIRIDs nor defined in [Strings].
fn undefined_tokens<'t>(inf: &Inf, text: &'t str) -> Result<Vec<&'t str>, String> {
    Ok(pieces(text)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Token(token) if !is_dirid(token) && inf.string(token).is_none() => Some(token),
            _ => None,
        })
        .collect())
}

/// covmini.sys is a [SourceDisksFiles] entry on a disk of [SourceDisksNames];
/// every file a CopyFiles directive copies is a source file too; and the
/// copies go to DIRID 13, where ServiceBinary points.
fn check_source_files(inf: &Inf) -> Problems {
    let (Some(files), Some(disks)) = (inf.section("SourceDisksFiles"), inf.section("SourceDisksNames")) else {
        return vec!["[SourceDisksFiles] or [SourceDisksNames] is missing".to_string()];
    };
    let mut problems = Problems::new();
    for entry in &files.entries {
        if disks.get(entry.value(0)).is_none() {
            problems.push(format!(
                "[SourceDisksFiles] {:?} is on disk {:?}, which [SourceDisksNames] lacks",
                entry.key,
                entry.value(0)
            ));
        }
    }
    let mut copied = Vec::new();
    for section in &inf.sections {
        for name in section.list("CopyFiles") {
            if let Some(file) = name.strip_prefix('@') {
                copied.push(file.to_string());
                continue;
            }
            let Some(list) = inf.section(name) else {
                continue; // check_references reports it
            };
            // A CopyFiles line is: destination-file[, source-file, , flags].
            copied.extend(list.entries.iter().map(|e| {
                let source = match e.value(1) {
                    "" => e.value(0),
                    source => source,
                };
                source.to_string()
            }));
            let dirid = destination_dirid(inf, name);
            if dirid != Some(DIRID_DRIVER_STORE) {
                problems.push(format!(
                    "CopyFiles section [{name}] copies to DIRID {dirid:?}, want {DIRID_DRIVER_STORE}"
                ));
            }
        }
    }
    for file in &copied {
        if files.get(file).is_none() {
            problems.push(format!("{file} is copied but is not in [SourceDisksFiles]"));
        }
    }
    if files.get(DRIVER_BINARY).is_none() {
        problems.push(format!("{DRIVER_BINARY} is not in [SourceDisksFiles]"));
    }
    if !copied.iter().any(|file| file.eq_ignore_ascii_case(DRIVER_BINARY)) {
        problems.push(format!("no CopyFiles section copies {DRIVER_BINARY}"));
    }
    problems
}

// ===========================================================================
// Test helpers
// ===========================================================================

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/inf/covmini.inx");

fn template_text() -> String {
    let bytes = std::fs::read(TEMPLATE).unwrap_or_else(|e| panic!("reading {TEMPLATE}: {e}"));
    decode(&bytes).unwrap_or_else(|e| panic!("decoding {TEMPLATE}: {e}"))
}

fn template() -> Inf {
    Inf::parse(&template_text()).unwrap_or_else(|e| panic!("{TEMPLATE}: {e}"))
}

/// The template with the one occurrence of `from` replaced by `to`.
fn template_with(from: &str, to: &str) -> Inf {
    let text = template_text();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{TEMPLATE} should contain {from:?} exactly once; update this negative test"
    );
    Inf::parse(&text.replacen(from, to, 1)).expect("the changed template still parses")
}

fn snippet(text: &str) -> Inf {
    Inf::parse(text).unwrap_or_else(|e| panic!("snippet does not parse: {e}\n{text}"))
}

fn assert_no_problems(problems: &Problems) {
    assert!(problems.is_empty(), "{TEMPLATE}:\n  {}", problems.join("\n  "));
}

fn assert_problem(problems: &Problems, needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:#?}"
    );
}

// ===========================================================================
// The template
// ===========================================================================

#[test]
fn template_is_plain_ascii_so_every_tool_reads_the_same_text() {
    // stampinf and inf2cat read an INF without a byte order mark in the ANSI
    // code page; ASCII reads the same there and as UTF-8.
    let bytes = std::fs::read(TEMPLATE).expect("the template exists");
    assert!(bytes.is_ascii(), "{TEMPLATE} has non-ASCII bytes");
}

#[test]
fn version_declares_a_pnp_locked_net_class_driver_with_a_stampinf_driverver() {
    assert_no_problems(&check_version(&template()));
}

#[test]
fn manufacturer_leads_through_an_nt_arch_models_section_to_root_covmini() {
    let inf = template();
    assert_no_problems(&check_models(&inf));
    assert!(
        install_section(&inf).is_ok_and(|s| s.name.eq_ignore_ascii_case("covmini.ndi")),
        "root\\covmini installs with [covmini.ndi]"
    );
}

#[test]
fn install_section_is_ncf_virtual_and_not_physical() {
    assert_no_problems(&check_characteristics(&template()));
}

#[test]
fn standardized_keywords_describe_a_condis_wan_adapter_with_no_physical_medium() {
    assert_no_problems(&check_standardized_keywords(&template()));
}

#[test]
fn ndi_binds_condis_clients_above_and_nothing_below() {
    assert_no_problems(&check_ndi(&template()));
}

#[test]
fn service_is_a_demand_start_kernel_driver_run_from_the_driver_store() {
    assert_no_problems(&check_service(&template()));
}

#[test]
fn every_referenced_section_exists() {
    assert_no_problems(&check_references(&template()));
}

#[test]
fn every_string_token_is_defined_in_strings() {
    assert_no_problems(&check_strings(&template()));
}

#[test]
fn driver_binary_is_a_source_disk_file_copied_to_dirid_13() {
    assert_no_problems(&check_source_files(&template()));
}

// ===========================================================================
// The checks can fail
// ===========================================================================

#[test]
fn version_check_rejects_another_class_guid_and_a_hard_coded_driverver() {
    let system_class = template_with(NET_CLASS_GUID, "{4d36e97d-e325-11ce-bfc1-08002be10318}");
    assert_problem(&check_version(&system_class), "ClassGuid");

    let stamped = template_with("DriverVer   = ;", "DriverVer   = 01/01/2025,1.0.0.0 ;");
    assert_problem(&check_version(&stamped), "DriverVer is hard-coded");

    let unlocked = template_with("PnpLockdown = 1", "PnpLockdown = 0");
    assert_problem(&check_version(&unlocked), "PnpLockdown");
}

#[test]
fn models_check_rejects_a_missing_arch_decoration_and_another_hardware_id() {
    let no_arch = template_with("covmini, NT$ARCH$.10.0...16299", "covmini, NTamd64.10.0...16299");
    let problems = check_models(&no_arch);
    assert_problem(&problems, "NT$ARCH$ decoration");
    assert_problem(&problems, "[covmini.NTamd64.10.0...16299] does not exist");

    let other_id = template_with(r"covmini.ndi, root\covmini", r"covmini.ndi, root\other");
    assert_problem(&check_models(&other_id), r"no models section entry names root\covmini");
}

#[test]
fn characteristics_check_rejects_physical_and_non_virtual_adapters() {
    let physical = template_with("Characteristics    = 0x1", "Characteristics    = 0x5");
    assert_problem(&check_characteristics(&physical), "NCF_PHYSICAL");

    let not_virtual = template_with("Characteristics    = 0x1", "Characteristics    = 0x80");
    assert_problem(&check_characteristics(&not_virtual), "lacks NCF_VIRTUAL");
}

#[test]
fn keyword_check_rejects_a_wrong_medium_a_missing_keyword_and_a_duplicate() {
    let connectionless = template_with("*MediaType         = 12", "*MediaType         = 3");
    assert_problem(&check_standardized_keywords(&connectionless), "*MediaType is \"3\"");

    let missing = template_with("*PhysicalMediaType = 0", "");
    assert_problem(&check_standardized_keywords(&missing), "*PhysicalMediaType is not set");

    let duplicate = template_with(
        "[covmini.ndi.Reg]\n",
        "[covmini.ndi.Reg]\nHKR, , *IfType, 0x00010001, 23\n",
    );
    assert_problem(&check_standardized_keywords(&duplicate), "*IfType is set 2 times");
}

#[test]
fn ndi_check_rejects_the_connectionless_wan_upper_range() {
    let connectionless = template_with(r#"UpperRange, 0, "ndiscowan""#, r#"UpperRange, 0, "ndiswan""#);
    assert_problem(&check_ndi(&connectionless), "UpperRange");

    let wrong_service = template_with(r#"Service,    0, "covmini""#, r#"Service,    0, "netvmini""#);
    assert_problem(&check_ndi(&wrong_service), r"HKR\Ndi Service");
}

#[test]
fn service_check_rejects_auto_start_and_a_binary_outside_the_driver_store() {
    let auto_start = template_with("StartType      = 3", "StartType      = 2");
    assert_problem(&check_service(&auto_start), "StartType");

    let system32 = template_with(r"%13%\covmini.sys", r"%12%\covmini.sys");
    assert_problem(&check_service(&system32), "ServiceBinary");

    let not_function_driver = template_with(
        "AddService = covmini, %SPSVCINST_ASSOCSERVICE%,",
        "AddService = covmini, 0,",
    );
    assert_problem(&check_service(&not_function_driver), "SPSVCINST_ASSOCSERVICE");
}

#[test]
fn reference_check_finds_missing_sections() {
    let inf = snippet(
        "[Install]\n\
         AddReg = Present.Reg, Missing.Reg\n\
         CopyFiles = @single.sys\n\
         [Present.Reg]\n\
         [DestinationDirs]\n\
         DefaultDestDir = 13\n\
         Gone.CopyFiles = 13\n",
    );
    let problems = check_references(&inf);
    assert_problem(&problems, "[Missing.Reg], referenced by [Install] line 2");
    assert_problem(&problems, "[Gone.CopyFiles], referenced by [DestinationDirs]");
    assert_eq!(
        problems.len(),
        2,
        "@single.sys names a file, not a section: {problems:#?}"
    );

    let no_services = template_with("[covmini.ndi.Services]", "[covmini.ndi.Service]");
    assert_problem(&check_references(&no_services), "[covmini.ndi.Services]");

    let no_event_log = template_with("[covmini.EventLog]", "[covmini.Events]");
    assert_problem(&check_references(&no_event_log), "[covmini.EventLog]");
}

#[test]
fn string_check_finds_undefined_and_unterminated_tokens() {
    let inf = snippet(
        "[Version]\n\
         Provider = %Defined%\n\
         [Models]\n\
         %Undefined% = Install, root\\x\n\
         [Service]\n\
         ServiceBinary = %13%\\x.sys\n\
         Path = \"%%SystemRoot%%\\x\"\n\
         Broken = %Open\n\
         [Strings]\n\
         Defined = \"yes\"\n",
    );
    let problems = check_strings(&inf);
    assert_problem(&problems, "[Models] line 4: %Undefined% is not defined");
    assert_problem(&problems, "[Service] line 8: unterminated %token");
    assert_eq!(problems.len(), 2, "%13% and %% are not tokens: {problems:#?}");
}

#[test]
fn source_file_check_rejects_a_driver_binary_missing_from_source_disks() {
    let renamed = template_with("covmini.sys = 1,,", "other.sys = 1,,");
    let problems = check_source_files(&renamed);
    assert_problem(&problems, "covmini.sys is copied but is not in [SourceDisksFiles]");
    assert_problem(&problems, "covmini.sys is not in [SourceDisksFiles]");

    let system32 = template_with("covmini.CopyFiles = 13", "covmini.CopyFiles = 12");
    assert_problem(&check_source_files(&system32), "copies to DIRID Some(12)");

    let no_disk = template_with("covmini.sys = 1,,", "covmini.sys = 2,,");
    assert_problem(&check_source_files(&no_disk), "which [SourceDisksNames] lacks");
}

// ===========================================================================
// The reader
// ===========================================================================

#[test]
fn reader_strips_comments_but_not_semicolons_inside_quotes() {
    let inf = snippet("; header comment\n[S] ; after a header\nkey = \"a;b\" ; comment\nplain ; x\n");
    let section = inf.section("S").expect("[S]");
    assert_eq!(section.get("key").map(|e| e.value(0)), Some("a;b"));
    assert_eq!(section.entries[1].values, ["plain"]);
    assert_eq!(section.entries.len(), 2);
}

#[test]
fn reader_splits_comma_lists_keeping_empty_fields_and_quoted_commas() {
    let inf = snippet("[S]\n1 = %Disk%,,,\"\"\nk = \"a, b\", c\nq = \"say \"\"hi\"\"\"\nHKR, Ndi, Service, 0, \"x\"\n");
    let section = inf.section("S").expect("[S]");
    assert_eq!(section.get("1").expect("1").values, ["%Disk%", "", "", ""]);
    assert_eq!(section.get("k").expect("k").values, ["a, b", "c"]);
    assert_eq!(section.get("q").expect("q").value(0), "say \"hi\"");
    let addreg = &section.entries[3];
    assert_eq!(addreg.key, None, "an AddReg line has no key");
    assert_eq!(addreg.values, ["HKR", "Ndi", "Service", "0", "x"]);
}

#[test]
fn reader_compares_section_and_key_names_without_case() {
    let inf = snippet("[VERSION]\nCLASS = Net\n[models.NT$ARCH$]\n");
    let version = inf.section("Version").expect("[Version] found as [VERSION]");
    assert_eq!(version.get("class").map(|e| e.value(0)), Some("Net"));
    assert!(inf.section("Models.nt$arch$").is_some());
    assert!(inf.section("Model").is_none());
}

#[test]
fn reader_merges_a_repeated_section() {
    let inf = snippet("[S]\nAddReg = a\n[T]\n[s]\nAddReg = b\n");
    assert_eq!(inf.sections.len(), 2);
    assert_eq!(inf.section("S").expect("[S]").list("AddReg"), ["a", "b"]);
}

#[test]
fn reader_joins_backslash_continued_lines_only_at_the_end() {
    let inf = snippet("[S]\nAddReg = a, \\\n   b ; comment\nBinary = %13%\\x.sys\nnext = 1\n");
    let section = inf.section("S").expect("[S]");
    let addreg = section.get("AddReg").expect("AddReg");
    assert_eq!(addreg.values, ["a", "b"]);
    assert_eq!(addreg.line, 2);
    assert_eq!(section.get("Binary").map(|e| e.value(0)), Some(r"%13%\x.sys"));
    assert_eq!(section.get("next").map(|e| e.line), Some(5));
}

#[test]
fn reader_rejects_entries_outside_sections_and_broken_headers() {
    assert!(Inf::parse("key = value\n").is_err_and(|e| e.contains("line 1: entry outside")));
    assert!(Inf::parse("[S]\n[Broken\n").is_err_and(|e| e.contains("line 2")));
    assert!(Inf::parse("[S]\nk = a, \\\n").is_err_and(|e| e.contains("continued past")));
}

#[test]
fn reader_decodes_utf16le_with_a_byte_order_mark() {
    // The windows-drivers-rs sample .inx files are UTF-16LE with a BOM.
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend("[Version]\r\nClass = Net\r\n".encode_utf16().flat_map(u16::to_le_bytes));
    let inf = Inf::parse(&decode(&bytes).expect("valid UTF-16LE")).expect("parses");
    assert_eq!(
        inf.section("Version").and_then(|s| s.get("Class")).map(|e| e.value(0)),
        Some("Net")
    );
    assert!(decode(&[0xFF, 0xFE, 0x41]).is_err());
}

#[test]
fn tokens_expand_from_strings_with_percent_escapes_and_dirids_kept() {
    let inf = snippet("[Strings]\nProvider = \"covmini\"\nFlag = 0x00000002\n");
    assert_eq!(inf.expand("%provider%").as_deref(), Ok("covmini"));
    assert_eq!(inf.expand("%Flag%").ok().as_deref().and_then(parse_int), Some(2));
    assert_eq!(
        inf.expand(r"%%SystemRoot%%\System32\netevent.dll").as_deref(),
        Ok(r"%SystemRoot%\System32\netevent.dll")
    );
    assert_eq!(inf.expand(r"%13%\covmini.sys").as_deref(), Ok(r"%13%\covmini.sys"));
    assert!(inf.expand("%Missing%").is_err());
    assert!(inf.expand("50%").is_err());
}

#[test]
fn numbers_are_hexadecimal_with_0x_and_decimal_otherwise() {
    assert_eq!(parse_int("0x1"), Some(1));
    assert_eq!(parse_int("0X00010001"), Some(0x0001_0001));
    assert_eq!(parse_int(" 131 "), Some(131));
    assert_eq!(parse_int("twelve"), None);
    assert_eq!(parse_int(""), None);
}
