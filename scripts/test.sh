#!/usr/bin/env bash
# Every test (README; what .ci/run runs): formatting, clippy on the host and
# on the x64 and ARM64 kernel targets, then the whole test suite, which builds
# and inspects both kernel images, checks the INF, runs covmini under
# ndis-emu, and proves each ndis-emu rule fires on a wrong driver; then the
# Windows build of the lab under Wine, and Miri.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
scripts/toolchain.sh

echo "==> cargo fmt --check" >&2
cargo fmt --all -- --check

echo "==> clippy (host)" >&2
cargo clippy --workspace --all-targets -- -D warnings

for triple in x86_64-pc-windows-msvc aarch64-pc-windows-msvc; do
  echo "==> clippy ($triple kernel build)" >&2
  CARGO_TARGET_DIR="$repo/target/kernel-build" \
    cargo clippy --release -p covmini -p covclient -p covclient-abi -p kernel-rt -p ndis-sys --target "$triple" \
    --config .cargo/kernel-cross.toml -- -D warnings
done

echo "==> rustdoc (no broken intra-doc links)" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet

echo "==> tests" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"

# The same scenarios against the exact x64 kernel image, loaded into this
# process by ndis-emu's PE loader (tests/common/driver.rs is the switch):
# every test file that uses the switch (`mod common;`), so a new scenario
# file runs against the image without an edit here.
image="$repo/target/kernel/x64/covmini.sys"
scripts/build-kernel.sh x64 >/dev/null
scenarios=()
for file in tests/*.rs; do
  if grep -q '^mod common;' "$file"; then
    scenarios+=(--test "$(basename "$file" .rs)")
  fi
done
echo "==> the scenarios again, against $image" >&2
COVMINI_SYS="$image" cargo test -p covmini --no-fail-fast "${scenarios[@]}" 2>&1 | tee -a "$log"

# The loaded image's scenarios under valgrind memcheck: zero errors and zero
# definite leaks, or the run fails. CI installs valgrind when it can.
if ! command -v valgrind >/dev/null && [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing valgrind (apt-get)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; } >&2 ||
    echo "could not install valgrind" >&2
fi
if command -v valgrind >/dev/null; then
  echo "==> valgrind memcheck: the loaded image's scenarios" >&2
  # COVMINI_UNDER_VALGRIND: tests with a search budget (random model runs,
  # fault sweeps) run a smaller one here; memcheck is ~30x slower.
  COVMINI_SYS="$image" COVMINI_UNDER_VALGRIND=1 \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="valgrind --error-exitcode=1 --quiet --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite" \
    cargo test -p covmini --no-fail-fast "${scenarios[@]}" 2>&1 | tee -a "$log"
else
  echo "valgrind not installed: skipping the memcheck run (apt-get install valgrind)" >&2
fi

# The Windows build of covmini-lab: clippy for its target, the .exe
# cross-built with mingw-w64, and its smoke test under Wine (issue #12,
# docs/windows.md). CI installs mingw-w64 and Wine when it can; elsewhere,
# without them, the script says loudly that it skipped.
echo "==> the Windows lab (x86_64-pc-windows-gnu, under Wine)" >&2
scripts/windows-lab.sh 2>&1 | tee -a "$log"

# The unit tests of covmini, ndis-sys and ndis-emu under Miri, on nightly
# (scripts/miri.sh installs it; RELIABILITY.md says what runs and why).
echo "==> miri" >&2
scripts/miri.sh 2>&1 | tee -a "$log"

# One closing line for the whole suite: the sum of every runner's result.
awk '/^test result:/ { p += $4; f += $6 } END { printf "total: %d passed, %d failed\n", p, f }' \
  FS='[ ;]+' "$log"
