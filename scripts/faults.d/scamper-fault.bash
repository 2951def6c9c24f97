# shellcheck shell=bash
# The body of scamper-killed.sh and scamper-hung.sh (sourced, not run; not *.sh, so scripts/faults does
# not run it on its own). A real silo and API on a private PostgreSQL/Redis, loopback targets enqueued
# through the API, the silo's scamper hit with SIGKILL or SIGSTOP while they are probed; then PostgreSQL
# is asked whether every accepted target got its measurement, and how long until probes ran again.
#
#   scamper_fault NAME SIGNAL [--quick]
# Prints one row: | scenario | fault | load | outcome | lost | duplicated | recovery |; exit 0 on pass.
# Everything else goes to stderr. Ports and data directory are its own (CYBERWATCH_FAULTS_* to change).

scamper_fault() {
    local name="$1" signal="$2" quick=0
    [[ ${3:-} == --quick ]] && quick=1
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    exec 3>&1 1>&2

    export CYBERWATCH_DATA_DIR="${CYBERWATCH_FAULTS_DATA_DIR:-$root/.data/faults-scamper}"
    export CYBERWATCH_PG_PORT="${CYBERWATCH_FAULTS_PG_PORT:-55461}"
    export CYBERWATCH_REDIS_PORT="${CYBERWATCH_FAULTS_REDIS_PORT:-56461}"
    export CYBERWATCH_API_URL="http://127.0.0.1:${CYBERWATCH_FAULTS_API_PORT:-18461}"
    export CYBERWATCH_SILO_HTTP="http://127.0.0.1:${CYBERWATCH_FAULTS_SILO_HTTP_PORT:-18462}"
    export CYBERWATCH_SILO_PORT="${CYBERWATCH_FAULTS_SILO_PORT:-11461}" CYBERWATCH_GATEWAY_PORT="${CYBERWATCH_FAULTS_GATEWAY_PORT:-30461}"
    # The Debug build scripts/test makes, unless told otherwise.
    export CYBERWATCH_CONFIGURATION="${CYBERWATCH_CONFIGURATION:-Debug}"
    export CYBERWATCH_ALLOWED_TARGETS=127.0.0.0/8 CYBERWATCH_API_ANONYMOUS_ROLE=probe
    export CYBERWATCH_CLUSTER_ID="faults-scamper" CYBERWATCH_VANTAGE="faults-$name"
    unset CYBERWATCH_PG_DSN CYBERWATCH_REDIS_URL
    ROOT="$root"
    # shellcheck source=scripts/lib/node.sh
    source "$root/scripts/lib/node.sh"

    local targets=$((quick == 1 ? 24 : 120)) wait_seconds=$((quick == 1 ? 240 : 600))
    trap 'node_stop_process api; node_stop_process silo; node_stop_redis; node_stop_postgres' EXIT

    node_start_postgres
    node_start_redis
    node_build
    node_migrate >/dev/null
    node_start_silo
    node_start_api
    local silo_pid
    silo_pid="$(cat "$CW_RUN_DIR/silo.pid")"
    sql() { psql "$(node_psql_dsn)" -X -q -tA -c "$1"; }
    local t0
    t0="$(sql "SELECT now()")"

    # Loopback targets spread over /24s (one /24 is spaced out by the per-prefix interval): 127.$b.$c.1.
    # Each scenario its own range: the data directory is shared, and a target measured by an earlier run
    # is not due again, so it would never be measured here (counted as lost).
    local base=40 list=() i
    [[ $signal == STOP ]] && base=120
    for ((i = 0; i < targets; i++)); do
        list+=("\"127.$((base + i / 8)).$((i % 8)).1\"")
    done
    local body
    body="{\"targets\":[$(IFS=,; echo "${list[*]}")]}"
    curl -fsS -X POST -H 'Content-Type: application/json' -d "$body" "$CYBERWATCH_API_URL/targets/enqueue" >/dev/null \
        || die "enqueue failed"

    local scamper_pid=""
    for ((i = 0; i < 200; i++)); do
        scamper_pid="$(pgrep -P "$silo_pid" -x scamper | head -n 1 || true)"
        [[ -n $scamper_pid ]] && break
        sleep 0.1
    done
    [[ -n $scamper_pid ]] || die "the silo has no scamper"
    # Fault once a few targets are measured, so the rest are queued or in flight.
    for ((i = 0; i < 600; i++)); do
        [[ "$(sql "SELECT count(*) FROM measurements WHERE started_at >= '$t0' AND vantage = '$CYBERWATCH_VANTAGE'")" -ge 3 ]] && break
        sleep 0.1
    done
    local fault_at fault_ms
    fault_at="$(sql "SELECT now()")"
    fault_ms="$(date +%s%3N)"
    say "$name: kill -$signal $scamper_pid"
    kill "-$signal" "$scamper_pid"

    # Recovery: the first measurement a new scamper made after the fault.
    local recovery="none" new_pid=""
    for ((i = 0; i < wait_seconds * 10; i++)); do
        new_pid="$(pgrep -P "$silo_pid" -x scamper | grep -vx "$scamper_pid" | head -n 1 || true)"
        if [[ -n $new_pid && "$(sql "SELECT count(*) FROM measurements WHERE started_at > '$fault_at' AND vantage = '$CYBERWATCH_VANTAGE' AND tool = 'scamper'")" -ge 1 ]]; then
            recovery="$(( ($(date +%s%3N) - fault_ms) / 100 ))"
            recovery="$((recovery / 10)).$((recovery % 10)) s"
            break
        fi
        sleep 0.1
    done
    kill -CONT "$scamper_pid" 2>/dev/null || true

    # Every accepted target measured at least once since the start?
    local measured=0
    for ((i = 0; i < wait_seconds; i++)); do
        measured="$(sql "SELECT count(DISTINCT target) FROM measurements WHERE started_at >= '$t0' AND vantage = '$CYBERWATCH_VANTAGE'")"
        [[ $measured -ge $targets ]] && break
        sleep 1
    done
    local lost=$((targets - measured)) duplicated
    duplicated="$(sql "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM measurements WHERE started_at >= '$t0' AND vantage = '$CYBERWATCH_VANTAGE' GROUP BY target) m")"
    local outcome=pass
    [[ $lost -eq 0 && $recovery != none ]] || outcome=fail
    printf '| %s | kill -%s the silo'"'"'s scamper | %d loopback targets | %s | %d | %s | %s |\n' \
        "$name" "$signal" "$targets" "$outcome" "$lost" "$duplicated" "$recovery" >&3
    [[ $outcome == pass ]]
}
