#!/usr/bin/env bash
# Deterministic instruction counts for the bench's hot paths (BENCHMARKS.md):
# instructions per call (setup + teardown) and per NBL (64 B and 1500 B), for
# covmini and for the empty-MCM baseline, under the same ndis-emu.
#
# Each path runs alone (`covmini-lab bench --callgrind-path PATH`) at two
# iteration counts under `valgrind --tool=callgrind`; the difference of the
# two totals divided by the difference of the counts is the cost of one
# iteration, with the setup, teardown and process start cancelled out. The
# figures include the emulator's own work (it is the NDIS of these runs),
# the same for both drivers; the difference is the driver's.
#
# The call is also counted with 100k VCs held open by another client, for
# the scaling target (instructions per call at 100k live VCs / at none).
#
# Usage: scripts/bench-callgrind.sh [LOW HIGH]   (default 200 1200)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
low="${1:-200}"
high="${2:-1200}"

if ! command -v valgrind >/dev/null; then
  echo "valgrind not installed: installing it (apt-get install valgrind)" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq valgrind >&2
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq valgrind >&2
  fi
fi

cargo build --release -q -p covmini-lab
lab="$repo/target/release/covmini-lab"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Total instructions (Ir) of one run of PATH on DRIVER with N iterations and
# BACKGROUND VCs held open.
instructions() {
  local driver="$1" path="$2" n="$3" background="$4" file="$out/$1-$2-$3-$4.out"
  valgrind --tool=callgrind --callgrind-out-file="$file" -q \
    "$lab" bench --callgrind-path "$path" --iterations "$n" --driver "$driver" \
    --background "$background" >/dev/null
  awk '/^(summary|totals):/ { print $2; exit }' "$file"
}

printf '%-10s %-12s %-9s %15s\n' path 'live VCs' driver 'Ir/iteration'
declare -A per
for run in call:0 nbl64:0 nbl1500:0 call:100000; do
  path="${run%%:*}" background="${run##*:}"
  for driver in covmini baseline; do
    a="$(instructions "$driver" "$path" "$low" "$background")"
    b="$(instructions "$driver" "$path" "$high" "$background")"
    per[$run.$driver]=$(( (b - a) / (high - low) ))
    printf '%-10s %-12s %-9s %15d\n' "$path" "+$background" "$driver" "${per[$run.$driver]}"
  done
done
echo
for run in call:0 nbl64:0 nbl1500:0; do
  awk -v p="${run%%:*}" -v c="${per[$run.covmini]}" -v b="${per[$run.baseline]}" \
    'BEGIN { printf "%-10s covmini / baseline = %.3f (covmini +%d instructions)\n", p, c / b, c - b }'
done
for driver in covmini baseline; do
  awk -v d="$driver" -v big="${per[call:100000.$driver]}" -v one="${per[call:0.$driver]}" \
    'BEGIN { printf "scaling    %-8s call at +100k VCs / at +0 = %.3f\n", d, big / one }'
done
