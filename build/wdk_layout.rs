//! The WDK layout check of build 3, minus the WDK: patching `ndis.h` so clang
//! can preprocess it, the C header that asks clang for the layouts in
//! [`layout_table`](crate::layout_table), and the Rust file of assertions.
//!
//! `build.rs` compiles this module only on a Windows host with the cargo
//! feature `wdk`; it reads and writes no files itself. The caller finds the
//! WDK (wdk-build), runs bindgen and writes the results to `OUT_DIR`.

use std::fmt::Write as _;

use crate::layout_table::{CONSTANTS, TYPES, View};

/// The C `enum` (and the Rust module bindgen makes of it) that carries
/// clang's `sizeof`/`_Alignof`/`offsetof` answers.
pub(crate) const ENUM: &str = "covmini_layout";

/// The generated Rust file, included by the driver under
/// `cfg(all(windows, feature = "wdk"))`.
pub(crate) const CHECK_FILE: &str = "wdk_layout_check.rs";

/// The directory under `OUT_DIR` that holds the patched `ndis.h` and the view
/// headers. Nothing else may be put there: a quoted `#include` inside ndis.h
/// looks in this directory first.
pub(crate) const INCLUDE_DIR: &str = "wdk-include";

/// The macro ndis.h defines in a way only MSVC's preprocessor accepts.
const MACRO: &str = "NDIS_API_VERSION_AVAILABLE";
/// What the original definition is renamed to.
const PASTE: &str = "COVMINI_NDIS_API_VERSION_AVAILABLE_PASTE";

/// Patches ndis.h so clang can preprocess it, and returns the new text with
/// the number of definitions patched (0: nothing to patch, so the WDK no
/// longer has the problem and the header is used as it is).
///
/// The problem. ndis.h (WDK 10.0.22621 and 10.0.26100 alike) has
///
/// ```c
/// #define NDIS_API_VERSION_AVAILABLE(major,minor) ((((0x ## major) << 8) + (0x ## minor)) >= NDIS_MIN_API)
/// ...
/// #if !NDIS_API_VERSION_AVAILABLE(NDIS_MINIPORT_MAJOR_VERSION, NDIS_MINIPORT_MINOR_VERSION)
/// #  error NDIS: This NDIS API version is not supported on the target architecture.
/// #endif
/// ```
///
/// C (C99 6.10.3.1) does not macro-expand an argument that is an operand of
/// `##`, so a conforming preprocessor pastes `0x` to the parameter's *name*:
/// clang reports ``invalid suffix 'xNDIS_MINIPORT_MAJOR_VERSION' on integer
/// constant`` in the `#if` and stops. MSVC's traditional preprocessor expands
/// the arguments first (`0x6`, `0x30`), which is what the header relies on.
/// `-D` cannot help, because ndis.h defines the macro itself right before
/// using it (a command-line definition would just be redefined), and ndis.h
/// refuses a predefined `NDIS_MINIPORT_MAJOR_VERSION`.
///
/// The fix keeps the meaning and makes the expansion conforming: the original
/// definition is renamed to `COVMINI_NDIS_API_VERSION_AVAILABLE_PASTE`, and
/// `NDIS_API_VERSION_AVAILABLE` becomes a one-level forwarder to it. Arguments
/// are expanded before they are substituted into the forwarder's body (they
/// are not `##` operands there), so the paste sees `6` and `30`. On ARM64,
/// where `NDIS_MIN_API` is 0x630, `NDIS_API_VERSION_AVAILABLE(6, 20)` stays
/// false, as under MSVC. (Other projects replace the body with `(1)`, which
/// also silences the check on ARM64.)
///
/// # Errors
///
/// If the definition continues on another line (`\`), which this patch does
/// not handle.
pub(crate) fn patch_ndis_h(original: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut patched = Vec::with_capacity(original.len() + 256);
    let mut count = 0;
    for line in original.split_inclusive(|&byte| byte == b'\n') {
        let (content, ending) = split_line_ending(line);
        let Some(params) = macro_params(content) else {
            patched.extend_from_slice(line);
            continue;
        };
        if content.trim_ascii_end().ends_with(b"\\") {
            return Err(format!(
                "ndis.h: the definition of {MACRO} continues on the next line; \
                 build/wdk_layout.rs only patches a one-line definition"
            ));
        }
        let ending: &[u8] = if ending.is_empty() { b"\n" } else { ending };
        let name_at =
            find(content, MACRO.as_bytes()).ok_or_else(|| format!("ndis.h: lost {MACRO} in its own definition"))?;
        // The original definition, renamed: `#define PASTE(major,minor) ...`.
        patched.extend_from_slice(&content[..name_at]);
        patched.extend_from_slice(PASTE.as_bytes());
        patched.extend_from_slice(&content[name_at + MACRO.len()..]);
        patched.extend_from_slice(ending);
        // The forwarder that expands the arguments before the paste.
        patched.extend_from_slice(
            format!("#define {MACRO}({params}) {PASTE}({params}) /* patched by covmini's build.rs */").as_bytes(),
        );
        patched.extend_from_slice(ending);
        count += 1;
    }
    Ok((patched, count))
}

