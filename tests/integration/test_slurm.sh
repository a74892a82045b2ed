#!/usr/bin/env bash
# test_slurm.sh - slurm/tune.sbatch on a real one-node Slurm cluster
# (tests/slurm_localhost.sh: munged + slurmctld + slurmd started by hand).
#
# Always: `bash -n` of tests/slurm_localhost.sh and both sbatch scripts, and the
# shared part of tune.sbatch and tune-multinode.sbatch is identical.
# As root with Slurm installable (apt-get) and the cluster up:
#   1. mpirun launcher, the scheduler's own signal: a study of ~75 s of
#      training (2 workers; sized from a timed calibration run) is submitted with --time=2 --signal=B:USR1@90, so
#      USR1 reaches the batch script <= 30 s into the run; the job must
#      checkpoint ("interrupted at"), requeue itself (SLURM_RESTART_COUNT=1),
#      resume, finish the study (every trial completed) and end COMPLETED;
#   2. srun launcher (LAUNCHER=srun): TERM sent by hand to the batch shell
#      stops the study without a requeue; submitting again resumes and
#      finishes it; a further submission finds it finished.
# Otherwise it prints "SKIP slurm: <reason>". Every wait has a timeout; the
# whole test takes ~3 minutes here (Slurm checks signals every 30 s, a
# requeued job restarts ~15 s later). It stops the cluster at the end (down),
# also one that was running before. A private copy of $HPTUNE is used.
: "${HPTUNE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
source "$HPTUNE_ROOT/tests/integration/lib.sh"
SLURM_SH=$HPTUNE_ROOT/tests/slurm_localhost.sh
SBATCH_ONE=$HPTUNE_ROOT/slurm/tune.sbatch
SBATCH_MULTI=$HPTUNE_ROOT/slurm/tune-multinode.sbatch
t_begin=$SECONDS

# ------------------------------------------------------------ static checks
for f in "$SLURM_SH" "$SBATCH_ONE" "$SBATCH_MULTI"; do
    name=syntax_$(basename "$f" | tr '.-' '__')
    if [ ! -f "$f" ]; then fail "$name" "$f is missing"
    elif out=$(bash -n "$f" 2>&1); then pass "$name"
    else fail "$name" "bash -n: $out"; fi
done
shared_part() { sed -n '/^# ---- everything below is the same in tune.sbatch and tune-multinode.sbatch/,$p' "$1"; }
if [ -n "$(shared_part "$SBATCH_ONE")" ] && [ "$(shared_part "$SBATCH_ONE")" = "$(shared_part "$SBATCH_MULTI")" ]; then
    pass sbatch_scripts_share_their_logic
else
    fail sbatch_scripts_share_their_logic "the part below the marker line differs between tune.sbatch and tune-multinode.sbatch"
fi

# ------------------------------------------------------------ preconditions
if [ "$(id -u)" != 0 ]; then skip slurm "not root (installing and starting Slurm needs root)"; exit 0; fi
if [ ! -x "$HPTUNE" ]; then skip slurm "no hptune binary at $HPTUNE (run make first)"; exit 0; fi
if ! command -v mpirun >/dev/null 2>&1; then skip slurm "no mpirun"; exit 0; fi
if ! command -v python3 >/dev/null 2>&1; then skip slurm "no python3 for gen_cifar.py"; exit 0; fi

if ! command -v flock >/dev/null 2>&1; then skip slurm "no flock (util-linux)"; exit 0; fi
# One machine has one cluster: a second copy of this test (another shell's
# tests/run.sh) would restart the daemons and cancel this one's jobs. The
# lock is held on fd 9 until this script exits; the daemons must not inherit
# it (9>&- below), or it would outlive the test.
exec 9>/tmp/hptune-test-slurm.lock
if ! flock -n 9; then
    skip slurm "another test_slurm.sh is using this machine's Slurm cluster (/tmp/hptune-test-slurm.lock)"
    exit 0
fi

