#!/usr/bin/python3
"""optuna_tpe.py - the Optuna 3.1 side of tests/integration/test_tpe_optuna.sh.

    /usr/bin/python3 tests/oracles/optuna_tpe.py CASES_FILE

Reads the case format of tests/tools/tpe_dump.c and prints the same report,
computed by Optuna's own code: for every case a real Study is built with
optuna.trial.create_trial + study.add_trial, the real TPESampler proposes the
next trial through study.ask() and trial.suggest_*(), and the _ParzenEstimator
objects it builds on the way are recorded (by wrapping the class the sampler
module uses) and their internals printed.  The split is printed from Optuna's
_get_observation_pairs + _split_observation_pairs.

The sampler's numpy RandomState is replaced by a replay of hptune's hp_rng
stream (xoshiro256** seeded with splitmix64, re-implemented below) that
answers choice(p=...), uniform() and rand() exactly as numpy's RandomState
turns its own uniforms into those results (checked against numpy at start).
So the proposal itself is comparable, not only the deterministic numbers.

hptune's documented differences are applied here explicitly, nowhere else:
  - FAILED trials (ignored by Optuna) are added as RUNNING trials and the
    sampler runs with constant_liar so that they get the worst key; running
    trials of a case without constant liar are left out of the study.
  - with FAILED trials, n (startup and gamma) counts them: the sampler's gamma
    returns min(default_gamma(n), n_complete + n_pruned) and n_startup_trials
    is set to 0 (model phase) or infinity (startup) from hptune's n.
  - numpy 1.24's default argsort orders ties differently on different CPUs
    (AVX-512 sort or introsort), which changes Optuna's bandwidths for tied
    observations; the estimator module's argsort is pinned to kind="stable",
    the order hptune uses.
"""
import math
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
import optuna  # noqa: E402
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # noqa: E402
from optuna.samplers._tpe import _truncnorm  # noqa: E402
from optuna.samplers._tpe import parzen_estimator as pe_module  # noqa: E402
from optuna.samplers._tpe import sampler as sampler_module  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)

# ---------------------------------------------------------------- hp_rng ----
M64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class HpRng:
    """include/rng.h: hp_rng_seed + hp_rng_uniform."""

    def __init__(self, seed):
        self.s = []
        sm = seed & M64
        for _ in range(4):
            sm, v = _splitmix64(sm)
            self.s.append(v)

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53


class ReplayRandomState:
    """The three RandomState methods TPE uses, fed by a stream of uniforms."""

    def __init__(self, next_uniform):
        self.next_uniform = next_uniform
        self.used = []

    def _take(self, size):
        u = np.array([self.next_uniform() for _ in range(int(size))], dtype=float)
        self.used.extend(u.tolist())
        return u

    def choice(self, a, size=None, replace=True, p=None):
        # numpy RandomState.choice with p and replacement
        cdf = np.asarray(p, dtype=float).cumsum()
        cdf /= cdf[-1]
        return cdf.searchsorted(self._take(size), side="right")

    def uniform(self, low=0.0, high=1.0, size=None):
        return low + (high - low) * self._take(size)

    def rand(self, *shape):
        return self._take(shape[0])


def _self_check_replay():
    """The replay answers as numpy's RandomState does from the same uniforms."""
    for seed in range(3):
        p = np.random.RandomState(seed + 10).random_sample(7) + 0.01
        p /= p.sum()
        real, source = np.random.RandomState(seed), np.random.RandomState(seed)
        fake = ReplayRandomState(lambda: source.random_sample())
        assert (real.choice(7, 50, p=p) == fake.choice(7, 50, p=p)).all()
        assert (real.uniform(0, 1, 20) == fake.uniform(low=0, high=1, size=20)).all()
        assert (real.rand(9) == fake.rand(9)).all()


# -------------------------------------------------- instrumented Optuna ----
class _StableArgsortNumpy:
    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def argsort(a, *args, **kwargs):
        kwargs["kind"] = "stable"
        return np.argsort(a, *args, **kwargs)


pe_module.np = _StableArgsortNumpy()

RECORDED = []  # every _ParzenEstimator the sampler builds, in order


class RecordingParzenEstimator(pe_module._ParzenEstimator):
    def __init__(self, observations, search_space, parameters, predetermined_weights=None):
        super().__init__(observations, search_space, parameters, predetermined_weights)
        RECORDED.append(self)


sampler_module._ParzenEstimator = RecordingParzenEstimator

COMPARED = []  # (samples, log_l, log_g) of every candidate comparison, in order
_original_compare = sampler_module.TPESampler._compare


def _recording_compare(samples, log_l, log_g):
    COMPARED.append((samples, np.array(log_l), np.array(log_g)))
    return _original_compare(samples, log_l, log_g)


sampler_module.TPESampler._compare = staticmethod(_recording_compare)

# ------------------------------------------------------------------ cases ----


