#!/usr/bin/env bash
# The model hyperparameters of issue 13 end to end: residual blocks,
# convs_per_block, model mlp, head_pool global_avg, batch-norm momentum and
# epsilon, label smoothing, gradient clipping, rotation and flip probability.
# check shows their shapes,
# train runs them and resumes bit-identically, a study with them in space:
# resumes from its trial checkpoints with the straight run's results, and
# impossible combinations are refused with the reason.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
command -v h5diff >/dev/null || { skip model_train "h5diff not installed (make deps: hdf5-tools)"; exit 0; }
python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 100 --test 40 >/dev/null
"$HPTUNE" prepare --from data/cifar-10-batches-bin --out d.h5 --shards 4 >/dev/null || { fail prepare "failed"; exit 1; }
STATE="/model /optimizer /rng /order"
same_state() { for d in $STATE; do h5diff -q "$1" "$2" "$d" >/dev/null 2>&1 || { echo "$d differs"; return 1; }; done; }
metrics() { grep '^epoch' "$1" | sed 's/  lr .*//'; }

# --- train: residual cnn (projection shortcuts, stride 2), global average pooling
cat >res.yaml <<'YAML'
study: {name: res, seed: 4}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: random, max_trials: 1}
fixed: {epochs: 3, num_blocks: 2, filters: 6, filter_growth: true, convs_per_block: 2, residual: true,
        stride: 2, head_pool: global_avg, head_units: 12, batch_size: 32, batch_norm: true,
        bn_momentum: 0.9, bn_epsilon: 0.0001, label_smoothing: 0.1, grad_clip_norm: 1.0,
        augment_flip: 0.3, augment_rotate: 10, augment_crop: 2}
YAML
"$HPTUNE" train res.yaml --checkpoint a.h5 >a.log 2>&1 || fail residual_train_runs "$(tail -3 a.log)"
if grep -q "add shortcut conv1x1 3->6 s2" a.log && grep -q "add shortcut conv1x1 6->12 s2" a.log &&
   grep -q "global_avg_pool | dense 12->12" a.log && [ "$(metrics a.log | wc -l)" = 3 ]; then
    pass residual_network_as_described
else fail residual_network_as_described "$(grep network a.log)"; fi
groups=$(h5ls a.h5/model | awk '{print $1}' | tr '\n' ' ')
[ "$groups" = "block1_bn block1_bn2 block1_conv block1_conv2 block1_shortcut block2_bn block2_bn2 block2_conv block2_conv2 block2_shortcut head1_dense output_dense " ] &&
    pass residual_checkpoint_layers || fail residual_checkpoint_layers "$groups"
"$HPTUNE" train res.yaml --stop-at 1 --checkpoint c.h5 >c1.log 2>&1
"$HPTUNE" train res.yaml --resume c.h5 --checkpoint c.h5 >c2.log 2>&1
if why=$(same_state a.h5 c.h5) && [ "$(metrics a.log)" = "$(metrics c2.log)" ]; then
    pass residual_resume_bit_identical
else fail residual_resume_bit_identical "$why; $(diff <(metrics a.log) <(metrics c2.log))"; fi
# another value of a new key is another run (the key reaches the network)
for kv in bn_momentum=0.5 bn_epsilon=0.01 label_smoothing=0 grad_clip_norm=0.01 augment_rotate=0 augment_flip=true; do
    "$HPTUNE" train res.yaml --set "$kv" --set epochs=1 --checkpoint k.h5 >k.log 2>&1
    "$HPTUNE" train res.yaml --set epochs=1 --checkpoint k0.h5 >k0.log 2>&1
    same_state k.h5 k0.h5 >/dev/null && fail "key_${kv%%=*}_changes_training" "same weights" || pass "key_${kv%%=*}_changes_training"
done

# --- train: residual mlp
"$HPTUNE" train res.yaml --set model=mlp --set head_layers=3 --set head_units=24 --checkpoint m.h5 >m.log 2>&1 || fail mlp_train_runs "$(tail -3 m.log)"
if grep -q "network: flatten | dense 3072->24 | activation | dropout 0.5 | dense 24->24 | activation | add shortcut | dropout 0.5 | dense 24->24 | activation | add shortcut | dropout 0.5 | dense 24->10" m.log &&
   [ "$(metrics m.log | wc -l)" = 3 ]; then pass mlp_trains
else fail mlp_trains "$(grep -E 'network|error' m.log)"; fi

# --- per-block filters: a list in fixed:
cat >list.yaml <<'YAML'
study: {name: list, seed: 4}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: random, max_trials: 1}
fixed: {epochs: 1, num_blocks: 3, filters: [5, 9, 3], head_units: 8, batch_size: 32}
YAML
out=$("$HPTUNE" train list.yaml 2>&1)
grep -q "conv 3->5 k3 s1 ->32x32 .* conv 5->9 k3 s1 ->16x16 .* conv 9->3 k3 s1 ->8x8" <<<"$out" &&
    pass filters_list_sets_each_block || fail filters_list_sets_each_block "$(grep -E 'network|error' <<<"$out")"
