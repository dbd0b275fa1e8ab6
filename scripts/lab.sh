#!/usr/bin/env bash
# The main job (README): build the real kernel images (x64 and ARM64) on this
# machine, then run covmini under ndis-emu with covmini-lab: a scenario (the
# built-in story unless one is given), a line per step, the JSON trace and
# the SVG sequence diagram written under target/lab/, and the summary table
# last. Exits non-zero on any unmet expectation, contract violation or leak.
#
# Progress: a "==> " line on stderr as each stage starts, and cargo's own
# lines (a "Compiling" line per crate) while it builds: the first run builds
# for minutes, and none of it is silent.
#
# Usage: scripts/lab.sh [SCENARIO.toml] [covmini-lab run options]
#   e.g. scripts/lab.sh scenarios/pended.toml --seed 3
#        scripts/lab.sh --sys target/kernel/x64/covmini.sys
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
echo "==> toolchain (rust-toolchain.toml, both Windows targets)" >&2
scripts/toolchain.sh
echo "==> kernel images" >&2
scripts/build-kernel.sh all
echo "==> covmini-lab (release build)" >&2
cargo build --release -p covmini-lab >&2
out="$repo/target/lab"
mkdir -p "$out"
echo "==> covmini under ndis-emu (trace and diagram: $out)" >&2
# Built above: cargo has nothing left to say but the lab's own output.
cargo run --quiet --release -p covmini-lab -- run \
  --trace "$out/trace.json" --diagram "$out/diagram.svg" "$@"
