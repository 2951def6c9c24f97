#!/usr/bin/env bash
# scripts/install.sh — installs cyberWatch as system services on Debian 12.
#
#   sudo scripts/install.sh [--yes] [--dry-run] [--prefix DIR] [--root DIR] [--redis-url URL] [--no-packages] [--no-build] [--no-database] [--no-start]
#   sudo scripts/install.sh --agent --url https://API:8000 --vantage NAME --key-file FILE [--yes] [--prefix DIR] [--root DIR]
#   scripts/install.sh --render-units DIR [--prefix DIR]     (writes the systemd units only)
#   --agent installs only a remote agent (docs/agents.md): scamper, the agent, /etc/cyberwatch/agent.env and its key,
#   the units cyberwatch-scamper and cyberwatch-agent; no database, Redis, silo or API.
#   --root DIR installs the files into DIR as if it were / (an image, a test): no packages, user, database,
#   ownership or systemctl — only files. Units still name the real paths (--prefix, /etc/cyberwatch).
#   --redis-url URL: the Redis cyberWatch uses (redis://:PASSWORD@HOST:PORT/DB, unix:///PATH?password=..., HOST:PORT),
#   written into a new cyberwatch.env; default the local one, redis://:GENERATED@127.0.0.1:6379/0. An existing
#   cyberwatch.env keeps its CYBERWATCH_REDIS_URL. A Redis install did not add is only asked PING, never configured.
#
# Idempotent: run it again to upgrade; what exists is kept (secrets, database, configuration).
#   1. Debian packages: PostgreSQL, Redis, scamper, mtr, traceroute (the .NET 10 SDK must be there to build)
#   2. the system user cyberwatch
#   3. publishes the silo (also the DNS collector) and the API (Release) into PREFIX (/opt/cyberwatch)
#   4. /etc/cyberwatch/cyberwatch.env with generated secrets, unless it exists
#   5. the database: role and database on the local PostgreSQL, a read-only role for Grafana, the
#      migrations (asks first unless --yes)
#   6. Grafana dashboards and provisioning, Prometheus rules, into /usr/share/cyberwatch
#   7. systemd units: cyberwatch-scamper (the probe daemon), cyberwatch-silo and cyberwatch-api enabled and
#      (re)started; cyberwatch-dns-collector installed, enabled only when /etc/cyberwatch/dns.yaml exists
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/cyberwatch
ETC=/etc/cyberwatch
ENV_FILE=$ETC/cyberwatch.env
SHARE=/usr/share/cyberwatch
UNIT_DIR=/etc/systemd/system
SERVICE_USER=cyberwatch
PACKAGES=(postgresql redis-server scamper mtr-tiny traceroute curl)
UNITS=(cyberwatch-scamper cyberwatch-silo cyberwatch-api cyberwatch-dns-collector)
# Written into PREFIX: uninstall.sh removes a prefix only when it finds this file there.
MARKER=.cyberwatch-install
# What this install put on the machine (files, directories, packages, services); uninstall.sh removes exactly that.
MANIFEST=$SHARE/installed.json

AGENT=0 AGENT_URL="" AGENT_VANTAGE="" AGENT_KEY_FILE=""
REDIS_URL_GIVEN=""
ASSUME_YES=0 DRY_RUN=0 PACKAGES_STEP=1 BUILD_STEP=1 DATABASE_STEP=1 START_STEP=1 RENDER_ONLY="" DEST=""

