#!/usr/bin/env bash
# Builds the real kernel images of covmini on any host, without the WDK
# (build 2 in shared/architecture.md): rust-lld, raw-dylib imports and the WDM
# link arguments of .cargo/kernel-cross.toml.
#
# Usage: scripts/build-kernel.sh [x64|arm64|all]     (default: all)
#
# Output: target/kernel/<arch>/covmini.sys with covmini.pdb beside it; the
# path of each .sys is printed on stdout, one a line.
#
# Cargo's own output goes to $COVMINI_KERNEL_TARGET_DIR (default
# target/kernel-build), a target directory of its own, so this script can run
# from inside `cargo test` without waiting on the outer build's lock.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

usage() { echo "usage: $0 [x64|arm64|all]" >&2; }

case "${1:-all}" in
  x64) archs=(x64) ;;
  arm64) archs=(arm64) ;;
  all) archs=(x64 arm64) ;;
  -h | --help) usage; exit 0 ;;
  *) usage; exit 2 ;;
esac

triple_of() {
  case "$1" in
    x64) echo x86_64-pc-windows-msvc ;;
    arm64) echo aarch64-pc-windows-msvc ;;
  esac
}

# The toolchain is pinned by rust-toolchain.toml, so inside the repo this adds
# the targets to that toolchain. It does nothing when they are installed.
if command -v rustup >/dev/null; then
  rustup target add x86_64-pc-windows-msvc aarch64-pc-windows-msvc >&2
fi

export CARGO_TARGET_DIR="${COVMINI_KERNEL_TARGET_DIR:-$repo/target/kernel-build}"

for arch in "${archs[@]}"; do
  triple="$(triple_of "$arch")"
  echo "==> covmini.sys for $arch ($triple)" >&2
  cargo build --release -p covmini --target "$triple" --config .cargo/kernel-cross.toml >&2

  built="$CARGO_TARGET_DIR/$triple/release"
  out="$repo/target/kernel/$arch"
  mkdir -p "$out"
  rm -f "$out/covmini.sys" "$out/covmini.pdb"
  cp "$built/covmini.dll" "$out/covmini.sys"
  cp "$built/covmini.pdb" "$out/covmini.pdb"
  echo "$out/covmini.sys"
done
