#!/usr/bin/env bash
# Runs covmini's cargo-fuzz targets (fuzz/, docs in RELIABILITY.md).
#
#   scripts/fuzz.sh                  # every target, 60 s each
#   scripts/fuzz.sh call_params 600  # one target for 10 minutes
#   scripts/fuzz.sh list             # the targets
#
# AddressSanitizer is on by default; COVMINI_FUZZ_SANITIZER=none runs
# without it, several times faster (the guard pages of ndis-emu's raw API
# still catch a read past a client's block), in a target directory of its
# own so the two builds do not replace each other.
#
# Installs cargo-fuzz once (from crates.io) and needs the nightly toolchain
# (libFuzzer's instrumentation). Each target runs on its corpus
# (fuzz/corpus/<target>/); new inputs go to a scratch corpus under
# target/fuzz-corpus/<target>, so the committed corpus stays small: merge
# what matters with `cargo +nightly fuzz cmin`. A crash is written to
# fuzz/artifacts/<target>/; minimize it with
# `cargo +nightly fuzz tmin <target> <file>`, then add it to the corpus.
# The libFuzzer-free replay of the same bodies runs in `cargo test`
# (crates/covmini-lab/tests/fuzz.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(call_params sap oid qos_flows scenario_toml covclient_ioctl)
target="${1:-all}"
seconds="${2:-60}"
sanitizer="${COVMINI_FUZZ_SANITIZER:-address}"

if [[ "$target" == list ]]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

run() {
  local t="$1" scratch="target/fuzz-corpus/$1"
  mkdir -p "$scratch"
  echo "== $t: ${seconds}s"
  # Optimized (cargo fuzz's default) with debug assertions (-a): overflow
  # checks and ndis-emu's debug checks stay on.
  local dir=()
  [[ "$sanitizer" == address ]] || dir=(--target-dir "$PWD/fuzz/target/$sanitizer")
  cargo +nightly fuzz run "$t" -a -s "$sanitizer" "${dir[@]}" "$scratch" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 -timeout=10
}

if [[ "$target" == all ]]; then
  for t in "${targets[@]}"; do run "$t"; done
else
  run "$target"
fi
