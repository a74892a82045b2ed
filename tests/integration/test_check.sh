#!/usr/bin/env bash
# test_check.sh - `hptune check` on good and bad job files written into $TMP.
# Good jobs must exit 0 and print the plan (trial counts, rungs, first trials);
# bad ones must exit 1 with a file:line:column message. Shard numbers are
# checked against datasets/cifar10.h5 only if it exists (else those cases skip).
: "${HPTUNE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
source "$HPTUNE_ROOT/tests/integration/lib.sh"

if [ ! -x "$HPTUNE" ]; then
    skip check_all "no hptune binary at $HPTUNE (run make first)"
    exit 0
fi

# expect_ok NAME JOB PATTERN... : exit 0 and stdout matches every pattern
expect_ok() {
    local name=$1 job=$2; shift 2
    local out rc
    out=$("$HPTUNE" check "$job" ${CHECK_ARGS:-} 2>&1); rc=$?
    if [ $rc -ne 0 ]; then fail "$name" "exit status $rc: $out"; return; fi
    local p
    for p in "$@"; do
        if ! grep -qE -- "$p" <<<"$out"; then fail "$name" "output lacks /$p/: $out"; return; fi
    done
    pass "$name"
}

data_line='data: {path: nowhere/cifar10.h5, train_shards: [0, 1, 2, 3, 4, 5, 6, 7, 8], val_shards: [9]}'

# ---------------------------------------------------------------- good jobs
cat >"$TMP/grid.yaml" <<EOF
study: {name: grid-test, seed: 3}
$data_line
strategy: {name: grid, repeats: 2}
space:
  filters: {grid: [16, 32]}
  learning_rate: {choice: [0.1, 0.01, 0.001]}
fixed: {epochs: 4, batch_size: 32}
EOF
# 2 x 3 points x 2 repeats = 12 trials of 4 epochs; last parameter varies fastest.
expect_ok check_grid_plan "$TMP/grid.yaml" \
    'valid' 'grid: 6 points x 2 repeats = 12 trials, 4 epochs each' 'worst case 48 training epochs' \
    'trial 0: filters=16 learning_rate=0\.1$' 'trial 1: filters=16 learning_rate=0\.01$' \
    'trial 3: filters=32 learning_rate=0\.1$' 'not found here'

cat >"$TMP/random.yaml" <<EOF
study: {name: random-test, seed: 11, metric: val_loss}
$data_line
strategy: {name: random, max_trials: 3}
space:
  learning_rate: {loguniform: [1e-4, 1e-1]}
  optimizer: {choice: [sgd, adam]}
fixed: {epochs: 2}
EOF
expect_ok check_random_plan "$TMP/random.yaml" \
    'random: 3 trials, 2 epochs each' 'val_loss \(min\)' 'first 3 trials' \
    'trial 2: learning_rate=[0-9.e-]+ optimizer=(sgd|adam)$'
# The same job twice gives the same plan (sampling is seeded).
if [ "$("$HPTUNE" check "$TMP/random.yaml" 2>&1)" = "$("$HPTUNE" check "$TMP/random.yaml" 2>&1)" ]; then
    pass check_random_reproducible
else
    fail check_random_reproducible "two checks of the same job printed different plans"
fi

cat >"$TMP/asha.yaml" <<EOF
study: {name: asha-test}
$data_line
strategy: {name: asha, max_trials: 27, min_epochs: 1, max_epochs: 9, reduction_factor: 3, brackets: 2}
space:
  learning_rate: {loguniform: [1e-4, 1e-1]}
  num_blocks: {choice: [2, 3]}
output: {dir: $TMP/out, keep: last, checkpoint_every: 2}
EOF
expect_ok check_asha_plan "$TMP/asha.yaml" \
    'asha: up to 27 trials, epochs 1 to 9, reduction factor 3, 2 brackets' \
    'bracket 0: 3 rungs at 1, 3, 9 epochs' 'bracket 1: 2 rungs at 3, 9 epochs' \
    'first 5 trials' 'keep last, checkpoint every 2 epochs' 'worst case [0-9]+ training epochs'

# A configuration that cannot be built is a warning, not an error.
cat >"$TMP/warn.yaml" <<EOF
study: {name: warn-test}
$data_line
strategy: {name: grid}
space:
  num_blocks: {grid: [2, 8]}