sed 's/filters: \[5, 9, 3\]/filters: [5, 9]/' list.yaml >short.yaml
expect_fail filters_list_length_located "short.yaml:4:44: fixed.filters: 2 values for num_blocks: 3" -- "$HPTUNE" check short.yaml

# --- impossible combinations, with the reason
expect_fail residual_needs_two_convs "residual: true needs convs_per_block >= 2" -- "$HPTUNE" train res.yaml --set convs_per_block=1
expect_fail residual_needs_same_padding "residual: true needs padding: same" -- "$HPTUNE" train res.yaml --set padding=valid
expect_fail mlp_residual_needs_two_layers "head_layers >= 2" -- "$HPTUNE" train res.yaml --set model=mlp --set head_layers=1
expect_fail convs_per_block_range "convs_per_block: 5 is outside the valid range \[1, 4\]" -- "$HPTUNE" train res.yaml --set convs_per_block=5
expect_fail model_names "model: 'resnet' is not one of: cnn, mlp" -- "$HPTUNE" train res.yaml --set model=resnet
expect_fail label_smoothing_range "label_smoothing: 1.5 is outside" -- "$HPTUNE" train res.yaml --set label_smoothing=1.5
cat >badspace.yaml <<'YAML'
study: {name: bad, seed: 4}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: grid}
space:
  head_pool: {grid: [flatten, global_max]}
YAML
expect_fail space_enum_value_located "badspace.yaml:5:.*head_pool.*'global_max' is not one of: flatten, global_avg" -- "$HPTUNE" check badspace.yaml

# --- check: the shapes pass counts the new structures
cat >study.yaml <<'YAML'
study: {name: models, seed: 8}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: asha, max_trials: 4, min_epochs: 1, max_epochs: 3, reduction_factor: 3}
space:
  residual: {choice: [false, true]}
  head_pool: {choice: [flatten, global_avg]}
  label_smoothing: {uniform: [0, 0.2]}
fixed: {num_blocks: 2, filters: 4, convs_per_block: 2, head_units: 8, batch_size: 16, batch_norm: true,
        grad_clip_norm: 2.0}
output: {keep: all}
YAML
out=$("$HPTUNE" check study.yaml 2>&1)
# hand count of residual + global_avg: convs 3->4, 4->4, 4->4, 4->4 (k3, bias), 4 bn (8 each),
# shortcut 3->4 (1x1, bias), dense 4->8, 8->10
want=$(( (108+4) + (144+4)*3 + 4*8 + (12+4) + (32+8) + (80+10) ))
if grep -q "every one can be built" <<<"$out" && grep -qE "^ +[0-9]+ +$want .*residual=true head_pool=global_avg" <<<"$out"; then
    pass check_shapes_residual_global_avg
else fail check_shapes_residual_global_avg "want $want parameters: $(grep -E 'residual=true head_pool=global_avg|cannot' <<<"$out" | head -3)"; fi

# --- a study with the new keys in space: killed after its rung-0 results,
# resumed from the trials' checkpoints, equal to the straight run
results() { study_results "$1"; }
cut_after_finished() { # dir n: byte offset after the n-th FINISHED record (event.h)
    /usr/bin/python3 - "$1/study.journal" "$2" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(); pos = 0; seen = 0
while pos < len(b):
    magic, typ, size = struct.unpack_from("<IHxxI", b, pos)
    pos += 12 + size + 4
    seen += typ == 4
    if seen == int(sys.argv[2]): print(pos); break
PY
}
"$HPTUNE" run study.yaml --out straight --quiet >straight.log 2>&1 || fail model_study_runs "$(tail -3 straight.log)"
if [ "$(results straight | grep -c .)" -ge 5 ] && "$HPTUNE" export straight --format csv | head -1 | grep -q "residual.*head_pool.*label_smoothing"; then
    pass model_study_runs
else fail model_study_runs "$(results straight | head -3)"; fi
cp -r straight cut
"$HPTUNE" resume cut --truncate-journal-at "$(cut_after_finished cut 3)" >/dev/null 2>&1
paused=$("$HPTUNE" status cut | grep -c ' paused ')
[ "$paused" -ge 1 ] && pass model_study_cut_with_paused_trials || fail model_study_cut_with_paused_trials "$("$HPTUNE" status cut)"
if "$HPTUNE" resume cut >r.log 2>&1 && [ "$(results cut)" = "$(results straight)" ]; then
    pass model_study_resumed_identically
else fail model_study_resumed_identically "$(tail -3 r.log) $(diff <(results cut) <(results straight) | head -4)"; fi
