#!/usr/bin/env bash
# Fault scenario: kill -9 the silo's scamper while targets are probed. Pass: every accepted target is
# measured (0 lost) and a new scamper measures again. `--quick`: 24 targets instead of 120.
set -uo pipefail
# shellcheck source=scripts/faults.d/scamper-fault.bash
source "$(dirname "${BASH_SOURCE[0]}")/scamper-fault.bash"
scamper_fault KILL "$@"
