#!/usr/bin/env bash
# Fault scenario: kill -STOP the silo's scamper while targets are probed. The heartbeat finds it hung
# (within 15 s), kills it and starts another. Pass: 0 targets lost, probes run again.
# `--quick`: 24 targets instead of 120.
set -uo pipefail
# shellcheck source=scripts/faults.d/scamper-fault.bash
source "$(dirname "${BASH_SOURCE[0]}")/scamper-fault.bash"
scamper_fault STOP "$@"
