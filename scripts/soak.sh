#!/usr/bin/env bash
# The model-based soak (issue #10): runs tests/model.rs's model for STEPS
# steps (10^6 by default) from SEED (1 by default) in release mode, then
# prints the per-operation coverage table (attempted, succeeded, pended,
# refused by status) and steps/s. A failure prints its shrunk sequence and
# the seed that replays it:
#
#   scripts/soak.sh [steps] [seed]
#   scripts/soak.sh 1000000 7
#
# COVMINI_SYS=<path to covmini.sys> runs the loaded kernel image instead of
# the host build (x86_64 Linux).
#
# Release mode without LTO: the kernel images need LTO, the soak needs a
# quick build; the kernel build uses its own target directory.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-1000000}"
seed="${2:-1}"
MODEL_STEPS="$steps" MODEL_SEED="$seed" exec cargo test -p covmini --release \
    --config 'profile.release.lto=false' --config 'profile.release.codegen-units=16' \
    --test model -- --ignored --exact soak --nocapture