EOF
expect_ok check_unbuildable_warning "$TMP/warn.yaml" \
    'trial 0: num_blocks=2$' 'warning: trial 1 cannot be built'

# The curves file is found beside the job file, whatever the current directory.
mkdir -p "$TMP/sub"
cat >"$TMP/sub/curves.yaml" <<EOF
study: {name: curves-test}
$data_line
strategy: {name: grid}
objective: {type: curves, file: table.csv}
space:
  learning_rate: {choice: [0.1, 0.01]}
fixed: {epochs: 2}
EOF
printf 'learning_rate,epoch,val_accuracy\n0.1,1,0.3\n0.1,2,0.4\n0.01,1,0.2\n0.01,2,0.5\n' >"$TMP/sub/table.csv"
(cd / && expect_ok check_curves_beside_job "$TMP/sub/curves.yaml" "replay curves from $TMP/sub/table.csv")
# ... and a table that misses an epoch a trial needs is an error now, not hours later.
printf 'learning_rate,epoch,val_accuracy\n0.1,1,0.3\n0.1,2,0.4\n0.01,1,0.2\n' >"$TMP/sub/table.csv"
expect_fail check_curves_gap 'trial 1: .*table\.csv' -- "$HPTUNE" check "$TMP/sub/curves.yaml"

# ----------------------------------------------------------------- bad jobs
bad() { # name, pattern, yaml text
    printf '%s' "$3" >"$TMP/$1.yaml"
    expect_fail "$1" "$2" -- "$HPTUNE" check "$TMP/$1.yaml"
}
bad check_unknown_key 'check_unknown_key\.yaml:3:12: strategy: unknown key .maxtrials.; did you mean .max_trials.' \
"study: {name: s}
$data_line
strategy: {maxtrials: 3, name: random}
"
bad check_grid_continuous 'check_grid_continuous\.yaml:5:3: space\.momentum: grid search needs a list' \
"study: {name: s}
$data_line
strategy: {name: grid}
space:
  momentum: {uniform: [0, 0.9]}
"
bad check_empty_choice 'check_empty_choice\.yaml:5:22: space\.filters: choice list is empty' \
"study: {name: s}
$data_line
strategy: {name: random, max_trials: 2}
space:
  filters:  {choice: []}
"
bad check_asha_brackets 'check_asha_brackets\.yaml:3:64: strategy\.brackets' \
"study: {name: s}
$data_line
strategy: {name: asha, max_trials: 9, max_epochs: 3, brackets: 3}
"
bad check_yaml_syntax 'check_yaml_syntax\.yaml:[0-9]+:[0-9]+: YAML syntax error' \
"study: {name: s
$data_line
"
bad check_range 'check_range\.yaml:5:15: fixed\.batch_size: 0 is outside the valid range' \
"study: {name: s}
$data_line
strategy: {name: grid}
fixed:
  batch_size: 0
