-- A write transaction inserts its events under provisional numbers, the negatives of
-- this sequence's values, and commits without touching the ledger's head row; right
-- after, one short transaction numbers every committed provisional event under that
-- row (store::events::number). So writers of several processes never wait for each
-- other's commits, and the ledger stays gap-free and visible in order.
CREATE SEQUENCE events_provisional;
