#!/usr/bin/env bash
# One coordinator per study: two runs started at the same moment on one
# directory (one runs, the other is refused naming the holder), a resume or a
# second run while a study runs under mpirun (refused with pid, host, start
# time and Slurm job), status and export working meanwhile, a killed run's
# stale lock taken over by the next resume; every result equals a straight run's.
# The live study is held still with SIGSTOP while the second writers try, so
# the checks do not race its end however slow the machine is.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
cat >job.yaml <<'YAML'
study: {name: lk, seed: 4}
strategy: {name: random, max_trials: 6}
objective: {type: function, name: branin, sleep_ms: 150}
space:
  x1: {uniform: [-5, 10]}
  x2: {uniform: [0, 15]}
fixed: {epochs: 2}
YAML
# per-epoch results without the wall time, sorted
results() { study_results "$1"; }
# the same study, slower per epoch (the function's values do not depend on it)
sed 's/sleep_ms: 150/sleep_ms: 400/' job.yaml >slow.yaml
"$HPTUNE" run job.yaml --out straight --quiet >straight.log 2>&1 || fail straight "$(cat straight.log)"

# --- two coordinators at the same moment -----------------------------------
"$HPTUNE" run job.yaml --out race --quiet >a.log 2>&1 & a=$!
"$HPTUNE" run job.yaml --out race --quiet >b.log 2>&1 & b=$!
wait $a; ra=$?; wait $b; rb=$?
loser=$( [ $ra = 0 ] && echo b.log || echo a.log )
if [ $((ra + rb)) = 1 ] && grep -qE "race is in use by pid [0-9]+ on host [^ ]+ since [0-9-]+ [0-9:]+" $loser \
   && [ "$(grep -c 'hptune: error' $loser)" = 1 ]; then
    pass two_coordinators_at_once_one_refused
else
    fail two_coordinators_at_once_one_refused "exit $ra/$rb: $(cat a.log b.log)"
fi
if [ "$(results race)" = "$(results straight)" ] && "$HPTUNE" status race | grep -q "6 completed.*- finished"; then
    pass race_winner_study_intact
else
    fail race_winner_study_intact "$("$HPTUNE" status race 2>&1 | head -3)"
fi

# --- a second writer while a study runs under mpirun --------------------------
if command -v mpirun >/dev/null; then
    MPIRUN="mpirun --oversubscribe ${HPTUNE_MPIRUN_ARGS:-} -np"
    SLURM_JOB_ID=4242 $MPIRUN 3 "$HPTUNE" run slow.yaml --out live --quiet >live.log 2>&1 & pid=$!
    for _ in $(seq 300); do [ -s live/study.lock ] && [ -f live/study.journal ] && break; sleep 0.05; done
    ranks=$(pgrep -P $pid | tr '\n' ' ')
    kill -STOP $ranks 2>/dev/null
    # held (lock still written: the holder has not released it) or already ended
    if [ -n "$ranks" ] && [ -s live/study.lock ]; then pass study_held_while_running
    else fail study_held_while_running "the study ended before it could be held (ranks: '$ranks')"; fi
    expect_fail resume_while_running_refused \
        "live is in use by pid [0-9]+ on host [^ ]+ since .*\(Slurm job 4242\).*one coordinator per study" \
        -- "$HPTUNE" resume live
    expect_fail run_into_running_study_refused "live is in use by pid [0-9]+" -- "$HPTUNE" run slow.yaml --out live
    expect_fail truncate_while_running_refused "in use by pid" -- "$HPTUNE" resume live --truncate-journal-at 100
    st=$("$HPTUNE" status live 2>&1); rs=$?
    "$HPTUNE" export live --format json >live.json 2>export.err; rx=$?
    if [ $rs = 3 ] && grep -q "^study lk" <<<"$st" && [ $rx = 0 ] && /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' live.json; then
        pass status_and_export_while_running
    else
        fail status_and_export_while_running "status $rs: $st; export $rx: $(cat export.err)"
    fi
    kill -CONT $ranks 2>/dev/null
    wait $pid; rc=$?
    if [ $rc = 0 ] && [ "$(results live)" = "$(results straight)" ]; then pass refused_writers_changed_nothing
    else fail refused_writers_changed_nothing "exit $rc: $(tail -3 live.log)"; fi
else
    skip mpirun_lock "mpirun not installed (make deps)"
fi

# --- a killed run's lock is stale: the next resume takes it over --------------
"$HPTUNE" run slow.yaml --out killed --quiet >k.log 2>&1 & pid=$!
for _ in $(seq 300); do \
    [ "$("$HPTUNE" export killed --format csv 2>/dev/null | wc -l)" -ge 4 ] && break; sleep 0.05; done
kill -STOP $pid                 # mid-study (lock still held) or already ended?
[ -s killed/study.lock ] || fail killed_mid_study "the run ended before it could be killed: $(cat k.log)"
kill -KILL $pid; wait $pid 2>/dev/null
if grep -q "^pid: $pid$" killed/study.lock && "$HPTUNE" resume killed --quiet >r.log 2>&1 \
   && grep -q "took over a stale lock left by pid $pid on host" r.log && [ "$(results killed)" = "$(results straight)" ]; then
    pass killed_runs_stale_lock_taken_over
else
    fail killed_runs_stale_lock_taken_over "$(cat killed/study.lock 2>&1; cat r.log)"
fi
# a run that ended released its lock: the file is empty and nothing is noted
"$HPTUNE" resume killed >r2.log 2>&1
if [ ! -s killed/study.lock ] && ! grep -q "stale" r2.log && grep -q "already finished" r2.log; then
    pass clean_end_releases_the_lock
else
    fail clean_end_releases_the_lock "$(cat killed/study.lock r2.log)"
fi
