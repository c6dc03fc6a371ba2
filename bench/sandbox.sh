#!/usr/bin/env bash
# The sandbox's costs: starting a trivial command in each kind of sandbox this machine has
# (bubblewrap and limits only, with and without a cgroup) against starting it directly (median
# and p90 of RUNS runs), and the throughput of output capture (MIB MiB through the capped log,
# with and without a live stream).
#
#   bench/sandbox.sh [RUNS] [MIB]      defaults: 200 runs, 2048 MiB
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p gauntlet-sandbox --example sandbox-bench
exec target/release/examples/sandbox-bench "${1:-200}" "${2:-2048}"
