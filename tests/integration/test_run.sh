#!/usr/bin/env bash
# End-to-end studies with the real program and real mpirun.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
MPIRUN="mpirun --oversubscribe ${HPTUNE_MPIRUN_ARGS:-} -np"
command -v mpirun >/dev/null || { skip mpirun "mpirun not installed (make deps)"; exit 0; }

# --- a hand-worked ASHA scenario replayed from a curves table -------------
# eta 3, rungs at epochs 1, 3, 9; nine trials whose learning_rate is a grid
# parameter, so trial t has learning_rate 0.0(t+1).  Validation accuracy after
# epoch 1 (rung 0) and after epoch 3 (rung 1):
#   trial:   0    1    2    3    4    5    6    7    8
#   @1:     .50  .30  .60  .20  .90  .10  .40  .80  .70
#   @3:                .65       .85            .95  .75
# With one worker, every free moment scans rung 1 then rung 0 for the best of
# the top floor(n/3) not yet promoted, else starts a new trial:
#   t0 t1 t2 -> rung 0 has 3 results, top 1 = t2 -> promote t2 (1->3)
#   t3 (top 1 of 4 is t2, done) -> t4 (.9 is top 1 of 5) -> promote t4 (1->3)
#   t5, t6 (top 2 = t4, t2, both promoted) -> t7 (top 2 of 8 = t4, t7)
#   -> promote t7 (1->3); rung 1 = {t2 .65, t4 .85, t7 .95}: top 1 = t7
#   -> promote t7 (3->9); nothing promotable -> t8 (top 3 of 9 = t4 t7 t8)
#   -> promote t8 (1->3); rung 1 top 1 of 4 = t7 (done); max_trials reached -> end.
expected="[0,0,1] [1,0,1] [2,0,1] [2,1,3] [3,0,1] [4,0,1] [4,1,3] [5,0,1] [6,0,1] [7,0,1] [7,1,3] [7,3,9] [8,0,1] [8,1,3]"
{
    echo "learning_rate,epoch,val_accuracy"
    acc1=(.50 .30 .60 .20 .90 .10 .40 .80 .70)
    acc3=(.51 .31 .65 .21 .85 .11 .41 .95 .75)
    for t in 0 1 2 3 4 5 6 7 8; do
        for e in 1 2 3 4 5 6 7 8 9; do
            v=${acc1[$t]}; [ "$e" -ge 3 ] && v=${acc3[$t]}
            echo "0.0$((t + 1)),$e,$v"
        done
    done
} >curves.csv
cat >asha.yaml <<'YAML'
study: {name: asha-curves, seed: 1, metric: val_accuracy}
data: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}
strategy: {name: asha, max_trials: 9, min_epochs: 1, max_epochs: 9, reduction_factor: 3}
objective: {type: curves, file: curves.csv}
space:
  learning_rate: {grid: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09]}
YAML
sequence() { # run dir -> "[t,from,to] ..."
    "$HPTUNE" export "$1" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("[%d,%d,%d]" % (a[0], a[1], a[2]) for a in d["assignments"]))'
}
statuses() { "$HPTUNE" export "$1" --format json | python3 -c '
import json, sys, collections
d = json.load(sys.stdin)
print(" ".join("%s=%d" % kv for kv in sorted(collections.Counter(t["status"] for t in d["trials"]).items())))'
}
if timeout 120 $MPIRUN 2 "$HPTUNE" run asha.yaml --out one --quiet >one.log 2>&1; then
    got=$(sequence one)
    if [ "$got" = "$expected" ]; then pass asha_one_worker_hand_worked_promotions
    else fail asha_one_worker_hand_worked_promotions "got: $got; expected: $expected"; fi
    st=$(statuses one)
    [ "$st" = "completed=1 stopped=8" ] && pass asha_final_statuses || fail asha_final_statuses "$st"
    grep -q "best trial 7" one.log && pass asha_best_is_trial_7 || fail asha_best_is_trial_7 "$(cat one.log)"
else
    fail asha_one_worker_hand_worked_promotions "run failed: $(tail -5 one.log)"
fi
# the same study in one process (no mpirun) makes the same decisions
if timeout 60 "$HPTUNE" run asha.yaml --out serial --quiet >serial.log 2>&1 && [ "$(sequence serial)" = "$expected" ]; then
    pass asha_one_process_same_decisions
else
    fail asha_one_process_same_decisions "$(tail -3 serial.log) $(sequence serial 2>&1)"
fi
# three workers: different interleaving, every trial accounted for
if timeout 120 $MPIRUN 4 "$HPTUNE" run asha.yaml --out three --quiet >three.log 2>&1; then
    st=$(statuses three)
    n=$("$HPTUNE" export three --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["trials"]))')
    if [ "$n" = 9 ] && ! grep -qE "running|paused" <<<"$st" && grep -q "completed=" <<<"$st"; then
        pass asha_three_workers_accounts_for_every_trial
    else
        fail asha_three_workers_accounts_for_every_trial "trials=$n statuses: $st"
    fi
else
    fail asha_three_workers_accounts_for_every_trial "run failed: $(tail -5 three.log)"
fi
# a finished study resumes as a no-op
out=$(timeout 60 $MPIRUN 2 "$HPTUNE" resume one 2>&1) && grep -q "already finished" <<<"$out" \
    && pass resume_finished_study_says_so || fail resume_finished_study_says_so "$out"

