# shellcheck shell=bash
# Functions behind scripts/lab: the lab's namespaces, links, BIRD daemons and the lab node.
# Sourced, not run. What to build comes from scripts/lib/labmodel.py, which reads the topology.

LAB_TOPOLOGY="${CYBERWATCH_LAB_TOPOLOGY:-$ROOT/scripts/lab.d/topology.json}"
LAB_DIR="${CYBERWATCH_LAB_DIR:-$ROOT/.data/lab}"
LAB_RUN="$LAB_DIR/run"
LAB_MRT_DIR="$LAB_DIR/mrt"
LAB_DOWN_FILE="$LAB_DIR/down-links"
LAB_MRT_FILE="$LAB_DIR/collector.mrt"
LAB_TIMEOUT="${CYBERWATCH_LAB_TIMEOUT:-90}"
# The system python: it has python3-pyasn, and a pyenv python may come first on PATH.
LAB_PYTHON="${CYBERWATCH_LAB_PYTHON:-/usr/bin/python3}"
# The lab node keeps its own database and logs, apart from a node run with scripts/cyberwatch.
LAB_NODE_DIR="${CYBERWATCH_LAB_NODE_DIR:-$ROOT/.data/lab-node}"
# node-up starts an agent in every vantage behind NAT (agent_vantages) unless --no-agent.
LAB_NODE_AGENTS="${CYBERWATCH_LAB_NODE_AGENTS:-1}"
LAB_PACKAGES=(iproute2 iptables bird2 bgpdump jq scamper traceroute mtr-tiny dnsmasq-base)

lab_say() { printf 'lab: %s\n' "$*"; }
lab_die() { printf 'lab: %s\n' "$*" >&2; exit 1; }

lab_model() {
    [[ -f $LAB_TOPOLOGY ]] || lab_die "topology $LAB_TOPOLOGY not found"
    "$LAB_PYTHON" "$ROOT/scripts/lib/labmodel.py" --topology "$LAB_TOPOLOGY" --down-links "$LAB_DOWN_FILE" "$@"
}

lab_prefix() { jq -r '.namespace_prefix' "$LAB_TOPOLOGY"; }
lab_default_vantage() { jq -r '.vantage' "$LAB_TOPOLOGY"; }
# The vantages' names, the default one first.
lab_vantage_names() { lab_model vantages | cut -f1; }
# The namespace of vantage NAME (the default one without NAME).
lab_vantage_ns() { jq -r --arg v "${1:-}" '.namespace_prefix + (if $v == "" then .vantage else $v end)' "$LAB_TOPOLOGY"; }
# The addresses of vantage NAME, comma-separated, IPv4 first.
lab_vantage_addresses() { lab_model vantages | awk -F'\t' -v v="$1" '$1 == v {print $4}'; }
lab_require_vantage() {
    { lab_vantage_names; lab_model agent-vantages | cut -f1; } | grep -qxF -- "$1" \
        || lab_die "no vantage '$1' in the topology (vantages: $({ lab_vantage_names; lab_model agent-vantages | cut -f1; } | paste -sd' '))"
}
lab_collector() { jq -r '.collector.node' "$LAB_TOPOLOGY"; }

lab_namespaces() {
    local prefix
    prefix="$(lab_prefix)"
    ip netns list 2>/dev/null | awk '{print $1}' | grep -F -- "$prefix" | grep -E "^${prefix}" || true
}

lab_require_root() {
    [[ $EUID -eq 0 ]] || lab_die "needs root (network namespaces, veth pairs, iptables): run it with sudo"
}

# One change to the lab at a time: tests may call scripts/lab from several processes.
lab_lock() {
    local lock
    lock="/run/lock/$(lab_prefix)lab.lock"
    exec 9>"$lock"
    flock -w 300 9 || lab_die "another scripts/lab holds $lock for more than 300s"
}

# Installs what the lab needs from Debian; the packages are the ones the README lists.
lab_install_packages() {
    local missing=() p
    for p in "${LAB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    lab_say "installing ${missing[*]}"
    mkdir -p "$LAB_DIR"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$LAB_DIR/apt.log" 2>&1; then
        tail -n 20 "$LAB_DIR/apt.log" >&2
        lab_die "apt-get install ${missing[*]} failed (log: $LAB_DIR/apt.log)"
    fi
}

lab_ns_up() {
    local ns
    ns="$(lab_vantage_ns)"
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$ns"
}

# ---------------------------------------------------------------- up

