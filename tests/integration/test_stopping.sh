#!/usr/bin/env bash
# Stopping and budgets end to end (curves objective: fast):
#  - every early-stopping and median-rule decision of one-worker studies equals
#    an independent replay through Keras' EarlyStopping rule and Optuna 3.1's
#    own MedianPruner (tests/oracles/stopping_oracle.py), minimized and
#    maximized, both rules at once, and over MPI (STOP_TRIAL to the worker);
#  - a study killed mid-run, and one whose journal lost the STOP_TRIAL after
#    an epoch (a kill between the two records), resume to the same results;
#  - max_epochs_total ends a run as "budget reached" (exit 3, status --json)
#    after exactly that many epochs, and raising it with resume gives results
#    bit-identical to a straight run; with two workers too; max_time too;
#  - check shows the plan; job-file mistakes are refused with line:column.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
PY=/usr/bin/python3
ORACLE=$HPTUNE_ROOT/tests/oracles/stopping_oracle.py
have_mpi=1; command -v mpirun >/dev/null || have_mpi=0
MPIRUN="mpirun --oversubscribe ${HPTUNE_MPIRUN_ARGS:-} -np"
have_optuna=1
if ! [ -x "$PY" ] || [[ $("$PY" -c 'import optuna; print(optuna.__version__)' 2>/dev/null) != 3.1.* ]]; then have_optuna=0; fi

# 30 learning curves (val_loss falls towards a floor with noise; val_accuracy from it)
"$PY" - >curves.csv <<'PYEOF'
import random
rng = random.Random(7)
print("learning_rate,filters,epoch,val_loss,val_accuracy")
for lr in [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]:
    for f in [4, 8, 16, 32, 64]:
        floor, speed, v = rng.uniform(0.2, 1.0), rng.uniform(0.1, 0.6), 2.5
        for e in range(1, 21):
            v = floor + (v - floor) * (1 - speed) + rng.gauss(0, 0.02)
            print("%g,%d,%d,%.6f,%.6f" % (lr, f, e, v, 1 - v / 3))
PYEOF
# curves that cross: slow starters end best, and noise (the decision's timing matters)
"$PY" - >crossing.csv <<'PYEOF'
import random
rng = random.Random(11)
print("learning_rate,filters,epoch,val_loss,val_accuracy")
for lr in [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]:
    for f in [4, 8, 16, 32, 64]:
        speed = rng.uniform(0.03, 0.5)
        floor = 1.2 - 1.6 * (0.5 - speed) + rng.uniform(-0.3, 0.3)
        v = 2.5
        for e in range(1, 21):
            v = floor + (v - floor) * (1 - speed) + rng.gauss(0, 0.06)
            print("%g,%d,%d,%.6f,%.6f" % (lr, f, e, v, 1 - v / 3))
PYEOF
job() { # name strategy-line [study extras] [sleep_ms]
    cat <<YAML
study: {name: $1, seed: 5, metric: ${METRIC:-val_loss}${3:-}}
strategy: $2
objective: {type: curves, file: ${CURVES:-curves.csv}, sleep_ms: ${4:-0}}
space:
  learning_rate: {choice: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]}
  filters: {choice: [4, 8, 16, 32, 64]}