say() { printf 'cyberwatch install: %s\n' "$*"; }
die() { printf 'cyberwatch install: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# Runs a command, or only says it under --dry-run.
run() {
    if [[ $DRY_RUN == 1 ]]; then
        printf 'would run: %s\n' "$*"
    else
        "$@"
    fi
}

confirm() {
    [[ $ASSUME_YES == 1 ]] && return 0
    [[ $DRY_RUN == 1 ]] && { printf 'would ask: %s\n' "$1"; return 0; }
    [[ -t 0 ]] || die "$1 — no terminal to ask on; run again with --yes"
    local answer
    read -r -p "$1 [y/N] " answer
    [[ $answer == [yY]* ]]
}

secret() { head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }

# The manifest as it grows: real paths (without --root). A re-run adds to what the last one recorded.
M_FILES=() M_DIRS=() M_PACKAGES=() M_SERVICES=() M_USER=0
# note_dirs DIR...: records each directory (and parent) that does not exist yet, before it is created.
note_dirs() {
    local dir
    for dir in "$@"; do
        while [[ -n $dir && $dir != "$DEST" && ! -e $dir ]]; do
            M_DIRS+=("${dir#"$DEST"}")
            dir="$(dirname "$dir")"
        done
    done
}
note_files() { local f; for f in "$@"; do M_FILES+=("${f#"$DEST"}"); done; }
# manifest_list FILE KEY: the entries of one list of a manifest written by write_manifest (one per line).
manifest_list() { sed -n "/^  \"$2\": \[/,/^  \]/{s/^    \"\(.*\)\",\{0,1\}$/\1/p}" "$1"; }
write_manifest() {
    local file="$1"
    # One entry a line, the closing bracket on its own line even when empty: manifest_list reads it with sed.
    json_list() { local first=1 item; printf '  "%s": [' "$1"; shift
        while IFS= read -r item; do [[ -z $item ]] && continue; [[ $first == 1 ]] && printf '\n' || printf ',\n'; printf '    "%s"' "$item"; first=0; done < <(printf '%s\n' "$@" | sort -u)
        printf '\n  ]'; }
    {
        printf '{\n  "written_by": "scripts/install.sh",\n  "written_at": "%s",\n  "prefix": "%s",\n  "user_created": %s,\n' \
            "$(date -u +%FT%TZ)" "$PREFIX" "$([[ $M_USER == 1 ]] && echo true || echo false)"
        json_list files "${M_FILES[@]}"; printf ',\n'
        json_list directories "${M_DIRS[@]}"; printf ',\n'
        json_list packages "${M_PACKAGES[@]}"; printf ',\n'
        json_list services "${M_SERVICES[@]}"; printf '\n}\n'
    } >"$file.tmp"
    mv "$file.tmp" "$file"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --yes|-y) ASSUME_YES=1 ;;
        --dry-run) DRY_RUN=1 ;;
        --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
        --no-packages) PACKAGES_STEP=0 ;;
        --no-build) BUILD_STEP=0 ;;
        --no-database) DATABASE_STEP=0 ;;
        --no-start) START_STEP=0 ;;
        --agent) AGENT=1 ;;
        --url) AGENT_URL="${2:?--url needs the address of the API}"; shift ;;
        --vantage) AGENT_VANTAGE="${2:?--vantage needs a name}"; shift ;;
        --key-file) AGENT_KEY_FILE="${2:?--key-file needs a file holding the agent key}"; shift ;;
        --render-units) RENDER_ONLY="${2:?--render-units needs a directory}"; shift ;;
        --root) DEST="${2:?--root needs a directory}"; shift ;;
        --redis-url) REDIS_URL_GIVEN="${2:?--redis-url needs a URL (redis://:PASSWORD@HOST:PORT/DB)}"; shift ;;
        --help|-h) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
    shift