# Sysctls every namespace gets before any interface exists, so new interfaces inherit them.
lab_ns_sysctls() {
    local ns="$1" role="$2" fwd=0
    [[ $role == router || $role == border ]] && fwd=1
    local settings=(
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
        net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
        # A link taken down and brought back keeps its IPv6 addresses, as IPv4 does.
        net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1
        # No rate limit on ICMP errors: the only silent hop must be the one the topology says.
        net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000
        # Answer from the interface the probe came in on, as IPv6 does anyway and most routers do.
        net.ipv4.icmp_errors_use_inbound_ifaddr=1
        net.ipv4.ip_forward="$fwd" net.ipv6.conf.all.forwarding="$fwd" net.ipv6.conf.default.forwarding="$fwd"
        # Multipath routes hash on the 5-tuple, so different flows may take different branches.
        net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
    )
    if [[ $role == ixp ]]; then
        settings+=(net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1)
    fi
    ip netns exec "$ns" sysctl -qw "${settings[@]}" >/dev/null
}

# ip route for "gw@if,gw@if": a plain route or a multipath one.
lab_add_route() {
    local ns="$1" net="$2" hops="$3" fam=-4 args=() hop
    [[ $net == *:* ]] && fam=-6
    IFS=',' read -ra list <<<"$hops"
    if [[ ${#list[@]} -eq 1 ]]; then
        args=(via "${hops%@*}" dev "${hops#*@}")
    else
        for hop in "${list[@]}"; do
            args+=(nexthop via "${hop%@*}" dev "${hop#*@}" weight 1)
        done
    fi
    ip -n "$ns" "$fam" route add "$net" "${args[@]}"
}

lab_silence() {
    local ns="$1"
    ip netns exec "$ns" iptables -A OUTPUT -p icmp --icmp-type time-exceeded -j DROP
    ip netns exec "$ns" ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type time-exceeded -j DROP
}

# A home router: the private network behind interface $2 leaves masqueraded as the router's own address, and
# nothing from outside gets in but answers to what went out (nobody routes to the private network anyway).
lab_masquerade() {
    local ns="$1" inside="$2"
    ip netns exec "$ns" iptables -t nat -A POSTROUTING ! -o "$inside" -j MASQUERADE
    ip netns exec "$ns" iptables -A FORWARD -o "$inside" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    ip netns exec "$ns" iptables -A FORWARD -o "$inside" -j DROP
}

lab_start_bird() {
    local ns="$1" node="$2" conf="$LAB_RUN/$2.conf"
    bird -p -c "$conf" 2>"$LAB_RUN/$node.parse" || { cat "$LAB_RUN/$node.parse" >&2; lab_die "BIRD rejects $conf"; }
    # 9>&-: the daemon must not inherit the lab lock and hold it for its lifetime.
    ip netns exec "$ns" bird -c "$conf" -s "$LAB_RUN/$node.ctl" -P "$LAB_RUN/$node.pid" 9>&- \
        || lab_die "BIRD did not start in $ns (log: $LAB_RUN/$node.log)"
}

lab_up() {
    lab_require_root
    lab_install_packages
    lab_model validate
    if [[ -n "$(lab_namespaces)" || -d $LAB_RUN ]]; then
        lab_say "removing the previous lab first"
        lab_down >/dev/null
    fi
    mkdir -p "$LAB_RUN" "$LAB_MRT_DIR"
    : >"$LAB_DOWN_FILE"
    local plan
    plan="$(lab_model plan)"
    local kind a b c d birds=()
    lab_say "building $(grep -c '^ns' <<<"$plan") namespaces"
    while IFS=$'\t' read -r kind a b c d; do
        case "$kind" in
            ns)
                ip netns add "$a"
                ip -n "$a" link set lo up
                lab_ns_sysctls "$a" "$b"
                ;;
            bridge)
                ip -n "$a" link add "$b" type bridge stp_state 0
                ip -n "$a" link set "$b" up
                ;;
            veth)
                ip link add "$b" netns "$a" type veth peer name "$d" netns "$c"
                ip -n "$a" link set "$b" up
                ip -n "$c" link set "$d" up
                ;;
            port) ip -n "$a" link set "$c" master "$b" ;;
            addr)
                if [[ $c == *:* ]]; then
                    ip -n "$a" -6 addr add "$c" dev "$b" nodad
                else
                    ip -n "$a" addr add "$c" dev "$b"
                fi
                ;;
            route) lab_add_route "$a" "$b" "$c" ;;
            silent) lab_silence "$a" ;;
            nat) lab_masquerade "$a" "$b" ;;
            bird) birds+=("$a:$b") ;;
            *) lab_die "unknown plan step '$kind'" ;;
        esac
    done <<<"$plan"
    lab_model bird-configs --run-dir "$LAB_RUN" --mrt-dir "$LAB_MRT_DIR"
    local entry
    for entry in "${birds[@]}"; do
        lab_start_bird "${entry%%:*}" "${entry#*:}"
    done
    lab_say "started ${#birds[@]} BIRD daemons; waiting for BGP to converge (up to ${LAB_TIMEOUT}s)"
    local t0=$SECONDS
    lab_model converged --run-dir "$LAB_RUN" --timeout "$LAB_TIMEOUT" --settle 3 \
        || lab_die "BGP did not converge; BIRD logs are in $LAB_RUN (the lab stays up for a look; scripts/lab down removes it)"
    lab_say "BGP converged in $((SECONDS - t0))s; every BIRD holds the routes the topology predicts"
    lab_mrt
    lab_rdns_up
    lab_say "the lab is up; default vantage: $(lab_vantage_ns) ($(lab_model truth | jq -r '.vantage.addresses | join(", ")'))"
    lab_model truth | jq -r '.destinations[] | .name as $n | .traces[] | "lab:   \($n) \(.address)  AS path \(.as_path | map(tostring) | join(" "))"'
    lab_model truth | jq -r '.vantages[] | select(.vantage.default | not)
        | "lab: vantage \(.vantage.node): \(.vantage.namespace) (\(.vantage.addresses | join(", ")))",
          (.destinations[] | .name as $n | .traces[] | "lab:   \($n) \(.address)  AS path \(.as_path | map(tostring) | join(" "))")'
}