YAML
    [[ $2 == *asha* ]] || echo "fixed: {epochs: 20}"
}
results() { study_results "$1"; }
epochs_done() { "$HPTUNE" status "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["budget"]["epochs_total"])' 2>/dev/null || echo 0; }
oracle() { # name dir metric mode args...
    local name=$1 dir=$2; shift 2
    if [ $have_optuna = 0 ]; then skip "$name" "/usr/bin/python3 has no optuna 3.1 (make deps installs python3-optuna)"; return; fi
    "$HPTUNE" export "$dir" --format csv >"$dir.csv"
    if out=$("$PY" "$ORACLE" "${CURVES:-curves.csv}" "$dir.csv" "$@" 2>&1); then pass "$name ($out)"; else fail "$name" "$out"; fi
}

BOTH="{name: random, max_trials: 30, stopping: median, n_startup_trials: 2, n_min_trials: 4, early_stopping: {patience: 2, min_delta: 0.02}}"
MEDIAN="{name: random, max_trials: 25, stopping: median, n_startup_trials: 3, n_warmup_epochs: 2, interval_epochs: 2}"
job med "$MEDIAN" >med.yaml
job early "{name: grid, early_stopping: {patience: 3, min_delta: 0.01}}" >early.yaml
job both "$BOTH" >both.yaml
CURVES=crossing.csv job cross "{name: random, max_trials: 30, stopping: median, n_startup_trials: 5, n_warmup_epochs: 3, interval_epochs: 3, n_min_trials: 3}" >cross.yaml
METRIC=val_accuracy job maxi "{name: random, max_trials: 25, stopping: median, n_startup_trials: 4, n_warmup_epochs: 1}" >maxi.yaml

# --- every decision against the references (one process: trials in id order)
for s in med early both maxi cross; do
    "$HPTUNE" run $s.yaml --out $s --quiet >$s.log 2>&1 || fail ${s}_run "$(tail -n 3 $s.log)"
done
oracle median_rule_equals_optuna_medianpruner med val_loss min 20 --median 3 2 2 1
oracle early_stopping_equals_keras_rule early val_loss min 20 --early 3 0.01
oracle both_rules_equal_keras_then_optuna both val_loss min 20 --early 2 0.02 --median 2 0 1 4
oracle median_rule_maximized_equals_optuna maxi val_accuracy max 20 --median 4 1 1 1
CURVES=crossing.csv oracle median_rule_with_interval_and_min_trials_equals_optuna cross val_loss min 20 --median 5 3 3 3
# the comparison tells settings apart: Optuna with one setting changed disagrees
if [ $have_optuna = 1 ]; then
    agree=""
    for wrong in "4 3 3 3" "5 2 3 3" "5 3 2 3"; do
        "$PY" "$ORACLE" crossing.csv cross.csv val_loss min 20 --median $wrong >/dev/null 2>&1 && agree="$agree [$wrong]"
    done
    # n_min_trials matters where completed trials have fewer epochs (early-stopped ones)
    "$PY" "$ORACLE" curves.csv both.csv val_loss min 20 --early 2 0.02 --median 2 0 1 1 >/dev/null 2>&1 && agree="$agree [n_min_trials 1]"
    [ -z "$agree" ] && pass oracle_discriminates_each_median_setting || fail oracle_discriminates_each_median_setting "Optuna with other settings agrees too:$agree"
fi
n_stopped=$("$HPTUNE" status med --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["stopped"])')
[ "$n_stopped" -gt 3 ] && pass "median_rule_stops_trials ($n_stopped of 25)" || fail median_rule_stops_trials "$n_stopped stopped"
if "$HPTUNE" status early | grep -q "completed .*(early stop at epoch [0-9]*)" &&
   "$HPTUNE" export early --format json --per trial | grep -q '"stop": "early stop at epoch' &&
   "$HPTUNE" status med | grep -q "stopped .*(median rule at epoch"; then pass status_and_export_show_the_stop
else fail status_and_export_show_the_stop "$("$HPTUNE" status early | head -4)"; fi

if "$HPTUNE" report early --out early.html >/dev/null 2>&1 && grep -q "completed <small>(early stop at epoch" early.html; then
    pass report_shows_the_stop; else fail report_shows_the_stop "no stop note in early.html"; fi

# --- other strategies under a budget: tpe with early stopping (its model sees
# the early-stopped value), asha; stopped by max_epochs_total and resumed = straight
job tpe "{name: tpe, max_trials: 20, n_startup_trials: 5, early_stopping: {patience: 2, min_delta: 0.01}}" >tpe.yaml
job tpebud "{name: tpe, max_trials: 20, n_startup_trials: 5, early_stopping: {patience: 2, min_delta: 0.01}}" ", max_epochs_total: 37" >tpebud.yaml
job asha "{name: asha, max_trials: 20, min_epochs: 2, max_epochs: 18, reduction_factor: 3}" >asha.yaml
job ashabud "{name: asha, max_trials: 20, min_epochs: 2, max_epochs: 18, reduction_factor: 3}" ", max_epochs_total: 29" >ashabud.yaml
for s in tpe asha; do
    "$HPTUNE" run $s.yaml --out $s --quiet >$s.log 2>&1
    "$HPTUNE" run ${s}bud.yaml --out ${s}bud --quiet >${s}bud.log 2>&1; rc=$?
    "$HPTUNE" resume ${s}bud --max-epochs-total 0 --quiet >${s}bud2.log 2>&1; rc2=$?
    if [ $rc = 3 ] && [ $rc2 = 0 ] && diff <(results $s) <(results ${s}bud) >d.txt; then pass ${s}_budget_resumed_bit_identical
    else fail ${s}_budget_resumed_bit_identical "rc=$rc/$rc2 $(tail -n 2 ${s}bud2.log; head -3 d.txt)"; fi
done

# --- the CNN objective: early stopping, and a budget that stops a trial between
# checkpoints (checkpoint_every 2: the worker checkpoints before it stops),
# in one process and over MPI; resumed = straight
"$PY" "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 100 --test 20 >/dev/null &&
    "$HPTUNE" prepare --from data/cifar-10-batches-bin --out d.h5 --shards 4 >/dev/null
cnn() { # name [study extras]
    cat <<YAML
study: {name: $1, seed: 3${2:-}}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: grid, early_stopping: {patience: 1, min_delta: 0.05}}
space:
  learning_rate: {grid: [0.001, 0.01, 0.03]}
fixed: {epochs: 5, num_blocks: 1, filters: 4, head_units: 8, batch_size: 32}
output: {checkpoint_every: 2}
YAML
}
cnn cnn >cnn.yaml; cnn cnnbud ", max_epochs_total: 4" >cnnbud.yaml
"$HPTUNE" run cnn.yaml --out cnn --quiet >cnn.log 2>&1 || fail cnn_run "$(tail -n 3 cnn.log)"
"$HPTUNE" run cnnbud.yaml --out cnnbud --quiet >cnnbud.log 2>&1; rc=$?
"$HPTUNE" resume cnnbud --max-epochs-total 0 --quiet >cnnbud2.log 2>&1; rc2=$?
if [ $rc = 3 ] && [ $rc2 = 0 ] && diff <(results cnn) <(results cnnbud) >d.txt && grep -q "early stop at epoch" <(results cnn); then
    pass cnn_early_stopping_and_budget_resumed_bit_identical
