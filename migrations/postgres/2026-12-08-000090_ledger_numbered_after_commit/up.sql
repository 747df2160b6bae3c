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

-- The numbering (store::events::number calls it, in a transaction of its own): one
-- round trip, so that the head row is held for as short a time as can be. Returns the
-- ledger's head after it. Each statement of a function sees what was committed before
-- it began (READ COMMITTED), so the scan, which follows the lock, sees what the
-- numbering before it did.
CREATE FUNCTION prefcenter_number_ledger() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    taken BIGINT;
    head ledger_head%ROWTYPE;
    ready BOOLEAN;
    waiting BIGINT[];
    n BIGINT;
    changed BIGINT;
BEGIN
    -- The highest provisional number handed out, read before this transaction has an
    -- id (the lock, next, gives it one): every transaction that took a number up to it
    -- had its id before, a smaller one than this transaction's.
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO taken FROM events_provisional;
    SELECT * INTO head FROM ledger_head WHERE id = 1 FOR UPDATE;
    -- The floor moves to the value an earlier numbering noted once every transaction
    -- older than that numbering has ended: each that took a number up to the value
    -- has committed, and this scan (from the old floor) sees what it left, or rolled
    -- back.
    ready := pg_snapshot_xmin(pg_current_snapshot())::text::bigint > head.floor_xmax;
    -- A literal bound, so that the plan uses the partial index events_unnumbered.
    EXECUTE format('SELECT array_agg(seq ORDER BY seq DESC) FROM events WHERE seq < %s', -head.numbered_through)
        INTO waiting;
    n := coalesce(array_length(waiting, 1), 0);
    IF n = 0 THEN
        -- Another numbering took everything: nothing changed that a crash could lose.
        PERFORM set_config('synchronous_commit', 'off', true);
        RETURN head.seq;
    END IF;
    -- The k-th taken (WITH ORDINALITY keeps the array's order) becomes head + k.
    UPDATE events SET seq = head.seq + given.k
        FROM unnest(waiting) WITH ORDINALITY AS given(provisional, k)
        WHERE events.seq = given.provisional;
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed <> n THEN
        -- Nothing deletes events; should something, a gap must not follow.
        RAISE EXCEPTION 'an event waiting for its number disappeared while numbering';
    END IF;
    -- A new floor is noted, with this transaction's id, when the last one was used;
    -- always renewing it would let a busy server never reach one.
    UPDATE ledger_head SET
        seq = head.seq + n,
        numbered_through = CASE WHEN ready THEN head.floor_candidate ELSE head.numbered_through END,
        floor_candidate = CASE WHEN ready OR head.floor_candidate IS NULL THEN taken ELSE head.floor_candidate END,
        floor_xmax = CASE WHEN ready OR head.floor_candidate IS NULL
                          THEN pg_current_xact_id()::text::bigint ELSE head.floor_xmax END
        WHERE id = 1;
    -- Wakes the ledger tailers of other processes at commit (store::LEDGER_CHANNEL).
    PERFORM pg_notify('prefcenter_ledger', '');
    RETURN head.seq + n;
END $$;
