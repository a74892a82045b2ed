#!/usr/bin/env bash
# Results people look at, from real studies: `hptune report` loaded in a real
# browser (one curve per trial, one axis per hyperparameter, no console
# errors, not blank), on a finished, a running and an interrupted study;
# `hptune export --format tensorboard` read back with TensorBoard's own
# protos (scalars equal study.h5's, the hparams experiment, each session's
# values and status); live TensorBoard files through an interruption and a
# resume, with no step written twice; and bad input.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
command -v mpirun >/dev/null || { skip views "mpirun not installed (make deps)"; exit 0; }
MPIRUN="mpirun --oversubscribe ${HPTUNE_MPIRUN_ARGS:-} -np"
CHECKER=$HPTUNE_ROOT/tests/browser/check_page.py
READER=${HPTUNE_TFEVENTS_READER:-$HPTUNE_ROOT/../shared/tensorboard/tfevents_dump.py}

# --- studies: a tiny CNN (grid of two parameters) and an ASHA curves study ---
python3 "$HPTUNE_ROOT/tests/integration/gen_cifar.py" data --per-batch 100 --test 100 >/dev/null
"$HPTUNE" prepare --from data/cifar-10-batches-bin --out tiny.h5 --shards 4 >/dev/null
cat >cnn.yaml <<'YAML'
study: {name: cnn-grid, seed: 3}
data: {path: tiny.h5, train_shards: [0, 1, 2], val_shards: [3]}
strategy: {name: grid}
space:
  learning_rate: {grid: [0.001, 0.01]}
  filters: {grid: [4, 8]}
fixed: {epochs: 2, num_blocks: 2, head_units: 16, batch_size: 32}
YAML
{
    echo "learning_rate,epoch,val_accuracy,val_loss,train_loss"
    for t in 1 2 3 4 5 6 7 8 9; do for e in 1 2 3 4 5 6 7 8 9; do
        echo "0.0$t,$e,0.$((t * 7 % 10))$e,$((10 - t)).$e,$((9 - t)).$e"; done; done
} >curves.csv
cat >asha.yaml <<'YAML'
study: {name: asha-views, seed: 1}
strategy: {name: asha, max_trials: 9, min_epochs: 1, max_epochs: 9, reduction_factor: 3}
objective: {type: curves, file: curves.csv, sleep_ms: 30}
space:
  learning_rate: {grid: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09]}
output: {tensorboard: true}
YAML
timeout 300 $MPIRUN 3 "$HPTUNE" run cnn.yaml --out cnn --quiet >cnn.log 2>&1 || fail cnn_study "$(tail -5 cnn.log)"

