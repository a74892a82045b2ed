#!/usr/bin/env bash
# A full disk, for real: a small tmpfs fills up under `hptune prepare` and
# under a training run's checkpoint.  Each must fail with one message naming
# the file and "No space left on device", exit non-zero without crashing,
# leave no temporary file, and keep the previous good file; after space is
# freed, resuming from the kept checkpoint gives the bits of a straight run.
# Needs root (mount); skipped with the reason where mounting is not allowed.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
for tool in h5dump h5diff; do
    command -v $tool >/dev/null || { skip diskfull "$tool not installed (make deps: hdf5-tools)"; exit 0; }
done
MNT="$TMP/small"
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=6m tmpfs "$MNT" 2>mount.err; then
    skip diskfull "cannot mount a tmpfs here (needs root and mount permission): $(head -1 mount.err)"
    exit 0
fi
trap 'umount "$MNT" 2>/dev/null; rm -rf "$TMP"' EXIT

temporaries() { find "$MNT" -name '*.tmp.*' | tr '\n' ' '; }
# run CMD...: sets rc, out (stdout) and err (stderr)
run() { "$@" >out.txt 2>err.txt; rc=$?; out=$(cat out.txt); err=$(cat err.txt); echo "exit $rc: $err"; }
# name file: the failure is one clear message about file, and no crash
check_failure() {
    local name=$1 file=$2
    if [ $rc -eq 0 ]; then fail "$name" "exited 0 on a full disk: $out"
    elif [ $rc -ge 128 ]; then fail "$name" "crashed with status $rc: $err"
    elif [ "$(grep -c . <<<"$err")" != 1 ]; then fail "$name" "expected one message, got: $err"
    elif ! grep -qiF "$file" <<<"$err" || ! grep -qi "no space left on device" <<<"$err"; then
        fail "$name" "message does not name $file and 'no space left on device': $err"
    else pass "$name"; fi
}

python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 200 --test 100 >/dev/null

# --- prepare: the output fits once (3.4 MB of 6 MB), not twice -------------
if "$HPTUNE" prepare --from data/cifar-10-batches-bin --out "$MNT/d.h5" --shards 4 >/dev/null 2>prep.err; then
    cp "$MNT/d.h5" d_copy.h5
    run "$HPTUNE" prepare --from data/cifar-10-batches-bin --out "$MNT/d.h5" --shards 5
    check_failure prepare_full_disk_one_message "$MNT/d.h5"
    [ -z "$(temporaries)" ] && pass prepare_full_disk_no_temporary || fail prepare_full_disk_no_temporary "left: $(temporaries)"
    if cmp -s d_copy.h5 "$MNT/d.h5" && h5dump -a /n_shards "$MNT/d.h5" 2>/dev/null | grep -q '(0): 4'; then
        pass prepare_full_disk_keeps_previous_file
    else fail prepare_full_disk_keeps_previous_file "the previous d.h5 changed or is unreadable"; fi
else
    fail prepare_full_disk_one_message "the first prepare (with room) failed: $(cat prep.err)"
fi
rm -f "$MNT/d.h5" d_copy.h5

# --- train: a checkpoint that cannot be written ------------------------------
"$HPTUNE" prepare --from data/cifar-10-batches-bin --out tiny.h5 --shards 4 >/dev/null || { fail prepare "failed"; exit 1; }
cat >job.yaml <<'YAML'
study: {name: full, seed: 5}
data: {path: tiny.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: random, max_trials: 1}
fixed: {epochs: 4, num_blocks: 2, filters: 8, head_units: 16, batch_size: 32, batch_norm: true,
        augment_crop: 2, augment_flip: true, conv_dropout: 0.2, head_dropout: 0.3,
        lr_schedule: cosine, warmup_epochs: 1, optimizer: adamw, weight_decay: 0.01}
YAML
metrics() { grep '^epoch' "$1" | sed 's/  lr .*//'; } # epoch lines without timings
"$HPTUNE" train job.yaml --checkpoint straight.h5 >straight.log 2>&1 || fail straight_run "$(tail -3 straight.log)"
"$HPTUNE" train job.yaml --stop-at 1 --checkpoint "$MNT/ck.h5" >first.log 2>&1 || fail first_epoch "$(tail -3 first.log)"
cp "$MNT/ck.h5" ck_copy.h5
# Fill the file system but for 64 kB, less than a checkpoint (~150 kB): the
# write starts and fails part way, as on a disk that fills up.
avail=$(df --output=avail -B 4096 "$MNT" | tail -1)
dd if=/dev/zero of="$MNT/filler" bs=4096 count=$((avail - 16)) 2>/dev/null
run "$HPTUNE" train job.yaml --resume "$MNT/ck.h5" --checkpoint "$MNT/ck.h5" --stop-at 2
check_failure train_full_disk_one_message "$MNT/ck.h5"
[ -z "$(temporaries)" ] && pass train_full_disk_no_temporary || fail train_full_disk_no_temporary "left: $(temporaries)"
epoch=$(h5dump -a /epoch "$MNT/ck.h5" 2>/dev/null | grep -oE '\(0\): [0-9]+' | grep -oE '[0-9]+$')
if cmp -s ck_copy.h5 "$MNT/ck.h5" && [ "$epoch" = 1 ]; then pass train_full_disk_keeps_previous_checkpoint
else fail train_full_disk_keeps_previous_checkpoint "the checkpoint changed or h5dump cannot read it (epoch '$epoch')"; fi

