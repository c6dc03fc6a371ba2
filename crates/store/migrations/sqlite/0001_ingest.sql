-- Raw mails are the source of truth: everything else here can be rebuilt from them
-- (`gauntlet reindex`).

CREATE TABLE lists (
    id          INTEGER PRIMARY KEY,
    -- The List-Id (without <>), or '' for mails that name no list.
    list_id     TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE mails (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    raw         BLOB NOT NULL,
    -- The mbox "From " line it came with, if any.
    envelope    TEXT,
    -- Where it was read from (file@offset, "-" for standard input).
    origin      TEXT NOT NULL,
    list        INTEGER NOT NULL REFERENCES lists (id),
    msgid       TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    -- patch, cover, comment, dropped, duplicate, error (derived; rebuilt by reindex)
    outcome     TEXT NOT NULL,
    reason      TEXT,
    truncated   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mails_list_msgid ON mails (list, msgid);

CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL UNIQUE,
    name        TEXT
);

CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    list        INTEGER NOT NULL REFERENCES lists (id),
    name        TEXT,
    version     INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    date        INTEGER NOT NULL,
    submitter   INTEGER NOT NULL REFERENCES people (id),
    cover       INTEGER,
    received    INTEGER NOT NULL,
    complete    INTEGER NOT NULL,
    topic       TEXT,
    lineage     INTEGER NOT NULL
);
CREATE INDEX series_marker ON series (submitter, date);
CREATE INDEX series_topic ON series (topic);
CREATE INDEX series_lineage ON series (lineage);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    mail        INTEGER NOT NULL REFERENCES mails (id),
    list        INTEGER NOT NULL REFERENCES lists (id),
    -- patch, cover, comment
    kind        TEXT NOT NULL,
    msgid       TEXT NOT NULL,
    name        TEXT NOT NULL,
    date        INTEGER NOT NULL,
    submitter   INTEGER NOT NULL REFERENCES people (id),
    series      INTEGER,
    number      INTEGER,
    parent      INTEGER,
    hash        TEXT,
    pull_url    TEXT
);
CREATE INDEX messages_msgid ON messages (msgid);
CREATE INDEX messages_series ON messages (series);
CREATE INDEX messages_parent ON messages (parent);
CREATE INDEX messages_mail ON messages (mail);
CREATE INDEX messages_cover_name ON messages (name) WHERE kind = 'cover';

CREATE TABLE series_refs (
    list        INTEGER NOT NULL,
    msgid       TEXT NOT NULL,
    series      INTEGER NOT NULL,
    PRIMARY KEY (list, msgid)
);
CREATE INDEX series_refs_msgid ON series_refs (msgid);
