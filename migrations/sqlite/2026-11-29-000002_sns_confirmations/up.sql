-- SNS subscriptions waiting for the operator to visit their SubscribeURL (this
-- service reaches no network, so it cannot confirm them itself). A row goes when the
-- first notification from its topic arrives, which proves the confirmation.
CREATE TABLE sns_confirmations (
    topic_arn     TEXT PRIMARY KEY,
    subscribe_url TEXT NOT NULL,
    received_at   TIMESTAMP NOT NULL
);
