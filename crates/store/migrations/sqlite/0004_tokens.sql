-- API tokens for the web's write actions (rerun, cancel), issued by `gauntlet token create`.
-- Only the SHA-256 of a token is kept (hex); the token itself is shown once, when created.
-- A name belongs to one token that is not revoked; revoked tokens stay, for the record.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
