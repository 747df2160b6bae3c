-- A write transaction inserts its events under provisional numbers, the negatives of
-- this sequence's values, and commits without touching the ledger's head row; right
-- after, one short transaction numbers every committed provisional event under that
-- row (store::events::number). So writers of several processes never wait for each
-- other's commits, and the ledger stays gap-free and visible in order. CACHE 1 (the
-- default) matters: the numbering reads the sequence's last value as the highest
-- handed out.
CREATE SEQUENCE events_provisional CACHE 1;
-- What the numbering looks for: only the events waiting for a number.
CREATE INDEX events_unnumbered ON events (seq) WHERE seq < 0;
-- Every provisional number up to `numbered_through` (a value of the sequence) has been
-- numbered or was never committed, so the numbering's scan starts below it and never
-- walks again the index entries that numbered events leave until VACUUM. It moves to
-- `floor_candidate` once every transaction in flight when that was noted (ids below
-- `floor_xmax`) has ended.
ALTER TABLE ledger_head
    ADD COLUMN numbered_through BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN floor_candidate BIGINT,
    ADD COLUMN floor_xmax BIGINT;
