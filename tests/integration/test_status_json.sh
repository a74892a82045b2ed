#!/usr/bin/env bash
# `hptune status DIR [--json]`: exit codes (0 finished, 3 not finished, 4 not
# a study, 1 unreadable, 2 usage) and the JSON object, checked against
# `hptune export --format json` (trial statuses, epochs, final values, best).
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { skip status_json "no python3"; exit 0; }

{
    echo "learning_rate,epoch,val_accuracy"
    for lr in 1 2 3 4 5 6; do for e in 1 2 3 4; do echo "0.0$lr,$e,0.$((lr * 10 + e))"; done; done
} >curves.csv
job() { # NAME SLEEP_MS
    printf 'study: {name: %s, seed: 1}\ndata: {path: unused.h5, train_shards: [0], val_shards: [1], test_eval: false}\n' "$1"
    printf 'strategy: {name: grid}\nobjective: {type: curves, file: curves.csv, sleep_ms: %s}\n' "$2"
    printf 'space:\n  learning_rate: {grid: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06]}\nfixed: {epochs: 4}\n'
}
job done 0 >done.yaml
job slow 150 >slow.yaml

# compare the JSON with the export (an independent path through outputs.c)
agrees() { # DIR STATE -> prints nothing when the status JSON agrees with the export
    python3 - "$1" "$2" <<'PY'
import json, subprocess, sys
d, want = sys.argv[1], sys.argv[2]
st = json.loads(subprocess.run(["./hptune", "status", d, "--json"], capture_output=True, text=True).stdout)
ex = json.loads(subprocess.run(["./hptune", "export", d, "--format", "json"], capture_output=True, text=True).stdout)
problems = []
if st["state"] != want or st["finished"] != (want == "finished"):
    problems.append("state %s finished %s" % (st["state"], st["finished"]))
if st["n_trials"] != len(ex["trials"]) or st["max_trials"] != 6:
    problems.append("n_trials %d / export %d, max %d" % (st["n_trials"], len(ex["trials"]), st["max_trials"]))
counts = {}
for t in ex["trials"]:
    counts[t["status"]] = counts.get(t["status"], 0) + 1
if {k: v for k, v in st["counts"].items() if v} != counts:
    problems.append("counts %s / export %s" % (st["counts"], counts))
best = None
for t, e in zip(st["trials"], ex["trials"]):
    eps = e["epochs"]
    value = eps[-1]["val_accuracy"] if eps else None
    if t["trial"] != e["trial"] or t["status"] != e["status"] or t["epochs"] != len(eps) or t["value"] != value:
        problems.append("trial %s: %s / export %s %d %s" % (t["trial"], t, e["status"], len(eps), value))
    if e["status"] == "completed" and (best is None or value > best[1]):
        best = (e["trial"], value, len(eps))
if best and (st["best"]["trial"], st["best"]["value"], st["best"]["epoch"]) != best:
    problems.append("best %s / export %s" % (st["best"], best))
if st["metric"] != "val_accuracy" or st["mode"] != "max" or not st["elapsed_seconds"] > 0:
    problems.append("metric %s mode %s elapsed %s" % (st["metric"], st["mode"], st["elapsed_seconds"]))
print("; ".join(problems))
PY
}
cp "$HPTUNE" ./hptune

./hptune run done.yaml --out done --quiet >done.log 2>&1
./hptune status done >/dev/null; rc=$?
out=$(agrees done finished 2>&1)
if [ $rc = 0 ] && [ -z "$out" ]; then pass status_finished_exit_0_json_agrees_with_export
else fail status_finished_exit_0_json_agrees_with_export "rc=$rc: $out"; fi

./hptune run slow.yaml --out slow --quiet >slow.log 2>&1 &
pid=$!
for _ in $(seq 200); do
    [ "$(./hptune export slow --format csv 2>/dev/null | tail -n +2 | wc -l)" -ge 6 ] && break; sleep 0.05
done
kill -USR1 $pid; wait $pid
./hptune status slow --json >/dev/null; rc=$?
out=$(agrees slow not_finished 2>&1)
if [ $rc = 3 ] && [ -z "$out" ] && grep -q "interrupted at" slow.log; then pass status_not_finished_exit_3_json_agrees_with_export
else fail status_not_finished_exit_3_json_agrees_with_export "rc=$rc: $out $(cat slow.log)"; fi
# and a resumed study that finishes flips to 0
./hptune resume slow --quiet >resume.log 2>&1
./hptune status slow >/dev/null; rc=$?
[ $rc = 0 ] && [ -z "$(agrees slow finished)" ] && pass status_after_resume_exit_0 || fail status_after_resume_exit_0 "rc=$rc"

mkdir empty
for d in empty does-not-exist; do
    out=$(./hptune status "$d" --json 2>/dev/null); rc=$?
    if [ $rc = 4 ] && python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["state"] == "not_a_study" and s["error"]' "$out" 2>/dev/null; then
        pass "status_${d//-/_}_is_not_a_study_exit_4"
    else
        fail "status_${d//-/_}_is_not_a_study_exit_4" "rc=$rc: $out"
    fi
done

# damage in the middle of the journal: a study that cannot be read (1)
cp -r done damaged
size=$(stat -c %s damaged/study.journal)
printf '\x13\x37\x13\x37' | dd of=damaged/study.journal bs=1 seek=$((size / 2)) conv=notrunc status=none
out=$(./hptune status damaged --json 2>/dev/null); rc=$?
if [ $rc = 1 ] && python3 -c 'import json,sys; assert json.loads(sys.argv[1])["state"] == "unreadable"' "$out" 2>/dev/null; then
    pass status_damaged_journal_exit_1
else
    fail status_damaged_journal_exit_1 "rc=$rc: $out"
fi
./hptune status >/dev/null 2>&1; rc1=$?
./hptune status done --bogus >/dev/null 2>&1; rc2=$?
help=$(./hptune status --help)
if [ $rc1 = 2 ] && [ $rc2 = 2 ] && grep -q "3  the study is not finished" <<<"$help" && grep -q "4  DIR is not a study" <<<"$help"; then
    pass status_usage_exit_2_codes_in_help
else
    fail status_usage_exit_2_codes_in_help "rc=$rc1/$rc2: $help"
fi
