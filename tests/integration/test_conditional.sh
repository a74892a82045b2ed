#!/usr/bin/env bash
# Conditional parameters (when:), a searched seed and repeats, end to end:
# check's errors with file:line:column and its plan, a grid over the
# conditional tree (3 points, not 4) with status/export showing inactive
# parameters, hand-worked mean and std per configuration (export --per config,
# status), and random (repeats), tpe and bohb studies with conditional
# parameters interrupted and resumed giving exactly the straight run's results
# (asha too), with inactive parameters exactly where their conditions fail.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
MPIRUN="mpirun --oversubscribe ${HPTUNE_MPIRUN_ARGS:-} -np"

# --- check: errors name the file, line and column -----------------------------
head='study: {name: c, seed: 1}
strategy: {name: random, max_trials: 4}
objective: {type: function, name: branin}
fixed: {epochs: 1}
space:'
printf '%s\n  x2: {uniform: [0, 15], when: {x9: 1}}\n  x1: {uniform: [-5, 10]}\n' "$head" >unknown.yaml
expect_fail check_condition_on_unknown_parameter "unknown.yaml:6:33: space.x2.when: 'x9' is not a parameter of space:" \
    -- "$HPTUNE" check unknown.yaml
printf '%s\n  x1: {uniform: [-5, 10]}\n  x2: {uniform: [0, 15], when: {x1: 1}}\n' "$head" >range.yaml
expect_fail check_condition_on_a_range "range.yaml:7:33: space.x2.when: x1 is a uniform range, not a choice" \
    -- "$HPTUNE" check range.yaml
printf '%s\n  x1: {choice: [-3, 3]}\n  x2: {uniform: [0, 15], when: {x1: [3, 4]}}\n' "$head" >value.yaml
expect_fail check_condition_value_not_a_choice "value.yaml:7:41: space.x2.when.x1: 4 is not one of x1's values" \
    -- "$HPTUNE" check value.yaml
printf '%s\n  x2: {uniform: [0, 15], when: {x1: 3}}\n  x1: {choice: [-3, 3]}\n' "$head" >order.yaml
expect_fail check_condition_parent_listed_later "order.yaml:6:33: .*move x1 above x2" -- "$HPTUNE" check order.yaml

# --- grid over the conditional tree, shown by check, status and export ----------
cat >grid.yaml <<'YAML'
study: {name: cond-grid, seed: 2, metric: val_accuracy}
strategy: {name: grid}
objective: {type: curves, file: curves.csv}
space:
  optimizer: {grid: [sgd, adam]}
  momentum: {grid: [0.0, 0.9], when: {optimizer: sgd}}
  seed: {grid: [1, 2]}
fixed: {epochs: 2}
YAML
# final values (epoch 2) per configuration and seed, hand-picked:
#   sgd, momentum 0:   0.50 0.60 -> mean 0.55, std sqrt(2 * 0.05^2 / 1) = 0.0707106781186548
#   sgd, momentum 0.9: 0.70 0.74 -> mean 0.72, std 0.0282842712474619
#   adam (momentum inactive, the default 0): 0.65 0.65 -> mean 0.65, std 0
cat >curves.csv <<'CSV'
optimizer, momentum, seed, epoch, val_accuracy
sgd, 0, 1, 1, 0.3
sgd, 0, 1, 2, 0.50
sgd, 0, 2, 1, 0.3
sgd, 0, 2, 2, 0.60
sgd, 0.9, 1, 1, 0.3
sgd, 0.9, 1, 2, 0.70
sgd, 0.9, 2, 1, 0.3
sgd, 0.9, 2, 2, 0.74
adam, 0, 1, 1, 0.3
adam, 0, 1, 2, 0.65
adam, 0, 2, 1, 0.3
adam, 0, 2, 2, 0.65
CSV
out=$("$HPTUNE" check grid.yaml 2>&1)
if grep -q "grid: 6 points" <<<"$out" && grep -q "momentum *grid \[0, 0.9\] when optimizer = sgd (else 0)" <<<"$out"; then
    pass check_grid_counts_the_conditional_tree
else
    fail check_grid_counts_the_conditional_tree "$out"
fi
if ! "$HPTUNE" run grid.yaml --out grid --quiet >grid.log 2>&1; then
    fail grid_run "$(tail -3 grid.log)"