done
[[ $PREFIX == /* && $PREFIX != / && $PREFIX != *..* ]] || die "--prefix must be an absolute path other than / without '..', not '$PREFIX'"
if [[ $AGENT == 1 ]]; then
    # A remote agent only: what a silo machine has besides (database, Redis, Grafana) is not installed.
    [[ -n $AGENT_URL && -n $AGENT_VANTAGE && -n $AGENT_KEY_FILE ]] || die "--agent needs --url https://API:PORT, --vantage NAME and --key-file FILE (cyberwatch apikey create --role agent --vantage NAME)"
    [[ -f $AGENT_KEY_FILE ]] || die "--key-file $AGENT_KEY_FILE does not exist"
    [[ $(head -c 3 "$AGENT_KEY_FILE") == cw_ ]] || die "--key-file $AGENT_KEY_FILE does not hold an agent key (cw_...)"
    [[ $AGENT_VANTAGE =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || die "--vantage '$AGENT_VANTAGE' is not a vantage name"
    [[ $AGENT_URL == https://* || $AGENT_URL == wss://* ]] || die "--url must be https:// (the agent key travels in it)"
    PACKAGES=(scamper)
    UNITS=(cyberwatch-scamper cyberwatch-agent)
    DATABASE_STEP=0
fi
if [[ -n $DEST ]]; then
    [[ $DEST == /* && $DEST != *..* ]] || die "--root must be an absolute path without '..', not '$DEST'"
    DEST="${DEST%/}"
    # Only files: nothing of this machine (packages, users, PostgreSQL, Redis, systemd) is touched.
    PACKAGES_STEP=0 DATABASE_STEP=0 START_STEP=0
fi
# Where files go: the real paths, under --root when given.
D_PREFIX="$DEST$PREFIX" D_ETC="$DEST$ETC" D_ENV_FILE="$DEST$ENV_FILE" D_SHARE="$DEST$SHARE" D_UNIT_DIR="$DEST$UNIT_DIR"
D_VAR="$DEST/var"
D_MANIFEST="$DEST$MANIFEST"
if [[ -f $D_MANIFEST ]]; then
    [[ $(sed -n 's/^  "prefix": "\(.*\)",$/\1/p' "$D_MANIFEST") == "$PREFIX" ]] \
        || die "$D_MANIFEST records another prefix ($(sed -n 's/^  "prefix": "\(.*\)",$/\1/p' "$D_MANIFEST")); uninstall that first or give the same --prefix"
    mapfile -t M_FILES < <(manifest_list "$D_MANIFEST" files)
    mapfile -t M_DIRS < <(manifest_list "$D_MANIFEST" directories)
    mapfile -t M_PACKAGES < <(manifest_list "$D_MANIFEST" packages)
    mapfile -t M_SERVICES < <(manifest_list "$D_MANIFEST" services)
    grep -q '"user_created": true' "$D_MANIFEST" && M_USER=1
fi
# parse_redis_url URL: REDIS_HOST, REDIS_PORT or REDIS_SOCKET, and REDIS_URL_PASSWORD of a CYBERWATCH_REDIS_URL
# (redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://..., unix:///PATH[?password=...], HOST:PORT); false when it is none.
parse_redis_url() {
    local url="$1" rest
    REDIS_HOST=127.0.0.1 REDIS_PORT=6379 REDIS_SOCKET="" REDIS_URL_PASSWORD=""
    case "$url" in
        unix://*)
            rest="${url#unix://}"
            REDIS_SOCKET="${rest%%\?*}"
            if [[ $rest == *\?*password=* ]]; then REDIS_URL_PASSWORD="${rest#*password=}"; REDIS_URL_PASSWORD="${REDIS_URL_PASSWORD%%&*}"; fi
            [[ $REDIS_SOCKET == /* ]] ;;
        redis://*|rediss://*)
            rest="${url#*://}"
            rest="${rest%%/*}"
            if [[ $rest == *@* ]]; then REDIS_URL_PASSWORD="${rest%@*}"; REDIS_URL_PASSWORD="${REDIS_URL_PASSWORD#*:}"; rest="${rest##*@}"; fi
            [[ $rest == *:* ]] && { REDIS_PORT="${rest##*:}"; rest="${rest%:*}"; }
            [[ -n $rest ]] && REDIS_HOST="$rest"
            [[ $REDIS_PORT =~ ^[0-9]+$ ]] ;;
        *:*)
            REDIS_HOST="${url%:*}" REDIS_PORT="${url##*:}"
            [[ -n $REDIS_HOST && $REDIS_PORT =~ ^[0-9]+$ ]] ;;
        *) return 1 ;;
    esac
}
# Ownership only on a real install: under --root the user is this machine's, not the image's.
owned() { [[ -z $DEST ]] && printf -- '-o\n%s\n-g\n%s\n' "$1" "$2"; return 0; }

# The units of scripts/systemd with the prefix filled in.
render_units() {
    local into="$1" unit
    mkdir -p "$into"
    for unit in "${UNITS[@]}"; do
        sed "s|@PREFIX@|$PREFIX|g" "$ROOT/scripts/systemd/$unit.service" >"$into/$unit.service"
    done
}

if [[ -n $RENDER_ONLY ]]; then
    render_units "$RENDER_ONLY"
    exit 0
fi

[[ $DRY_RUN == 1 || -n $DEST || $EUID -eq 0 ]] || die "run as root (sudo $0), or with --dry-run to see what it would do"

# ---------------------------------------------------------------- 1. packages
# Packages this run installed: a service that was here before (a Redis with other users) is configured by its owner, not by us.
missing=()
if [[ $PACKAGES_STEP == 1 ]]; then
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        say "installing ${missing[*]}"
        run apt-get update -qq
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
        M_PACKAGES+=("${missing[@]}")
    else
        say "packages already installed"
    fi
fi

# ---------------------------------------------------------------- 2. user
if [[ -n $DEST ]]; then
    say "--root: the user $SERVICE_USER is not created (create it in the image)"
elif id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "user $SERVICE_USER exists"
else
    say "creating system user $SERVICE_USER"
    M_USER=1
    run useradd --system --user-group --home-dir /var/lib/cyberwatch --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

# ---------------------------------------------------------------- 3. binaries
DOTNET="$(command -v dotnet || true)"
if [[ $BUILD_STEP == 1 ]]; then
    [[ -n $DOTNET ]] || die "the .NET 10 SDK is needed to build (dotnet not found); or publish elsewhere and use --no-build"
    projects=(Silo:silo WebApi:api)
    [[ $AGENT == 1 ]] && projects=(Agent:agent)
    for project in "${projects[@]}"; do
        source_dir="${project%%:*}" target="$D_PREFIX/${project##*:}"
        say "publishing $source_dir to $target"
        run rm -rf "$target.new"
        run "$DOTNET" publish "$ROOT/$source_dir" -c Release -o "$target.new" --nologo -v q
        # Swap in whole: a unit never starts half-copied binaries.
        if [[ -d $target ]]; then
            run rm -rf "$target.old"
            run mv "$target" "$target.old"
        fi
        note_dirs "$target"
        run mv "$target.new" "$target"
        run rm -rf "$target.old"
        if [[ -d $target ]]; then
            mapfile -t published_dirs < <(find "$target" -mindepth 1 -type d)
            mapfile -t published_files < <(find "$target" ! -type d)
            note_files "${published_files[@]}"
            M_DIRS+=("${published_dirs[@]#"$DEST"}")
        fi
    done
    note_files "$D_PREFIX/README.md"
    run install -m 0644 "$ROOT/README.md" "$D_PREFIX/README.md"
    # The README links into docs/: the pages go beside it (the screenshots stay in the checkout).
    note_dirs "$D_PREFIX/docs"
    run install -d -m 0755 "$D_PREFIX/docs"
    for page in "$ROOT"/docs/*.md; do
        note_files "$D_PREFIX/docs/$(basename "$page")"
        run install -m 0644 "$page" "$D_PREFIX/docs/$(basename "$page")"
    done
fi
note_dirs "$D_PREFIX"
note_files "$D_PREFIX/$MARKER"
run install -d -m 0755 "$D_PREFIX"
if [[ $DRY_RUN == 1 ]]; then
    printf 'would write: %s\n' "$D_PREFIX/$MARKER"
else
    printf 'cyberWatch installed here by scripts/install.sh on %s; scripts/uninstall.sh removes this directory.\n' \
        "$(date -u +%FT%TZ)" >"$D_PREFIX/$MARKER"
fi

# ---------------------------------------------------------------- 4. configuration
mapfile -t etc_owner < <(owned root "$SERVICE_USER")
mapfile -t var_owner < <(owned "$SERVICE_USER" "$SERVICE_USER")
note_dirs "$D_ETC" "$D_VAR/lib/cyberwatch" "$D_VAR/log/cyberwatch"
run install -d -m 0750 "${etc_owner[@]}" "$D_ETC"
run install -d -m 0750 "${var_owner[@]}" "$D_VAR/lib/cyberwatch" "$D_VAR/log/cyberwatch"
if [[ $AGENT == 1 ]]; then
    say "writing $D_ETC/agent.env and the agent key"
    note_files "$D_ETC/agent.key" "$D_ETC/agent.env"
    run install -m 0640 "${etc_owner[@]}" "$AGENT_KEY_FILE" "$D_ETC/agent.key"
    if [[ $DRY_RUN == 1 ]]; then
        printf 'would write: %s\n' "$D_ETC/agent.env"
    else
        dotnet_root=""
        [[ -n $DOTNET ]] && dotnet_root="$(dirname "$(readlink -f "$DOTNET")")"
        umask 027
        cat >"$D_ETC/agent.env" <<EOF
# cyberWatch remote agent, written by scripts/install.sh --agent on $(date -u +%FT%TZ) (docs/agents.md).
CYBERWATCH_AGENT_URL='$AGENT_URL'
CYBERWATCH_VANTAGE='$AGENT_VANTAGE'
CYBERWATCH_AGENT_KEY_FILE='$ETC/agent.key'
CYBERWATCH_AGENT_BUFFER_MB=64
# CYBERWATCH_AGENT_CA='/etc/cyberwatch/ca.pem'   (when the API's certificate is not signed by a public CA)
CYBERWATCH_LOG_LEVEL=info
CYBERWATCH_LOG_FILE='/var/log/cyberwatch/{component}.log'
DOTNET_ROOT='$dotnet_root'
EOF
        [[ -z $DEST ]] && chgrp "$SERVICE_USER" "$D_ETC/agent.env"
        chmod 0640 "$D_ETC/agent.env"
    fi
elif [[ -f $D_ENV_FILE ]]; then
    say "$D_ENV_FILE exists; keeping it"
    kept_redis_url="$(sed -n "s/^CYBERWATCH_REDIS_URL='\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$D_ENV_FILE" | tail -n 1)"
    [[ -z $REDIS_URL_GIVEN || $REDIS_URL_GIVEN == "$kept_redis_url" ]] \
        || die "--redis-url differs from the CYBERWATCH_REDIS_URL of $D_ENV_FILE, which is kept: change it there"
else
    say "writing $D_ENV_FILE with generated secrets"
    note_files "$D_ENV_FILE"
    pg_password="$(secret)" redis_password="$(secret)" grafana_password="$(secret)"
    redis_url="redis://:$redis_password@127.0.0.1:6379/0"
    if [[ -n $REDIS_URL_GIVEN ]]; then
        # The operator's Redis: its password is the one in the URL (none when the URL has none).
        redis_url="$REDIS_URL_GIVEN"
        parse_redis_url "$redis_url" || die "--redis-url '$redis_url' is not redis://[:PASSWORD@]HOST:PORT[/DB], unix:///PATH[?password=...] or HOST:PORT"
        redis_password="$REDIS_URL_PASSWORD"
    fi
    dotnet_root=""
    [[ -n $DOTNET ]] && dotnet_root="$(dirname "$(readlink -f "$DOTNET")")"
    if [[ $DRY_RUN == 1 ]]; then
        printf 'would write: %s (mode 0640, group %s)\n' "$D_ENV_FILE" "$SERVICE_USER"
    else
        umask 027
        cat >"$D_ENV_FILE" <<EOF
# cyberWatch environment, written by scripts/install.sh on $(date -u +%FT%TZ). Secrets are unique to
# this machine. Every variable is described in README.md ("Configuration") and docs/operations.md.
CYBERWATCH_PG_DSN='postgresql://cyberwatch:$pg_password@127.0.0.1:5432/cyberwatch'
CYBERWATCH_REDIS_URL='$redis_url'
CYBERWATCH_REDIS_PASSWORD='$redis_password'
CYBERWATCH_VANTAGE='$(hostname -s)'
CYBERWATCH_API_URL='http://127.0.0.1:8000'
CYBERWATCH_SILO_HTTP='http://127.0.0.1:8001'
CYBERWATCH_LOG_LEVEL=info
CYBERWATCH_LOG_FILE='/var/log/cyberwatch/{component}.log'
CYBERWATCH_LOG_MAX_BYTES=100M
CYBERWATCH_LOG_RETAINED_FILES=10
# Read-only role for Grafana's datasource (grafana/provisioning/datasources/cyberwatch.yaml).
CYBERWATCH_GRAFANA_PG_PASSWORD='$grafana_password'
DOTNET_ROOT='$dotnet_root'
EOF
        [[ -z $DEST ]] && chgrp "$SERVICE_USER" "$D_ENV_FILE"
        chmod 0640 "$D_ENV_FILE"
    fi
fi

env_value() { [[ -f $D_ENV_FILE ]] && sed -n "s/^$1='\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$D_ENV_FILE" | tail -n 1; }

# ---------------------------------------------------------------- 5. Redis password
# The Redis of CYBERWATCH_REDIS_URL. Only one this run installed (the package redis-server) is ours to configure: any
# other was here before, with its owner's configuration and data, and is only asked PING (also under --root).
# Secrets never go on a command line (any local user reads them in ps): redis-cli takes the password from
# REDISCLI_AUTH and CONFIG SET from its standard input; psql below reads its SQL from standard input.
redis_password="$(env_value CYBERWATCH_REDIS_PASSWORD || true)"
redis_url="$(env_value CYBERWATCH_REDIS_URL || true)"
if [[ -n $redis_url ]] && command -v redis-cli >/dev/null; then
    parse_redis_url "$redis_url" || die "CYBERWATCH_REDIS_URL of $D_ENV_FILE is not a Redis URL: '$redis_url'"
    [[ -z $redis_password ]] && redis_password="$REDIS_URL_PASSWORD"
    redis_where="${REDIS_SOCKET:-$REDIS_HOST:$REDIS_PORT}"
    redis_at() { if [[ -n $REDIS_SOCKET ]]; then redis-cli -s "$REDIS_SOCKET" "$@"; else redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; fi; }
    redis_with_password() { REDISCLI_AUTH="$redis_password" redis_at --no-auth-warning "$@"; }
    if [[ -n $redis_password ]] && redis_with_password ping 2>/dev/null | grep -q PONG \
        && ! redis_at ping 2>/dev/null | grep -q PONG; then
        say "the Redis at $redis_where takes the password of CYBERWATCH_REDIS_URL; left as it is"
    elif [[ -z $DEST && -n $redis_password && " ${missing[*]} " == *" redis-server "* \
            && -z $REDIS_SOCKET && $REDIS_HOST == 127.0.0.1 && $REDIS_PORT == 6379 ]]; then
        # The package this run installed, on its own address: ours to configure.
        say "setting the generated password on the Redis this install added ($redis_where)"
        if [[ $DRY_RUN == 1 ]]; then
            printf 'would run: redis-cli CONFIG SET requirepass (from stdin), CONFIG REWRITE\n'
        else
            printf 'CONFIG SET requirepass "%s"\n' "$redis_password" | redis_at >/dev/null
            redis_with_password CONFIG REWRITE >/dev/null
        fi
    elif redis_with_password ping 2>/dev/null | grep -q PONG; then
        say "the Redis at $redis_where was here before this install and answers without a password: left as it is (its" \
            "configuration is its owner's); give cyberWatch a password there and put it in CYBERWATCH_REDIS_URL in $ENV_FILE"
    else
        say "the Redis at $redis_where does not answer with the password of $ENV_FILE (or is not running): left as it is;" \
            "fix CYBERWATCH_REDIS_URL there"
    fi
fi

# ---------------------------------------------------------------- 6. database
psql_local() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }
if [[ $DATABASE_STEP == 1 ]]; then
    dsn="$(env_value CYBERWATCH_PG_DSN || true)"
    if [[ $dsn == postgresql://cyberwatch:*@127.0.0.1:5432/cyberwatch ]] && command -v pg_lsclusters >/dev/null; then
        pg_password="${dsn#postgresql://cyberwatch:}"
        pg_password="${pg_password%%@*}"
        grafana_password="$(env_value CYBERWATCH_GRAFANA_PG_PASSWORD || true)"
        if [[ -z "$(pg_lsclusters -h 2>/dev/null)" ]]; then
            # No cluster (Debian was told not to create one): the newest installed server's "main".
            run pg_createcluster --start "$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)" main
        fi
        run systemctl enable --now postgresql
        if [[ $DRY_RUN == 1 ]] || ! psql_local -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'cyberwatch'" | grep -q 1; then
            if confirm "Create the PostgreSQL role and database 'cyberwatch' (and read-only role 'cyberwatch_grafana') on this machine?"; then
                if [[ $DRY_RUN == 1 ]]; then
                    printf 'would run: psql CREATE ROLE cyberwatch, cyberwatch_grafana (passwords from stdin), CREATE DATABASE cyberwatch\n'
                else
                    psql_local <<SQL
CREATE ROLE cyberwatch LOGIN PASSWORD '$pg_password';
CREATE ROLE cyberwatch_grafana LOGIN PASSWORD '$grafana_password';
SQL
                    psql_local -c "CREATE DATABASE cyberwatch OWNER cyberwatch"
                fi
                run psql_local -d cyberwatch -c "GRANT USAGE ON SCHEMA public TO cyberwatch_grafana" \
                    -c "ALTER DEFAULT PRIVILEGES FOR ROLE cyberwatch IN SCHEMA public GRANT SELECT ON TABLES TO cyberwatch_grafana"
            else
                say "database left alone; set CYBERWATCH_PG_DSN in $ENV_FILE to your own"
            fi
        else
            say "PostgreSQL role cyberwatch exists"
        fi
    fi
    if confirm "Apply the cyberWatch migrations to the database of $ENV_FILE?"; then
        say "applying migrations"
        if [[ $DRY_RUN == 1 ]]; then
            printf 'would run: %s migrate (with %s)\n' "$PREFIX/silo/CyberWatch.Silo" "$ENV_FILE"
        else
            # shellcheck source=/dev/null
            (set -a; . "$ENV_FILE"; set +a; exec runuser -u "$SERVICE_USER" --preserve-environment -- "$PREFIX/silo/CyberWatch.Silo" migrate)
        fi
        if [[ $DRY_RUN == 0 ]] && psql_local -d cyberwatch -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'cyberwatch_grafana'" 2>/dev/null | grep -q 1; then
            psql_local -d cyberwatch -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO cyberwatch_grafana"
        fi
    else
        say "migrations not applied; the silo applies them when it starts"
    fi
fi

# ---------------------------------------------------------------- 7. Grafana and Prometheus files
if [[ $AGENT == 0 ]]; then
say "installing dashboards and alert rules into $D_SHARE"
note_dirs "$D_SHARE/grafana/dashboards" "$D_SHARE/grafana/provisioning/datasources" "$D_SHARE/grafana/provisioning/dashboards" "$D_SHARE/prometheus"
for f in "$ROOT"/grafana/dashboards/*.json; do note_files "$D_SHARE/grafana/dashboards/$(basename "$f")"; done
note_files "$D_SHARE/grafana/provisioning/datasources/cyberwatch.yaml" "$D_SHARE/grafana/provisioning/dashboards/cyberwatch.yaml" "$D_SHARE/prometheus/alerts.yml"
run install -d -m 0755 "$D_SHARE/grafana/dashboards" "$D_SHARE/grafana/provisioning/datasources" \
    "$D_SHARE/grafana/provisioning/dashboards" "$D_SHARE/prometheus"
run install -m 0644 "$ROOT"/grafana/dashboards/*.json "$D_SHARE/grafana/dashboards/"
run install -m 0644 "$ROOT/grafana/provisioning/datasources/cyberwatch.yaml" "$D_SHARE/grafana/provisioning/datasources/"
run install -m 0644 "$ROOT/grafana/provisioning/dashboards/cyberwatch.yaml" "$D_SHARE/grafana/provisioning/dashboards/"
run install -m 0644 "$ROOT/prometheus/alerts.yml" "$D_SHARE/prometheus/"
fi

# ---------------------------------------------------------------- 8. systemd units
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
render_units "$staging"
note_dirs "$D_UNIT_DIR"
run install -d -m 0755 "$D_UNIT_DIR"
for unit in "${UNITS[@]}"; do
    # A unit of that name that install did not write is someone else's: not overwritten, not recorded.
    if [[ -f $D_UNIT_DIR/$unit.service ]] && ! printf '%s\n' "${M_SERVICES[@]}" | grep -qx "$unit"; then
        die "$D_UNIT_DIR/$unit.service exists and was not installed by scripts/install.sh (not in $MANIFEST); move it away first"
    fi
    note_files "$D_UNIT_DIR/$unit.service"
    M_SERVICES+=("$unit")
    run install -m 0644 "$staging/$unit.service" "$D_UNIT_DIR/$unit.service"
done
note_dirs "$D_SHARE"
note_files "$D_MANIFEST"
if [[ $DRY_RUN == 1 ]]; then
    printf 'would write: %s\n' "$D_MANIFEST"
else
    install -d -m 0755 "$(dirname "$D_MANIFEST")"
    write_manifest "$D_MANIFEST"
fi
[[ -z $DEST ]] && run systemctl daemon-reload
if [[ $AGENT == 1 ]]; then
    if [[ $START_STEP == 1 ]]; then
        run systemctl enable cyberwatch-scamper.service cyberwatch-agent.service
        run systemctl restart cyberwatch-scamper.service
        run systemctl restart cyberwatch-agent.service
    fi
    say "done. The agent dials $AGENT_URL as vantage point $AGENT_VANTAGE: journalctl -u cyberwatch-agent, and GET /vantages/$AGENT_VANTAGE on the API"
    exit 0
fi
if [[ $START_STEP == 1 ]]; then
    run systemctl enable cyberwatch-scamper.service cyberwatch-silo.service cyberwatch-api.service
    run systemctl restart cyberwatch-scamper.service
    run systemctl restart cyberwatch-silo.service
    run systemctl restart cyberwatch-api.service
    if [[ -f $ETC/dns.yaml ]]; then
        run systemctl enable cyberwatch-dns-collector.service
        run systemctl restart cyberwatch-dns-collector.service
    else
        say "DNS collector installed but off: write $ETC/dns.yaml (see dns.example.yaml), then systemctl enable --now cyberwatch-dns-collector"
    fi
fi

say "done. Logs: journalctl -u cyberwatch-silo -u cyberwatch-api, JSON lines in /var/log/cyberwatch/"
say "metrics: http://127.0.0.1:8001/metrics (silo), http://127.0.0.1:8000/metrics (API); rules: $SHARE/prometheus/alerts.yml"
say "Grafana: copy $SHARE/grafana/provisioning/* into /etc/grafana/provisioning/ and set CYBERWATCH_GRAFANA_PG_* (docs/operations.md, Grafana)"
