#!/usr/bin/env bash
# Reading a public-inbox archive (issue 7, item 1): how fast gauntlet's public-inbox source gets
# the mails out of an epoch, and how fast they are then ingested.
#
#   bench/public-inbox.sh [MAILS] [RUNS]
#
# Builds a v2 inbox of MAILS mails (default 20,000) in one epoch, `git/0.git`, the way
# public-inbox writes it (with `git fast-import`: one commit per mail, the mail as the blob `m`,
# and one removal commit with `d` every 500 mails). The mails are the 4,000 real mails of
# ../shared/corpus/lore/iouring-4k.mbox over and over, their Message-IDs, In-Reply-To and
# References made unique per round so that every mail is new to the store; without the corpus,
# generated series of five patches and a cover letter. Then the ignored test
# `bench_read_and_ingest` of crates/ingest/tests/public_inbox.rs mirrors the inbox, reads every
# mail RUNS times (default 5; one `git rev-list` and one `git cat-file --batch` per read) and
# reports the median in mails/s, then ingests everything once into a fresh SQLite database.
# The anchor is git alone doing the same reading (`git rev-list | git cat-file --batch`).
set -euo pipefail
cd "$(dirname "$0")/.."

mails=${1:-20000}
runs=${2:-5}
corpus=${GAUNTLET_CORPUS:-../shared/corpus}
mbox=$corpus/lore/iouring-4k.mbox

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauntlet-public-inbox.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null LC_ALL=C

epoch=$tmp/inbox/git/0.git
git init -q --bare --initial-branch=master "$epoch"
split=""
if [ -f "$mbox" ]; then
    mkdir "$tmp/split"
    git mailsplit --mboxrd -o"$tmp/split" "$mbox" >/dev/null
    split=$tmp/split
    echo "mails: $mbox, repeated with unique Message-IDs"
else
    echo "mails: generated ($mbox not found)"
fi

started=$(date +%s.%N)
perl - "$mails" "$split" <<'PERL' | git -C "$epoch" fast-import --quiet
use strict;
use warnings;
my ($count, $split) = @ARGV;
my @files;
if ($split ne '') {
    opendir(my $d, $split) or die "$split: $!";
    @files = map { "$split/$_" } sort grep { /^\d+$/ } readdir($d);
    closedir($d);
}

sub generated {
    my ($n) = @_;
    my $series = int($n / 6);
    my $part = $n % 6;
    my $cover = "s$series.0\@bench.example.com";
    my $refs = $part ? "In-Reply-To: <$cover>\nReferences: <$cover>\n" : "";
    my $body = $part
        ? "A change.\n\nSigned-off-by: Ada Lovelace <ada\@example.com>\n---\n"
          . "diff --git a/f$part.c b/f$part.c\n--- a/f$part.c\n+++ b/f$part.c\n@@ -1,3 +1,3 @@\n"
          . " int a;\n-int b$series;\n+int c$series;\n int d;\n"
        : "The cover letter of series $series.\n";
    return "From: Ada Lovelace <ada\@example.com>\nSubject: [PATCH $part/5] bench series $series\n"
        . "Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-Id: <s$series.$part\@bench.example.com>\n"
        . "List-Id: <bench.example.com>\n$refs\n$body";
}

sub real {
    my ($n) = @_;
    my $file = $files[$n % @files];
    my $round = int($n / @files);
    open(my $f, '<:raw', $file) or die "$file: $!";
    local $/;
    my $mail = <$f>;
    close($f);
    return $mail if $round == 0;
    my ($head, $rest) = split(/\r?\n\r?\n/, $mail, 2);
    $rest //= '';
    my ($name, @out) = ('');
    for my $line (split(/\n/, $head, -1)) {
        $name = lc($1) if $line =~ /^([^\s:]+):/;
        $line =~ s/<([^<>\s]+)>/<r$round.$1>/g
            if $name =~ /^(message-id|in-reply-to|references)$/;
        push @out, $line;
    }
    return join("\n", @out) . "\n\n" . $rest;
}

binmode(STDOUT);
my $time = 1704103200;
for my $n (0 .. $count - 1) {
    my $mail = @files ? real($n) : generated($n);
    $time += 1;
    print "commit refs/heads/master\n";
    print "author Bench <bench\@example.com> $time +0000\n";
    print "committer public-inbox <public-inbox\@example.com> $time +0000\n";
    print "data 4\nmail\n";
    print "deleteall\nM 100644 inline m\ndata ", length($mail), "\n", $mail, "\n";
    if ($n % 500 == 499) {
        print "commit refs/heads/master\n";
        print "author Bench <bench\@example.com> $time +0000\n";
        print "committer public-inbox <public-inbox\@example.com> $time +0000\n";
        print "data 4\nspam\n";
        print "deleteall\nM 100644 inline d\ndata ", length($mail), "\n", $mail, "\n";
    }
}
PERL
built=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
commits=$(git -C "$epoch" rev-list --count HEAD)
size=$(du -sm "$epoch" | cut -f1)
echo "archive: $commits commits ($mails mails), $size MB packed, built in $built s"

# The anchor: git alone, the same two commands with nothing read on the other end.
for _ in $(seq "$runs"); do
    s=$(date +%s.%N)
    git -C "$epoch" rev-list --reverse HEAD | sed 's/$/:m/' \
        | git -C "$epoch" cat-file --batch --buffer >/dev/null
    awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }'
done | sort -n | awk -v n="$mails" '{ t[NR] = $1 } END {
    m = t[int((NR + 1) / 2)]; printf "anchor, git rev-list | git cat-file --batch: median %.3f s = %.0f mails/s\n", m, n / m }'

cargo build --release -q -p gauntlet-ingest --tests
GAUNTLET_BENCH_INBOX=$tmp/inbox GAUNTLET_BENCH_RUNS=$runs \
    cargo test --release -q -p gauntlet-ingest --test public_inbox -- \
    --ignored --exact bench_read_and_ingest --nocapture
