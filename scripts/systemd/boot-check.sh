#!/usr/bin/env bash
# scripts/systemd/boot-check.sh SILO_BUILD_DIR — boots a real systemd (systemd-nspawn, volatile root over
# this machine's /usr, no network but loopback) with the rendered cyberwatch-scamper and cyberwatch-silo
# units, the silo's ExecStart swapped for `scamper-check 127.0.0.1` (a drop-in; everything else — user,
# capabilities, sandbox — is the unit's own). Prints the check's line and exits 0 when the ping through the
# scamper daemon got its reply. Needs root, systemd-container, scamper and the user cyberwatch.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:?usage: boot-check.sh SILO_BUILD_DIR (holding CyberWatch.Silo.dll)}"
work="$(mktemp -d /tmp/cw-boot-check.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/system/multi-user.target.wants" "$work/system/cyberwatch-silo.service.d" "$work/out" "$work/etc" "$work/journal"
chmod 0777 "$work/out"
touch "$work/etc/cyberwatch.env"
"$ROOT/scripts/install.sh" --render-units "$work/units" --prefix /opt/cyberwatch >/dev/null
for unit in cyberwatch-scamper cyberwatch-silo; do
    cp "$work/units/$unit.service" "$work/system/"
    ln -s "../$unit.service" "$work/system/multi-user.target.wants/"
done
cat >"$work/system/cyberwatch-silo.service.d/check.conf" <<'UNIT'
# Test only: run scamper-check once under the silo unit's credentials and sandbox, then power off.
[Unit]
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
Restart=no
ExecStart=
ExecStart=/usr/share/dotnet/dotnet /opt/cyberwatch/silo/CyberWatch.Silo.dll scamper-check 127.0.0.1
Environment=HOME=/nonexistent DOTNET_CLI_TELEMETRY_OPTOUT=1
StandardOutput=file:/out/check.log
StandardError=file:/out/check.log
ReadWritePaths=/out
ExecStopPost=/bin/sh -c 'echo "result=$SERVICE_RESULT status=$EXIT_STATUS" > /out/result'
UNIT
timeout 180 systemd-nspawn --quiet --register=no --keep-unit --private-network --volatile=yes -D / --machine="cwcheck$$" \
    --bind="$work/system:/etc/systemd/system" --bind="$work/out:/out" --bind-ro="$work/etc:/etc/cyberwatch" \
    --bind-ro=/etc/passwd --bind-ro=/etc/group --bind="$work/journal:/var/log/journal" \
    --bind-ro="$build:/opt/cyberwatch/silo" -b -- systemd.firstboot=off >"$work/boot.log" 2>&1 || true
grep -h 'scamper-check' "$work/out/check.log" 2>/dev/null || true
journalctl --directory="$work/journal" --no-pager -o cat -u cyberwatch-scamper 2>/dev/null | tail -n 5 >&2 || true
[[ "$(cat "$work/out/result" 2>/dev/null)" == "result=success status=0" ]]
