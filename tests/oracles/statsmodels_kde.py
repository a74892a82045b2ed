#!/usr/bin/python3
"""statsmodels_kde.py - check hp_bohb's models against statsmodels' own KDE.

    /usr/bin/python3 tests/oracles/statsmodels_kde.py CASE DUMP [CASE DUMP ...]

CASE is a case file (format in tests/tools/bohb_dump.c), DUMP what
build/tests/tools/bohb_dump printed for it.  Prints "PASS bohb_kde_<case>" or
"FAIL bohb_kde_<case>: why" per case; exits 1 if any failed, 2 if statsmodels
is missing.

The densities and bandwidths come from statsmodels itself:
KDEMultivariate(data, var_type, bw='normal_reference'), bandwidths then
clipped at min_bandwidth, pdf() at each point -- exactly the calls HpBandSter's
BOHB config generator makes.  HpBandSter itself is not packaged for Debian,
so the rest is rewritten here from its source
(hpbandster/optimizers/config_generators/bohb.py, new_result and
impute_conditional_data), kept minimal:
  - which results are kept (dropped when a larger budget has a model), when a
    model exists, the good/bad split (np.argsort with kind='stable': hp_bohb
    breaks ties by arrival, see include/bohb.h);
  - imputation is random, so it is not recomputed: the dump's imputed rows are
    checked to be a possible outcome of impute_conditional_data (every NaN
    filled from one valid donor row of the same set, or with a value of the
    right kind when no row has the column), then used as the KDE data.
The vector form of each result is recomputed here from ConfigSpace 0.4's
definitions (UniformFloat normalisation, UniformInteger widened by 0.49999,
generalised to hptune's lattices as include/bohb.h documents) and compared.
"""
import math
import sys

import numpy as np

try:
    import statsmodels.api as sm
except ImportError as e:  # the shell test skips before calling us
    print("statsmodels cannot be imported: %s" % e)
    sys.exit(2)

REL_TOL = 1e-6
ABS_FLOOR = 1e-300  # both below this count as equal (underflow)


def parse_case(path):
    case = {"dims": [], "settings": (15, 64, 1 / 3, 3, 1e-3, 0), "budgets": 1, "results": [], "points": []}
    for line in open(path):
        line = line.split("#")[0].split()
        if not line:
            continue
        word, rest = line[0], line[1:]
        if word == "cat":
            case["dims"].append(("cat", int(rest[0])))
        elif word == "num":
            case["dims"].append(("num", float(rest[0]), float(rest[1]), int(rest[2]), float(rest[3]), int(rest[4])))
        elif word == "settings":
            case["settings"] = tuple(float(v) for v in rest)
        elif word == "budgets":
            case["budgets"] = int(rest[0])
        elif word == "result":
            case["results"].append((int(rest[0]), float(rest[1]), [float(v) for v in rest[2:]]))
        elif word == "point":
            case["points"].append([float(v) for v in rest])
    return case


def parse_dump(text):
    """{budget: {"results": n, "model": 0/1, "vector": {i: row}, "rows": {..}, "data": {..}, "bw": {..}, "pdf": {p: (good, bad)}}}"""
    budgets, cur = {}, None
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "budget":
            cur = {"results": int(f[3]), "model": int(f[5]), "vector": {}, "rows": {}, "data": {"good": [], "bad": []},
                   "bw": {}, "pdf": {}}
            budgets[int(f[1])] = cur
        elif f[0] == "vector":
            cur["vector"][int(f[1])] = [float(v) for v in f[2:]]
        elif f[0] == "rows":
            cur["rows"][f[1]] = [int(v) for v in f[2:]]
        elif f[0] == "data":
            cur["data"][f[1]].append([float(v) for v in f[2:]])
        elif f[0] == "bw":
            cur["bw"][f[1]] = np.array([float(v) for v in f[2:]])
        elif f[0] == "pdf":
            cur["pdf"][int(f[1])] = (float(f[2]), float(f[3]))
    return budgets


# ---- ConfigSpace 0.4 vector form -------------------------------------------

def to_vector(dim, x):
    if math.isnan(x):
        return float("nan")
    if dim[0] == "cat":
        return x
    _, low, high, log, step, is_int = dim
    t = np.log if log else (lambda v: v)
    if is_int or step > 0:
        s = step if step > 0 else 1.0
        k_max = math.floor((high - low) / s + 1e-9)
        x = min(low + min(max(round((x - low) / s), 0), k_max) * s, high)
        w = 0.49999 * s  # ConfigSpace 0.4 UniformInteger: lower - 0.49999, upper + 0.49999
        lower = low - (min(w, 0.5 * low) if log else w)
        a, b = t(lower), t(low + k_max * s + w)
    else:
        a, b = t(low), t(high)
    return min(max((t(x) - a) / (b - a), 0.0), 1.0)


# ---- HpBandSter's new_result, minimal ----------------------------------------

