# shellcheck shell=bash
# `scripts/cyberwatch cert`: a private CA for one cyberWatch cluster and certificates for its nodes
# (mutual TLS between silos and from APIs to gateways; docs/cluster-tls.md). Sourced, not run.
# Needs say/die and CW_DATA from node.sh.

CW_CERT_DAYS_CA=3650
CW_CERT_DAYS_NODE=730

cert_usage() {
    cat <<'EOF2'
usage: scripts/cyberwatch cert init [--dir DIR]
       scripts/cyberwatch cert node NAME [--dir DIR] [--ip A,B,...] [--dns N,...]
  init   a new cluster CA (EC P-256, 10 years) in DIR/ca.crt and DIR/ca.key; never overwrites one
  node   DIR/NAME.crt and DIR/NAME.key (2 years, serverAuth+clientAuth), signed by the CA in DIR;
         prints the CYBERWATCH_TLS_* lines for that node
DIR defaults to $CYBERWATCH_DATA_DIR/certs (.data/certs of the checkout).
EOF2
}

# EC P-256 in PKCS#8: what .NET and OpenSSL both read without a password.
cert_new_key() {
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null) \
        || die "openssl could not create a key in $1"
    chmod 600 "$1"
}

# Signs WORK/req.csr into OUT with the extensions in WORK/ext, valid from an hour ago (another
# machine's clock a little behind must not find a new certificate "not yet valid") for DAYS days.
# With SELFSIGN the request's own key signs (the CA); otherwise the CA in DIR.
cert_sign() {
    local work="$1" dir="$2" out="$3" days="$4" selfsign="${5:-}"
    : >"$work/index.txt"
    openssl rand -hex 16 >"$work/serial"
    cat >"$work/ca.cnf" <<EOF2
[ca]
default_ca = cluster
[cluster]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = any
unique_subject = no
email_in_dn = no
[any]
commonName = supplied
EOF2
    local signer=(-cert "$dir/ca.crt" -keyfile "$dir/ca.key")
    [[ -n $selfsign ]] && signer=(-selfsign -keyfile "$dir/ca.key")
    openssl ca -batch -notext -config "$work/ca.cnf" "${signer[@]}" -in "$work/req.csr" -out "$out" \
        -startdate "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" -days "$days" -extfile "$work/ext" 2>>"$work/openssl.log"
}

cert_init() {
    local dir="$1"
    [[ -e $dir/ca.crt || -e $dir/ca.key ]] \
        && die "a cluster CA already exists in $dir (ca.crt, ca.key); refusing to overwrite it: nodes signed by it would be locked out. Use another --dir for a new cluster"
    mkdir -p "$dir"
    chmod 700 "$dir"
    local work
    work="$(mktemp -d)"
    cert_new_key "$dir/ca.key"
    cat >"$work/ext" <<EOF2
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF2
    # The random suffix tells two clusters' CAs apart in logs ("issued by ..., not by the cluster CA ...").
    if ! { openssl req -new -key "$dir/ca.key" -out "$work/req.csr" \
            -subj "/CN=cyberWatch cluster CA $(hostname -s 2>/dev/null || hostname) $(date -u +%Y-%m-%d) $(openssl rand -hex 4)" 2>>"$work/openssl.log" \
        && cert_sign "$work" "$dir" "$dir/ca.crt" "$CW_CERT_DAYS_CA" selfsign; }; then
        cat "$work/openssl.log" >&2
        rm -rf "$work"
        rm -f "$dir/ca.key" "$dir/ca.crt"
        die "openssl could not create the CA certificate"
    fi
    rm -rf "$work"
    chmod 644 "$dir/ca.crt"
    say "cluster CA created: $dir/ca.crt (copy it to every node), $dir/ca.key (keep it here, mode 0600)" >&2
}

cert_node() {
    local dir="$1" name="$2" ips="$3" dns="$4"
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "node name '$name' must be letters, digits, '.', '_' or '-'"
    [[ -f $dir/ca.crt && -f $dir/ca.key ]] || die "no cluster CA in $dir (ca.crt, ca.key): run scripts/cyberwatch cert init --dir $dir first, on the machine that keeps the CA"
    local sans=() item items
    IFS=',' read -ra items <<<"$ips"
    for item in "${items[@]}"; do [[ -n $item ]] && sans+=("IP:$item"); done
    IFS=',' read -ra items <<<"$dns"
    for item in "${items[@]}"; do [[ -n $item ]] && sans+=("DNS:$item"); done
    [[ ${#sans[@]} -gt 0 ]] || sans=("DNS:$name")
    local work
    work="$(mktemp -d)"
    cat >"$work/ext" <<EOF2
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $(IFS=','; echo "${sans[*]}")
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF2
    cert_new_key "$work/node.key"
    if ! { openssl req -new -key "$work/node.key" -subj "/CN=$name" -out "$work/req.csr" 2>>"$work/openssl.log" \
        && cert_sign "$work" "$dir" "$work/node.crt" "$CW_CERT_DAYS_NODE"; }; then
        cat "$work/openssl.log" >&2
        rm -rf "$work"
        die "openssl could not sign the certificate of $name (are --ip addresses valid?)"
    fi
    [[ -e $dir/$name.crt ]] && say "replacing the certificate of $name in $dir" >&2
    mv "$work/node.key" "$dir/$name.key"
    mv "$work/node.crt" "$dir/$name.crt"
    chmod 600 "$dir/$name.key"
    chmod 644 "$dir/$name.crt"
    rm -rf "$work"
    say "certificate of $name (${sans[*]}) valid $CW_CERT_DAYS_NODE days; this node's environment:" >&2
    local abs
    abs="$(cd "$dir" && pwd)"
    echo "CYBERWATCH_TLS_CA=$abs/ca.crt"
    echo "CYBERWATCH_TLS_CERT=$abs/$name.crt"
    echo "CYBERWATCH_TLS_KEY=$abs/$name.key"
}

# scripts/cyberwatch cert SUBCOMMAND ...: only the CYBERWATCH_TLS_* lines go to stdout.
cert_command() {
    local sub="${1:-}" dir="$CW_DATA/certs" name="" ips="" dns=""
    shift || true
    if [[ $sub == node ]]; then
        [[ $# -gt 0 && $1 != -* ]] || { cert_usage >&2; exit 2; }
        name="$1"
        shift
    fi
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dir) [[ $# -ge 2 ]] || { cert_usage >&2; exit 2; }; dir="$2"; shift 2 ;;
            --ip) [[ $sub == node && $# -ge 2 ]] || { cert_usage >&2; exit 2; }; ips="$2"; shift 2 ;;
            --dns) [[ $sub == node && $# -ge 2 ]] || { cert_usage >&2; exit 2; }; dns="$2"; shift 2 ;;
            *) echo "cyberwatch: unknown argument '$1'" >&2; cert_usage >&2; exit 2 ;;
        esac
    done
    command -v openssl >/dev/null || die "openssl is not installed (package openssl)"
    case "$sub" in
        init) cert_init "$dir" ;;
        node) cert_node "$dir" "$name" "$ips" "$dns" ;;
        help|-h|--help) cert_usage ;;
        *) cert_usage >&2; exit 2 ;;
    esac
}
