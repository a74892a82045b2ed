#!/usr/bin/python3
"""gen_tpe_cases.py - deterministic TPE test cases for tests/integration/test_tpe_optuna.sh.

    /usr/bin/python3 tests/oracles/gen_tpe_cases.py [SEED] > cases.txt

Writes cases in the format of tests/tools/tpe_dump.c, grouped in families
(the second word of each "case" line) that cover: univariate and multivariate,
categorical / float / log / step / int / int-log dimensions, 1..60 trials
(the weight ramp starts above 25 observations), ties in the objective and in
the parameter values, minimize and maximize, inactive (NaN) parameters,
running trials with and without constant liar, pruned (also with a NaN
value) and failed trials,
non-default settings, the startup phase, and truncated-normal tails.
Only the standard library is used, so the cases are the same everywhere.
"""
from decimal import Decimal
import math
import random
import sys

FAMILIES = [  # (family, number of cases)
    ("uni-float", 4), ("uni-log", 4), ("uni-step", 5), ("uni-cat", 4), ("uni-cond", 3),
    ("multi", 5), ("multi-cond", 3), ("liar", 4), ("failed-pruned", 5), ("settings", 4),
    ("startup", 2), ("ppf", 1), ("cond-propose", 8),
]

# cond-propose: a conditional space (Optuna's define-by-run), as `when D P K`
# lines: dim 1 only when dim 0 is 0, dim 2 only when dim 0 is 1, dim 3 only
# when dim 2 is 0 (a chain), dim 4 always.
COND = {1: (0, 0), 2: (0, 1), 3: (2, 0)}


def cond_active(x, d):
    while d in COND:
        parent, value = COND[d]
        if x[parent] != x[parent] or x[parent] != value:
            return False
        d = parent
    return True


def gen_cond_case(r, index):
    dims = [("cat", 3), make_dim(r, "float"), ("cat", 2), make_dim(r, r.choice(["int", "fstep"])),
            make_dim(r, "flog")]
    n_trials = r.randint(8, 40)
    favoured = r.randrange(3)  # the branch of dim 0 with the lower values
    optimum = [r.random() for _ in dims]
    trials = []
    for _ in range(n_trials):
        x = [sample_value(r, d, False) for d in dims]
        for d in range(len(x)):
            if not cond_active(x, d):
                x[d] = float("nan")
        f = sum((position(d, xi) - o) ** 2 for d, xi, o in zip(dims, x, optimum) if xi == xi)
        f += (0 if x[0] == favoured else 0.5) + 0.05 * r.random()
        u = r.random()
        if u < 0.1:
            trials.append(("pruned", f + r.random(), r.randint(1, 4), x))
        else:
            trials.append(("complete", f, 0, x))
    settings = {"maximize": 0, "multivariate": index % 2,
                "n_startup_trials": min(len(trials), r.choice([0, 5]))}
    lines = ["case cond-propose-%d cond-propose" % index,
             "settings " + " ".join("%s=%r" % kv for kv in sorted(settings.items())),
             "seed %d" % r.randrange(1 << 63)]
    lines += [dim_line(d) for d in dims]
    lines += ["when %d %d %d" % (d, p, k) for d, (p, k) in sorted(COND.items())]
    for state, value, step, x in trials:
        lines.append("trial %s %r %d %s" % (state, value, step, " ".join(repr(float(v)) for v in x)))
    lines.append("end")
    return "\n".join(lines)


