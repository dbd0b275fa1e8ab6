#!/usr/bin/env bash
# The Windows build of covmini-lab (docs/windows.md, issue #12): cross-builds
# covmini-lab.exe for x86_64-pc-windows-gnu on Linux with Debian's mingw-w64,
# then runs its smoke test under Wine (crates/covmini-lab/tests/wine.rs):
# `--help`, `check scenarios/*.toml` (the same lines as the Linux build), a
# malformed scenario refused naming its line, and the emulator subcommands
# refusing with exit 2 and saying why.
#
# Installs what it needs, each step idempotent: the Rust target (rustup), and
# Debian's gcc-mingw-w64-x86-64-win32 and wine64 (apt-get, only as root with
# CI=true, as scripts/test.sh does for valgrind). Outside CI, without them,
# it says loudly what it skipped and exits 0; in CI a missing tool fails.
#
# Wine runs headless (no X display needed) with its noise off
# (WINEDEBUG=-all), in a throwaway prefix under the target dir
# (target/wine-prefix). Prints cargo test's "test result:" line, which
# scripts/test.sh sums.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
triple=x86_64-pc-windows-gnu
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
exe="$target_dir/$triple/debug/covmini-lab.exe"
ci=false
[ "${CI:-}" = true ] && ci=true

skip() {
  {
    echo "############################################################"
    echo "## SKIPPED: the Windows lab (scripts/windows-lab.sh): $1"
    echo "## Install it (Debian: apt-get install --no-install-recommends"
    echo "##   gcc-mingw-w64-x86-64-win32 wine64) to build and test it."
    echo "############################################################"
  } >&2
  if $ci; then
    echo "windows-lab: CI must run the Windows lab; failing" >&2
    exit 1
  fi
  exit 0
}

# The Wine loader for a 64-bit .exe: $WINE if set; Debian's wine64 package
# puts it in /usr/lib/wine (its `wine` wrapper is in the `wine` package).
find_wine() {
  local w
  for w in "${WINE:-}" /usr/lib/wine/wine64 "$(command -v wine64 || true)" "$(command -v wine || true)"; do
    if [ -n "$w" ] && [ -x "$w" ]; then
      echo "$w"
      return 0
    fi
  done
  return 1
}

if ! rustup target list --installed | grep -qx "$triple"; then
  echo "==> rustup target add $triple" >&2
  rustup target add "$triple" >&2
fi

if { ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! find_wine >/dev/null; } &&
  $ci && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing mingw-w64 and Wine (apt-get)" >&2
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      gcc-mingw-w64-x86-64-win32 wine64; } >&2 ||
    echo "could not install mingw-w64 and Wine" >&2
fi

# The Windows build's own code (cfg(windows): src/windows.rs, the gated
# modules) is linted here; clippy needs no linker.
echo "==> clippy (covmini-lab, $triple)" >&2
cargo clippy -p covmini-lab --target "$triple" -- -D warnings

command -v x86_64-w64-mingw32-gcc >/dev/null ||
  skip "no mingw-w64 (x86_64-w64-mingw32-gcc), so no Windows build"

echo "==> covmini-lab for $triple (mingw-w64)" >&2
cargo build -p covmini-lab --target "$triple" >&2

wine="$(find_wine)" || skip "built $exe, but no Wine to run its smoke test"
wineserver="$(dirname "$wine")/wineserver"
[ -x "$wineserver" ] || wineserver="$(dirname "$wine")/wineserver64"
[ -x "$wineserver" ] || wineserver="$(command -v wineserver)"

export WINEPREFIX="$target_dir/wine-prefix"
export WINEDEBUG=-all
# No Mono or Gecko: nothing here needs .NET or HTML, and asking for them
# would stall the first start.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY

# Wine says it has no display driver: headless is what we want. Its output
# goes to a log, shown only if the prefix could not be made; a second try
# starts from an empty prefix (a first start killed half way leaves one
# that never completes).
boot_log="$target_dir/wine-prefix.log"
for attempt in 1 2; do
  [ -f "$WINEPREFIX/system.reg" ] && break
  echo "==> a Wine prefix: $WINEPREFIX (attempt $attempt)" >&2
  rm -rf "$WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  "$wine" wineboot --init >"$boot_log" 2>&1 || true
  "$wineserver" -w || true
done
[ -f "$WINEPREFIX/system.reg" ] || {
  echo "windows-lab: Wine could not make its prefix $WINEPREFIX; wineboot said:" >&2
  tail -n 40 "$boot_log" >&2 || true
  df -h "$target_dir" >&2 || true
  exit 1
}

# Wine before 9.0 (Debian bookworm's is 8.0) has no bcryptprimitives.dll,
# which Rust's std imports; scripts/wine/bcryptprimitives.c says why and
# stands in for it, in this prefix only.
system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -e "$system32/bcryptprimitives.dll" ]; then
  echo "==> this Wine has no bcryptprimitives.dll: the stand-in (scripts/wine/bcryptprimitives.c)" >&2
  x86_64-w64-mingw32-gcc -O2 -shared -s -o "$system32/bcryptprimitives.dll" \
    scripts/wine/bcryptprimitives.c -ladvapi32
fi

echo "==> the Windows lab's smoke test under Wine ($("$wine" --version 2>/dev/null || echo "$wine"))" >&2
status=0
COVMINI_LAB_WINE="$wine" COVMINI_LAB_EXE="$exe" \
  cargo test -p covmini-lab --test wine -- --ignored || status=$?
# The prefix's wineserver and services would linger for a few seconds.
"$wineserver" -k 2>/dev/null || true
exit "$status"
