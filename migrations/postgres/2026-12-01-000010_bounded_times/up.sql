-- PostgreSQL compared such times correctly, but the service now accepts nothing past
-- the end of 9999 (SQLite could not compare it): bring stored values into that range.
UPDATE suppressions SET expires_at = '9999-12-31 23:59:59.999999' WHERE expires_at > '9999-12-31 23:59:59.999999';
UPDATE events SET expires_at = '9999-12-31 23:59:59.999999' WHERE expires_at > '9999-12-31 23:59:59.999999';
UPDATE soft_bounces SET occurred_at = '9999-12-31 23:59:59.999999' WHERE occurred_at > '9999-12-31 23:59:59.999999';
