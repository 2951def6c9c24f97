#!/usr/bin/env bash
# kill -9 of Redis, configured as installed (scripts/lib/node.sh and scripts/install.sh: appendonly yes,
# appendfsync everysec), while DNS handoff entries stream in and a real silo consumes them into
# PostgreSQL (dns_queries, once per entry id through the dns_handoff_applied journal). Redis is started
# again with the same config and replays its append-only file.
# Counted: entries Redis acknowledged (XADD answered with an id) against entries applied; each entry
# carries one query of its own domain, so a count above 1 in dns_queries is an entry applied twice.
# everysec allows the writes of about the last second before the kill to be lost: the scenario passes when
# no more than the entries acknowledged in the 2 s before the kill are lost, and none is applied twice.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"
trap faults_cleanup EXIT

seconds=40
[[ $FAULTS_QUICK == 1 ]] && seconds=16
fsync="$(grep -E '^appendfsync' "$CW_REDIS_DIR/redis.conf" | awk '{print $2}')"
stream="cwf:dns:$(date +%s)"

faults_database
export CYBERWATCH_DNS_STREAM="$stream"
faults_silo a
note "streaming handoff entries into $stream for $seconds s; kill -9 Redis (appendfsync $fsync) at $((seconds / 2)) s"
python3 - "$CW_REDIS_PORT" "$CYBERWATCH_REDIS_PASSWORD" "$stream" "$seconds" "$FAULTS_DIR/acked.tsv" <<'PY' &
import json, socket, sys, time, uuid, datetime
port, password, stream, seconds, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    f = s.makefile("rb")
    call(s, f, "AUTH", password)
    return s, f

def call(s, f, *args):
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args))
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    if line[:1] == b"$":
        n = int(line[1:])
        data = f.read(n + 2)[:-2]
        return data.decode()
    if line[:1] == b"-":
        raise RuntimeError(line.decode().strip())
    return line.decode().strip()

hour = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0).isoformat()
conn = None
end = time.time() + seconds
n = 0
with open(out, "w") as acked:
    entry = None
    while time.time() < end:
        # Like the collector's spool: an entry whose XADD got no answer is sent again with the same id.
        if entry is None:
            entry_id = str(uuid.uuid4())
            entry = {"id": entry_id, "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                     "aggregates": [{"domain_key": f"f{n}.faults.example", "policy": "plain", "qtype": "A", "hour": hour, "count": 1, "score": 0}],
                     "targets": []}
        try:
            if conn is None:
                conn = connect()
            reply = call(*conn, "XADD", stream, "*", "entry", json.dumps(entry))
            acked.write(f"{time.time():.3f}\t{entry_id}\t{reply}\n")
            acked.flush()
            n += 1
            entry = None
        except Exception:
            conn = None
            time.sleep(0.1)
            continue
        time.sleep(0.005)
PY
producer=$!
sleep $((seconds / 2))
redis_pid="$(cat "$CW_REDIS_DIR/redis.pid")"
kill_at="$(date +%s.%N)"
kill -KILL "$redis_pid"
note "killed Redis (pid $redis_pid)"
sleep 2
# Started again by hand with the same config: node_start_redis would take the exported CYBERWATCH_REDIS_URL
# for an external Redis and leave it down.
node_detached redis-server "$CW_REDIS_DIR/redis.conf" >&2
for _ in $(seq 1 100); do
    REDISCLI_AUTH="$CYBERWATCH_REDIS_PASSWORD" redis-cli -p "$CW_REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
done
wait "$producer"
acked="$(wc -l <"$FAULTS_DIR/acked.tsv")"
in_window="$(awk -v k="$kill_at" '$1 >= k - 2 && $1 <= k' "$FAULTS_DIR/acked.tsv" | wc -l)"
# Applied: wait until the journal stops growing for 10 s.
last=-1; quiet=0
for _ in $(seq 1 180); do
    applied="$(faults_sql "SELECT count(*) FROM dns_handoff_applied")"
    if [[ $applied == "$last" ]]; then quiet=$((quiet + 1)); [[ $quiet -ge 10 ]] && break; else quiet=0; fi
    last="$applied"
    sleep 1
done
# Through a file: the id list is longer than one command-line argument may be.
{
    echo "CREATE TEMP TABLE acked (id uuid);"
    echo "COPY acked FROM STDIN;"
    cut -f2 "$FAULTS_DIR/acked.tsv"
    echo '\.'
    echo "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM dns_handoff_applied j WHERE j.entry_id = a.id);"
} >"$FAULTS_DIR/lost.sql"
lost="$(psql "host=$CW_PG_SOCKET port=$CW_PG_PORT user=cyberwatch dbname=$FAULTS_DB" -qtAX -f "$FAULTS_DIR/lost.sql" | tail -n 1)"
twice="$(faults_sql "SELECT count(*) FROM dns_queries WHERE domain_key LIKE '%.faults.example' AND query_count > 1")"
stream_len="$(REDISCLI_AUTH="$CYBERWATCH_REDIS_PASSWORD" redis-cli -p "$CW_REDIS_PORT" XLEN "$stream" 2>/dev/null)"
REDISCLI_AUTH="$CYBERWATCH_REDIS_PASSWORD" redis-cli -p "$CW_REDIS_PORT" DEL "$stream" >/dev/null 2>&1
note "acknowledged $acked, applied $applied, lost $lost (acknowledged in the 2 s before the kill: $in_window), applied twice $twice, stream after restart $stream_len"
status=0
[[ $applied -gt 0 && -n $lost && $lost -le $in_window && $twice == 0 && -n $stream_len ]] || status=1
faults_row "kill -9 Redis (appendfsync $fsync), restarted after 2 s" "$acked handoff entries acknowledged in $seconds s" \
    "$applied applied once each; stream after restart: $stream_len entries" \
    "$lost (allowed by everysec: ≤ $in_window acknowledged in the last 2 s)" "$twice" "consumer resumed on the restarted Redis; silo not restarted"
exit $status