# --- a tiny CNN study on generated data, two workers ----------------------
python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 100 --test 100 >/dev/null
"$HPTUNE" prepare --from data/cifar-10-batches-bin --out tiny.h5 --shards 4 >/dev/null || fail prepare_tiny "prepare failed"
cat >tiny.yaml <<'YAML'
study: {name: tiny, seed: 3}
data: {path: tiny.h5, train_shards: [0, 1, 2], val_shards: [3]}
strategy: {name: random, max_trials: 4}
space:
  learning_rate: {loguniform: [1.0e-3, 1.0e-2]}
  filters: {choice: [4, 8]}
  activation: {choice: [relu, elu]}
fixed: {epochs: 2, num_blocks: 2, head_units: 16, batch_size: 32}
YAML
if timeout 300 $MPIRUN 3 "$HPTUNE" run tiny.yaml --out cnn >cnn.log 2>&1; then
    pass cnn_study_two_workers
    [ -f cnn/best.yaml ] && "$HPTUNE" train cnn/best.yaml --no-test --quiet >best.log 2>&1 \
        && pass best_yaml_retrains || fail best_yaml_retrains "$(cat best.log)"
    grep -q "test set (best trial" cnn.log && pass test_set_reported_apart || fail test_set_reported_apart "$(tail -3 cnn.log)"
    "$HPTUNE" export cnn --format csv >cnn.csv
    if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
        if /usr/bin/python3 - cnn/study.h5 cnn.csv <<'PY'
import csv, sys, h5py
f = h5py.File(sys.argv[1], "r")
cols = list(f["metrics"].attrs["columns"])
h5 = {(int(r[0]), int(r[1])): r for r in f["metrics"][...]}
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == len(h5) == 8, (len(rows), len(h5))
for r in rows:
    m = h5[(int(r["trial"]), int(r["epoch"]))]
    for i, c in enumerate(cols[2:], start=2):
        assert float(r[c]) == m[i], (c, r[c], m[i])
status = [s.decode() if isinstance(s, bytes) else s for s in f["trials/status"][...]]
assert status == ["completed"] * 4, status
PY
        then pass export_matches_study_h5; else fail export_matches_study_h5 "CSV and study.h5 differ"; fi
    else
        skip export_matches_study_h5 "h5py not importable by /usr/bin/python3 (apt-get install python3-h5py)"
    fi
    out=$("$HPTUNE" status cnn) && grep -q "4 completed" <<<"$out" && pass status_table || fail status_table "$out"
else
    fail cnn_study_two_workers "$(tail -20 cnn.log)"
fi

# --- failures end the whole job with one clear message --------------------
sed 's/val_shards: \[3\]/val_shards: [7]/' tiny.yaml >badshard.yaml
out=$(timeout 120 $MPIRUN 3 "$HPTUNE" run badshard.yaml --out bad 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "shard 7" <<<"$out"; then pass bad_shard_stops_every_rank
else fail bad_shard_stops_every_rank "rc=$rc: $out"; fi
printf 'study: {name: x}\ndata: {path: tiny.h5, train_shards: [0], val_shards: [1]}\nstrategy: {name: random, max_trials: 2}\nspace:\n  filters: {choice: []}\n' >badjob.yaml
out=$(timeout 60 $MPIRUN 3 "$HPTUNE" run badjob.yaml 2>&1); rc=$?
n=$(grep -c "hptune: error" <<<"$out")
if [ $rc -ne 0 ] && [ "$n" = 1 ] && grep -q "badjob.yaml:5:" <<<"$out"; then pass bad_job_one_message_all_ranks_exit
else fail bad_job_one_message_all_ranks_exit "rc=$rc messages=$n: $out"; fi
# a diverging configuration and one that cannot be built (6 pooling blocks
# on 32x32) fail their trials with the reason; the study goes on
cat >nan.yaml <<'YAML'
study: {name: nan, seed: 1}
data: {path: tiny.h5, train_shards: [0, 1, 2], val_shards: [3]}
strategy: {name: grid}
space:
  learning_rate: {grid: [0.001, 10.0]}
  num_blocks: {grid: [2, 6]}
fixed: {epochs: 2, filters: 4, head_units: 16, batch_size: 32, optimizer: sgd, activation: elu, conv_dropout: 0, head_dropout: 0}
YAML
out=$(timeout 120 "$HPTUNE" run nan.yaml --out nan 2>&1)
st=$(statuses nan 2>&1)
reasons=$("$HPTUNE" export nan --format json | python3 -c '
import json, sys
print("|".join(t["failure"] or "-" for t in json.load(sys.stdin)["trials"]))')
if [ "$st" = "completed=1 failed=3" ] && grep -qiE "NaN|infinite" <<<"$out" \
   && [ "$(grep -o "cannot be built" <<<"$reasons" | wc -l)" = 2 ]; then
    pass failing_trials_recorded_study_goes_on
else fail failing_trials_recorded_study_goes_on "statuses: $st; reasons: $reasons"; fi
# epochs as a searched parameter: each trial trains its own sampled budget
cat >ep.yaml <<'YAML'
study: {name: ep, seed: 3}
data: {path: tiny.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: random, max_trials: 4}
space:
  epochs: {randint: [1, 4]}
fixed: {num_blocks: 1, filters: 4, head_units: 8, batch_size: 64}
YAML
if timeout 120 "$HPTUNE" run ep.yaml --out ep --quiet >ep.log 2>&1; then
    bad=$("$HPTUNE" export ep --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("trial%d:%d/%d" % (t["trial"], len(t["epochs"]), t["config"]["epochs"])
               for t in d["trials"] if len(t["epochs"]) != t["config"]["epochs"]))')
    [ -z "$bad" ] && pass searched_epochs_per_trial || fail searched_epochs_per_trial "epochs trained/configured: $bad"
else
    fail searched_epochs_per_trial "$(tail -3 ep.log)"
fi
