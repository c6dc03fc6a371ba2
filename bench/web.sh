#!/usr/bin/env bash
# The dashboard's figures (issue 8, § Speed).
#
#   bench/web.sh [SUBMISSIONS] [ITERATIONS]
#
# 1. Runs the sample course through the real pipeline into a SQLite store (4 runs with their
#    jobs, findings, results and logs), then copies them with bulk SQL (sqlite3) until the store
#    holds SUBMISSIONS runs (default 100,000): each copy has its own series, patches, mails,
#    submitter, jobs, results and findings, one minute apart.
# 2. Adds a 100 MB log (1.9 million lines) to the first job.
# 3. Server-side render times (median and p90 of ITERATIONS requests through the router, in
#    process): the list page (newest, half-way by key, filtered, searched), submission pages,
#    the status page, the API's list, the log viewer (first open and a range at line 1,000,000).
#    Targets: list < 50 ms, submission page < 20 ms.
# 4. With wrk installed (apt-get install -y wrk), requests per second on 127.0.0.1 for the list
#    page and a submission page (4 threads, 64 connections, 10 s each).
# Needs sqlite3 (apt-get install -y sqlite3).
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-100000}
iterations=${2:-50}
command -v sqlite3 >/dev/null || { echo "bench/web.sh needs sqlite3 (apt-get install -y sqlite3)"; exit 2; }

