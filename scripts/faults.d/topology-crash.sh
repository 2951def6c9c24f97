#!/usr/bin/env bash
# kill -9 of the silo while it records topology (issue 13, item 6). A small routed network of its own
# (network namespaces cwf-topo-*: vantage -> router AS64601 -> router AS64602 -> destinations in
# AS64700..), so real scamper traces cross three ASes; the silo and API run in the vantage namespace
# (no route leads anywhere else). The silo is killed the moment the first measurements are stored, while
# their AS edges are still on their way; it is started again and its topology catch-up replays what
# topology_backlog still lists. Passes when the AS edges in as_edges are exactly those the stored
# measurements imply (recomputed from their hops by `topology-check`), each edge's observed_count equals
# the stored measurements crossing it (nothing lost, nothing counted twice), and the backlog is empty.
# The new silo takes the dead one's ports, so Orleans moves the grains at once; the catch-up's first
# round comes 5 s (CYBERWATCH_TOPOLOGY_CATCH_UP_AFTER_SECONDS) after the stored measurements.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"

destinations=120
ases=30
if [[ $FAULTS_QUICK == 1 ]]; then
    destinations=60
    ases=20
fi
net=45.213
vantage=cwf-topo-v
routers=(cwf-topo-r1 cwf-topo-r2)
far=cwf-topo-d

