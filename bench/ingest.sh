#!/usr/bin/env bash
# Ingest speed and memory on a real archive (issue 2, §8).
#
#   bench/ingest.sh [RUNS]
#
# Ingests ../shared/corpus/lore/iouring-4k.mbox (4,000 real mails of io-uring@vger.kernel.org)
# into a fresh SQLite database RUNS times (default 5) and reports the median wall time, mails
# per second and peak memory; then the same for `git mailsplit` (the cost of just reading and
# splitting the file), for an archive 8 times larger (to show that memory does not grow with the
# archive), and for PostgreSQL when GAUNTLET_TEST_POSTGRES_URL is set.
# Needs /usr/bin/time (Debian package `time`) and git.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
corpus=${GAUNTLET_CORPUS:-../shared/corpus}
mbox=$corpus/lore/iouring-4k.mbox
[ -f "$mbox" ] || { echo "bench/ingest.sh: $mbox not found (the corpus lives outside the repository)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/ingest.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

cargo build --release -q -p gauntlet
bin=$PWD/target/release/gauntlet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%f", a / b }'; }

# Runs "$@" RUNS times; prints "median_wall_s peak_rss_kb".
measure() {
    local prep=$1; shift
    for _ in $(seq "$runs"); do
        eval "$prep"
        /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
        cat "$tmp/time"
    done | sort -n | awk '{w[NR]=$1; if ($2>m) m=$2} END {printf "%s %d\n", w[int((NR+1)/2)], m}'
}

mails=$(grep -c '^From mboxrd@z' "$mbox")
size=$(du -m "$mbox" | cut -f1)
echo "Archive: $mbox ($mails mails, $size MB), $runs runs, median"

read -r wall rss < <(measure "rm -f $tmp/db.db*" "$bin" --db "sqlite://$tmp/db.db" ingest --list-id io-uring.vger.kernel.org "$mbox")
printf "gauntlet ingest (SQLite):   %6.2f s  %7.0f mails/s  peak %4d MB\n" "$wall" "$(div $mails $wall)" $((rss / 1024))
gauntlet_wall=$wall

read -r wall rss < <(measure "rm -rf $tmp/split; mkdir $tmp/split" git mailsplit -o"$tmp/split" "$mbox")
printf "git mailsplit:              %6.2f s  %7.0f mails/s  peak %4d MB\n" "$wall" "$(div $mails $wall)" $((rss / 1024))
printf "ratio gauntlet / mailsplit: %6.2f\n" "$(div $gauntlet_wall $wall)"
printf "ratio Patchwork (166.9 s) / gauntlet: %.0fx\n" "$(div 166.9 $gauntlet_wall)"

# The same archive 8 times over, with every Message-ID and address made distinct per copy.
for k in 1 2 3 4 5 6 7 8; do
    sed -E "s/<([^<>@ ]+@)/<c$k.\1/g" "$mbox"
done > "$tmp/big.mbox"
bigmails=$((mails * 8))
runs_saved=$runs; runs=1
read -r wall rss < <(measure "rm -f $tmp/db.db*" "$bin" --db "sqlite://$tmp/db.db" ingest --list-id io-uring.vger.kernel.org "$tmp/big.mbox")
runs=$runs_saved
printf "8x archive ($bigmails mails):  %6.2f s  %7.0f mails/s  peak %4d MB\n" "$wall" "$(div $bigmails $wall)" $((rss / 1024))

if [ -n "${GAUNTLET_TEST_POSTGRES_URL:-}" ]; then
    db=gauntlet_bench_$$
    psql -q "$GAUNTLET_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
    url=${GAUNTLET_TEST_POSTGRES_URL%/*}/$db
    reset="PGOPTIONS='-c client_min_messages=warning' psql -q '$url' -c 'DROP TABLE IF EXISTS series_refs, messages, series, people, mails, lists, _sqlx_migrations' >/dev/null"
    read -r wall rss < <(measure "$reset" "$bin" --db "$url" ingest --list-id io-uring.vger.kernel.org "$mbox")
    printf "gauntlet ingest (PostgreSQL): %4.2f s  %7.0f mails/s  peak %4d MB\n" "$wall" "$(div $mails $wall)" $((rss / 1024))
    psql -q "$GAUNTLET_TEST_POSTGRES_URL" -c "DROP DATABASE $db WITH (FORCE)"
fi
