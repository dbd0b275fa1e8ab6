//! `include/covmini.h` against the Rust definitions: a C program generated
//! from the Rust tables ([`STRUCTS`], [`COVMINI_CONSTANTS`],
//! [`COVCLIENT_CONSTANTS`]) is compiled against the header with the host C
//! compiler (`$CC`, else `cc`), as C99 and as C11, and prints every
//! struct's `sizeof`, every field's `offsetof` and `sizeof`, every
//! constant's value and the echo address; each must equal the Rust value.
//!
//! Why nothing can be forgotten:
//! * a Rust field is in the table by construction (`abi_structs!` declares
//!   the struct and its table together), so a C struct missing it does not
//!   compile;
//! * the Rust fields cover the struct exactly (asserted at compile time),
//!   so a C struct with an extra field has another `sizeof`;
//! * every `typedef struct` and every `COVMINI_*`, `COVCLIENT_*` and
//!   `IOCTL_COVCLIENT_*` `#define` in the header must be in a Rust table.
//!
//! `comparer_catches_a_wrong_header` proves the comparison fails on a
//! header with a wrong value, swapped fields, or a missing field.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use covclient_abi::{COVCLIENT_CONSTANTS, COVMINI_CONSTANTS, COVMINI_ECHO_ADDRESS, STRUCTS};

fn header_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include")
}

fn constants() -> impl Iterator<Item = &'static (&'static str, u64)> {
    COVMINI_CONSTANTS.iter().chain(COVCLIENT_CONSTANTS)
}

/// The C program: one output line per value, in the form the Rust side
/// expects (`expected`).
fn c_program() -> String {
    let mut c = String::from("#include <stdio.h>\n#include \"covmini.h\"\nint main(void) {\n");
    for s in STRUCTS {
        writeln!(c, "    printf(\"size {} %zu\\n\", sizeof({}));", s.c, s.c).unwrap();
        for f in s.fields {
            writeln!(
                c,
                "    printf(\"field {c}.{f} %zu %zu\\n\", offsetof({c}, {f}), sizeof((({c} *)0)->{f}));",
                c = s.c,
                f = f.name
            )
            .unwrap();
        }
    }
    for (name, _) in constants() {
        writeln!(c, "    printf(\"const {name} %llu\\n\", (unsigned long long)({name}));").unwrap();
    }
    c.push_str("    printf(\"echo %s %u\\n\", COVMINI_ECHO_ADDRESS, (unsigned)sizeof(COVMINI_ECHO_ADDRESS) - 1u);\n");
    c.push_str("    return 0;\n}\n");
    c
}

/// What the C program must print, from the Rust definitions.
fn expected() -> Vec<String> {
    let mut out = Vec::new();
    for s in STRUCTS {
        out.push(format!("size {} {}", s.c, s.size));
        for f in s.fields {
            out.push(format!("field {}.{} {} {}", s.c, f.name, f.offset, f.size));
        }
    }
    for (name, v) in constants() {
        out.push(format!("const {name} {v}"));
    }
    let echo = std::str::from_utf8(COVMINI_ECHO_ADDRESS).unwrap();
    out.push(format!("echo {echo} {}", echo.len()));
    out
}