def replay(case):
    """Per budget: kept vectors and losses, and whether a model exists (by the counts)."""
    dims = case["dims"]
    d = len(dims)
    top, _, _, _, _, min_points = case["settings"]
    m = max(int(min_points), d + 1)
    kept = {k: ([], []) for k in range(case["budgets"])}
    has_model = set()
    for budget, loss, x in case["results"]:
        loss = loss if np.isfinite(loss) else np.inf
        if max(list(has_model) + [-1]) > budget:
            continue  # "skip model building if we already have a bigger model"
        configs, losses = kept[budget]
        configs.append([to_vector(dim, v) for dim, v in zip(dims, x)])
        losses.append(loss)
        n = len(configs)
        if n <= m - 1:
            continue
        n_good = max(m, int(top * n // 100))
        n_bad = max(m, int((100 - top) * n // 100))
        if min(n_good, n) <= d or len(range(n)[n_good:n_good + n_bad]) <= d:
            continue
        has_model.add(budget)
    return kept, has_model, m


def split(losses, n_good, n_bad):
    idx = np.argsort(np.array(losses), kind="stable")
    return list(idx[:n_good]), list(idx[n_good:n_good + n_bad])


def close(a, b, tol=1e-12):
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def explain_imputation(subset, i, target, vartypes):
    """Can impute_conditional_data (NaN loop until none is left) turn row i of subset into target?"""
    def legal_random(j, v):
        t = vartypes[j]
        return (0.0 <= v < 1.0) if t == 0 else (v == int(v) and 0 <= v < t)

    def walk(datum):
        nan = [j for j in range(len(datum)) if math.isnan(datum[j])]
        if not nan:
            return all(close(a, b) for a, b in zip(datum, target))
        j = nan[0]
        valid = [r for r in range(len(subset)) if np.isfinite(subset[r][j])]
        if not valid:
            if not legal_random(j, target[j]):
                return False
            new = list(datum)
            new[j] = target[j]
            return walk(new)
        tried = set()
        for r in valid:
            donor = tuple(subset[r][k] for k in nan)
            if donor in tried:
                continue
            tried.add(donor)
            new = list(datum)
            for k in nan:
                new[k] = subset[r][k]
            if all(math.isnan(new[k]) or close(new[k], target[k]) for k in nan) and walk(new):
                return True
        return False

    return walk(list(subset[i]))


def rel_ok(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    if abs(a) < ABS_FLOOR and abs(b) < ABS_FLOOR:
        return True
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def check_case(case_path, dump_path):
    case = parse_case(case_path)
    dump = parse_dump(open(dump_path).read())
    dims = case["dims"]
    d = len(dims)
    top, _, _, _, min_bw, _ = case["settings"]
    var_type = "".join("u" if dim[0] == "cat" else "c" for dim in dims)
    vartypes = [dim[1] if dim[0] == "cat" else 0 for dim in dims]
    kept, has_model, m = replay(case)
    problems = []
    for budget in range(case["budgets"]):
        configs, losses = kept[budget]
        got = dump.get(budget)
        if not configs:
            if got is not None:
                problems.append("budget %d: dump has results, oracle none" % budget)
            continue
        if got is None or got["results"] != len(configs):
            problems.append("budget %d: %d results kept, dump says %s" % (budget, len(configs), got and got["results"]))
            continue
        for i, vec in enumerate(configs):
            if not all(close(a, b) for a, b in zip(vec, got["vector"].get(i, [None] * d))):
                problems.append("budget %d result %d: vector %s, dump %s" % (budget, i, vec, got["vector"].get(i)))
        if got["model"] != (budget in has_model):
            problems.append("budget %d: model %d, oracle %d" % (budget, got["model"], budget in has_model))
            continue
        if budget not in has_model:
            continue
        n = len(configs)
        n_good = max(m, int(top * n // 100))
        n_bad = max(m, int((100 - top) * n // 100))
        good_idx, bad_idx = split(losses, n_good, n_bad)
        points = case["points"]
        for name, idx in (("good", good_idx), ("bad", bad_idx)):
            if got["rows"].get(name) != [int(i) for i in idx]:
                problems.append("budget %d %s rows %s, oracle %s" % (budget, name, got["rows"].get(name), list(idx)))
                continue
            subset = [configs[i] for i in idx]
            data = got["data"][name]
            if len(data) != len(subset):
                problems.append("budget %d %s: %d data rows, oracle %d" % (budget, name, len(data), len(subset)))
                continue
            for i in range(len(subset)):
                if not explain_imputation(subset, i, data[i], vartypes):
                    problems.append("budget %d %s row %d: %s is not an imputation of %s" %
                                    (budget, name, i, data[i], subset[i]))
            # the KDE data: our own vectors, with the dump's (checked) imputed values in the NaN places
            train = np.array([[s if np.isfinite(s) else t for s, t in zip(srow, trow)]
                              for srow, trow in zip(subset, data)])
            kde = sm.nonparametric.KDEMultivariate(data=train, var_type=var_type, bw="normal_reference")
            kde.bw = np.clip(kde.bw, min_bw, None)
            for j in range(d):
                if not rel_ok(kde.bw[j], got["bw"][name][j]):
                    problems.append("budget %d %s bw[%d] = %.17g, statsmodels %.17g" %
                                    (budget, name, j, got["bw"][name][j], kde.bw[j]))
            col = 0 if name == "good" else 1
            for p, point in enumerate(points):
                with np.errstate(all="ignore"):  # one-level categorical: bw/0 = inf, as in HpBandSter
                    want = float(kde.pdf(np.array([point])))
                have = got["pdf"][p][col]
                if not rel_ok(want, have):
                    problems.append("budget %d %s pdf at point %d = %.17g, statsmodels %.17g" %
                                    (budget, name, p, have, want))
    return problems


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: statsmodels_kde.py CASE DUMP [CASE DUMP ...]")
    failed = 0
    for case_path, dump_path in zip(args[::2], args[1::2]):
        name = "bohb_kde_" + case_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        try:
            problems = check_case(case_path, dump_path)
        except Exception as e:  # a malformed dump is a failure, not a crash
            problems = ["oracle error: %r" % e]
        if problems:
            failed += 1
            print("FAIL %s: %s%s" % (name, "; ".join(problems[:4]),
                                     " (+%d more)" % (len(problems) - 4) if len(problems) > 4 else ""))
        else:
            print("PASS %s" % name)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
