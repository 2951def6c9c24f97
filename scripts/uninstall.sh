#!/usr/bin/env bash
# scripts/uninstall.sh — removes what scripts/install.sh installed.
#
#   sudo scripts/uninstall.sh [--yes] [--dry-run] [--prefix DIR] [--root DIR] [--purge]
#
# Removes exactly what install.sh recorded in its manifest, /usr/share/cyberwatch/installed.json: the
# services it created (stopped and disabled), the files it wrote, then the directories it made once they
# are empty. Without the manifest (or with a --prefix other than the one it records) it removes nothing.
# Asks before dropping the database (every measurement). /etc/cyberwatch (secrets), /var/lib/cyberwatch
# and /var/log/cyberwatch stay unless --purge (and a yes); --purge also removes the user cyberwatch if
# install created it, and the Debian packages install added — each only if no other installed package
# depends on it. A PostgreSQL or Redis that was there before install is not in the manifest: left alone.
# --root DIR: what install.sh --root DIR put there (files only; no systemctl, database, user or packages).
set -euo pipefail

PREFIX=/opt/cyberwatch
ETC=/etc/cyberwatch
SHARE=/usr/share/cyberwatch
SERVICE_USER=cyberwatch
MANIFEST=$SHARE/installed.json
# Directories that hold what the node wrote while it ran (secrets, state, logs): removed whole, and only under --purge.
DATA_DIRS=("$ETC" /var/lib/cyberwatch /var/lib/cyberwatch-agent /var/log/cyberwatch)
ASSUME_YES=0 DRY_RUN=0 PURGE=0 DEST="" PREFIX_GIVEN=0

say() { printf 'cyberwatch uninstall: %s\n' "$*"; }
die() { printf 'cyberwatch uninstall: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

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
        --prefix) PREFIX="${2:?--prefix needs a directory}"; PREFIX_GIVEN=1; shift ;;
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
D_MANIFEST="$DEST$MANIFEST" D_ETC="$DEST$ETC" D_VAR="$DEST/var"
[[ -f $D_MANIFEST ]] || die "no $D_MANIFEST: $DEST$PREFIX is not a directory scripts/install.sh made (or it was installed before manifests were written); removing nothing"
manifest_list() { sed -n "/^  \"$1\": \[/,/^  \]/{s/^    \"\(.*\)\",\{0,1\}$/\1/p}" "$D_MANIFEST"; }
recorded_prefix="$(sed -n 's/^  "prefix": "\(.*\)",$/\1/p' "$D_MANIFEST")"
if [[ $PREFIX_GIVEN == 1 && $recorded_prefix != "$PREFIX" ]]; then
    die "$D_MANIFEST records the prefix $recorded_prefix, not $PREFIX: not a directory scripts/install.sh made; removing nothing"
