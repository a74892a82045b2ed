# tests/integration/lib.sh - helpers for end-to-end test scripts (sourced).
#   pass NAME | fail NAME WHY | skip NAME WHY
#   expect_fail NAME PATTERN -- command...   (non-zero exit, stderr matches PATTERN, no crash)
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
