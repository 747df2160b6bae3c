-- The whole schema of prefcenter. Later changes add migrations with the same name in
-- migrations/sqlite and migrations/postgres.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    lookup      TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);

CREATE TABLE topics (
    key                TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL,
    category           TEXT NOT NULL,
    default_subscribed BOOLEAN NOT NULL,
    public             BOOLEAN NOT NULL,
    position           INTEGER NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    archived_at        TIMESTAMP
);

CREATE TABLE topic_translations (
    topic_key   TEXT NOT NULL REFERENCES topics (key) ON DELETE CASCADE,
    locale      TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (topic_key, locale)
);

-- `email` is NULL for a contact known only by its address hash: one who unsubscribed
-- through a link issued before the sender ever stored their address here.
CREATE TABLE contacts (
    id                      TEXT PRIMARY KEY NOT NULL,
    email                   TEXT UNIQUE,
    address_hash            BYTEA NOT NULL UNIQUE,
    locale                  TEXT,
    external_id             TEXT UNIQUE,
    unsubscribed_all        BOOLEAN NOT NULL,
    unsubscribed_all_source TEXT,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);

CREATE TABLE subscriptions (
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    topic_key  TEXT NOT NULL REFERENCES topics (key),
    status     TEXT NOT NULL,
    source     TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (contact_id, topic_key)
);
CREATE INDEX subscriptions_by_topic ON subscriptions (topic_key);

-- Keyed by the keyed hash of the address so that a suppression outlives the erasure
-- of the address itself; `email` is NULL for erasure suppressions.
CREATE TABLE suppressions (
    address_hash BYTEA PRIMARY KEY NOT NULL,
    email        TEXT,
    reason       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    source       TEXT NOT NULL,
    note         TEXT,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP
);
CREATE INDEX suppressions_by_reason ON suppressions (reason, address_hash);

-- Soft bounces count towards a temporary suppression.
CREATE TABLE soft_bounces (
    address_hash BYTEA NOT NULL,
    occurred_at  TIMESTAMP NOT NULL,
    provider     TEXT NOT NULL
);
CREATE INDEX soft_bounces_by_address ON soft_bounces (address_hash, occurred_at);

-- Provider notifications already applied, so that a redelivery changes nothing.
CREATE TABLE feedback_receipts (
    provider        TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    received_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, notification_id)
);

-- One row holding the last sequence number of the ledger. Every write transaction
-- updates it first, which serialises ledger appends: numbers are gap-free and become
-- visible in order, so a reader tailing the ledger never skips an event.
CREATE TABLE ledger_head (
    id  INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
INSERT INTO ledger_head (id, seq) VALUES (1, 0);

-- The append-only ledger: consent record, audit trail and change feed. No foreign key
-- to contacts: events outlive the contacts they describe.
CREATE TABLE events (
    seq          BIGINT PRIMARY KEY NOT NULL,
    occurred_at  TIMESTAMP NOT NULL,
    kind         TEXT NOT NULL,
    contact_id   TEXT,
    address_hash BYTEA,
    topic_key    TEXT,
    old_status   TEXT,
    new_status   TEXT,
    reason       TEXT,
    scope        TEXT,
    expires_at   TIMESTAMP,
    -- Set when a correction moved the contact to a new address: the index moves the
    -- contact's statuses from this hash to `address_hash`.
    previous_address_hash BYTEA,
    source       TEXT NOT NULL,
    client       TEXT,
    user_agent   TEXT,
    message_id   TEXT,
    consent      TEXT,
    legal_basis  TEXT,
    detail       TEXT
);
CREATE INDEX events_by_contact ON events (contact_id, seq);