/// Every difference between what C printed and the Rust values, and every
/// header name the Rust tables lack.
fn compare(header: &str, printed: &str) -> Vec<String> {
    let want = expected();
    let got: Vec<&str> = printed.lines().collect();
    let mut diffs: Vec<String> = want
        .iter()
        .zip(got.iter().copied().chain(std::iter::repeat("<missing>")))
        .filter(|(w, g)| w.as_str() != *g)
        .map(|(w, g)| format!("Rust: {w}\n   C: {g}"))
        .collect();
    if got.len() > want.len() {
        diffs.push(format!("C printed {} extra lines", got.len() - want.len()));
    }
    // Names the header defines must be Rust's too.
    let known_structs: Vec<&str> = STRUCTS.iter().map(|s| s.c).collect();
    let known_consts: Vec<&str> = constants().map(|(n, _)| *n).collect();
    // Helper macros and the echo string, which are not table entries.
    let helpers = ["COVMINI_H", "COVMINI_ECHO_ADDRESS"];
    for line in header.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["typedef", "struct", name, ..] if !known_structs.contains(name) => {
                diffs.push(format!("struct {name} is in the header, not in covclient-abi"));
            }
            ["#define", name, ..]
                if (name.starts_with("COVMINI_")
                    || name.starts_with("COVCLIENT_")
                    || name.starts_with("IOCTL_COVCLIENT_"))
                    && !name.starts_with("COVMINI_STATIC_ASSERT")
                    && !helpers.contains(name)
                    && !known_consts.contains(name) =>
            {
                diffs.push(format!("#define {name} is in the header, not in covclient-abi"));
            }
            _ => {}
        }
    }
    diffs
}

/// Compiles the program against the header in `dir` as `std` and runs it;
/// `Err` with the compiler's message when it does not compile.
fn run_c(dir: &Path, std: &str, tag: &str) -> Result<String, String> {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c_header-{tag}-{std}"));
    std::fs::create_dir_all(&work).unwrap();
    let src = work.join("layout.c");
    let exe = work.join("layout");
    std::fs::write(&src, c_program()).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(dir)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("running the C compiler {cc:?} (set CC): {e}"));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "the layout program failed");
    Ok(String::from_utf8(run.stdout).unwrap())
}

