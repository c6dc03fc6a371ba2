-- Runs of the pipeline over submissions, their jobs, and what the jobs found.
-- A submission is (series, revision). Runs refer to series by id without a foreign key, so that
-- `gauntlet reindex` (which rebuilds the series from the raw mails) never has to touch them.

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    series      INTEGER NOT NULL,
    revision    INTEGER NOT NULL,
    -- The Message-ID of the series' cover letter or first patch: finds the series again after
    -- a reindex.
    series_key  TEXT NOT NULL,
    project     TEXT NOT NULL,
    project_file TEXT NOT NULL,
    -- queued, running, done, cancelled
    state       TEXT NOT NULL,
    -- accepted, rejected, error (NULL until done)
    verdict     TEXT,
    reason      TEXT,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    -- JSON: what the run decided (base, why, commits, …)
    details     TEXT
);
CREATE INDEX runs_series ON runs (series, revision);
CREATE INDEX runs_state ON runs (state);

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    run         INTEGER NOT NULL REFERENCES runs (id),
    -- checks, apply, build, test, report
    stage       TEXT NOT NULL,
    name        TEXT NOT NULL,
    position    INTEGER NOT NULL,
    -- queued, running, done, cancelled
    state       TEXT NOT NULL,
    -- PASS, FAIL, ERROR, SKIP, MISS, DONE (NULL until done)
    status      TEXT,
    reason      TEXT,
    -- Path of the job's log, relative to the artifact store.
    log         TEXT,
    details     TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    not_before  INTEGER,
    -- JSON list of capabilities a worker needs (arch:arm64, qemu:x86_64, …)
    requires    TEXT,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    duration_ms INTEGER
);
CREATE INDEX jobs_run ON jobs (run, position);
CREATE INDEX jobs_state ON jobs (state, not_before);

CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    run         INTEGER NOT NULL REFERENCES runs (id),
    job         INTEGER NOT NULL REFERENCES jobs (id),
    suite       TEXT NOT NULL,
    -- The case's path within the suite (set/case).
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    measurement TEXT,
    units       TEXT,
    reason      TEXT,
    log_first   INTEGER,
    log_last    INTEGER,
    excerpt     TEXT
);
CREATE INDEX results_run ON results (run);
CREATE INDEX results_job ON results (job);

CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    run         INTEGER NOT NULL REFERENCES runs (id),
    job         INTEGER NOT NULL REFERENCES jobs (id),
    check_name  TEXT NOT NULL,
    -- The patch's number in the series (NULL: about the series, or a cover letter).
    number      INTEGER,
    msgid       TEXT,
    severity    TEXT NOT NULL,
    kind        TEXT,
    message     TEXT NOT NULL,
    -- Where: in the mail, and in the source when it applies.
    mail_line   INTEGER,
    file        TEXT,
    line        INTEGER,
    excerpt     TEXT
);
CREATE INDEX findings_run ON findings (run);