# ---------------------------------------------------------------- reverse DNS

# A resolver on 127.0.0.1:53 of each vantage namespace, as a host's local resolver, answering the PTR of
# every router and host interface (scripts/lab names lists them) and NXDOMAIN for any other reverse name.
# It forwards nothing: the lab has no way out. CYBERWATCH_RDNS_SERVER=127.0.0.1 points a lab node at it.
lab_rdns_up() {
    local conf="$LAB_RUN/rdns.conf" name ns
    {
        echo "no-resolv"
        echo "no-hosts"
        echo "no-poll"
        echo "local=/in-addr.arpa/"
        echo "local=/ip6.arpa/"
        echo "local-ttl=3600"
        lab_model ptr-records | awk -F'\t' '{print "ptr-record=" $3 "," $2}'
    } >"$conf"
    for name in $(lab_vantage_names); do
        ns="$(lab_vantage_ns "$name")"
        ip netns exec "$ns" dnsmasq --conf-file="$conf" --bind-interfaces --listen-address=127.0.0.1 --user=root \
            --pid-file="$LAB_RUN/rdns-$name.pid" --log-facility="$LAB_RUN/rdns-$name.log" 9>&- \
            || lab_die "the reverse DNS resolver did not start in $ns (log: $LAB_RUN/rdns-$name.log)"
    done
    lab_say "reverse DNS: $(lab_model ptr-records | wc -l) PTR records on 127.0.0.1:53 of each vantage (scripts/lab names)"
}

# ---------------------------------------------------------------- down

lab_kill_pid() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 40; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