/// The header in `dir` checked: every mismatch, or why it did not compile.
fn check(dir: &Path, std: &str, tag: &str) -> Result<(), String> {
    let header = std::fs::read_to_string(dir.join("covmini.h")).unwrap();
    let printed = run_c(dir, std, tag).map_err(|e| format!("does not compile:\n{e}"))?;
    let diffs = compare(&header, &printed);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

#[test]
fn header_matches_rust_as_c99_and_c11() {
    for std in ["c99", "c11"] {
        if let Err(e) = check(&header_dir(), std, "real") {
            panic!("include/covmini.h ({std}) differs from covclient-abi:\n{e}");
        }
    }
    // The comparison covered something: every struct and constant.
    assert!(expected().len() > STRUCTS.len() + COVCLIENT_CONSTANTS.len());
}

/// A header variant: the real one with `from` replaced by `to` (which must
/// occur).
fn variant(tag: &str, from: &str, to: &str) -> PathBuf {
    let real = std::fs::read_to_string(header_dir().join("covmini.h")).unwrap();
    assert!(real.contains(from), "{from:?} not in the header");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("wrong-header-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("covmini.h"), real.replacen(from, to, 1)).unwrap();
    dir
}

#[test]
fn comparer_catches_a_wrong_header() {
    // A wrong value.
    let e = check(
        &variant(
            "value",
            "#define COVMINI_AF 0x0000C0C0u",
            "#define COVMINI_AF 0x0000C0C1u",
        ),
        "c11",
        "value",
    )
    .unwrap_err();
    assert!(
        e.contains("const COVMINI_AF 49345") && e.contains("const COVMINI_AF 49344"),
        "{e}"
    );
    // A wrong IOCTL code.
    let e = check(&variant("code", "0xC0C0E038u", "0xC0C0E03Cu"), "c11", "code").unwrap_err();
    assert!(e.contains("IOCTL_COVCLIENT_SEND"), "{e}");
    // Two fields swapped: same size, so the header's own asserts pass.
    let e = check(
        &variant(
            "swap",
            "    uint32_t bytes_written;\n    uint32_t bytes_needed;",
            "    uint32_t bytes_needed;\n    uint32_t bytes_written;",
        ),
        "c11",
        "swap",
    )
    .unwrap_err();
    assert!(e.contains("field COVCLIENT_OID_RESULT.bytes_written 4 4"), "{e}");
    // A field missing: the program does not compile.
    let e = check(
        &variant(
            "missing",
            "    uint32_t seed;\n} COVCLIENT_SEND_REQUEST;",
            "} COVCLIENT_SEND_REQUEST;",
        ),
        "c11",
        "missing",
    )
    .unwrap_err();
    assert!(e.contains("does not compile"), "{e}");
    // A constant the Rust side does not have.
    let e = check(
        &variant(
            "extra",
            "#define COVMINI_MTU 1500u",
            "#define COVMINI_MTU 1500u\n#define COVMINI_EXTRA 1u",
        ),
        "c11",
        "extra",
    )
    .unwrap_err();
    assert!(e.contains("COVMINI_EXTRA is in the header"), "{e}");
    // A wrong echo address.
    let e = check(
        &variant(
            "echo",
            "#define COVMINI_ECHO_ADDRESS \"echo\"",
            "#define COVMINI_ECHO_ADDRESS \"echo!\"",
        ),
        "c11",
        "echo",
    )
    .unwrap_err();
    assert!(e.contains("echo echo! 5"), "{e}");
}

/// With a Windows C compiler (mingw-w64, `COVMINI_MINGW_CC` or
/// `x86_64-w64-mingw32-gcc`): the header compiles after `<windows.h>` and
/// `<winioctl.h>`, so its sizes hold under the Windows ABI (LLP64) and its
/// written-out codes equal the real `CTL_CODE` (the header asserts both).
/// Skipped, saying so, where no such compiler is installed.
#[test]
fn header_compiles_with_the_windows_headers() {
    let cc = std::env::var("COVMINI_MINGW_CC").unwrap_or_else(|_| "x86_64-w64-mingw32-gcc".into());
    if Command::new(&cc).arg("--version").output().is_err() {
        eprintln!("skipped: no {cc} (apt-get install gcc-mingw-w64-x86-64)");
        return;
    }
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_header-mingw");
    std::fs::create_dir_all(&work).unwrap();
    let src = work.join("win.c");
    std::fs::write(
        &src,
        "#include <windows.h>\n#include <winioctl.h>\n#include \"covmini.h\"\n",
    )
    .unwrap();
    let out = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
        .arg(header_dir())
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The CTL_CODE cross-check was compiled in, not skipped by its #if.
    let probe = work.join("probe.c");
    std::fs::write(
        &probe,
        "#include <windows.h>\n#include <winioctl.h>\n#include \"covmini.h\"\n\
         #if !(defined(CTL_CODE) && defined(METHOD_BUFFERED) && defined(FILE_READ_ACCESS))\n#error no CTL_CODE\n#endif\n\
         _Static_assert(IOCTL_COVCLIENT_OPEN_AF == CTL_CODE(0xC0C0, 0x802, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS), \"OPEN_AF\");\n",
    )
    .unwrap();
    let out = Command::new(&cc)
        .args(["-std=c11", "-fsyntax-only", "-I"])
        .arg(header_dir())
        .arg(&probe)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// docs/covclient-ioctl.md names every struct with its size, every code
/// with its value and every event kind with its value, as the Rust tables
/// have them, so the reference cannot fall behind the crate.
#[test]
fn the_reference_page_lists_every_code_struct_and_event() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/covclient-ioctl.md")).unwrap();
    let row = |name: &str| {
        doc.lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("docs/covclient-ioctl.md has no table row for {name}"))
    };
    for s in STRUCTS {
        let cells: Vec<&str> = row(s.c).split('|').map(str::trim).collect();
        assert_eq!(cells[2], s.size.to_string(), "{}'s size in the docs", s.c);
    }
    for (name, v) in COVCLIENT_CONSTANTS {
        if name.starts_with("IOCTL_") {
            assert!(
                row(name).contains(&format!("`{v:#010X}`").replace("0X", "0x")),
                "{name}'s value in the docs"
            );
        } else if name.starts_with("COVCLIENT_EVENT_") && *name != "COVCLIENT_EVENT_MAX" {
            let cells: Vec<&str> = row(name).split('|').map(str::trim).collect();
            assert_eq!(cells[2], v.to_string(), "{name}'s value in the docs");
        }
    }
}