# Stop the daemons whatever happens below (also after a partial start).
trap 'bash "$SLURM_SH" down >"$TMP/slurm-down.log" 2>&1 9>&-; rm -rf "$TMP"' EXIT
t0=$SECONDS
if ! timeout 400 bash "$SLURM_SH" up >"$TMP/slurm-up.log" 2>&1 9>&-; then
    if grep -q 'FATAL: apt-get' "$TMP/slurm-up.log"; then
        skip slurm "Slurm packages cannot be installed: $(grep FATAL "$TMP/slurm-up.log" | tail -1)"
    else
        skip slurm "the cluster did not come up: $(tail -3 "$TMP/slurm-up.log" | tr '\n' ' ')"
    fi
    exit 0
fi
echo "cluster up in $((SECONDS - t0)) s"

# Run a private copy of the binary: the chain takes minutes and a rebuild of
# ./hptune meanwhile (make in another shell) must not change it mid-study.
for _ in 1 2 3; do
    cp "$HPTUNE" "$TMP/hptune" 2>/dev/null && "$TMP/hptune" --version >/dev/null 2>&1 && break
    rm -f "$TMP/hptune"; sleep 3
done
if [ ! -x "$TMP/hptune" ]; then fail slurm_binary "could not copy a working $HPTUNE"; exit 0; fi
HPTUNE=$TMP/hptune

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # sbatch exports the environment
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export HPTUNE

job_field() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | head -n1 | cut -d= -f2; }
terminal_state() { case $1 in COMPLETED|FAILED|TIMEOUT|CANCELLED|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) return 0;; esac; return 1; }
# wait_chain ID SECONDS: until the job reaches a final state; sets final_state
wait_chain() {
    local deadline=$((SECONDS + $2)) state
    final_state=""
    [ -n "$1" ] || { final_state="not submitted"; return 1; }
    while ((SECONDS < deadline)); do
        state=$(job_field "$1" JobState)
        if terminal_state "$state"; then final_state=$state; return 0; fi
        sleep 2
    done
    final_state="still $(job_field "$1" JobState) after $2 s"
    scancel "$1" 2>/dev/null
    return 1
}
# check_study NAME DIR TRIALS: `hptune status` says finished, every trial completed
check_study() {
    local name=$1 dir=$2 trials=$3 out first
    out=$("$HPTUNE" status "$dir" 2>&1)
    first=$(head -n1 <<<"$out")
    if ! grep -qE " $trials trials: 0 running, 0 paused, $trials completed, 0 stopped, 0 failed - finished\$" <<<"$first"; then
        fail "$name" "status is not finished with $trials completed trials: $first"
    elif [ "$(tail -n +3 <<<"$out" | awk '$2 == "completed"' | wc -l)" != "$trials" ]; then
        fail "$name" "the table does not list $trials completed trials: $out"
    else
        pass "$name"
    fi
}

# ------------------------------------------------------- data and the study
cd "$TMP" || exit 1
t0=$SECONDS
python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 500 --test 100 >/dev/null &&
    "$HPTUNE" prepare --from data/cifar-10-batches-bin --out chain.h5 --shards 4 >/dev/null ||
    { fail slurm_data "could not make the test data set"; exit 0; }
echo "data set made in $((SECONDS - t0)) s"
# How long a study takes depends on the machine's load and on hptune's
# speed, and the chain needs one that outlasts the first USR1 (<= 30 s) by a
# margin. So: time a 2-trial x 16-epoch study with the same 2 workers, and
# size the studies from that rate (~75 s for the chain, ~40 s for srun).
cat >calibrate.yaml <<EOF
study: {name: slurm-calibrate, seed: 5}
data: {path: $TMP/chain.h5, train_shards: [0, 1, 2], val_shards: [3]}
strategy: {name: random, max_trials: 2}
space:
  learning_rate: {loguniform: [1.0e-3, 1.0e-2]}
  filters: {choice: [8, 16]}
fixed: {epochs: 16, num_blocks: 2, head_units: 16, batch_size: 32}
EOF
t0_ms=$(date +%s%3N)
if ! timeout 120 mpirun -np 3 --oversubscribe "$HPTUNE" run calibrate.yaml --out runs/calibrate --quiet >calibrate.log 2>&1; then
    fail slurm_calibrate "the calibration study failed: $(tail -5 calibrate.log)"; exit 0
