# shellcheck shell=bash
# The body of scamper-killed.sh and scamper-hung.sh (sourced, not run; not *.sh, so scripts/faults does
# not run it on its own). A real silo and API of the suite (scripts/lib/faults.sh: a database of its own
# on the checkout's PostgreSQL, free ports), loopback targets enqueued through the API, the silo's scamper
# hit with SIGKILL or SIGSTOP while they are probed; then PostgreSQL is asked whether every accepted
# target got its measurement, and how long until probes ran again.
#
#   scamper_fault SIGNAL [--quick]
# Prints one row: | scenario | fault | load | outcome | lost | duplicated | recovery |; exit 0 on pass.

scamper_fault() {
    local signal="$1"
    ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    # shellcheck source=scripts/lib/node.sh
    source "$ROOT/scripts/lib/node.sh"
    node_load_env
    # shellcheck source=scripts/lib/faults.sh
    source "$ROOT/scripts/lib/faults.sh" "${2:-}"
    trap faults_cleanup EXIT

    local targets=120 wait_seconds=600 per_minute=240
    [[ $FAULTS_QUICK == 1 ]] && targets=24 wait_seconds=240 per_minute=60
    faults_database
    # Probes spread over about half a minute, so the fault finds most targets still queued or in flight
    # (at the suite's usual pace they would all be measured before it).
    faults_sql "UPDATE settings SET value = value || '{\"rate_limit_per_minute\": $per_minute}'::jsonb WHERE key = 'worker_settings'" >/dev/null
    faults_silo a
    faults_api
    local t0
    t0="$(faults_sql "SELECT now()")"
    note "enqueueing $targets loopback targets"
    local accepted
    accepted="$(faults_enqueue 0 "$targets")"

    local scamper_pid="" i
    for ((i = 0; i < 200; i++)); do
        scamper_pid="$(pgrep -P "$SILO_PID_a" -x scamper | head -n 1 || true)"
        [[ -n $scamper_pid ]] && break
        sleep 0.1
    done
    if [[ -z $scamper_pid ]]; then
        faults_row "kill -$signal the silo's scamper" "$accepted targets" "the silo has no scamper" "?" "?" "?"
        return 1
    fi
    # Fault once a few targets are measured, so the rest are queued or in flight.
    faults_wait_rows 3
    local fault_at fault_ms
    fault_at="$(faults_sql "SELECT now()")"
    fault_ms="$(date +%s%3N)"
    note "kill -$signal scamper (pid $scamper_pid) with $(faults_rows) rows stored"
    kill "-$signal" "$scamper_pid"

    # Recovery: the first measurement a new scamper made after the fault.
    local recovery="none" new_pid=""
    for ((i = 0; i < wait_seconds * 10; i++)); do
        new_pid="$(pgrep -P "$SILO_PID_a" -x scamper | grep -vx "$scamper_pid" | head -n 1 || true)"
        if [[ -n $new_pid && "$(faults_sql "SELECT count(*) FROM measurements WHERE started_at > '$fault_at' AND tool = 'scamper'")" -ge 1 ]]; then
            recovery="$(((($(date +%s%3N) - fault_ms) / 100)))"
            recovery="$((recovery / 10)).$((recovery % 10)) s"
            break
        fi
        sleep 0.1
    done
    # A stopped scamper was killed by the silo's watchdog; this only tidies up if it was not.
    kill -CONT "$scamper_pid" 2>/dev/null || true

    # Every accepted target measured at least once since the start?
    local measured=0
    for ((i = 0; i < wait_seconds; i++)); do
        measured="$(faults_sql "SELECT count(DISTINCT target) FROM measurements WHERE started_at >= '$t0'")"
        [[ $measured -ge $accepted ]] && break
        sleep 1
    done
    local lost=$((accepted - measured)) duplicated restarts
    duplicated="$(faults_duplicates)"
    restarts="$(grep -c -i "scamper.*\(restart\|hung\|exited\)" "$FAULTS_DIR/silo-a.log" || true)"
    note "accepted $accepted, measured $measured, duplicates $duplicated, recovery $recovery, scamper log lines $restarts"
    local status=0
    [[ $accepted -eq $targets && $lost -eq 0 && $duplicated -eq 0 && $recovery != none ]] || status=1
    faults_row "kill -$signal the silo's scamper" "$accepted loopback targets" \
        "$measured of $accepted targets measured; a new scamper (pid $new_pid) measured again" "$lost" "$duplicated" "$recovery"
    return $status
}
