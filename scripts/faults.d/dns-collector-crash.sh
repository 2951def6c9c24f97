#!/usr/bin/env bash
# kill -9 of the DNS collector between spooling a round and saving its source position, the window in
# which it used to read the round again after a restart and count its queries twice. A dnsmasq query log
# grows by about 100 queries a second, each of its own domain; the collector (k-anonymity 1, no resolution)
# tails it into Redis and a real silo applies the entries to dns_queries. A test hook
# (CYBERWATCH_DNS_TEST_PAUSE_AFTER_SPOOL) makes the collector stop right after the spool write of its first
# round; it is killed there and started again without the hook while the log keeps growing.
# Counted: queries written to the log against dns_queries. Passes when every query is counted once
# (none lost, none with a count above 1) and the restarted collector took the position from the spool.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"
trap faults_cleanup EXIT

seconds=30
[[ $FAULTS_QUICK == 1 ]] && seconds=12
stream="cwf:dnscrash:$(date +%s)"
log="$FAULTS_DIR/dnsmasq.log"
config="$FAULTS_DIR/dns.yaml"
paused="$FAULTS_DIR/paused"
cat >"$config" <<YAML
enabled: true
source: logfile
poll_interval_seconds: 1
state_dir: $FAULTS_DIR/state
logfile:
  path: $log
dns_resolution:
  enabled: false
privacy:
  domain_policy: plain
  k_anonymity: 2
redis:
  stream: $stream
YAML
: >"$log"

faults_database
export CYBERWATCH_DNS_STREAM="$stream"
faults_silo a

collector() { # collector NAME [ENV=VALUE...]: starts dns-collect; sets COLLECTOR_PID
    local name="$1"
    shift
    env "$@" setsid dotnet "$CW_SILO_DLL" dns-collect --config "$config" >"$FAULTS_DIR/collector-$name.log" 2>&1 </dev/null &
    COLLECTOR_PID=$!
    FAULTS_PIDS+=("$COLLECTOR_PID")
}

note "writing about 100 queries a second to $log for $seconds s"
python3 - "$log" "$seconds" "$FAULTS_DIR/written" <<'PY' &
import sys, time
log, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
n = 0
end = time.time() + seconds
with open(log, "a") as f:
    while time.time() < end:
        stamp = time.strftime("%b %d %H:%M:%S")
        for _ in range(10):
            domain = f"q{n}.crash.faults.example"
            # Two devices ask for each domain: k-anonymity (at least 2) lets it count.
            f.write(f"{stamp} dnsmasq[812]: query[A] {domain} from 192.168.7.{n % 200 + 2}\n")
            f.write(f"{stamp} dnsmasq[812]: query[A] {domain} from 192.168.9.{n % 200 + 2}\n")
            f.write(f"{stamp} dnsmasq[812]: reply {domain} is 192.0.2.{n % 250 + 1}\n")
            n += 1
        f.flush()
        time.sleep(0.1)
with open(out, "w") as w:
    w.write(f"{n}\n")
PY
writer=$!
sleep 2
collector first "CYBERWATCH_DNS_TEST_PAUSE_AFTER_SPOOL=$paused"
for _ in $(seq 1 600); do
    [[ -f $paused ]] && break
    kill -0 "$COLLECTOR_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ ! -f $paused ]]; then
    tail -n 20 "$FAULTS_DIR/collector-first.log" >&2
    faults_row "kill -9 dns-collect after the spool write" "-" "the collector never reached the hook" "?" "?" "?"
    exit 1
fi
# The queries of the round the kill interrupts: without the position in the spool, counted twice.
spooled="$(python3 -c '
import json, sys
print(sum(a["count"] for line in open(sys.argv[1]) if "\"aggregates\"" in line for a in json.loads(line)["aggregates"]))' \
    "$FAULTS_DIR/state/spool/spool.jsonl" 2>/dev/null || echo 0)"
kill -KILL -- "-$COLLECTOR_PID" 2>/dev/null || kill -KILL "$COLLECTOR_PID"
killed_at=$SECONDS
note "killed the collector after it spooled a round of $spooled queries, before it saved its position"
collector second
wait "$writer"
written="$(cat "$FAULTS_DIR/written")"
counted=0; last=-1; quiet=0
for _ in $(seq 1 120); do
    counted="$(faults_sql "SELECT coalesce(sum(query_count), 0) FROM dns_queries WHERE domain_key LIKE '%.crash.faults.example'")"
    [[ $counted -ge $((2 * written)) ]] && break
    if [[ $counted == "$last" ]]; then quiet=$((quiet + 1)); [[ $quiet -ge 15 ]] && break; else quiet=0; fi
    last="$counted"
    sleep 1
done
recovered=$((SECONDS - killed_at))
domains="$(faults_sql "SELECT count(DISTINCT domain_key) FROM dns_queries WHERE domain_key LIKE '%.crash.faults.example'")"
twice="$(faults_sql "SELECT count(*) FROM dns_queries WHERE domain_key LIKE '%.crash.faults.example' AND query_count > 2")"
replayed=no
grep -q "its source position not saved" "$FAULTS_DIR/collector-second.log" && replayed=yes
REDISCLI_AUTH="$CYBERWATCH_REDIS_PASSWORD" redis-cli -p "$CW_REDIS_PORT" DEL "$stream" >/dev/null 2>&1
lost=$((written - domains))
note "written $written, counted $counted in $domains domains, twice $twice, position replayed from the spool: $replayed"
status=0
[[ $written -gt 0 && $lost == 0 && $twice == 0 && $counted == "$((2 * written))" && $replayed == yes ]] || status=1
faults_row "kill -9 dns-collect after the spool write, before the position save (test hook), restarted" \
    "$written domains over $seconds s, each asked by 2 devices (k = 2)" \
    "killed with a round of $spooled queries spooled, position not saved; $domains of $written domains counted, $counted queries in dns_queries; restart took the position from the spool: $replayed" \
    "$lost" "$twice" "all counted $recovered s after the kill"
exit $status
