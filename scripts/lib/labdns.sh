# shellcheck shell=bash
# Functions behind `scripts/lab dns-demo`: a small DNS network in namespaces, apart from the BGP lab.
# Sourced by scripts/lab after lab.sh.
#
#   cl1 ─┐ 10.53.1.0/30                       ┌─ auth  10.53.0.2  dnsmasq answering lab.example
#   cl2 ─┼ 10.53.2.0/30 ── dres (resolver) ───┤  10.53.0.0/30
#   cl3 ─┘ 10.53.3.0/30   dnsmasq, log-queries └─ web   10.77.1.10, 10.77.2.10, fd77::10  (10.77.0.0/16, fd77::/64)
#
# Namespaces are named <lab prefix without its dash>dns-NAME (cwlabdns-res). No namespace has a
# default route: nothing reaches beyond these namespaces. The collector runs in
# dres (it reads the query log and asks the resolver like any host would); a silo started there probes
# the web namespace's addresses.

# Its own namespaces, directory and lock: `scripts/lab up`/`down` (which clear every namespace of the
# lab's prefix and its directory) and the DNS demo do not disturb each other.
LABDNS_DIR="$LAB_DIR-dns"
LABDNS_PACKAGES=(dnsmasq-base dnsutils iproute2)
LABDNS_CLIENTS=(cl1 cl2 cl3)

labdns_prefix() { local p; p="$(lab_prefix)"; printf '%sdns-' "${p%-}"; }
labdns_ns() { printf '%s%s' "$(labdns_prefix)" "$1"; }

labdns_namespaces() {
    local n
    for n in res auth web "${LABDNS_CLIENTS[@]}"; do labdns_ns "$n"; echo; done
}

labdns_is_up() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$(labdns_ns res)"; }

labdns_install_packages() {
    local missing=() p
    for p in "${LABDNS_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    lab_say "installing ${missing[*]}"
    mkdir -p "$LAB_DIR"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$LAB_DIR/apt-dns.log" 2>&1 || lab_die "apt-get install ${missing[*]} failed (log: $LAB_DIR/apt-dns.log)"
}

# labdns_link NS_A IF_A ADDR_A... -- NS_B IF_B ADDR_B...
labdns_link() {
    local a="$1" ifa="$2" b ifb
    shift 2
    local addrs_a=() addrs_b=()
    while [[ $1 != -- ]]; do addrs_a+=("$1"); shift; done
    shift
    b="$1" ifb="$2"
    shift 2
    addrs_b=("$@")
    ip link add "$ifa" netns "$a" type veth peer name "$ifb" netns "$b"
    local addr
    for addr in "${addrs_a[@]}"; do ip -n "$a" addr add "$addr" dev "$ifa" nodad 2>/dev/null || ip -n "$a" addr add "$addr" dev "$ifa"; done
    for addr in "${addrs_b[@]}"; do ip -n "$b" addr add "$addr" dev "$ifb" nodad 2>/dev/null || ip -n "$b" addr add "$addr" dev "$ifb"; done
    ip -n "$a" link set "$ifa" up
    ip -n "$b" link set "$ifb" up
}

labdns_up() {
    lab_require_root
    labdns_install_packages
    labdns_is_up && labdns_down
    mkdir -p "$LABDNS_DIR"
    local n ns
    for n in res auth web "${LABDNS_CLIENTS[@]}"; do
        ns="$(labdns_ns "$n")"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null
    done
    local res auth web
    res="$(labdns_ns res)" auth="$(labdns_ns auth)" web="$(labdns_ns web)"
    labdns_link "$res" r-auth 10.53.0.1/30 -- "$auth" auth0 10.53.0.2/30
    labdns_link "$res" r-web 10.77.0.1/16 fd77::1/64 -- "$web" web0 10.77.1.10/16 10.77.2.10/16 fd77::10/64
    local i=1 c
    for c in "${LABDNS_CLIENTS[@]}"; do
        labdns_link "$res" "r-$c" "10.53.$i.1/30" -- "$(labdns_ns "$c")" "${c}0" "10.53.$i.2/30"
        i=$((i + 1))
    done

    # The lab's authoritative server for lab.example: names with lab addresses, NXDOMAIN for the rest.
    ip netns exec "$auth" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-poll --bind-interfaces \
        --listen-address=10.53.0.2 --user=root --pid-file="$LABDNS_DIR/auth.pid" --log-facility="$LABDNS_DIR/auth.log" \
        --local=/lab.example/ \
        --host-record=www.lab.example,10.77.1.10,fd77::10 \
        --host-record=api.lab.example,10.77.2.10 \
        --host-record=private.lab.example,192.168.7.7 \
        --host-record=secret.lab.example,10.77.2.10 \
        --host-record=xj4k9q2vz8m1w7p3.lab.example,10.77.1.10 8>&- \
        || lab_die "the authoritative dnsmasq did not start (log: $LABDNS_DIR/auth.log)"
    # The resolver the clients use: forwards to the lab's authoritative server, blocks one name, logs every query.
    ip netns exec "$res" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-poll --bind-interfaces \
        --listen-address=10.53.0.1,10.53.1.1,10.53.2.1,10.53.3.1 --user=root \
        --server=10.53.0.2 --address=/ads.lab.example/0.0.0.0 --address=/ads.lab.example/:: \
        --log-queries --log-facility="$LABDNS_DIR/dnsmasq.log" --pid-file="$LABDNS_DIR/resolver.pid" 8>&- \
        || lab_die "the resolver dnsmasq did not start (log: $LABDNS_DIR/dnsmasq.log)"

    local out
    if out="$(ip netns exec "$res" ping -c1 -W1 192.0.2.1 2>&1)" || ! grep -q 'Network is unreachable' <<<"$out"; then
        lab_die "the DNS demo namespace $res has a way out: $out"
    fi
    lab_say "DNS demo up: resolver in $res (query log $LABDNS_DIR/dnsmasq.log), authoritative in $auth, clients $(labdns_ns cl1)..cl3, web in $web"
}

