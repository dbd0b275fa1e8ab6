//! cargo-fuzz target: `bodies::covclient_ioctl` (see fuzz/bodies/mod.rs).
#![no_main]

#[path = "../bodies/mod.rs"]
mod bodies;
#[allow(dead_code, missing_docs)]
#[path = "../../crates/covmini-lab/src/scenario/mod.rs"]
mod scenario;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::covclient_ioctl::run(data));
