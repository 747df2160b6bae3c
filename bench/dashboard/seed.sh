#!/usr/bin/env bash
# Seeds a migrated prefcenter database for timing the dashboard (GET /v1/stats):
# 1,000,000 contacts with ~800,000 statuses, 50,000 suppressions, and 2,000,000 ledger
# events spread over the last 90 days, written by SQL straight into the tables.
#
#   bench/dashboard/seed.sh sqlite /tmp/stats.db
#   bench/dashboard/seed.sh postgres postgres://root@127.0.0.1:5432/test
#
# The database must have been migrated first (start prefcenter on it once), and hold
# no contacts, suppressions or events yet.
set -euo pipefail
backend=$1 target=$2
CONTACTS=${CONTACTS:-1000000} EVENTS=${EVENTS:-2000000} SUPPRESSIONS=${SUPPRESSIONS:-50000}

# Puts $2 in place of every %s of the template $1.
fill() { local template=$1; echo "${template//%s/$2}"; }

# The parts both backends share, given each backend's series of numbers ($series),
# 32-byte hash ($hash), 12-digit hexadecimal ($hex12), the time now ($now) and the
# time some seconds ago ($seconds_ago).
sql() {
  local series=$1 hash=$2 hex12=$3 now=$4 seconds_ago=$5
  cat <<SQL
INSERT INTO topics (key, name, description, category, default_subscribed, public, position, created_at, updated_at, archived_at, frequency)
VALUES ('news', 'Newsletter', '', 'promotional', true, true, 0, $now, $now, NULL, 'weekly'),
       ('offers', 'Offers', '', 'promotional', false, true, 1, $now, $now, NULL, ''),
       ('digest', 'Digest', '', 'promotional', false, true, 2, $now, $now, NULL, ''),
       ('receipts', 'Receipts', '', 'transactional', false, false, 3, $now, $now, NULL, '');
INSERT INTO contacts (id, email, address_hash, locale, external_id, unsubscribed_all, unsubscribed_all_source, created_at, updated_at, paused_until)
SELECT '00000000-0000-4000-8000-' || $(fill "$hex12" i), 'user' || i || '@example.com', $(fill "$hash" i), NULL, NULL,
       i % 50 = 0, CASE WHEN i % 50 = 0 THEN 'one_click' END, $now, $now, NULL
FROM $(printf "$series" 1 "$CONTACTS") AS n;
INSERT INTO subscriptions (contact_id, topic_key, status, source, updated_at)
SELECT '00000000-0000-4000-8000-' || $(fill "$hex12" i), 'offers', CASE WHEN i % 10 < 8 THEN 'subscribed' ELSE 'unsubscribed' END, 'api', $now
FROM $(printf "$series" 1 "$CONTACTS") AS n WHERE i % 10 < 6;
INSERT INTO subscriptions (contact_id, topic_key, status, source, updated_at)
SELECT '00000000-0000-4000-8000-' || $(fill "$hex12" i), 'news', 'unsubscribed', 'one_click', $now
FROM $(printf "$series" 1 "$CONTACTS") AS n WHERE i % 5 = 1;
INSERT INTO suppressions (address_hash, email, reason, scope, source, note, created_at, expires_at)
SELECT $(fill "$hash" "i + $CONTACTS"), 'gone' || i || '@example.com',
       CASE i % 4 WHEN 0 THEN 'hard_bounce' WHEN 1 THEN 'complaint' WHEN 2 THEN 'manual' ELSE 'unsubscribe' END,
       CASE i % 4 WHEN 1 THEN 'promotional' WHEN 3 THEN 'promotional' ELSE 'all' END, 'feedback:ses', NULL, $now, NULL
FROM $(printf "$series" 1 "$SUPPRESSIONS") AS n;
INSERT INTO events (seq, occurred_at, kind, contact_id, address_hash, topic_key, old_status, new_status, reason, scope, source, unsubscribe_reason)
SELECT i, $(fill "$seconds_ago" "(($EVENTS - i) * 7776 / ($EVENTS / 1000))"),
  CASE WHEN i % 20 < 10 THEN 'contact_created'
       WHEN i % 20 < 15 THEN 'subscription_changed'
       WHEN i % 20 < 17 THEN 'unsubscribed_all_changed'
       WHEN i % 20 = 17 THEN 'suppression_added'
       WHEN i % 20 = 18 THEN 'unsubscribe_reason'
       ELSE 'suppression_removed' END,
  NULL, NULL,
  CASE WHEN i % 20 BETWEEN 10 AND 14 OR i % 20 = 18 THEN (CASE i % 3 WHEN 0 THEN 'news' WHEN 1 THEN 'offers' ELSE 'digest' END) END,
  CASE WHEN i % 20 BETWEEN 10 AND 16 THEN (CASE WHEN i % 7 < 5 THEN 'subscribed' ELSE 'unsubscribed' END) END,
  CASE WHEN i % 20 BETWEEN 10 AND 16 THEN (CASE WHEN i % 7 < 5 THEN 'unsubscribed' ELSE 'subscribed' END) END,
  CASE WHEN i % 20 IN (17, 19) THEN (CASE i % 4 WHEN 0 THEN 'hard_bounce' WHEN 1 THEN 'complaint' WHEN 2 THEN 'manual' ELSE 'soft_bounce' END) END,
  NULL,
  CASE i % 6 WHEN 0 THEN 'one_click' WHEN 1 THEN 'page' WHEN 2 THEN 'api' WHEN 3 THEN 'mailto' WHEN 4 THEN 'feedback:ses' ELSE 'import' END,
  CASE WHEN i % 20 = 18 THEN (CASE i % 4 WHEN 0 THEN 'too_frequent' WHEN 1 THEN 'not_relevant' WHEN 2 THEN 'never_signed_up' ELSE 'other' END) END
FROM $(printf "$series" 1 "$EVENTS") AS n;
UPDATE ledger_head SET seq = $EVENTS WHERE id = 1;
SQL
}

case $backend in
  sqlite)
    { echo "PRAGMA journal_mode = WAL; BEGIN;"
      sql "(WITH RECURSIVE s(i) AS (SELECT %s UNION ALL SELECT i + 1 FROM s WHERE i < %s) SELECT i FROM s)" \
          "randomblob(32)" "printf('%012x', %s)" "datetime('now')" \
          "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || %s || ' seconds')"
      echo "COMMIT;"; } | sqlite3 -bail "$target" >/dev/null ;;
  postgres)
    { echo "BEGIN;"
      sql "(SELECT generate_series(%s::bigint, %s::bigint) AS i)" \
          "decode(md5((%s)::text) || md5('x' || (%s)::text), 'hex')" "lpad(to_hex(%s), 12, '0')" \
          "(now() AT TIME ZONE 'UTC')" "((now() AT TIME ZONE 'UTC') - make_interval(secs => %s))"
      echo "COMMIT; ANALYZE;"; } | psql -q -v ON_ERROR_STOP=1 "$target" ;;
  *) echo "usage: $0 sqlite|postgres TARGET" >&2; exit 2 ;;
esac
