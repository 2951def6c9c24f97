#!/usr/bin/env bash
# PostgreSQL unreachable for 60 s (30 s with --quick): an iptables DROP on its TCP port, so packets vanish
# and connections hang, as when a network path or the database host dies. A real silo and API keep running
# under probing load. Passes when every probe scamper ran is stored once after the cut ends, the API
# answered 503 with Retry-After (not 500) while cut off, and silo and API recovered without a restart.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"

targets=400
cut=60
if [[ $FAULTS_QUICK == 1 ]]; then
    targets=150
    cut=30
fi
rule=(INPUT -p tcp --dport "$CW_PG_PORT" -j DROP)
restore() { iptables -D "${rule[@]}" 2>/dev/null || true; }
trap 'restore; faults_cleanup' EXIT
command -v iptables >/dev/null || { faults_row "iptables DROP" "-" "skipped: no iptables" "?" "?" "?"; exit 1; }

faults_database
faults_silo a
faults_api
note "enqueueing $targets loopback targets"
accepted="$(faults_enqueue 0 "$targets")"
faults_wait_rows $((targets / 4))
before="$(faults_rows)"
note "cutting PostgreSQL off for $cut s with $before rows stored"
iptables -I "${rule[@]}" || { faults_row "iptables DROP" "-" "iptables refused the rule" "?" "?" "?"; exit 1; }
cut_at=$SECONDS
codes=()
retry_after=""
while [[ $((SECONDS - cut_at)) -lt $cut ]]; do
    code="$(curl -sS -o /dev/null -D "$FAULTS_DIR/headers" -w '%{http_code}:%{time_total}' --max-time 100 "$API_URL/targets?limit=1" 2>/dev/null || echo 000)"
    codes+=("$code")
    code="${code%%:*}"
    [[ $code == 503 ]] && retry_after="$(grep -i '^retry-after:' "$FAULTS_DIR/headers" | tr -d '\r' | awk '{print $2}')"
    sleep 2
done
restore
restored_at=$(date +%s.%N)
note "cut ended; API answers while cut off: ${codes[*]}"
recovery="none within 180 s"
for _ in $(seq 1 1800); do
    if [[ $(faults_rows) -gt $before ]]; then
        recovery="$(python3 -c "import time; print(f'{time.time() - $restored_at:.1f} s to the next stored row')")"
        break
    fi
    sleep 0.1
done
faults_settle "$SILO_HTTP_a" 300 || note "the silo did not settle in 300 s"
api_after="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 "$API_URL/targets?limit=1" 2>/dev/null || echo 000)"
started="$(faults_metric "$SILO_HTTP_a" cyberwatch_probe_started_total)"
rows="$(faults_rows)"
duplicates="$(faults_duplicates)"
lost=$((started - (rows - duplicates)))
alive=yes
kill -0 "$SILO_PID_a" 2>/dev/null && kill -0 "$API_PID" 2>/dev/null || alive=no
n500=0; n503=0
slowest=0
for c in "${codes[@]}"; do
    t="${c#*:}"; c="${c%%:*}"
    slowest="$(python3 -c "print(max(float('$slowest'), float('${t:-0}' if '$t' != '$c' else 0)))")"
    [[ $c == 5?? && $c != 503 ]] && n500=$((n500 + 1))
    [[ $c == 503 ]] && n503=$((n503 + 1))
done
note "accepted $accepted, probes $started, rows $rows, duplicates $duplicates, API after: $api_after, alive: $alive"
status=0
[[ $lost == 0 && $duplicates == 0 && $alive == yes && $n500 == 0 && $n503 -ge 1 && -n $retry_after && $api_after == 200 ]] || status=1
faults_row "TCP to PostgreSQL dropped ${cut} s at $before rows" "$accepted targets, $started probes" \
    "$rows rows stored; API while cut: ${#codes[@]} requests, $n503 × 503 (Retry-After ${retry_after:-none}), $n500 other 5xx, slowest answer ${slowest} s; after: $api_after" \
    "$lost" "$duplicates" "$recovery; no restart"
exit $status