/// `(content, line ending)`: the ending is `\r\n`, `\n` or empty.
fn split_line_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let without_lf = line.strip_suffix(b"\n").unwrap_or(line);
    let content = without_lf.strip_suffix(b"\r").unwrap_or(without_lf);
    (content, &line[content.len()..])
}

/// The parameter list of `#define NDIS_API_VERSION_AVAILABLE(params) ...`
/// (any spacing around `#` and `define`), or `None` for any other line.
fn macro_params(content: &[u8]) -> Option<String> {
    let rest = content.trim_ascii_start().strip_prefix(b"#")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"define")?;
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let rest = rest.trim_ascii_start().strip_prefix(MACRO.as_bytes())?;
    // Function-like: `(` right after the name.
    let rest = rest.strip_prefix(b"(")?;
    let close = rest.iter().position(|&byte| byte == b')')?;
    String::from_utf8(rest[..close].to_vec()).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// The file name of the C header of `view`.
pub(crate) fn header_name(view: View) -> String {
    format!("covmini_layout_{}.h", view.name())
}

fn size_const(ty: &str) -> String {
    format!("covmini_size__{ty}")
}

fn align_const(ty: &str) -> String {
    format!("covmini_align__{ty}")
}

fn offset_const(ty: &str, c_path: &str) -> String {
    format!("covmini_off__{ty}__{}", c_path.replace('.', "__"))
}

fn value_const(name: &str) -> String {
    format!("covmini_const__{name}")
}

/// The C header bindgen parses for `view`: the view's defines, `ntddk.h`, the
/// patched `ndis.h` beside it, `qos.h` (FLOWSPEC), and one enum whose
/// enumerators are the sizes, alignments, offsets and constants of the
/// table's entries for this view. clang evaluates them with the Microsoft
/// layout rules of the target (bindgen passes `--target` from `TARGET`).
pub(crate) fn wrapper_header(view: View, ndis_h_origin: &str) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "/* @generated by covmini's build.rs (build/wdk_layout.rs). Do not edit."
    );
    let _ = writeln!(h, " * View {}; ndis.h patched from {ndis_h_origin} */", view.name());
    for (name, value) in view.defines() {
        let _ = writeln!(h, "#define {name} {value}");
    }
    h.push_str("#include <ntddk.h>\n");
    h.push_str("/* The patched copy in this directory (a quoted include looks here first). */\n");
    h.push_str("#include \"ndis.h\"\n");
    h.push_str("#if __has_include(<qos.h>)\n#include <qos.h>\n#endif\n\n");
    let _ = writeln!(h, "enum {ENUM} {{");
    let _ = writeln!(h, "    covmini_view__{} = 0,", view.name());
    for check in TYPES.iter().filter(|check| check.view == view) {
        let ty = check.ty;
        let _ = writeln!(h, "    {} = sizeof({ty}),", size_const(ty));
        let _ = writeln!(h, "    {} = _Alignof({ty}),", align_const(ty));
        for field in check.fields {
            let _ = writeln!(
                h,
                "    {} = __builtin_offsetof({ty}, {}),",
                offset_const(ty, field.c),
                field.c
            );
        }
    }
    for constant in CONSTANTS.iter().filter(|constant| constant.view == view) {
        let _ = writeln!(h, "    {} = ({}),", value_const(constant.c), constant.c);
    }
    h.push_str("};\n");
    h
}

