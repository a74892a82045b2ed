#!/usr/bin/env bash
# The command line and what a study leaves behind, as a user meets them:
# --version, help for every command (agreeing with the README), one
# usage-error style with did-you-mean, --opt=value, `train` with only data
# and fixed, a study whose data sits in a folder named "my data #1: x" (paths
# beside the job file, best.yaml retrained from elsewhere), the test-set
# evaluation everywhere it should be, rows for failed trials, per-trial
# export, status of an interrupted run, the progress estimate.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
PY=/usr/bin/python3

# --- version, commands, help ---------------------------------------------------
for v in --version -V; do
    out=$("$HPTUNE" $v 2>&1) && grep -qE "^hptune [0-9]+\.[0-9]+\.[0-9]+ \(git [^)]+\)" <<<"$out" \
        && pass "version_$v" || fail "version_$v" "$out"
done
out=$("$HPTUNE" statsu 2>&1); rc=$?
[ $rc = 2 ] && grep -q "hptune: error: unknown command 'statsu'; did you mean 'status'?" <<<"$out" \
    && pass unknown_command_did_you_mean || fail unknown_command_did_you_mean "exit $rc: $out"
# every command of the README's command list has help that starts with its usage,
# names every option the README shows for it, and `hptune help CMD` says the same
readme_block=$(awk '/^## Commands/{f=1} f && /^```$/{n++; if (n == 2) exit; next} f && n == 1' "$HPTUNE_ROOT/README.md")
bad=""
for cmd in prepare check train run resume status export bench; do
    help=$("$HPTUNE" $cmd --help 2>&1); rc=$?
    [ $rc = 0 ] && head -1 <<<"$help" | grep -qE "^usage: .*hptune $cmd" || bad="$bad $cmd(usage:$rc)"
    [ "$help" = "$("$HPTUNE" help $cmd 2>&1)" ] || bad="$bad $cmd(help-command)"
    line=$(grep -E "hptune $cmd( |$)" <<<"$readme_block" | head -1)
    [ -n "$line" ] || bad="$bad $cmd(not-in-readme)"
    for opt in $(grep -oE -- '--[a-z][a-z-]+' <<<"$line"); do
        grep -qe "$opt" <<<"$help" || bad="$bad $cmd($opt)"
    done
done
[ -z "$bad" ] && pass help_for_every_command_agrees_with_readme || fail help_for_every_command_agrees_with_readme "$bad"

# --- data, a job in a folder with an awkward name --------------------------------
$PY "$HPTUNE_ROOT/tests/integration/gen_cifar.py" gen --per-batch 60 --test 30 >/dev/null
folder="$TMP/my data #1: x"
mkdir -p "$folder"
"$HPTUNE" prepare --from gen/cifar-10-batches-bin --out "$folder/d.h5" --shards 4 >/dev/null || fail prepare "failed"

# train with only data.path and fixed: (the study name from the file name)
printf 'data: {path: d.h5}\nfixed: {epochs: 1, num_blocks: 1, filters: 4, head_units: 8, batch_size: 32}\n' >"$folder/minimal.yaml"
out=$(cd / && "$HPTUNE" train "$folder/minimal.yaml" 2>&1); rc=$?
first=$(head -1 <<<"$out")
if [ $rc = 0 ] && grep -qE "^hptune train .*minimal.yaml: [0-9]+ training images \(shards 0 1 2\), [0-9]+ validation images" <<<"$first" \
   && grep -qF "(defaults: name 'minimal' from the file name; one trial; shards 0-2 train, 3 validates;" <<<"$first" \
   && grep -q "^test: .*(30 images)" <<<"$out"; then
    pass train_needs_only_data_and_fixed
else
    fail train_needs_only_data_and_fixed "exit $rc: $(head -3 <<<"$out")"
