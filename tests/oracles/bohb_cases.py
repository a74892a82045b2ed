#!/usr/bin/python3
"""bohb_cases.py - write deterministic BOHB test cases for tests/tools/bohb_dump.

    /usr/bin/python3 tests/oracles/bohb_cases.py OUT_DIR

Writes OUT_DIR/case_NN.txt (the case format is described in
tests/tools/bohb_dump.c): spaces with continuous, log, integer, stepped and
categorical dimensions, 5..80 results with ties, failed (inf/nan) losses,
inactive (nan) values, several budgets, and vector-form points where both
densities are compared.  Uses numpy's RandomState with fixed seeds only.
"""
import os
import sys

import numpy as np

# (name, dims) -- dims as ("cat", n) or ("num", low, high, log, step, is_int)
SPACES = {
    "cont1": [("num", 0.0, 1.0, 0, 0, 0)],
    "cont3": [("num", -2.0, 3.0, 0, 0, 0), ("num", 0.0, 10.0, 0, 0, 0), ("num", 5.0, 6.0, 0, 0, 0)],
    "log2": [("num", 1e-5, 1e-1, 1, 0, 0), ("num", 0.0, 1.0, 0, 0, 0)],
    "int2": [("num", 1, 10, 0, 0, 1), ("num", 0.0, 1.0, 0, 0, 0)],
    "logint": [("num", 1, 512, 1, 0, 1), ("num", 16, 256, 0, 16, 1)],
    "step": [("num", 0.0, 0.5, 0, 0.05, 0), ("num", 1e-4, 1e-1, 1, 1e-4, 0), ("num", 0.001, 1.0, 1, 0.01, 0)],
    "cat1": [("cat", 3)],
    "cat2": [("cat", 2), ("cat", 5)],
    "cat8": [("cat", 8), ("num", 0.0, 1.0, 0, 0, 0)],
    "mixed": [("num", 1e-4, 1.0, 1, 0, 0), ("cat", 3), ("num", 8, 128, 0, 8, 1), ("cat", 2), ("num", 0.0, 0.9, 0, 0, 0)],
    "mixed5": [("num", 0.0, 1.0, 0, 0, 0), ("num", 1e-3, 1.0, 1, 0, 0), ("num", 2, 64, 1, 0, 1), ("cat", 4), ("num", 0.0, 0.5, 0, 0.1, 0)],
}

# (space, n results, n budgets, options)
CASES = [
    ("cont1", 5, 1, {}), ("cont1", 12, 1, {}), ("cont1", 40, 1, {"ties": True}),
    ("cont3", 8, 1, {}), ("cont3", 30, 1, {"failed": 0.2}), ("cont3", 80, 1, {}),
    ("log2", 20, 1, {}), ("log2", 60, 1, {"ties": True}),
    ("int2", 15, 1, {}), ("int2", 50, 1, {"failed": 0.1}),
    ("logint", 25, 1, {}), ("logint", 70, 1, {}),
    ("step", 30, 1, {}), ("step", 80, 1, {"ties": True}),
    ("cat1", 10, 1, {}), ("cat1", 40, 1, {"concentrate": True}),
    ("cat2", 20, 1, {}), ("cat2", 60, 1, {"concentrate": True}),
    ("cat8", 35, 1, {}), ("cat8", 80, 1, {"failed": 0.15}),
    ("mixed", 30, 1, {}), ("mixed", 80, 1, {"ties": True, "failed": 0.1}),
    ("mixed5", 45, 1, {}), ("mixed5", 80, 1, {"settings": (30, 64, 1 / 3, 3, 0.05, 0)}),
    ("cont3", 40, 1, {"settings": (25, 64, 1 / 3, 3, 1e-3, 12)}),
    ("mixed", 40, 1, {"inactive": 0.2}), ("cat8", 50, 1, {"inactive": 0.3}),
    ("cont3", 60, 3, {}), ("mixed5", 80, 3, {"failed": 0.1}), ("log2", 50, 2, {"inactive": 0.15}),
]


def sample_value(rs, dim):
    if dim[0] == "cat":
        return float(rs.randint(dim[1]))
    _, low, high, log, step, is_int = dim
    if log:
        x = float(np.exp(rs.uniform(np.log(low), np.log(high))))
    else:
        x = float(rs.uniform(low, high))
    if is_int or step > 0:
        s = step if step > 0 else 1.0
        k_max = np.floor((high - low) / s + 1e-9)
        k = min(max(round((x - low) / s), 0), k_max)
        x = min(low + k * s, high)
    return x


def write_case(path, seed, space_name, n, n_budgets, opts):
    rs = np.random.RandomState(seed)
    dims = SPACES[space_name]
    d = len(dims)
    lines = ["# case %d: space %s, %d results, %d budgets, %s" % (seed, space_name, n, n_budgets, opts),
             "dims %d" % d]
    for dim in dims:
        lines.append("cat %d" % dim[1] if dim[0] == "cat" else "num %r %r %d %r %d" % dim[1:])
    if "settings" in opts:
        lines.append("settings %r %d %r %r %r %d" % opts["settings"])
    lines.append("budgets %d" % n_budgets)
    for i in range(n):
        x = [sample_value(rs, dim) for dim in dims]
        if opts.get("concentrate"):  # good results share category 0: one level in the good KDE
            loss = rs.normal() + (0.0 if x[0] == 0 else 3.0)
        else:
            loss = float(np.sum([(v / (1 + abs(v))) ** 2 for v in x]) + 0.3 * rs.normal())
        if opts.get("ties"):
            loss = round(loss, 1)
        if rs.uniform() < opts.get("failed", 0.0):
            loss = float("inf") if rs.uniform() < 0.5 else float("nan")
        if "inactive" in opts:
            for j in range(d):
                if rs.uniform() < opts["inactive"]:
                    x[j] = float("nan")
        # several budgets: results arrive interleaved, more at the small budgets
        budget = 0
        if n_budgets > 1:
            budget = int(rs.choice(n_budgets, p=np.linspace(2, 1, n_budgets) / np.linspace(2, 1, n_budgets).sum()))
        lines.append("result %d %r %s" % (budget, loss, " ".join(repr(v) for v in x)))
    for p in range(6):
        point = []
        for dim in dims:
            if dim[0] == "cat":
                point.append(float(rs.randint(dim[1])))
            else:
                point.append(float(rs.uniform()) if p < 5 else 0.5)
        lines.append("point " + " ".join(repr(v) for v in point))
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(path + ".tmp", path)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bohb_cases.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for i, (space, n, n_budgets, opts) in enumerate(CASES):
        write_case(os.path.join(out, "case_%02d.txt" % i), 1000 + i, space, n, n_budgets, opts)


if __name__ == "__main__":
    main()
