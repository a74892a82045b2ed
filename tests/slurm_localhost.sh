#!/usr/bin/env bash
# slurm_localhost.sh - a real single-node Slurm cluster (munged + slurmctld +
# slurmd, Debian 12 "bookworm" packages, Slurm 22.05) started by hand, without
# systemd or cgroups, plus Open MPI 4.1 for MPI jobs.
#
# Run as root:
#   bash slurm_localhost.sh up        # apt install, write slurm.conf, start daemons
#   bash slurm_localhost.sh selftest  # MPI + sbatch feature checks (~2 min)
#   bash slurm_localhost.sh down      # stop the daemons (by PID file), wipe Slurm state
#   bash slurm_localhost.sh all       # up + selftest + down
#
# Environment knobs:
#   SLURM_SKIP_APT=1            skip apt-get (packages already installed)
#   SLURM_SELFTEST_DIR=DIR      where selftest writes its job scripts/outputs
#                               (default /tmp/slurm-selftest)
#   SLURM_NODE_CPUS=N           claim N CPUs for the node instead of the real
#                               count (SlurmdParameters=config_overrides), to
#                               run e.g. '#SBATCH -n 8' scripts on 2 cores
#
# Two nodes (SLURM_NODES=2): a second, separate cluster on this machine with
# two slurmd, one per node name (`slurmd -N NAME`, its own Port, and `%n` in
# its spool, log and pid paths), and TmpFS=<dir>/%n so that the two nodes'
# pmix plugins do not share one spmix_appdir_* directory.  It shares nothing
# with the one-node cluster, so both can run at the same moment: its own
# slurm.conf, ports, state directories, node names, first job id and its own
# munged (socket, key, seed and PID file).  Clients find it through
# SLURM_CONF (`SLURM_NODES=2 slurm_localhost.sh env` prints the line).
#   SLURM_NODES=2               two nodes (default 1: the cluster above)
#   SLURM_BASE=DIR              all of its files (default /var/tmp/hptune-slurm2)
#   SLURM_CTLD_PORT=P           slurmctld's port (default 6827; one node: 6817)
#   SLURMD_PORT=P               node i's slurmd listens on P+i-1 (default 6828)
#   SLURM_NODE_PREFIX=NAME      nodes NAME1, NAME2 (default hpnode)
#   SLURM_NODE_CPUS=N           CPUs each node claims (default: the real count)
# Every node is this machine (NodeAddr=127.0.0.1), but each slurmd runs in
# its own UTS namespace named after its node, so jobs see the node's name as
# their host name: ranks on the two nodes are on different hosts for Slurm and
# Open MPI, and talk over TCP.
#
# Copied from shared/slurm-localhost.md (the recipe, with its timings and
# gotchas); SLURM_NODE_CPUS and the two-node cluster were added here.
set -uo pipefail

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() { log "FATAL: $*"; exit 1; }
# A PID counts as alive unless it is gone or a zombie (PID 1 here may reap late).
alive() { [[ -n ${1:-} && -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
wait_gone() { for _ in $(seq 150); do alive "$1" || return 0; sleep 0.1; done; return 1; }
pidof_file() { [[ -s $1 ]] && cat "$1" || true; }

# ---------------------------------------------------------------- install ---
install_pkgs() {
  [[ ${SLURM_SKIP_APT:-0} == 1 ]] && { log "skipping apt-get"; return; }
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  apt-get update -qq || die "apt-get update failed"
  log "apt-get install slurmctld slurmd slurm-client munge openmpi-bin libopenmpi-dev gcc"
  # --no-install-recommends: skips ~70 optional Slurm plugin packages
  # (hdf5/influxdb/rrd/ipmi/...) that a test cluster does not need.
  # slurm-wlm-basic-plugins (pulled in) already has mpi_pmix(_v4) and mpi_pmi2.
  apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client munge \
      openmpi-bin libopenmpi-dev gcc libc6-dev >/tmp/slurm_apt.log 2>&1 \
    || { tail -30 /tmp/slurm_apt.log; die "apt-get install failed"; }
}

# ------------------------------------------------------------------ munge ---
start_munge() {
  # The Debian postinst normally creates /etc/munge/munge.key; make sure.
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge      # systemd would make this
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already running"
  else
    log "starting munged as user munge"
    runuser -u munge -- /usr/sbin/munged || die "munged failed (see /var/log/munge/munged.log)"
  fi
  munge -n </dev/null | unmunge | grep -q 'STATUS: *Success' || die "munge round trip failed"
}

# ----------------------------------------------------------------- config ---
write_conf() {
  local host nodeline
  host=$(hostname -s)
  # e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2
  #       ThreadsPerCore=1 RealMemory=24105" - the machine's real CPUs/memory.
  nodeline=$(slurmd -C | head -n1)
  [[ $nodeline == NodeName=* ]] || die "slurmd -C printed: $nodeline"
  local overrides=""
  if [[ -n ${SLURM_NODE_CPUS:-} ]]; then
    [[ $SLURM_NODE_CPUS =~ ^[1-9][0-9]*$ ]] || die "SLURM_NODE_CPUS must be a positive integer"
    # One socket, one thread per core, N cores; slurmd believes the file only
    # with config_overrides (else the node goes INVAL: "Low CPUs").
    nodeline=$(sed -E -e "s/ CPUs=[0-9]+/ CPUs=$SLURM_NODE_CPUS/" -e 's/ Boards=[0-9]+//' \
      -e "s/ SocketsPerBoard=[0-9]+/ SocketsPerBoard=1/" -e "s/ CoresPerSocket=[0-9]+/ CoresPerSocket=$SLURM_NODE_CPUS/" \
      -e 's/ ThreadsPerCore=[0-9]+/ ThreadsPerCore=1/' <<<"$nodeline")
    overrides="SlurmdParameters=config_overrides"
  fi
  mkdir -p /etc/slurm
  cat >/etc/slurm/slurm.conf <<EOF
# Single-node Slurm for CI: no systemd, no cgroups, no accounting database.
ClusterName=ci
# 127.0.0.1 so that nothing depends on DNS / /etc/hosts for the host name
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
# A requeued job may restart only cred_expire+1 s after the requeue (default 120 s)
AuthInfo=cred_expire=10
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups: track job processes via /proc, no task binding/containment
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# srun needs --mpi=pmix for Open MPI programs (or set MpiDefault=pmix)
MpiDefault=none
ReturnToService=2
# Reject at submit time a job that can never run here (e.g. -n 4 or -N 2 on a
# 2-CPU node) instead of leaving it PENDING forever (Reason=PartitionConfig)
EnforcePartLimits=ALL
# Scheduler passes every 5 s instead of 60 s (main) / 30 s (backfill)
SchedulerParameters=bf_interval=5,sched_interval=5
MailProg=/bin/true
# No slurmdbd: sacct does not work; finished jobs are logged to JobCompLoc and
# stay visible to 'scontrol show job' for MinJobAge (300 s)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
${overrides}
${nodeline} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  log "wrote /etc/slurm/slurm.conf for node: $nodeline"
}

# ------------------------------------------------------------ daemons up ---
start_slurm() {
  if alive "$(pidof_file /run/slurmctld.pid)" || alive "$(pidof_file /run/slurmd.pid)"; then
    log "Slurm daemons already running: stopping them first"; stop_slurm
  fi
  mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  log "starting slurmctld (-c: cold start, no old jobs) and slurmd"
  slurmctld -c || die "slurmctld failed: $(tail -5 /var/log/slurm/slurmctld.log)"
  slurmd       || die "slurmd failed: $(tail -5 /var/log/slurm/slurmd.log)"
  local state=""
  for _ in $(seq 150); do
    state=$(sinfo -h -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.2
  done
  [[ $state == idle ]] || die "node not idle after 30 s (state '$state'); see /var/log/slurm/"
  sinfo
}

stop_slurm() {
  local c d
  c=$(pidof_file /run/slurmctld.pid); d=$(pidof_file /run/slurmd.pid)
  if alive "$c"; then
    # Cancel leftover jobs first: 'scontrol shutdown' stops the daemons but
    # leaves running jobs' processes (slurmstepd) alive.
    local jobs; jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      log "cancelling leftover jobs: $jobs"
      scancel $jobs 2>/dev/null
      for _ in $(seq 60); do squeue -h 2>/dev/null | grep -q . || break; sleep 1; done
    fi
    scontrol shutdown >/dev/null 2>&1 || true          # stops slurmctld and all slurmd
  fi
  wait_gone "$c" || { log "slurmctld $c did not stop, SIGTERM"; kill "$c" 2>/dev/null; wait_gone "$c"; }
  if alive "$d"; then kill "$d" 2>/dev/null; wait_gone "$d"; fi
  rm -f /run/slurmctld.pid /run/slurmd.pid
}

stop_munge() {
  local m; m=$(pidof_file /run/munge/munged.pid)
  if alive "$m"; then kill "$m"; wait_gone "$m" || log "munged $m still running"; fi
}

cmd_up() {
  [[ $(id -u) == 0 ]] || die "run as root"
  local t0=$SECONDS
  install_pkgs;  log "install done ($((SECONDS - t0)) s)"
  start_munge
  write_conf
  start_slurm;   log "cluster up ($((SECONDS - t0)) s in all)"
}

cmd_down() {
  stop_slurm
  stop_munge
  rm -rf /var/spool/slurmctld /var/spool/slurmd     # saved jobs/state (next start is clean)
  log "down: daemons stopped, state wiped (logs kept in /var/log/slurm)"
}

# ---------------------------------------------------------------- selftest ---
PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); log "PASS: $*"; }
bad()  { FAIL=$((FAIL + 1)); log "FAIL: $*"; }
check(){ local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# wait until a job (or whole array) has left the queue; $2 = timeout in s
wait_job() { local t=$((SECONDS + $2)); while squeue -h -j "$1" 2>/dev/null | grep -q .; do
  ((SECONDS > t)) && return 1; sleep 1; done; }
job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n1 | cut -d= -f2; }

cmd_selftest() {
  local d=${SLURM_SELFTEST_DIR:-/tmp/slurm-selftest} t0=$SECONDS
  rm -rf "$d"; mkdir -p "$d"; cd "$d" || die "cd $d"

  # -- 1. basic scheduling
  check "sinfo shows the node idle" test "$(sinfo -h -o %t)" = idle
  check "srun -n2 hostname -> 2 lines" test "$(srun -n2 hostname | wc -l)" = 2
  log "srun MPI plugins: $(srun --mpi=list 2>&1 | tr -s '\n\t' ' ')"

  # -- 2. MPI: compile, mpirun inside sbatch, srun --mpi=pmix
  cat >hello.c <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank, size, sum = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("hello from rank %d of %d (sum of ranks %d)\n", rank, size, sum);
    MPI_Finalize();
    return 0;
}
EOF
  check "mpicc hello.c" mpicc -O2 -o hello hello.c
  cat >mpi.sbatch <<'EOF'
#!/bin/bash
#SBATCH -J mpi
#SBATCH -n 2
#SBATCH -t 2
#SBATCH -o mpi-%j.out
# mpirun refuses to run as root without these two (or --allow-run-as-root);
# jobs submitted by a normal user need neither.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== mpirun (Open MPI reads the Slurm allocation: $SLURM_NTASKS tasks)"
mpirun ./hello
echo "== srun --mpi=pmix"
srun --mpi=pmix ./hello
EOF
  # sbatch --wait blocks until the job ends and returns the job's exit code
  local j
  j=$(sbatch --parsable --wait mpi.sbatch); local rc=$?
  check "sbatch --wait mpi.sbatch exit 0" test "$rc" = 0
  check "mpirun + srun --mpi=pmix: 4 rank lines, sum 1" \
    test "$(grep -c 'of 2 (sum of ranks 1)' "mpi-$j.out")" = 4
  check "srun -n2 --mpi=pmix ./hello outside sbatch" \
    test "$(srun -n2 --mpi=pmix ./hello | grep -c 'of 2')" = 2

  # -- 3. time limit (1 min is the smallest --time) and --signal
  cat >timelimit.sbatch <<'EOF'
#!/bin/bash
#SBATCH -J timelimit
#SBATCH -n 1
#SBATCH --time=1
#SBATCH -o timelimit-%j.out
trap 'echo "TERM after $SECONDS s"' TERM
sleep 300 & wait
EOF
  cat >signal.sbatch <<'EOF'
#!/bin/bash
#SBATCH -J signal
#SBATCH -n 1
#SBATCH --time=1
#SBATCH --signal=B:USR1@50
#SBATCH -o signal-%j.out
# B: = signal the batch shell itself. bash runs a trap only between commands,
# so run the work in the background and 'wait' (wait returns on a signal).
trap 'echo "USR1 after $SECONDS s"; kill $child; exit 0' USR1
sleep 300 & child=$!
wait $child
echo "no signal"; exit 1
EOF
  local jt js
  jt=$(sbatch --parsable timelimit.sbatch)
  js=$(sbatch --parsable signal.sbatch)

  wait_job "$js" 90
  check "--signal=B:USR1@50 reached the batch shell" grep -q '^USR1 after' "signal-$js.out"
  log "   signal job: $(tr '\n' ' ' <"signal-$js.out")"

  # -- 4. requeue: the job requeues itself from its USR1 trap; the second run
  #       sees SLURM_RESTART_COUNT=1. USR1 is sent by hand (scancel --batch)
  #       so that this does not wait for the time limit.
  cat >requeue.sbatch <<'EOF'
#!/bin/bash
#SBATCH -J requeue
#SBATCH -n 1
#SBATCH --time=5
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH -o requeue-%j.out
echo "run start, SLURM_RESTART_COUNT=${SLURM_RESTART_COUNT:-0}"
[ "${SLURM_RESTART_COUNT:-0}" -ge 1 ] && { echo "second run done"; exit 0; }
trap 'echo "USR1: checkpoint + requeue"; scontrol requeue $SLURM_JOB_ID; kill $child; exit 0' USR1
sleep 300 & child=$!
wait $child
EOF
  local jr t
  jr=$(sbatch --parsable requeue.sbatch)
  t=$((SECONDS + 30)); until [[ $(job_state "$jr") == RUNNING ]] || ((SECONDS > t)); do sleep 0.5; done
  sleep 1; t=$SECONDS
  scancel --signal=USR1 --batch "$jr"
  wait_job "$jr" 90
  log "   requeue: back and finished $((SECONDS - t)) s after the USR1"
  check "requeued job ran twice and COMPLETED" \
    bash -c "grep -q 'SLURM_RESTART_COUNT=1' requeue-$jr.out && grep -q 'second run done' requeue-$jr.out && [ \"\$(scontrol show job $jr | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]"

  # -- 5. dependencies
  local ja jb jc
  ja=$(sbatch --parsable -n1 -t1 -o dep-a-%j.out --wrap 'sleep 2; exit 3')
  jb=$(sbatch --parsable -n1 -t1 -o dep-b-%j.out --dependency=afterany:"$ja" --wrap 'echo B ran')
  jc=$(sbatch --parsable -n1 -t1 -o dep-c-%j.out --dependency=afterok:"$ja" --wrap 'echo C ran')
  wait_job "$jb" 60
  check "afterany:A ran after A failed" grep -q 'B ran' "dep-b-$jb.out"
  t=$((SECONDS + 15))
  until scontrol show job "$jc" | grep -q 'Reason=DependencyNeverSatisfied' || ((SECONDS > t)); do sleep 0.5; done
  check "afterok:A is DependencyNeverSatisfied" \
    bash -c "scontrol show job $jc | grep -q 'Reason=DependencyNeverSatisfied'"
  scancel "$jc"

  # -- 6. job array with a throttle
  local jarr
  jarr=$(sbatch --parsable -n1 -t1 --array=0-3%2 -o 'arr-%A_%a.out' \
         --wrap 'echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT"; sleep 1')
  wait_job "$jarr" 60
  check "array 0-3: 4 outputs" test "$(cat arr-"$jarr"_*.out 2>/dev/null | grep -c '^task [0-3] of 4')" = 4

  # -- 7. back to the time-limit job (submitted in step 3)
  wait_job "$jt" 150
  check "--time=1 job ended as TIMEOUT" test "$(job_state "$jt")" = TIMEOUT
  log "   timelimit job: $(tr '\n' ' ' <"timelimit-$jt.out")"

  log "selftest took $((SECONDS - t0)) s; outputs in $d"
  echo "slurm-selftest: $PASS passed, $FAIL failed"
  [[ $FAIL == 0 ]]
}

# ------------------------------------------------------------ two nodes ---
NODES=${SLURM_NODES:-1}
BASE=${SLURM_BASE:-/var/tmp/hptune-slurm2}
CTLD_PORT=${SLURM_CTLD_PORT:-6827}
SLURMD_PORT0=${SLURMD_PORT:-6828}
NODE_PREFIX=${SLURM_NODE_PREFIX:-hpnode}
MCONF=$BASE/slurm.conf
MUNGE_SOCKET=$BASE/munge/munge.socket.2

multi_nodes() { local i; for i in $(seq "$NODES"); do echo "$NODE_PREFIX$i"; done; }

start_munge_multi() {
  # Our own munged: the one-node cluster's `down` stops /run/munge's.
  install -d -o munge -g munge -m 0755 "$BASE/munge"
  if [[ ! -s $BASE/munge/munge.key ]]; then
    dd if=/dev/urandom of="$BASE/munge/munge.key" bs=1 count=1024 status=none
  fi
  chown munge:munge "$BASE/munge/munge.key" && chmod 0400 "$BASE/munge/munge.key"
  if munge -S "$MUNGE_SOCKET" -n </dev/null 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
    log "munged ($MUNGE_SOCKET) already running"
  else
    log "starting munged on $MUNGE_SOCKET"
    runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" --key-file="$BASE/munge/munge.key" \
      --pid-file="$BASE/munge/munged.pid" --seed-file="$BASE/munge/munged.seed" \
      --log-file="$BASE/munge/munged.log" || die "munged failed (see $BASE/munge/munged.log)"
  fi
  munge -S "$MUNGE_SOCKET" -n </dev/null | unmunge -S "$MUNGE_SOCKET" | grep -q 'STATUS: *Success' ||
    die "munge round trip on $MUNGE_SOCKET failed"
}

write_conf_multi() {
  local nodeline cpus overrides="" i n
  [[ $NODES =~ ^[2-9]$ ]] || die "SLURM_NODES must be 1-9"
  for v in "$CTLD_PORT" "$SLURMD_PORT0"; do [[ $v =~ ^[1-9][0-9]{3,4}$ ]] || die "bad port '$v'"; done
  [[ $NODE_PREFIX =~ ^[a-z][a-z0-9]{0,15}$ ]] || die "SLURM_NODE_PREFIX must be a short lower-case name without dots"
  # the machine's sockets/cores/memory, as in the one-node cluster
  nodeline=$(slurmd -C | head -n1 | sed -E 's/^NodeName=[^ ]+ //')
  [[ $nodeline == CPUs=* ]] || die "slurmd -C printed: $nodeline"
  if [[ -n ${SLURM_NODE_CPUS:-} ]]; then
    cpus=$SLURM_NODE_CPUS
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "SLURM_NODE_CPUS must be a positive integer"
    nodeline=$(sed -E -e "s/CPUs=[0-9]+/CPUs=$cpus/" -e 's/ Boards=[0-9]+//' \
      -e "s/ SocketsPerBoard=[0-9]+/ SocketsPerBoard=1/" -e "s/ CoresPerSocket=[0-9]+/ CoresPerSocket=$cpus/" \
      -e 's/ ThreadsPerCore=[0-9]+/ ThreadsPerCore=1/' <<<"$nodeline")
  fi
  # Several nodes on one machine claim its CPUs several times over.
  overrides="SlurmdParameters=config_overrides"
  mkdir -p "$BASE"/{state,log,run,spool,tmp}
  for n in $(multi_nodes); do install -d -m 1777 "$BASE/tmp/$n"; done
  {
    cat <<EOF
# $NODES-node Slurm for CI on one machine (tests/slurm_localhost.sh, SLURM_NODES=$NODES):
# several slurmd, one per NodeName, each with its own Port and %n paths.
ClusterName=hptune${NODES}n
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10,socket=$MUNGE_SOCKET
# job ids of this cluster are easy to tell from the one-node cluster's
FirstJobId=70001
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool/%n
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd-%n.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd-%n.log
# per node: the pmix plugin makes spmix_appdir_* here
TmpFS=$BASE/tmp/%n
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
EnforcePartLimits=ALL
SchedulerParameters=bf_interval=5,sched_interval=5
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/log/jobcomp.log
$overrides
EOF
    i=0
    for n in $(multi_nodes); do
      echo "NodeName=$n NodeAddr=127.0.0.1 Port=$((SLURMD_PORT0 + i)) $nodeline State=UNKNOWN"
      i=$((i + 1))
    done
    echo "PartitionName=multi Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } >"$MCONF"
  log "wrote $MCONF: nodes $(multi_nodes | tr '\n' ' ')($nodeline each)"
}

start_slurm_multi() {
  export SLURM_CONF=$MCONF
  if alive "$(pidof_file "$BASE/run/slurmctld.pid")"; then
    log "slurmctld of $BASE already running: stopping it first"; stop_slurm_multi
  fi
  log "starting slurmctld (port $CTLD_PORT) and slurmd $(multi_nodes | tr '\n' ' ')"
  slurmctld -c -f "$MCONF" || die "slurmctld failed: $(tail -5 "$BASE/log/slurmctld.log")"
  local n
  for n in $(multi_nodes); do
    mkdir -p "$BASE/spool/$n"
    # Each slurmd (and so each job step on its node) in its own UTS namespace
    # whose host name is the node's name, as on separate machines: Open MPI
    # tells nodes apart by host name and names its shared-memory files after
    # it (in one /dev/shm), so two nodes called "vm" would share them.
    unshare --uts -- /bin/sh -c 'hostname "$1" && exec slurmd -f "$2" -N "$1"' slurmd-on "$n" "$MCONF" ||
      die "slurmd -N $n failed: $(tail -5 "$BASE/log/slurmd-$n.log")"
  done
  local states=""
  for _ in $(seq 150); do
    states=$(sinfo -h -N -o %t 2>/dev/null | sort -u | tr '\n' ' ')
    [[ $states == "idle " && $(sinfo -h -N -o %N | wc -l) == "$NODES" ]] && break
    sleep 0.2
  done
  [[ $states == "idle " ]] || die "nodes not idle after 30 s (states '$states'); see $BASE/log/"
  sinfo -N
}

stop_slurm_multi() {
  export SLURM_CONF=$MCONF
  local c n d
  c=$(pidof_file "$BASE/run/slurmctld.pid")
  if alive "$c"; then
    local jobs; jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      log "cancelling leftover jobs: $jobs"
      scancel $jobs 2>/dev/null
      for _ in $(seq 60); do squeue -h 2>/dev/null | grep -q . || break; sleep 1; done
    fi
    scontrol shutdown >/dev/null 2>&1 || true
  fi
  wait_gone "$c" || { log "slurmctld $c did not stop, SIGTERM"; kill "$c" 2>/dev/null; wait_gone "$c"; }
  for n in $(multi_nodes); do
    d=$(pidof_file "$BASE/run/slurmd-$n.pid")
    if alive "$d"; then kill "$d" 2>/dev/null; wait_gone "$d"; fi
    rm -f "$BASE/run/slurmd-$n.pid"
  done
  rm -f "$BASE/run/slurmctld.pid"
}

stop_munge_multi() {
  local m; m=$(pidof_file "$BASE/munge/munged.pid")
  if alive "$m"; then kill "$m"; wait_gone "$m" || log "munged $m still running"; fi
}

cmd_up_multi() {
  [[ $(id -u) == 0 ]] || die "run as root"
  local t0=$SECONDS
  install_pkgs;  log "install done ($((SECONDS - t0)) s)"
  start_munge_multi
  write_conf_multi
  start_slurm_multi;   log "$NODES-node cluster up ($((SECONDS - t0)) s in all); clients need SLURM_CONF=$MCONF"
}

cmd_down_multi() {
  stop_slurm_multi
  stop_munge_multi
  rm -rf "$BASE/state" "$BASE/spool" "$BASE/tmp"
  # Open MPI's shared-memory files that killed ranks leave, named after the node
  local n; for n in $(multi_nodes); do rm -f /dev/shm/vader_segment."$n".*; done
  log "down: daemons of $BASE stopped, state wiped (logs kept in $BASE/log)"
}

# A short check of the nodes: one task per node, MPI across them with both launchers.
cmd_selftest_multi() {
  export SLURM_CONF=$MCONF
  local d=${SLURM_SELFTEST_DIR:-$BASE/selftest} t0=$SECONDS
  rm -rf "$d"; mkdir -p "$d"; cd "$d" || die "cd $d"
  check "sinfo shows $NODES idle nodes" test "$(sinfo -h -N -o %t | grep -c idle)" = "$NODES"
  check "srun -N$NODES hostname -> $NODES lines" test "$(timeout 60 srun -N"$NODES" -n"$NODES" hostname | wc -l)" = "$NODES"
  cat >hello.c <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank, size, sum = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("hello from rank %d of %d (sum of ranks %d) on %s\n", rank, size, sum, getenv("SLURMD_NODENAME"));
    MPI_Finalize();
    return 0;
}
EOF
  sed -i 's/#include <stdio.h>/#include <stdio.h>\n#include <stdlib.h>/' hello.c
  check "mpicc hello.c" mpicc -O2 -o hello hello.c
  cat >mpi.sbatch <<EOF
#!/bin/bash
#SBATCH -N $NODES
#SBATCH --ntasks-per-node=1
#SBATCH -t 2
#SBATCH -o mpi-%j.out
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== mpirun"
mpirun ./hello
echo "== srun --mpi=pmix"
srun --mpi=pmix ./hello
EOF
  local j rc
  j=$(timeout 120 sbatch --parsable --wait mpi.sbatch); rc=$?
  check "sbatch --wait mpi.sbatch exit 0" test "$rc" = 0
  check "mpirun + srun --mpi=pmix across $NODES nodes: every rank on its node" \
    test "$(grep -c "of $NODES (sum of ranks $((NODES * (NODES - 1) / 2))) on $NODE_PREFIX" "mpi-$j.out")" = $((2 * NODES))
  log "selftest took $((SECONDS - t0)) s; outputs in $d"
  echo "slurm-selftest: $PASS passed, $FAIL failed"
  [[ $FAIL == 0 ]]
}

if [[ $NODES != 1 ]]; then
  case ${1:-all} in
    up)       cmd_up_multi ;;
    down)     cmd_down_multi ;;
    selftest) cmd_selftest_multi ;;
    env)      echo "export SLURM_CONF=$MCONF" ;;
    all)      cmd_up_multi && { cmd_selftest_multi; rc=$?; cmd_down_multi; exit $rc; } ;;
    *)        echo "usage: SLURM_NODES=$NODES $0 up|selftest|down|env|all" >&2; exit 2 ;;
  esac
  exit $?
fi

case ${1:-all} in
  up)       cmd_up ;;
  down)     cmd_down ;;
  selftest) cmd_selftest ;;
  all)      cmd_up && { cmd_selftest; rc=$?; cmd_down; exit $rc; } ;;
  *)        echo "usage: $0 up|selftest|down|all" >&2; exit 2 ;;
esac
