//! The panic strategy of each build, read from the files that set it.
//!
//! The kernel images must abort on panic in every profile: rustc refuses a
//! `no_std` image that unwinds, windows-drivers-rs requires `panic = "abort"`
//! in the dev and the release profile, and wdk-sys defines its
//! `__CxxFrameHandler3` stub only under `cfg(panic = "abort")`. The host
//! build must keep unwinding: the test harness needs it, and an abort profile
//! in Cargo.toml makes `cargo test --release` build covmini twice into the
//! same cdylib files (E0460). So the setting lives in the two kernel cargo
//! configurations, each passed with `--config` by the build that uses it, and
//! not in Cargo.toml. This test fails if:
//!
//! * `.cargo/kernel-cross.toml` (the Linux cross build, scripts/build-kernel.sh)
//!   or `.cargo/kernel-wdk.toml` (the WDK build) lacks `panic = "abort"` in
//!   `[profile.dev]` or `[profile.release]`;
//! * Cargo.toml sets `panic` in any profile;
//! * Makefile.toml's Windows `cargo build` flags (covmini's package flow and
//!   the `covclient` task) do not pass `.cargo/kernel-wdk.toml`, or
//!   scripts/build-kernel.sh does not pass `.cargo/kernel-cross.toml`.
//!
//! tests/kernel_image.rs builds the dev and release images on Linux. The WDK
//! build cannot run here (its wdk-build build dependency needs the `windows`
//! crate, which does not compile on Linux), so its configuration is checked
//! as text, and `cargo check` of the kernel target in the dev profile with
//! `.cargo/kernel-wdk.toml` (without the `wdk` feature) shows that the file
//! is what makes rustc accept a dev-profile kernel image: without it the same
//! check fails with "unwinding panics are not supported without std".

use std::path::PathBuf;
use std::process::Command;

use toml::de::{DeTable, DeValue};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The value at `keys` (a dotted path) in `table`, if any.
fn lookup<'a>(table: &'a DeTable<'_>, keys: &[&str]) -> Option<&'a DeValue<'a>> {
    let (first, rest) = keys.split_first()?;
    let value = table.get(*first)?.get_ref();
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        DeValue::Table(inner) => lookup(inner, rest),
        _ => None,
    }
}

fn string_at<'a>(table: &'a DeTable<'_>, keys: &[&str]) -> Option<&'a str> {
    match lookup(table, keys)? {
        DeValue::String(s) => Some(s.as_ref()),
        _ => None,
    }
}

