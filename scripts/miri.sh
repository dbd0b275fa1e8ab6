#!/usr/bin/env bash
# The unit tests under Miri (RELIABILITY.md, "Miri"): the sans-IO core and
# the rest of covmini's lib tests, ndis-sys, and ndis-emu's lib tests (the
# world, its FFI exports and the PE loader's pure parts). Miri interprets the
# tests and stops at the first undefined behaviour: an out-of-bounds or
# use-after-free access, a data race, a Stacked Borrows aliasing violation,
# an unaligned or uninitialized read, a leak at exit.
#
# Miri only exists on nightly: the workspace pins 1.95.0 (rust-toolchain.toml),
# so every command here names `+nightly`. It builds into target/miri, apart
# from the stable builds. Installs what it needs, each step idempotent.
# Prints cargo test's "test result:" lines (scripts/test.sh sums them).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if ! command -v rustup >/dev/null; then
  echo "Miri needs rustup (https://rustup.rs) to install a nightly toolchain" >&2
  exit 1
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "==> installing the nightly toolchain (for Miri)" >&2
  rustup toolchain install nightly --profile minimal >&2
fi
rustup +nightly component add miri rust-src >&2
# Builds Miri's own sysroot once (cached under ~/.cache/miri); quiet when done.
cargo +nightly miri setup >&2

# Lints: nightly may add lints the pinned toolchain does not have yet. The
# lint policy is enforced by the stable clippy and rustc steps of
# scripts/test.sh; here every lint is capped at a warning, so a new nightly
# lint (or a RUSTFLAGS="-D warnings" in the environment) cannot fail a run
# that is about undefined behaviour. target/miri has its own build cache, so
# these flags never invalidate the stable builds.
export RUSTFLAGS="${RUSTFLAGS:-} --cap-lints=warn"

# The default Miri checks (Stacked Borrows aliasing, data races, leaks,
# alignment, isolation from the host), plus, per crate:
#
# covmini and ndis-sys: strict provenance. The core has no unsafe and
# ndis-sys's helpers only offset pointers they were given, so no pointer is
# ever made from an integer there, and Miri proves it.
echo "==> miri: covmini (core, control path, adapter) and ndis-sys lib tests" >&2
MIRIFLAGS="-Zmiri-strict-provenance ${MIRIFLAGS:-}" \
  cargo +nightly miri test -p covmini -p ndis-sys --lib

# ndis-emu: permissive provenance. Its handles, its ledger of the driver's
# memory and the NBL and lookaside entries it hands out are addresses kept as
# integers and cast back (ndis-emu keys its world by address on purpose);
# Miri tracks the exposed provenance and still checks every access.
echo "==> miri: ndis-emu lib tests" >&2
MIRIFLAGS="-Zmiri-permissive-provenance ${MIRIFLAGS:-}" \
  cargo +nightly miri test -p ndis-emu --lib
