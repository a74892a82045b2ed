#!/usr/bin/env bash
# test_tpe_optuna.sh - hptune's TPE (src/search/tpe.c, parzen.c) against Optuna 3.1 itself.
#
# tests/oracles/gen_tpe_cases.py writes 52 deterministic cases in 13 families
# (univariate/multivariate, categorical/float/log/step/int/int-log, 1..60
# trials, ties, maximize, inactive parameters, constant liar, pruned and failed
# trials, non-default settings, the startup phase, truncated-normal tails,
# proposals in a conditional space: define-by-run, inactive dims never drawn).
# build/tests/tools/tpe_dump prints what hptune computes for each case: the
# split, every estimator's weights, mus, sigmas, bounds and categorical tables,
# log pdfs at given points, the candidates and their scores, the proposal.
# tests/oracles/optuna_tpe.py prints the same from a real Optuna Study and the
# real TPESampler fed the same uniforms; compare_tpe.py compares every number
# (1e-6, relative above 1) and prints PASS/FAIL per family.
source "$HPTUNE_ROOT/tests/integration/lib.sh"

PY=/usr/bin/python3
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$HPTUNE_ROOT/$BUILD
DUMP=$BUILD/tests/tools/tpe_dump
ORACLES=$HPTUNE_ROOT/tests/oracles

if ! [ -x "$PY" ] || ! version=$("$PY" -c 'import optuna; print(optuna.__version__)' 2>/dev/null); then
    skip tpe-optuna "/usr/bin/python3 cannot import optuna (make deps installs python3-optuna)"
    exit 0
fi
if [[ $version != 3.1.* ]]; then
    skip tpe-optuna "optuna $version installed; the reference is Optuna 3.1 (later versions changed the TPE log pdf)"
    exit 0
fi
if ! [ -x "$DUMP" ]; then
    fail tpe-optuna "$DUMP is missing (run make all)"
    exit 0
fi

"$PY" "$ORACLES/gen_tpe_cases.py" >"$TMP/cases.txt" || { fail tpe-cases "the case generator failed"; exit 0; }
if ! "$DUMP" "$TMP/cases.txt" >"$TMP/hptune.txt" 2>"$TMP/hptune.err"; then
    fail tpe-dump "tpe_dump failed: $(grep -h '^error' "$TMP/hptune.txt" "$TMP/hptune.err" | head -3)"
fi
if ! "$PY" "$ORACLES/optuna_tpe.py" "$TMP/cases.txt" >"$TMP/optuna.txt" 2>"$TMP/optuna.err"; then
    fail tpe-oracle "optuna_tpe.py failed: $(tail -3 "$TMP/optuna.err")"
    exit 0
fi
"$PY" "$ORACLES/compare_tpe.py" "$TMP/hptune.txt" "$TMP/optuna.txt"

# The comparison can fail: one bandwidth moved by 3x the tolerance must be caught.
awk '!done && $1 == "group" && $6 == "sigmas" {
         a = $7 < 0 ? -$7 : $7; $7 = sprintf("%.17g", $7 + 3e-6 * (a > 1 ? a : 1)); done = 1 }
     { print }' \
    "$TMP/hptune.txt" >"$TMP/perturbed.txt"
if "$PY" "$ORACLES/compare_tpe.py" "$TMP/perturbed.txt" "$TMP/optuna.txt" >"$TMP/perturbed.out"; then
    fail tpe-compare-detects "a sigma moved by 3e-6 (relative) was not noticed"
elif grep -q '^FAIL tpe-.*sigmas' "$TMP/perturbed.out"; then
    pass tpe-compare-detects
else
    fail tpe-compare-detects "unexpected report: $(head -3 "$TMP/perturbed.out")"
fi