def make_dim(r, kind):
    if kind == "cat":
        return ("cat", r.randint(2, 5))
    if kind == "float":
        low = round(r.uniform(-5, 1), 2)
        return ("float", low, round(low + r.uniform(0.5, 10), 2), 0, 0)
    if kind == "flog":
        low = 10 ** r.uniform(-5, -1)
        return ("float", float("%.3g" % low), float("%.3g" % (low * 10 ** r.uniform(1, 4))), 0, 1)
    if kind == "fstep":
        step = r.choice([0.1, 0.25, 0.5, 1.5])
        low = round(r.uniform(-1, 1), 1)
        high = low + step * r.randint(2, 16) + r.choice([0, 0, step / 3])  # sometimes off-lattice
        return ("float", low, float("%.12g" % high), step, 0)
    if kind == "int":
        step = r.choice([1, 1, 2, 3])
        low = r.randint(-5, 5)
        return ("int", low, low + step * r.randint(1, 12) + r.choice([0, 0, 1 if step > 1 else 0]),
                step, 0)
    if kind == "ilog":
        low = r.randint(1, 4)
        return ("int", low, low + r.randint(5, 400), r.choice([0, 1]), 1)
    raise ValueError(kind)


def dim_line(d):
    if d[0] == "cat":
        return "dim cat %d" % d[1]
    return "dim %s %r %r %r %d" % d


def lattice_top(d):
    return math.floor((d[2] - d[1]) / (d[3] if d[3] > 0 else 1) + 1e-9)


