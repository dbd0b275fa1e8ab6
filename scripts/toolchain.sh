#!/usr/bin/env bash
# Makes sure the pinned toolchain of rust-toolchain.toml, its components and
# both Windows targets are installed. Sourced by scripts/lab.sh and
# scripts/test.sh; safe to run again (every step is idempotent).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if ! command -v rustup >/dev/null; then
  echo "covmini needs rustup (https://rustup.rs) to install its pinned toolchain" >&2
  exit 1
fi
# rustup >= 1.28 installs the toolchain named by rust-toolchain.toml with a
# bare `toolchain install`; older rustup does it on `show`.
rustup toolchain install >&2 2>/dev/null || rustup show active-toolchain >&2
rustup component add rustfmt clippy >&2
rustup target add x86_64-pc-windows-msvc aarch64-pc-windows-msvc >&2