fi
out=$("$HPTUNE" train "$folder/minimal.yaml" --set lerning_rate=0.1 2>&1); rc=$?
[ $rc = 1 ] && grep -q "unknown hyperparameter 'lerning_rate'; did you mean 'learning_rate'?" <<<"$out" \
    && pass set_key_did_you_mean || fail set_key_did_you_mean "exit $rc: $out"

# a study: one trial that trains, one that cannot be built (8 pooling blocks)
cat >"$folder/study.yaml" <<'YAML'
study: {name: awkward, seed: 5}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3]}
strategy: {name: grid}
space:
  num_blocks: {grid: [1, 8]}
fixed: {epochs: 2, filters: 4, head_units: 8, batch_size: 32}
YAML
if (cd / && "$HPTUNE" run "$folder/study.yaml" --out "$TMP/st" --quiet >"$TMP/run.log" 2>&1); then
    pass study_with_data_beside_the_job_from_another_folder
else
    fail study_with_data_beside_the_job_from_another_folder "$(tail -3 run.log)"
fi
abs_data=$(realpath "$folder/d.h5")
# best.yaml: libyaml quotes the path, it is absolute, it retrains from anywhere
got=$($PY -c 'import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))["data"]["path"])' st/best.yaml 2>/dev/null \
      || grep -oE "path: .*" st/best.yaml)
mkdir -p elsewhere
if [ "$got" = "$abs_data" ] && (cd elsewhere && "$HPTUNE" train "$TMP/st/best.yaml" --quiet >../retrain.log 2>&1) \
   && grep -q "^test:" retrain.log; then
    pass best_yaml_absolute_quoted_path_retrains_from_elsewhere
else
    fail best_yaml_absolute_quoted_path_retrains_from_elsewhere "path '$got' vs '$abs_data': $(cat st/best.yaml | head -8; tail -2 retrain.log)"