else fail cnn_early_stopping_and_budget_resumed_bit_identical "rc=$rc/$rc2 $(tail -n 2 cnnbud2.log; head -3 d.txt)"; fi
if [ $have_mpi = 1 ]; then
    timeout 300 $MPIRUN 2 "$HPTUNE" run cnn.yaml --out cnnmpi --quiet >cnnmpi.log 2>&1; rc0=$?
    timeout 300 $MPIRUN 2 "$HPTUNE" run cnnbud.yaml --out cnnbudmpi --quiet >cnnbudmpi.log 2>&1; rc=$?
    timeout 300 $MPIRUN 2 "$HPTUNE" resume cnnbudmpi --max-epochs-total 0 --quiet >cnnbudmpi2.log 2>&1; rc2=$?
    if [ $rc0 = 0 ] && [ $rc = 3 ] && [ $rc2 = 0 ] && diff <(results cnn) <(results cnnmpi) >d.txt &&
       diff <(results cnn) <(results cnnbudmpi) >d2.txt; then
        pass cnn_over_mpi_stop_trial_and_budget_same_results
    else fail cnn_over_mpi_stop_trial_and_budget_same_results "rc=$rc0/$rc/$rc2 $(tail -n 2 cnnbudmpi.log cnnbudmpi2.log 2>/dev/null; head -3 d.txt d2.txt 2>/dev/null)"; fi
fi

# --- over MPI: the worker gets STOP_TRIAL; one worker gives the same journal order
if [ $have_mpi = 1 ]; then
    job medmpi "$MEDIAN" "" 5 >medmpi.yaml
    if timeout 300 $MPIRUN 2 "$HPTUNE" run medmpi.yaml --out medmpi --quiet >medmpi.log 2>&1 &&
       diff <(results med | cut -d, -f1-9) <(results medmpi | cut -d, -f1-9) >d.txt; then pass median_rule_over_mpi_same_results
    else fail median_rule_over_mpi_same_results "$(tail -n 3 medmpi.log; head -3 d.txt)"; fi
else
    skip median_rule_over_mpi_same_results "mpirun not installed"
