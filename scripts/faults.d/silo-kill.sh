#!/usr/bin/env bash
# kill -9 of one silo of a two-silo cluster on one database, under probing load. Targets are enqueued
# through the API and remeasured every minute; after the kill, the dead silo's schedule shards and
# target grains must come back on the survivor. Measured: the time until every accepted target has been
# measured again after the kill (the last shard ticking on the survivor, plus at most one interval),
# orphans (active targets never measured) and duplicates (one measurement stored twice).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"
trap faults_cleanup EXIT

targets=400
limit=240
if [[ $FAULTS_QUICK == 1 ]]; then
    targets=100
    limit=180
fi

faults_database
faults_sql "UPDATE settings SET value = value || '{\"interval_minutes\": 1, \"jitter_fraction\": 0}'::jsonb WHERE key = 'remeasurement_settings'" >/dev/null
faults_silo a
faults_silo b
faults_api
note "enqueueing $targets loopback targets on a two-silo cluster"
accepted="$(faults_enqueue 0 "$targets")"
for _ in $(seq 1 180); do
    [[ $(faults_sql "SELECT count(DISTINCT target) FROM measurements") -ge $accepted ]] && break
    sleep 1
done
measured_before="$(faults_sql "SELECT count(DISTINCT target) FROM measurements")"
kill_at="$(faults_sql "SELECT now()")"
note "kill -9 silo b (pid $SILO_PID_b) at $kill_at; $measured_before of $accepted targets measured"
kill -KILL -- "-$SILO_PID_b" 2>/dev/null || kill -KILL "$SILO_PID_b"
begin=$SECONDS
recovery=""
while [[ $((SECONDS - begin)) -lt $limit ]]; do
    again="$(faults_sql "SELECT count(DISTINCT target) FROM measurements WHERE started_at > '$kill_at'")"
    if [[ $again -ge $accepted ]]; then
        recovery="$((SECONDS - begin)) s until every target was measured again on the survivor"
        break
    fi
    sleep 1
done
again="$(faults_sql "SELECT count(DISTINCT target) FROM measurements WHERE started_at > '$kill_at'")"
[[ -z $recovery ]] && recovery="after ${limit} s only $again of $accepted targets measured again"
active="$(faults_sql "SELECT count(*) FROM targets")"
orphans="$(faults_sql "SELECT count(*) FROM targets t WHERE NOT EXISTS (SELECT 1 FROM measurements m WHERE m.target = t.ip)")"
duplicates="$(faults_duplicates)"
rows="$(faults_rows)"
alive=yes
kill -0 "$SILO_PID_a" 2>/dev/null || alive=no
note "targets $active, rows $rows, orphans $orphans, duplicates $duplicates, re-measured $again, survivor alive $alive"
status=0
[[ $again -ge $accepted && $orphans == 0 && $duplicates == 0 && $alive == yes && $((SECONDS - begin)) -le 150 ]] || status=1
faults_row "kill -9 one of 2 silos" "$accepted targets, remeasured every 1 min, $rows rows" \
    "$again of $accepted targets measured again after the kill; $orphans orphan(s)" \
    "$orphans target(s) never measured" "$duplicates" "$recovery"
exit $status