teardown() {
    local ns
    for ns in "$vantage" "${routers[@]}" "$far"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap 'faults_cleanup; teardown' EXIT
command -v ip >/dev/null || { faults_row "kill -9 silo" "-" "skipped: no iproute2" "?" "?" "?"; exit 1; }

# vantage .1 --- .2 r1 .5 --- .6 r2 .9 --- .10 far; far holds $net.K.1 for every destination K.
teardown
for ns in "$vantage" "${routers[@]}" "$far"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # No ICMP rate limit: a silent hop would be a gap, and no edge is inferred across a gap.
    ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.icmp_errors_use_inbound_ifaddr=1
done
links=0
link() { # link NS_A ADDRESS_A NS_B ADDRESS_B: a /30 between two namespaces
    links=$((links + 1))
    ip link add "l$links-a" netns "$1" type veth peer name "l$links-b" netns "$3"
    ip -n "$1" addr add "$2/30" dev "l$links-a"
    ip -n "$3" addr add "$4/30" dev "l$links-b"
    ip -n "$1" link set "l$links-a" up
    ip -n "$3" link set "l$links-b" up
}
link "$vantage" "$net.0.1" cwf-topo-r1 "$net.0.2"
link cwf-topo-r1 "$net.0.5" cwf-topo-r2 "$net.0.6"
link cwf-topo-r2 "$net.0.9" "$far" "$net.0.10"
for ns in "${routers[@]}"; do ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1; done
ip -n "$vantage" route add default via "$net.0.2"
ip -n cwf-topo-r1 route add "$net.0.0/16" via "$net.0.6"
ip -n cwf-topo-r2 route add "$net.0.0/30" via "$net.0.5"
ip -n cwf-topo-r2 route add "$net.0.0/16" via "$net.0.10"
ip -n "$far" route add default via "$net.0.9"
prefixes="$FAULTS_DIR/prefixes.dat"
{
    printf '%s.0.0/30\t64601\n' "$net"
    printf '%s.0.4/30\t64602\n' "$net"
    printf '%s.0.8/30\t64602\n' "$net"
} >"$prefixes"
addresses=()
for ((k = 1; k <= destinations; k++)); do
    ip -n "$far" addr add "$net.$k.1/32" dev lo
    printf '%s.%d.0/24\t%d\n' "$net" "$k" $((64700 + k % ases)) >>"$prefixes"
    addresses+=("$net.$k.1")
done
if ! ip netns exec "$vantage" ping -c 1 -W 2 "$net.$destinations.1" >/dev/null 2>&1; then
    faults_row "kill -9 silo" "-" "the test network does not route" "?" "?" "?"
    exit 1
fi

faults_use_netns "$vantage"
faults_database
# Only the enqueued destinations: no ASN expansion or hop feedback adding targets of their own.
faults_sql "UPDATE settings SET value = value || '{\"asn_expansion_enabled\": false}'::jsonb WHERE key = 'enrichment_settings'" >/dev/null
faults_sql "UPDATE settings SET value = value || '{\"hop_feedback_enabled\": false}'::jsonb WHERE key = 'worker_settings'" >/dev/null
export CYBERWATCH_PREFIX_DATA="$prefixes" FAULTS_ALLOWED_TARGETS="$net.0.0/16"
export CYBERWATCH_TOPOLOGY_CATCH_UP_AFTER_SECONDS=5 CYBERWATCH_TOPOLOGY_CATCH_UP_INTERVAL_SECONDS=2
faults_silo a
faults_api
note "enqueueing $destinations destinations in $ases ASes behind AS64601 and AS64602"
accepted="$(faults_enqueue_addresses "${addresses[@]}")"
for _ in $(seq 1 600); do
    [[ $(faults_rows) -ge 1 ]] && break
    sleep 0.1
done
kill -KILL -- "-$SILO_PID_a" 2>/dev/null || kill -KILL "$SILO_PID_a"
rows_at_kill="$(faults_rows)"
backlog_at_kill="$(faults_sql "SELECT count(*) FROM topology_backlog")"
edges_at_kill="$(faults_sql "SELECT count(*) FROM as_edges")"
note "kill -9 silo at $rows_at_kill stored measurements: $backlog_at_kill of them in topology_backlog, $edges_at_kill AS edges stored"
restarted_at=$SECONDS
faults_silo b a
# The new silo may go on measuring what the dead one had not finished (its leases end when the cluster
# declares it dead), so the check waits until the backlog is empty and no measurement was stored for 5 s:
# only then do the stored measurements and the stored topology describe the same moment.
recovered="backlog not empty or measurements still arriving after 180 s"
last_rows=-1
steady=0
for _ in $(seq 1 180); do
    rows_now="$(faults_rows)"
    if [[ $(faults_sql "SELECT count(*) FROM topology_backlog") == 0 && $rows_now == "$last_rows" ]]; then
        steady=$((steady + 1))
        if ((steady >= 5)); then
            recovered="backlog empty $((SECONDS - restarted_at - 5)) s after the restart"
            break
        fi
    else
        steady=0
    fi
    last_rows=$rows_now
    sleep 1
done
caught_up="$(faults_metric "$SILO_HTTP_b" cyberwatch_topology_measurements_caught_up_total)"
check="$(CYBERWATCH_PG_DSN="$FAULTS_DSN" dotnet "$CW_SILO_DLL" topology-check 2>"$FAULTS_DIR/topology-check.stderr" | tee "$FAULTS_DIR/topology-check.txt" | head -n1)"
note "topology-check: $check"
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' <<<"$check"; }
implied="$(field implied_edges)"; stored="$(field stored_edges)"; missing="$(field missing)"; extra="$(field extra)"
backlog="$(field backlog)"; crossings_missing="$(field crossings_missing)"; over="$(field crossings_over_counted)"
measurements="$(field measurements)"
rows="$(faults_rows)"
duplicates="$(faults_duplicates)"
status=0
[[ -n $implied && $implied -gt 0 && $implied == "$stored" && $missing == 0 && $extra == 0 && $backlog == 0 && $crossings_missing == 0 && $over == 0 \
    && $backlog_at_kill -gt 0 && $duplicates == 0 ]] || status=1
faults_row "kill -9 silo at the first stored measurements, restarted" \
    "$accepted targets over 3 AS hops, $rows measurements" \
    "$backlog_at_kill of $rows_at_kill stored measurements had no topology stored at the kill ($edges_at_kill edges); after restart: $stored AS edges stored = $implied implied by $measurements stored measurements, observed counts equal (catch-up replayed $caught_up)" \
    "$missing edge(s), $crossings_missing crossing(s)" "$over crossing(s) counted twice; $duplicates measurement(s)" \
    "$recovered"
exit $status