fi
calibrate_ms=$(( $(date +%s%3N) - t0_ms ))
# epochs per trial so that $1 trials take about $2 s: 32 epochs took calibrate_ms
epochs_for() { local e=$(( 32 * $2 * 1000 / ($1 * calibrate_ms) )); ((e < 4)) && e=4; ((e > 2000)) && e=2000; echo $e; }
chain_epochs=$(epochs_for 8 75)
srun_epochs=$(epochs_for 6 40)
echo "calibration: 32 epochs in $calibrate_ms ms; chain study 8 x $chain_epochs epochs, srun study 6 x $srun_epochs epochs"
cat >chain.yaml <<EOF
study: {name: slurm-chain, seed: 5}
data: {path: $TMP/chain.h5, train_shards: [0, 1, 2], val_shards: [3]}
strategy: {name: random, max_trials: 8}
space:
  learning_rate: {loguniform: [1.0e-3, 1.0e-2]}
  filters: {choice: [8, 16]}
fixed: {epochs: $chain_epochs, num_blocks: 2, head_units: 16, batch_size: 32}
EOF

# ------------------------------------- 1. mpirun launcher, scheduler signal
# --time=2 --signal=B:USR1@90: USR1 at the first 30-s check once fewer than
# 90+30 s remain, i.e. 0-30 s after the run starts (the script forwards it no
# earlier than 10 s in). The first run trains 10-30 s, checkpoints and
# requeues itself. Left alone, every run would be cut after 10-30 s (a chain
# of 3-6 runs, ~15 s of requeue delay each); to bound the test, once the
# first requeue is seen the test raises the job's limit to 5 minutes, so the
# next run gets USR1 only >= 180 s in and finishes the study (if the update
# comes late, more runs happen; the checks below allow any number).
t0=$SECONDS
jobid=$(sbatch --parsable --time=2 --signal=B:USR1@90 --output="$TMP/chain-%j.out" \
        "$SBATCH_ONE" chain.yaml 2>"$TMP/sbatch.err")
if [ -z "$jobid" ]; then
    fail slurm_chain_submitted "sbatch failed: $(cat "$TMP/sbatch.err")"
else
    pass slurm_chain_submitted
    max_restarts=0 deadline=$((SECONDS + 330)) final_state="" raised=""
    while ((SECONDS < deadline)); do
        state=$(job_field "$jobid" JobState); r=$(job_field "$jobid" Restarts)
        [[ $r =~ ^[0-9]+$ ]] && ((r > max_restarts)) && max_restarts=$r
        if ((max_restarts >= 1)) && [ -z "$raised" ]; then
            scontrol update JobId="$jobid" TimeLimit=5 && raised=1
            echo "requeue seen after $((SECONDS - t0)) s: time limit raised to 5 min"
        fi
        if terminal_state "$state"; then final_state=$state; break; fi
        sleep 2
    done
    [ -n "$final_state" ] || { final_state="still $(job_field "$jobid" JobState) after 330 s"; scancel "$jobid"; }
    chain_seconds=$((SECONDS - t0))
    out_file=$TMP/chain-$jobid.out
    echo "--- job $jobid output ($chain_seconds s, $max_restarts requeue(s)):"; cat "$out_file" 2>/dev/null; echo "---"
    n_interrupted=$(grep -c '^interrupted at' "$out_file" 2>/dev/null)
    n_runs=$(grep -c 'tune.sbatch: job .* run [0-9]' "$out_file" 2>/dev/null)

    if [ "$final_state" = COMPLETED ]; then pass slurm_chain_completed
    else fail slurm_chain_completed "job $jobid ended $final_state"; fi
    if grep -q 'tune.sbatch: got SIGUSR1' "$out_file" && ((n_interrupted >= 1)); then
        pass slurm_chain_signal_interrupted_hptune
    else
        fail slurm_chain_signal_interrupted_hptune "no 'got SIGUSR1' + 'interrupted at' in the output"
    fi
    if ((max_restarts >= 1)) && grep -q 'SLURM_RESTART_COUNT=1)' "$out_file" &&
       grep -q "requeueing job $jobid" "$out_file" && grep -q "hptune resume " "$out_file"; then
        pass slurm_chain_requeued_and_resumed
    else
        fail slurm_chain_requeued_and_resumed "Restarts=$max_restarts; no requeue/SLURM_RESTART_COUNT=1/resume lines"
    fi
    # every run but the last was interrupted and requeued; the last finished
    if ((n_runs == max_restarts + 1 && n_interrupted == max_restarts)) &&
       grep -q "study finished after $n_runs run(s)" "$out_file"; then
        pass slurm_chain_every_run_accounted_for
    else
        fail slurm_chain_every_run_accounted_for "$n_runs runs, $n_interrupted interrupted, $max_restarts requeues"
    fi
    check_study slurm_chain_study_finished "$TMP/runs/slurm-chain" 8
    if ((chain_seconds <= 330)); then pass slurm_chain_bounded_time
    else fail slurm_chain_bounded_time "$chain_seconds s"; fi
    echo "chain: $chain_seconds s, $n_runs runs"
