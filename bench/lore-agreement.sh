#!/usr/bin/env bash
# Agreement with real Patchwork on a real archive (issue 2, §7), through the command line a user
# runs: ingest ../shared/corpus/lore/iouring-4k.mbox into a fresh database, export it, and
# compare with iouring-4k.patchwork.json (Patchwork's own series for that file).
#
#   bench/lore-agreement.sh [DATABASE_URL]     (default: a fresh SQLite file)
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${GAUNTLET_CORPUS:-../shared/corpus}
lore=$corpus/lore
[ -f "$lore/iouring-4k.mbox" ] || { echo "bench/lore-agreement.sh: $lore not found (the corpus lives outside the repository)" >&2; exit 2; }

cargo build --release -q -p gauntlet -p gauntlet-conformance
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=${1:-sqlite://$tmp/lore.db}

target/release/gauntlet --db "$db" ingest --list-id io-uring.vger.kernel.org "$lore/iouring-4k.mbox"
target/release/gauntlet --db "$db" export --json > "$tmp/export.json"
target/release/gauntlet-conformance agreement "$lore/iouring-4k.patchwork.json" "$tmp/export.json"
