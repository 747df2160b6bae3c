DROP FUNCTION prefcenter_number_ledger();
ALTER TABLE ledger_head DROP COLUMN numbered_through, DROP COLUMN floor_candidate, DROP COLUMN floor_xmax;
DROP INDEX events_unnumbered;
DROP SEQUENCE events_provisional;
