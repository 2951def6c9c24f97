#!/usr/bin/env bash
# scripts/uninstall.sh — removes what scripts/install.sh installed.
#
#   sudo scripts/uninstall.sh [--yes] [--dry-run] [--prefix DIR] [--purge]
#
# Stops and removes the systemd units, the binaries in PREFIX and /usr/share/cyberwatch. Asks before
# dropping the database (every measurement) and before removing /etc/cyberwatch and the logs.
# --purge also removes the user cyberwatch and the Debian packages install.sh added (PostgreSQL,
# Redis, scamper, mtr, traceroute) — only if nothing else on the machine needs them.
set -euo pipefail

PREFIX=/opt/cyberwatch
ETC=/etc/cyberwatch
SHARE=/usr/share/cyberwatch
UNIT_DIR=/etc/systemd/system
SERVICE_USER=cyberwatch
PACKAGES=(postgresql redis-server scamper mtr-tiny traceroute)
UNITS=(cyberwatch-dns-collector cyberwatch-api cyberwatch-silo)
ASSUME_YES=0 DRY_RUN=0 PURGE=0

say() { printf 'cyberwatch uninstall: %s\n' "$*"; }
die() { printf 'cyberwatch uninstall: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

run() {
    if [[ $DRY_RUN == 1 ]]; then
        printf 'would run: %s\n' "$*"
    else
        "$@"
    fi
}

# Under --yes, destructive questions are answered yes; without a terminal and without --yes, no.
confirm() {
    [[ $ASSUME_YES == 1 ]] && return 0
    [[ $DRY_RUN == 1 ]] && { printf 'would ask: %s\n' "$1"; return 1; }
    [[ -t 0 ]] || { say "$1 — not without a terminal or --yes; skipped"; return 1; }
    local answer
    read -r -p "$1 [y/N] " answer
    [[ $answer == [yY]* ]]
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --yes|-y) ASSUME_YES=1 ;;
        --dry-run) DRY_RUN=1 ;;
        --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
        --purge) PURGE=1 ;;
        --help|-h) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
    shift
done
[[ $PREFIX == /* && $PREFIX != / ]] || die "--prefix must be an absolute path other than /, not '$PREFIX'"
[[ $DRY_RUN == 1 || $EUID -eq 0 ]] || die "run as root (sudo $0), or with --dry-run to see what it would do"

# ---------------------------------------------------------------- units
for unit in "${UNITS[@]}"; do
    if [[ -f $UNIT_DIR/$unit.service ]]; then
        say "stopping and removing $unit"
        run systemctl disable --now "$unit.service" || true
        run rm -f "$UNIT_DIR/$unit.service"
    fi
done
run systemctl daemon-reload || true

# ---------------------------------------------------------------- database
dsn=""
[[ -f $ETC/cyberwatch.env ]] && dsn="$(sed -n "s/^CYBERWATCH_PG_DSN='\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$ETC/cyberwatch.env" | tail -n 1)"
if [[ $dsn == postgresql://cyberwatch:*@127.0.0.1:5432/cyberwatch ]] && command -v psql >/dev/null; then
    if confirm "Drop the database 'cyberwatch' with every table and measurement in it, and its roles?"; then
        run runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS cyberwatch WITH (FORCE)" \
            -c "DROP ROLE IF EXISTS cyberwatch_grafana" -c "DROP ROLE IF EXISTS cyberwatch"
    else
        say "database kept"
    fi
elif [[ -n $dsn ]]; then
    say "the database is not this machine's ($ETC/cyberwatch.env); drop it yourself if you want it gone"
fi

# ---------------------------------------------------------------- files
run rm -rf "$PREFIX" "$SHARE"
if [[ -d $ETC || -d /var/log/cyberwatch || -d /var/lib/cyberwatch ]]; then
    if [[ $PURGE == 1 ]] && confirm "Remove $ETC (secrets, configuration), /var/lib/cyberwatch and /var/log/cyberwatch?"; then
        run rm -rf "$ETC" /var/lib/cyberwatch /var/log/cyberwatch
    else
        say "kept $ETC, /var/lib/cyberwatch and /var/log/cyberwatch (--purge removes them)"
    fi
fi

# ---------------------------------------------------------------- purge
if [[ $PURGE == 1 ]]; then
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        run userdel "$SERVICE_USER"
    fi
    if confirm "Remove the Debian packages ${PACKAGES[*]}?"; then
        run env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${PACKAGES[@]}"
        run apt-get autoremove -y -qq
    fi
fi
say "done"
