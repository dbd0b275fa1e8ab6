#!/usr/bin/env bash
# Deterministic instruction counts for the bench's hot paths (BENCHMARKS.md):
# instructions per call (setup + teardown) and per NBL (64 B and 1500 B), for
# covmini and for the empty-MCM baseline, under the same ndis-emu: the whole
# process's, and the driver's own.
#
# Each path runs alone (`covmini-lab bench --callgrind-path PATH`) at two
# iteration counts under `valgrind --tool=callgrind`; the difference of the
# two totals divided by the difference of the counts is the cost of one
# iteration, with the setup, teardown and process start cancelled out.
#
# Whole process: every instruction, most of them the emulator's (it is the
# NDIS of these runs), the same work for both drivers.
#
# Driver own: the instructions executed while the driver is running, from
# the call graph callgrind records (scripts/bench-callgrind-own.awk): the
# inclusive cost of every call from NDIS (ndis-emu) into a driver function,
# less the inclusive cost of every call from a driver function into NDIS (a
# DDI, or a lookaside list's Allocate or Free routine). Nested calls cancel
# out (a DDI that calls a handler back counts the handler in both sums), so
# what remains is exactly the driver's code and what it runs for itself
# (core and alloc code it calls, memcpy, ndis-sys's inline helpers, which
# the WDK's macros compile into a driver), and nothing NDIS does. A DDI is
# never inlined into the driver (ndis-emu's ddi_fn! marks each one
# #[inline(never)], as an import is on Windows), so the boundary is in the
# call graph; the script fails if it finds unclassified code between the
# driver and a DDI. covmini's functions are those whose symbol is in the
# covmini crate (and DriverEntry); the baseline's, empty_mcm's and
# ndis_fixture's (its shared no-op handlers).
#
# The call is also counted with 100k VCs held open by another client, for
# the scaling target (instructions per call at 100k live VCs / at none).
#
# Targets (issue #6, #11): whole process per call <= 1.5x the baseline, per
# NBL <= 1.2x; driver own per call and per NBL <= 2x the baseline's;
# scaling <= 1.25x. Exits 1 if any is missed, after printing everything.
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

echo "==> covmini-lab (release build)" >&2
cargo build --release -p covmini-lab >&2
lab="$repo/target/release/covmini-lab"
own_awk="$repo/scripts/bench-callgrind-own.awk"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The driver's functions, by symbol (an awk regular expression).
driver_re() {
  case "$1" in
    covmini) echo 'covmini::' ;;
    baseline) echo '^<?(empty_mcm|ndis_fixture)::|<(empty_mcm|ndis_fixture)::' ;;
  esac
}

# "whole own" instructions of one run of PATH on DRIVER with N iterations
# and BACKGROUND VCs held open.
instructions() {
  local driver="$1" path="$2" n="$3" background="$4" file="$out/$1-$2-$3-$4.out"
  valgrind --tool=callgrind --callgrind-out-file="$file" -q \
    "$lab" bench --callgrind-path "$path" --iterations "$n" --driver "$driver" \
    --background "$background" >/dev/null
  local whole own
  whole="$(awk '/^(summary|totals):/ { print $2; exit }' "$file")"
  own="$(awk -v driver_re="$(driver_re "$driver")" -f "$own_awk" "$file" | awk '{ print $1 }')"
  echo "$whole $own"
}

echo "==> callgrind: $low and $high iterations of each path" >&2
printf '%-10s %-12s %-9s %15s %15s\n' path 'live VCs' driver 'Ir/iteration' 'driver own'
declare -A per own
for run in call:0 nbl64:0 nbl1500:0 call:100000; do
  path="${run%%:*}" background="${run##*:}"
  for driver in covmini baseline; do
    read -r a a_own <<<"$(instructions "$driver" "$path" "$low" "$background")"
    read -r b b_own <<<"$(instructions "$driver" "$path" "$high" "$background")"
    per[$run.$driver]=$(( (b - a) / (high - low) ))
    own[$run.$driver]=$(( (b_own - a_own) / (high - low) ))
    printf '%-10s %-12s %-9s %15d %15d\n' "$path" "+$background" "$driver" \
      "${per[$run.$driver]}" "${own[$run.$driver]}"
  done
done

echo
missed=0
# verdict NAME RATIO LIMIT: prints the line and counts a miss.
verdict() {
  if awk -v r="$2" -v l="$3" 'BEGIN { exit !(r <= l) }'; then
    printf '%-44s %6.3fx  <= %sx: met\n' "$1" "$2" "$3"
  else
    printf '%-44s %6.3fx  <= %sx: MISSED\n' "$1" "$2" "$3"
    missed=$((missed + 1))
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
for run in call:0 nbl64:0 nbl1500:0; do
  p="${run%%:*}"
  c="${per[$run.covmini]}" b="${per[$run.baseline]}"
  limit=1.2; [ "$p" = call ] && limit=1.5
  verdict "$p whole process covmini / baseline" "$(ratio "$c" "$b")" "$limit"
  echo "           (covmini +$((c - b)) instructions)"
done
for run in call:0 nbl64:0 nbl1500:0; do
  p="${run%%:*}"
  c="${own[$run.covmini]}" b="${own[$run.baseline]}"
  verdict "$p driver own covmini / baseline" "$(ratio "$c" "$b")" 2
  echo "           (covmini $c, baseline $b instructions of their own)"
done
for driver in covmini baseline; do
  r="$(ratio "${per[call:100000.$driver]}" "${per[call:0.$driver]}")"
  if [ "$driver" = covmini ]; then
    verdict "scaling covmini call at +100k VCs / at +0" "$r" 1.25
  else
    printf '%-44s %6.3fx  (the baseline: no target)\n' "scaling baseline call at +100k VCs / at +0" "$r"
  fi
done
if [ "$missed" -gt 0 ]; then
  echo "bench-callgrind: $missed target(s) missed" >&2
  exit 1
fi
