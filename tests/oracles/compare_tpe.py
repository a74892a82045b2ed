#!/usr/bin/python3
"""compare_tpe.py - compare tpe_dump's report with optuna_tpe.py's, per case family.

    /usr/bin/python3 tests/oracles/compare_tpe.py HPTUNE_REPORT OPTUNA_REPORT [TOL]

Both reports are lines of words; words that parse as numbers must agree to
TOL (default 1e-6) relative to max(1, |x|) -- absolute for numbers up to 1 --
(inf and nan only equal themselves), other words exactly, and the lines must
be the same in number and order.  One exception: the proposal may differ in
a group whose winning candidates have mathematically equal scores (equal to
1e-9; common with small categorical counts), where rounding decides which
one numpy.argmax and hptune pick; every candidate and score is still compared.  Prints "PASS tpe-<family> (...)" or
"FAIL tpe-<family>: <first difference>" per family and the largest
difference seen; exits 1 on any failure.
"""
import math
import sys


def read_cases(path):
    cases, order, current = {}, [], None
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if words[0] == "case":
                current = words[1]
                cases[current] = {"family": words[2], "lines": []}
                order.append(current)
            elif current is None:
                raise SystemExit("%s: output before the first case: %s" % (path, line.strip()))
            else:
                cases[current]["lines"].append(words)
    return cases, order


def as_number(word):
    try:
        return float(word)
    except ValueError:
        return None


def compare_lines(a, b, tol, worst):
    """None if the lines agree, else a description of the first difference.
    worst[0] is raised to the largest relative difference of agreeing lines."""
    local = [0.0]
    problem = _compare_words(a, b, tol, local)
    if problem is None:
        worst[0] = max(worst[0], local[0])
    return problem


def _compare_words(a, b, tol, worst):
    if len(a) != len(b):
        return "%d vs %d words" % (len(a), len(b))
    for i, (x, y) in enumerate(zip(a, b)):
        nx, ny = as_number(x), as_number(y)
        if nx is None or ny is None:
            if x != y:
                return "word %d: %s vs %s" % (i, x, y)
            continue
        if math.isnan(nx) or math.isnan(ny) or math.isinf(nx) or math.isinf(ny):
            if not (nx == ny or (math.isnan(nx) and math.isnan(ny))):
                return "word %d: %s vs %s" % (i, x, y)
            continue
        diff = abs(nx - ny) / max(1.0, abs(nx), abs(ny))
        worst[0] = max(worst[0], diff)
        if diff > tol:
            return "word %d: %s vs %s (difference %.3g)" % (i, x, y, diff)
    return None


def close(x, y, tol):
    return all(abs(a - b) <= tol * max(1.0, abs(a), abs(b)) for a, b in zip(x, y))


def proposal_tie(lines, ours, theirs, tol):
    """None if the two proposals differ only where a group's best candidates tie
    (scores equal to 1e-9, so rounding decides numpy.argmax and ours alike),
    else what differs.  lines: our report of the case (groups, candidates, scores)."""
    groups = {}
    for words in lines:
        if words[0] == "group" and words[2] in ("dims", "candidates", "scores"):
            groups.setdefault(words[1], {})[words[2]] = [float(w) for w in words[3:]]
    ours = [float(w) for w in ours[1:]]
    theirs = [float(w) for w in theirs[1:]]
    if len(ours) != len(theirs):
        return "proposal lengths differ"
    grouped = set()
    for g in groups.values():
        dims = [int(d) for d in g["dims"]]
        grouped.update(dims)
        ov, tv = [ours[d] for d in dims], [theirs[d] for d in dims]
        if close(ov, tv, tol):
            continue
        k = len(dims)
        rows = [g["candidates"][i * k:(i + 1) * k] for i in range(len(g["scores"]))]
        i = next((n for n, row in enumerate(rows) if close(row, ov, tol)), None)
        j = next((n for n, row in enumerate(rows) if close(row, tv, tol)), None)
        if i is None or j is None:
            return "dims %s: a proposal is not among the candidates" % dims
        si, sj = g["scores"][i], g["scores"][j]
        if abs(si - sj) > 1e-9 * max(1.0, abs(si)):
            return "dims %s: proposals %s vs %s, scores %.17g vs %.17g" % (dims, ov, tv, si, sj)
    for d in range(len(ours)):
        if d not in grouped and not close([ours[d]], [theirs[d]], tol):
            return "single-valued dim %d: %r vs %r" % (d, ours[d], theirs[d])
    return None


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    tol = float(sys.argv[3]) if len(sys.argv) == 4 else 1e-6
    ours, order = read_cases(sys.argv[1])
    theirs, _ = read_cases(sys.argv[2])
    families = {}
    for name in order:
        families.setdefault(ours[name]["family"], []).append(name)
    missing = [n for n in theirs if n not in ours]
    failed = bool(missing)
    if missing:
        print("FAIL tpe-cases: only in the Optuna report: %s" % " ".join(missing))
    worst_all = [0.0]
    for family, names in families.items():
        problem, numbers, model_cases, ties = None, 0, 0, 0
        worst = [0.0]
        for name in names:
            if name not in theirs:
                problem = "%s: missing from the Optuna report" % name
                break
            a, b = ours[name]["lines"], theirs[name]["lines"]
            model_cases += ["use_model", "1"] in a
            for i in range(max(len(a), len(b))):
                if i >= len(a) or i >= len(b):
                    extra = (a if i < len(a) else b)[i]
                    problem = "%s: line %d only in %s: %s" % (
                        name, i + 1, "hptune" if i < len(a) else "optuna", " ".join(extra[:8]))
                    break
                diff = compare_lines(a[i], b[i], tol, worst)
                if diff and a[i][0] == "proposal" and b[i][0] == "proposal" and len(a[i]) > 1 \
                        and a[i][1] != "random":
                    tie = proposal_tie(a, a[i], b[i], tol)
                    diff = diff + "; " + tie if tie else None
                    ties += tie is None
                if diff:
                    problem = "%s: line '%s': %s" % (name, " ".join(a[i][:6]), diff)
                    break
                numbers += sum(as_number(w) is not None for w in a[i])
            if problem:
                break
        worst_all[0] = max(worst_all[0], worst[0])
        if problem:
            failed = True
            print("FAIL tpe-%s: %s" % (family, problem))
        else:
            print("PASS tpe-%s (%d cases, %d with the model, %d numbers, largest difference %.2g%s)"
                  % (family, len(names), model_cases, numbers, worst[0],
                     ", %d exact score ties chose another candidate" % ties if ties else ""))
    print("# largest relative difference over all numbers: %.3g (tolerance %g)" % (worst_all[0], tol))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