fi
# the test-set evaluation: status, best.yaml, JSON, per-trial CSV, study.h5
test_line=$("$HPTUNE" status st | grep "^test set (best trial 0, checkpoint at epoch [12];")
json_test=$("$HPTUNE" export st --format json | $PY -c '
import json, sys; t = json.load(sys.stdin)["test"]; print(t["trial"], t["images"], t["evaluated"], t["accuracy"])')
per_trial=$("$HPTUNE" export st --per trial | $PY -c '
import csv, sys; r = {int(x["trial"]): x for x in csv.DictReader(sys.stdin)}
print(r[0]["test_accuracy"], r[0]["status"], r[0]["epochs_done"], r[1]["status"], r[1]["epochs_done"], r[1]["test_accuracy"] == "", "cannot be built" in r[1]["failure"])')
acc=$(cut -d' ' -f4 <<<"$json_test")
if [ -n "$test_line" ] && grep -q "^# test set (checkpoint at epoch [12], 30 images): accuracy" st/best.yaml \
   && [ "$(cut -d' ' -f1-3 <<<"$json_test")" = "0 30 True" ] \
   && [ "$per_trial" = "$acc completed 2 failed 0 True True" ]; then
    pass test_evaluation_recorded_everywhere
else
    fail test_evaluation_recorded_everywhere "status '$test_line'; json '$json_test'; per trial '$per_trial'"
fi
# per-epoch CSV: the failed trial has its row, with the reason, the epoch empty
row=$("$HPTUNE" export st | $PY -c '
import csv, sys
rows = [r for r in csv.DictReader(sys.stdin) if r["trial"] == "1"]
print(len(rows), rows[0]["status"], repr(rows[0]["epoch"]), repr(rows[0]["val_accuracy"]), "pooling of block" in rows[0]["failure"])')
[ "$row" = "1 failed '' '' True" ] && pass failed_before_first_epoch_has_a_row || fail failed_before_first_epoch_has_a_row "$row"
# study.h5 describes itself
if $PY -c 'import h5py' 2>/dev/null; then
    if $PY - st/study.h5 "$abs_data" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
def strs(a): return [x.decode() if isinstance(x, bytes) else x for x in a]
m = f["metrics"]
assert strs(m.attrs["columns"])[:4] == ["trial", "epoch", "train_loss", "train_accuracy"], m.attrs["columns"]
assert "effective_lr" in strs(m.attrs["columns"]) and len(strs(m.attrs["units"])) == m.shape[1]
ints = f["trials/ids_status_bracket_rung_epochs_ckpt"]
labels = strs(ints.attrs["status_labels"])
assert [labels[c] for c in ints[:, 1]] == strs(f["trials/status"][...]) == ["completed", "failed"], labels
cfg = f["trials/config"]
cols = strs(cfg.attrs["columns"])
act = strs(cfg.attrs["activation_labels"])[int(cfg[0, cols.index("activation")])]
assert act == "relu" and strs(cfg.attrs["batch_norm_labels"]) == ["false", "true"]
assert strs(f["assignments"].attrs["columns"]) == ["trial", "from_epoch", "to_epoch", "bracket", "rung"]
for a in ("hptune_version", "build_flags", "git_revision"):
    assert f.attrs[a], a
assert f.attrs["data_path"] == sys.argv[2], f.attrs["data_path"]
t = f["test"]
assert t.attrs["evaluated"] == 1 and t.attrs["images"] == 30 and 0 <= t["accuracy"][0] <= 1
PY
    then pass study_h5_self_describing; else fail study_h5_self_describing "see the assertion above"; fi
else
    skip study_h5_self_describing "h5py not importable by /usr/bin/python3"
fi

# --- option styles and usage errors ----------------------------------------------
a=$("$HPTUNE" export st --format=json --per=trial); b=$("$HPTUNE" export --per trial --format json st)
[ -n "$a" ] && [ "$a" = "$b" ] && pass opt_equals_value_and_any_order || fail opt_equals_value_and_any_order "differ"
usage_error() { # name pattern -- cmd...
    local name=$1 pattern=$2; shift 3
    local out rc; out=$("$@" 2>&1); rc=$?
    if [ $rc = 2 ] && grep -qE -- "$pattern" <<<"$out" && grep -q "^usage: " <<<"$out"; then pass "$name"
    else fail "$name" "exit $rc: $out"; fi
}
usage_error export_flag_did_you_mean "hptune: error: export: unknown option '--formt'; did you mean '--format'\?" -- "$HPTUNE" export st --formt json
usage_error export_missing_value "hptune: error: export: --format needs a value" -- "$HPTUNE" export st --format
usage_error export_bad_format "hptune: error: export: --format 'xml': use csv, json or tensorboard" -- "$HPTUNE" export st --format xml
usage_error status_no_dir "hptune: error: status: give the study's directory" -- "$HPTUNE" status
usage_error run_progress_every "hptune: error: run: --progress-every 'soon'" -- "$HPTUNE" run x.yaml --progress-every soon
usage_error train_flag_value "hptune: error: train: --quiet takes no value" -- "$HPTUNE" train x.yaml --quiet=yes

# --- an interrupted run's status ----------------------------------------------------
# the finished study cut after its second assignment: trial 1 was running, no epoch
cp -r st cut
off=$($PY - cut/study.journal <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(); pos = 0; seen = 0
while pos < len(b):
    magic, typ, size = struct.unpack_from("<IHxxI", b, pos)
    pos += 12 + size + 4
    seen += typ == 2            # ASSIGN (event.h)
    if seen == 2: print(pos); break
PY
)
"$HPTUNE" resume cut --truncate-journal-at "$off" >/dev/null 2>&1
st=$("$HPTUNE" status cut)
if grep -qE "^ +1  interrupted +- +0 +pending  num_blocks=8" <<<"$st" && grep -q "1 interrupted - not finished" <<<"$st"; then
    pass status_interrupted_and_pending
else
    fail status_interrupted_and_pending "$st"
fi

# --- the progress estimate -------------------------------------------------------------
cat >fn.yaml <<'YAML'
study: {name: fn, seed: 2}
strategy: {name: random, max_trials: 8}
objective: {type: function, name: branin, sleep_ms: 40}
space:
  x1: {uniform: [-5, 10]}
  x2: {uniform: [0, 15]}
fixed: {epochs: 3}
YAML
"$HPTUNE" run fn.yaml --out fn --progress-every 0.2 >fn.log 2>&1
lefts=$(grep -oE "about [0-9]+:[0-9]+:[0-9]+ left \(estimate: at most [0-9]+ epochs to go" fn.log | awk '{split($2, t, ":"); print t[1]*3600 + t[2]*60 + t[3]}')
if [ "$(wc -l <<<"$lefts")" -ge 3 ] && awk 'NR > 1 && $1 > prev + 1 {bad = 1} {prev = $1} END {exit bad}' <<<"$lefts"; then
    pass progress_estimate_labelled_and_not_rising
else
    fail progress_estimate_labelled_and_not_rising "$(grep '^\[' fn.log | head -5)"
fi

# --- the test set: the best epoch's checkpoint under keep: all; an empty one said so
sed 's/fixed: {epochs: 2,/output: {keep: all}\nfixed: {epochs: 4,/' "$folder/study.yaml" >"$folder/keepall.yaml"
"$HPTUNE" run "$folder/keepall.yaml" --out keepall --quiet >keepall.log 2>&1
tested=$("$HPTUNE" status keepall | sed -n 's/^test set (best trial 0, checkpoint at epoch \([0-9]*\);.*/\1/p')
best=$("$HPTUNE" export keepall --per trial | $PY -c 'import csv,sys; print([r["best_epoch"] for r in csv.DictReader(sys.stdin) if r["trial"] == "0"][0])')
if [ -n "$tested" ] && [ "$tested" = "$best" ] && [ ! -f keepall/trials/trial_00000/best.h5 ]; then
    pass keep_all_test_uses_the_best_epoch
else
    fail keep_all_test_uses_the_best_epoch "tested epoch '$tested', best epoch '$best': $(tail -3 keepall.log)"
fi
if $PY -c 'import h5py' 2>/dev/null; then
    $PY - "$folder/d.h5" "$folder/e.h5" <<'PY'
import sys, h5py
src, dst = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "w")   # the same file with no test images
for k, v in src.attrs.items(): dst.attrs[k] = v
src.copy("train", dst); src.copy("meta", dst)
g = dst.create_group("test")
g.create_dataset("images", shape=(0, 3, 32, 32), dtype="u1"); g.create_dataset("labels", shape=(0,), dtype="u1")
g.create_dataset("images_crc32", data=[0], dtype="u4"); g.create_dataset("labels_crc32", data=[0], dtype="u4")
PY
    sed 's/d.h5/e.h5/' "$folder/minimal.yaml" >"$folder/empty_test.yaml"
    out=$("$HPTUNE" train "$folder/empty_test.yaml" --quiet 2>&1); rc=$?
    sed 's/d.h5/e.h5/' "$folder/study.yaml" >"$folder/empty_test_study.yaml"
    "$HPTUNE" run "$folder/empty_test_study.yaml" --out et --quiet >et.log 2>&1; rs=$?
    if [ $rc = 1 ] && grep -q "e.h5: the test set is empty (0 images)" <<<"$out" && [ $rs = 0 ] \
       && "$HPTUNE" status et | grep -q "^test set: not evaluated: the test set of .*e.h5 is empty (0 images)"; then
        pass empty_test_set_reported_as_such
    else
        fail empty_test_set_reported_as_such "train exit $rc: $out; study exit $rs: $(tail -2 et.log)"
    fi
else
    skip empty_test_set_reported_as_such "h5py not importable by /usr/bin/python3"
fi
