#!/usr/bin/env bash
# Interrupted studies resume exactly: graceful signal, SIGKILL, other N.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
command -v mpirun >/dev/null || { skip resume "mpirun not installed (make deps)"; exit 0; }
MPIRUN="mpirun --oversubscribe ${HPTUNE_MPIRUN_ARGS:-} -np"

epochs_done() { "$HPTUNE" export "$1" --format csv 2>/dev/null | tail -n +2 | grep -vc '^[0-9]*,[a-z]*,[0-9-]*,[0-9-]*,,'; }
results() { study_results "$1"; }

# --- grid CNN study: straight vs interrupted (USR1), killed (SIGKILL), other N
python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 300 --test 50 >/dev/null
"$HPTUNE" prepare --from data/cifar-10-batches-bin --out d.h5 --shards 4 >/dev/null
cat >grid.yaml <<'YAML'
study: {name: grid, seed: 11}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: grid}
space:
  learning_rate: {grid: [0.001, 0.003, 0.01]}
  filters: {grid: [4, 8]}
fixed: {epochs: 5, num_blocks: 2, head_units: 16, batch_size: 32, batch_norm: true, augment_flip: true}
YAML
timeout 600 $MPIRUN 3 "$HPTUNE" run grid.yaml --out straight --quiet >straight.log 2>&1 || fail grid_straight "$(tail -5 straight.log)"

$MPIRUN 3 "$HPTUNE" run grid.yaml --out broken --quiet >run1.log 2>&1 &
pid=$!
if wait_for_epochs broken 7 $pid; then
    kill -USR1 "$pid"; wait $pid; rc=$?
    if [ $rc = 0 ] && grep -q "interrupted at" run1.log; then pass usr1_saves_and_exits_0; else fail usr1_saves_and_exits_0 "rc=$rc $(tail -3 run1.log)"; fi
else
    fail usr1_saves_and_exits_0 "the study did not get going: $(tail -3 run1.log)"; kill_study $pid
fi
cp -r broken corrupt_ckpt; cp -r broken trunc_snapshot; cp -r broken ahead
# resume with a different number of ranks, then SIGKILL everything mid-run
$MPIRUN 2 "$HPTUNE" resume broken --quiet >run2.log 2>&1 &
pid=$!
if wait_for_epochs broken 16 $pid; then kill_study $pid; pass sigkill_mid_run; else fail sigkill_mid_run "$(tail -3 run2.log)"; kill_study $pid; fi
if timeout 600 $MPIRUN 3 "$HPTUNE" resume broken --quiet >run3.log 2>&1; then
    if diff <(results straight) <(results broken) >diff.txt; then pass grid_interrupted_killed_resumed_bit_identical
    else fail grid_interrupted_killed_resumed_bit_identical "$(head -5 diff.txt)"; fi
    st=$("$HPTUNE" status broken | head -1)
    grep -q "6 completed.*- finished" <<<"$st" && pass every_trial_completed_once || fail every_trial_completed_once "$st"
else
    fail grid_interrupted_killed_resumed_bit_identical "final resume failed: $(tail -5 run3.log)"
fi

# A worker killed after writing its checkpoint but before its epoch report
# reached rank 0 leaves a checkpoint ahead of the journal.  Make that happen
# deterministically: advance a running trial's checkpoint by one epoch with
# `hptune train --resume` (bit-identical to what the worker would have done).
trial=$("$HPTUNE" status ahead | awk '$2 == "interrupted" {print $1; exit}')
ck=$(printf 'ahead/trials/trial_%05d/last.h5' "$trial")
k=$(h5dump -a /epoch "$ck" 2>/dev/null | grep -oE '\(0\): [0-9]+' | grep -oE '[0-9]+$')
printf 'study: {name: one}\ndata: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}\nstrategy: {name: random, max_trials: 1}\n' >one.yaml
if [ -n "$trial" ] && [ -n "$k" ] && "$HPTUNE" train one.yaml --resume "$ck" --stop-at $((k + 1)) --checkpoint "$ck" --no-test >ahead_train.log 2>&1 \
   && timeout 600 $MPIRUN 3 "$HPTUNE" resume ahead --quiet >ahead.log 2>&1; then
    if diff <(results straight) <(results ahead) >diff2.txt; then pass checkpoint_ahead_of_journal_loses_nothing
    else fail checkpoint_ahead_of_journal_loses_nothing "trial $trial advanced to epoch $((k + 1)): $(head -5 diff2.txt)"; fi
else
    fail checkpoint_ahead_of_journal_loses_nothing "setup failed (trial=$trial k=$k): $(tail -3 ahead_train.log ahead.log 2>/dev/null)"
fi

