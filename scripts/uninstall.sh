#!/usr/bin/env bash
# scripts/uninstall.sh — removes what scripts/install.sh installed.
#
#   sudo scripts/uninstall.sh [--yes] [--dry-run] [--prefix DIR] [--root DIR] [--purge]
#
# Stops and removes the systemd units, the binaries in PREFIX and /usr/share/cyberwatch. Asks before
# dropping the database (every measurement) and before removing /etc/cyberwatch and the logs.
# --purge also removes the user cyberwatch and the Debian packages install.sh added (PostgreSQL,
# Redis, scamper, mtr, traceroute) — only if nothing else on the machine needs them.
# --root DIR: what install.sh --root DIR put there (files only; no systemctl, database, user or packages).
# PREFIX is removed only if install.sh's marker file is in it, so a wrong --prefix removes nothing.
set -euo pipefail

PREFIX=/opt/cyberwatch
ETC=/etc/cyberwatch
SHARE=/usr/share/cyberwatch
UNIT_DIR=/etc/systemd/system
SERVICE_USER=cyberwatch
PACKAGES=(postgresql redis-server scamper mtr-tiny traceroute)
UNITS=(cyberwatch-agent cyberwatch-dns-collector cyberwatch-api cyberwatch-silo cyberwatch-scamper)
MARKER=.cyberwatch-install
ASSUME_YES=0 DRY_RUN=0 PURGE=0 DEST=""

say() { printf 'cyberwatch uninstall: %s\n' "$*"; }
die() { printf 'cyberwatch uninstall: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

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
        --root) DEST="${2:?--root needs a directory}"; shift ;;
        --help|-h) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
    shift
done
[[ $PREFIX == /* && $PREFIX != / && $PREFIX != *..* ]] || die "--prefix must be an absolute path other than / without '..', not '$PREFIX'"
PREFIX="${PREFIX%/}"
case "$PREFIX" in
    /bin|/boot|/dev|/etc|/home|/lib|/lib64|/media|/mnt|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/*bin|/usr/lib*|/usr/local|/usr/share|/var|/var/lib|/var/log)
        die "--prefix must be cyberWatch's own directory, not the system directory '$PREFIX'" ;;
esac
if [[ -n $DEST ]]; then
    [[ $DEST == /* && $DEST != *..* ]] || die "--root must be an absolute path without '..', not '$DEST'"
    DEST="${DEST%/}"
fi
[[ $DRY_RUN == 1 || -n $DEST || $EUID -eq 0 ]] || die "run as root (sudo $0), or with --dry-run to see what it would do"
D_PREFIX="$DEST$PREFIX" D_ETC="$DEST$ETC" D_SHARE="$DEST$SHARE" D_UNIT_DIR="$DEST$UNIT_DIR" D_VAR="$DEST/var"
# (An install from before the marker is known by its silo binary.)
if [[ -d $D_PREFIX && ! -f $D_PREFIX/$MARKER && ! -x $D_PREFIX/silo/CyberWatch.Silo && ! -x $D_PREFIX/agent/CyberWatch.Agent ]]; then
    die "$D_PREFIX has no $MARKER: not a directory scripts/install.sh made; removing nothing"
fi

# ---------------------------------------------------------------- units
for unit in "${UNITS[@]}"; do
    if [[ -f $D_UNIT_DIR/$unit.service ]]; then
        say "stopping and removing $unit"
        [[ -z $DEST ]] && { run systemctl disable --now "$unit.service" || true; }
        run rm -f "$D_UNIT_DIR/$unit.service"
    fi
done
[[ -z $DEST ]] && { run systemctl daemon-reload || true; }

# ---------------------------------------------------------------- database
dsn=""
[[ -z $DEST && -f $ETC/cyberwatch.env ]] && dsn="$(sed -n "s/^CYBERWATCH_PG_DSN='\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$ETC/cyberwatch.env" | tail -n 1)"
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
run rm -rf "$D_PREFIX" "$D_SHARE"
if [[ -d $D_ETC || -d $D_VAR/log/cyberwatch || -d $D_VAR/lib/cyberwatch || -d $D_VAR/lib/cyberwatch-agent ]]; then
    # (a remote agent's undelivered results are in /var/lib/cyberwatch-agent)
    if [[ $PURGE == 1 ]] && confirm "Remove $D_ETC (secrets, configuration), $D_VAR/lib/cyberwatch, $D_VAR/lib/cyberwatch-agent and $D_VAR/log/cyberwatch?"; then
        run rm -rf "$D_ETC" "$D_VAR/lib/cyberwatch" "$D_VAR/lib/cyberwatch-agent" "$D_VAR/log/cyberwatch"
    else
        say "kept $D_ETC, $D_VAR/lib/cyberwatch(-agent) and $D_VAR/log/cyberwatch (--purge removes them)"
    fi
fi

# ---------------------------------------------------------------- purge
if [[ $PURGE == 1 && -z $DEST ]]; then
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        run userdel "$SERVICE_USER"
    fi
    if confirm "Remove the Debian packages ${PACKAGES[*]}?"; then
        run env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${PACKAGES[@]}"
        run apt-get autoremove -y -qq
    fi
fi
say "done"
