#!/usr/bin/env bash
# PostgreSQL restarted (pg_ctl restart -m fast: every connection cut) while a real silo probes loopback
# targets and stores the measurements. Counted: probes scamper ran (the silo's cyberwatch_probe_started_total)
# against rows in measurements; a row stored twice shares target, method and start time.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"
trap faults_cleanup EXIT

targets=600
[[ $FAULTS_QUICK == 1 ]] && targets=150

faults_database
faults_silo a
faults_api
note "enqueueing $targets loopback targets"
accepted="$(faults_enqueue 0 "$targets")"
faults_wait_rows $((targets / 3))
before="$(faults_rows)"
note "restarting PostgreSQL with $before rows stored"
restart_at=$(date +%s.%N)
node_detached node_pg_run "$(node_pg_bin)/pg_ctl" -D "$CW_PG_DIR/data" -m fast -w -t 60 restart -l "$CW_PG_DIR/postgres.log" >/dev/null \
    || { faults_row "pg_ctl restart -m fast" "$accepted targets" "PostgreSQL did not restart" "?" "?" "?"; exit 1; }
# Recovery: the first row stored after the restart.
recovery="none within 120 s"
for _ in $(seq 1 1200); do
    now_rows="$(faults_rows 2>/dev/null || echo 0)"
    if [[ ${now_rows:-0} -gt $before ]]; then
        recovery="$(python3 -c "import time; print(f'{time.time() - $restart_at:.1f} s to the next stored row')")"
        break
    fi
    sleep 0.1
done
faults_settle "$SILO_HTTP_a" 300 || note "the silo did not settle in 300 s"
started="$(faults_metric "$SILO_HTTP_a" cyberwatch_probe_started_total)"
failures="$(faults_metric "$SILO_HTTP_a" cyberwatch_ingest_store_failures_total)"
rows="$(faults_rows)"
duplicates="$(faults_duplicates)"
distinct=$((rows - duplicates))
lost=$((started - distinct))
alive=yes
kill -0 "$SILO_PID_a" 2>/dev/null || alive=no
note "accepted $accepted, probes $started, rows $rows, duplicates $duplicates, failed batches $failures, silo alive $alive"
status=0
[[ $lost == 0 && $duplicates == 0 && $alive == yes && $started -ge $accepted ]] || status=1
faults_row "pg_ctl restart -m fast at $before rows" "$accepted targets, $started probes" \
    "$rows rows stored; $failures batch(es) retried; silo not restarted" "$lost" "$duplicates" "$recovery"
exit $status