# --- space freed: resume from the kept checkpoint == the straight run --------
rm -f "$MNT/filler"
"$HPTUNE" train job.yaml --resume "$MNT/ck.h5" --checkpoint "$MNT/ck.h5" >resumed.log 2>&1 || fail resume_after_freeing_space "$(tail -3 resumed.log)"
differs="" # (/history holds wall times: the epoch lines without them are compared instead)
for d in /model /optimizer /rng /order /confusion; do
    h5diff -q straight.h5 "$MNT/ck.h5" $d >/dev/null 2>&1 || differs="$differs $d"
done
if [ -z "$differs" ] && [ "$(metrics straight.log)" = "$(metrics resumed.log)" ] && [ "$(metrics resumed.log | wc -l)" = 4 ]; then
    pass resume_after_freeing_space_bit_identical
else fail resume_after_freeing_space_bit_identical "differs:$differs; $(diff <(metrics straight.log) <(metrics resumed.log))"; fi

# --- a study whose run directory fills up -------------------------------------
# results without wall times, sorted (every recorded epoch of every trial)
results() { study_results "$1" ${2:+status bracket rung}; }   # with a 2nd argument: the values only
epochs_recorded() { "$HPTUNE" export "$1" --format csv 2>/dev/null | tail -n +2 | grep -c ',completed,\|,running,\|,interrupted,'; }
fill_disk() { dd if=/dev/zero of="$MNT/filler" bs=4096 2>/dev/null; sync; }
# one error line, naming the file and the device, and saying how to continue
check_study_stop() { # name file-pattern
    local name=$1 pattern=$2
    if [ $rc = 0 ] || [ $rc -ge 128 ]; then fail "$name" "exit $rc: $err"
    elif [ "$(grep -c 'hptune: error' <<<"$err")" != 1 ]; then fail "$name" "expected one error, got: $err"
    elif ! grep -qE "$pattern.*No space left on device.*hptune resume" <<<"$err"; then fail "$name" "message: $err"
    else pass "$name"; fi
}

# (1) the journal: the function objective writes nothing else, so the full
# disk first shows when an append needs a new page of the journal
cat >fn.yaml <<'YAML'
study: {name: fn, seed: 2}
strategy: {name: random, max_trials: 60}
objective: {type: function, name: branin, sleep_ms: 15}
space:
  x1: {uniform: [-5, 10]}
  x2: {uniform: [0, 15]}
fixed: {epochs: 3}
YAML
"$HPTUNE" run fn.yaml --out fn_straight --quiet >/dev/null 2>&1 || fail fn_straight "straight run failed"
"$HPTUNE" run fn.yaml --out "$MNT/fn" --quiet >out.txt 2>err.txt & pid=$!
for _ in $(seq 200); do [ "$(epochs_recorded "$MNT/fn")" -ge 5 ] && break; sleep 0.05; done
fill_disk
wait $pid; rc=$?; err=$(cat err.txt)
check_study_stop journal_full_disk_stops_the_study "study\.journal: cannot append"
before=$(results "$MNT/fn" nostatus)
rm -f "$MNT/filler"
if "$HPTUNE" resume "$MNT/fn" --quiet >resume.log 2>&1 && [ "$(results "$MNT/fn")" = "$(results fn_straight)" ] \
   && [ -n "$before" ] && [ -z "$(comm -23 <(sort <<<"$before") <(results fn_straight nostatus | sort))" ]; then
    pass journal_full_disk_resume_completes_identically
else
    fail journal_full_disk_resume_completes_identically "$(tail -3 resume.log) before=$(wc -l <<<"$before") $(diff <(results "$MNT/fn") <(results fn_straight) | head -5)"
fi
rm -rf "$MNT/fn"

# (2) a trial checkpoint inside a study (serial, two trials of three epochs)
cat >cnn.yaml <<'YAML'
study: {name: cnn, seed: 5}
data: {path: tiny.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: grid}
space:
  filters: {grid: [4, 8]}
fixed: {epochs: 3, num_blocks: 2, head_units: 16, batch_size: 32}
YAML
"$HPTUNE" run cnn.yaml --out cnn_straight --quiet >/dev/null 2>&1 || fail cnn_straight "straight run failed"
"$HPTUNE" run cnn.yaml --out "$MNT/cnn" --quiet >out.txt 2>err.txt & pid=$!
for _ in $(seq 400); do [ "$(epochs_recorded "$MNT/cnn")" -ge 1 ] && break; sleep 0.05; done
fill_disk
wait $pid; rc=$?; err=$(cat err.txt)
check_study_stop checkpoint_full_disk_stops_the_study "last\.h5"
[ -z "$(temporaries)" ] && pass checkpoint_full_disk_no_temporary || fail checkpoint_full_disk_no_temporary "left: $(temporaries)"
rm -f "$MNT/filler"
if "$HPTUNE" resume "$MNT/cnn" --quiet >resume.log 2>&1 && [ "$(results "$MNT/cnn")" = "$(results cnn_straight)" ]; then
    pass checkpoint_full_disk_resume_completes_identically
else
    fail checkpoint_full_disk_resume_completes_identically "$(tail -3 resume.log) $(diff <(results "$MNT/cnn") <(results cnn_straight) | head -5)"
fi
