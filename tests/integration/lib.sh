# tests/integration/lib.sh - helpers for end-to-end test scripts (sourced).
#   pass NAME | fail NAME WHY | skip NAME WHY
#   expect_fail NAME PATTERN -- command...   (non-zero exit, stderr matches PATTERN, no crash)
#   study_results DIR [COLUMN...]   per-epoch results to compare runs (below)
#   epochs_done DIR | wait_for_epochs DIR N PID | kill_study PID
set -u
HPTUNE=${HPTUNE:-$HPTUNE_ROOT/hptune}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hptune-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
expect_fail() { # name pattern -- cmd...
    local name=$1 pattern=$2; shift 3
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then fail "$name" "expected failure, exited 0; output: $out"
    elif [ $rc -ge 128 ]; then fail "$name" "crashed with status $rc; output: $out"
    elif ! grep -qE -- "$pattern" <<<"$out"; then fail "$name" "message does not match /$pattern/: $out"
    else pass "$name"; fi
}

# A study's per-epoch results, one CSV line per (trial, epoch) sorted by both,
# without the wall-time column and the named ones: what a straight and a
# resumed run must share.
study_results() { # dir [column ...]
    "$HPTUNE" export "$1" --format csv | /usr/bin/python3 -c '
import csv, sys
drop = ["seconds"] + sys.argv[1:]
for r in sorted(csv.DictReader(sys.stdin), key=lambda r: (int(r["trial"]), int(r["epoch"] or -1))):
    for k in drop:
        r.pop(k, None)
    print(",".join(r.values()))' "${@:2}"; }
# epoch rows recorded so far (a script may define its own epochs_done after
# sourcing this file: wait_for_epochs calls whichever is defined last)
epochs_done() { "$HPTUNE" export "$1" --format csv 2>/dev/null | tail -n +2 | wc -l; }
wait_for_epochs() { # dir n pid: poll until n epochs are recorded; 1 if the run ended first (bounded: 2 min)
    for _ in $(seq 1200); do
        [ "$(epochs_done "$1")" -ge "$2" ] && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
kill_study() { # pid: SIGKILL this test's mpirun (or hptune) and every process it started, not other runs
    local pid=$1 ranks; ranks=$(pgrep -P "$pid" | xargs -r -n1 pgrep -P | tr '\n' ' ')
    kill -KILL "$pid" $(pgrep -P "$pid") $ranks 2>/dev/null; wait "$pid" 2>/dev/null; sleep 0.5; }
