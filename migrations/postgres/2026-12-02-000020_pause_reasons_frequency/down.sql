DROP INDEX events_unsubscribe_reasons;
ALTER TABLE events DROP COLUMN unsubscribe_reason;
ALTER TABLE topic_translations DROP COLUMN frequency;
ALTER TABLE topics DROP COLUMN frequency;
DROP INDEX contacts_paused;
ALTER TABLE contacts DROP COLUMN paused_until;
