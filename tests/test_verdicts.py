"""The hardness verdict's rules on constructed data: three outcomes per bound, censoring in every
position of the grid, the order-statistic intervals, the early stop, the chance control, the
miniature lower bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

import claims
import sims
from claims import phase_only


DIMS = np.array([16, 24, 32, 48, 64, 96, 128])


def synthetic(exponent: float, log_power: float = 0.0, seeds: int = 32, spread: float = 0.3, seed: int = 0):
    """Per-N escape samples with median N^exponent (log N)^log_power and log-normal seed spread."""
    rng = np.random.default_rng(seed)
    return [d**exponent * np.log(d) ** log_power * np.exp(spread * rng.standard_normal(seeds)) for d in DIMS]


def fit_slopes(samples, budgets=None, which=("lower", "upper")):
    """The bound slopes of the sweep's policy (escape bootstrap, censored fit) for per-N samples."""
    budgets = np.full(len(DIMS), np.inf) if budgets is None else np.asarray(budgets, float)
    samples = [np.where(np.asarray(s) <= b, s, np.nan) for s, b in zip(samples, budgets, strict=True)]
    point = np.array([sims.upper_median(s) for s in samples])
    boot = np.stack([sims.escape_bootstrap(s, seed=i) for i, s in enumerate(samples)], axis=1)
    offsets = {"lower": (3, 0), "upper": (3, 2)}
    out = {}
    for name in which:
        e, q = offsets[name]
        fit = sims.fit_censored(
            DIMS,
            point,
            boot,
            budgets,
            *sims.DESIGNS["ratio_slope"],
            offset=lambda d, e=e, q=q: e * np.log(d) + q * np.log(np.log(d)),
        )
        out[name] = fit["slope"]
    return out


# ---------------------------------------------------------------- three outcomes per bound


@pytest.mark.parametrize(
    "which, lo, hi, want",
    [
        ("lower", -0.05, 0.3, "supported"),
        ("lower", -0.5, -0.2, "refuted"),
        ("lower", -0.3, 0.2, "undecided"),
        ("lower", -math.inf, 0.5, "undecided"),
        ("lower", -math.inf, -0.3, "refuted"),
        ("upper", -0.4, 0.05, "supported"),
        ("upper", 0.2, 0.6, "refuted"),
        ("upper", -0.1, 0.3, "undecided"),
        ("upper", -0.5, math.inf, "undecided"),
        ("upper", 0.3, math.inf, "refuted"),
    ],
)
def test_bound_rule_returns_each_outcome(which, lo, hi, want):
    est = sims.Estimate(0.5 * (lo + hi) if math.isfinite(lo + hi) else 0.0, lo, hi, 100)
    assert claims.bound_verdict(which, est) == want
    assert claims.bound_verdict(which, est.as_dict()) == want


def test_a_wider_interval_never_turns_a_verdict_into_supported():
    for which in ("lower", "upper"):
        for centre in np.linspace(-0.6, 0.6, 25):
            before = None
            for half in np.linspace(0.01, 2.0, 60):
                now = claims.bound_verdict(which, sims.Estimate(centre, centre - half, centre + half, 1))
                if before is not None and before != "supported":
                    assert now != "supported", (which, centre, half)
                before = now


def test_bound_rules_on_constructed_sweeps():
    """N^3 log N: both supported; N^2.5: the lower bound refuted; N^4: the upper bound refuted."""
    v = lambda s: {k: claims.bound_verdict(k, e) for k, e in fit_slopes(s).items()}
    assert v(synthetic(3.0, 1.0)) == {"lower": "supported", "upper": "supported"}
    assert v(synthetic(2.5))["lower"] == "refuted"
    assert v(synthetic(4.0))["upper"] == "refuted"
    noisy = v(synthetic(3.0, 1.0, seeds=6, spread=2.5))
    assert "undecided" in noisy.values()


# ---------------------------------------------------------------- censoring