# --- the report in a real browser -------------------------------------------
browser() { # name page expected-curves expected-axes: one curve per trial, one axis per parameter
    local out rc
    out=$(/usr/bin/python3 "$CHECKER" "$2" --name "$1" \
        --eq "document.querySelectorAll('#curves [data-trial]').length" "$3" \
        --eq "document.querySelectorAll('[data-axis]').length" "$4" 2>&1); rc=$?
    if [ $rc -eq 77 ]; then skip "$1" "$(sed -n 's/^SKIP [^:]*: //p' <<<"$out" | head -1)"; return; fi
    grep -E '^(PASS|FAIL) ' <<<"$out"
    [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out" && fail "$1" "checker exited with $rc: $(tail -3 <<<"$out")"
}
if out=$("$HPTUNE" report cnn 2>&1) && [ -s cnn/report.html ]; then
    pass report_written
    # the best trial's confusion matrix: 10 x 10 counts whose diagonal share is its validation accuracy
    best=$("$HPTUNE" export cnn --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = [t for t in d["trials"] if t["status"] == "completed"]
b = max(ok, key=lambda t: (t["epochs"][-1]["val_accuracy"], -t["trial"]))
print(b["epochs"][-1]["val_accuracy"])')
    if python3 - cnn/report.html "$best" <<'PY'; then pass report_confusion_matrix_matches; else fail report_confusion_matrix_matches "see above"; fi
import re, sys
html = open(sys.argv[1]).read()
table = html[html.index('id="confusion"'):]
table = table[:table.index("</table>")]
cells = [int(v) for v in re.findall(r"<td[^>]*>(\d+)</td>", table)]
assert len(cells) == 100, len(cells)
diag = sum(cells[i * 11] for i in range(10))
assert abs(diag / sum(cells) - float(sys.argv[2])) < 1e-9, (diag, sum(cells), sys.argv[2])
PY
    browser report_cnn cnn/report.html 4 2
else
    fail report_written "$out"
fi

# a running study: the report only reads; the study goes on to the same end
$MPIRUN 2 "$HPTUNE" run asha.yaml --out asha --quiet >asha1.log 2>&1 &
pid=$!
for _ in $(seq 300); do [ -f asha/study.journal ] && "$HPTUNE" export asha --format csv 2>/dev/null | tail -n +2 | grep -q . && break; sleep 0.05; done
if "$HPTUNE" report asha --out running.html >/dev/null 2>&1 && grep -q "running" running.html; then pass report_of_running_study
else fail report_of_running_study "no report, or not marked running"; fi
sleep 0.5
kill -USR1 $pid; wait $pid
grep -q "interrupted at" asha1.log && pass views_study_interrupted || fail views_study_interrupted "$(tail -3 asha1.log)"
"$HPTUNE" report asha --out interrupted.html >/dev/null 2>&1 && grep -q "interrupted" interrupted.html \
    && pass report_of_interrupted_study || fail report_of_interrupted_study "not marked interrupted"
timeout 120 $MPIRUN 2 "$HPTUNE" resume asha --quiet >asha2.log 2>&1 || fail asha_resume "$(tail -3 asha2.log)"
"$HPTUNE" report asha --out finished.html >/dev/null 2>&1
n_curves=$("$HPTUNE" export asha --format json | python3 -c 'import json,sys; print(sum(1 for t in json.load(sys.stdin)["trials"] if t["epochs"]))')
browser report_asha finished.html "$n_curves" 1

# --- TensorBoard: export, read back with TensorBoard's protos -----------------
if [ ! -f "$READER" ]; then
    skip tensorboard "no TensorBoard reader at $READER (set HPTUNE_TFEVENTS_READER)"
elif ! /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || ! command -v protoc >/dev/null; then
    skip tensorboard "protobuf-compiler / python3-protobuf missing (make deps)"
else
    check_tb() { # name study logdir: scalars == study.h5 (as float32), hparams, sessions
        TMPDIR=$TMP /usr/bin/python3 "$READER" "$3" >"$1.json" 2>"$1.err" || { fail "$1" "reader: $(cat "$1.err")"; return; }
        if /usr/bin/python3 - "$2/study.h5" "$1.json" "$2/job.yaml" <<'PY'; then pass "$1"; else fail "$1" "see above"; fi
import json, sys, struct, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
tb = json.load(open(sys.argv[2]))["runs"]
cols = [c.decode() if isinstance(c, bytes) else str(c) for c in f["metrics"].attrs["columns"]]
status = [s.decode() if isinstance(s, bytes) else s for s in f["trials/status"][...]]
n = len(status)
runs = {k: v for k, v in tb.items() if k.startswith("trial_")}
assert len(runs) == n, (len(runs), n)
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
for row in f["metrics"][...]:
    t, e = int(row[0]), int(row[1])
    run = runs["trial_%05d" % t]
    for i, c in enumerate(cols[2:], start=2):
        v = row[i]
        if np.isnan(v):
            assert c not in run["scalars"] or e not in [s for s, _ in run["scalars"][c]], (t, e, c)
            continue
        steps = [s for s, _ in run["scalars"][c]]
        assert steps.count(e) == 1, ("step written once", t, c, e, steps)
        got = dict(run["scalars"][c])[e]
        assert got == f32(v), (t, e, c, got, v)
# the experiment: every space parameter with its domain
exp = [h for h in tb["."]["hparams"] if h["tag"] == "_hparams_/experiment"]
assert len(exp) == 1
names = sorted(h["name"] for h in exp[0]["data"]["experiment"]["hparamInfos"])
import re
space = re.findall(r"^  (\w+): \{", open(sys.argv[3]).read(), re.M)
assert names == sorted(space), (names, space)
metrics = [m["name"]["tag"] for m in exp[0]["data"]["experiment"]["metricInfos"]]
assert "val_accuracy" in metrics and "val_loss" in metrics, metrics
# each session: its values and its end
want = {"completed": "STATUS_SUCCESS", "stopped": "STATUS_SUCCESS", "failed": "STATUS_FAILURE"}
for t in range(n):
    run = runs["trial_%05d" % t]
    tags = [h["tag"] for h in run["hparams"]]
    assert tags.count("_hparams_/session_start_info") == 1, (t, tags)
    ends = [h["data"]["sessionEndInfo"]["status"] for h in run["hparams"] if h["tag"] == "_hparams_/session_end_info"]
    if status[t] in want:
        assert ends == [want[status[t]]], (t, status[t], ends)
    start = [h for h in run["hparams"] if h["tag"] == "_hparams_/session_start_info"][0]["data"]["sessionStartInfo"]
    assert sorted(start["hparams"]) == sorted(space), (t, start)
PY
    }
    "$HPTUNE" export cnn --format tensorboard --out cnn_tb >/dev/null 2>&1 && check_tb tensorboard_export_cnn cnn cnn_tb \
        || fail tensorboard_export_cnn "export failed"
    # live files through an interruption and a resume equal a fresh export
    check_tb tensorboard_live_asha asha asha/tensorboard
    "$HPTUNE" export asha --format tensorboard --out asha_export >/dev/null 2>&1
    TMPDIR=$TMP /usr/bin/python3 "$READER" asha_export >export.json 2>/dev/null
    python3 - tensorboard_live_asha.json export.json <<'PY' && pass tensorboard_live_equals_export || fail tensorboard_live_equals_export "live and exported scalars differ"
import json, sys
a, b = (json.load(open(p))["runs"] for p in sys.argv[1:])
assert sorted(a) == sorted(b)
for k in a:
    assert a[k]["scalars"] == b[k]["scalars"], k
PY
fi

# --- bad input ---------------------------------------------------------------
mkdir -p notastudy
expect_fail report_not_a_study "not an hptune study" -- "$HPTUNE" report notastudy
expect_fail report_unwritable "cannot|No such file" -- "$HPTUNE" report cnn --out /nonexistent/dir/r.html
expect_fail report_unknown_heatmap "heat map parameter 'momentum'" -- "$HPTUNE" report cnn --heatmap learning_rate,momentum
expect_fail tensorboard_not_a_study "not an hptune study" -- "$HPTUNE" export notastudy --format tensorboard
# zero completed trials: the page says so and still shows what exists
printf 'study: {name: empty}\nstrategy: {name: random, max_trials: 3}\nobjective: {type: function, name: branin, sleep_ms: 2000}\nspace:\n  x1: {uniform: [-5, 10]}\n  x2: {uniform: [0, 15]}\nfixed: {epochs: 3}\n' >empty.yaml
"$HPTUNE" run empty.yaml --out empty --quiet >empty.log 2>&1 &
pid=$!
for _ in $(seq 100); do [ -f empty/study.journal ] && break; sleep 0.05; done
kill -USR1 $pid; wait $pid
if "$HPTUNE" report empty --out empty.html >/dev/null 2>&1 && [ -s empty.html ]; then
    pass report_of_study_without_results
    out=$(/usr/bin/python3 "$CHECKER" empty.html --name report_empty 2>&1); rc=$?
    [ $rc -eq 77 ] || grep -E '^(PASS|FAIL) ' <<<"$out"
else
    fail report_of_study_without_results "$(cat empty.log)"
fi