def sample_value(r, d, ties):
    """A random value of the dim; with ties, drawn from a few values only."""
    if d[0] == "cat":
        return r.randrange(d[1])
    kind, low, high, step, log = d
    if log:
        x = math.exp(r.uniform(math.log(low), math.log(high)))
        return min(max(round(x), low), high) if kind == "int" else x
    if step > 0 or kind == "int":
        s = step if step > 0 else 1
        k = r.randint(0, lattice_top(d))
        if ties:
            k = r.choice([0, k // 2, k])
        # decimal arithmetic: 0.5 + 12 * 0.1 > 1.7 in floats, and Optuna would reject it
        return float(Decimal(repr(low)) + k * Decimal(repr(s)))
    x = r.uniform(low, high)
    return min(max(round(x, 1), low), high) if ties else x


def position(d, x):
    """x mapped to [0, 1] for the objective."""
    if d[0] == "cat":
        return x / max(d[1] - 1, 1)
    if d[4]:
        return (math.log(x) - math.log(d[1])) / (math.log(d[2]) - math.log(d[1]))
    return (x - d[1]) / (d[2] - d[1]) if d[2] > d[1] else 0.0


def gen_case(r, family, index):
    kinds_by_family = {
        "uni-float": ["float"], "uni-log": ["flog", "ilog"], "uni-step": ["fstep", "int"],
        "uni-cat": ["cat"], "uni-cond": ["float", "cat", "int", "flog"],
        "multi": ["float", "cat", "int", "flog", "fstep", "ilog"],
        "multi-cond": ["float", "cat", "int", "flog"], "liar": ["float", "cat", "int"],
        "failed-pruned": ["float", "cat", "fstep", "ilog"],
        "settings": ["float", "cat", "int", "flog", "fstep"], "startup": ["float", "cat"],
        "ppf": ["float"],
    }
    kinds = kinds_by_family[family]
    n_dims = r.randint(1, 2) if family in ("uni-float", "uni-cat") else r.randint(1, 4)
    if family.startswith("multi"):
        n_dims = r.randint(2, 4)
    dims = [make_dim(r, r.choice(kinds)) for _ in range(n_dims)]
    if family in ("uni-step", "uni-log") and index == 0:
        dims = [make_dim(r, k) for k in kinds]  # one of each kind at least once
    n_trials = r.choice([r.randint(1, 12), r.randint(13, 35), r.randint(36, 60), r.randint(50, 60)])
    if family == "ppf":
        n_trials = r.randint(12, 20)
    ties = r.random() < 0.5 or family == "uni-step"
    settings = {"maximize": r.randint(0, 1)}
    if family.startswith("multi"):
        settings["multivariate"] = 1
    if family == "liar":
        settings["constant_liar"] = 1 if index % 2 == 0 else 0
    if family == "settings":
        settings.update(consider_prior=r.randint(0, 1), prior_weight=r.choice([0.5, 1.0, 2.5]),
                        consider_magic_clip=r.randint(0, 1), consider_endpoints=r.randint(0, 1),
                        n_ei_candidates=r.choice([1, 5, 50]), multivariate=r.randint(0, 1))
    p_pruned = 0.3 if family in ("failed-pruned", "liar") else 0.05
    p_failed = 0.25 if family == "failed-pruned" else (0.05 if family == "multi" else 0.0)
    p_running = 0.25 if family == "liar" else 0.0
    p_inactive = 0.3 if family.endswith("cond") else 0.0
    optimum = [r.random() for _ in dims]
    trials = []
    for _ in range(n_trials):
        x = [sample_value(r, d, ties) for d in dims]
        for i in range(len(x)):
            # dim 0 is always active; multi-cond: only the last dim is conditional,
            # so a joint group and an independent fallback group both appear
            conditional = i == len(x) - 1 if family == "multi-cond" else i > 0
            if conditional and r.random() < p_inactive:
                x[i] = float("nan")
        f = sum((position(d, xi) - o) ** 2 for d, xi, o in zip(dims, x, optimum) if xi == xi)
        f += 0.05 * r.random()
        if ties:
            f = round(f, 1)
        u = r.random()
        if u < p_failed:
            trials.append(("failed", float("nan"), 0, x))
        elif u < p_failed + p_running:
            trials.append(("running", float("nan"), 0, x))
        elif u < p_failed + p_running + p_pruned:
            value = float("nan") if family == "failed-pruned" and r.random() < 0.15 else f + r.random()
            trials.append(("pruned", value, r.randint(1, 4), x))  # NaN: Optuna's worst key
        else:
            trials.append(("complete", f, 0, x))
    n_finished = sum(t[0] in ("complete", "pruned", "failed") for t in trials)
    if family == "startup":
        settings["n_startup_trials"] = n_finished + r.randint(1, 5)
    else:
        settings["n_startup_trials"] = min(n_finished, r.choice([0, 1, 5, 10]))
    points = [[sample_value(r, d, False) for d in dims] for _ in range(4)]
    points.append([d[1] if d[0] != "cat" else d[1] - 1 for d in dims])  # the low ends
    points.append([(lambda d: d[2] if d[0] != "cat" else 0)(d) for d in dims])
    lines = ["case %s-%d %s" % (family, index, family),
             "settings " + " ".join("%s=%r" % kv for kv in sorted(settings.items())),
             "seed %d" % r.randrange(1 << 63)]
    lines += [dim_line(d) for d in dims]
    for state, value, step, x in trials:
        lines.append("trial %s %r %d %s" % (state, value, step, " ".join(repr(float(v)) for v in x)))
    for p in points:
        # a point on a stepped dim's off-lattice high is moved onto the lattice
        fixed = []
        for d, v in zip(dims, p):
            if d[0] != "cat" and (d[3] > 0 or d[0] == "int") and not d[4]:
                s = d[3] if d[3] > 0 else 1
                k = min(round((v - d[1]) / s), lattice_top(d))
                v = float(Decimal(repr(d[1])) + k * Decimal(repr(s)))
            fixed.append(repr(float(v)))
        lines.append("point " + " ".join(fixed))
    if family == "ppf":
        for q in (1e-12, 1e-6, 0.3, 0.5, 0.999999, 1 - 1e-12):
            for a, b in ((-1.0, 2.0), (-0.001, 0.001), (5.0, 5.0001), (-50.0, -49.9),
                         (8.0, 60.0), (-60.0, 60.0), (-37.0, -5.0), (0.5, 30.0), (-25.0, 1.0)):
                lines.append("ppf %r %r %r" % (q, a, b))
    lines.append("end")
    return "\n".join(lines)


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 20230131
    r = random.Random(seed)
    out = ["# generated by tests/oracles/gen_tpe_cases.py %d" % seed]
    for family, count in FAMILIES:
        for i in range(count):
            out.append(gen_cond_case(r, i) if family == "cond-propose" else gen_case(r, family, i))
    print("\n".join(out))


if __name__ == "__main__":
    main()
