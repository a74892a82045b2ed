#!/usr/bin/env bash
# hptune train: determinism, bit-identical checkpoint/resume, bad input.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
command -v h5diff >/dev/null || { skip train_determinism "h5diff not installed (make deps: hdf5-tools)"; exit 0; }
python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 200 --test 100 >/dev/null
"$HPTUNE" prepare --from data/cifar-10-batches-bin --out tiny.h5 --shards 4 >/dev/null || { fail prepare "failed"; exit 1; }
# batch norm, augmentation, dropout and a cosine schedule exercise every
# piece of state a checkpoint must carry (RNG streams, moments, statistics).
cat >job.yaml <<'YAML'
study: {name: det, seed: 5}
data: {path: tiny.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: random, max_trials: 1}
fixed: {epochs: 4, num_blocks: 2, filters: 8, head_units: 16, batch_size: 32, batch_norm: true,
        augment_crop: 2, augment_flip: true, conv_dropout: 0.2, head_dropout: 0.3,
        lr_schedule: cosine, warmup_epochs: 1, optimizer: adamw, weight_decay: 0.01}
YAML
STATE="/model /optimizer /rng /order" # h5diff compares the groups recursively
same_state() { for d in $STATE; do h5diff -q "$1" "$2" "$d" >/dev/null 2>&1 || { echo "$d differs"; return 1; }; done; }
metrics() { grep '^epoch' "$1" | sed 's/  lr .*//'; } # epoch lines without timings

"$HPTUNE" train job.yaml --checkpoint a.h5 >a.log 2>&1 || fail train_runs "$(cat a.log)"
"$HPTUNE" train job.yaml --checkpoint b.h5 >b.log 2>&1
if why=$(same_state a.h5 b.h5) && [ "$(metrics a.log)" = "$(metrics b.log)" ] && [ "$(metrics a.log | wc -l)" = 4 ]; then
    pass same_seed_bit_identical
else fail same_seed_bit_identical "$why"; fi
"$HPTUNE" train job.yaml --set seed=6 --checkpoint s.h5 >s.log 2>&1
same_state a.h5 s.h5 >/dev/null && fail other_seed_differs "seed 6 gave the same weights" || pass other_seed_differs

# k epochs, checkpoint, restore in a new process, E-k more == E straight
"$HPTUNE" train job.yaml --stop-at 2 --checkpoint c.h5 >c1.log 2>&1
"$HPTUNE" train job.yaml --resume c.h5 --checkpoint c.h5 >c2.log 2>&1
if why=$(same_state a.h5 c.h5) && [ "$(metrics a.log)" = "$(metrics c2.log)" ]; then
    pass resume_between_epochs_bit_identical
else fail resume_between_epochs_bit_identical "$why; $(diff <(metrics a.log) <(metrics c2.log))"; fi

# SIGTERM in the middle of an epoch: checkpoint at the batch boundary, exit 0
"$HPTUNE" train job.yaml --set epochs=40 --checkpoint long.h5 >long_ref.log 2>&1 &
ref_pid=$!
"$HPTUNE" train job.yaml --set epochs=40 --checkpoint d.h5 >d1.log 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q '^epoch   2/' d1.log 2>/dev/null && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
wait $ref_pid
batch=$(h5dump -a /batch_in_epoch d.h5 2>/dev/null | grep -oE '\(0\): [0-9]+' | grep -oE '[0-9]+$')
if [ $rc = 0 ] && grep -q "interrupted by signal 15" d1.log; then
    pass sigterm_checkpoints_and_exits_0
    "$HPTUNE" train job.yaml --resume d.h5 --checkpoint d.h5 >d2.log 2>&1
    if why=$(same_state long.h5 d.h5); then pass sigterm_resume_bit_identical "(stopped at batch $batch)"
    else fail sigterm_resume_bit_identical "$why (stopped at batch $batch)"; fi
else
    fail sigterm_checkpoints_and_exits_0 "rc=$rc: $(tail -3 d1.log)"
fi

# damaged checkpoints are refused with a message naming the file
cp a.h5 corrupt.h5
size=$(stat -c %s corrupt.h5)
printf '\xff\xfe\xfd\xfc\xfb\xfa' | dd of=corrupt.h5 bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_fail corrupt_checkpoint_refused "corrupt.h5.*(corrupt|checksum)" -- "$HPTUNE" train job.yaml --resume corrupt.h5
head -c $((size / 3)) a.h5 >truncated.h5
expect_fail truncated_checkpoint_refused "truncated.h5.*(corrupt|truncated)" -- "$HPTUNE" train job.yaml --resume truncated.h5
expect_fail missing_checkpoint_refused "nothere.h5" -- "$HPTUNE" train job.yaml --resume nothere.h5

# bad command lines
expect_fail unknown_option "unknown option.*--frobnicate" -- "$HPTUNE" train job.yaml --frobnicate
expect_fail unknown_command "unknown command 'frobnicate'" -- "$HPTUNE" frobnicate
expect_fail set_unknown_key "unknown hyperparameter 'learnin_rate'" -- "$HPTUNE" train job.yaml --set learnin_rate=1
expect_fail set_bad_value "learning_rate.*not a number" -- "$HPTUNE" train job.yaml --set learning_rate=fast
expect_fail set_out_of_range "batch_size.*outside the valid range" -- "$HPTUNE" train job.yaml --set batch_size=0
expect_fail network_cannot_be_built "cannot be built" -- "$HPTUNE" train job.yaml --set num_blocks=6
expect_fail missing_job_file "nothere.yaml" -- "$HPTUNE" train nothere.yaml
# --train-all: training and validation shards together, no validation
out=$("$HPTUNE" train job.yaml --train-all --set epochs=1 2>&1)
if grep -q "1000 training images (shards 0 1 2 3), 0 validation images (--train-all)" <<<"$out" && grep -q "^epoch   1/1" <<<"$out"; then
    pass train_all_uses_every_shard
else fail train_all_uses_every_shard "$out"; fi