def parse_cases(path):
    cases, case = [], None
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok or tok[0].startswith("#"):
                continue
            key = tok[0]
            if key == "case":
                case = dict(name=tok[1], family=tok[2], settings={}, seed=0, dims=[], trials=[],
                            points=[], ppf=[], when={})
            elif key == "settings":
                for kv in tok[1:]:
                    k, v = kv.split("=")
                    case["settings"][k] = float(v)
            elif key == "seed":
                case["seed"] = int(tok[1])
            elif key == "dim":
                if tok[1] == "cat":
                    case["dims"].append(("cat", int(tok[2])))
                else:
                    case["dims"].append((tok[1], float(tok[2]), float(tok[3]), float(tok[4]),
                                         int(tok[5])))
            elif key == "trial":
                case["trials"].append((tok[1], float(tok[2]), int(tok[3]),
                                       [float(x) for x in tok[4:]]))
            elif key == "when":  # dim D only when categorical dim P holds index K
                case["when"][int(tok[1])] = (int(tok[2]), int(tok[3]))
            elif key == "point":
                case["points"].append([float(x) for x in tok[1:]])
            elif key == "ppf":
                case["ppf"].append([float(x) for x in tok[1:4]])
            elif key == "end":
                cases.append(case)
                case = None
    return cases


def distribution(dim):
    if dim[0] == "cat":
        return CategoricalDistribution(tuple(range(dim[1])))
    kind, low, high, step, log = dim
    if kind == "float":
        return FloatDistribution(low, high, log=bool(log), step=step if step > 0 else None)
    return IntDistribution(int(low), int(high), log=bool(log), step=int(step) if step > 0 else 1)


def external(dim, x):
    if dim[0] == "cat":
        return int(x)
    return int(x) if dim[0] == "int" else float(x)


def fmt(x):
    return "%.17g" % float(x)


def suggest(trial, name, dim):
    if dim[0] == "cat":
        return trial.suggest_categorical(name, tuple(range(dim[1])))
    kind, low, high, step, log = dim
    if kind == "float":
        return trial.suggest_float(name, low, high, log=bool(log), step=step if step > 0 else None)
    return trial.suggest_int(name, int(low), int(high), step=int(step) if step > 0 else 1,
                             log=bool(log))


