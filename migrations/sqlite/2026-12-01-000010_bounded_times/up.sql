-- Times past the year 9999 were written as `+10000-…`, which sorts before every
-- four-digit year: such an expiry looked long past to the retention purge. Bring any
-- such value back to the end of 9999, the latest time the service now accepts.
UPDATE suppressions SET expires_at = '9999-12-31 23:59:59.999999' WHERE substr(expires_at, 1, 1) = '+';
UPDATE events SET expires_at = '9999-12-31 23:59:59.999999' WHERE substr(expires_at, 1, 1) = '+';
UPDATE soft_bounces SET occurred_at = '9999-12-31 23:59:59.999999' WHERE substr(occurred_at, 1, 1) = '+';
