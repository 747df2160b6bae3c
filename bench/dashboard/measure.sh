#!/usr/bin/env bash
# Times the dashboard's data (GET /v1/stats?days=90) on a seeded database: the first
# call while the daily rollup catches up with 2,000,000 events, the rollup's catch-up
# (from the server's log), and the median of 20 calls once it is current.
#
#   bench/dashboard/measure.sh sqlite            (a database under target/dashboard/)
#   bench/dashboard/measure.sh postgres          (a schema of its own on $PG, dropped after)
#
# BIN picks the binary (default target/release/prefcenter).
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=$1
BIN=${BIN:-$PWD/target/release/prefcenter}
PG=${PG:-postgres://root@127.0.0.1:5432/test}
OUT=target/dashboard/$backend
rm -rf "$OUT"; mkdir -p "$OUT"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
schema=""
case $backend in
  sqlite) url="sqlite://$PWD/$OUT/stats.db"; seed_target="$PWD/$OUT/stats.db" ;;
  postgres)
    schema="dashboard_$$"
    psql -q "$PG" -c "CREATE SCHEMA $schema"
    url="$PG?options=-csearch_path%3D$schema"; seed_target="$PG?options=-csearch_path%3D$schema" ;;
esac
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$schema" ] && psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE" || true
}
trap cleanup EXIT
export PREFCENTER_DATABASE_URL=$url PREFCENTER_BIND=127.0.0.1:$port PREFCENTER_BASE_URL=$base \
  PREFCENTER_OUTBOX_DIR=$PWD/$OUT/outbox PREFCENTER_LOG=info PREFCENTER_WEBHOOK_DELIVERY=false
key=$("$BIN" api-key create --name dashboard --scopes admin | tail -n 1)   # migrates the database too
echo "seeding ($backend)…"
start=$(date +%s.%N)
"$(dirname "$0")/seed.sh" "$backend" "$seed_target"
echo "seeded in $(echo "$(date +%s.%N) - $start" | bc) s"

"$BIN" serve > "$OUT/server.log" 2>&1 &
pid=$!
# The first call as soon as the server answers: the index is loading and the rollup
# has just begun counting the 2,000,000 events.
until curl -sf "$base/healthz" >/dev/null; do sleep 0.05; done
first=$(curl -s -o "$OUT/first.json" -w '%{time_total}' "$base/v1/stats?days=90" -H "Authorization: Bearer $key")
echo "first call: ${first} s, rollup_behind $(python3 -c "import json; print(json.load(open('$OUT/first.json'))['health']['rollup_behind'])")"
until curl -sf "$base/readyz" >/dev/null; do sleep 0.2; done
echo "ready: $(grep -o 'decision index loaded.*' "$OUT/server.log" | head -1)"
until grep -q 'the daily counts caught up' "$OUT/server.log"; do
  behind=$(curl -s "$base/v1/stats?days=1" -H "Authorization: Bearer $key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["health"]["rollup_behind"])')
  [ "$behind" = 0 ] && break
  sleep 2
done
grep -o 'the daily counts caught up.*' "$OUT/server.log" || echo "(caught up by the calls themselves)"
for days in 1 30; do
  echo "days=$days: $(curl -s -o /dev/null -w '%{time_total}' "$base/v1/stats?days=$days" -H "Authorization: Bearer $key") s"
done
for i in $(seq 20); do
  curl -s -o "$OUT/steady.json" -w '%{time_total}\n' "$base/v1/stats?days=90" -H "Authorization: Bearer $key"
done | sort -n > "$OUT/steady.txt"
echo "steady state, 20 calls: median $(sed -n '10p;11p' "$OUT/steady.txt" | paste -sd' ') s, min $(head -1 "$OUT/steady.txt"), max $(tail -1 "$OUT/steady.txt")"
python3 - "$OUT/steady.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("totals:", s["totals"]["contacts"], "contacts;", s["unsubscribes"]["total"], "unsubscribes,",
      s["suppressions"]["total"], "suppressions over", s["days"], "days; health:",
      {k: s["health"][k] for k in ("ledger_seq", "rollup_seq", "rollup_behind", "index_behind")})
PY
echo "daily_counts rows: $(case $backend in sqlite) sqlite3 "$seed_target" 'select count(*) from daily_counts';; postgres) psql -Atq "$PG" -c "select count(*) from $schema.daily_counts";; esac)"