fi
mapfile -t FILES < <(manifest_list files)
mapfile -t DIRS < <(manifest_list directories)
mapfile -t PACKAGES < <(manifest_list packages)
mapfile -t SERVICES < <(manifest_list services)
USER_CREATED=0
grep -q '"user_created": true' "$D_MANIFEST" && USER_CREATED=1
is_data() { local path="$1" data; for data in "${DATA_DIRS[@]}"; do [[ $path == "$data" || $path == "$data"/* ]] && return 0; done; return 1; }

# ---------------------------------------------------------------- units
for unit in "${SERVICES[@]}"; do
    say "stopping and disabling $unit"
    [[ -z $DEST ]] && { run systemctl disable --now "$unit.service" || true; }
done

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
purge_data=0
if [[ $PURGE == 1 ]] && confirm "Remove $D_ETC (secrets, configuration), $D_VAR/lib/cyberwatch, $D_VAR/lib/cyberwatch-agent and $D_VAR/log/cyberwatch?"; then
    purge_data=1
fi
removed=0
for file in "${FILES[@]}"; do
    [[ $file == "$MANIFEST" ]] && continue # last: a run cut short can be run again
    if is_data "$file" && [[ $purge_data == 0 ]]; then
        continue
    fi
    if [[ -e $DEST$file || -L $DEST$file ]]; then
        run rm -f "$DEST$file"
        removed=$((removed + 1))
    fi
done
say "removed $removed file(s) of the manifest"
[[ -z $DEST ]] && { run systemctl daemon-reload || true; }
if [[ $purge_data == 1 ]]; then
    # What the node wrote while it ran is in no manifest: a data directory install made (it is in the manifest) goes whole.
    for data in "${DATA_DIRS[@]}"; do
        if [[ -d $DEST$data ]] && printf '%s\n' "${DIRS[@]}" | grep -qxF "$data"; then
            run rm -rf "$DEST$data"
        fi
    done
else
    say "kept $D_ETC, $D_VAR/lib/cyberwatch(-agent) and $D_VAR/log/cyberwatch (--purge removes them)"
fi
[[ $DRY_RUN == 0 && $purge_data == 1 ]] && rm -f "$D_MANIFEST"
# Deepest first; a directory that still holds anything (someone else's file, kept data) stays.
while IFS= read -r dir; do
    [[ -d $DEST$dir ]] && { run rmdir "$DEST$dir" 2>/dev/null || true; }
done < <(printf '%s\n' "${DIRS[@]}" | awk 'NF { print length($0) "\t" $0 }' | sort -rn | cut -f2-)
still_there() { local path; for path in "$@"; do [[ -e $DEST$path ]] && printf '%s\n' "$path"; done; }
if [[ $DRY_RUN == 0 ]]; then
    if [[ $purge_data == 0 ]]; then
        # What was kept stays recorded, so a later --purge still knows it (and the packages and user) as ours.
        mapfile -t kept_files < <(still_there "${FILES[@]}" | grep -vx "$MANIFEST")
        mapfile -t kept_dirs < <(still_there "${DIRS[@]}")
        {
            sed -n '1,/^  "user_created"/p' "$D_MANIFEST"
            for list in files directories packages services; do
                case $list in
                    files) items=("${kept_files[@]}" "$MANIFEST") ;;
                    directories) items=("${kept_dirs[@]}") ;;
                    packages) items=("${PACKAGES[@]}") ;;
                    services) items=() ;;
                esac
                printf '  "%s": [' "$list"
                first=1
                for item in "${items[@]}"; do
                    [[ -z $item ]] && continue
                    if [[ $first == 1 ]]; then printf '\n'; else printf ',\n'; fi
                    printf '    "%s"' "$item"
                    first=0
                done
                printf '\n  ]'
                [[ $list == services ]] && printf '\n}\n' || printf ',\n'
            done
        } >"$D_MANIFEST.tmp"
        mv "$D_MANIFEST.tmp" "$D_MANIFEST"
    fi
fi

# ---------------------------------------------------------------- purge
if [[ $PURGE == 1 && -z $DEST ]]; then
    if [[ $USER_CREATED == 1 ]] && id -u "$SERVICE_USER" >/dev/null 2>&1; then
        run userdel "$SERVICE_USER"
    fi
    # Only what install added, and only when no other installed package needs it.
    removable=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || continue
        mapfile -t needed_by < <(apt-cache rdepends --installed --no-recommends --no-suggests --no-enhances "$package" 2>/dev/null \
            | sed -n 's/^ *|\{0,1\}//p' | sort -u)
        others=()
        for dependent in "${needed_by[@]}"; do
            [[ -n $dependent && " ${PACKAGES[*]} " != *" $dependent "* ]] && others+=("$dependent")
        done
        if [[ ${#others[@]} -gt 0 ]]; then
            say "keeping $package: installed packages depend on it (${others[*]})"
        else
            removable+=("$package")
        fi
    done
    if [[ ${#removable[@]} -gt 0 ]] && confirm "Remove the Debian packages install added: ${removable[*]}?"; then
        run env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${removable[@]}"
    fi
fi
say "done"
