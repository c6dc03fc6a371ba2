#!/usr/bin/env bash
# Benchmarks of the checks (crate gauntlet-checks), for the README:
#   1. every built-in check on a realistic 30-patch series (median of many runs);
#   2. checkpatch.pl on the same 30 patches three ways: gauntlet's runner (one process per
#      series, re-runs where needed), one plain process for all 30, and 30 separate processes.
#
# The series is made here: 30 small edits of 30 files in different directories of the kernel
# tree (.ci/linux-tree, or GAUNTLET_LINUX_TREE), committed in a scratch clone that shares the
# tree's objects and has no checkout, and written out with git format-patch --cover-letter.
# Nothing is written into the tree itself.
#
# usage: bench/checks.sh [BUILTIN_RUNS [CHECKPATCH_RUNS]]
set -euo pipefail
cd "$(dirname "$0")/.."
builtin_runs=${1:-300}
checkpatch_runs=${2:-5}

tree=${GAUNTLET_LINUX_TREE:-}
if [ -z "$tree" ] || [ ! -e "$tree/scripts/checkpatch.pl" ]; then
    tree=$(.ci/linux-tree)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p gauntlet-checks --example bench
bench=target/release/examples/bench

git clone -q --shared --no-checkout "$tree" "$work/clone"
export GIT_DIR="$work/clone/.git" GIT_INDEX_FILE="$work/index"
export GIT_AUTHOR_NAME="Bench Author" GIT_AUTHOR_EMAIL="bench@example.org"
export GIT_COMMITTER_NAME="Bench Author" GIT_COMMITTER_EMAIL="bench@example.org"
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
base=$(git rev-parse HEAD)
git read-tree "$base"

# One C file per directory, each with a `return 0;` to log before.
mapfile -t files < <(git grep -l -P '^\treturn 0;$' "$base" -- 'kernel/*.c' 'mm/*.c' 'fs/*.c' \
    'lib/*.c' 'drivers/base/*.c' 'drivers/char/*.c' 'block/*.c' 'crypto/*.c' 'security/*.c' \
    | sed "s/^$base://" | awk -F/ '{ d = $0; sub("/[^/]*$", "", d) } !seen[d]++' | head -n 30)
if [ "${#files[@]}" -lt 30 ]; then
    echo "checks.sh: found only ${#files[@]} files to edit" >&2
    exit 1
fi

parent=$base
for f in "${files[@]}"; do
    git show "$base:$f" | awk '
        !done && /^\treturn 0;$/ { print "\tpr_debug(\"%s: done\\n\", __func__);"; done = 1 }
        { print }' >"$work/edit"
    blob=$(git hash-object -w "$work/edit")
    git update-index --cacheinfo "100644,$blob,$f"
    dir=${f%/*}
    subsystem=${dir##*/}
    msg="$subsystem: log the end of the first successful path in ${f##*/}

Say when the first function of ${f##*/} that can fail returns success, so
that a dynamic debug session shows the whole sequence of calls without a
new printk per call site.

Signed-off-by: Bench Author <bench@example.org>"
    parent=$(git commit-tree "$(git write-tree)" -p "$parent" -m "$msg")
done

git format-patch -q -o "$work/series" --cover-letter "$base..$parent"
sed -i -e 's/\*\*\* SUBJECT HERE \*\*\*/tree-wide: debug messages on success paths/' \
    -e 's/\*\*\* BLURB HERE \*\*\*/Thirty small edits in thirty directories./' \
    "$work/series/0000-cover-letter.patch"
unset GIT_DIR GIT_INDEX_FILE
if [ -n "${GAUNTLET_BENCH_KEEP:-}" ]; then
    rm -rf "$GAUNTLET_BENCH_KEEP" && cp -r "$work/series" "$GAUNTLET_BENCH_KEEP"
fi
echo "series: $(ls "$work/series" | wc -l) files ($(du -sh "$work/series" | cut -f1)), base $base"
echo "machine: $(nproc) cores, $(perl -e 'print "perl $^V"'), $(git --version)"
echo

"$bench" builtin "$work/series" "$builtin_runs"
echo
"$bench" checkpatch "$tree" "$work/series" "$checkpatch_runs"

# The same, run by hand from the tree, where each file's status question goes to the tree's
# own get_maintainer.pl (a Perl process reading MAINTAINERS per file): what NIPA-style runs pay.
mapfile -t patches < <(ls "$work"/series/*.patch | grep -v cover-letter)
now() { date +%s%N; }
t0=$(now)
(cd "$tree" && perl scripts/checkpatch.pl --terse --show-types "${patches[@]}" >/dev/null) || true
t1=$(now)
for p in "${patches[@]}"; do
    (cd "$tree" && perl scripts/checkpatch.pl --terse --show-types "$p" >/dev/null) || true
done
t2=$(now)
echo
echo "checkpatch run directly from the tree (the tree's get_maintainer.pl per file, 1 run each):"
echo "  one process for all 30: $(( (t1 - t0) / 1000000 )) ms; 30 processes: $(( (t2 - t1) / 1000000 )) ms"
