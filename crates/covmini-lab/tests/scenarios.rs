//! Scenario files end to end: every shipped scenario passes; an unmet
//! expectation fails the run naming the step and its line; every kind of
//! malformed file is refused (exit 2) with an error naming the line, the
//! column and what was expected; `--seed` overrides the file's seed; the
//! parties scenario fans data out to each leaf and an unmet per-leaf
//! expectation names the leaf; and `--sys` runs shipped scenarios against
//! the real x64 kernel image.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{lab, line_of, repo, shipped, temp_dir, write};

#[test]
fn every_shipped_scenario_passes() {
    let files = shipped();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    for want in [
        "story", "rejected", "pended", "no-route", "echo", "qos", "data", "parties",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "scenarios/{want}.toml is shipped: {names:?}"
        );
    }
    for file in files {
        let (code, stdout, stderr) = lab(["run".as_ref(), file.as_os_str()]);
        assert_eq!(code, Some(0), "{}:\n{stdout}{stderr}", file.display());
        assert!(stdout.contains("| result") && stdout.contains("PASS"), "{stdout}");
    }
}

#[test]
fn the_built_in_story_is_scenarios_story_toml() {
    let file = repo().join("scenarios/story.toml");
    let (_, from_file, _) = lab(["run".as_ref(), "-q".as_ref(), file.as_os_str()]);
    let (_, built_in, _) = lab(["run", "-q"]);
    let table = |s: &str| {
        s.lines()
            .skip_while(|l| !l.starts_with('+'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!table(&built_in).is_empty());
    assert_eq!(table(&from_file), table(&built_in));
}

#[test]
fn the_data_scenario_counts_64_and_1500_byte_nbls_each_way() {
    let (code, stdout, _) = lab(["run".as_ref(), repo().join("scenarios/data.toml").as_os_str()]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("| data alice → bob ") && stdout.contains("| data bob → alice "));
    // 100 × 64 + 100 × 1500 each way.
    assert_eq!(stdout.matches("200 NBLs, 156400 bytes").count(), 2, "{stdout}");
}

/// A shipped scenario with one line changed.
fn altered(name: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(repo().join("scenarios").join(name)).expect("shipped scenario");
    assert!(text.contains(from), "{from:?} in {name}");
    text.replacen(from, to, 1)
}

#[test]
fn an_unmet_status_expectation_fails_naming_the_step_and_its_line() {
    let dir = temp_dir("unmet-status");
    let text = altered("rejected.toml", "expect = \"NOT_ACCEPTED\"", "expect = \"SUCCESS\"");
    let line = line_of(&text, "call = \"to-bob\"") - 3;
    let file = write(&dir, "unmet.toml", &text);
    let (code, stdout, _) = lab(["run".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}");
    let want = format!(
        "FAILED step 8 (line {line}) “alice makes call \"to-bob\" to \"bob\"”: expected SUCCESS, got NOT_ACCEPTED"
    );
    assert!(stdout.contains(&want), "want {want:?} in:\n{stdout}");
    assert!(stdout.contains("FAIL: 1 unmet expectation"), "{stdout}");
    // The scenario stops there (the steps after it are listed as skipped,
    // not run), and the lab still halts and unloads: no leak.
    for l in stdout.lines().filter(|l| l.contains("call \"to-carol\"")) {
        assert!(l.to_lowercase().contains("skip"), "{l}");
    }
    assert!(stdout.contains("unload the driver"), "{stdout}");
    assert!(stdout.contains("| leaks                          | 0"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unmet_data_expectation_fails_naming_the_step_and_its_line() {
    let dir = temp_dir("unmet-data");
    let text = altered(
        "data.toml",
        "expect_received = 100\nexpect_bytes = 6400",
        "expect_received = 99\nexpect_bytes = 6400",
    );
    let line = line_of(&text, "expect_received = 99") - 6;
    let file = write(&dir, "unmet.toml", &text);
    let (code, stdout, _) = lab(["run".as_ref(), "-q".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}");
    let want = format!(
        "FAILED step 7 (line {line}) “alice sends 100 NBLs of 64 B on call \"c\"”: alice → bob: received 100 NBL(s), \
         6400 B; expected 99 NBL(s), 6400 B"
    );
    assert!(stdout.contains(&want), "want {want:?} in:\n{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seed_overrides_the_files_seed() {
    let file = repo().join("scenarios/echo.toml");
    let (code, stdout, _) = lab(["run".as_ref(), file.as_os_str(), "--seed".as_ref(), "77".as_ref()]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("seed 77"), "{stdout}");
    let (_, stdout, _) = lab(["run".as_ref(), file.as_os_str()]);
    assert!(stdout.contains("seed 4"), "the file's own seed: {stdout}");
}

/// A valid scenario the malformed cases below alter one piece at a time.
const BASE: &str = r#"name = "base"

[[client]]
name = "alice"

[[client]]
name = "bob"
saps = ["bob"]

[[step]]
do = "open_af"
client = "alice"

[[step]]
do = "open_af"
client = "bob"

[[step]]
do = "register_sap"
client = "bob"
address = "bob"

[[step]]
do = "make_call"
client = "alice"
call = "c"
to = "bob"

[[step]]
do = "send"
client = "alice"
call = "c"
count = 2
size = 64

[[step]]
do = "close_call"
client = "alice"
call = "c"
"#;

/// `run --check` on `text`: the exit code and stderr.
fn check(dir: &std::path::Path, text: &str) -> (Option<i32>, String) {
    let file = write(dir, "s.toml", text);
    let (code, _, stderr) = lab(["run".as_ref(), "--check".as_ref(), file.as_os_str()]);
    (code, stderr)
}

#[test]
fn the_base_file_is_valid() {
    let dir = temp_dir("base");
    let file = write(&dir, "base.toml", BASE);
    let (code, stdout, stderr) = lab(["run".as_ref(), "--check".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("ok: \"base\", 2 client(s), 6 step(s)"), "{stdout}");
    let (code, stdout, _) = lab(["run".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(0), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_kind_of_malformed_file_names_the_line_and_what_was_expected() {
    let dir = temp_dir("malformed");
    // (what is wrong, from, to, the line:column the error names, words it must say)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "TOML syntax",
            "[[step]]\ndo = \"send\"",
            "[[step]\ndo = \"send\"",
            "29:8",
            "TOML syntax",
        ),
        (
            "unknown top-level key",
            "name = \"base\"",
            "name = \"base\"\ncolour = 1",
            "2:1",
            "unknown key `colour` in the scenario; expected one of: name, description, seed, client, step",
        ),
        (
            "unknown step key",
            "count = 2",
            "cout = 2",
            "33:1",
            "unknown key `cout` in a `send` step; expected one of:",
        ),
        (
            "unknown client key",
            "saps = [\"bob\"]",
            "sap = [\"bob\"]",
            "8:1",
            "unknown key `sap` in a `[[client]]`; expected one of: name, answers, reject, saps",
        ),
        (
            "wrong type",
            "count = 2",
            "count = \"two\"",
            "33:9",
            "`count` must be an integer (how many NBLs), found a string",
        ),
        (
            "out of range",
            "size = 64",
            "size = 0",
            "34:8",
            "`size` must be an integer from 1 to 65535",
        ),
        (
            "missing key",
            "count = 2\nsize = 64",
            "count = 2",
            "29:1",
            "a `send` step needs `size = N` (bytes in each NBL)",
        ),
        (
            "unknown step kind",
            "do = \"close_call\"",
            "do = \"hang_up\"",
            "37:6",
            "unknown step `do = \"hang_up\"`; expected one of: open_af,",
        ),
        (
            "unknown client",
            "do = \"open_af\"\nclient = \"bob\"",
            "do = \"open_af\"\nclient = \"bobby\"",
            "16:10",
            "no client named \"bobby\"; declared: alice, bob",
        ),
        (
            "call to an undeclared SAP",
            "to = \"bob\"",
            "to = \"carol\"",
            "27:6",
            "no client declares the SAP address \"carol\"",
        ),
        (
            "SAP the client does not declare",
            "address = \"bob\"",
            "address = \"robert\"",
            "21:11",
            "client \"bob\" does not declare SAP \"robert\"; its `saps` are [\"bob\"]",
        ),
        (
            "unknown call",
            "call = \"c\"\ncount",
            "call = \"d\"\ncount",
            "32:8",
            "no call named \"d\" was made before this step (calls so far: c)",
        ),
        (
            "step before open_af",
            "[[step]]\ndo = \"open_af\"\nclient = \"bob\"\n",
            "",
            "17:10",
            "client \"bob\" has no open AF here: an `open_af` step by \"bob\" must come first",
        ),
        (
            "answer by a client that answers at once",
            "[[step]]\ndo = \"send\"",
            "[[step]]\ndo = \"answer\"\nclient = \"bob\"\ncall = \"c\"\n\n[[step]]\ndo = \"send\"",
            "31:10",
            "client \"bob\" answers incoming calls at once (`answers = \"sync\"`); an `answer` step is for a client with `answers = \"pend\"`",
        ),
        (
            "unknown status",
            "to = \"bob\"",
            "to = \"bob\"\nexpect = \"OK\"",
            "28:10",
            "`expect = \"OK\"` is not an NDIS status; expected one of: SUCCESS, PENDING,",
        ),
        (
            "bad answers value",
            "saps = [\"bob\"]",
            "saps = [\"bob\"]\nanswers = \"later\"",
            "9:11",
            "`answers = \"later\"`: expected \"sync\"",
        ),
        (
            "duplicate client",
            "name = \"bob\"",
            "name = \"alice\"",
            "7:8",
            "client \"alice\" is already declared at line 3",
        ),
        (
            "party on a point-to-point call",
            "[[step]]\ndo = \"close_call\"",
            "[[step]]\ndo = \"add_party\"\nclient = \"alice\"\ncall = \"c\"\nparty = \"p\"\nto = \"bob\"\n\n[[step]]\ndo = \"close_call\"",
            "40:9",
            "call \"c\" is point to point: parties need `multipoint = true`",
        ),
        (
            "unknown party",
            "[[step]]\ndo = \"close_call\"",
            "[[step]]\ndo = \"drop_party\"\nclient = \"alice\"\nparty = \"p\"\n\n[[step]]\ndo = \"close_call\"",
            "39:9",
            "no party named \"p\" was added before this step",
        ),
        (
            "a step after halt",
            "[[step]]\ndo = \"close_call\"",
            "[[step]]\ndo = \"halt\"\n\n[[step]]\ndo = \"close_call\"",
            "40:6",
            "nothing can follow the `halt` step at line 36",
        ),
    ];
    for (what, from, to, at, words) in cases {
        assert!(BASE.contains(from), "{what}: {from:?} not in BASE");
        let text = BASE.replacen(from, to, 1);
        let (code, stderr) = check(&dir, &text);
        assert_eq!(code, Some(2), "{what}: exit status\n{stderr}");
        let want = format!("s.toml:{at}: ");
        let line = stderr
            .lines()
            .find(|l| l.contains(&want))
            .unwrap_or_else(|| panic!("{what}: no error at {at}:\n{stderr}"));
        assert!(line.contains(words), "{what}: {line:?} lacks {words:?}\n{stderr}");
        // The offending line is shown under the error.
        let n: usize = at.split(':').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let source = text.lines().nth(n - 1).unwrap_or("");
        assert!(
            stderr.contains(&format!("{n:>5} | {source}")),
            "{what}: source line shown\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_step_by_a_client_that_is_not_an_end_of_the_call_and_steps_that_are_not_tables_are_refused() {
    let dir = temp_dir("malformed2");
    // bob (the callee) may send on call c; a third client may not.
    let bob = BASE.replacen(
        "client = \"alice\"\ncall = \"c\"\ncount",
        "client = \"bob\"\ncall = \"c\"\ncount",
        1,
    );
    let (code, stderr) = check(&dir, &bob);
    assert_eq!(code, Some(0), "{stderr}");
    let three = BASE.replacen(
        "[[step]]",
        "[[client]]\nname = \"eve\"\n\n[[step]]\ndo = \"open_af\"\nclient = \"eve\"\n\n[[step]]",
        1,
    );
    let three = three.replacen(
        "client = \"alice\"\ncall = \"c\"\ncount",
        "client = \"eve\"\ncall = \"c\"\ncount",
        1,
    );
    let (code, stderr) = check(&dir, &three);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "s.toml:39:8: client \"eve\" is not an end of call \"c\": its ends are \"alice\" (caller) and \"bob\" (callee)"
        ),
        "{stderr}"
    );
    let (code, stderr) = check(&dir, "name = \"x\"\nstep = 3\n");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("s.toml:2:1: `step` must be an array of tables: write each as a `[[step]]` section"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_scenario_file_is_exit_2() {
    let (code, _, stderr) = lab(["run", "no/such/scenario.toml"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read no/such/scenario.toml"), "{stderr}");
}

#[test]
fn the_parties_scenario_fans_data_out_to_each_leaf_and_every_party_that_joined_leaves() {
    let (code, stdout, _) = lab(["run".as_ref(), repo().join("scenarios/parties.toml").as_os_str()]);
    assert_eq!(code, Some(0), "{stdout}");
    // One flow per leaf: 10 × 1500 B to both, then 2 × 64 B to bob alone
    // once carol's party is dropped; bob's send as a leaf reaches nobody.
    for row in [
        "| data alice → bob               | 12 NBLs, 15128 bytes",
        "| data alice → carol             | 10 NBLs, 15000 bytes",
        "| data bob → alice               | 0 NBLs, 0 bytes",
        "| parties joined                 | 4 ",
        "| parties left                   | 4 ",
    ] {
        assert!(stdout.contains(row), "summary lacks {row:?}:\n{stdout}");
    }
    for step in [
        "party    ok   carol accepts later; alice's add party completes with SUCCESS → SUCCESS",
        "bob sends 1 NBL of 64 B on call \"conf\" as party \"bob\"'s leaf → FAILURE",
        "carol rejects party \"carol-again\" of call \"conf\" with NOT_ACCEPTED (pended answer) → NOT_ACCEPTED",
        "dave hangs up its party \"dave\" of call \"conf\" → SUCCESS",
        "alice tries to drop bob's party, the last one: FAILURE → FAILURE",
    ] {
        assert!(stdout.contains(step), "missing step {step:?}:\n{stdout}");
    }
}

#[test]
fn a_leaf_that_gets_other_data_than_expected_fails_the_root_s_send_naming_the_leaf() {
    let dir = temp_dir("unmet-leaf");
    let text = altered("parties.toml", "expect_received = 10", "expect_received = 9");
    let line = line_of(&text, "expect_received = 9") - 6;
    let file = write(&dir, "unmet.toml", &text);
    let (code, stdout, _) = lab(["run".as_ref(), "-q".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}");
    let want = format!(
        "FAILED step 13 (line {line}) “alice sends 10 NBLs of 1500 B on call \"conf\"”: alice → bob: received 10 \
         NBL(s), 15000 B; expected 9 NBL(s), 15000 B"
    );
    assert!(stdout.contains(&want), "want {want:?} in:\n{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_leaf_send_expected_to_succeed_fails_with_covminis_documented_failure() {
    let dir = temp_dir("leaf-send");
    let text = altered("parties.toml", "size = 64\nexpect = \"FAILURE\"", "size = 64");
    let file = write(&dir, "leaf.toml", &text);
    let (code, stdout, _) = lab(["run".as_ref(), "-q".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("as party \"bob\"'s leaf”: expected SUCCESS, got FAILURE"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The x64 kernel image, built by scripts/build-kernel.sh x64 (the test
/// builds it, as scripts/test.sh does).
fn x64_image() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts/build-kernel.sh"))
        .arg("x64")
        .output()
        .expect("run scripts/build-kernel.sh");
    assert!(
        out.status.success(),
        "scripts/build-kernel.sh x64 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    repo().join("target/kernel/x64/covmini.sys")
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn sys_runs_a_shipped_scenario_against_the_x64_image_clean() {
    let image = x64_image();
    for scenario in ["pended.toml", "data.toml", "parties.toml"] {
        let file = repo().join("scenarios").join(scenario);
        let (code, stdout, stderr) = lab(["run".as_ref(), file.as_os_str(), "--sys".as_ref(), image.as_os_str()]);
        assert_eq!(code, Some(0), "{scenario}:\n{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("covmini (image {})", image.display())),
            "{stdout}"
        );
        assert!(stdout.contains("PASS"), "{stdout}");
    }
    // With no subcommand (`run`'s options only): the built-in story.
    let (code, stdout, _) = lab(["--sys".as_ref(), image.as_os_str(), "-q".as_ref()]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("covmini image "), "{stdout}");
}

#[test]
fn sys_with_a_file_that_is_not_an_image_is_a_clear_error() {
    let dir = temp_dir("bad-image");
    let bad = write(&dir, "covmini.sys", "MZ but not a PE image");
    let (code, stdout, stderr) = lab(["run".as_ref(), "--sys".as_ref(), bad.as_os_str()]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains(&format!("--sys {}: ", bad.display())), "{stderr}");
    assert!(!stdout.contains(" ok "), "nothing ran: {stdout}");
    let (code, _, stderr) = lab(["run", "--sys", "no/such/covmini.sys"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--sys no/such/covmini.sys"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
