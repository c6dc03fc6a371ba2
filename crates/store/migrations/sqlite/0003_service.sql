-- The service (`gauntlet serve`, `gauntlet worker`): the durable queue over `jobs`, the workers
-- that claim them, the sources' cursors, the ledger that makes reporting exactly-once, and the
-- patch states gauntlet and maintainers set.

-- Supersede and cancel: queued jobs are cancelled at once; running ones are flagged and their
-- worker learns it when it renews its lease. The run ends `cancelled` with `cancel_reason` once
-- no job of it is queued or running.
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cancel_reason TEXT;
-- Who runs the jobs: `local` (the pipeline in its own process, `gauntlet test`) or `queue`
-- (workers claim them). Workers never claim a local run's jobs, even in a shared database.
ALTER TABLE runs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';
CREATE INDEX runs_series_key ON runs (series_key, revision);

ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
-- Claims of the job so far, never decremented (a release gives the attempt back, not this):
-- the fencing token of a lease, which tells the current holder from a stale one.
ALTER TABLE jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
-- The last infrastructure failure (kept while the job is retried; `reason` is the final one).
ALTER TABLE jobs ADD COLUMN last_error TEXT;
-- JSON: what the job is to do, written when it is queued (`details` is what it did).
ALTER TABLE jobs ADD COLUMN spec TEXT;
CREATE INDEX jobs_lease ON jobs (state, lease_until);

-- A job is claimable only when every job it comes after (of the same run) is done.
CREATE TABLE job_deps (
    job         INTEGER NOT NULL REFERENCES jobs (id),
    after_job   INTEGER NOT NULL REFERENCES jobs (id),
    PRIMARY KEY (job, after_job)
);
CREATE INDEX job_deps_after ON job_deps (after_job);

CREATE TABLE workers (
    name         TEXT PRIMARY KEY,
    -- JSON list of what the worker can run (arch:arm64, qemu:x86_64, lava, …)
    capabilities TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    -- idle, busy, stopping (free text the worker reports)
    state        TEXT NOT NULL
);

-- Where each source (a Patchwork instance, a lore epoch, a maildir) stopped reading.
CREATE TABLE source_state (
    name         TEXT PRIMARY KEY,
    cursor       TEXT,
    last_poll_at INTEGER,
    last_ok_at   INTEGER,
    last_error   TEXT
);

-- Everything gauntlet tells the outside world, recorded before it is sent.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('check', 'mail', 'state', 'push')),
    target      TEXT NOT NULL,
    -- JSON
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('intended', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    last_error  TEXT
);
CREATE INDEX deliveries_state ON deliveries (state, id);

-- The history of each patch's state; the newest row is its current state.
CREATE TABLE patch_states (
    id          INTEGER PRIMARY KEY,
    -- The caller's key for the patch: its Message-ID, or a Patchwork patch's URL.
    patch       TEXT NOT NULL,
    series      INTEGER NOT NULL,
    revision    INTEGER NOT NULL,
    project     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('New', 'Under Review', 'Accepted', 'Rejected',
                                               'Changes Requested', 'Superseded')),
    -- gauntlet, maintainer:<name>, patchwork:<user>
    set_by      TEXT NOT NULL,
    reason      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX patch_states_patch ON patch_states (patch, id);
CREATE INDEX patch_states_submission ON patch_states (series, revision);