fi

# ------------------------- 2. srun launcher: stop on request, then continue
# TERM to the batch shell (scancel --batch, as a user would to stop a chain)
# must be forwarded through srun as a checkpoint request and end the job
# without requeueing; submitting the same command again resumes and finishes
# the study; a third submission finds it finished and does nothing.
# ~40 s of training (6 trials), so TERM at ~12 s lands mid-study.
sed -e 's/name: slurm-chain/name: slurm-srun/' -e 's/max_trials: 8/max_trials: 6/' \
    -e "s/epochs: $chain_epochs,/epochs: $srun_epochs,/" chain.yaml >srun.yaml
t0=$SECONDS
jobid=$(LAUNCHER=srun sbatch --parsable --time=5 --output="$TMP/srun-%j.out" "$SBATCH_ONE" srun.yaml 2>"$TMP/sbatch.err")
if [ -z "$jobid" ]; then
    fail slurm_srun_submitted "sbatch failed: $(cat "$TMP/sbatch.err")"
else
    out_file=$TMP/srun-$jobid.out
    deadline=$((SECONDS + 60))
    until grep -q '^hptune run:' "$out_file" 2>/dev/null || ((SECONDS > deadline)); do sleep 1; done
    sleep 12   # past the script's 10-s guard, mid-training
    scancel --batch --signal=TERM "$jobid"
    wait_chain "$jobid" 90
    echo "--- job $jobid output ($((SECONDS - t0)) s):"; cat "$out_file" 2>/dev/null; echo "---"
    if [ "$final_state" = COMPLETED ] && [ "$(job_field "$jobid" Restarts)" = 0 ] &&
       grep -q 'srun --mpi=pmix' "$out_file" && grep -q 'tune.sbatch: got SIGTERM' "$out_file" &&
       grep -q '^interrupted at' "$out_file" && grep -q 'stopped on request (SIGTERM)' "$out_file" &&
       "$HPTUNE" status runs/slurm-srun 2>&1 | head -n1 | grep -q ' - not finished$'; then
        pass slurm_srun_term_stops_without_requeue
    else
        fail slurm_srun_term_stops_without_requeue "job $jobid ended $final_state (Restarts=$(job_field "$jobid" Restarts)); expected srun launch, interruption, no requeue"
    fi

    t0=$SECONDS
    jobid=$(LAUNCHER=srun sbatch --parsable --time=5 --output="$TMP/srun-%j.out" "$SBATCH_ONE" srun.yaml)
    wait_chain "$jobid" 150
    out_file=$TMP/srun-$jobid.out
    echo "--- job $jobid output ($((SECONDS - t0)) s):"; cat "$out_file" 2>/dev/null; echo "---"
    if [ "$final_state" = COMPLETED ] && grep -q 'hptune resume runs/slurm-srun' "$out_file" &&
       grep -q 'study finished after 1 run(s)' "$out_file"; then
        pass slurm_srun_resubmit_resumes
    else
        fail slurm_srun_resubmit_resumes "job $jobid ended $final_state"
    fi
    check_study slurm_srun_study_finished "$TMP/runs/slurm-srun" 6

    jobid=$(sbatch --parsable --time=2 --output="$TMP/again-%j.out" "$SBATCH_ONE" srun.yaml)
    wait_chain "$jobid" 60
    if [ "$final_state" = COMPLETED ] && grep -q 'is already finished' "$TMP/again-$jobid.out" &&
       grep -q 'study finished after 1 run(s)' "$TMP/again-$jobid.out"; then
        pass slurm_finished_study_is_left_alone
    else
        fail slurm_finished_study_is_left_alone "job $jobid ended $final_state: $(cat "$TMP/again-$jobid.out")"
    fi
fi
echo "test_slurm took $((SECONDS - t_begin)) s"
