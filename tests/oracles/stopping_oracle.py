"""stopping_oracle.py - replay a one-worker hptune study's trials through
Keras' EarlyStopping rule and Optuna 3.1's own MedianPruner, and compare
every decision with what hptune recorded.

hptune ran the trials one after another in id order (one worker), each on
the curve of its configuration in the curves file, so the same sequence is
replayed here: for trial t, for epoch e = 1..E, report the value at step
e - 1; early stopping first (Keras 3 EarlyStopping.on_epoch_end, written from
its documented semantics: keras is not a Debian package), then
trial.should_prune() of a real optuna.pruners.MedianPruner.  A trial pruned
by Optuna is told PRUNED, any other COMPLETE.  hptune's per-epoch export
says for each trial how many epochs it recorded and why it stopped.

usage: stopping_oracle.py CURVES EXPORT_CSV METRIC min|max EPOCHS
         [--early PATIENCE MIN_DELTA] [--median N_STARTUP WARMUP INTERVAL N_MIN]
prints "OK <decisions> decisions, <early> early stops, <pruned> pruned" or
the first mismatches, exit 1.
"""
import csv
import math
import sys

import optuna
from optuna.trial import TrialState


def keras_stop_epoch(values, maximize, patience, min_delta, last_epoch):
    """The first 1-based epoch after which Keras' EarlyStopping stops, or None."""
    delta = abs(min_delta)
    best = -math.inf if maximize else math.inf
    wait = 0
    for k, v in enumerate(values):
        wait += 1
        improved = (v - delta > best) if maximize else (v + delta < best)
        if improved:
            best, wait = v, 0
            continue
        if wait >= patience and k > 0:
            return k + 1
    return None


def main():
    curves_path, export_path, metric, mode, epochs = sys.argv[1:6]
    maximize, epochs = mode == "max", int(epochs)
    early = median = None
    rest = sys.argv[6:]
    while rest:
        if rest[0] == "--early":
            early = (int(rest[1]), float(rest[2]))
            rest = rest[3:]
        elif rest[0] == "--median":
            median = tuple(int(x) for x in rest[1:5])
            rest = rest[5:]
        else:
            sys.exit("unknown argument " + rest[0])

    curves = {}
    with open(curves_path) as f:
        for row in csv.DictReader(f):
            key = (float(row["learning_rate"]), int(row["filters"]))
            curves.setdefault(key, {})[int(row["epoch"])] = float(row[metric])
    trials = {}
    with open(export_path) as f:
        for row in csv.DictReader(f):
            t = trials.setdefault(int(row["trial"]), {"epochs": 0})
            t["key"] = (float(row["learning_rate"]), int(row["filters"]))
            t["status"], t["stop"] = row["status"], row["stop"]
            if row["epoch"]:
                t["epochs"] = max(t["epochs"], int(row["epoch"]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=median[0], n_warmup_steps=median[1],
                                          interval_steps=median[2], n_min_trials=median[3])
              if median else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize" if maximize else "minimize", pruner=pruner)
    problems, decisions, n_early, n_pruned = [], 0, 0, 0
    for t in sorted(trials):
        got = trials[t]
        curve = [curves[got["key"]][e] for e in range(1, epochs + 1)]
        trial = study.ask()
        want_epochs, want_status, want_stop = epochs, "completed", ""
        for e in range(1, epochs + 1):
            trial.report(curve[e - 1], e - 1)
            if early and e < epochs and keras_stop_epoch(curve[:e], maximize, early[0], early[1], epochs) == e:
                want_epochs, want_stop = e, "early stop at epoch %d" % e
                n_early += 1
                break
            if median:
                decisions += 1
                if trial.should_prune():
                    want_epochs, want_status, want_stop = e, "stopped", "median rule at epoch %d" % e
                    n_pruned += 1
                    break
        if want_status == "stopped":
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, curve[want_epochs - 1])
        if (got["epochs"], got["status"], got["stop"]) != (want_epochs, want_status, want_stop):
            problems.append("trial %d: hptune %d epochs, %s, '%s'; reference %d epochs, %s, '%s'" % (
                t, got["epochs"], got["status"], got["stop"], want_epochs, want_status, want_stop))
    if problems:
        print("\n".join(problems[:5]))
        sys.exit(1)
    print("OK %d decisions, %d early stops, %d pruned" % (decisions, n_early, n_pruned))


main()