else
    got=$("$HPTUNE" export grid --per trial | python3 -c '
import csv, sys
for r in csv.DictReader(sys.stdin):
    print(r["optimizer"], r["momentum"] or "-", r["seed"])')
    want='sgd 0 1
sgd 0 2
sgd 0.9 1
sgd 0.9 2
adam - 1
adam - 2'
    [ "$got" = "$want" ] && pass grid_enumerates_3_configurations_x_2_seeds || fail grid_enumerates_3_configurations_x_2_seeds "$got"
    nulls=$("$HPTUNE" export grid --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s:%s" % (t["config"]["optimizer"], t["config"]["momentum"]) for t in d["trials"]))')
    [ "$nulls" = "sgd:0 sgd:0 sgd:0.9 sgd:0.9 adam:None adam:None" ] && pass json_inactive_is_null \
        || fail json_inactive_is_null "$nulls"
    status=$("$HPTUNE" status grid)
    if grep -qE "optimizer=adam momentum=- seed=[12]" <<<"$status" && grep -q "^configurations" <<<"$status"; then
        pass status_shows_inactive_and_configurations
    else
        fail status_shows_inactive_and_configurations "$status"
    fi
    "$HPTUNE" export grid --per config >per_config.csv
    if python3 - per_config.csv <<'PY'; then pass per_config_mean_and_std_hand_worked; else fail per_config_mean_and_std_hand_worked "$(cat per_config.csv | cut -c1-80)"; fi
import csv, math, sys
rows = {(r["optimizer"], r["momentum"]): r for r in csv.DictReader(open(sys.argv[1]))}
want = {("sgd", "0"): (0.55, 0.0707106781186548, "0 1"), ("sgd", "0.9"): (0.72, 0.0282842712474619, "2 3"),
        ("adam", ""): (0.65, 0.0, "4 5")}
assert set(rows) == set(want), rows.keys()
for k, (mean, std, trials) in want.items():
    r = rows[k]
    assert r["runs"] == "2" and r["completed"] == "2" and r["trials"] == trials, r
    # the curves hold float32-rounded metrics: compare at 1e-6
    assert abs(float(r["mean_val_accuracy"]) - mean) < 1e-6, (k, r["mean_val_accuracy"])
    assert abs(float(r["std_val_accuracy"]) - std) < 1e-6, (k, r["std_val_accuracy"])
    assert "seed" not in r
PY
    # TensorBoard's HParams: an inactive parameter is left out of the trial's session
    READER=${HPTUNE_TFEVENTS_READER:-$HPTUNE_ROOT/../shared/tensorboard/tfevents_dump.py}
    if [ ! -f "$READER" ] || ! /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || ! command -v protoc >/dev/null; then
        skip tensorboard_inactive_left_out "no TensorBoard reader (set HPTUNE_TFEVENTS_READER) or protobuf missing (make deps)"
    elif "$HPTUNE" export grid --format tensorboard --out grid_tb >/dev/null 2>&1 \
         && TMPDIR=$TMP /usr/bin/python3 "$READER" grid_tb >grid_tb.json 2>grid_tb.err; then
        got=$(/usr/bin/python3 - grid_tb.json <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
for k in sorted(r for r in runs if r.startswith("trial_")):
    start = [h for h in runs[k]["hparams"] if h["tag"] == "_hparams_/session_start_info"][0]
    print(k, " ".join(sorted(start["data"]["sessionStartInfo"]["hparams"])))
PY
)
        want='trial_00000 momentum optimizer seed
trial_00001 momentum optimizer seed
trial_00002 momentum optimizer seed
trial_00003 momentum optimizer seed
trial_00004 optimizer seed
trial_00005 optimizer seed'
        [ "$got" = "$want" ] && pass tensorboard_inactive_left_out || fail tensorboard_inactive_left_out "$got"
    else
        fail tensorboard_inactive_left_out "export or reader failed: $(cat grid_tb.err 2>/dev/null)"
    fi
fi

# --- straight vs interrupted and resumed: random (repeats), tpe, bohb -----------
command -v mpirun >/dev/null || { skip conditional_resume "mpirun not installed (make deps)"; exit 0; }
results() { study_results "$1"; }

cat >random.yaml <<'YAML'
study: {name: cond-random, seed: 6}
strategy: {name: random, max_trials: 8, repeats: 3}
objective: {type: function, name: branin, sleep_ms: 30}
space:
  x1: {choice: [-3, 3, 9]}
  x2: {uniform: [0, 15], when: {x1: [-3, 3]}}
fixed: {epochs: 2, x2: 7.5}
YAML
cat >tpe.yaml <<'YAML'
study: {name: cond-tpe, seed: 3}
strategy: {name: tpe, max_trials: 24, n_startup_trials: 6}
objective: {type: function, name: branin, sleep_ms: 30}
space:
  x1: {choice: [-3, 3, 9]}
  x2: {uniform: [0, 15], when: {x1: [-3, 3]}}
fixed: {epochs: 2, x2: 2.5}
YAML
cat >bohb.yaml <<'YAML'
study: {name: cond-bohb, seed: 5}
strategy: {name: bohb, max_trials: 30, min_epochs: 1, max_epochs: 9, reduction_factor: 3, min_points_in_model: 4}
objective: {type: function, name: hartmann6_fidelity, sleep_ms: 10}
space:
  x1: {choice: [0.1, 0.4, 0.8]}
  x2: {uniform: [0, 1], when: {x1: 0.1}}
  x3: {uniform: [0, 1], when: {x1: [0.1, 0.4]}}
  x4: {uniform: [0, 1]}
  x5: {uniform: [0, 1]}
  x6: {uniform: [0, 1]}
fixed: {x2: 0.5, x3: 0.5}
YAML
sed 's/name: cond-bohb, seed: 5/name: cond-asha, seed: 8/; s/name: bohb, max_trials: 30, min_epochs: 1, max_epochs: 9, reduction_factor: 3, min_points_in_model: 4/name: asha, max_trials: 30, min_epochs: 1, max_epochs: 9, reduction_factor: 3/' \
    bohb.yaml >asha.yaml
for s in random tpe bohb asha; do
    if ! timeout 300 $MPIRUN 2 "$HPTUNE" run $s.yaml --out $s-straight --quiet >$s-straight.log 2>&1; then
        fail ${s}_conditional_straight_run "$(tail -5 $s-straight.log)"; continue
    fi
    total=$(epochs_done $s-straight)
    $MPIRUN 2 "$HPTUNE" run $s.yaml --out $s-broken --quiet >$s-1.log 2>&1 &
    pid=$!
    if wait_for_epochs $s-broken $((total / 2)) $pid; then kill -USR1 $pid; fi
    wait $pid
    if ! grep -q "interrupted at" $s-1.log; then
        fail ${s}_conditional_resumed_identical "the first run was not interrupted: $(tail -3 $s-1.log)"
    elif timeout 300 $MPIRUN 2 "$HPTUNE" resume $s-broken --quiet >$s-2.log 2>&1 &&
       diff <(results $s-straight) <(results $s-broken) >$s.diff; then
        pass ${s}_conditional_resumed_identical
    else
        fail ${s}_conditional_resumed_identical "$(head -5 $s.diff) $(tail -3 $s-2.log)"
    fi
    # every recorded assignment is re-derived from the journal (a finished resume replays them all)
    out=$(timeout 60 "$HPTUNE" resume $s-broken 2>&1)
    grep -q "already finished" <<<"$out" && pass ${s}_conditional_every_proposal_rederived \
        || fail ${s}_conditional_every_proposal_rederived "$out"
    # inactive exactly where the condition fails, active (with a searched value) elsewhere
    if "$HPTUNE" export $s-straight --per trial | python3 -c '
import csv, sys
kind = sys.argv[1]
rows = list(csv.DictReader(sys.stdin))
conds = {"x2": {"-3", "3"}} if kind not in ("bohb", "asha") else {"x2": {"0.1"}, "x3": {"0.1", "0.4"}}
seen = {True: 0, False: 0}
for r in rows:
    for p, allowed in conds.items():
        active = r["x1"] in allowed
        assert (r[p] != "") == active, (r["trial"], p, r["x1"], r[p])
        seen[active] += 1
assert seen[True] and seen[False], seen
' $s; then pass ${s}_inactive_exactly_where_the_condition_fails
    else fail ${s}_inactive_exactly_where_the_condition_fails "see $s-straight"; fi
done

# random repeats: 8 configurations x 3 runs, consecutive trials; mean/std per
# configuration recomputed from the per-trial export
if [ -d random-straight ]; then
    "$HPTUNE" export random-straight --per trial >trials.csv
    "$HPTUNE" export random-straight --per config --format json >configs.json
    if python3 - trials.csv configs.json <<'PY'; then pass random_repeats_per_config_from_trials; else fail random_repeats_per_config_from_trials "see configs.json"; fi
import csv, json, math, sys, statistics
trials = list(csv.DictReader(open(sys.argv[1])))
configs = json.load(open(sys.argv[2]))["configurations"]
assert len(trials) == 24, len(trials)
# runs of one sample are consecutive, with their own seeds
for c in range(8):
    rows = trials[3 * c: 3 * c + 3]
    assert len({r["seed"] for r in rows}) == 3, "repeats share a seed"
    assert len({(r["x1"], r["x2"]) for r in rows}) == 1, "repeats differ in configuration"
# a configuration is the values without the seed: two samples that coincide
# (x1 = 9 twice, x2 inactive) are one configuration
groups = {}
for r in trials:
    groups.setdefault((r["x1"], r["x2"]), []).append(int(r["trial"]))
assert len(configs) == len(groups), (len(configs), len(groups))
for c in configs:
    ids = c["trials"]
    rows = [trials[i] for i in ids]
    assert ids == groups[(rows[0]["x1"], rows[0]["x2"])] and c["config"] == ids[0], ids
    vals = [float(r["final_val_loss"]) for r in rows]
    assert c["runs"] == len(ids) and c["completed"] == len(ids), c
    assert abs(c["mean"] - statistics.mean(vals)) <= 1e-12 * max(1, abs(c["mean"])), c
    assert abs(c["std"] - statistics.stdev(vals)) <= 1e-12 * max(1, abs(statistics.mean(vals))), c
    assert (c["params"]["x2"] is None) == (c["params"]["x1"] == 9), c
PY
fi
