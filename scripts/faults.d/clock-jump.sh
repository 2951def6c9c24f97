#!/usr/bin/env bash
# Clock jumps, through the FakeTimeProvider tests of Tests/Operations/ClockJumpTests.cs (a real
# PostgreSQL, the real retention job and roll-up, a fake clock moved +1 d, -1 d, +400 d and back):
# retention counts from the newest stored row, not the clock, and the hourly roll-up goes on. The
# figures are the ones the tests print ("clock-jump: ...").
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
node_load_env
# shellcheck source=scripts/lib/faults.sh
source "$ROOT/scripts/lib/faults.sh" "$@"

export CYBERWATCH_TEST_PG_DSN="${CYBERWATCH_TEST_PG_DSN:-Host=$CW_PG_SOCKET;Port=$CW_PG_PORT;Database=postgres;Username=cyberwatch}"
note "building the tests (Debug)"
if ! dotnet build "$ROOT/Tests/Tests.csproj" -c Debug -nologo -v q >"$FAULTS_DIR/build.log" 2>&1; then
    grep -E ' error ' "$FAULTS_DIR/build.log" | sort -u | head -n 10 >&2
    faults_row "clock +1 d / -1 d / +400 d" "retention + roll-up" "tests did not build" "?" "?" "?"
    exit 1
fi
dotnet test "$ROOT/Tests/Tests.csproj" -c Debug --no-build --filter "FullyQualifiedName~ClockJumpTests" \
    --results-directory "$FAULTS_DIR" --logger "trx;LogFileName=clock.trx" >"$FAULTS_DIR/test.log" 2>&1
status=$?
trx="$FAULTS_DIR/clock.trx"
passed="$(grep -o '<Counters [^>]*>' "$trx" 2>/dev/null | sed -E 's/.* passed="([0-9]+)".*/\1/')"
total="$(grep -o '<Counters [^>]*>' "$trx" 2>/dev/null | sed -E 's/.* total="([0-9]+)".*/\1/')"
grep -o 'clock-jump: [^&<]*' "$trx" 2>/dev/null | sort -u | sed 's/^clock-jump: //' >"$FAULTS_DIR/figures.txt"
cat "$FAULTS_DIR/figures.txt" >&2
kept="$(grep -c '3 of 3 rows within retention kept' "$FAULTS_DIR/figures.txt")"
rolled="$(grep -o '[0-9]* of 3 measurements in the hourly aggregates' "$FAULTS_DIR/figures.txt" | head -n 1)"
faults_row "clock +1 d, -1 d, +400 d (FakeTimeProvider)" "4 rows over 6 months, raw retention 2 months" \
    "${passed:-0}/${total:-?} tests pass; $kept of 3 jumps keep 3 of 3 rows within retention of the newest" \
    "$([[ $kept == 3 ]] && echo 0 || echo "rows dropped")" "n/a" "roll-up after +1 d and back: ${rolled:-?}"
exit $status
