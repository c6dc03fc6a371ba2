#!/usr/bin/env bash
# Per-mail parsing cost on the real io-uring archive: splitting, gauntlet's full reading of a mail
# (Patchwork's rules, plus git's mailinfo for patches) and git's mailinfo alone.
#   bench/parse.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${GAUNTLET_CORPUS:-../shared/corpus}
mbox=$corpus/lore/iouring-4k.mbox
[ -f "$mbox" ] || { echo "bench/parse.sh: $mbox not found (the corpus lives outside the repository)" >&2; exit 2; }
cargo run --release -q -p gauntlet-mail --example timing -- "$mbox" "${1:-5}"
