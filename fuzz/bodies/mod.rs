//! The fuzz targets' bodies: one `run(&[u8])` per parser, shared by the
//! cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the libFuzzer-free
//! runner that `cargo test` runs (`crates/covmini-lab/tests/fuzz.rs`), which
//! replays the corpus and a seeded budget of mutations.
//!
//! Each body decodes its input with [`Input`] (a byte reader that yields
//! zeros once the input runs out, so every input is valid), hands the
//! result to the parser and panics on a wrong answer: a status the docs do
//! not give for that input, a contract violation or a leak in ndis-emu's
//! report. A read past what the client passed faults on a guard page.
//!
//! The driver-facing bodies build raw blocks that keep the one promise a
//! client must keep and no driver can check: a tail holds the bytes its
//! Length states. A block whose stated Length is at most [`HONEST_TAIL`]
//! gets that many bytes; a longer stated Length gets only the bytes the
//! input has, so a driver that acts on a Length beyond what it accepts
//! reads past the block and faults.

// Each includer uses the bodies it needs.
#![allow(dead_code)]

pub mod call_params;
pub mod covclient_ioctl;
pub mod oid;
pub mod qos_flows;
pub mod sap;
pub mod scenario_toml;

/// The longest tail a raw block really holds when it says so (see the
/// module docs): 8 times covmini's longest address.
pub const HONEST_TAIL: usize = 256;

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target, by name, as `scripts/fuzz.sh` and the corpus name them.
pub const TARGETS: &[(&str, Body)] = &[
    ("call_params", call_params::run),
    ("sap", sap::run),
    ("oid", oid::run),
    ("qos_flows", qos_flows::run),
    ("scenario_toml", scenario_toml::run),
    ("covclient_ioctl", covclient_ioctl::run),
];

/// A byte reader over a fuzz input: past its end it reads zeros.
pub struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    /// A reader at the start of `data`.
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    /// The next byte, or 0.
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// The next little-endian u32 (zeros past the end).
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// The next FLOWSPEC: its eight ULONGs in field order.
    pub fn flow(&mut self) -> ndis_sys::FLOWSPEC {
        ndis_sys::FLOWSPEC {
            TokenRate: self.u32(),
            TokenBucketSize: self.u32(),
            PeakBandwidth: self.u32(),
            Latency: self.u32(),
            DelayVariation: self.u32(),
            ServiceType: self.u32(),
            MaxSduSize: self.u32(),
            MinimumPolicedSize: self.u32(),
        }
    }

    /// Up to `n` next bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        let end = self.at.saturating_add(n).min(self.data.len());
        self.at = self.at.saturating_add(n);
        &self.data[start..end]
    }

    /// A length-prefixed (one byte) run of bytes.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        self.at = self.data.len();
        &self.data[start..]
    }
}

/// `bytes` as a tail that states `length`: exactly `length` bytes (the
/// input's, then zeros) when `length` is at most [`HONEST_TAIL`], else only
/// the input's bytes.
#[must_use]
pub fn tail(length: u32, bytes: &[u8]) -> Vec<u8> {
    let mut t = bytes.to_vec();
    if let Ok(n) = usize::try_from(length)
        && n <= HONEST_TAIL
    {
        t.resize(n, 0);
    }
    t
}

/// covmini up under ndis-emu (the host build), `f` run, covmini halted and
/// unloaded; panics unless the report is clean (no violation, no leak).
pub fn with_covmini(f: impl FnOnce(&mut ndis_emu::Emulator)) {
    let mut emu = ndis_emu::Emulator::new();
    emu.load(covmini::DriverEntry).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    f(&mut emu);
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}
