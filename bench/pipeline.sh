#!/usr/bin/env bash
# The local pipeline's figures (issue 4, §9).
#
#   bench/pipeline.sh [RUNS]
#
# 1. The pipeline's own overhead per submission (everything but git, make and the tests: the
#    checks, the store, the report), median over RUNS runs of the sample course's four series.
# 2. On Debian's linux-source-6.1 tree (GAUNTLET_LINUX_TREE, or made by .ci/linux-tree), x86_64
#    tinyconfig + the boot fragment:
#    - a from-scratch build through gauntlet (fresh cache, cold ccache) and by a plain `make`;
#    - the rebuild after a one-file patch with gauntlet's kept build directory, against a plain
#      incremental `make` of the same change in a kept O= directory (the target: ≤ 1.5×);
#    - `git worktree add` of the tree (what gauntlet's pooled working copies avoid).
# Needs python3 (to read gauntlet's JSON), git, make, gcc, bc, flex, bison.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}

cargo build --release -q -p gauntlet
bin=$PWD/target/release/gauntlet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
json() { python3 -c "import json,sys; runs=json.load(sys.stdin); $1"; }

echo "== the pipeline's own overhead (sample course, command recipe)"
"$bin" demo --dir "$tmp/demo" >/dev/null
project=$tmp/demo/course/project/hello.yaml
for i in $(seq "$runs"); do
    for s in 1 2 3 4; do
        GAUNTLET_DATA_DIR=$tmp/data GAUNTLET_CACHE_DIR=$tmp/cache \
            "$bin" --db "sqlite://$tmp/o.db" test --json --project "$project" \
            "$tmp/demo/course/series/$s.mbox" 2>/dev/null \
            | json 'print(runs[0]["overhead_ms"], runs[0]["wall_ms"])' || true
    done
done > "$tmp/overhead"
printf '  overhead per submission: median %s ms (max %s ms); whole run: median %s ms, %s submissions\n' \
    "$(cut -d' ' -f1 "$tmp/overhead" | median)" "$(cut -d' ' -f1 "$tmp/overhead" | sort -n | tail -n1)" \
    "$(cut -d' ' -f2 "$tmp/overhead" | median)" "$(wc -l < "$tmp/overhead")"

tree=${GAUNTLET_LINUX_TREE:-}
if [ -z "$tree" ]; then
    tree=$(.ci/linux-tree) || { echo "no kernel tree: skipping the kernel figures"; exit 0; }
fi
echo "== the kernel: $tree, x86_64 tinyconfig + boot fragment, $(nproc) cores"
repo=$tmp/scratch.git
git clone -q --bare --shared "$tree" "$repo"
export GIT_AUTHOR_NAME="Bench Student" GIT_AUTHOR_EMAIL=bench@student.example.org
export GIT_COMMITTER_NAME="Bench Student" GIT_COMMITTER_EMAIL=bench@student.example.org
# commit PARENT FILE OLD NEW SUBJECT: a commit changing OLD to NEW in FILE, made without a checkout
commit() {
    local parent=$1 file=$2 old=$3 new=$4 subject=$5 index=$tmp/index blob tree
    rm -f "$index"
    GIT_INDEX_FILE=$index git -C "$repo" read-tree "$parent"
    blob=$(git -C "$repo" show "$parent:$file" | OLD=$old NEW=$new perl -0pe 's/\Q$ENV{OLD}\E/$ENV{NEW}/' \
        | git -C "$repo" hash-object -w --stdin)
    GIT_INDEX_FILE=$index git -C "$repo" update-index --cacheinfo "100644,$blob,$file"
    tree=$(GIT_INDEX_FILE=$index git -C "$repo" write-tree)
    printf '%s\n\nA one-file change for the benchmark.\n\nSigned-off-by: Bench Student <bench@student.example.org>\n' "$subject" \
        | git -C "$repo" commit-tree "$tree" -p "$parent"
}
master=$(git -C "$repo" rev-parse master)
warm=$(commit "$master" init/main.c 'Run %s as init process' 'Running %s as init process' 'init: reword the init message')
change=$(commit "$master" init/main.c 'Kernel command line: %s' 'Kernel command line is: %s' 'init: reword the command line message')
git -C "$repo" format-patch -q --stdout --base=master "$master..$warm" > "$tmp/warm.mbox"
git -C "$repo" format-patch -q --stdout --base=master "$master..$change" > "$tmp/change.mbox"
mkdir -p "$tmp/kproject"
cat > "$tmp/kproject/tiny-boot.config" <<'CONFIG'
CONFIG_64BIT=y
CONFIG_PRINTK=y
CONFIG_EARLY_PRINTK=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG
cat > "$tmp/kproject/linux.yaml" <<PROJECT
name: Linux tiny
tree:
  path: $tree
  branches: [master]
recipe:
  base_config: tinyconfig
builds:
  - arch: x86_64
    config: [tiny-boot.config]
checks:
  checkpatch: off
  maintainers: off
report:
  mail: {enabled: false}
PROJECT
build_ms() {
    GAUNTLET_DATA_DIR=$tmp/kdata GAUNTLET_CACHE_DIR=$tmp/kcache \
        "$bin" --db "sqlite://$tmp/k.db" test --json --project "$tmp/kproject/linux.yaml" "$1" 2>/dev/null \
        | json 'print([j["duration_ms"] for j in runs[0]["jobs"] if j["stage"] == "build"][0])'
}
scratch=$(build_ms "$tmp/warm.mbox")
rebuild=$(build_ms "$tmp/change.mbox")
echo "  gauntlet, from scratch (fresh build directory, cold ccache): ${scratch} ms"
echo "  gauntlet, after a one-file patch (kept build directory):     ${rebuild} ms"

start=$(now)
git -C "$repo" worktree add -q --detach "$tmp/wt" master
echo "  git worktree add of the tree (the anchor for pooled copies):  $(ms "$start" "$(now)") ms"
o=$tmp/plain-o
mk() { make -s -C "$tmp/wt" O="$o" ARCH=x86_64 "$@" >/dev/null 2>&1; }
start=$(now)
mk tinyconfig
ARCH=x86_64 "$tmp/wt/scripts/kconfig/merge_config.sh" -m -O "$o" "$o/.config" "$tmp/kproject/tiny-boot.config" >/dev/null 2>&1
mk olddefconfig
mk -j"$(nproc)" bzImage
plain_scratch=$(ms "$start" "$(now)")
echo "  plain make, from scratch:                                    ${plain_scratch} ms"
git -C "$tmp/wt" checkout -q --detach "$change"
start=$(now)
mk -j"$(nproc)" bzImage
plain_rebuild=$(ms "$start" "$(now)")
echo "  plain make, incremental after the same one-file change:      ${plain_rebuild} ms"
awk -v g="$rebuild" -v p="$plain_rebuild" -v s="$plain_scratch" 'BEGIN {
    printf "  ratio gauntlet rebuild / plain incremental make: %.2f (target <= 1.5)\n", g / p
    printf "  ratio gauntlet rebuild / plain from-scratch make: %.3f\n", g / s }'
git -C "$repo" worktree remove --force "$tmp/wt"
