# shellcheck shell=bash
# Helpers of the fault scenarios (scripts/faults.d/*.sh): a throw-away database on the private
# PostgreSQL, a silo and API on free ports, metrics and counts, and the one table row each scenario
# prints. Sourced after scripts/lib/node.sh, with node_load_env done (scripts/faults exports the env).

FAULTS_QUICK=0
[[ ${1:-} == --quick ]] && FAULTS_QUICK=1
FAULTS_NAME="$(basename "$0" .sh)"
FAULTS_DIR="$CW_DATA/faults/$FAULTS_NAME"
FAULTS_DB="cwf_${FAULTS_NAME//-/_}"
FAULTS_PIDS=()
rm -rf "$FAULTS_DIR"
mkdir -p "$FAULTS_DIR"

# Progress goes to stderr: stdout is the scenario's one table row.
note() { printf '%s: %s\n' "$FAULTS_NAME" "$*" >&2; }

# The row: | scenario | fault | load | outcome | lost | duplicated | recovery |, then the exit status.
faults_row() {
    local fault="$1" load="$2" outcome="$3" lost="$4" duplicated="$5" recovery="$6"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$FAULTS_NAME" "$fault" "$load" "$outcome" "$lost" "$duplicated" "$recovery"
}

faults_free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

faults_admin() { PGOPTIONS="-c client_min_messages=warning" psql "host=$CW_PG_SOCKET port=$CW_PG_PORT user=cyberwatch dbname=postgres" -qtAX "$@"; }

# psql on the scenario's database, one value per line.
faults_sql() { psql "host=$CW_PG_SOCKET port=$CW_PG_PORT user=cyberwatch dbname=$FAULTS_DB" -qtAX -c "$1"; }

# The silo and API reach PostgreSQL over TCP, so a firewall rule on the port cuts them off.
FAULTS_DSN="Host=127.0.0.1;Port=$CW_PG_PORT;Database=$FAULTS_DB;Username=cyberwatch;Password=$CYBERWATCH_PG_PASSWORD"

# A scenario that sets FAULTS_NETNS (before starting anything) runs its silo and API in that network
# namespace: they reach PostgreSQL and Redis through their Unix sockets, and the helpers reach them there.
FAULTS_NETNS=""
faults_in_ns() {
    if [[ -n $FAULTS_NETNS ]]; then
        ip netns exec "$FAULTS_NETNS" "$@"
    else
        "$@"
    fi
}
faults_use_netns() {
    FAULTS_NETNS="$1"
    FAULTS_DSN="Host=$CW_PG_SOCKET;Port=$CW_PG_PORT;Database=$FAULTS_DB;Username=cyberwatch;Password=$CYBERWATCH_PG_PASSWORD"
}

# A fresh database with the schema and settings for a fast, loopback-only node.
faults_database() {
    faults_admin -c "DROP DATABASE IF EXISTS $FAULTS_DB WITH (FORCE)" >/dev/null
    # FAULTS_DB_OPTIONS: e.g. "TABLESPACE name", to put the scenario's data on a filesystem of its own.
    faults_admin -c "CREATE DATABASE $FAULTS_DB ${FAULTS_DB_OPTIONS:-}" >/dev/null
    CYBERWATCH_PG_DSN="$FAULTS_DSN" dotnet "$CW_SILO_DLL" migrate >"$FAULTS_DIR/migrate.log" 2>&1 \
        || { cat "$FAULTS_DIR/migrate.log" >&2; die "migrations failed"; }
    faults_sql "UPDATE settings SET value = value || '{\"rate_limit_per_minute\": 6000, \"per_prefix_interval_seconds\": 0,
        \"target_cooldown_seconds\": 0, \"max_concurrent_traceroutes\": 8, \"probe_attempts\": 1}'::jsonb WHERE key = 'worker_settings'" >/dev/null
}

# faults_silo NAME [DEAD]: starts a silo of the scenario's cluster; sets SILO_HTTP_<NAME> and SILO_PID_<NAME>.
# With DEAD (a silo killed before), it takes that silo's ports: Orleans then declares the dead one gone
# at once (same endpoint, newer generation) instead of after its missed heartbeats.
faults_silo() {
    local name="$1" dead="${2:-}" http silo_port gateway_port
    http="http://127.0.0.1:$(faults_free_port)"
    silo_port="$(faults_free_port)"
    gateway_port="$(faults_free_port)"
    if [[ -n $dead ]]; then
        local ports="SILO_PORTS_$dead"
        read -r silo_port gateway_port <<<"${!ports}"
    fi
    printf -v "SILO_PORTS_$name" '%s %s' "$silo_port" "$gateway_port"
    env -u CYBERWATCH_API_URL DOTNET_ENVIRONMENT=Production \
        CYBERWATCH_PG_DSN="$FAULTS_DSN" CYBERWATCH_REDIS_URL="$CYBERWATCH_REDIS_URL" \
        CYBERWATCH_CLUSTER_ID="$FAULTS_DB" CYBERWATCH_SERVICE_ID="$FAULTS_DB" CYBERWATCH_VANTAGE=faults \
        CYBERWATCH_SILO_PORT="$silo_port" CYBERWATCH_GATEWAY_PORT="$gateway_port" CYBERWATCH_SILO_HTTP="$http" \
        CYBERWATCH_ALLOWED_TARGETS="${FAULTS_ALLOWED_TARGETS:-127.0.0.0/8}" CYBERWATCH_LOG_LEVEL=Information \
        setsid ${FAULTS_NETNS:+ip netns exec "$FAULTS_NETNS"} dotnet "$CW_SILO_DLL" run >"$FAULTS_DIR/silo-$name.log" 2>&1 </dev/null &
    local pid=$!
    FAULTS_PIDS+=("$pid")
    printf -v "SILO_PID_$name" '%s' "$pid"
    printf -v "SILO_HTTP_$name" '%s' "$http"
    faults_wait_http "$http/healthz" 120 "$FAULTS_DIR/silo-$name.log" "$pid"
}

