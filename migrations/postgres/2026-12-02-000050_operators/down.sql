DROP INDEX events_by_console;
ALTER TABLE events DROP COLUMN operator;
DROP TABLE console_sessions;
DROP TABLE operators;
