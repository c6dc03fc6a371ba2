#!/usr/bin/env bash
# Times `gauntlet job expand` on a 10,000-job matrix (listing names, and writing every atomic job
# with -o), and the loading of a job with several includes.
#
#   bench/job-expand.sh            # builds --release first
#   GAUNTLET=path/to/gauntlet bench/job-expand.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${GAUNTLET:-}" ]; then
	cargo build --release -q -p gauntlet
	GAUNTLET=${CARGO_TARGET_DIR:-target}/release/gauntlet
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 100 commands x 100 runtimes = 10,000 atomic jobs, with a {{ }} evaluated in each.
{
	echo "suite: bench"
	echo "testcase: bench"
	echo 'label: "{{ shell.command }} for {{ sleep.runtime }}s"'
	echo "shell:"
	echo "  command:"
	for i in $(seq 1 100); do echo "    - echo $i"; done
	echo "sleep:"
	echo "  runtime:"
	for i in $(seq 1 100); do echo "    - $i"; done
} > "$work/matrix.yaml"

# A job with several includes, one of them nested and one found by the recursive search.
mkdir -p "$work/jobs/sub/deeper"
for i in 1 2 3 4 5; do
	{
		echo "key_$i: value $i"
		echo "need_kconfig: CONFIG_$i"
		[ "$i" = 5 ] && echo "<<: sub/nested.yaml"
	} > "$work/jobs/inc$i.yaml"
done
printf 'nested: 1\n' > "$work/jobs/sub/nested.yaml"
printf 'found_by_search: 1\n' > "$work/jobs/sub/deeper/far.yaml"
{
	echo "suite: includes"
	for i in 1 2 3 4 5; do echo "<<: inc$i.yaml"; done
	echo "<<: far.yaml"
	echo "shell:"
	echo "  command: echo {{ key_1 }}"
} > "$work/jobs/includes.yaml"

ms() { # command... → wall milliseconds of one run (three decimals)
	local start end
	start=$(date +%s%N)
	"$@" > /dev/null
	end=$(date +%s%N)
	echo $(( (end - start) / 1000 ))
}
show() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }

count=$("$GAUNTLET" job expand "$work/matrix.yaml" | wc -l)
echo "matrix: $count atomic jobs"
t=$(ms "$GAUNTLET" job expand "$work/matrix.yaml")
echo "expand, list names:        $(show "$t") ms"
t=$(ms "$GAUNTLET" job expand "$work/matrix.yaml" -o "$work/out")
echo "expand, write -o DIR:      $(show "$t") ms ($(ls "$work/out" | wc -l) files)"

runs=20
total=0
for _ in $(seq 1 $runs); do
	t=$(ms "$GAUNTLET" job expand "$work/jobs/includes.yaml")
	total=$(( total + t ))
done
echo "job with 7 includes:       $(show $(( total / runs ))) ms a run (process start included, $runs runs)"
t=$(ms "$GAUNTLET" --help)
echo "process start (--help):    $(show "$t") ms"