# faults_api: starts the API; sets API_URL and API_PID.
faults_api() {
    API_URL="http://127.0.0.1:$(faults_free_port)"
    env -u CYBERWATCH_SILO_HTTP DOTNET_ENVIRONMENT=Production \
        CYBERWATCH_PG_DSN="$FAULTS_DSN" CYBERWATCH_REDIS_URL="$CYBERWATCH_REDIS_URL" \
        CYBERWATCH_CLUSTER_ID="$FAULTS_DB" CYBERWATCH_SERVICE_ID="$FAULTS_DB" CYBERWATCH_API_URL="$API_URL" \
        CYBERWATCH_ALLOWED_TARGETS="${FAULTS_ALLOWED_TARGETS:-127.0.0.0/8}" CYBERWATCH_API_ANONYMOUS_ROLE=admin \
        setsid ${FAULTS_NETNS:+ip netns exec "$FAULTS_NETNS"} dotnet "$CW_API_DLL" >"$FAULTS_DIR/api.log" 2>&1 </dev/null &
    API_PID=$!
    FAULTS_PIDS+=("$API_PID")
    faults_wait_http "$API_URL/ready" 120 "$FAULTS_DIR/api.log" "$API_PID"
}

faults_wait_http() {
    local url="$1" seconds="$2" log="$3" pid="$4" i
    for ((i = 0; i < seconds * 4; i++)); do
        faults_in_ns curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "process $pid exited during start-up ($log)"; }
        sleep 0.25
    done
    tail -n 20 "$log" >&2
    die "$url did not answer within ${seconds}s"
}

# Stops what the scenario started, by pid (their process groups: setsid made each its own).
faults_cleanup() {
    local pid
    for pid in "${FAULTS_PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${FAULTS_PIDS[@]}"; do
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    FAULTS_PIDS=()
}

# faults_metric URL NAME: the sum of a Prometheus series over its labels (0 when absent).
faults_metric() {
    faults_in_ns curl -fsS --max-time 5 "$1/metrics" 2>/dev/null \
        | awk -v name="$2" '$1 == name || index($1, name "{") == 1 { sum += $NF } END { printf "%d\n", sum + 0 }'
}

# faults_enqueue FIRST COUNT: enqueues 127.0.<n/250+1>.<n%250+1> for n in FIRST..FIRST+COUNT-1; prints accepted.
faults_enqueue() {
    local first="$1" count="$2"
    python3 - "$first" "$count" <<'PY' >"$FAULTS_DIR/enqueue.json"
import json, sys
first, count = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({"targets": [f"127.0.{n // 250 + 1}.{n % 250 + 1}" for n in range(first, first + count)], "source": "api"}))
PY
    faults_in_ns curl -fsS --max-time 120 -H 'Content-Type: application/json' --data @"$FAULTS_DIR/enqueue.json" "$API_URL/targets/enqueue" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["accepted"])'
}

# faults_enqueue_addresses ADDRESS...: enqueues these targets through the API; prints accepted.
faults_enqueue_addresses() {
    python3 -c 'import json, sys; print(json.dumps({"targets": sys.argv[1:], "source": "api"}))' "$@" >"$FAULTS_DIR/enqueue.json"
    faults_in_ns curl -fsS --max-time 120 -H 'Content-Type: application/json' --data @"$FAULTS_DIR/enqueue.json" "$API_URL/targets/enqueue" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["accepted"])'
}

# faults_settle URL SECONDS: waits until the silo at URL has started no probe and buffered nothing for 10 s.
faults_settle() {
    local url="$1" seconds="$2" last=-1 quiet=0 started buffered i
    for ((i = 0; i < seconds; i++)); do
        started="$(faults_metric "$url" cyberwatch_probe_started_total)"
        buffered="$(faults_metric "$url" cyberwatch_ingest_buffered)"
        if [[ $started == "$last" && $buffered == 0 ]]; then
            quiet=$((quiet + 1))
            [[ $quiet -ge 10 ]] && return 0
        else
            quiet=0
        fi
        last="$started"
        sleep 1
    done
    return 1
}

# Rows of measurements, and how many of them repeat a (target, started_at): the same measurement twice.
faults_rows() { faults_sql "SELECT count(*) FROM measurements"; }
faults_duplicates() { faults_sql "SELECT count(*) - count(DISTINCT (target, started_at, method)) FROM measurements"; }

# Waits (at most 2 minutes) until at least $1 measurements are stored: the fault then hits mid-ingest.
faults_wait_rows() {
    local _
    for _ in $(seq 1 240); do
        [[ $(faults_rows) -ge $1 ]] && return 0
        sleep 0.5
    done
    return 0
}
