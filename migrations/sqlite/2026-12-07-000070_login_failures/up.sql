-- Failed console logins, counted per key (a hash of the address typed, or of the
-- client's network) in the database, so that every process serving the console
-- enforces the same back-off: a guesser spread over several processes waits as long
-- as one talking to a single process.
CREATE TABLE login_failures (
    key            TEXT PRIMARY KEY NOT NULL,
    failures       BIGINT NOT NULL,
    last_attempt_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_by_time ON login_failures (last_attempt_at);
