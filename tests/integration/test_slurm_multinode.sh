#!/usr/bin/env bash
# test_slurm_multinode.sh - slurm/tune-multinode.sbatch with --nodes=2 on a
# real two-node Slurm cluster (tests/slurm_localhost.sh with SLURM_NODES=2:
# two slurmd on this machine, its own munged, ports and state; it can run
# while test_slurm.sh's one-node cluster runs).
#
# First: shared memory alone (--mca btl self,vader) cannot connect ranks on
# the two nodes, with either launcher, so the ranks below talk TCP.  Then two
# chains at once, each on both nodes (--ntasks-per-node=1: a worker on each
# node plus the coordinator), one per launcher: mpirun (reading the
# allocation; its daemon on node 2 started through srun) and srun
# --mpi=pmix.  Each is submitted with --time=2 --signal=B:USR1@90, so the
# scheduler's warning signal reaches the batch script 0-30 s into the run;
# the job must checkpoint, requeue itself, resume, and finish the study with
# every trial complete, ending COMPLETED.  Checked on the way: hptune ranks
# of the job ran on both nodes.  The studies replay curves with a sleep per
# epoch (about 60 s of work for two workers), so their length does not
# depend on the machine's speed.  Once a chain has requeued, its time limit
# is raised to 5 minutes so that the next run finishes (as test_slurm.sh).
# Last, with each launcher, SIGKILL of the hptune ranks on node 2 mid-run must
# end the job (within 20 s with mpirun, Slurm's KillWait + 15 s with srun),
# without a requeue, leaving the study resumable.
# SKIP without root, Slurm or mpirun.  Every wait has a timeout; the cluster
# is stopped at the end, also on failure.  About 1.5-2 minutes.
: "${HPTUNE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
source "$HPTUNE_ROOT/tests/integration/lib.sh"
SLURM_SH=$HPTUNE_ROOT/tests/slurm_localhost.sh
SBATCH_MULTI=$HPTUNE_ROOT/slurm/tune-multinode.sbatch
t_begin=$SECONDS

if [ "$(id -u)" != 0 ]; then skip slurm_multinode "not root (starting Slurm needs root)"; exit 0; fi
if [ ! -x "$HPTUNE" ]; then skip slurm_multinode "no hptune binary at $HPTUNE (run make first)"; exit 0; fi
if ! command -v mpirun >/dev/null 2>&1; then skip slurm_multinode "no mpirun"; exit 0; fi
if ! command -v python3 >/dev/null 2>&1; then skip slurm_multinode "no python3"; exit 0; fi
if ! command -v flock >/dev/null 2>&1; then skip slurm_multinode "no flock (util-linux)"; exit 0; fi

# This cluster's own knobs (test_slurm.sh's one-node cluster uses the defaults
# of the one-node mode: other ports, paths and node names).
export SLURM_NODES=2 SLURM_BASE=/var/tmp/hptune-slurm2 SLURM_CTLD_PORT=6827 SLURMD_PORT=6828 SLURM_NODE_PREFIX=hpnode
export SLURM_CONF=$SLURM_BASE/slurm.conf
unset SLURM_NODE_CPUS
exec 9>/tmp/hptune-test-slurm-multinode.lock
if ! flock -n 9; then
    skip slurm_multinode "another test_slurm_multinode.sh is using the two-node cluster (/tmp/hptune-test-slurm-multinode.lock)"
    exit 0
fi
# The packages: install them only if missing (slurm_localhost.sh's apt step).
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null &&
   command -v munged >/dev/null; then
    export SLURM_SKIP_APT=1
fi
trap 'bash "$SLURM_SH" down >"$TMP/slurm-down.log" 2>&1 9>&-; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
t0=$SECONDS
if ! timeout 400 bash "$SLURM_SH" up >"$TMP/slurm-up.log" 2>&1 9>&-; then
    if grep -q 'FATAL: apt-get' "$TMP/slurm-up.log"; then
        skip slurm_multinode "Slurm packages cannot be installed: $(grep FATAL "$TMP/slurm-up.log" | tail -1)"
    else
        skip slurm_multinode "the two-node cluster did not come up: $(tail -3 "$TMP/slurm-up.log" | tr '\n' ' ')"
    fi
    exit 0
fi
echo "two-node cluster up in $((SECONDS - t0)) s: $(sinfo -h -N -o '%N=%t' | tr '\n' ' ')"
if [ "$(sinfo -h -N -o %t | grep -c idle)" = 2 ]; then pass slurm_two_nodes_idle
else fail slurm_two_nodes_idle "sinfo: $(sinfo -N 2>&1)"; exit 0; fi

