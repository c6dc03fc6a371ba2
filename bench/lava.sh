#!/usr/bin/env bash
# The LAVA backend's submit-to-result latency: the median of N monitors jobs (Debian's kernel, a
# busybox initramfs printing KTAP) submitted one after the other to the LAVA that .ci/lava-up
# stands up on this machine, measured from the submission to the results read by gauntlet.
#
#   bench/lava.sh [N]       (default 3; needs root for .ci/lava-up)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(.ci/lava-up)"
export LAVA_URL LAVA_TOKEN GAUNTLET_LAVA_KERNEL GAUNTLET_REQUIRE_LAVA=1
export GAUNTLET_LAVA_BENCH_RUNS=${1:-3}
cargo test --release -q -p gauntlet-lab --test lava -- --ignored --nocapture latency_bench 2>&1 \
    | grep -E '^(run [0-9]+:|LAVA monitors job)'