# Real dig queries from the clients: names asked by several clients, by one, blocked, private, reverse, unknown.
labdns_query() {
    lab_require_root
    labdns_is_up || lab_die "the DNS demo is not up (scripts/lab dns-demo up)"
    local i=1 c ns server name
    for c in "${LABDNS_CLIENTS[@]}"; do
        ns="$(labdns_ns "$c")" server="10.53.$i.1"
        for name in www.lab.example ads.lab.example private.lab.example xj4k9q2vz8m1w7p3.lab.example; do
            ip netns exec "$ns" dig +short +time=2 +tries=1 "@$server" "$name" A >/dev/null
        done
        if [[ $c != cl3 ]]; then
            ip netns exec "$ns" dig +short +time=2 +tries=1 "@$server" api.lab.example A >/dev/null
        fi
        i=$((i + 1))
    done
    ip netns exec "$(labdns_ns cl1)" dig +short +time=2 +tries=1 @10.53.1.1 www.lab.example AAAA >/dev/null
    ip netns exec "$(labdns_ns cl3)" dig +short +time=2 +tries=1 @10.53.3.1 secret.lab.example A >/dev/null
    ip netns exec "$(labdns_ns cl1)" dig +short +time=2 +tries=1 @10.53.1.1 nope.lab.example A >/dev/null
    ip netns exec "$(labdns_ns cl2)" dig +short +time=2 +tries=1 @10.53.2.1 -x 10.77.1.10 >/dev/null
    ip netns exec "$(labdns_ns cl2)" dig +short +time=2 +tries=1 @10.53.2.1 printer.lan A >/dev/null
    lab_say "queried: www and the others from 3 clients, api from 2, secret from 1, ads (blocked), a reverse, a .lan and an unknown name"
}

labdns_silo_dll() {
    local dll
    dll="${CYBERWATCH_SILO_DLL:-$(ls -t "$ROOT"/Silo/bin/{Release,Debug}/net10.0/CyberWatch.Silo.dll 2>/dev/null | head -n1)}"
    [[ -f $dll ]] || lab_die "CyberWatch.Silo.dll is not built (dotnet build Silo, or scripts/cyberwatch up)"
    printf '%s' "$dll"
}

# One collector run (--once) in the resolver's namespace, into the Redis of CYBERWATCH_REDIS_URL (a
# unix:// socket reaches it from the namespace) or of the node's environment.
labdns_collect() {
    lab_require_root
    labdns_is_up || lab_die "the DNS demo is not up (scripts/lab dns-demo up)"
    local redis="${CYBERWATCH_REDIS_URL:-}" stream="${CYBERWATCH_DNS_STREAM:-cyberwatch:dns}"
    if [[ -z $redis && -f $ROOT/.data/cyberwatch.env ]]; then
        redis="$(set -a; . "$ROOT/.data/cyberwatch.env"; printf '%s' "$CYBERWATCH_REDIS_URL")"
    fi
    [[ $redis == unix://* ]] || lab_die "the collector runs in a namespace and reaches Redis only by a unix:// socket (CYBERWATCH_REDIS_URL)"
    cat >"$LABDNS_DIR/dns.yaml" <<YAML
source: logfile
state_dir: $LABDNS_DIR/state
logfile:
  path: $LABDNS_DIR/dnsmasq.log
filters:
  own_clients: [127.0.0.1, "::1", 10.53.0.1]
dns_resolution:
  servers: [10.53.0.1]
  allowed_prefixes: [10.77.0.0/16, fd77::/64]
privacy:
  k_anonymity: 2
redis:
  stream: $stream
YAML
    local dll
    dll="$(labdns_silo_dll)"
    env -u CYBERWATCH_PG_DSN CYBERWATCH_REDIS_URL="$redis" \
        ip netns exec "$(labdns_ns res)" dotnet "$dll" dns-collect --config "$LABDNS_DIR/dns.yaml" --once 8>&- \
        2>&1 | tee "$LABDNS_DIR/collector.log"
    return "${PIPESTATUS[0]}"
}

labdns_down() {
    lab_require_root
    local f pid ns
    for f in "$LABDNS_DIR"/*.pid; do
        [[ -f $f ]] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        [[ -n $pid ]] && lab_kill_pid "$pid"
    done
    for ns in $(labdns_namespaces); do
        ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            lab_kill_pid "$pid"
        done
        ip netns del "$ns"
    done
    rm -rf "$LABDNS_DIR"
    lab_say "DNS demo down"
}

labdns_lock() {
    exec 8>"/run/lock/$(labdns_prefix)demo.lock"
    flock -w 120 8 || lab_die "another DNS demo command holds the lock for more than 120s"
}

labdns_demo() {
    lab_require_root
    labdns_lock
    case "${1:-all}" in
        up) labdns_up ;;
        query) labdns_query ;;
        collect) labdns_collect ;;
        down) labdns_down ;;
        all)
            labdns_up
            labdns_query
            labdns_collect
            lab_say "the stream now holds the aggregates and targets; a silo with the same Redis turns them into targets"
            lab_say "(a silo in $(labdns_ns res) may probe the web namespace: CYBERWATCH_ALLOWED_TARGETS=10.77.0.0/16,fd77::/64)"
            ;;
        *) lab_die "usage: scripts/lab dns-demo [up|query|collect|down]" ;;
    esac
}
