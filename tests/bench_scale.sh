#!/usr/bin/env bash
# bench_scale.sh - the coordinator with hundreds of ranks (`make bench-scale`).
#
# For each size N (default 64 128 256 ranks: rank 0 + N-1 workers, all on
# this machine, oversubscribed, --bind-to none) it runs one random-search
# study with the curves objective (replayed learning curves; each epoch
# "trains" for SCALE_SLEEP_MS ms of sleep, so workers cost almost no CPU and
# the coordinator and MPI are what is measured) of SCALE_TRIALS_PER_WORKER x
# (N-1) trials x SCALE_EPOCHS epochs, and reports:
#   startup_s   the run's wall time minus rank 0's own (the coordinator's
#               elapsed time, `hptune status --json`): mpirun's launch,
#               MPI_Init with its address exchange, each rank loading the
#               job (hptune re-executes itself once for its BLAS set-up),
#               the file-system check, and MPI_Finalize at the end;
#   reports/s   epoch reports per second over the whole run, and "steady"
#               over rank 0's own time, against the ideal (every worker
#               reporting every SCALE_SLEEP_MS);
#   rank0_MB    rank 0's peak resident memory (VmHWM, printed by hptune when
#               HPTUNE_PRINT_RSS is set), and its CPU seconds;
#   accounted   the study's own account: finished, every trial completed
#               with all its epochs.
# Prints a table; with --json, one JSON object per size too.  Each run has a
# timeout (SCALE_TIMEOUT, 600 s); a failed size is reported and the next one
# runs; the exit status is 0 only if every size was accounted for.  On 2
# cores, 256 ranks take 1-5 minutes (MPI start-up) and load the machine: run
# it rarely.
#
#   tests/bench_scale.sh [--json] [SIZES...]
# Environment: HPTUNE (./hptune), SCALE_SLEEP_MS (100), SCALE_EPOCHS (3),
# SCALE_TRIALS_PER_WORKER (4), SCALE_TIMEOUT (600), MPIRUN_ARGS (extra).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
HPTUNE=${HPTUNE:-$PWD/hptune}
SLEEP_MS=${SCALE_SLEEP_MS:-100}
EPOCHS=${SCALE_EPOCHS:-3}
PER_WORKER=${SCALE_TRIALS_PER_WORKER:-4}
TIMEOUT=${SCALE_TIMEOUT:-600}
json=0
sizes=()
for a in "$@"; do
    case $a in
        --json) json=1 ;;
        [1-9]*) sizes+=("$a") ;;
        *) echo "usage: $0 [--json] [SIZES...]" >&2; exit 2 ;;
    esac
