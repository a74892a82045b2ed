#!/usr/bin/env bash
# test_bench.sh - smoke test of `hptune bench --quick --json`: it exits 0 and
# prints one JSON object with positive rates for sgemm, both networks'
# training and the coordinator.  No speed thresholds: CI machines vary.
source "$(dirname "$0")/lib.sh"

# Sanitizer builds: the MPI ranks the bench starts would fail LeakSanitizer on
# allocations Open MPI, HDF5 and OpenBLAS never free.  Suppress those libraries
# only (exact stacks need the slow unwinder), unless the caller chose options.
printf '%s\n' leak:libmpi.so leak:libopen-pal.so leak:libopen-rte.so leak:mca_ leak:libhwloc \
    leak:libevent leak:libhdf5 leak:libopenblas >"$TMP/lsan.supp"
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TMP/lsan.supp}

out="$TMP/bench.json" err="$TMP/bench.err"
"$HPTUNE" bench --quick --json >"$out" 2>"$err"
rc=$?
if [ $rc -eq 0 ]; then pass bench_exits_0
else fail bench_exits_0 "exit status $rc; stderr: $(tail -5 "$err"); stdout: $(tail -c 2000 "$out")"; fi

if ! command -v python3 >/dev/null; then
    skip bench_json "python3 is not installed"
    exit 0
fi
if python3 -m json.tool "$out" >/dev/null 2>"$TMP/json.err"; then pass bench_json_parses
else fail bench_json_parses "$(cat "$TMP/json.err"); output: $(head -c 2000 "$out")"; exit 0; fi

# One PASS/FAIL/SKIP line per figure.
python3 - "$out" <<'EOF'
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
status = get("coordinator.status")
if status == "skipped":
    print(f"SKIP bench_coordinator_rate: {get('coordinator.reason')}")
elif status == "ok":
    positive("bench_coordinator_rate", "coordinator.reports_per_s")
else:
    print(f"FAIL bench_coordinator_rate: coordinator status {status!r}: {get('coordinator.reason')}")
EOF