# --- refusals ---------------------------------------------------------------
# a damaged checkpoint of an interrupted trial: set aside, the trial falls
# back to an older checkpoint (or retrains), the study completes identically
running=$("$HPTUNE" status corrupt_ckpt | awk '$2 == "interrupted" {print $1; exit}')
ck=$(printf 'corrupt_ckpt/trials/trial_%05d/last.h5' "$running")
if [ -n "$running" ] && [ -f "$ck" ]; then
    size=$(stat -c %s "$ck")
    printf '\x13\x37\x13\x37' | dd of="$ck" bs=1 seek=$((size / 2)) conv=notrunc status=none
    if timeout 300 $MPIRUN 2 "$HPTUNE" resume corrupt_ckpt >corrupt.log 2>&1 \
       && grep -qE "trial_0*$running/last.h5 cannot be used \(.*(corrupt|checksum)" corrupt.log \
       && diff <(results straight) <(results corrupt_ckpt) >/dev/null; then
        pass corrupt_trial_checkpoint_set_aside_study_completes
    else
        fail corrupt_trial_checkpoint_set_aside_study_completes "$(tail -4 corrupt.log)"
    fi
else
    fail corrupt_trial_checkpoint_set_aside_study_completes "no interrupted trial with a checkpoint to corrupt (running=$running)"
fi
truncate -s 1000 trunc_snapshot/study.h5
expect_fail truncated_study_h5_refused "study.h5 is corrupt or truncated" -- timeout 60 "$HPTUNE" resume trunc_snapshot
mkdir -p empty
expect_fail not_a_study_refused "not an hptune study" -- timeout 60 "$HPTUNE" resume empty
cp -r straight edited && sed 's/epochs: 5/epochs: 6/' grid.yaml >grid2.yaml && cp grid.yaml grid.orig && cp grid2.yaml grid.yaml
expect_fail changed_job_file_refused "grid.yaml changed since the study.*--allow-job-change" -- timeout 60 "$HPTUNE" resume edited
cp grid.orig grid.yaml
# a journal written by another format version (checksum recomputed, so only the version differs)
cp -r straight future
python3 - future/study.journal <<'PY'
import struct, sys, zlib
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
magic, typ, size = struct.unpack_from("<III", b, 0)   # event frame: magic, type, payload size
struct.pack_into("<I", b, 12, 99)                     # version field of the first (job) record
struct.pack_into("<I", b, 12 + size, zlib.crc32(bytes(b[:12 + size])))
open(p, "wb").write(b)
PY
expect_fail other_version_refused "format version 99" -- timeout 60 "$HPTUNE" resume future

# --- ASHA (curves, one worker) interrupted twice keeps its rungs ------------
{
    echo "learning_rate,epoch,val_accuracy"
    acc1=(.50 .30 .60 .20 .90 .10 .40 .80 .70); acc3=(.51 .31 .65 .21 .85 .11 .41 .95 .75)
    for t in 0 1 2 3 4 5 6 7 8; do for e in 1 2 3 4 5 6 7 8 9; do
        v=${acc1[$t]}; [ "$e" -ge 3 ] && v=${acc3[$t]}; echo "0.0$((t + 1)),$e,$v"; done; done
} >curves.csv
cat >asha.yaml <<'YAML'
study: {name: asha, seed: 1}
data: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}
strategy: {name: asha, max_trials: 9, min_epochs: 1, max_epochs: 9, reduction_factor: 3}
objective: {type: curves, file: curves.csv, sleep_ms: 60}
space:
  learning_rate: {grid: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09]}
YAML
expected="[0,1] [1,1] [2,1] [2,3] [3,1] [4,1] [4,3] [5,1] [6,1] [7,1] [7,3] [7,9] [8,1] [8,3]"
$MPIRUN 2 "$HPTUNE" run asha.yaml --out a --quiet >a1.log 2>&1 &
pid=$!; wait_for_epochs a 6 $pid; kill -USR1 "$pid"; wait $pid
$MPIRUN 2 "$HPTUNE" resume a --quiet >a2.log 2>&1 &
pid=$!; wait_for_epochs a 14 $pid; kill_study $pid
timeout 120 $MPIRUN 2 "$HPTUNE" resume a --quiet >a3.log 2>&1
got=$("$HPTUNE" export a --format json | python3 -c '
import json, sys
d = json.load(sys.stdin); seen = []; ok = True
for t, f, to, b, r in d["assignments"]:
    if (t, to) in seen:      # only a re-issue of an interrupted assignment may repeat, never from earlier
        ok = ok and f >= max(ff for tt, ff, tto, _, _ in d["assignments"] if (tt, tto) == (t, to))
        continue
    seen.append((t, to))
print(" ".join("[%d,%d]" % s for s in seen) + ("" if ok else " (a promotion was repeated)"))
st = sorted(t["status"] for t in d["trials"])
print(st.count("completed"), st.count("stopped"), len(st))')
if [ "$got" = "$expected
1 8 9" ]; then pass asha_resumed_twice_same_decisions_no_double_promotion
else fail asha_resumed_twice_same_decisions_no_double_promotion "got: $got"; fi
