-- Outgoing webhooks. The ledger is their outbox: each keeps the last sequence number
-- it delivered (or passed over for its type filter), advanced only after a receiver
-- acknowledged it; the process delivering it holds a lease on its row, renewed while
-- it works, which another process may take once it has expired.
CREATE TABLE webhooks (
    id                         TEXT PRIMARY KEY NOT NULL,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL,
    -- Comma-separated event types; NULL for every type.
    types                      TEXT,
    status                     TEXT NOT NULL,
    -- The signing secret, whsec_…: kept as it is, since the server signs with it.
    secret                     TEXT NOT NULL,
    -- After a rotation, the secret that still signs until it expires.
    previous_secret            TEXT,
    previous_secret_expires_at TIMESTAMP,
    delivered_seq              BIGINT NOT NULL,
    -- Failed attempts in a row at the next event, since when, and when to try again.
    failures                   INTEGER NOT NULL,
    failing_since              TIMESTAMP,
    next_attempt_at            TIMESTAMP,
    disabled_at                TIMESTAMP,
    disabled_reason            TEXT,
    lease_holder               TEXT,
    lease_expires_at           TIMESTAMP,
    created_at                 TIMESTAMP NOT NULL,
    updated_at                 TIMESTAMP NOT NULL
);

-- Every delivery attempt, kept for a bounded time (PREFCENTER_WEBHOOK_LOG_DAYS) and
-- number. No payload and nothing of the receiver's answer but its status code.
CREATE TABLE webhook_deliveries (
    id           BIGSERIAL PRIMARY KEY,
    webhook_id   TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    attempt      INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    status_code  INTEGER,
    latency_ms   INTEGER NOT NULL,
    error        TEXT,
    delivered    BOOLEAN NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (attempted_at);

-- Consumers that pull the change feed, and how far each says it has applied it.
CREATE TABLE feed_consumers (
    name       TEXT PRIMARY KEY NOT NULL,
    after_seq  BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