/// The Rust module name for a view's bindgen output.
fn module(view: View) -> String {
    format!("wdk_layout_{}", view.name())
}

/// The generated `wdk_layout_check.rs`: one module per view with bindgen's
/// output (`pub mod covmini_layout { pub type Type = c_int; pub const ...; }`),
/// then one `const _: () = assert!(..)` per size, alignment, offset and
/// constant.
/// `provenance` names the WDK header and target, for the reader.
pub(crate) fn check_file(bindings: &[(View, String)], provenance: &str) -> String {
    let mut rs = String::new();
    let _ = writeln!(
        rs,
        "// @generated by covmini's build.rs (build/wdk_layout.rs). Do not edit."
    );
    let _ = writeln!(rs, "//");
    let _ = writeln!(rs, "// {provenance}");
    let _ = writeln!(rs, "//");
    let _ = writeln!(
        rs,
        "// Every `ndis_sys` type in build/layout_table.rs must have the size,"
    );
    let _ = writeln!(
        rs,
        "// alignment and field offsets clang computes from the WDK's ndis.h for"
    );
    let _ = writeln!(rs, "// this target; every listed constant must have the WDK's value.");
    let _ = writeln!(
        rs,
        "// A failing assertion names the type and field; the WDK's number is the"
    );
    let _ = writeln!(rs, "// constant of the same name in the modules below.");
    for (view, rust) in bindings {
        let _ = writeln!(rs);
        let _ = writeln!(
            rs,
            "/// bindgen's output for the {} view of the WDK headers.",
            view.name()
        );
        let _ = writeln!(
            rs,
            "#[allow(dead_code, missing_docs, non_camel_case_types, non_snake_case, \
             non_upper_case_globals, unused_qualifications, clippy::all, clippy::pedantic)]"
        );
        let _ = writeln!(rs, "mod {} {{", module(*view));
        for line in rust.lines() {
            if line.is_empty() {
                rs.push('\n');
            } else {
                let _ = writeln!(rs, "    {line}");
            }
        }
        let _ = writeln!(rs, "}}");
    }
    for check in TYPES {
        let ty = check.ty;
        let rust_ty = check.rust_ty;
        let wdk = format!("{}::{ENUM}", module(check.view));
        let view = check.view.name();
        // One item per assertion, so every mismatch is reported, not only
        // the first of a type.
        let _ = writeln!(rs);
        let _ = writeln!(rs, "// {ty} ({view})");
        let _ = writeln!(
            rs,
            "const _: () = assert!(::core::mem::size_of::<::ndis_sys::{rust_ty}>() == {wdk}::{} as usize, \
             \"ndis_sys::{rust_ty}: size differs from the WDK ({view})\");",
            size_const(ty)
        );
        let _ = writeln!(
            rs,
            "const _: () = assert!(::core::mem::align_of::<::ndis_sys::{rust_ty}>() == {wdk}::{} as usize, \
             \"ndis_sys::{rust_ty}: alignment differs from the WDK ({view})\");",
            align_const(ty)
        );
        for field in check.fields {
            let _ = writeln!(
                rs,
                "const _: () = assert!(::core::mem::offset_of!(::ndis_sys::{rust_ty}, {}) == {wdk}::{} as usize, \
                 \"ndis_sys::{rust_ty}.{}: offset differs from the WDK's {} ({view})\");",
                field.rust,
                offset_const(ty, field.c),
                field.rust,
                field.c
            );
        }
    }
    for constant in CONSTANTS {
        let wdk = format!("{}::{ENUM}", module(constant.view));
        let view = constant.view.name();
        let _ = writeln!(rs);
        let _ = writeln!(
            rs,
            "const _: () = assert!((::ndis_sys::{} as i128) == ({wdk}::{} as i128), \
             \"ndis_sys::{}: value differs from the WDK's {} ({view})\");",
            constant.rust,
            value_const(constant.c),
            constant.rust,
            constant.c
        );
    }
    rs
}
