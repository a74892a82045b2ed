#!/usr/bin/env bash
# test_tfevents.sh - TensorBoard event files written by hptune's encoder, read
# back by an independent reader (/work/shared/tensorboard/tfevents_dump.py:
# checks every record's framing and CRCs, decodes with TensorBoard's own
# .proto files through python3-protobuf).
#
#  1. tfevents_demo writes a logdir (experiment summary + 3 trial runs) and
#     prints what it wrote as JSON; the reader's dump must match it: every
#     scalar's step and value (as float32), the experiment's hyperparameters
#     (names, types, domains) and metric tags, each session's hparams, group,
#     times and status.
#  2. Every record re-serialized by protobuf (deterministic) gives back the
#     record's bytes: the encoding is the canonical one, field for field.
#  3. Damage is detected: a copy truncated mid-record and a copy with one
#     flipped byte both make the reader fail.
# Reader: $HPTUNE_TFEVENTS_READER, else $HPTUNE_ROOT/../shared/tensorboard/tfevents_dump.py.
: "${HPTUNE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
source "$HPTUNE_ROOT/tests/integration/lib.sh"

BUILD_DIR=${BUILD:-build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$HPTUNE_ROOT/$BUILD_DIR ;; esac
DEMO=$BUILD_DIR/tests/tools/tfevents_demo
READER=${HPTUNE_TFEVENTS_READER:-$HPTUNE_ROOT/../shared/tensorboard/tfevents_dump.py}
PY=/usr/bin/python3

if [ ! -x "$DEMO" ]; then
    skip tfevents_all "no demo program at $DEMO (run make all)"; exit 0
fi
if [ ! -f "$READER" ]; then
    skip tfevents_all "no reader at $READER (set HPTUNE_TFEVENTS_READER)"; exit 0
fi
if ! command -v protoc >/dev/null || ! "$PY" -c 'import google.protobuf' 2>/dev/null; then
    skip tfevents_all "the reader needs protoc and python3-protobuf (apt-get install protobuf-compiler python3-protobuf)"
    exit 0
fi
export TMPDIR=$TMP # the reader compiles the protos into a temporary folder

LOGDIR=$TMP/logdir
if ! "$DEMO" "$LOGDIR" >"$TMP/expected.json" 2>"$TMP/demo.err"; then
    fail tfevents_demo "demo failed: $(cat "$TMP/demo.err")"; exit 0
fi
if ! "$PY" "$READER" "$LOGDIR" >"$TMP/dump.json" 2>"$TMP/dump.err"; then
    fail tfevents_read "the reader rejected the demo's files: $(cat "$TMP/dump.err")"; exit 0
fi
pass tfevents_read

# ---------------------------------------------------------- 1. contents
"$PY" - "$TMP/expected.json" "$TMP/dump.json" <<'EOF'
import json, math, struct, sys

want = json.load(open(sys.argv[1]))
runs = json.load(open(sys.argv[2]))["runs"]
problems = []

def check(name, ok, detail):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))

def num(x):  # the demo writes non-finite numbers as strings
    return float(x) if isinstance(x, str) else x

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

def same_float32(written, read):
    w = f32(num(written))
    return (math.isnan(w) and math.isnan(read)) or w == read

sessions = want["sessions"]
check("tfevents_runs", sorted(runs) == sorted(["."] + list(sessions))
      and all(r["files"] == 1 for r in runs.values()),
      f"runs {sorted(runs)} files {[r['files'] for r in runs.values()]}")

# The experiment, in the root run only.
exp_want = want["experiment"]
root = runs.get(".", {"hparams": [], "scalars": {}})
tags = [h["tag"] for h in root["hparams"]]
ok = tags == ["_hparams_/experiment"] and not root["scalars"]
detail = f"root run tags {tags}, scalars {list(root['scalars'])}"
if ok:
    exp = root["hparams"][0]["data"]
    ok = (set(exp) == {"experiment"} and exp["experiment"].get("description") == exp_want["description"]
          and exp["experiment"].get("timeCreatedSecs") == exp_want["time_created"])
    detail = f"experiment {exp}"
if ok:
    exp = exp["experiment"]
    infos = exp.get("hparamInfos", [])
    ok = len(infos) == len(exp_want["hparams"])
    detail = f"{len(infos)} hparam infos, want {len(exp_want['hparams'])}"
    for info, hw in zip(infos, exp_want["hparams"]):
        if "interval" in hw:
            dom = info.get("domainInterval", {})
            got_domain = ("interval", [dom.get("minValue", 0.0), dom.get("maxValue", 0.0)])
            want_domain = ("interval", hw["interval"])
        else:
            got_domain = ("discrete", info.get("domainDiscrete"))
            want_domain = ("discrete", hw["discrete"])
        if (info.get("name"), info.get("type"), got_domain) != (hw["name"], hw["type"], want_domain):
            ok, detail = False, f"hparam info {info}, want {hw}"
            break