for _ in 1 2 3; do
    cp "$HPTUNE" "$TMP/hptune" 2>/dev/null && "$TMP/hptune" --version >/dev/null 2>&1 && break
    rm -f "$TMP/hptune"; sleep 3
done
[ -x "$TMP/hptune" ] || { fail slurm_multinode_binary "could not copy a working $HPTUNE"; exit 0; }
export HPTUNE=$TMP/hptune
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
# Both nodes are this machine (UTS namespaces, one network stack): keep Open
# MPI's TCP on the loopback interface.  Over eth0 a rank's connect() to
# another once failed with EINPROGRESS in a CI run and the job hung until its
# time limit ("Open MPI failed to TCP connect to a peer"); ranks on the two
# nodes still talk TCP, not shared memory (checked below).
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
cd "$TMP" || exit 1

job_field() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | head -n1 | cut -d= -f2; }
terminal_state() { case $1 in COMPLETED|FAILED|TIMEOUT|CANCELLED|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) return 0;; esac; return 1; }
# nodes on which hptune ranks of job $1 run now (from their environment)
rank_nodes() { local p; for p in $(pgrep -f "$HPTUNE (run|resume)"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_JOB_ID=$1" &&
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^SLURMD_NODENAME=//p'; done | sort -u | tr '\n' ' '; }

# curves: 12 configurations x 10 epochs, 1 s per epoch: 60 s for two workers
{
    echo "learning_rate,filters,epoch,val_accuracy"
    for lr in 1 3 10 30; do for f in 4 8 16; do for e in $(seq 10); do
        echo "0.0$(printf %02d "$lr"),$f,$e,0.$(( 100 + (lr * f * e) % 800 ))"
    done; done; done
} >curves.csv
for name in chain-mpirun chain-srun; do
    cat >"$name.yaml" <<EOF
study: {name: $name, seed: 2}
data: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}
strategy: {name: grid}
objective: {type: curves, file: curves.csv, sleep_ms: 1000}
space:
  learning_rate: {grid: [0.001, 0.003, 0.010, 0.030]}
  filters: {grid: [4, 8, 16]}
fixed: {epochs: 10}
EOF
done

# The two nodes are two nodes for Open MPI too: shared memory alone cannot
# connect a rank on each (with either launcher), so the chains below talk TCP.
out=$(timeout 120 sbatch --wait --nodes=2 --ntasks-per-node=1 --time=1 --output="$TMP/btl-%j.out" --wrap "
    echo '== mpirun'; mpirun --mca btl self,vader $HPTUNE run chain-mpirun.yaml --out btl-mpirun --quiet; echo \"rc=\$?\"
    echo '== srun'; OMPI_MCA_btl=self,vader srun --mpi=pmix $HPTUNE run chain-srun.yaml --out btl-srun --quiet; echo \"rc=\$?\"
    " 2>&1)
btl_out=$(cat "$TMP"/btl-*.out 2>/dev/null)
if [ "$(grep -c '^rc=[1-9]' <<<"$btl_out")" = 2 ] &&
   [ "$(grep -cE 'unable to reach each other|MPI_Bcast.* failed' <<<"$btl_out")" -ge 2 ]; then
    pass slurm_multinode_shared_memory_alone_cannot_cross_nodes
else
    fail slurm_multinode_shared_memory_alone_cannot_cross_nodes "$out $(grep -E '^(==|rc=)' <<<"$btl_out" | tr '\n' ' ')"
fi
rm -rf btl-mpirun btl-srun

# Both chains at once, sharing the two nodes (--oversubscribe overrides the
# script's --exclusive; each job has one task on each node).
declare -A jobid
t0=$SECONDS
for launcher in mpirun srun; do
    jobid[$launcher]=$(LAUNCHER=$launcher sbatch --parsable --nodes=2 --ntasks-per-node=1 --oversubscribe \
        --time=2 --signal=B:USR1@90 --output="$TMP/chain-$launcher-%j.out" "$SBATCH_MULTI" "chain-$launcher.yaml" \
        2>"$TMP/sbatch-$launcher.err")
    if [ -n "${jobid[$launcher]}" ]; then pass "slurm_multinode_${launcher}_submitted"
    else fail "slurm_multinode_${launcher}_submitted" "sbatch failed: $(cat "$TMP/sbatch-$launcher.err")"; fi
done

declare -A max_restarts final raised nodes_seen
for launcher in mpirun srun; do max_restarts[$launcher]=0; final[$launcher]=""; raised[$launcher]=""; nodes_seen[$launcher]=""; done
deadline=$((SECONDS + 240))
while ((SECONDS < deadline)); do
    left=0
    for launcher in mpirun srun; do
        id=${jobid[$launcher]}
        [ -n "$id" ] && [ -z "${final[$launcher]}" ] || continue
        left=1
        state=$(job_field "$id" JobState); r=$(job_field "$id" Restarts)
        [[ $r =~ ^[0-9]+$ ]] && ((r > max_restarts[$launcher])) && max_restarts[$launcher]=$r
        if ((max_restarts[$launcher] >= 1)) && [ -z "${raised[$launcher]}" ]; then
            scontrol update JobId="$id" TimeLimit=5 && raised[$launcher]=1
            echo "$launcher: requeue seen after $((SECONDS - t0)) s: time limit raised to 5 min"
        fi
        if [ "$state" = RUNNING ]; then
            for n in $(rank_nodes "$id"); do
                [[ " ${nodes_seen[$launcher]} " == *" $n "* ]] || nodes_seen[$launcher]+="$n "
            done
        fi
        terminal_state "$state" && final[$launcher]=$state
    done
    ((left)) || break
    sleep 2
done

for launcher in mpirun srun; do
    id=${jobid[$launcher]}
    [ -n "$id" ] || continue
    if [ -z "${final[$launcher]}" ]; then
        final[$launcher]="still $(job_field "$id" JobState) after 240 s"; scancel "$id"
    fi
    out_file=$TMP/chain-$launcher-$id.out
    echo "--- $launcher job $id (${max_restarts[$launcher]} requeue(s), ranks seen on: ${nodes_seen[$launcher]}):"
    cat "$out_file" 2>/dev/null; echo "---"
    n_interrupted=$(grep -c '^interrupted at' "$out_file" 2>/dev/null)
    n_runs=$(grep -c 'tune.sbatch: job .* run [0-9]' "$out_file" 2>/dev/null)
    p=slurm_multinode_$launcher
    if [ "${final[$launcher]}" = COMPLETED ]; then pass "${p}_chain_completed"
    else fail "${p}_chain_completed" "job $id ended ${final[$launcher]}"; fi
    launch_line=$([ "$launcher" = srun ] && echo 'srun --mpi=pmix --kill-on-bad-exit=1 -n 3 --overcommit' || echo 'mpirun -np 3 --oversubscribe')
    if grep -q "$launch_line" "$out_file" && grep -q "on hpnode\[1-2\]: 3 ranks" "$out_file"; then
        pass "${p}_launched_on_two_nodes"
    else
        fail "${p}_launched_on_two_nodes" "no '$launch_line ... on hpnode[1-2]: 3 ranks' line"
    fi
    if [[ ${nodes_seen[$launcher]} == "hpnode1 hpnode2 " ]]; then pass "${p}_ranks_ran_on_both_nodes"
    else fail "${p}_ranks_ran_on_both_nodes" "hptune ranks seen on: '${nodes_seen[$launcher]}'"; fi
    if grep -q 'tune.sbatch: got SIGUSR1' "$out_file" && ((n_interrupted >= 1)); then
        pass "${p}_scheduler_signal_interrupted_hptune"
    else
        fail "${p}_scheduler_signal_interrupted_hptune" "no 'got SIGUSR1' + 'interrupted at' in the output"
    fi
    if ((max_restarts[$launcher] >= 1)) && grep -q 'SLURM_RESTART_COUNT=1)' "$out_file" &&
       grep -q "requeueing job $id" "$out_file" && grep -q "hptune resume " "$out_file" &&
       ((n_runs == max_restarts[$launcher] + 1 && n_interrupted == max_restarts[$launcher])) &&
       grep -q "study finished after $n_runs run(s)" "$out_file"; then
        pass "${p}_requeued_resumed_every_run_accounted_for"
    else
        fail "${p}_requeued_resumed_every_run_accounted_for" "$n_runs runs, $n_interrupted interrupted, ${max_restarts[$launcher]} requeues"
    fi
    # the study: finished (exit 0), every trial completed with its 10 epochs,
    # every epoch's value the table's
    "$HPTUNE" status "runs/chain-$launcher" --json >"status-$launcher.json"; code=$?
    if [ $code = 0 ] && python3 - "status-$launcher.json" "runs/chain-$launcher" <<'PY'
import csv, json, subprocess, sys
st = json.load(open(sys.argv[1]))
assert st["finished"] and st["n_trials"] == 12 and st["counts"]["completed"] == 12, st["counts"]
assert all(t["status"] == "completed" and t["epochs"] == 10 for t in st["trials"]), st["trials"]
table = {(r["learning_rate"], r["filters"], r["epoch"]): float(r["val_accuracy"]) for r in csv.DictReader(open("curves.csv"))}
rows = list(csv.DictReader(subprocess.run(["./hptune", "export", sys.argv[2], "--format", "csv"],
                                          capture_output=True, text=True).stdout.splitlines()))
assert len(rows) == 120, len(rows)
for r in rows:
    key = ("%.3f" % float(r["learning_rate"]), str(int(float(r["filters"]))), r["epoch"])
    assert float(r["val_accuracy"]) == table[key], (r["trial"], r["epoch"])
PY
    then pass "${p}_study_finished_every_trial_complete"
    else fail "${p}_study_finished_every_trial_complete" "hptune status exit $code: $(head -c 300 "status-$launcher.json")"; fi
done
# ---- a node's ranks die (SIGKILL of every hptune rank on hpnode2) mid-run:
# the job ends, the script does not requeue, and the study is left resumable
# (status exit 3).  mpirun's daemon notices at once and ends the job within a
# few seconds (bound 20 s).  Under srun, --kill-on-bad-exit (set by the
# script) ends the step: SIGTERM to the other ranks, SIGKILL KillWait (30 s,
# Slurm's default) later; hptune's rank 0 takes SIGTERM as a request to
# checkpoint and waits for the dead worker, so it ends at the SIGKILL (bound
# KillWait + 15 s).
declare -A KILL_BOUND=([mpirun]=20 [srun]=45)
sed -e 's/name: chain-mpirun/name: kill-mpirun/' chain-mpirun.yaml >kill-mpirun.yaml
sed -e 's/name: chain-srun/name: kill-srun/' chain-srun.yaml >kill-srun.yaml
declare -A kid
for launcher in mpirun srun; do
    kid[$launcher]=$(LAUNCHER=$launcher sbatch --parsable --nodes=2 --ntasks-per-node=1 --oversubscribe --time=3 \
        --output="$TMP/kill-$launcher-%j.out" "$SBATCH_MULTI" "kill-$launcher.yaml" 2>/dev/null)
done
for launcher in mpirun srun; do
    id=${kid[$launcher]} p=slurm_multinode_${launcher}_node_ranks_killed
    [ -n "$id" ] || { fail "$p" "sbatch failed"; continue; }
    victims=""
    for _ in $(seq 60); do
        victims=$(for q in $(pgrep -f "$HPTUNE (run|resume)"); do
            tr '\0' '\n' <"/proc/$q/environ" 2>/dev/null | grep -qx "SLURM_JOB_ID=$id" &&
            tr '\0' '\n' <"/proc/$q/environ" 2>/dev/null | grep -qx "SLURMD_NODENAME=hpnode2" && echo "$q"; done)
        [ -n "$victims" ] && [ "$(epochs_done "runs/kill-$launcher")" -ge 2 ] && break
        sleep 1
    done
    if [ -z "$victims" ]; then fail "$p" "no hptune rank of job $id found on hpnode2"; scancel "$id"; continue; fi
    t0=$SECONDS
    kill -KILL $victims
    state=""
    while ((SECONDS - t0 <= 90)); do state=$(job_field "$id" JobState); terminal_state "$state" && break; sleep 1; done
    elapsed=$((SECONDS - t0))
    out_file=$TMP/kill-$launcher-$id.out
    "$HPTUNE" status "runs/kill-$launcher" >/dev/null 2>&1; code=$?
    echo "$launcher: job $id ended $state ${elapsed} s after its ranks on hpnode2 were killed"
    if terminal_state "$state" && [ "$state" != COMPLETED ] && ((elapsed <= KILL_BOUND[$launcher])) &&
       grep -q 'hptune failed: not continuing the chain' "$out_file" && ! grep -q 'requeueing job' "$out_file" &&
       [ "$code" = 3 ]; then
        pass "${p}_job_ends_within_${KILL_BOUND[$launcher]}s"
    else
        fail "${p}_job_ends_within_${KILL_BOUND[$launcher]}s" "state '$state' after $elapsed s, status exit $code: $(grep -v '^ *$' "$out_file" | tail -5 | tr '\n' ' ')"
        scancel "$id" 2>/dev/null
    fi
done
echo "test_slurm_multinode took $((SECONDS - t_begin)) s"
