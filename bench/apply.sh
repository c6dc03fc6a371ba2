#!/usr/bin/env bash
# The apply stage on the real kernel tree (Debian's linux-source-6.1, see .ci/linux-tree):
# a realistic 10-patch series (10 small edits to 10 files, made with git format-patch in a
# scratch clone), timed by crates/tree/examples/apply_bench.rs:
#   * the anchor: a fresh `git worktree add` of the tree,
#   * a cold apply: the first lease of a new pool slot (worktree created), then `git am -3`,
#   * a warm apply: the same slot again (reset to the base, only changed files rewritten),
#     median of RUNS runs.
#   bench/apply.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${GAUNTLET_LINUX_TREE:-$(.ci/linux-tree)}
[ -d "$tree/.git" ] || { echo "bench/apply.sh: no kernel tree at $tree" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gauntlet-apply-series.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null LC_ALL=C
export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="A U Thor" GIT_COMMITTER_EMAIL=author@example.com
export GIT_AUTHOR_DATE=2025-02-01T00:00:00Z GIT_COMMITTER_DATE=2025-02-01T00:00:00Z

# A scratch clone that checks out only the ten files it edits.
git clone -q --shared --no-checkout "$tree" "$work/scratch"
files=(kernel/fork.c mm/page_alloc.c net/core/dev.c fs/namei.c drivers/base/core.c
       lib/string.c init/main.c kernel/sched/core.c block/blk-core.c ipc/msg.c)
git -C "$work/scratch" sparse-checkout set --no-cone "${files[@]}"
git -C "$work/scratch" checkout -q --detach HEAD
n=0
for f in "${files[@]}"; do
    n=$((n + 1))
    # A comment after the first line of includes, and a changed line further down.
    awk -v n="$n" 'done == 0 && /^#include/ { print "/* gauntlet bench: edit " n " */"; done = 1 } { print }' \
        "$work/scratch/$f" > "$work/edit" && mv "$work/edit" "$work/scratch/$f"
    git -C "$work/scratch" commit -q -a -s \
        -m "$(dirname "$f" | tr / ' '): bench edit $n of 10" \
        -m "A small change to $f, as a real series would make."
done
git -C "$work/scratch" format-patch -q --no-cover-letter -10 -o "$work/series"
echo "series: $(ls "$work/series" | wc -l) patches, $(cat "$work/series"/*.patch | wc -c) bytes"

cargo run --release -q -p gauntlet-tree --example apply_bench -- "$tree" "$work/series" "${1:-7}"
