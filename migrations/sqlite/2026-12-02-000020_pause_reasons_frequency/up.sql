-- A recipient may pause promotional mail until a time: checks deny it until then and
-- mail resumes by itself (no write at that time).
ALTER TABLE contacts ADD COLUMN paused_until TIMESTAMP;
-- Read at start-up by the decision index; few contacts are paused.
CREATE INDEX contacts_paused ON contacts (paused_until) WHERE paused_until IS NOT NULL;
-- How often a topic is sent ("weekly"), shown on the preference page; '' for unsaid.
ALTER TABLE topics ADD COLUMN frequency TEXT NOT NULL DEFAULT '';
ALTER TABLE topic_translations ADD COLUMN frequency TEXT NOT NULL DEFAULT '';
-- The answer to "why did you leave?" on an `unsubscribe_reason` event (its optional
-- comment is the event's `detail`, personal data cleared on erasure and by retention).
ALTER TABLE events ADD COLUMN unsubscribe_reason TEXT;
-- Operators count the answers per topic and reason, and retention clears old comments:
-- both read only these events.
CREATE INDEX events_unsubscribe_reasons ON events (occurred_at) WHERE kind = 'unsubscribe_reason';
