-- Raw mails are the source of truth: everything else here can be rebuilt from them
-- (`gauntlet reindex`).

CREATE TABLE lists (
    id          BIGINT PRIMARY KEY,
    -- The List-Id (without <>), or '' for mails that name no list.
    list_id     TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE mails (
    id          BIGINT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    raw         BYTEA NOT NULL,
    -- The mbox "From " line it came with, if any.
    envelope    TEXT,
    -- Where it was read from (file@offset, "-" for standard input).
    origin      TEXT NOT NULL,
    list        BIGINT NOT NULL REFERENCES lists (id),
    msgid       TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    -- patch, cover, comment, dropped, duplicate, error (derived; rebuilt by reindex)
    outcome     TEXT NOT NULL,
    reason      TEXT,
    truncated   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mails_list_msgid ON mails (list, msgid);

CREATE TABLE people (
    id          BIGINT PRIMARY KEY,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL UNIQUE,
    name        TEXT
);

CREATE TABLE series (
    id          BIGINT PRIMARY KEY,
    list        BIGINT NOT NULL REFERENCES lists (id),
    name        TEXT,
    version     BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    date        BIGINT NOT NULL,
    submitter   BIGINT NOT NULL REFERENCES people (id),
    cover       BIGINT,
    received    BIGINT NOT NULL,
    complete    BIGINT NOT NULL,
    topic       TEXT,
    lineage     BIGINT NOT NULL
);
CREATE INDEX series_marker ON series (submitter, date);
CREATE INDEX series_topic ON series (topic);
CREATE INDEX series_lineage ON series (lineage);

CREATE TABLE messages (
    id          BIGINT PRIMARY KEY,
    mail        BIGINT NOT NULL REFERENCES mails (id),
    list        BIGINT NOT NULL REFERENCES lists (id),
    -- patch, cover, comment
    kind        TEXT NOT NULL,
    msgid       TEXT NOT NULL,
    name        TEXT NOT NULL,
    date        BIGINT NOT NULL,
    submitter   BIGINT NOT NULL REFERENCES people (id),
    series      BIGINT,
    number      BIGINT,
    parent      BIGINT,
    hash        TEXT,
    pull_url    TEXT
);
CREATE INDEX messages_msgid ON messages (msgid);
CREATE INDEX messages_series ON messages (series);
CREATE INDEX messages_parent ON messages (parent);
CREATE INDEX messages_mail ON messages (mail);
CREATE INDEX messages_cover_name ON messages (name) WHERE kind = 'cover';

CREATE TABLE series_refs (
    list        BIGINT NOT NULL,
    msgid       TEXT NOT NULL,
    series      BIGINT NOT NULL,
    PRIMARY KEY (list, msgid)
);
CREATE INDEX series_refs_msgid ON series_refs (msgid);