fi

# --- killed mid-run, resumed: the same results
job bothslow "$BOTH" "" 30 >bothslow.yaml
"$HPTUNE" run bothslow.yaml --out killed --quiet >killed.log 2>&1 &
pid=$!
for _ in $(seq 600); do [ "$(epochs_done killed)" -ge 25 ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    if "$HPTUNE" resume killed --quiet >resume.log 2>&1 && diff <(results both) <(results killed) >d.txt; then
        pass killed_and_resumed_same_decisions
    else fail killed_and_resumed_same_decisions "$(tail -n 3 resume.log; head -3 d.txt)"; fi
else
    fail killed_and_resumed_same_decisions "the run ended before it could be killed: $(tail -n 2 killed.log)"
fi

# --- the journal ends between an epoch and its STOP_TRIAL: resume makes the decision
cp -r both cut
off=$("$PY" - cut/study.journal <<'PYEOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
pos, stops = 0, []
while pos + 12 <= len(data):
    magic, typ, size = struct.unpack_from("<IHxxI", data, pos)
    if typ == 14:
        stops.append(pos)
    pos += 12 + size + 4
print(stops[len(stops) // 2])
PYEOF
)
if "$HPTUNE" resume cut --truncate-journal-at "$off" >/dev/null 2>&1 && "$HPTUNE" resume cut --quiet >cut.log 2>&1 &&
   diff <(results both) <(results cut) >d.txt; then pass lost_stop_record_decided_again_on_resume
else fail lost_stop_record_decided_again_on_resume "offset $off: $(tail -n 3 cut.log; head -3 d.txt)"; fi

# --- max_epochs_total: exact, resumable with a larger budget, bit-identical
job bud "$BOTH" ", max_epochs_total: 23" >bud.yaml
"$HPTUNE" run bud.yaml --out bud --quiet >bud.log 2>&1; rc=$?
st=$("$HPTUNE" status bud --json); "$HPTUNE" status bud >/dev/null; src=$?
if [ $rc = 3 ] && [ $src = 3 ] && grep -q "budget reached" bud.log &&
   python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["state"] == "budget_reached" and s["budget"]["reached"] and s["budget"]["epochs_total"] == 23 and not s["finished"], s' "$st" 2>/dev/null; then
    pass budget_epochs_exit_3_after_exactly_23_epochs
else fail budget_epochs_exit_3_after_exactly_23_epochs "rc=$rc status=$src $(tail -n 2 bud.log) $st"; fi
if "$PY" -c 'import h5py' 2>/dev/null; then
    "$PY" - bud/study.h5 <<'PYEOF' && pass snapshot_records_budget_and_stops || fail snapshot_records_budget_and_stops "study.h5 attributes or /trials/stop"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
a = f.attrs
stops = [x.decode() if isinstance(x, bytes) else x for x in f["trials/stop"][:]]
assert a["budget_reached"] == 1 and a["epochs_total"] == 23 and a["max_epochs_total"] == 23, dict(a)
assert any(s.startswith(("early stop at epoch", "median rule at epoch")) for s in stops), stops
PYEOF
fi
"$HPTUNE" resume bud --quiet >bud2.log 2>&1; rc=$?
[ $rc = 3 ] && [ "$(epochs_done bud)" = 23 ] && pass resume_without_more_budget_does_no_work || fail resume_without_more_budget_does_no_work "rc=$rc $(epochs_done bud) $(tail -n 2 bud2.log)"
"$HPTUNE" resume bud --max-epochs-total 41 --quiet >bud3.log 2>&1; rc1=$?; e1=$(epochs_done bud)
"$HPTUNE" resume bud --max-epochs-total 0 --quiet >bud4.log 2>&1; rc2=$?
if [ $rc1 = 3 ] && [ "$e1" = 41 ] && [ $rc2 = 0 ] && diff <(results both) <(results bud) >d.txt; then
    pass budget_raised_twice_bit_identical_to_straight
else fail budget_raised_twice_bit_identical_to_straight "rc=$rc1/$rc2 epochs $e1 $(tail -n 2 bud4.log; head -3 d.txt)"; fi
"$HPTUNE" status bud --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["state"] == "finished" and s["budget"]["max_epochs_total"] == 0' 2>/dev/null &&
    pass budget_event_recorded || fail budget_event_recorded "$("$HPTUNE" status bud --json | head -c 300)"

if [ $have_mpi = 1 ]; then
    job budmpi "$MEDIAN" ", max_epochs_total: 40" 5 >budmpi.yaml
    timeout 300 $MPIRUN 3 "$HPTUNE" run budmpi.yaml --out budmpi --quiet >budmpi.log 2>&1; rc=$?
    e=$(epochs_done budmpi)
    if [ $rc = 3 ] && [ "$e" -ge 40 ] && [ "$e" -le 42 ] &&
       timeout 300 $MPIRUN 3 "$HPTUNE" resume budmpi --max-epochs-total 0 --quiet >budmpi2.log 2>&1 &&
       "$HPTUNE" status budmpi | head -1 | grep -q "25 trials.* - finished"; then
        pass budget_with_two_workers_each_finishes_its_epoch_then_resumes
    else fail budget_with_two_workers_each_finishes_its_epoch_then_resumes "rc=$rc epochs=$e $(tail -n 2 budmpi.log budmpi2.log)"; fi
else
    skip budget_with_two_workers_each_finishes_its_epoch_then_resumes "mpirun not installed"
fi

# --- max_time (wall clock: not deterministic, only that it ends and resumes)
job timed "$MEDIAN" ", max_time: 1s" 20 >timed.yaml
"$HPTUNE" run timed.yaml --out timed --quiet >timed.log 2>&1; rc=$?
if [ $rc = 3 ] && "$HPTUNE" status timed --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["state"] == "budget_reached" and s["elapsed_seconds"] >= 1' 2>/dev/null &&
   "$HPTUNE" resume timed --max-time 0 --quiet >timed2.log 2>&1 && diff <(results med | cut -d, -f1-9) <(results timed | cut -d, -f1-9) >/dev/null; then
    pass max_time_reached_then_resumed_to_the_same_results
else fail max_time_reached_then_resumed_to_the_same_results "rc=$rc $(tail -n 2 timed.log timed2.log 2>/dev/null)"; fi

# --- check's plan, and mistakes
out=$("$HPTUNE" check both.yaml; "$HPTUNE" check bud.yaml; "$HPTUNE" check timed.yaml)
if grep -q "stopping   early stopping" <<<"$out" && grep -q "stopping   median rule (Optuna 3.1 MedianPruner): once 2 trials" <<<"$out" &&
   grep -q "budget     23 epochs in total" <<<"$out" && grep -q "budget     1 s of wall clock" <<<"$out"; then pass check_shows_stopping_and_budgets
else fail check_shows_stopping_and_budgets "$out"; fi
printf 'study: {name: x}\nstrategy: {name: asha, max_trials: 9, max_epochs: 9, stopping: median}\nobjective: {type: function, name: branin}\n' >bad1.yaml
expect_fail median_refused_for_asha "bad1.yaml:2:.*strategy.stopping: only used by strategy grid and random, not asha" -- "$HPTUNE" check bad1.yaml
printf 'study: {name: x}\nstrategy: {name: random, max_trials: 9, n_warmup_epochs: 2}\nobjective: {type: function, name: branin}\n' >bad2.yaml
expect_fail warmup_without_median_refused "bad2.yaml:2:.*only used with stopping: median" -- "$HPTUNE" check bad2.yaml
printf 'study: {name: x}\nstrategy: {name: random, max_trials: 9, early_stopping: {min_delta: 0.1}}\nobjective: {type: function, name: branin}\n' >bad3.yaml
expect_fail early_stopping_needs_patience "bad3.yaml:2:.*missing 'patience'" -- "$HPTUNE" check bad3.yaml
printf 'study: {name: x, max_time: 1h90x}\nstrategy: {name: random, max_trials: 9}\nobjective: {type: function, name: branin}\n' >bad4.yaml
expect_fail max_time_must_be_a_duration "bad4.yaml:1:.*study.max_time: '1h90x' is not a duration" -- "$HPTUNE" check bad4.yaml
expect_fail max_epochs_total_only_on_resume "max-epochs-total is for 'hptune resume DIR'" -- "$HPTUNE" run bud.yaml --max-epochs-total 5
