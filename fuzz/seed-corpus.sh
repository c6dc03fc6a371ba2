#!/usr/bin/env bash
# Seeds the fuzzers' corpora (fuzz/corpus/, not committed) with every mail of the conformance
# corpus in ../shared/corpus, one file per mail.
set -euo pipefail
cd "$(dirname "$0")"
src=${GAUNTLET_CORPUS:-../../shared/corpus}
[ -d "$src" ] || { echo "seed-corpus.sh: $src not found (the corpus lives outside the repository)" >&2; exit 2; }
mkdir -p corpus/mail corpus/mailinfo
n=0
for f in "$src"/patchwork/*/*.mbox "$src"/patchwork/series/*.template "$src"/git-mailinfo/*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    cp "$f" "corpus/mail/pw-$n"
    { printf '\0'; cat "$f"; } > "corpus/mailinfo/pw-$n"
done
# The first 300 mails of the lore archive, one per file.
tmp=$(mktemp -d)
git mailsplit -o"$tmp" "$src/lore/iouring-4k.mbox" >/dev/null
for f in $(ls "$tmp" | head -n 300); do
    cp "$tmp/$f" "corpus/mail/lore-$f"
    { printf '\0'; cat "$tmp/$f"; } > "corpus/mailinfo/lore-$f"
done
rm -rf "$tmp"
echo "seeded $(ls corpus/mail | wc -l) inputs into fuzz/corpus/mail and fuzz/corpus/mailinfo"
