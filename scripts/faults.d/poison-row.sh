#!/usr/bin/env bash
# A row PostgreSQL refuses inside the node's ingestion: a CHECK constraint added to measurements refuses
# one target's rows (SQLSTATE 23514, as a value outside a column's range would). Passes when that row
# is in rejected_rows, every other measurement scamper produced is stored once, and a later wave of
# targets is stored too (the writer did not stall on the refused batch).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"
trap faults_cleanup EXIT

targets=200
[[ $FAULTS_QUICK == 1 ]] && targets=40
poison=127.0.1.7

faults_database
faults_sql "ALTER TABLE measurements ADD CONSTRAINT faults_poison CHECK (target <> '$poison'::inet)" >/dev/null
faults_silo a
faults_api
note "enqueueing $targets loopback targets, $poison among them"
accepted="$(faults_enqueue 0 "$targets")"
faults_settle "$SILO_HTTP_a" 300 || note "the silo did not settle in 300 s"
note "second wave: 10 more targets after the refused row"
faults_enqueue "$targets" 10 >/dev/null
faults_settle "$SILO_HTTP_a" 120 || note "the silo did not settle in 120 s"

started="$(faults_metric "$SILO_HTTP_a" cyberwatch_probe_started_total)"
rejected_metric="$(faults_metric "$SILO_HTTP_a" cyberwatch_rows_rejected_total)"
rows="$(faults_rows)"
duplicates="$(faults_duplicates)"
rejected="$(faults_sql "SELECT count(*) FROM rejected_rows WHERE table_name = 'measurements'")"
rejected_targets="$(faults_sql "SELECT string_agg(DISTINCT payload->>'target', ',') FROM rejected_rows")"
second_wave="$(faults_sql "SELECT count(DISTINCT target) FROM measurements WHERE target BETWEEN '127.0.1.$((targets + 1))' AND '127.0.1.$((targets + 10))'")"
lost=$((started - rows - rejected))
note "accepted $accepted, probes $started, stored $rows, quarantined $rejected ($rejected_targets), metric $rejected_metric, duplicates $duplicates"

status=0
[[ $rejected -ge 1 && $rejected_targets == "$poison" && $rejected_metric == "$rejected" ]] || status=1
[[ $lost == 0 && $duplicates == 0 && $second_wave == 10 && $rows -ge $((accepted + 10 - 1)) ]] || status=1
faults_row "CHECK constraint refuses 1 target's rows (23514)" "$accepted + 10 targets, $started probes" \
    "$rows stored, $rejected quarantined in rejected_rows ($poison)" "$lost" "$duplicates" \
    "ingestion went on: later wave stored ($second_wave targets)"
exit $status