/// Every problem with a kernel configuration's panic settings.
fn kernel_config_problems(file: &str, text: &str) -> Vec<String> {
    let doc = DeTable::parse(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut problems = Vec::new();
    for profile in ["dev", "release"] {
        match string_at(doc.get_ref(), &["profile", profile, "panic"]) {
            Some("abort") => {}
            other => problems.push(format!("{file}: [profile.{profile}] panic is {other:?}, not \"abort\"")),
        }
    }
    problems
}

/// Every profile of Cargo.toml that sets `panic`.
fn manifest_problems(text: &str) -> Vec<String> {
    let doc = DeTable::parse(text).unwrap_or_else(|e| panic!("Cargo.toml: {e}"));
    let Some(DeValue::Table(profiles)) = lookup(doc.get_ref(), &["profile"]) else {
        return Vec::new();
    };
    profiles
        .iter()
        .filter(|(_, p)| matches!(p.get_ref(), DeValue::Table(t) if t.get("panic").is_some()))
        .map(|(name, _)| {
            format!(
                "Cargo.toml: [profile.{}] sets panic; the host build must keep unwinding",
                name.get_ref()
            )
        })
        .collect()
}

#[test]
fn kernel_builds_abort_in_both_profiles() {
    let mut problems = Vec::new();
    for file in [".cargo/kernel-cross.toml", ".cargo/kernel-wdk.toml"] {
        problems.extend(kernel_config_problems(file, &read(file)));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn host_build_keeps_unwinding() {
    let problems = manifest_problems(&read("Cargo.toml"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn each_kernel_build_passes_its_configuration() {
    let makefile = read("Makefile.toml");
    let doc = DeTable::parse(&makefile).unwrap_or_else(|e| panic!("Makefile.toml: {e}"));
    let flags = string_at(doc.get_ref(), &["env", "CARGO_MAKE_CARGO_BUILD_TEST_FLAGS", "value"])
        .expect("Makefile.toml: [env] CARGO_MAKE_CARGO_BUILD_TEST_FLAGS has no value");
    // cargo-make splits the value on spaces.
    let words: Vec<&str> = flags.split(' ').filter(|w| !w.is_empty()).collect();
    let problems = wdk_flag_problems("the WDK build's flags", &words, "covmini");
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // covclient's WDK build, `cargo make covclient`: its own cargo command.
    let task = "tasks.covclient";
    assert_eq!(
        string_at(doc.get_ref(), &["tasks", "covclient", "command"]),
        Some("cargo"),
        "Makefile.toml: [{task}] does not run cargo"
    );
    let Some(DeValue::Array(args)) = lookup(doc.get_ref(), &["tasks", "covclient", "args"]) else {
        panic!("Makefile.toml: [{task}] has no args array");
    };
    let args: Vec<&str> = args
        .iter()
        .filter_map(|arg| match arg.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(
        args.first(),
        Some(&"build"),
        "Makefile.toml: [{task}] args {args:?} do not start with `build`"
    );
    let problems = wdk_flag_problems(task, &args, "covclient");
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let script = read("scripts/build-kernel.sh");
    let builds: Vec<&str> = script
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo build"))
        .collect();
    assert!(!builds.is_empty(), "scripts/build-kernel.sh runs no `cargo build`");
    for line in builds {
        assert!(
            line.contains("--config .cargo/kernel-cross.toml"),
            "scripts/build-kernel.sh: `{}` does not pass .cargo/kernel-cross.toml",
            line.trim()
        );
    }
}

/// What a WDK `cargo build` of `package` must pass, missing from `words`
/// (cargo's arguments, one a word): the package, the `wdk` feature and the
/// kernel configuration that makes both profiles abort on panic.
fn wdk_flag_problems(what: &str, words: &[&str], package: &str) -> Vec<String> {
    [
        ["--package", package],
        ["--features", "wdk"],
        ["--config", ".cargo/kernel-wdk.toml"],
    ]
    .into_iter()
    .filter(|pair| !words.windows(2).any(|w| w == pair))
    .map(|pair| format!("Makefile.toml: {what} {words:?} lack `{} {}`", pair[0], pair[1]))
    .collect()
}

/// `cargo check` of covmini for the x64 kernel target, dev profile, with
/// `extra` arguments; returns whether it passed and its stderr. It shares
/// scripts/build-kernel.sh's target directory (check artifacts of another
/// configuration sit beside the images' without disturbing them).
fn check_dev_kernel(extra: &[&str]) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", repo().join("target/kernel-build"))
        .args(["check", "-p", "covmini", "--target", "x86_64-pc-windows-msvc"])
        .args(extra)
        .output()
        .expect("run cargo check");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_wdk_configuration_makes_the_dev_kernel_image_compile() {
    let (ok, stderr) = check_dev_kernel(&["--config", ".cargo/kernel-wdk.toml"]);
    assert!(ok, "cargo check with .cargo/kernel-wdk.toml failed:\n{stderr}");
    let (ok, stderr) = check_dev_kernel(&[]);
    assert!(
        !ok && stderr.contains("unwinding panics are not supported without std"),
        "without the kernel configuration the dev kernel check should fail on unwinding:\n{stderr}"
    );
}

/// The checks above fire: a kernel configuration that unwinds in either
/// profile, and a manifest that sets a panic strategy.
#[test]
fn the_checks_catch_a_wrong_setting() {
    let missing_dev = "[profile.release]\npanic = \"abort\"\n";
    assert_eq!(kernel_config_problems("x", missing_dev).len(), 1);
    let unwind_release = "[profile.dev]\npanic = \"abort\"\n[profile.release]\npanic = \"unwind\"\n";
    assert_eq!(kernel_config_problems("x", unwind_release).len(), 1);
    let good = "[profile.dev]\npanic = \"abort\"\n[profile.release]\npanic = \"abort\"\n";
    assert!(kernel_config_problems("x", good).is_empty());

    let manifest = "[package]\nname = \"x\"\n[profile.release]\npanic = \"abort\"\nlto = true\n";
    assert_eq!(manifest_problems(manifest).len(), 1);
    assert!(manifest_problems("[profile.release]\nlto = true\n").is_empty());

    let no_config = ["build", "--package", "covclient", "--features", "wdk"];
    assert_eq!(wdk_flag_problems("x", &no_config, "covclient").len(), 1);
    let other_package = [
        "build",
        "--package",
        "covmini",
        "--features",
        "wdk",
        "--config",
        ".cargo/kernel-wdk.toml",
    ];
    assert_eq!(wdk_flag_problems("x", &other_package, "covclient").len(), 1);
    assert!(wdk_flag_problems("x", &other_package, "covmini").is_empty());
}
