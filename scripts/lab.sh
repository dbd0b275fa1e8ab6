#!/usr/bin/env bash
# The main job (README): build the real kernel images (x64 and ARM64) on this
# machine, then bring covmini up inside ndis-emu with covmini-lab and show
# what NDIS and the driver said to each other. Exits non-zero on any contract
# violation or leak. Extra arguments go to covmini-lab (try --help).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
scripts/toolchain.sh
echo "==> kernel images" >&2
scripts/build-kernel.sh all
echo "==> covmini under ndis-emu" >&2
cargo run --quiet --release -p covmini-lab -- "$@"
