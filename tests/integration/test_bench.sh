#!/usr/bin/env bash
# test_bench.sh - smoke test of `hptune bench --quick --json --peers`: it exits 0
# and prints one JSON object with positive rates for sgemm, both networks'
# training and the coordinator, a per-layer profile that adds up, and either
# PyTorch's rates on the same networks (its parameter counts checked against
# hptune's by the bench) or, when PyTorch is missing, a skip with the reason.
# No speed thresholds: CI machines vary.
source "$(dirname "$0")/lib.sh"

# Sanitizer builds: the MPI ranks the bench starts would fail LeakSanitizer on
# allocations Open MPI, HDF5 and OpenBLAS never free.  Suppress those libraries
# only (exact stacks need the slow unwinder), unless the caller chose options.
printf '%s\n' leak:libmpi.so leak:libopen-pal.so leak:libopen-rte.so leak:mca_ leak:libhwloc \
    leak:libevent leak:libhdf5 leak:libopenblas >"$TMP/lsan.supp"
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TMP/lsan.supp}

out="$TMP/bench.json" err="$TMP/bench.err"
"$HPTUNE" bench --quick --json --peers >"$out" 2>"$err"
rc=$?
if [ $rc -eq 0 ]; then pass bench_exits_0
else fail bench_exits_0 "exit status $rc; stderr: $(tail -5 "$err"); stdout: $(tail -c 2000 "$out")"; fi

if ! command -v python3 >/dev/null; then
    skip bench_json "python3 is not installed"
    exit 0
fi
if python3 -m json.tool "$out" >/dev/null 2>"$TMP/json.err"; then pass bench_json_parses
else fail bench_json_parses "$(cat "$TMP/json.err"); output: $(head -c 2000 "$out")"; exit 0; fi

if /usr/bin/python3 -c 'import torch' 2>/dev/null; then torch=1; else torch=0; fi
# One PASS/FAIL/SKIP line per figure.
python3 - "$out" "$torch" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))

def get(path):
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node

def positive(name, path):
    v = get(path)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
        print(f"PASS {name}")
    else:
        print(f"FAIL {name}: {path} is {v!r}, expected a positive number")

positive("bench_sgemm_rate", "sgemm.gflops")
positive("bench_small_train_rate", "networks.small.train_images_per_s")
positive("bench_wide_train_rate", "networks.wide.train_images_per_s")
positive("bench_rotate_augmentation_time", "data.rotate_batch_assembly_ms")

# the profile: every conv and dense layer has its GFLOPS, and the layers'
# times fit in the step they were measured in
for net in ("small", "wide"):
    layers, step = get(f"networks.{net}.layers") or [], get(f"networks.{net}.train_step_ms")
    problems = [l["layer"] for l in layers if l["layer"].split()[0] in ("conv", "dense")
                and not (l.get("forward_gflops") or 0) > 0]
    total = sum(l["forward_ms"] + l["backward_ms"] for l in layers)
    if layers and not problems and isinstance(step, (int, float)) and 0 < total <= step:
        print(f"PASS bench_{net}_layer_profile")
    else:
        print(f"FAIL bench_{net}_layer_profile: layers {layers!r}, step {step!r} ms, without GFLOPS: {problems}")

# the peer: measured when PyTorch is importable, else skipped saying how to install it
torch = sys.argv[2] == "1"
status, reason = get("peer.status"), get("peer.reason") or ""
if torch:
    if status == "ok":
        for net in ("small", "wide"):
            for key in ("train_images_per_s", "eval_images_per_s", "train_ratio", "eval_ratio"):
                positive(f"bench_pytorch_{net}_{key}", f"networks.{net}.pytorch.{key}")
    else:
        print(f"FAIL bench_pytorch_runs: PyTorch is importable but the peer is {status!r}: {reason}")
else:
    if status == "skipped" and "python3-torch" in reason:
        print("PASS bench_pytorch_skip_says_how_to_install")
        print(f"SKIP bench_pytorch_rates: {reason}")
    else:
        print(f"FAIL bench_pytorch_skip_says_how_to_install: status {status!r}, reason {reason!r}")
status = get("coordinator.status")
if status == "skipped":
    print(f"SKIP bench_coordinator_rate: {get('coordinator.reason')}")
elif status == "ok":
    positive("bench_coordinator_rate", "coordinator.reports_per_s")
else:
    print(f"FAIL bench_coordinator_rate: coordinator status {status!r}: {get('coordinator.reason')}")
EOF

# a Python without PyTorch (its site-packages hidden with -S): a skip saying
# how to install it, not a failure
printf '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n' >"$TMP/python-without-torch"
chmod +x "$TMP/python-without-torch"
out2="$TMP/bench_nopeer.json"
HPTUNE_PEER_PYTHON="$TMP/python-without-torch" "$HPTUNE" bench --quick --json --peers >"$out2" 2>"$TMP/bench2.err"
rc=$?
python3 - "$out2" "$rc" <<'EOF'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except ValueError as e:
    print(f"FAIL bench_peer_without_torch_skips: exit {sys.argv[2]}, output is not JSON ({e})")
    sys.exit(0)
peer = doc.get("peer", {})
reason = peer.get("reason", "")
if sys.argv[2] == "0" and peer.get("status") == "skipped" and "not importable" in reason \
        and "apt-get install python3-torch" in reason and doc["networks"]["small"]["pytorch"] is None:
    print("PASS bench_peer_without_torch_skips")
else:
    print(f"FAIL bench_peer_without_torch_skips: exit {sys.argv[2]}, peer {peer!r}")
EOF