def run_case(case):
    out = []
    put = out.append
    put("case %s %s" % (case["name"], case["family"]))
    st = dict(n_startup_trials=10, n_ei_candidates=24, consider_prior=1, prior_weight=1.0,
              consider_magic_clip=1, consider_endpoints=0, multivariate=0, constant_liar=0,
              maximize=0)
    st.update(case["settings"])
    dims = case["dims"]
    names = ["p%02d" % d for d in range(len(dims))]
    dists = [distribution(d) for d in dims]
    states = [t[0] for t in case["trials"]]
    n_failed = states.count("failed")
    n_ok = states.count("complete") + states.count("pruned")
    liar = bool(st["constant_liar"]) or n_failed > 0

    sampler = optuna.samplers.TPESampler(
        consider_prior=bool(st["consider_prior"]), prior_weight=st["prior_weight"],
        consider_magic_clip=bool(st["consider_magic_clip"]),
        consider_endpoints=bool(st["consider_endpoints"]),
        n_startup_trials=int(st["n_startup_trials"]), n_ei_candidates=int(st["n_ei_candidates"]),
        multivariate=bool(st["multivariate"]), constant_liar=liar, seed=0)
    n_hptune = n_ok + n_failed
    if n_failed > 0:  # hptune: failed trials count in n and never go below
        n_below = min(sampler_module.default_gamma(n_hptune), n_ok)
        sampler._gamma = lambda n: n_below
        sampler._n_startup_trials = 0 if n_hptune >= st["n_startup_trials"] else 1 << 40
    study = optuna.create_study(direction="maximize" if st["maximize"] else "minimize",
                                sampler=sampler)
    original = []  # study trial number -> case trial index
    for i, (state, value, step, x) in enumerate(case["trials"]):
        if state == "running" and not st["constant_liar"]:
            continue
        params = {names[d]: external(dims[d], x[d]) for d in range(len(dims)) if not math.isnan(x[d])}
        pdists = {names[d]: dists[d] for d in range(len(dims)) if not math.isnan(x[d])}
        kwargs = dict(params=params, distributions=pdists)
        if state == "complete":
            t = optuna.trial.create_trial(state=TrialState.COMPLETE, value=value, **kwargs)
        elif state == "pruned":
            t = optuna.trial.create_trial(state=TrialState.PRUNED,
                                          intermediate_values={step: value}, **kwargs)
        else:  # running, failed
            t = optuna.trial.create_trial(state=TrialState.RUNNING, **kwargs)
        study.add_trial(t)
        original.append(i)

    # The split, from Optuna's functions (before ask(): no trial being sampled yet).
    values, scores, _ = sampler_module._get_observation_pairs(study, names, liar)
    n_optuna = sum(s < float("inf") for s, _ in scores)
    n_finished = n_optuna + n_failed
    gamma = sampler._gamma(n_optuna)
    below, above = sampler_module._split_observation_pairs(scores, gamma, None)
    pool = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                    TrialState.RUNNING) if liar else
                            (TrialState.COMPLETE, TrialState.PRUNED))
    to_case = [original[t.number] for t in pool]
    below_trials = [to_case[i] for i in below]
    above_trials = [to_case[i] for i in above]
    use_model = n_optuna >= sampler._n_startup_trials
    put("n_finished %d" % n_finished)
    put("use_model %d" % int(use_model))
    put("n_below_target %d" % len(below))
    put(" ".join(["split_below"] + [str(i) for i in below_trials]))
    put(" ".join(["split_above"] + [str(i) for i in above_trials]))

    # The proposal through the real ask/suggest flow, recording the estimators.
    rng = HpRng(case["seed"])
    replay = ReplayRandomState(rng.uniform)
    sampler._rng = replay
    RECORDED.clear()
    COMPARED.clear()
    trial = study.ask()
    if case["when"]:  # define-by-run: a parameter is suggested only when its condition holds
        proposal = []
        for d in range(len(dims)):
            at, active = d, True
            while at in case["when"] and active:
                parent, value = case["when"][at]
                active = proposal[parent] == value  # nan (not suggested) never equals
                at = parent
            proposal.append(suggest(trial, names[d], dims[d]) if active else float("nan"))
        if use_model:
            for g, (samples, log_l, log_g) in enumerate(COMPARED):
                gnames = list(RECORDED[2 * g]._search_space.keys())
                put(" ".join(["group %d dims" % g] + [str(names.index(n)) for n in gnames]))
                columns = list(samples.values())
                put(" ".join(["group %d candidates" % g] +
                             [fmt(col[i]) for i in range(len(columns[0])) for col in columns]))
                put(" ".join(["group %d scores" % g] + [fmt(v) for v in log_l - log_g]))
            put(" ".join(["uniforms"] + [fmt(u) for u in replay.used]))
            put(" ".join(["proposal"] + [fmt(v) for v in proposal]))
        else:
            put("proposal random")
        return out
    proposal = [suggest(trial, names[d], dims[d]) for d in range(len(dims))]
    if len(RECORDED) != 2 * len(COMPARED):
        raise RuntimeError("%d estimators for %d comparisons" % (len(RECORDED), len(COMPARED)))
    case_params = [t[3] for t in case["trials"]]
    for g in range(len(RECORDED) // 2):
        pes = RECORDED[2 * g: 2 * g + 2]
        gnames = list(pes[0]._search_space.keys())
        gdims = [names.index(n) for n in gnames]
        put(" ".join(["group %d dims" % g] + [str(d) for d in gdims]))
        for label, members in (("below", below_trials), ("above", above_trials)):
            active = [i for i in members if all(not math.isnan(case_params[i][d]) for d in gdims)]
            put(" ".join(["group %d %s_trials" % (g, label)] + [str(i) for i in active]))
        for label, pe in zip(("below", "above"), pes):
            put(" ".join(["group %d %s weights" % (g, label)] + [fmt(w) for w in pe._weights]))
            for name, d in zip(gnames, gdims):
                if dims[d][0] == "cat":
                    for j, row in enumerate(pe._categorical_weights[name]):
                        put(" ".join(["group %d %s dim %d table %d" % (g, label, d, j)] +
                                     [fmt(p) for p in row]))
                else:
                    q = pe._q[name] if pe._q[name] is not None else 0.0
                    put("group %d %s dim %d bounds %s %s %s" % (g, label, d, fmt(pe._low[name]),
                                                                fmt(pe._high[name]), fmt(q)))
                    put(" ".join(["group %d %s dim %d mus" % (g, label, d)] +
                                 [fmt(v) for v in pe._mus[name]]))
                    put(" ".join(["group %d %s dim %d sigmas" % (g, label, d)] +
                                 [fmt(v) for v in pe._sigmas[name]]))
            if case["points"]:
                samples = {}
                for name, d in zip(gnames, gdims):
                    col = [p[d] for p in case["points"]]
                    samples[name] = np.array(col, dtype=int if dims[d][0] == "cat" else float)
                put(" ".join(["group %d %s logpdf" % (g, label)] +
                             [fmt(v) for v in pe.log_pdf(samples)]))
    for q, a, b in case["ppf"]:
        x = _truncnorm.ppf(np.array([q]), a, b)[0]
        put("ppf %s %s %s %s" % (fmt(q), fmt(a), fmt(b), fmt(x)))
    for g, (samples, log_l, log_g) in enumerate(COMPARED):
        columns = list(samples.values())
        flat = [fmt(col[i]) for i in range(len(columns[0])) for col in columns]
        put(" ".join(["group %d candidates" % g] + flat))
        put(" ".join(["group %d scores" % g] + [fmt(v) for v in log_l - log_g]))
    if not use_model:
        if RECORDED:
            raise RuntimeError("startup phase but the sampler built estimators")
        put("proposal random")
    else:
        put(" ".join(["uniforms"] + [fmt(u) for u in replay.used]))
        put(" ".join(["proposal"] + [fmt(v) for v in proposal]))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: optuna_tpe.py CASES_FILE")
    if optuna.__version__ != "3.1.0":
        print("# warning: optuna %s, the reference is 3.1.0" % optuna.__version__)
    _self_check_replay()
    for case in parse_cases(sys.argv[1]):
        print("\n".join(run_case(case)))


if __name__ == "__main__":
    main()
