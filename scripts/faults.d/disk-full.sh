#!/usr/bin/env bash
# The disk under PostgreSQL's data fills up mid-ingest. The scenario's database lives in a tablespace on a
# tmpfs of its own (64 MB); once a third of the targets are stored, a file fills that filesystem, so
# PostgreSQL refuses to extend the tables (SQLSTATE 53100, disk_full) while its WAL and the other databases
# go on. After 60 s (20 s with --quick) the file is removed. Passes when every probe scamper ran is stored
# once, the silo said why it was waiting (the PostgreSQL error in its log), and it resumed without a restart.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"

targets=400
full=60
if [[ $FAULTS_QUICK == 1 ]]; then
    targets=120
    full=20
fi
disk="$FAULTS_DIR/disk"
space=cwf_disk_full
release() {
    faults_cleanup
    faults_admin -c "DROP DATABASE IF EXISTS $FAULTS_DB WITH (FORCE)" >/dev/null 2>&1
    faults_admin -c "DROP TABLESPACE IF EXISTS $space" >/dev/null 2>&1
    umount "$disk" 2>/dev/null || true
}
trap release EXIT

# Leftovers of an interrupted run first: the tablespace cannot go while a database uses it.
faults_admin -c "DROP DATABASE IF EXISTS $FAULTS_DB WITH (FORCE)" >/dev/null 2>&1
faults_admin -c "DROP TABLESPACE IF EXISTS $space" >/dev/null 2>&1
mkdir -p "$disk"
if ! mount -t tmpfs -o size=64m,mode=0700 tmpfs "$disk"; then
    faults_row "disk full" "-" "cannot mount a tmpfs" "?" "?" "?"
    exit 1
fi
chown postgres: "$disk"
faults_admin -c "CREATE TABLESPACE $space LOCATION '$disk'" >/dev/null \
    || { faults_row "disk full" "-" "cannot create the tablespace" "?" "?" "?"; exit 1; }
FAULTS_DB_OPTIONS="TABLESPACE $space"
faults_database
# 10 probes a second: the ingest lasts long enough for the disk to fill in the middle of it.
faults_sql "UPDATE settings SET value = value || '{\"rate_limit_per_minute\": 600}'::jsonb WHERE key = 'worker_settings'" >/dev/null
faults_silo a
faults_api
note "enqueueing $targets loopback targets; database on a 64 MB tmpfs"
accepted="$(faults_enqueue 0 "$targets")"
faults_wait_rows $((targets / 3))
before="$(faults_rows)"
# Filled to the last byte: dd stops at ENOSPC.
dd if=/dev/zero of="$disk/filler" bs=1M status=none 2>/dev/null
free_kb="$(df -k --output=avail "$disk" | tail -n 1 | tr -d ' ')"
note "filled the filesystem of the database ($free_kb kB left) with $before rows stored; freeing it in $full s"
filled_at=$SECONDS
# No new connection to the database gets in while its filesystem is full (PostgreSQL cannot write the
# relation cache file), psql included: what waits is read from the silo's metrics.
codes=()
buffered=0
while [[ $((SECONDS - filled_at)) -lt $full ]]; do
    codes+=("$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 "$API_URL/targets?limit=1" 2>/dev/null || echo 000)")
    waiting="$(faults_metric "$SILO_HTTP_a" cyberwatch_ingest_buffered)"
    [[ $waiting -gt $buffered ]] && buffered=$waiting
    sleep 2
done
rm -f "$disk/filler"
freed_at=$(date +%s.%N)
recovery="measurements still waiting 180 s after the space came back"
for _ in $(seq 1 1800); do
    if [[ $(faults_metric "$SILO_HTTP_a" cyberwatch_ingest_buffered) == 0 ]]; then
        recovery="$(python3 -c "import time; print(f'{time.time() - $freed_at:.1f} s until nothing waited')")"
        break
    fi
    sleep 0.1
done
faults_settle "$SILO_HTTP_a" 300 || note "the silo did not settle in 300 s"
started="$(faults_metric "$SILO_HTTP_a" cyberwatch_probe_started_total)"
rows="$(faults_rows)"
duplicates="$(faults_duplicates)"
lost=$((started - (rows - duplicates)))
said="$(grep -c 'No space left on device\|53100\|could not write init file' "$FAULTS_DIR/silo-a.log" || true)"
why="$(grep -m1 -o 'Cannot store [0-9]* measurement(s) ([^)]*)' "$FAULTS_DIR/silo-a.log" || true)"
alive=yes
kill -0 "$SILO_PID_a" 2>/dev/null && kill -0 "$API_PID" 2>/dev/null || alive=no
api="$(printf '%s\n' "${codes[@]}" | sort | uniq -c | awk '{printf "%s%s × %s", (NR > 1 ? ", " : ""), $1, $2}')"
note "accepted $accepted, probes $started, rows $rows (at most $buffered waiting in the silo while full), duplicates $duplicates; log lines naming the full disk: $said; alive: $alive"
status=0
[[ $lost == 0 && $duplicates == 0 && $alive == yes && $said -gt 0 && $buffered -gt 0 ]] || status=1
faults_row "tablespace filesystem full (64 MB tmpfs) for ${full} s at $before rows" "$accepted targets, $started probes" \
    "$rows rows stored; while full up to $buffered measurements waited in the silo, which logged ${why:-nothing} ($said such lines); API reads: ${api:-no answers}" \
    "$lost" "$duplicates" "$recovery; no restart"
exit $status
