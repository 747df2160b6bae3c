-- Changes to the service's own settings that decide nothing about anyone's mail: API
-- keys and webhooks created, revoked, disabled. They are audited here, beside the
-- ledger rather than in it, so that the feed and the webhooks carry only what senders
-- replicate (topics' changes, which decisions depend on, stay in the ledger). Source
-- and operator as on an event: `console` and the operator's address, or `admin`.
CREATE TABLE admin_changes (
    id INTEGER PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    source      TEXT NOT NULL,
    operator    TEXT
);