done
((${#sizes[@]})) || sizes=(64 128 256)
command -v mpirun >/dev/null || { echo "bench_scale: mpirun not found (make deps)" >&2; exit 1; }
[ -x "$HPTUNE" ] || { echo "bench_scale: no hptune at $HPTUNE (make)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export HPTUNE_PRINT_RSS=1

dir=$(mktemp -d "${TMPDIR:-/tmp}/hptune-scale.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cp "$HPTUNE" "$dir/hptune" && HPTUNE=$dir/hptune
cd "$dir" || exit 1

# 8 x 8 x 8 = 512 configurations, epochs 1..EPOCHS
python3 - "$EPOCHS" >curves.csv <<'PY'
import sys
E = int(sys.argv[1])
print("learning_rate,filters,head_units,epoch,val_accuracy")
for a in range(8):
    for b in range(8):
        for c in range(8):
            for e in range(1, E + 1):
                print("%g,%d,%d,%d,%.4f" % (10 ** (-4 + a / 2), 4 * (b + 1), 16 * (c + 1), e,
                                            0.1 + 0.8 * ((a * 64 + b * 8 + c) % 97) / 97 * e / E))
PY
job() { # NAME TRIALS
    cat <<EOF
study: {name: $1, seed: 1}
data: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}
strategy: {name: random, max_trials: $2}
objective: {type: curves, file: curves.csv, sleep_ms: $SLEEP_MS}
fixed: {epochs: $EPOCHS}
space:
  learning_rate: {choice: [1.0e-4, 0.000316228, 1.0e-3, 0.00316228, 1.0e-2, 0.0316228, 0.1, 0.316228]}
  filters: {choice: [4, 8, 12, 16, 20, 24, 28, 32]}
  head_units: {choice: [16, 32, 48, 64, 80, 96, 112, 128]}
EOF
}
now_ms() { date +%s%3N; }
run() { # N NAME TRIALS -> sets secs, rc, log
    local n=$1 name=$2 trials=$3 t0
    job "$name" "$trials" >"$name.yaml"
    t0=$(now_ms)
    # shellcheck disable=SC2086 # MPIRUN_ARGS is a list of options
    timeout "$TIMEOUT" mpirun --oversubscribe --bind-to none ${MPIRUN_ARGS:-} -np "$n" "$HPTUNE" run "$name.yaml" \
        --out "$name" --quiet >"$name.log" 2>&1
    rc=$?
    secs=$(python3 -c "print(($(now_ms) - $t0) / 1000)")
}

# the study's own account: "yes" when finished with every trial complete, and
# the coordinator's elapsed time (without MPI start-up and shutdown)
account() { # DIR TRIALS -> "yes|NO... ELAPSED"
    "$HPTUNE" status "$1" --json 2>/dev/null | python3 -c '
import json, sys
want_trials, want_epochs = int(sys.argv[1]), int(sys.argv[2])
try:
    s = json.load(sys.stdin)
except ValueError:
    print("no-status nan"); sys.exit()
ok = (s.get("finished") and s["n_trials"] == want_trials and s["counts"]["completed"] == want_trials
      and all(t["epochs"] == want_epochs for t in s["trials"]))
print("yes" if ok else "NO:completed=%s/%d" % (s["counts"]["completed"], want_trials), s.get("elapsed_seconds"))' "$2" "$EPOCHS"
}

printf '%6s %8s %15s %8s %10s %9s %10s %10s %9s %9s %10s  %s\n' ranks workers trials_x_epochs sleep_ms \
    startup_s run_s reports/s steady/s ideal/s rank0_MB rank0_cpu accounted
results=()
for n in "${sizes[@]}"; do
    workers=$((n - 1)) trials=$((PER_WORKER * (n - 1)))
    run "$n" "scale$n" "$trials"
    read -r accounted elapsed <<<"$(account "scale$n" "$trials")"
    reports=$((trials * EPOCHS))
    rss_kb=$(sed -n 's/^hptune-rss-kb: //p' "scale$n.log" | tail -n1)
    cpu=$(sed -n 's/.*coordinator CPU \([0-9.]*\) s over.*/\1/p' "scale$n.log" | tail -n1)
    ((rc != 0)) && accounted="FAILED(exit $rc): $(grep -v '^ *$' "scale$n.log" | tail -n 2 | tr '\n' ' ')"
    read -r startup rate steady ideal rss_mb <<<"$(python3 -c "
import math
def num(x):
    try: return float(x)
    except ValueError: return math.nan
w, e, r = $secs, num('$elapsed'), $reports
print('%.2f %.0f %.0f %.0f %.1f' % (w - e, r / w, r / e, $workers * 1000.0 / $SLEEP_MS, num('${rss_kb:-nan}') / 1024))")"
    printf '%6d %8d %15s %8d %10s %9.2f %10s %10s %9s %9s %10s  %s\n' "$n" "$workers" "$trials x $EPOCHS" "$SLEEP_MS" \
        "$startup" "$secs" "$rate" "$steady" "$ideal" "$rss_mb" "${cpu:-?}s" "$accounted"
    results+=("{\"ranks\": $n, \"workers\": $workers, \"trials\": $trials, \"epochs\": $EPOCHS, \"sleep_ms\": $SLEEP_MS, \"startup_seconds\": $startup, \"run_seconds\": $secs, \"coordinator_seconds\": $elapsed, \"reports_per_second\": $rate, \"steady_reports_per_second\": $steady, \"ideal_reports_per_second\": $ideal, \"rank0_peak_rss_mb\": $rss_mb, \"rank0_cpu_seconds\": ${cpu:-null}, \"accounted\": $([ "$accounted" = yes ] && echo true || echo false)}")
done
echo "startup_s: wall time minus rank 0's own (MPI start-up and shutdown); reports/s: over the whole run;"
echo "steady/s: over rank 0's own time; ideal/s: every worker reporting every sleep_ms; rank0_MB: peak RSS"
if ((json)); then
    printf '%s\n' "${results[@]}"
fi
fail=0
for r in "${results[@]}"; do [[ $r == *'"accounted": true}' ]] || fail=1; done
exit $fail