if ok:
    metrics = [m["name"].get("tag") for m in exp.get("metricInfos", [])]
    groups = [m["name"].get("group", "") for m in exp.get("metricInfos", [])]
    ok = metrics == exp_want["metrics"] and groups == [""] * len(metrics)
    detail = f"metric tags {metrics} groups {groups}, want {exp_want['metrics']}"
check("tfevents_experiment", ok, detail)

# Sessions: start info, end info, scalars.
status_ok, start_ok, scalar_ok = True, True, True
status_detail = start_detail = scalar_detail = ""
n_scalars = 0
for run, sw in sessions.items():
    got = runs.get(run, {"hparams": [], "scalars": {}})
    tags = [h["tag"] for h in got["hparams"]]
    if tags != ["_hparams_/session_start_info", "_hparams_/session_end_info"]:
        start_ok = status_ok = False
        start_detail = status_detail = f"{run}: hparams tags {tags}"
        continue
    start = got["hparams"][0]["data"].get("sessionStartInfo")
    if start != {"hparams": sw["hparams"], "groupName": sw["group_name"],
                 "startTimeSecs": sw["start_time"]} or got["hparams"][0]["data"].get("version", 0) != 0:
        start_ok, start_detail = False, f"{run}: start {got['hparams'][0]['data']}, want {sw}"
    end = got["hparams"][1]["data"].get("sessionEndInfo")
    if end != {"status": sw["status"], "endTimeSecs": sw["end_time"]}:
        status_ok, status_detail = False, f"{run}: end {end}, want {sw['status']} at {sw['end_time']}"
    if sorted(got["scalars"]) != sorted(sw["scalars"]):
        scalar_ok, scalar_detail = False, f"{run}: tags {sorted(got['scalars'])}, want {sorted(sw['scalars'])}"
        continue
    for tag, series in sw["scalars"].items():
        read = got["scalars"][tag]
        n_scalars += len(series)
        if [s for s, _ in read] != [s for s, _ in series] or not all(
                same_float32(w, r) for (_, w), (_, r) in zip(series, read)):
            scalar_ok, scalar_detail = False, f"{run}/{tag}: read {read}, wrote {series}"
check("tfevents_session_start", start_ok, start_detail)
check("tfevents_session_status", status_ok and
      sorted(s["status"] for s in sessions.values()) == ["STATUS_FAILURE", "STATUS_RUNNING", "STATUS_SUCCESS"],
      status_detail or "the demo should cover success, failure and running")
check("tfevents_scalars", scalar_ok and n_scalars == 63, scalar_detail or f"{n_scalars} scalars, want 63")
EOF

# ---------------------------------------------- 2. canonical encoding
mkdir -p "$TMP/pb"
PROTOS=$(dirname "$READER")/protos
if ! (cd "$PROTOS" && protoc -I. -I/usr/include --python_out="$TMP/pb" $(find tensorboard -name '*.proto')) 2>"$TMP/protoc.err"; then
    fail tfevents_canonical "protoc failed: $(cat "$TMP/protoc.err")"
else
    "$PY" - "$TMP/pb" "$LOGDIR" <<'EOF'
import os, struct, sys
sys.path.insert(0, sys.argv[1])
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import plugin_data_pb2
n, bad = 0, []
for d, _, files in os.walk(sys.argv[2]):
    for f in files:
        blob = open(os.path.join(d, f), "rb").read()
        pos = 0
        while pos < len(blob):
            (length,) = struct.unpack("<Q", blob[pos:pos + 8])
            data = blob[pos + 12:pos + 12 + length]
            pos += 16 + length
            ev = event_pb2.Event.FromString(data)
            n += 1
            if ev.SerializeToString(deterministic=True) != data:
                bad.append(f"{f} record {n}")
            for v in ev.summary.value:  # the nested plugin content, too
                c = v.metadata.plugin_data.content
                if c and plugin_data_pb2.HParamsPluginData.FromString(c).SerializeToString(deterministic=True) != c:
                    bad.append(f"{f} record {n} plugin content")
ok = n > 0 and not bad
print(("PASS " if ok else "FAIL ") + "tfevents_canonical" + ("" if ok else f": {n} records, differ: {bad[:5]}"))
EOF
fi

