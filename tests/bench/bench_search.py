#!/usr/bin/python3
"""bench_search.py - how well the search strategies search (`make bench-search`).

A benchmark, not a test: it prints a table and asserts nothing.  On the
standard test functions of hptune's `objective: function` (src/objective/
functions.c), for SEEDS seeds each:

  branin, hartmann6 (no fidelity): best value found after 50 and 100 trials
    hptune random, hptune tpe, and Optuna 3.1's own TPESampler (the peer,
    same defaults: 10 start-up trials, 24 candidates, univariate) on the same
    function written here in Python (checked against hptune's values).
  hartmann6_fidelity (fidelity = epoch / 27): asha against bohb on the same
    rungs (1, 3, 9, 27 epochs, eta 3, 150 trials): the best full-fidelity
    value at the end, and the epochs BOHB needs to reach ASHA's final best.

hptune runs each study in one process (`hptune run`, one worker: a fixed
event order), so every number is reproducible.  Values are medians with the
quartiles [q1, q3] over the seeds; lower is better (the functions are
minimised; hartmann6's minimum is -3.32237, branin's 0.397887).

    make bench-search                     # SEEDS=20
    /usr/bin/python3 tests/bench/bench_search.py --seeds 5 --hptune ./hptune
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def branin(x1, x2):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1 * x1 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


HART_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HART_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
          [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(x):
    alpha = [1.0, 1.2, 3.0, 3.2]
    return -sum(alpha[i] * math.exp(-sum(HART_A[i][j] * (x[j] - HART_P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


SPACES = {
    "branin": [("x1", -5.0, 10.0), ("x2", 0.0, 15.0)],
    "hartmann6": [("x%d" % (i + 1), 0.0, 1.0) for i in range(6)],
}


def job_text(name, strategy, trials, seed, function, extra=""):
    space = SPACES[function.replace("_fidelity", "")]
    lines = ["study: {name: %s, seed: %d}" % (name, seed),
             "strategy: {name: %s, max_trials: %d%s}" % (strategy, trials, extra),
             "objective: {type: function, name: %s}" % function, "space:"]
    lines += ["  %s: {uniform: [%r, %r]}" % p for p in space]
    if "fidelity" not in function:
        lines.append("fixed: {epochs: 1}")
    return "\n".join(lines) + "\n"


def run_hptune(hptune, workdir, name, text):
    path = os.path.join(workdir, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(workdir, name)
    subprocess.run([hptune, "run", path, "--out", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    exported = subprocess.run([hptune, "export", out, "--format", "json"], check=True, capture_output=True, text=True)
    shutil.rmtree(out)
    return json.loads(exported.stdout)


def best_after(values, n):
    return min(values[:n])


def quartiles(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return q[1], q[0], q[2]


def fmt(xs):
    med, q1, q3 = quartiles(xs)
    return "%.4f [%.4f, %.4f]" % (med, q1, q3)


def fmt_int(xs):
    med, q1, q3 = quartiles(xs)
    return "%.0f [%.0f, %.0f]" % (med, q1, q3)


def hptune_series(hptune, workdir, function, strategy, seed, trials):
    d = run_hptune(hptune, workdir, "%s-%s-%d" % (function, strategy, seed),
                   job_text("b", strategy, trials, seed, function))
    return [t["epochs"][-1]["val_loss"] for t in sorted(d["trials"], key=lambda t: t["trial"])], d


def optuna_series(function, seed, trials):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SPACES[function]

    def objective(trial):
        x = [trial.suggest_float(n, lo, hi) for n, lo, hi in space]
        return branin(*x) if function == "branin" else hartmann6(x)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), direction="minimize")
    study.optimize(objective, n_trials=trials)
    return [t.value for t in study.trials]


def fidelity_curve(d, top):
    """(cumulative epochs, best full-fidelity value so far) in the order assignments ran."""
    values = {t["trial"]: {e["epoch"]: e["val_loss"] for e in t["epochs"]} for t in d["trials"]}
    epochs, best, curve = 0, math.inf, []
    for trial, start, end, _, _ in d["assignments"]:
        epochs += end - start
        if end == top:
            best = min(best, values[trial][top])
        curve.append((epochs, best))
    return curve


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=int(os.environ.get("SEEDS", "20")))
    ap.add_argument("--hptune", default=os.environ.get("HPTUNE", "./hptune"))
    args = ap.parse_args()
    hptune = os.path.abspath(args.hptune)
    seeds = list(range(1, args.seeds + 1))
    workdir = tempfile.mkdtemp(prefix="hptune-bench-search.")
    try:
        import optuna
        have_optuna = optuna.__version__
    except ImportError:
        have_optuna = None
    print("bench-search: %d seeds; hptune %s; Optuna %s" % (
        len(seeds), hptune, have_optuna or "not installed (make deps installs python3-optuna): peer skipped"))
    started = time.time()

    # the Python functions are hptune's (a check of the comparison itself)
    d = run_hptune(hptune, workdir, "check", job_text("c", "random", 5, 1, "hartmann6"))
    for t in d["trials"]:
        x = [t["config"]["x%d" % (i + 1)] for i in range(6)]
        assert abs(hartmann6(x) - t["epochs"][-1]["val_loss"]) < 1e-5, "hartmann6 differs from hptune's"

    print()
    print("best value after N trials (median [q1, q3] over %d seeds; lower is better)" % len(seeds))
    print("%-10s %-14s %-30s %-30s" % ("function", "strategy", "50 trials", "100 trials"))
    summary = {}
    for function in ("branin", "hartmann6"):
        rows = {}
        for strategy in ("random", "tpe"):
            series = [hptune_series(hptune, workdir, function, strategy, s, 100)[0] for s in seeds]
            rows["hptune " + strategy] = series
        if have_optuna:
            rows["optuna tpe"] = [optuna_series(function, s, 100) for s in seeds]
        for name, series in rows.items():
            at50 = [best_after(v, 50) for v in series]
            at100 = [best_after(v, 100) for v in series]
            summary[(function, name)] = (at50, at100)
            print("%-10s %-14s %-30s %-30s" % (function, name, fmt(at50), fmt(at100)))

    print()
    print("hartmann6_fidelity, rungs 1, 3, 9, 27 epochs (eta 3), 150 trials, one worker:")
    asha_final, asha_epochs, ratio, bohb_final, bohb_epochs = [], [], [], [], []
    extra = ", min_epochs: 1, max_epochs: 27, reduction_factor: 3"
    for s in seeds:
        curves = {}
        for strategy in ("asha", "bohb"):
            d = run_hptune(hptune, workdir, "f-%s-%d" % (strategy, s),
                           job_text("f", strategy, 150, s, "hartmann6_fidelity", extra))
            curves[strategy] = fidelity_curve(d, 27)
        a_epochs, a_best = curves["asha"][-1]
        b_epochs, b_best = curves["bohb"][-1]
        asha_final.append(a_best)
        asha_epochs.append(a_epochs)
        bohb_final.append(b_best)
        bohb_epochs.append(b_epochs)
        reach = next((e for e, b in curves["bohb"] if b <= a_best), None)
        ratio.append(reach / a_epochs if reach is not None else math.inf)
    print("  asha final best %s after %s epochs" % (fmt(asha_final), fmt_int(asha_epochs)))
    print("  bohb final best %s after %s epochs" % (fmt(bohb_final), fmt_int(bohb_epochs)))
    finite = [r for r in ratio if math.isfinite(r)]
    print("  epochs bohb needs to reach asha's final best, as a share of asha's epochs: median %.2f "
          "[q1 %.2f, q3 %.2f]; reached in %d of %d seeds" % (
              quartiles(ratio)[0], quartiles(ratio)[1], quartiles(ratio)[2], len(finite), len(seeds)))

    print()
    for function in ("branin", "hartmann6"):
        if have_optuna:
            h = statistics.median(summary[(function, "hptune tpe")][1])
            o = statistics.median(summary[(function, "optuna tpe")][1])
            r = statistics.median(summary[(function, "hptune random")][1])
            print("%s: median best after 100 trials: hptune tpe %.4f, optuna tpe %.4f, random %.4f" % (function, h, o, r))
    print("bench-search took %.0f s" % (time.time() - started))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
