#!/usr/bin/env bash
# Lost and damaged trial checkpoints: the study completes with the results of
# a straight run, and the journal records what happened.
#   - all of trials/ deleted while ASHA trials are paused: the promoted trial
#     is retrained from scratch (noted), the study completes identically;
#   - keep: all and last.h5 deleted: the trial continues from epoch_NNNN.h5;
#   - last.h5 damaged (a flipped byte): kept as last.h5.unusable, the trial
#     falls back, the study completes identically.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
/usr/bin/python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 80 --test 40 >/dev/null
"$HPTUNE" prepare --from data/cifar-10-batches-bin --out d.h5 --shards 4 >/dev/null || { fail prepare "failed"; exit 0; }
cat >asha.yaml <<'YAML'
study: {name: faults, seed: 9}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: asha, max_trials: 3, min_epochs: 1, max_epochs: 3, reduction_factor: 3}
space:
  learning_rate: {choice: [0.001, 0.003, 0.01]}
  filters: {choice: [4, 6, 8]}
fixed: {num_blocks: 1, head_units: 8, batch_size: 16}
output: {keep: all}
YAML
results() { study_results "$1"; }
epochs_done() { "$HPTUNE" export "$1" --format csv 2>/dev/null | /usr/bin/python3 -c '
import csv, sys; print(sum(1 for r in csv.DictReader(sys.stdin) if r["epoch"]))'; }

"$HPTUNE" run asha.yaml --out straight --quiet >straight.log 2>&1 || fail straight "$(tail -3 straight.log)"
# The state of a run killed once the three rung-0 results were in: the
# straight study's journal cut after its third FINISHED record (the recovery
# command), with the straight run's checkpoints (some ahead of the journal).
cut_after_finished() { # dir n: byte offset after the n-th FINISHED record
    /usr/bin/python3 - "$1/study.journal" "$2" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(); pos = 0; seen = 0
while pos < len(b):
    magic, typ, size = struct.unpack_from("<IHxxI", b, pos)
    pos += 12 + size + 4
    seen += typ == 4            # FINISHED (event.h)
    if seen == int(sys.argv[2]): print(pos); break
PY
}
cp -r straight cut
"$HPTUNE" resume cut --truncate-journal-at "$(cut_after_finished cut 3)" >/dev/null 2>&1
if [ "$("$HPTUNE" status cut | grep -c ' paused ')" = 3 ]; then
    cp -r cut no_trials; cp -r cut no_last
    rm -rf no_trials/trials
    find no_last -name last.h5 -delete
    # all checkpoints gone: the promoted trial is retrained from scratch, noted, identical
    if "$HPTUNE" resume no_trials >r1.log 2>&1 && grep -qE "trial [0-9]+: .*last\.h5 is missing .*retrained from scratch" r1.log \
       && [ "$(results no_trials)" = "$(results straight)" ]; then
        pass deleted_checkpoint_of_paused_trial_retrained_identically
    else
        fail deleted_checkpoint_of_paused_trial_retrained_identically "$(tail -5 r1.log) $(diff <(results no_trials) <(results straight) | head -4)"
    fi
    if "$HPTUNE" status no_trials | grep -q "note: .*retrained from scratch"; then pass restart_recorded_in_status
    else fail restart_recorded_in_status "$("$HPTUNE" status no_trials)"; fi
    # last.h5 gone, the epoch copies of keep: all remain
    if "$HPTUNE" resume no_last >r2.log 2>&1 && grep -qE "continued from .*epoch_000[1-3]\.h5" r2.log \
       && [ "$(results no_last)" = "$(results straight)" ]; then
        pass missing_last_falls_back_to_epoch_copy
    else
        fail missing_last_falls_back_to_epoch_copy "$(tail -5 r2.log)"
    fi
else
    fail deleted_checkpoint_of_paused_trial_retrained_identically "the cut study has no 3 paused trials: $("$HPTUNE" status cut 2>&1)"
fi

# a damaged last.h5 (a flipped byte) in a grid study
cat >grid.yaml <<'YAML'
study: {name: grid, seed: 3}
data: {path: d.h5, train_shards: [0, 1, 2], val_shards: [3], test_eval: false}
strategy: {name: grid}
space:
  filters: {grid: [4, 8]}
fixed: {num_blocks: 1, head_units: 8, batch_size: 16, epochs: 4}
YAML
"$HPTUNE" run grid.yaml --out gstraight --quiet >/dev/null 2>&1
cp -r gstraight gcut   # as if killed after trial 0 finished, with trial 1's checkpoint written
"$HPTUNE" resume gcut --truncate-journal-at "$(cut_after_finished gcut 1)" >/dev/null 2>&1
ck=gcut/trials/trial_00001/last.h5
size=$(stat -c %s "$ck")
printf '\x13\x37\x13\x37' | dd of="$ck" bs=1 seek=$((size / 2)) conv=notrunc status=none
if "$HPTUNE" resume gcut >g2.log 2>&1 && grep -qE "last\.h5 cannot be used \(.*(corrupt|checksum).*kept as .*last\.h5\.unusable" g2.log \
   && [ -f "$ck.unusable" ] && [ "$(results gcut)" = "$(results gstraight)" ]; then
    pass damaged_checkpoint_falls_back_identically
else
    fail damaged_checkpoint_falls_back_identically "$(tail -4 g2.log)"
fi