lab_down() {
    lab_require_root
    if lab_node_running; then
        lab_node_down
    fi
    local f pid ns
    if [[ -d $LAB_RUN ]]; then
        for f in "$LAB_RUN"/*.pid; do
            [[ -f $f ]] || continue
            pid="$(cat "$f" 2>/dev/null || true)"
            [[ -n $pid ]] && lab_kill_pid "$pid"
        done
    fi
    # Whatever else still runs in a lab namespace (a trace started with `lab exec`) would keep it alive.
    for ns in $(lab_namespaces); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            lab_kill_pid "$pid"
        done
        ip netns del "$ns"
    done
    rm -rf "$LAB_DIR"
    lab_say "the lab is down"
}

# ---------------------------------------------------------------- status, exec

lab_status() {
    local nss n rc=0
    nss="$(lab_namespaces)"
    n="$(grep -c . <<<"$nss" || true)"
    if [[ -z $nss ]]; then
        echo "lab         down"
        return 3
    fi
    echo "lab         $n namespaces ($(lab_prefix)*)"
    local f node pid established total
    for f in "$LAB_RUN"/*.ctl; do
        [[ -S $f ]] || continue
        node="$(basename "$f" .ctl)"
        pid="$(cat "$LAB_RUN/$node.pid" 2>/dev/null || true)"
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            total="$(birdc -s "$f" show protocols | awk '$2 == "BGP"' | wc -l)"
            established="$(birdc -s "$f" show protocols | awk '$2 == "BGP" && $6 == "Established"' | wc -l)"
            printf '%-11s BIRD pid %s, BGP %s/%s established\n' "$node" "$pid" "$established" "$total"
        else
            printf '%-11s BIRD not running\n' "$node"; rc=3
        fi
    done
    if [[ -s $LAB_DOWN_FILE ]]; then
        echo "links down  $(paste -sd, "$LAB_DOWN_FILE")"
    fi
    [[ -f $LAB_MRT_FILE ]] && echo "mrt         $LAB_MRT_FILE ($(bgpdump -m "$LAB_MRT_FILE" 2>/dev/null | wc -l) routes)"
    local name ns addresses what p
    while IFS=$'\t' read -r name ns _ addresses; do
        what=""
        for p in silo api; do
            pid="$(cat "$(lab_node_dir "$name")/run/$p.pid" 2>/dev/null || true)"
            [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && what+="${what:+, }$p pid $pid"
        done
        printf '%-11s %s (%s): %s\n' "$name" "$ns" "$addresses" "${what:-no node}"
    done < <(lab_model vantages)
    while IFS=$'\t' read -r name ns _ addresses; do
        what=""
        pid="$(cat "$(lab_node_dir "$name")/run/agent.pid" 2>/dev/null || true)"
        [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && what="agent pid $pid"
        pid="$(cat "$(lab_node_dir)/run/agent-api.pid" 2>/dev/null || true)"
        [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && what+="${what:+, }its API (in $(lab_vantage_ns), port 8443) pid $pid"
        printf '%-11s %s (%s, behind NAT): %s\n' "$name" "$ns" "$addresses" "${what:-no agent}"
    done < <(lab_model agent-vantages)
    return $rc
}

lab_exec() {
    local vantage=""
    if [[ ${1:-} == --vantage ]]; then
        [[ $# -ge 2 ]] || lab_die "usage: scripts/lab exec [--vantage NAME] -- CMD [ARG...]"
        vantage="$2"
        shift 2
        lab_require_vantage "$vantage"
    fi
    [[ ${1:-} == -- ]] && shift
    [[ $# -gt 0 ]] || lab_die "usage: scripts/lab exec [--vantage NAME] -- CMD [ARG...]"
    lab_require_root
    lab_ns_up || lab_die "the lab is not up (scripts/lab up)"
    exec ip netns exec "$(lab_vantage_ns "$vantage")" "$@"
}

# ---------------------------------------------------------------- MRT, check

lab_mrt() {
    local coll sock tmp i
    coll="$(lab_collector)"
    sock="$LAB_RUN/$coll.ctl"
    [[ -S $sock ]] || lab_die "the route collector is not running (scripts/lab up)"
    mkdir -p "$LAB_MRT_DIR"
    tmp="$LAB_MRT_DIR/dump.$$.mrt"
    rm -f "$tmp"
    # BIRD appends to an existing file, hence a fresh name, moved into place once complete.
    local out
    out="$(birdc -s "$sock" mrt dump table '"master*"' to "\"$tmp\"" 2>&1)" || lab_die "mrt dump failed: $out"
    grep -qi 'unable\|error' <<<"$out" && lab_die "mrt dump failed: $out"
    for ((i = 0; i < 50; i++)); do
        [[ -s $tmp ]] && break
        sleep 0.1
    done
    [[ -s $tmp ]] || lab_die "BIRD wrote no MRT dump to $tmp"
    mv -f "$tmp" "$LAB_MRT_FILE"
    local n
    n="$(bgpdump -m "$LAB_MRT_FILE" 2>/dev/null | wc -l)"
    [[ $n -gt 0 ]] || lab_die "bgpdump -m reads no route from $LAB_MRT_FILE"
    lab_model check-mrt --mrt "$LAB_MRT_FILE" || lab_die "the MRT dump disagrees with the model"
    lab_say "MRT RIB dump (TABLE_DUMP_V2): $LAB_MRT_FILE, $n routes; read it with: bgpdump -m $LAB_MRT_FILE"
}

lab_check() {
    lab_require_root
    lab_ns_up || lab_die "the lab is not up (scripts/lab up)"
    lab_model converged --run-dir "$LAB_RUN" --timeout 5 || lab_die "BIRD does not hold the routes the model predicts"
    lab_say "BGP: every BIRD holds the routes the model predicts"
    local name
    for name in $(lab_vantage_names); do
        lab_no_way_out "$name"
    done
    lab_model check
}

# Proves a vantage has no way out of the lab: each of its interfaces leads to another lab
# namespace, it has no default route, and a non-lab address fails on the spot. 192.0.2.1 and
# 2001:db8::1 are documentation addresses; no packet is sent, the route lookup itself fails.
lab_no_way_out() {
    local name="$1" ns prefix line out
    ns="$(lab_vantage_ns "$name")"
    prefix="$(lab_prefix)"
    while read -r line; do
        [[ $line == *" lo: "* ]] && continue
        [[ $line == *"link-netns $prefix"* ]] || lab_die "$name: interface leads out of the lab: $line"
    done < <(ip -n "$ns" -o -d link show)
    if ip -n "$ns" route show default | grep -q . || ip -n "$ns" -6 route show default | grep -q .; then
        lab_die "$name has a default route"
    fi
    if out="$(ip netns exec "$ns" ping -c1 -W1 192.0.2.1 2>&1)"; then
        lab_die "ping 192.0.2.1 from $name succeeded: $out"
    fi
    grep -q 'Network is unreachable' <<<"$out" || lab_die "ping 192.0.2.1 from $name did not fail locally: $out"
    out="$(ip -n "$ns" -6 route get 2001:db8::1 2>&1 || true)"
    grep -q 'Network is unreachable' <<<"$out" || lab_die "$name has an IPv6 route for 2001:db8::1: $out"
    lab_say "no way out of $name: its only links lead to lab namespaces, it has no default route, ping 192.0.2.1 fails locally (Network is unreachable)"
}

# ---------------------------------------------------------------- links

lab_link() {
    local action="$1" a="$2" b="$3" ends ns ifname
    lab_require_root
    lab_ns_up || lab_die "the lab is not up (scripts/lab up)"
    ends="$(lab_model link "$a" "$b")" || exit 1
    local before after paths
    # The AS paths of every vantage, to the destinations and to the other vantages.
    # shellcheck disable=SC2016 # a jq program
    paths='[.vantages | to_entries[] | .key as $v
        | (.value.destinations[].traces[] | {vantage: $v, address, as_path}),
          (.value.vantage_paths | to_entries[] | {vantage: $v, address: "\(.key) (\(.value.vantage))", as_path: .value.as_path})]'
    before="$(lab_model truth | jq -c "$paths")"
    while IFS=$'\t' read -r ns ifname; do
        ip -n "$ns" link set "$ifname" "$action"
    done <<<"$ends"
    if [[ $action == down ]]; then
        grep -qxF "$a $b" "$LAB_DOWN_FILE" 2>/dev/null || echo "$a $b" >>"$LAB_DOWN_FILE"
    else
        local kept
        kept="$(grep -vxF -e "$a $b" -e "$b $a" "$LAB_DOWN_FILE" 2>/dev/null || true)"
        printf '%s' "${kept:+$kept$'\n'}" >"$LAB_DOWN_FILE"
    fi
    lab_say "link $a-$b $action; waiting for BGP to converge (up to ${LAB_TIMEOUT}s)"
    # A session across the IXP only dies when its hold timer (6s) runs out; the routes must then
    # stay as predicted for a few seconds before the change counts as done.
    lab_model converged --run-dir "$LAB_RUN" --timeout "$LAB_TIMEOUT" --settle 3 \
        || lab_die "BGP did not converge after link $action"
    after="$(lab_model truth | jq -c "$paths")"
    jq -rn --argjson b "$before" --argjson a "$after" \
        '[$b, $a] | transpose[] | select(.[0].as_path != .[1].as_path)
         | "lab:   from \(.[0].vantage) to \(.[0].address): AS path \(.[0].as_path // [] | map(tostring) | join(" ")) -> \(.[1].as_path // [] | map(tostring) | join(" "))"'
    lab_mrt
}

lab_move_route() {
    local link a b
    link="$(jq -r '.move_route.link | join(" ")' "$LAB_TOPOLOGY")"
    read -r a b <<<"$link"
    case "${1:-}" in
        "") lab_link down "$a" "$b" ;;
        restore) lab_link up "$a" "$b" ;;
        *) lab_die "usage: scripts/lab move-route [restore]" ;;
    esac
}

# ---------------------------------------------------------------- the lab nodes

# A node per vantage, one cluster. The default vantage's node is the lab node of old: its own data
# directory, PostgreSQL and Redis in the root namespace (ports apart from the main node's), reached
# from the namespaces through their Unix sockets, and the API on its namespace's 127.0.0.1:8000.
# Each other vantage runs a silo only, with its pid files and logs in a directory of its own, on
# the same PostgreSQL and Redis. Every silo advertises its vantage's lab address, so the silos
# reach each other (ports 11111 and 30000 of each namespace) over the lab's BGP routing.
lab_node_dir() {
    local name="${1:-$(lab_default_vantage)}"
    if [[ $name == "$(lab_default_vantage)" ]]; then
        echo "$LAB_NODE_DIR"
    else
        echo "$LAB_NODE_DIR/vantages/$name"
    fi
}

lab_tls_dir() { echo "$LAB_NODE_DIR/tls"; }

# Cluster TLS (CYBERWATCH_TLS_*) exists once scripts/cyberwatch has the `cert` command; a silo
# advertising a non-loopback address then refuses to start without it.
lab_has_tls() { grep -qE '^[[:space:]]*cert\)' "$ROOT/scripts/cyberwatch"; }

# The environment of vantage NAME's node; runs the rest of the arguments in it.
lab_node_env() {
    local name="$1" default address dir extra=()
    shift
    default="$(lab_default_vantage)"
    address="$(lab_vantage_addresses "$name")"
    dir="$(lab_node_dir "$name")"
    if [[ $name != "$default" ]]; then
        local envfile="$LAB_NODE_DIR/cyberwatch.env" dsn redis
        [[ -f $envfile ]] || lab_die "$envfile is missing: the default vantage's node makes it (scripts/lab node-up)"
        # shellcheck disable=SC1090 # the generated environment of the default vantage's node
        dsn="$(set -a; source "$envfile"; printf '%s' "$CYBERWATCH_PG_DSN")"
        # shellcheck disable=SC1090
        redis="$(set -a; source "$envfile"; printf '%s' "$CYBERWATCH_REDIS_URL")"
        extra+=(CYBERWATCH_PG_DSN="$dsn" CYBERWATCH_REDIS_URL="$redis")
    fi
    local tls
    tls="$(lab_tls_dir)"
    if lab_has_tls && [[ -f $tls/$name.crt ]]; then
        extra+=(CYBERWATCH_TLS_CA="$tls/ca.crt" CYBERWATCH_TLS_CERT="$tls/$name.crt" CYBERWATCH_TLS_KEY="$tls/$name.key")
    fi
    env -u CYBERWATCH_PG_DSN -u CYBERWATCH_REDIS_URL \
        CYBERWATCH_DATA_DIR="$dir" \
        CYBERWATCH_PG_PORT="${CYBERWATCH_LAB_PG_PORT:-55442}" \
        CYBERWATCH_REDIS_PORT="${CYBERWATCH_LAB_REDIS_PORT:-56389}" \
        CYBERWATCH_API_URL="http://127.0.0.1:8000" \
        CYBERWATCH_SILO_HTTP="http://127.0.0.1:8001" \
        CYBERWATCH_SILO_PORT=11111 \
        CYBERWATCH_GATEWAY_PORT=30000 \
        CYBERWATCH_ADVERTISED_ADDRESS="${address%%,*}" \
        CYBERWATCH_VANTAGE="$name" \
        CYBERWATCH_CLUSTER_ID="cyberwatch-lab" \
        CYBERWATCH_SERVICE_ID="cyberwatch-lab" \
        CYBERWATCH_STOP_HINT="scripts/lab node-down (or scripts/lab down)" \
        CYBERWATCH_PREFIX_DATA="$LAB_NODE_DIR/collector.mrt" \
        CYBERWATCH_IXP_PREFIXES="$(lab_ixp_prefixes)" \
        CYBERWATCH_IXP_MEMBERS="$(lab_ixp_members)" \
        CYBERWATCH_RDNS_ENABLED=true \
        CYBERWATCH_RDNS_SERVER=127.0.0.1 \
        "${extra[@]}" \
        "$@"
}

# NAME=PREFIX,... for every IXP peering LAN of the topology (CYBERWATCH_IXP_PREFIXES).
lab_ixp_prefixes() {
    jq -r '[.ixps[]? | .name as $n | .prefixes[] | "\($n)=\(.)"] | join(",")' "$LAB_TOPOLOGY"
}

# ADDRESS=ASN,... for every member port on an IXP LAN (CYBERWATCH_IXP_MEMBERS), as PeeringDB's netixlan lists them.
lab_ixp_members() {
    jq -r '(.nodes | map({(.name): .asn}) | add) as $asn
        | [.ixps[]? | .members[] | .[0] as $r | .[1:][] | (split("/")[0]) + "=" + ($asn[$r] | tostring)] | join(",")' "$LAB_TOPOLOGY"
}

lab_node_running() {
    local vantage name pid
    for vantage in $(lab_vantage_names); do
        for name in silo api; do
            pid="$(cat "$(lab_node_dir "$vantage")/run/$name.pid" 2>/dev/null || true)"
            [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && return 0
        done
    done
    return 1
}

# The certificate of vantage NAME's silo, from the lab's private CA, once cluster TLS exists.
lab_node_cert() {
    local name="$1" tls default
    lab_has_tls || return 0
    tls="$(lab_tls_dir)"
    default="$(lab_default_vantage)"
    local out
    # Its output (the environment to set) is for a person; the lab sets that environment itself.
    if [[ ! -f $tls/ca.crt ]]; then
        out="$(lab_node_env "$default" "$ROOT/scripts/cyberwatch" cert init --dir "$tls" 9>&- 2>&1)" \
            || lab_die "scripts/cyberwatch cert init --dir $tls failed: $out"
    fi
    if [[ ! -f $tls/$name.crt ]]; then
        out="$(lab_node_env "$default" "$ROOT/scripts/cyberwatch" cert node "$name" --dir "$tls" --ip "$(lab_vantage_addresses "$name")" 9>&- 2>&1)" \
            || lab_die "scripts/cyberwatch cert node $name failed: $out"
        lab_say "certificate of $name from the lab's cluster CA: $tls/$name.crt"
    fi
}

# The agent of vantage NAME behind NAT (agent_vantages), and the API it dials: a second API process of the cluster in
# the default vantage's namespace, on that vantage's lab address over TLS (its cluster certificate, which names that
# address), since the cluster's first API listens on the namespace's loopback only. The agent's key (role agent, bound
# to NAME) is made once and kept in the vantage's node directory; its buffer, log and pid file are there too.
lab_node_agent() {
    local name="$1" default tls dir address url key agent_dll configuration
    default="$(lab_default_vantage)"
    tls="$(lab_tls_dir)"
    dir="$(lab_node_dir "$name")"
    if ! lab_has_tls || [[ ! -f $tls/$default.crt ]]; then
        lab_say "no agent in $name: it dials the API over TLS, and the lab has no cluster certificate for $default"
        return 0
    fi
    address="$(lab_vantage_addresses "$default")"
    address="${address%%,*}"
    url="https://$address:8443"
    mkdir -p "$dir/run" "$dir/logs" "$dir/buffer"
    configuration="${CYBERWATCH_CONFIGURATION:-Release}"
    agent_dll="$ROOT/Agent/bin/$configuration/net10.0/CyberWatch.Agent.dll"
    if [[ ! -f $agent_dll || -n "$(find "$ROOT/Agent" "$ROOT/Grains" "$ROOT/Grains.Interfaces" \( -name bin -o -name obj \) -prune \
            -o -type f -newer "$agent_dll" -print -quit)" ]]; then
        lab_say "building the agent ($configuration)"
        dotnet build "$ROOT/Agent/Agent.csproj" -c "$configuration" -nologo -v q >"$dir/logs/build.log" 2>&1 \
            || lab_die "the agent did not build (log: $dir/logs/build.log)"
    fi
    # An API on a lab address (not loopback) refuses to start while the node has no admin key: one is made, once, and
    # kept beside the agent's key (on a fresh machine there is none; `scripts/lab key` makes more).
    if [[ ! -s $dir/admin.key ]]; then
        key="$(lab_node_env "$default" ip netns exec "$(lab_vantage_ns)" "$ROOT/scripts/cyberwatch" apikey create --role admin \
            --name "lab node admin" 9>&- | tail -n 1)"
        [[ $key == cw_* ]] || lab_die "no admin key for the lab node: $key"
        (umask 077; printf '%s\n' "$key" >"$dir/admin.key")
    fi
    lab_say "starting the API for agents in $(lab_vantage_ns) on $url"
    # In the default vantage's node directory (its environment, pid file agent-api.pid, log logs/agent-api.log).
    # shellcheck disable=SC2016 # expanded by the inner bash
    lab_node_env "$default" env CYBERWATCH_API_URL="$url" \
        CYBERWATCH_API_TLS_CERT="$tls/$default.crt" CYBERWATCH_API_TLS_KEY="$tls/$default.key" CURL_CA_BUNDLE="$tls/ca.crt" \
        ip netns exec "$(lab_vantage_ns)" bash -c 'set -euo pipefail; ROOT="$1"; source "$ROOT/scripts/lib/node.sh";
            node_load_env; node_start_process agent-api "$CW_API_DLL"; node_wait_http agent-api "$CW_API_URL/service-info" 120' _ "$ROOT" 9>&-
    if [[ ! -s $dir/agent.key ]]; then
        key="$(lab_node_env "$default" ip netns exec "$(lab_vantage_ns)" "$ROOT/scripts/cyberwatch" apikey create --role agent \
            --vantage "$name" --name "lab agent of $name" 9>&- | tail -n 1)"
        [[ $key == cw_* ]] || lab_die "no agent key for $name: $key"
        (umask 077; printf '%s\n' "$key" >"$dir/agent.key")
    fi
    local pid
    pid="$(cat "$dir/run/agent.pid" 2>/dev/null || true)"
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        lab_say "the agent of $name runs already (pid $pid)"
        return 0
    fi
    lab_say "starting the agent of $name in $(lab_vantage_ns "$name") ($(lab_vantage_addresses "$name"), behind NAT): it dials $url"
    (cd "$(dirname "$agent_dll")" && exec ip netns exec "$(lab_vantage_ns "$name")" env -u CYBERWATCH_PG_DSN -u CYBERWATCH_REDIS_URL \
        CYBERWATCH_AGENT_URL="$url" CYBERWATCH_AGENT_CA="$tls/ca.crt" CYBERWATCH_AGENT_KEY_FILE="$dir/agent.key" \
        CYBERWATCH_VANTAGE="$name" CYBERWATCH_AGENT_NAME=lab CYBERWATCH_AGENT_BUFFER="$dir/buffer" \
        setsid nohup dotnet "$agent_dll" >>"$dir/logs/agent.log" 2>&1 </dev/null 9>&-) &
    echo $! >"$dir/run/agent.pid"
    local i
    for ((i = 0; i < 120; i++)); do
        grep -q "Connected to " "$dir/logs/agent.log" 2>/dev/null && { lab_say "the agent of $name is connected (log: $dir/logs/agent.log)"; return 0; }
        kill -0 "$(cat "$dir/run/agent.pid")" 2>/dev/null || { tail -n 5 "$dir/logs/agent.log" >&2; lab_die "the agent of $name exited"; }
        sleep 0.5
    done
    tail -n 5 "$dir/logs/agent.log" >&2
    lab_die "the agent of $name did not connect within 60 s (log: $dir/logs/agent.log)"
}

# Stops the agent of vantage NAME and the API for agents, by their pid files.
lab_node_agent_down() {
    local file pid p i
    for p in agent agent-api; do
        file="$(lab_node_dir "$([[ $p == agent ]] && echo "$1")")/run/$p.pid"
        pid="$(cat "$file" 2>/dev/null || true)"
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            lab_say "stopping the $p of $1 (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 80; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$file"
    done
}

# Starts the node of every vantage, or of vantage ONLY.
lab_node_up() {
    local only="${1:-}" default name ns
    lab_require_root
    lab_ns_up || lab_die "the lab is not up (scripts/lab up)"
    [[ -z $only ]] || lab_require_vantage "$only"
    default="$(lab_default_vantage)"
    mkdir -p "$LAB_NODE_DIR"
    # The nodes map hops with what BGP announced, as the route collector saw it.
    lab_mrt
    cp "$LAB_MRT_FILE" "$LAB_NODE_DIR/collector.mrt"
    # PostgreSQL, Redis and the build first, in the root namespace: the namespaces have no way to a
    # package mirror, and the databases belong outside the simulated internet.
    # shellcheck disable=SC2016 # expanded by the inner bash
    # 9>&-: PostgreSQL, Redis, the silos and the API must not inherit the lab lock.
    lab_node_env "$default" bash -c 'set -euo pipefail; ROOT="$1"; source "$ROOT/scripts/lib/node.sh";
        node_install_packages; node_start_postgres; node_start_redis; node_build' _ "$ROOT" 9>&-
    for name in $(lab_vantage_names); do
        [[ -z $only || $only == "$name" ]] || continue
        ns="$(lab_vantage_ns "$name")"
        lab_node_cert "$name"
        if [[ $name == "$default" ]]; then
            lab_node_env "$name" ip netns exec "$ns" "$ROOT/scripts/cyberwatch" up 9>&-
        else
            lab_say "starting the silo of vantage $name in $ns ($(lab_vantage_addresses "$name"))"
            # shellcheck disable=SC2016 # expanded by the inner bash
            lab_node_env "$name" ip netns exec "$ns" bash -c 'set -euo pipefail; ROOT="$1"; source "$ROOT/scripts/lib/node.sh";
                node_load_env; node_start_silo' _ "$ROOT" 9>&-
        fi
    done
    for name in $(lab_model agent-vantages | cut -f1); do
        [[ -z $only || $only == "$name" ]] || continue
        [[ $LAB_NODE_AGENTS == 1 ]] || { lab_say "no agent in $name (--no-agent)"; continue; }
        lab_node_agent "$name"
    done
    lab_say "cluster cyberwatch-lab: one silo per vantage, each advertising its lab address (scripts/lab status)"
    if [[ -z $only || $only == "$default" ]]; then
        lab_say "the API runs in $(lab_vantage_ns); try: scripts/lab exec -- curl -s 127.0.0.1:8000/service-info"
    fi
    lab_say "prefix data (CYBERWATCH_PREFIX_DATA): $LAB_NODE_DIR/collector.mrt, the route collector's RIB"
}

lab_node_down() {
    lab_require_root
    [[ -d $LAB_NODE_DIR ]] || { lab_say "no lab node"; return 0; }
    local name default
    default="$(lab_default_vantage)"
    for name in $(lab_model agent-vantages | cut -f1); do
        lab_node_agent_down "$name"
    done
    # The other vantages' silos first, while the PostgreSQL they leave the cluster through still runs.
    for name in $(lab_vantage_names); do
        [[ $name != "$default" && -d $(lab_node_dir "$name") ]] || continue
        lab_node_env "$name" "$ROOT/scripts/cyberwatch" down
    done
    lab_node_env "$default" "$ROOT/scripts/cyberwatch" down
}

lab_key() {
    lab_require_root
    # Until the node has API keys there is nothing to print, and that is not an error.
    grep -qE '^[[:space:]]*apikey\)' "$ROOT/scripts/cyberwatch" || return 0
    lab_ns_up || lab_die "the lab is not up (scripts/lab up)"
    lab_node_env "$(lab_default_vantage)" ip netns exec "$(lab_vantage_ns)" "$ROOT/scripts/cyberwatch" apikey create --role admin
}