def _old_rule(samples, budgets):
    """The rule before issue 12: censored medians at their budget, lower bound 'holds' when the
    slope interval's upper end is >= 0."""
    cut = [np.where(np.asarray(s) <= b, s, np.nan) for s, b in zip(samples, budgets, strict=True)]
    slope = sims.ratio_slope_fit(DIMS, cut, exponent=3, log_power=0, budgets=budgets)["slope"]
    return slope.hi >= 0


def test_censoring_at_small_n_no_longer_supports_the_lower_bound():
    # The truth violates the lower bound (n* ~ N^2.75); the smallest N has a budget far below its median.
    samples = synthetic(2.75, seed=3)
    budgets = np.full(len(DIMS), np.inf)
    budgets[0] = 0.05 * np.median(samples[0])
    assert _old_rule(samples, budgets), "the constructed case must fool the old rule"
    slopes = fit_slopes(samples, budgets)
    assert slopes["lower"].lo == -math.inf  # a censored small-N cell can only lower the slope further
    assert claims.bound_verdict("lower", slopes["lower"]) != "supported"


def test_censoring_at_large_n_leaves_the_upper_end_open():
    samples = synthetic(3.0, 1.0, seed=4)
    budgets = np.full(len(DIMS), np.inf)
    budgets[-1] = 0.2 * np.median(samples[-1])
    slopes = fit_slopes(samples, budgets)
    assert slopes["upper"].hi == math.inf and slopes["lower"].hi == math.inf
    assert np.isfinite(slopes["lower"].lo)
    assert claims.bound_verdict("upper", slopes["upper"]) in ("undecided", "refuted")


def test_fit_censored_matches_least_squares_without_censoring():
    samples = synthetic(3.0, 1.0, seed=5)
    point = np.array([sims.upper_median(s) for s in samples])
    boot = np.stack([sims.escape_bootstrap(s, seed=i) for i, s in enumerate(samples)], axis=1)
    fit = sims.fit_censored(DIMS, point, boot, np.full(7, np.inf), *sims.DESIGNS["power_law"])
    slope = np.polyfit(np.log(DIMS), np.log(point), 1)[0]
    assert fit["exponent"].value == pytest.approx(slope)
    assert fit["exponent"].lo < slope < fit["exponent"].hi and fit.censored_resamples == 0


# ---------------------------------------------------------------- order-statistic intervals


@pytest.mark.parametrize("n", [6, 8, 16, 32, 64])
def test_median_interval_ranks_have_the_nominal_binomial_coverage(n):
    l, u = sims.median_interval_ranks(n)
    cover = scipy.stats.binom.cdf(u - 1, n, 0.5) - scipy.stats.binom.cdf(l - 1, n, 0.5)
    assert cover >= 0.95
    # one rank narrower would fall below 95%
    assert scipy.stats.binom.cdf(u - 2, n, 0.5) - scipy.stats.binom.cdf(l, n, 0.5) < 0.95
    assert l + u == n + 1


@pytest.mark.parametrize("n", [8, 16])
def test_median_interval_covers_a_known_median_at_the_nominal_rate(n):
    rng = np.random.default_rng(n)
    trials, hits = 4000, 0
    true_median = scipy.stats.lognorm(s=1.5).median()
    for _ in range(trials):
        est = sims.median_os_ci(rng.lognormal(0, 1.5, n))
        hits += est.lo <= true_median <= est.hi
    rate = hits / trials
    l, u = sims.median_interval_ranks(n)
    exact = scipy.stats.binom.cdf(u - 1, n, 0.5) - scipy.stats.binom.cdf(l - 1, n, 0.5)
    assert abs(rate - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)


def test_statistics_depend_only_on_the_fastest_seeds():
    rng = np.random.default_rng(7)
    full = rng.lognormal(10, 1, 32)
    _, u = sims.median_interval_ranks(32)
    cut = np.sort(full)[u - 1]
    censored = np.where(full <= cut, full, np.nan)
    a, b = sims.median_os_ci(full), sims.median_os_ci(censored)
    assert (a.value, a.lo, a.hi) == (b.value, b.lo, b.hi)
    assert np.array_equal(sims.escape_bootstrap(full, seed=1), sims.escape_bootstrap(censored, seed=1))


# ---------------------------------------------------------------- early stop (engine + pipeline)


