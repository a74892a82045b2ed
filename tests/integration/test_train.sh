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

# the checkpoint read by h5py, as a user would: per-layer tensors with the
# shapes of this job's network (net.h: conv 3->8, 8->8, k3; dense 8*8*8->16->10),
# labelled history and confusion matching the log, and the documented crc32
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
    if why=$(/usr/bin/python3 - a.h5 a.log <<'PY' 2>&1
import re, struct, sys, zlib
import h5py
f = h5py.File(sys.argv[1], "r")
problems = []
def expect(cond, what):
    if not cond:
        problems.append(what)
layers = ["block1_conv", "block1_bn", "block2_conv", "block2_bn", "head1_dense", "output_dense"]
expect(list(f["model"]) == layers, "model groups %s" % list(f["model"]))
shapes = {"block1_conv/weight": (8, 3, 3, 3), "block1_conv/bias": (8,),
          "block1_bn/gamma": (8,), "block1_bn/beta": (8,),
          "block2_conv/weight": (8, 8, 3, 3), "block2_conv/bias": (8,),
          "block2_bn/gamma": (8,), "block2_bn/beta": (8,),
          "head1_dense/weight": (16, 512), "head1_dense/bias": (16,),
          "output_dense/weight": (10, 16), "output_dense/bias": (10,)}
for name, shape in shapes.items():
    for group in ("model", "optimizer/m", "optimizer/v"):
        d = f.get(group + "/" + name)
        expect(d is not None and d.shape == shape and d.dtype == "float32",
               "%s/%s: %s" % (group, name, None if d is None else (d.shape, d.dtype)))
for bn in ("block1_bn", "block2_bn"):
    for stat in ("running_mean", "running_var"):
        expect(f["model/%s/%s" % (bn, stat)].shape == (8,), "%s %s" % (bn, stat))
    expect(f["model/" + bn].attrs["kind"] == "batchnorm", bn + " kind")
expect(f["model/block1_conv"].attrs["kind"] == "conv", "conv kind")
history, confusion = f["history"], f["confusion"]
columns = list(history.attrs["columns"])
expect(history.shape == (4, len(columns)) and columns[0] == "epoch", "history %s %s" % (history.shape, columns))
expect(confusion.shape == (4, 10, 10) and confusion.dtype == "int64", "confusion %s" % (confusion.shape,))
expect(list(confusion.attrs["class_names"])[:2] == ["airplane", "automobile"], "class names")
expect((confusion[()].sum(axis=(1, 2)) == 250).all(), "each epoch's confusion counts the 250 validation images")
# the log's epoch lines, to 4 decimals: train loss, val loss, val accuracy
logged = [tuple(map(float, m.groups())) for m in
          re.finditer(r"train loss ([0-9.]+) acc [0-9.]+  val loss ([0-9.]+) acc ([0-9.]+)", open(sys.argv[2]).read())]
rows = [(round(r[columns.index("train_loss")], 4), round(r[columns.index("val_loss")], 4),
         round(r[columns.index("val_accuracy")], 4)) for r in history[()]]
expect(list(history[:, 0]) == [1, 2, 3, 4] and rows == logged, "history %s vs log %s" % (rows, logged))
crc = 0
for name in f.attrs["checksum_datasets"]:
    crc = zlib.crc32(f[name][()].tobytes(), crc)
keys = ("epoch", "step", "batch_in_epoch", "trial", "n_train")
crc = zlib.crc32(struct.pack("<5q", *(int(f.attrs[k]) for k in keys)), crc)
expect(crc == f.attrs["crc32"], "crc32 %08x, recipe gives %08x" % (f.attrs["crc32"], crc))
expect(f.attrs["format_version"] == 2 and f.attrs["hptune_version"] and f.attrs["git_revision"], "root attributes")
print("; ".join(problems))
sys.exit(1 if problems else 0)
PY
    ); then pass checkpoint_readable_with_h5py
    else fail checkpoint_readable_with_h5py "$why"; fi
else
    skip checkpoint_readable_with_h5py "h5py not importable by /usr/bin/python3 (apt-get install python3-h5py)"
fi

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

# --time-layers: one line per layer (flatten aside) with forward/backward
# seconds and shares, GFLOPS on conv and dense lines; the layers' shares add
# up to 100% and to their kinds' shares.  HPTUNE_CONV chooses the algorithm
# the profile names (conv 8->8 3x3: Winograd by default, im2col when forced).
check_profile() { # log, expected algorithm of conv 8->8
    /usr/bin/python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
kind_line = re.search(r"^time by layer type.*$", text, re.M)
kinds = dict((k, float(v)) for k, v in re.findall(r"  ([a-z]+) ([0-9.]+)%", kind_line.group(0) if kind_line else ""))
rows = re.findall(r"^  (\S+) (.*?) +forward +([0-9.]+) s +([0-9.]+)%( +[0-9.]+ GFLOPS)? +backward +([0-9.]+) s +([0-9.]+)%( +[0-9.]+ GFLOPS)?$",
                  text, re.M)
problems = [] if kinds else ["no line 'time by layer type'"]
names = [r[0] + " " + r[1] for r in rows]
# job.yaml: conv, bn, act, pool, dropout twice; dense, act, dropout; dense 10
if len(rows) != 14:
    problems.append("%d layer rows: %s" % (len(rows), names))
total = sum(float(r[3]) + float(r[6]) for r in rows)
if abs(total - 100) > 1.0:
    problems.append("shares add up to %.1f%%" % total)
for kind, share in kinds.items():
    key = "maxpool" if kind == "pool" else kind
    mine = sum(float(r[3]) + float(r[6]) for r in rows if r[0] == key)
    if abs(mine - share) > 0.5:
        problems.append("%s: kind %.1f%% vs layers %.1f%%" % (kind, share, mine))
for r in rows:
    if r[0] in ("conv", "dense") and not (r[4] and r[7]):
        problems.append("no GFLOPS on " + r[0] + " " + r[1])
if not any(n.startswith("conv 8->8 3x3 16x16 " + sys.argv[2]) for n in names):
    problems.append("conv 8->8 is not %s: %s" % (sys.argv[2], names))
print("; ".join(problems))
sys.exit(1 if problems else 0)
PY
}
"$HPTUNE" train job.yaml --set epochs=1 --time-layers >prof.log 2>&1
why=$(check_profile prof.log winograd) && pass time_layers_profile || fail time_layers_profile "$why $(tail -20 prof.log)"
HPTUNE_CONV=im2col "$HPTUNE" train job.yaml --set epochs=1 --time-layers >prof2.log 2>&1
why=$(check_profile prof2.log im2col) && pass hptune_conv_im2col || fail hptune_conv_im2col "$why $(tail -20 prof2.log)"
expect_fail hptune_conv_unknown "HPTUNE_CONV='fft' is not a convolution algorithm" -- env HPTUNE_CONV=fft "$HPTUNE" train job.yaml
