#!/usr/bin/env bash
# Parsing throughput of gauntlet-results (the streaming front end: console classifier, LAVA
# signals, KTAP, capped log) on large generated logs.
#   bench/results-parse.sh [MB] [ROUNDS]
# Generates, in a temporary directory, a kernel console full of KUnit-style KTAP (every line a
# result), a console of printk noise only, and LAVA test-shell output (signals and --shell
# cases), MB megabytes each (default 200); parses each ROUNDS times (default 3) with the
# release build of crates/results/examples/parse_log.rs and prints the best round (wall clock,
# and CPU time, which does not count waiting for a busy machine's CPU), with the peak memory
# of the process.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}
rounds=${2:-3}
target=${CARGO_TARGET_DIR:-target}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo build --release -q -p gauntlet-results --example parse_log --example make_console
bin=$target/release/examples

for kind in ktap noise lava; do
    "$bin/make_console" "$kind" "$mb" "$tmp/$kind.log"
    best=
    for _ in $(seq "$rounds"); do
        out=$("$bin/parse_log" --quiet "$tmp/$kind.log")
        wall=${out%%$'\n'*}
        cpu=$(grep -m1 '^  cpu:' <<<"$out" || true)
        secs=$(sed -E 's/.* in ([0-9.]+) s .*/\1/' <<<"$wall")
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$secs
            best_wall=$wall
            best_cpu=$cpu
        fi
    done
    if command -v /usr/bin/time >/dev/null; then
        rss=$( { /usr/bin/time -f '%M' "$bin/parse_log" --quiet "$tmp/$kind.log" >/dev/null; } 2>&1 | tail -1)
        rss=", peak RSS $((rss / 1024)) MB"
    else
        rss=
    fi
    printf '%-6s %s%s\n' "$kind" "${best_wall#"$tmp/"}" "$rss"
    [ -z "$best_cpu" ] || printf '       %s\n' "${best_cpu#  }"
done
