-- The dashboard's daily rollup of the ledger: counts per UTC day, topic ('' when the
-- count concerns no one topic: all promotional mail, an address's suppression), kind
-- (subscribe, unsubscribe, suppression, unsubscribe_reason, …) and label (the source
-- of a change or the reason of a suppression or an answer). Counts only: nothing here
-- names a person, so erasure and retention have nothing to clear.
CREATE TABLE daily_counts (
    day       DATE NOT NULL,
    topic_key TEXT NOT NULL,
    kind      TEXT NOT NULL,
    label     TEXT NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (day, topic_key, kind, label)
);

-- The last ledger sequence number counted into daily_counts, advanced in the same
-- transaction as the counts (so a crash never counts an event twice), its row locked
-- by the process that rolls up (so two processes never do).
CREATE TABLE daily_counts_position (
    id  INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
INSERT INTO daily_counts_position (id, seq) VALUES (1, 0);