# ------------------------------------------------------ 3. damage is seen
trial_file=$(ls "$LOGDIR"/trial_00000/events.out.tfevents.*)
size=$(stat -c %s "$trial_file")
mkdir -p "$TMP/cut/run" "$TMP/flip/run"
head -c $((size - 7)) "$trial_file" >"$TMP/cut/run/$(basename "$trial_file")"
expect_fail tfevents_detects_truncation "truncated record" -- "$PY" "$READER" "$TMP/cut"
cp "$trial_file" "$TMP/flip/run/"
flipped=$TMP/flip/run/$(basename "$trial_file")
# Flip one bit in the middle of the file (inside some record's data or CRC).
"$PY" - "$flipped" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x10
open(p, "wb").write(bytes(b))
EOF
expect_fail tfevents_detects_flipped_bit "bad (data|length) CRC|truncated" -- "$PY" "$READER" "$TMP/flip"

# ------------------------- 4. TensorBoard's own loaders (when importable)
# TensorBoard is not packaged by Debian; with it installed (pip), or with
# PYTHONPATH at a TensorBoard source tree whose protos were compiled with
# protoc (plus python3-absl), the logdir is also loaded the way `tensorboard`
# serves it: the event multiplexer, the data provider and the HParams
# plugin's own get_experiment / list_session_groups handlers.
if ! "$PY" -c 'import absl, numpy, tensorboard.backend.event_processing.plugin_event_multiplexer, tensorboard.plugins.hparams.list_session_groups' 2>/dev/null; then
    skip tfevents_tensorboard "TensorBoard's Python package is not importable by $PY (optional check)"
else
    "$PY" - "$TMP/expected.json" "$LOGDIR" <<'EOF'
import json, math, struct, sys
from google.protobuf import text_format
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, event_accumulator
from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups

want = json.load(open(sys.argv[1]))
logdir = sys.argv[2]
f32 = lambda x: struct.unpack("<f", struct.pack("<f", float(x)))[0]
same = lambda w, r: (math.isnan(f32(w)) and math.isnan(r)) or f32(w) == r
problems = []

# The classic EventAccumulator.Scalars() of every run and tag.
for run, sw in want["sessions"].items():
    acc = event_accumulator.EventAccumulator(f"{logdir}/{run}")
    acc.Reload()
    for tag, series in sw["scalars"].items():
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        if [s for s, _ in got] != [s for s, _ in series] or not all(
                same(w, r) for (_, w), (_, r) in zip(series, got)):
            problems.append(f"EventAccumulator {run}/{tag}: {got}")

# The HParams plugin's view.
mux = pem.EventMultiplexer()
mux.AddRunsFromDirectory(logdir)
mux.Reload()
tbc = base_plugin.TBContext(logdir=logdir, multiplexer=mux,
                            data_provider=data_provider.MultiplexerDataProvider(mux, logdir))
bctx, rctx = backend_context.Context(tbc), context.RequestContext()
exp = get_experiment.Handler(rctx, bctx, "", api_pb2.GetExperimentRequest()).run()
got_h = sorted((h.name, api_pb2.DataType.Name(h.type)) for h in exp.hparam_infos)
want_h = sorted((h["name"], h["type"]) for h in want["experiment"]["hparams"])
if got_h != want_h:
    problems.append(f"experiment hparams {got_h}, want {want_h}")
got_m = [m.name.tag for m in exp.metric_infos]
if got_m != want["experiment"]["metrics"]:
    problems.append(f"experiment metrics {got_m}")
req = text_format.Parse(
    "start_index: 0 slice_size: 100 aggregation_type: AGGREGATION_AVG "
    "allowed_statuses: [STATUS_UNKNOWN, STATUS_SUCCESS, STATUS_FAILURE, STATUS_RUNNING] "
    + " ".join(f'col_params {{ hparam: "{h}" }}' for h, _ in want_h)
    + " ".join(f' col_params {{ metric {{ tag: "{m}" }} }}' for m in got_m),
    api_pb2.ListSessionGroupsRequest())
groups = list_session_groups.Handler(rctx, bctx, "", req).run().session_groups
if sorted(g.name for g in groups) != sorted(want["sessions"]):
    problems.append(f"session groups {[g.name for g in groups]}")
for g in groups:
    sw = want["sessions"].get(g.name)
    if not sw or len(g.sessions) != 1:
        continue
    s = g.sessions[0]
    hp = {k: getattr(v, v.WhichOneof("kind")) for k, v in g.hparams.items()}
    if hp != sw["hparams"] or api_pb2.Status.Name(s.status) != sw["status"] \
            or (s.start_time_secs, s.end_time_secs) != (sw["start_time"], sw["end_time"]):
        problems.append(f"session {g.name}: {hp} {api_pb2.Status.Name(s.status)}")
    for mv in g.metric_values:  # the last epoch's value
        last_step, last = sw["scalars"][mv.name.tag][-1]
        if mv.training_step != last_step or not same(last, mv.value):
            problems.append(f"session {g.name} {mv.name.tag}: {mv.value} at {mv.training_step}")
print("PASS tfevents_tensorboard" if not problems else "FAIL tfevents_tensorboard: " + "; ".join(problems[:5]))
EOF
fi