def test_early_stop_reports_exactly_the_statistics_of_a_full_run():
    exp = claims.Experiment(claims.SweepConfig(dims=(16,), seeds=16, null_seeds=0).validated())
    engine = exp.engine(16)
    budget = exp.budget(16)
    _, u = sims.median_interval_ranks(16)
    full = engine.run([exp.step(16)], np.arange(16), budget, n_checkpoints=48, devices=1)
    early = engine.run([exp.step(16)], np.arange(16), budget, n_checkpoints=48, devices=1, stop_after=u)
    a, b = full["escape_samples"][0], early["escape_samples"][0]
    cap = sims.order_statistic(a, u)
    assert np.isfinite(cap), "the test needs a cell whose interval closes within the budget"
    assert early["stop_samples"] < budget  # it did stop early
    assert early["stop_samples"] >= cap
    both = np.isfinite(b)
    assert np.array_equal(a[both], b[both]) and np.all(np.isfinite(a[both]))
    assert np.all(np.isnan(b[~both])) and np.all(~np.isfinite(a[~both]) | (a[~both] > early["stop_samples"]))
    ea, eb = sims.median_os_ci(a), sims.median_os_ci(b)
    assert (ea.value, ea.lo, ea.hi) == (eb.value, eb.lo, eb.hi)
    assert np.array_equal(sims.escape_bootstrap(a, seed=3), sims.escape_bootstrap(b, seed=3))


# ---------------------------------------------------------------- chance control


class _FakeCell:
    """A minimal stand-in for a cell dataset (escape samples and its stop)."""

    def __init__(self, esc, stop):
        import json

        import xarray as xr

        self.ds = xr.Dataset({"escape_samples": (("step", "seed"), np.asarray([esc], float))})
        self.ds.attrs["config"] = json.dumps({"budget": stop, "batch": 1})
        self.ds.attrs["stop_samples"] = float(stop)


def test_chance_check_excludes_a_cell_whose_control_escapes_as_fast():
    exp = claims.Experiment(claims.SweepConfig(dims=(16,), seeds=16).validated())
    signal = _FakeCell(np.arange(1, 17) * 100.0, 5000).ds
    slow = _FakeCell([np.nan] * 8, 1300).ds
    fast = _FakeCell([np.nan] * 7 + [500.0], 1300).ds
    started = _FakeCell([0.0] + [np.nan] * 7, 1300).ds  # a seed that started beyond m1 is left out
    assert claims.chance_check(exp, signal, slow)["eligible"] is True
    bad = claims.chance_check(exp, signal, fast)
    assert bad["eligible"] is False and bad["kind"] == "chance"
    assert claims.chance_check(exp, signal, started)["eligible"] is True
    few = _FakeCell([np.nan] * 4, 1300).ds
    assert claims.chance_check(exp, signal, few)["kind"] == "control"
    censored = _FakeCell([np.nan] * 16, 5000).ds
    assert claims.chance_check(exp, censored, slow)["kind"] == "censored"


# ---------------------------------------------------------------- the miniature lower bound


def test_miniature_rule_fails_when_escape_happens_and_needs_its_positive_control():
    rule = phase_only.MINIATURE.rule
    dims = np.array([16, 32, 64])
    rng = np.random.default_rng(0)
    bounded = [np.abs(rng.normal(0.9, 0.3, 256)) for _ in dims]  # the default tier's 256 seeds
    escaping = [0.5 * math.sqrt(d) * (1 + np.abs(rng.normal(0.5, 0.1, 256))) for d in dims]  # |m| >= 0.5
    escaped, none = [(16, 16)] * 3, [(0, 16)] * 3
    stats = phase_only.miniature_stats
    assert rule.decide({"claim": stats(dims, bounded), "control": escaped}) == claims.HOLDS
    assert rule.decide({"claim": stats(dims, escaping), "control": escaped}) == claims.FAILS
    # the positive control did not escape: the check had no power
    assert rule.decide({"claim": stats(dims, bounded), "control": none}) == claims.UNDECIDED