cargo build --release -q -p gauntlet-web --example web_bench
bin=$PWD/target/release/examples/web_bench
# GAUNTLET_BENCH_DIR keeps the store (and its logs) there for a look afterwards.
tmp=${GAUNTLET_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$tmp"
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; [ -n "${GAUNTLET_BENCH_DIR:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT

echo "== filling a SQLite store with $total submissions"
start=$(date +%s.%N)
artifacts=$("$bin" --sample "$tmp" | tail -1)
db=$tmp/gauntlet.db
base=$(sqlite3 "$db" "SELECT COUNT(*) FROM runs")
copies=$(( (total + base - 1) / base - 1 ))
# Every copy k shifts every id by k * 1000 (the sample's tables hold fewer rows than that).
sqlite3 "$db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE k (i INTEGER PRIMARY KEY);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $copies)
INSERT INTO k SELECT i FROM n;
INSERT INTO people (id, email, email_key, name)
  SELECT p.id + k.i * 1000, k.i || '.' || p.email, k.i || '.' || p.email_key, p.name FROM people p, k;
INSERT INTO mails (id, sha256, raw, envelope, origin, list, msgid, received_at, outcome, reason, truncated)
  SELECT m.id + k.i * 1000, m.sha256 || '-' || k.i, m.raw, m.envelope, m.origin, m.list,
         '<' || k.i || '.' || substr(m.msgid, 2), m.received_at + k.i * 60, m.outcome, m.reason, m.truncated
  FROM mails m, k;
INSERT INTO series (id, list, name, version, total, date, submitter, cover, received, complete, topic, lineage)
  SELECT s.id + k.i * 1000, s.list, s.name, s.version, s.total, s.date + k.i * 60, s.submitter + k.i * 1000,
         s.cover + k.i * 1000, s.received, s.complete, s.topic, s.lineage + k.i * 1000
  FROM series s, k;
INSERT INTO messages (id, mail, list, kind, msgid, name, date, submitter, series, number, parent, hash, pull_url)
  SELECT m.id + k.i * 1000, m.mail + k.i * 1000, m.list, m.kind, '<' || k.i || '.' || substr(m.msgid, 2),
         m.name, m.date + k.i * 60, m.submitter + k.i * 1000, m.series + k.i * 1000, m.number,
         m.parent + k.i * 1000, m.hash, m.pull_url
  FROM messages m, k;
INSERT INTO runs (id, series, revision, series_key, project, project_file, state, verdict, reason,
                  created_at, started_at, finished_at, details)
  SELECT r.id + k.i * 1000, r.series + k.i * 1000, r.revision, '<' || k.i || '.' || substr(r.series_key, 2),
         r.project, r.project_file, r.state, r.verdict, r.reason, r.created_at + k.i * 60,
         r.started_at + k.i * 60, r.finished_at + k.i * 60, r.details
  FROM runs r, k;
INSERT INTO jobs (id, run, stage, name, position, state, status, reason, log, details, attempts,
                  requires, created_at, started_at, finished_at, duration_ms)
  SELECT j.id + k.i * 1000, j.run + k.i * 1000, j.stage, j.name, j.position, j.state, j.status, j.reason,
         j.log, j.details, j.attempts, j.requires, j.created_at + k.i * 60, j.started_at + k.i * 60,
         j.finished_at + k.i * 60, j.duration_ms
  FROM jobs j, k;
INSERT INTO results (id, run, job, suite, name, status, measurement, units, reason, log_first, log_last, excerpt)
  SELECT r.id + k.i * 1000, r.run + k.i * 1000, r.job + k.i * 1000, r.suite, r.name, r.status,
         r.measurement, r.units, r.reason, r.log_first, r.log_last, r.excerpt
  FROM results r, k;
INSERT INTO findings (id, run, job, check_name, number, msgid, severity, kind, message, mail_line, file, line, excerpt)
  SELECT f.id + k.i * 1000, f.run + k.i * 1000, f.job + k.i * 1000, f.check_name, f.number, f.msgid,
         f.severity, f.kind, f.message, f.mail_line, f.file, f.line, f.excerpt
  FROM findings f, k;
COMMIT;
ANALYZE;
SQL
echo "runs $(sqlite3 "$db" "SELECT COUNT(*) FROM runs"), jobs $(sqlite3 "$db" "SELECT COUNT(*) FROM jobs"), results $(sqlite3 "$db" "SELECT COUNT(*) FROM results"), mails $(sqlite3 "$db" "SELECT COUNT(*) FROM mails"); $(du -h "$db" | cut -f1)B on disk; $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

echo "== a 100 MB log"
mkdir -p "$artifacts/runs/1"
awk 'BEGIN { for (i = 1; i <= 1900000; i++) printf "  CC      drivers/gpu/drm/file%07d.o: line %d of a long build log\n", i, i }' \
  > "$artifacts/runs/1/big.log"
job=$(sqlite3 "$db" "SELECT MIN(id) FROM jobs")
sqlite3 "$db" "UPDATE jobs SET log = 'runs/1/big.log' WHERE id = $job"
echo "$(du -h "$artifacts/runs/1/big.log" | cut -f1)B, $(wc -l < "$artifacts/runs/1/big.log") lines, job $job"

echo "== server-side render times ($iterations requests each)"
if command -v wrk >/dev/null; then
  "$bin" --db "sqlite:$db" --artifacts "$artifacts" --iterations "$iterations" --log-job "$job" \
    --serve 127.0.0.1:18088 &
  server=$!
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null http://127.0.0.1:18088/status 2>/dev/null && break
    sleep 0.5
  done
  run=$(sqlite3 "$db" "SELECT MAX(id) FROM runs WHERE verdict = 'rejected'")
  echo "== throughput (wrk, 4 threads, 64 connections, 10 s, 127.0.0.1)"
  for path in / "/runs/$run" /api/v1/submissions; do
    printf '%-24s ' "$path"
    wrk -t4 -c64 -d10s "http://127.0.0.1:18088$path" | awk '/Requests\/sec/ { printf "%s requests/s", $2 } /Latency/ { lat = $2 } END { printf ", mean latency %s\n", lat }'
  done
else
  "$bin" --db "sqlite:$db" --artifacts "$artifacts" --iterations "$iterations" --log-job "$job"
  echo "(wrk is not installed: apt-get install -y wrk for the throughput)"
fi
