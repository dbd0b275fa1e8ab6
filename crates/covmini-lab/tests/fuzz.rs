//! The fuzz targets without libFuzzer (issue #10): every target body of
//! `fuzz/bodies` runs on every file of its corpus (`fuzz/corpus/<target>/`,
//! the regressions and seeds kept in the repository), then on a fixed,
//! seeded budget of mutations of them, so `cargo test` exercises each parser
//! the way `scripts/fuzz.sh` does, briefly and deterministically, on stable.
//! A failing input is printed as hex with the seed that made it; add it to
//! the corpus and run `scripts/fuzz.sh <target>` to minimize it.
//!
//! The budget is per target (`COVMINI_FUZZ_MUTATIONS`, default below; a
//! quarter under valgrind, `COVMINI_UNDER_VALGRIND`).

#[path = "../../../fuzz/bodies/mod.rs"]
mod bodies;
#[allow(dead_code, missing_docs, unreachable_pub)]
#[path = "../src/scenario/mod.rs"]
mod scenario;

use std::path::{Path, PathBuf};

/// Mutations per target by default: the whole run stays within seconds.
const MUTATIONS: u64 = 300;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("corpus file");
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bytes,
            )
        })
        .collect()
}

/// xorshift64*: a small deterministic generator (no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// Values parsers care about: 0, 1, the address bounds, sign and size edges.
const INTERESTING: &[u32] = &[
    0,
    1,
    3,
    4,
    7,
    8,
    31,
    32,
    33,
    64,
    255,
    256,
    1500,
    0x7FFF_FFFF,
    0x8000_0000,
    u32::MAX,
];

/// One mutation of `input` (libFuzzer's kinds, simply): flip a bit, set a
/// byte, write an interesting u32, insert or delete bytes, or splice in a
/// piece of another corpus file.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let at = rng.below(v.len());
                v[at] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let at = rng.below(v.len());
                v[at] = [0u8, 1, 0x7F, 0x80, 0xFF, b'=', b'[', b'"'][rng.below(8)];
            }
            2 if v.len() >= 4 => {
                let at = rng.below(v.len() - 3);
                let x = INTERESTING[rng.below(INTERESTING.len())];
                v[at..at + 4].copy_from_slice(&x.to_le_bytes());
            }
            3 => {
                let at = rng.below(v.len() + 1);
                let n = rng.below(16) + 1;
                let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, fill);
            }
            4 if !v.is_empty() => {
                let at = rng.below(v.len());
                let n = rng.below(v.len() - at) + 1;
                v.drain(at..at + n.min(8));
            }
            _ if !other.is_empty() => {
                let from = rng.below(other.len());
                let n = rng.below(other.len() - from) + 1;
                let at = rng.below(v.len() + 1);
                v.splice(at..at, other[from..from + n].iter().copied());
            }
            _ => {}
        }
    }
    v.truncate(4096);
    v
}

fn budget() -> u64 {
    let n = std::env::var("COVMINI_FUZZ_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(MUTATIONS);
    if std::env::var_os("COVMINI_UNDER_VALGRIND").is_some() {
        n / 4
    } else {
        n
    }
}

fn run_guarded(target: &str, run: fn(&[u8]), what: &str, input: &[u8]) {
    if let Err(e) = std::panic::catch_unwind(|| run(input)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_default();
        let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
        panic!("{target}: {what} failed: {msg}\ninput ({} bytes): {hex}", input.len());
    }
}

/// Replays `target`'s corpus, then its seeded mutations.
fn fuzz(target: &str) {
    let run = bodies::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .map(|(_, f)| *f)
        .expect("a known target");
    let files = corpus(target);
    assert!(!files.is_empty(), "{target}: an empty corpus");
    for (name, bytes) in &files {
        run_guarded(target, run, &format!("corpus file {name}"), bytes);
    }
    let seed = 0x00C0_FFEE
        ^ target
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = Rng(seed | 1);
    for k in 0..budget() {
        let base = &files[rng.below(files.len())].1;
        let other = &files[rng.below(files.len())].1;
        let input = mutate(&mut rng, base, other);
        run_guarded(target, run, &format!("mutation {k} (seed {seed:#x})"), &input);
    }
}

/// Every target named in `fuzz/bodies` has a test here and a corpus.
#[test]
fn every_target_is_replayed_here() {
    let here = include_str!("fuzz.rs");
    for (name, _) in bodies::TARGETS {
        assert!(here.contains(&format!("fn {name}()")), "no test for {name}");
        assert!(corpus_dir(name).is_dir(), "no corpus for {name}");
    }
}

/// Raw CO_CALL_PARAMETERS into make call, add party, QoS change and answer.
#[test]
fn call_params() {
    fuzz("call_params");
}

/// Raw CO_SAPs into ProtocolCmRegisterSap.
#[test]
fn sap() {
    fuzz("sap");
}

/// Raw OID requests to the miniport and the call manager.
#[test]
fn oid() {
    fuzz("oid");
}

/// covmini's flow checks and clamping.
#[test]
fn qos_flows() {
    fuzz("qos_flows");
}

/// covmini-lab's scenario TOML parser.
#[test]
fn scenario_toml() {
    fuzz("scenario_toml");
}

/// covclient's IOCTL parser and response encoders.
#[test]
fn covclient_ioctl() {
    fuzz("covclient_ioctl");
}