def test_exponent_rule_is_an_equivalence_test():
    rule = phase_only.EXPONENT_RULE
    assert rule.decide((0.05, -0.1, 0.2)) == claims.HOLDS
    assert rule.decide((-0.5, -0.7, -0.3)) == claims.FAILS
    assert rule.decide((0.1, -0.3, 0.7)) == claims.UNDECIDED  # too wide to decide
    assert rule.decide((0.1, None, 0.2)) == claims.UNDECIDED


def test_no_escape_control_rule_needs_enough_seeds():
    rule = phase_only.NO_ESCAPE.rule
    interval = claims.registry.proportion_interval
    assert rule.decide(interval(0, 192)) == claims.HOLDS
    assert rule.decide(interval(0, 32)) == claims.UNDECIDED  # too few seeds to say "absent"
    assert rule.decide(interval(40, 192)) == claims.FAILS


# ---------------------------------------------------------------- cells, configuration, theory


def test_cells_are_keyed_by_their_axes_and_keep_the_plain_names():
    assert claims.Cell(64).name == "N00064"
    assert claims.Cell(64, 2.0).name == "N00064_F2"
    assert claims.Cell(64, 0.25, null=True).name == "N00064_F0.25_null"
    scan = claims.Experiment(claims.SweepConfig.from_profile("scan", dims=(16, 24)))
    cells = scan.cells()
    assert len(cells) == 2 * len(scan.factors) * 2
    first = cells[0]
    assert first.factor == scan.predicted_best(16)[0] and cells[1] == first.control
    assert scan.reference(cells[2]) == first and scan.reference(first) is None
    assert scan.reference(first.control) == first


def test_step_schedule_and_budget():
    exp = claims.Experiment(claims.SweepConfig(dims=(16, 64)).validated())
    flat = claims.Experiment(claims.SweepConfig(dims=(16, 64), step_log_power=0.0).validated())
    assert exp.step(16) == pytest.approx(flat.step(16))  # every schedule starts from the same step
    assert flat.step(64) / exp.step(64) == pytest.approx(math.log(64) / math.log(16))
    big = claims.Experiment(claims.SweepConfig(dims=(16, 64), step0=1.0).validated())
    assert big.budget(64) == exp.budget(64)  # a larger step never gets a smaller budget
    assert exp.step(64, 4.0) == pytest.approx(4 * exp.step(64))


def test_ode_best_step_has_no_log_factor():
    exp = claims.Experiment(claims.SweepConfig(dims=(16,)).validated())
    ratios = [exp.predicted_optimum(d)[1] / d**3 for d in (64, 256, 1024)]
    assert max(ratios) / min(ratios) < 1.1  # N^3 with no log at the best step (~26 N^3)
    step, n = exp.predicted_optimum(64)
    assert n <= exp.predicted_escape(64) and step < exp.dynamics.critical_step(64, exp.start_overlap(64))


BAD = [
    ({"step_factors": (1.0,)}, "at least two"),
    ({"step_factors": (1.0, -2.0)}, "factor -2.0"),
    ({"step_factors": (2.0, 2.0)}, "repeats a factor"),
    ({"step_log_power": float("nan")}, "--step-log-power"),
    ({"step_exponent": 9.0}, "--step-exponent 9.0"),
    ({"null_seeds": -1}, "--null-seeds -1"),
]


@pytest.mark.parametrize("override, needle", BAD)
def test_new_flags_refuse_bad_values(override, needle):
    with pytest.raises(claims.UsageError, match=needle.replace("(", r"\(")):
        claims.SweepConfig.from_profile("smoke", **override)


def test_no_escape_verdict_names_escapes_the_theory_forbids():
    exp = claims.Experiment(claims.SweepConfig(dims=(16, 24), activation="he4").validated())
    rows = [
        {"N": 16, "escaped_fraction": 0.0, "seeds": 8, "started_escaped": 0},
        {"N": 24, "escaped_fraction": 0.25, "seeds": 8, "started_escaped": 1},
    ]
    v = claims.no_escape_verdict(exp, rows)
    assert v["no_escape"] == "refuted" and "N=24: 1" in v["reason"]
    rows[1]["escaped_fraction"] = 0.125
    assert claims.no_escape_verdict(exp, rows)["no_escape"] == "supported"
