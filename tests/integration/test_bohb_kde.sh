#!/usr/bin/env bash
# test_bohb_kde.sh - hp_bohb's good/bad split, imputation, bandwidths and
# densities against statsmodels' KDEMultivariate (tests/oracles/statsmodels_kde.py)
# on 30 deterministic cases written by tests/oracles/bohb_cases.py; 1e-6 relative.
source "$(dirname "$0")/lib.sh"
cd "$HPTUNE_ROOT"
PY=/usr/bin/python3
TOOL=$HPTUNE_ROOT/${BUILD:-build}/tests/tools/bohb_dump

if ! "$PY" -c 'import statsmodels.api' 2>/dev/null; then
    skip bohb_kde "statsmodels cannot be imported by $PY (apt-get install python3-statsmodels, or make deps)"
    exit 0
fi
if [ ! -x "$TOOL" ]; then
    fail bohb_kde "$TOOL is missing (make all builds tests/tools/*.c)"
    exit 0
fi
if ! "$PY" tests/oracles/bohb_cases.py "$TMP/cases" 2>"$TMP/gen.err"; then
    fail bohb_kde "case generator failed: $(cat "$TMP/gen.err")"
    exit 0
fi

args=()
n_cases=0
for case in "$TMP"/cases/case_*.txt; do
    out=${case%.txt}.out
    if ! "$TOOL" "$case" >"$out" 2>"$out.err"; then
        fail "bohb_kde_$(basename "$case" .txt)" "bohb_dump failed: $(cat "$out.err")"
        continue
    fi
    args+=("$case" "$out")
    n_cases=$((n_cases + 1))
done
[ "$n_cases" -ge 30 ] || fail bohb_kde_cases "only $n_cases cases ran (expected 30)"
# One line per case: PASS/FAIL bohb_kde_case_NN (the oracle's exit status adds nothing).
"$PY" tests/oracles/statsmodels_kde.py "${args[@]}"

# The oracle must notice a wrong bandwidth, density, split or training row
# (case_25 has inactive values, so its data rows went through imputation).
first=$TMP/cases/case_05 imputed=$TMP/cases/case_25
awk '/^bw good/ && !done {$3 = $3 * (1 + 1e-5); done = 1} {print}' "$first.out" >"$TMP/bad_bw.out"
awk '/^pdf 2 / {$3 = $3 * (1 + 1e-5)} {print}' "$first.out" >"$TMP/bad_pdf.out"
awk '/^rows good/ {t = $3; $3 = $4; $4 = t} {print}' "$first.out" >"$TMP/bad_rows.out"
awk '/^data bad/ && !done {$3 = $3 + 1e-3; done = 1} {print}' "$imputed.out" >"$TMP/bad_data.out"
for bad in bad_bw bad_pdf bad_rows bad_data; do
    case_file=$first.txt
    [ $bad = bad_data ] && case_file=$imputed.txt
    if "$PY" tests/oracles/statsmodels_kde.py "$case_file" "$TMP/$bad.out" | grep -q '^FAIL '; then
        pass "bohb_kde_oracle_detects_$bad"
    else
        fail "bohb_kde_oracle_detects_$bad" "the oracle accepted a corrupted dump"
    fi
done