"
bad check_shard_overlap 'check_shard_overlap\.yaml:2:55: data\.val_shards: shard 1 is also in train_shards' \
"study: {name: s}
data: {path: d.h5, train_shards: [0, 1], val_shards: [1]}
strategy: {name: grid}
"
expect_fail check_missing_file 'nowhere\.yaml: cannot read the job file' -- "$HPTUNE" check "$TMP/nowhere.yaml"
expect_fail check_no_argument 'usage: hptune check' -- "$HPTUNE" check
out=$("$HPTUNE" check --help 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q 'usage: hptune check JOB.yaml' <<<"$out"; then pass check_help
else fail check_help "status $rc: $out"; fi

# ------------------------------------------------------- with a data file
data="$HPTUNE_ROOT/datasets/cifar10.h5"
if [ -f "$data" ]; then
    # data.path is relative to the current directory, as written.
    mkdir -p "$TMP/run"
    ln -s "$data" "$TMP/run/local.h5"
    sed 's|nowhere/cifar10.h5|local.h5|' "$TMP/grid.yaml" >"$TMP/run/job.yaml"
    (cd "$TMP/run" && expect_ok check_data_shards job.yaml 'local\.h5: [0-9]+ shards, [0-9]+ training and [0-9]+ test images')
    n_shards=$(cd "$TMP/run" && "$HPTUNE" check job.yaml | sed -n 's/.*local\.h5: \([0-9]*\) shards.*/\1/p')
    sed "s|val_shards: \[9\]|val_shards: [$n_shards]|" "$TMP/run/job.yaml" >"$TMP/run/bad_shard.yaml"
    (cd "$TMP/run" && expect_fail check_shard_beyond_file "bad_shard\.yaml:2:1: data\.val_shards: shard $n_shards does not exist" \
        -- "$HPTUNE" check bad_shard.yaml)
else
    skip check_data_shards "no $data (make data) - shard numbers not checked against a file"
fi

# ------------------------------------------- huge job files answer at once
# Files just under the 1 MiB cap built to hit the slow paths (80,000 keys in
# one mapping took 40 s to refuse, 100,000 '[' 60 s): each answered in well
# under a second, with a file:line:column message (or accepted, at the limits).
mkdir -p "$TMP/huge"
/usr/bin/python3 - "$TMP/huge" <<'PY'
import sys
d = sys.argv[1]
head = "study: {name: s}\ndata: {path: d.h5, train_shards: [0], val_shards: [1]}\nstrategy: {name: random, max_trials: 2}\n"
def w(name, text):
    assert len(text) < 1 << 20, (name, len(text))
    open("%s/%s.yaml" % (d, name), "w").write(text)
w("space_80k_keys", head + "space:\n" + "".join("  k%d: 1\n" % i for i in range(80000)))
w("fixed_80k_keys", head + "fixed:\n" + "".join("  k%d: 1\n" % i for i in range(80000)))
w("brackets_100k", head + "space: " + "[" * 100000)
w("braces_100k", head + "space: " + "{" * 100000)
w("choice_70k", head + "space:\n  learning_rate: {choice: [" + ", ".join("%.9g" % (1e-5 + i * 1e-9) for i in range(70000)) + "]}\n")
w("fixed_10k_dup_last", head + "fixed:\n" + "".join("  k%d: 1\n" % i for i in range(9999)) + "  k5: 2\n")
w("choice_10k_dup_last", head + "space:\n  learning_rate: {choice: [" + ", ".join("%.9g" % (1e-5 + i * 1e-9) for i in range(9999)) + ", 1e-5]}\n")
w("choice_10k_ok", head + "space:\n  learning_rate: {choice: [" + ", ".join("%.9g" % (1e-5 + i * 1e-8) for i in range(10000)) + "]}\n")
w("huge_scalar", head.replace("name: s", "name: " + "a" * 1000000))
PY
huge() { # name expected-exit pattern
    local f="$TMP/huge/$1.yaml" t0 t1 out rc ms
    t0=$(date +%s%N); out=$("$HPTUNE" check "$f" 2>&1); rc=$?; t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    if [ $rc != "$2" ]; then fail "huge_$1" "exit $rc: $(head -c 300 <<<"$out")"
    elif ! grep -qE -- "$3" <<<"$out"; then fail "huge_$1" "message: $(head -c 300 <<<"$out")"
    elif [ $ms -ge 1000 ]; then fail "huge_$1" "took $ms ms"
    else pass "huge_$1"; fi
}
huge space_80k_keys 1 'space_80k_keys\.yaml:10005:3: more than 10000 entries in one list or mapping'
huge fixed_80k_keys 1 'fixed_80k_keys\.yaml:10005:3: more than 10000 entries'
huge brackets_100k 1 'brackets_100k\.yaml:4:39: nested more than 32 levels deep'
huge braces_100k 1 'braces_100k\.yaml:4:39: nested more than 32 levels deep'
huge choice_70k 1 'choice_70k\.yaml:5:[0-9]+: more than 10000 entries'
huge fixed_10k_dup_last 1 "fixed_10k_dup_last\.yaml:10004:3: fixed: duplicate key 'k5' \(first given at line 10\)"
huge choice_10k_dup_last 1 'choice_10k_dup_last\.yaml:5:[0-9]+: space\.learning_rate: value 1e-5 appears twice'
huge choice_10k_ok 0 'valid'
huge huge_scalar 1 'study\.name: the name is 1000000 characters long'

# ------------------------------------------- every configuration as shapes
# warn.yaml's grid: num_blocks 2 builds, 8 cannot (six pooling blocks on 32x32)
expect_ok check_shapes_every_grid_point "$TMP/warn.yaml" \
    'built 2 grid points \(all\) as shapes only: 1 cannot be built' \
    'grid point 1 \(num_blocks=8\): the network cannot be built: pooling of block 6'
# a hand-counted network: conv 3->4 k3 (112) + dense 1024->8 (8200) + dense 8->10 (90)
# = 8402 parameters; 2 x (32*32*4*27 + 1024*8 + 8*10) = 237728 FLOP per image
cat >"$TMP/small.yaml" <<EOF2
study: {name: small}
$data_line
strategy: {name: random, max_trials: 3}
space:
  learning_rate: {loguniform: [1e-4, 1e-2]}
fixed: {num_blocks: 1, filters: 4, head_units: 8, batch_size: 16}
EOF2
expect_ok check_shapes_counts "$TMP/small.yaml" \
    'built the configurations of trials 0-2 \(all 3 trials\) as shapes only: every one can be built' \
    'networks   8402 to 8402 parameters; 0\.238 to 0\.238 MFLOP per image' \
    'epoch time unknown'
# no configuration can be built: an error, not a plan that fails every trial
cat >"$TMP/none.yaml" <<EOF2
study: {name: none}
$data_line
strategy: {name: grid}
space:
  num_blocks: {grid: [7, 8]}
EOF2
expect_fail check_shapes_none_buildable 'none\.yaml: no configuration of the study can be built' -- "$HPTUNE" check "$TMP/none.yaml"
expect_fail check_bad_option "unknown option '--sampel'; did you mean '--sample'\?" -- "$HPTUNE" check "$TMP/small.yaml" --sampel 3

# with a data file: memory with the shards, an epoch time from a given rate,
# and an empty shard refused (it would fail every trial)
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
    (cd "$TMP" && /usr/bin/python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" gen --per-batch 40 --test 20 >/dev/null \
        && "$HPTUNE" prepare --from gen/cifar-10-batches-bin --out "$TMP/d3.h5" --shards 4 >/dev/null)
    sed "s|nowhere/cifar10.h5|$TMP/d3.h5|; s|\[0, 1, 2, 3, 4, 5, 6, 7, 8\]|[0, 1, 2]|; s|val_shards: \[9\]|val_shards: [3]|" \
        "$TMP/small.yaml" >"$TMP/small_data.yaml"
    # 150 training + 50 validation images: (3*150 + 50) * 237728 FLOP at 1 GFLOP/s = 0.1 s
    CHECK_ARGS="--gflops 1" expect_ok check_epoch_time_from_rate "$TMP/small_data.yaml" \
        'memory     a worker needs up to [0-9]+ MB: .*\(150 \+ 50 images' \
        'epoch time 0\.1 s to 0\.1 s per epoch and worker \(an estimate: 1\.0 GFLOP/s, given with --gflops\)'
    cp "$TMP/d3.h5" "$TMP/empty_shard.h5"
    /usr/bin/python3 - "$TMP/empty_shard.h5" <<'PY'
import sys, zlib, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
off = f["train/shard_offsets"][...]            # make shard 1 empty: shard 0 takes its images
off[1] = off[2]
f["train/shard_offsets"][...] = off
imgs, labels = f["train/images"], f["train/labels"]
f["train/images_crc32"][...] = [zlib.crc32(imgs[off[s]:off[s + 1]].tobytes()) for s in range(len(off) - 1)]
f["train/labels_crc32"][...] = [zlib.crc32(labels[off[s]:off[s + 1]].tobytes()) for s in range(len(off) - 1)]
PY
    sed "s|$TMP/d3.h5|$TMP/empty_shard.h5|" "$TMP/small_data.yaml" >"$TMP/empty_shard.yaml"
    expect_fail check_empty_training_shard 'empty_shard\.yaml:2:1: data\.train_shards: shard 1 of .*empty_shard\.h5 holds no images' \
        -- "$HPTUNE" check "$TMP/empty_shard.yaml"
else
    skip check_epoch_time_from_rate "h5py not importable by /usr/bin/python3 (apt-get install python3-h5py)"
fi
