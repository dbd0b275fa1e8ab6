#!/usr/bin/env bash
# Builds the real kernel images of covmini and covclient (the CoNDIS client
# protocol driver, crates/covclient) on any host, without the WDK (build 2 in
# shared/architecture.md): rust-lld, raw-dylib imports and the WDM link
# arguments of .cargo/kernel-cross.toml. One cargo invocation per
# architecture builds both drivers, so ndis-sys is compiled once.
#
# Usage: scripts/build-kernel.sh [--dev] [x64|arm64|all]     (default: all)
#
# Output: target/kernel/<arch>/{covmini,covclient}.sys (release profile), or
# with --dev target/kernel-dev/<arch>/ (dev profile: unoptimised, debug
# assertions and overflow checks on), with each driver's .pdb beside it; the
# path of each .sys is printed on stdout, one a line.
#
# Both profiles abort on panic in the kernel images: .cargo/kernel-cross.toml
# sets `panic = "abort"` for dev and release (a no_std image cannot unwind),
# while Cargo.toml leaves the host build (the test harness) unwinding.
#
# Cargo's own output goes to $COVMINI_KERNEL_TARGET_DIR (default
# target/kernel-build), a target directory of its own, so this script can run
# from inside `cargo test` without waiting on the outer build's lock. Both
# profiles share it (cargo keeps them apart in <triple>/release and
# <triple>/debug), so a dev build after a release build recompiles only
# ndis-sys and covmini.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

usage() { echo "usage: $0 [--dev] [x64|arm64|all]" >&2; }

profile=release
if [ "${1:-}" = --dev ]; then
  profile=dev
  shift
fi

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

case "$profile" in
  release) profile_args=(--release) built_dir=release out_dir=kernel ;;
  dev) profile_args=() built_dir=debug out_dir=kernel-dev ;;
esac

for arch in "${archs[@]}"; do
  triple="$(triple_of "$arch")"
  echo "==> covmini.sys and covclient.sys for $arch ($triple, $profile profile)" >&2
  cargo build "${profile_args[@]}" -p covmini -p covclient --target "$triple" --config .cargo/kernel-cross.toml >&2

  built="$CARGO_TARGET_DIR/$triple/$built_dir"
  out="$repo/target/$out_dir/$arch"
  mkdir -p "$out"
  for driver in covmini covclient; do
    rm -f "$out/$driver.sys" "$out/$driver.pdb"
    cp "$built/$driver.dll" "$out/$driver.sys"
    cp "$built/$driver.pdb" "$out/$driver.pdb"
    echo "$out/$driver.sys"
  done
done
