-- The people who use the console (not API keys): each with a role, an argon2id hash of
-- their password (never the password), the console's language they chose, and when
-- they were disabled.
CREATE TABLE operators (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    locale        TEXT NOT NULL,
    disabled_at   TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- Console sessions, held on the server: the cookie carries a random id, the table only
-- its SHA-256, so a copy of the database opens no session. Each session has its own
-- CSRF token for the forms it posts.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    operator_id  TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX console_sessions_by_operator ON console_sessions (operator_id);

-- Who in the console made a change (an operator's address, not a recipient's: it is
-- shown in the history, never pseudonymized, and kept through a recipient's erasure).
ALTER TABLE events ADD COLUMN operator TEXT;
-- The console's audit view lists the console's events, newest first.
CREATE INDEX events_by_console ON events (seq) WHERE operator IS NOT NULL;
