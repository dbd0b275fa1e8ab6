#!/usr/bin/env bash
# The threaded model soak (issue #10): tests/threaded_model.rs's random
# runs (three client CPUs issuing random client operations at once, NDIS
# events among them, a halt racing them) for STEPS client steps in all
# (10^6 by default) from SEED (0x7EAD by default) in release mode, then
# prints steps/s and each operation kind's coverage (succeeded / refused).
# A failing seed does not stop it: every failing seed is printed at the end
# with its first violation (FAILED lines), and the command then fails.
# THREADED_MODEL_TRACE=<file> writes the last failing run's whole trace:
#
#   scripts/soak-threaded.sh [steps] [seed]
#   scripts/soak-threaded.sh 1000000 32429
#
# COVMINI_SYS=<path to covmini.sys> runs the loaded kernel image instead of
# the host build (x86_64 Linux).
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-1000000}"
seed="${2:-32429}"
THREADED_MODEL_KEEP_GOING=1 THREADED_MODEL_STEPS="$steps" THREADED_MODEL_SEED="$seed" exec cargo test -p covmini --release \
    --config 'profile.release.lto=false' --config 'profile.release.codegen-units=16' \
    --test threaded_model -- --exact random_clients_on_threads_with_a_racing_halt_stay_clean --nocapture
