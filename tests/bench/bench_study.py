#!/usr/bin/python3
"""bench_study.py - a whole study, hptune against Optuna 3.1 + PyTorch 1.13 (`make bench-study`).

A benchmark, not a test: it prints a table and asserts nothing.  What a user
would otherwise pick: the same random search run by hptune and by a small
Optuna + PyTorch program, on the same machine, one after the other:

  - seed 000's architecture family (jobs/random_seed000.yaml's space), TRIALS
    trials (default 8), EPOCHS epochs each (default 3), training on shards 0
    and 1 of datasets/cifar10.h5 (10,000 images), validating on shard 9
    (5,000 images), normalised with the file's channel mean and std;
  - two worker processes on the machine's cores: hptune as `mpirun -np 3`
    (rank 0 coordinates, 2 workers), Optuna as 2 processes sharing one study
    through a journal file (Optuna 3.1's JournalFileStorage), each
    PyTorch process on one thread, both drawing the next waiting trial;
  - the same configurations: hptune samples them; they are enqueued into
    the Optuna study (study.enqueue_trial) with the same parameter names and
    ranges, and the PyTorch objective builds and trains the network exactly
    as src/nn/net.c describes it (conv -> ReLU -> max-pool -> dropout blocks,
    dense head, He-normal init for ReLU layers and Glorot for the
    classifier, zero biases, Keras' epsilon 1e-7 and RMSprop rho 0.9, the
    epoch's shuffle, mean cross-entropy, constant learning rate).

A trial's score is its validation accuracy after its last epoch (as in
hptune's study); "best" is the highest over the trials.  Wall time runs from
starting the processes to the last one exiting (start-up, data loading and
all trials included).

    make bench-study                                       # TRIALS=8 EPOCHS=3
    /usr/bin/python3 tests/bench/bench_study.py --trials 8 --epochs 3 --hptune ./hptune
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# jobs/random_seed000.yaml's space (epochs fixed here): name -> (kind, values)
SPACE = {
    "num_blocks": ("int", (2, 4)),
    "filters": ("int", (16, 127)),
    "kernel_size": ("choice", (3, 5)),
    "conv_dropout": ("float", (0.1, 0.5)),
    "head_layers": ("int", (1, 3)),
    "head_units": ("choice", (64, 128, 256, 512)),
    "head_dropout": ("float", (0.2, 0.7)),
    "optimizer": ("choice", ("adam", "sgd", "rmsprop")),
    "learning_rate": ("float", (1.0e-5, 1.001e-2)),
    "batch_size": ("choice", (32, 64, 128)),
}


def job_text(trials, epochs, data):
    lines = ["# written by tests/bench/bench_study.py",
             "study: {name: bench-study, seed: 0, metric: val_accuracy}",
             "data: {path: %s, train_shards: [0, 1], val_shards: [9], test_eval: false}" % data,
             "strategy: {name: random, max_trials: %d}" % trials,
             "space:"]
    for name, (kind, values) in SPACE.items():
        if kind == "int":
            lines.append("  %s: {randint: [%d, %d]}" % (name, values[0], values[1]))
        elif kind == "float":
            lines.append("  %s: {uniform: [%r, %r]}" % (name, values[0], values[1]))
        else:
            lines.append("  %s: {choice: [%s]}" % (name, ", ".join(str(v) for v in values)))
    lines.append("fixed: {activation: relu, pool: max, pool_size: 2, epochs: %d}" % epochs)
    return "\n".join(lines) + "\n"


def load_average():
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


# ------------------------------------------------------------ hptune side --

def run_hptune(args, workdir):
    job = os.path.join(workdir, "job.yaml")
    with open(job, "w") as f:
        f.write(job_text(args.trials, args.epochs, os.path.abspath(args.data)))
    out = os.path.join(workdir, "hptune-study")
    mpirun = ["mpirun", "--oversubscribe", "-np", str(args.workers + 1)]
    if os.geteuid() == 0:
        mpirun.insert(1, "--allow-run-as-root")
    cmd = mpirun + [os.path.abspath(args.hptune), "run", job, "--out", out, "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit("bench_study: hptune run failed (exit %d):\n%s%s" % (proc.returncode, proc.stdout[-2000:],
                                                                     proc.stderr[-2000:]))
    exported = subprocess.run([os.path.abspath(args.hptune), "export", out, "--format", "json"],
                              capture_output=True, text=True, check=True).stdout
    trials = json.loads(exported)["trials"]
    return seconds, trials, " ".join(cmd)


# ------------------------------------------------------------ Optuna side --

def load_shards(path, shards):
    import h5py
    import numpy as np

    with h5py.File(path, "r") as f:
        offsets = f["train/shard_offsets"][()]
        images = np.concatenate([f["train/images"][offsets[s]:offsets[s + 1]] for s in shards])
        labels = np.concatenate([f["train/labels"][offsets[s]:offsets[s + 1]] for s in shards])
        mean, std = f["meta/mean"][()], f["meta/std"][()]
    return images, labels, mean, std


def build_network(torch, nn, c):
    """src/nn/net.c's network for config c (the keys of hptune's export)."""
    if c["activation"] != "relu" or c["pool"] != "max" or c["padding"] != "same" or c["stride"] != 1:
        raise ValueError("the mirror covers relu, max pooling, same padding and stride 1 only")
    layers, channels, size = [], 3, 32
    conv_layers, dense_layers = [], []
    filters = c["filters"]
    for block in range(c["num_blocks"]):
        f = filters * (2 ** block if c["filter_growth"] else 1)
        conv = nn.Conv2d(channels, f, c["kernel_size"], padding=c["kernel_size"] // 2)
        conv_layers.append(conv)
        layers.append(conv)
        if c["batch_norm"]:
            layers.append(nn.BatchNorm2d(f, eps=1e-3, momentum=0.01))
        layers.append(nn.ReLU())
        stride = c["pool_stride"] or c["pool_size"]
        layers.append(nn.MaxPool2d(c["pool_size"], stride))
        size = (size - c["pool_size"]) // stride + 1
        if c["conv_dropout"] > 0:
            layers.append(nn.Dropout(c["conv_dropout"]))
        channels = f
    layers.append(nn.Flatten())
    width = channels * size * size
    for _ in range(c["head_layers"]):
        dense = nn.Linear(width, c["head_units"])
        dense_layers.append(dense)
        layers += [dense, nn.ReLU()]
        if c["head_dropout"] > 0:
            layers.append(nn.Dropout(c["head_dropout"]))
        width = c["head_units"]
    classifier = nn.Linear(width, 10)
    layers.append(classifier)
    # hptune's init "auto" with ReLU: He normal (std sqrt(2/fan_in)) for the
    # hidden layers, Glorot uniform for the classifier, zero biases
    with torch.no_grad():
        for layer in conv_layers + dense_layers:
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(layer.bias)
        nn.init.xavier_uniform_(classifier.weight)
        nn.init.zeros_(classifier.bias)
    return nn.Sequential(*layers)


def make_optimizer(torch, params, c):
    lr, wd = c["learning_rate"], c["weight_decay"]
    if c["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(c["beta1"], c["beta2"]), eps=c["epsilon"],
                                weight_decay=wd)
    if c["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(c["beta1"], c["beta2"]), eps=c["epsilon"],
                                 weight_decay=wd)
    if c["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=c["momentum"], nesterov=bool(c["nesterov"]),
                               weight_decay=wd)
    if c["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=c["rho"], eps=c["epsilon"], momentum=c["momentum"],
                                   weight_decay=wd)
    raise ValueError("optimizer %r" % c["optimizer"])


def optuna_worker(args):
    """One of the Optuna processes: optimise until the study has its trials."""
    import optuna
    import torch
    from torch import nn

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fixed = json.load(open(args.fixed))
    images, labels, mean, std = load_shards(args.data, [0, 1])
    val_images, val_labels, _, _ = load_shards(args.data, [9])
    mean_t = torch.tensor(mean).view(1, 3, 1, 1)
    std_t = torch.tensor(std).view(1, 3, 1, 1)

    def normalise(x):
        return (torch.from_numpy(x).float() / 255.0 - mean_t) / std_t

    x_train, y_train = normalise(images), torch.from_numpy(labels.astype("int64"))
    x_val, y_val = normalise(val_images), torch.from_numpy(val_labels.astype("int64"))
    loss_fn = nn.CrossEntropyLoss()

    def objective(trial):
        c = dict(fixed)
        for name, (kind, values) in SPACE.items():
            if kind == "int":
                c[name] = trial.suggest_int(name, values[0], values[1])
            elif kind == "float":
                c[name] = trial.suggest_float(name, values[0], values[1])
            else:
                c[name] = trial.suggest_categorical(name, list(values))
        torch.manual_seed(trial.number)
        model = build_network(torch, nn, c)
        optimizer = make_optimizer(torch, model.parameters(), c)
        batch, n = c["batch_size"], len(y_train)
        accuracy = 0.0
        t0 = time.perf_counter()
        for _ in range(c["epochs"]):
            model.train()
            order = torch.randperm(n)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                optimizer.zero_grad()
                loss = loss_fn(model(x_train[idx]), y_train[idx])
                loss.backward()
                optimizer.step()
            model.eval()
            correct = 0
            with torch.no_grad():
                for start in range(0, len(y_val), batch):
                    logits = model(x_val[start:start + batch])
                    correct += int((logits.argmax(1) == y_val[start:start + batch]).sum())
            accuracy = correct / len(y_val)
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        return accuracy

    storage = optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(args.journal))
    study = optuna.load_study(study_name="bench-study", storage=storage)
    stop = optuna.study.MaxTrialsCallback(
        args.trials, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING,
                             optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED))
    study.optimize(objective, callbacks=[stop])


def run_optuna(args, workdir, hptune_trials):
    import warnings

    import optuna

    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    journal = os.path.join(workdir, "optuna.journal")
    fixed = {k: v for k, v in hptune_trials[0]["config"].items() if k not in SPACE}
    fixed_path = os.path.join(workdir, "fixed.json")
    json.dump(fixed, open(fixed_path, "w"))
    t0 = time.perf_counter()
    storage = optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(journal))
    study = optuna.create_study(study_name="bench-study", storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for t in hptune_trials:  # the same configurations, in hptune's order
        study.enqueue_trial({k: t["config"][k] for k in SPACE})
    cmd = [sys.executable, os.path.abspath(__file__), "--optuna-worker", "--journal", journal,
           "--fixed", fixed_path, "--data", os.path.abspath(args.data), "--trials", str(len(hptune_trials))]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(args.workers)]
    errors = [p.communicate()[1] for p in procs]
    seconds = time.perf_counter() - t0
    if any(p.returncode != 0 for p in procs):
        sys.exit("bench_study: an Optuna worker failed:\n" + "\n".join(e[-2000:] for e in errors))
    trials = optuna.load_study(study_name="bench-study", storage=storage).trials
    return seconds, trials, " ".join(cmd)


# ------------------------------------------------------------------ table --

def describe(c):
    return "%db %3df k%d %s lr %.4f b%d h%dx%d" % (c["num_blocks"], c["filters"], c["kernel_size"],
                                                  c["optimizer"], c["learning_rate"], c["batch_size"],
                                                  c["head_layers"], c["head_units"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=int(os.environ.get("TRIALS", 8)))
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", 3)))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hptune", default=os.environ.get("HPTUNE", os.path.join(ROOT, "hptune")))
    ap.add_argument("--data", default=os.path.join(ROOT, "datasets", "cifar10.h5"))
    ap.add_argument("--keep", help="keep the studies in this folder")
    ap.add_argument("--optuna-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--journal", help=argparse.SUPPRESS)
    ap.add_argument("--fixed", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.optuna_worker:
        optuna_worker(args)
        return 0

    missing = []
    for module, package in (("optuna", "python3-optuna"), ("torch", "python3-torch"), ("h5py", "python3-h5py")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        print("bench_study: skipped: %s cannot import %s; install with: apt-get install %s "
              "(python3-torch: or make deps-bench)" % (sys.executable, ", ".join(missing), " ".join(missing)))
        return 3
    if not shutil.which("mpirun"):
        print("bench_study: skipped: mpirun not found (apt-get install openmpi-bin)")
        return 3
    if not os.path.exists(args.data):
        print("bench_study: skipped: %s not found (make data)" % args.data)
        return 3

    import optuna
    import torch

    workdir = args.keep or tempfile.mkdtemp(prefix="hptune-bench-study.")
    os.makedirs(workdir, exist_ok=True)
    cpu = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    print("bench-study: %d trials x %d epochs, seed 000's space, train shards 0-1 (10,000 images), "
          "validation shard 9 (5,000), %d worker processes; %s, %d CPUs"
          % (args.trials, args.epochs, args.workers, cpu, os.cpu_count()))
    load_h = load_average()
    h_seconds, h_trials, h_cmd = run_hptune(args, workdir)
    load_o = load_average()
    o_seconds, o_trials, o_cmd = run_optuna(args, workdir, h_trials)

    h_acc = [t["epochs"][-1]["val_accuracy"] if t["epochs"] else float("nan") for t in h_trials]
    h_sec = [sum(e["seconds"] for e in t["epochs"]) for t in h_trials]
    by_params = {}
    for t in o_trials:
        by_params.setdefault(tuple(sorted(t.params.items())), []).append(t)
    print("\n%-5s %-44s %12s %12s %10s %10s" % ("trial", "configuration", "hptune acc", "Optuna acc",
                                                "hptune s", "PyTorch s"))
    o_best = float("nan")
    for i, t in enumerate(h_trials):
        key = tuple(sorted((k, t["config"][k]) for k in SPACE))
        match = by_params.get(key, [])
        o = match.pop(0) if match else None
        o_acc = o.value if o is not None and o.value is not None else float("nan")
        o_sec = o.user_attrs.get("seconds", float("nan")) if o is not None else float("nan")
        if o_acc == o_acc and not (o_best >= o_acc):
            o_best = o_acc
        print("%-5d %-44s %12.4f %12.4f %10.1f %10.1f" % (i, describe(t["config"]), h_acc[i], o_acc, h_sec[i],
                                                         o_sec))
    h_best = max(a for a in h_acc if a == a)
    print("\n%-34s %14s %14s" % ("", "hptune", "Optuna+PyTorch"))
    print("%-34s %14.1f %14.1f   (%.2fx)" % ("wall time to finish (s)", h_seconds, o_seconds, o_seconds / h_seconds))
    print("%-34s %14.4f %14.4f" % ("best validation accuracy", h_best, o_best))
    print("%-34s %14.2f %14.2f" % ("1-minute load average at start", load_h, load_o))
    version = subprocess.run([args.hptune, "--version"], capture_output=True, text=True).stdout
    print("\nversions: %s; Optuna %s, PyTorch %s" % ((version.splitlines() or ["?"])[0], optuna.__version__,
                                                   torch.__version__))
    print("hptune: %s\nOptuna workers (x%d): %s" % (h_cmd, args.workers, o_cmd))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
