"""The scaling claims: per-seed escape against the ODE, the two bounds of the hardness theorem read
from the scaling sweep, the sample exponents, the no-escape control, and the lower bound in
miniature."""

from __future__ import annotations

import functools as ft
import math
from pathlib import Path

import numpy as np

import sims

from .._config import Experiment, SweepConfig
from .._figures import scaling_figure
from .._sweep import run_cells
from .._verdicts import MARGIN, analyse, bound_rule
from ..registry import (
    AllOf,
    Below,
    Each,
    FractionAbove,
    Interval,
    Registration,
    WithControl,
    Within,
    proportion_interval,
    register,
)


ESCAPE_DIM = {"smoke": 12, "default": 32, "full": 64}
ESCAPE_SEEDS = {"smoke": 32, "default": 64, "full": 128}
ESCAPE_VS_ODE = Registration(
    prediction="n*_sim / n*_ODE = 1 per seed (overlap ODE from the seed's own start; theory brief 3.2, 3.6)",
    statistic="median over seeds of n*_sim / n*_ODE, 95% interpolated order-statistic interval (a seed "
    "that did not escape is right-censored: its ratio counts as +inf)",
    rule=Within.ratio(1.5, "the median ratio"),
    tiers={t: f"N = {ESCAPE_DIM[t]}, {ESCAPE_SEEDS[t]} seeds, conditioned start" for t in ESCAPE_DIM},
    rationale={
        "1.5": "the ODE neglects O(1/N) fluctuations and batch noise: a factor 1.5 is the accuracy asked "
        "of it at N >= 16 (unchanged from the rule before issue 13)",
        "budget 2x": "about 6x the ODE median at N = 16, so that censoring leaves the median finite",
    },
)


@register(
    "dynamics.escape_vs_ode",
    "Per seed, the simulated escape samples match the overlap ODE (drift + spherical shrink) "
    "integrated from that seed's start m0 = N^-1/2.",
    "theory brief 3.2, 3.3, 3.6",
    ESCAPE_VS_ODE,
)
def escape_vs_ode(tier: str, out: Path, root_seed: int = 0) -> dict:
    dim, seeds = ESCAPE_DIM[tier], ESCAPE_SEEDS[tier]
    exp = Experiment(
        # budget 2x the sweep's (about 6x the ODE median at N = 16): a seed that does not escape
        # enters the median as +inf, and at small N a few percent of seeds need 3x the median
        SweepConfig(dims=(dim,), seeds=seeds, start="conditioned", budget_factor=2.0).validated()
    )
    run = exp.engine(dim).run(
        [exp.step(dim)], np.arange(seeds), exp.budget(dim), n_checkpoints=8, root_seed=root_seed
    )
    esc = run["escape_samples"][0]
    pred = np.array(
        [exp.dynamics.ode_escape_samples(dim, exp.step(dim), a) for a in run["initial_overlap"][0]]
    )
    ratio = esc / pred
    est = sims.median_ci(ratio)
    return {
        "prediction": f"n_sim / n_ODE = 1 (N = {dim}, ODE median {np.median(pred):.3g} samples)",
        "measurement": f"median ratio {est} over {seeds} seeds, escaped {np.mean(np.isfinite(esc)):.0%}",
        "estimate": est,
    }


SMOKE_SWEEP = {"dims": (8, 10, 12), "seeds": 8, "budget_factor": 1.0, "null_seeds": 0}
"""The smoke tier's sweep: small N, few seeds, no null cells (a software check: one compiled program
per N, fewer than the tests' time allows for two per N; its verdicts mean nothing)."""
SWEEP_TIERS = {
    "smoke": "N = 8, 10, 12, 8 seeds, no chance control, budget factor 1, random start (software check)",
    "default": "N = 16..96 (6 N), 32 seeds, random start (the `default` profile)",
    "full": "N = 16..512 (11 N), 32 seeds, random start (the `full` profile)",
}


@ft.cache
def _sweep(
    tier: str, out: str, latent: str = "rademacher", activation: str | None = None, root_seed: int = 0
) -> tuple:
    # Tiers are the sweep's profiles (random start, single schedule).
    cfg = SweepConfig.from_profile(
        tier,
        latent=latent,
        activation=activation,
        root_seed=root_seed,
        **(SMOKE_SWEEP if tier == "smoke" else {}),
    )
    exp = Experiment(cfg)
    folder = Path(out) / f"sweep-{latent}-{exp.activation}-root{root_seed}"
    cells = run_cells(exp, folder, progress=False)
    summary = analyse(exp, cells)
    fig = str(scaling_figure(exp, cells, summary, folder / "scaling")[0])
    return exp, summary, fig


def _bound_claim(tier: str, out: Path, which: str, root_seed: int) -> dict:
    exp, summary, fig = _sweep(tier, str(out), root_seed=root_seed)
    if summary["bounds"] is None:
        return {
            "prediction": "-",
            "measurement": summary["verdict"]["reason"],
            "estimate": Interval(None, None, None),
            "figure": fig,
        }
    b = summary["bounds"][which]
    s = b["slope"]
    f = lambda v: "inf" if v is None else f"{v:+.3f}"
    return {
        "prediction": f"{b['quantity']} {'does not vanish' if which == 'lower' else 'does not grow'} as N "
        f"grows (k = {summary['information_exponent']}, {summary['start']} start, {b['basis']})",
        "measurement": f"slope of log({b['quantity']}) vs log N = {f(s['value'])} "
        f"[{f(s['lo'])}, {f(s['hi'])}] "
        f"over N = {summary['fit']['dims']}, {exp.config.seeds} seeds",
        "estimate": s,
        "figure": fig,
        "details": {"fit": summary["fit"], "verdict": b["verdict"], "excluded": summary["excluded"]},
    }


def _bound_registration(which: str) -> Registration:
    return Registration(
        prediction="BAGJ: no step lets online SGD from a random start escape with n << N^(k-1) = N^3"
        if which == "lower"
        else "BAGJ: n >> N^(k-1) log^2 N = N^3 log^2 N samples suffice",
        statistic=f"slope against log N of log({'n*/N^3' if which == 'lower' else 'n*/(N^3 log^2 N)'}), "
        "n* the per-N median escape count (order statistic), 95% bootstrap interval over seeds with "
        "censored medians as bounds (claims._verdicts)",
        rule=bound_rule(which),
        tiers=SWEEP_TIERS,
        rationale={
            f"eps = {MARGIN}": "half a power of log N adds more than 0.1 to the local slope for "
            "N <= 148: a whole missing log factor is never absorbed by the margin"
        },
        experiment="scaling.sweep (rademacher, -he4)",
    )


@register(
    "scaling.lower_bound",
    "Lower bound: online SGD from a random start needs n >> N^(k-1) = N^3 samples (the slope of "
    "log(n*/N^3) against log N lies above -eps).",
    "seed paper abstract; BAGJ",
    _bound_registration("lower"),
)
def lower_bound(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _bound_claim(tier, out, "lower", root_seed)


@register(
    "scaling.upper_bound",
    "Upper bound: n >> N^3 log^2 N samples suffice (the slope of log(n*/(N^3 log^2 N)) lies below +eps).",
    "seed paper abstract; BAGJ",
    _bound_registration("upper"),
)
def upper_bound(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _bound_claim(tier, out, "upper", root_seed)


EXPONENT_MARGIN = 0.25
"""The fitted exponent must lie within +-0.25 of the ODE's over the same N: about the exponent change
one power of log N makes over N = 16..96 (0.28), so agreement means agreement to better than a log."""
EXPONENT_MAX_WIDTH = 0.5
"""An interval wider than twice the margin cannot show agreement: UNDECIDED."""
EXPONENT_RULE = Within(
    -EXPONENT_MARGIN, EXPONENT_MARGIN, "fitted exponent minus the ODE's", max_width=EXPONENT_MAX_WIDTH
)


def _exponent_registration(case: str) -> Registration:
    return Registration(
        prediction=f"{case}: the sample exponent of the overlap ODE (drift + shrink, theory.OverlapDynamics) "
        "integrated from the median random start over the same N",
        statistic="fitted exponent of the per-N median escape count minus the ODE curve's exponent over the "
        "same N, 95% bootstrap interval (censored medians as bounds)",
        rule=EXPONENT_RULE,
        tiers=SWEEP_TIERS,
        rationale={
            f"{EXPONENT_MARGIN}": "one power of log N changes the fitted exponent by about 0.28 over "
            "N = 16..96",
            f"{EXPONENT_MAX_WIDTH}": "twice the margin: a wider interval cannot show agreement",
        },
        experiment=f"scaling.sweep ({case})",
    )


def _exponent_claim(tier: str, out: Path, latent: str, activation: str | None, root_seed: int) -> dict:
    exp, summary, fig = _sweep(tier, str(out), latent, activation, root_seed)
    th = summary["theory"]["theory_fit_exponent"]
    if summary["fit"] is None or th is None:
        return {
            "prediction": "-",
            "measurement": summary["verdict"]["reason"],
            "estimate": Interval(None, None, None),
            "figure": fig,
        }
    e = summary["fit"]["exponent"]
    f = lambda v: "inf" if v is None else f"{v:.3f}"
    shift = lambda v: None if v is None else v - th
    return {
        "prediction": f"k = {summary['information_exponent']}: exponent of the ODE curve over the same "
        f"N = {th:.3f} (nominal {summary['predicted_exponent']} plus log corrections)",
        "measurement": f"fitted exponent {f(e['value'])} [{f(e['lo'])}, {f(e['hi'])}] "
        f"(N = {summary['fit']['dims']}, {exp.config.seeds} seeds, {summary['start']} start)",
        "estimate": Interval(shift(e["value"]), shift(e["lo"]), shift(e["hi"])),
        "figure": fig,
    }


@register(
    "scaling.exponent_phase",
    "Phase task (Rademacher, -He4): the sample exponent matches the ODE's (about 3).",
    "theory brief 3.3, 3.6",
    _exponent_registration("phase task, Rademacher latent, -He4 (k = 4)"),
)
def exponent_phase(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _exponent_claim(tier, out, "rademacher", None, root_seed)


@register(
    "scaling.exponent_skewed_cubic",
    "A skewed latent (kappa_3 != 0) with a cubic activation has k = 3 and sample exponent about 2.",
    "theory brief 2.3 (BAGJ), issue 2",
    _exponent_registration("skewed latent, He3 (k = 3)"),
)
def exponent_skewed(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _exponent_claim(tier, out, "skewed", "he3", root_seed)


NO_ESCAPE_MARGIN = 0.05
NO_ESCAPE = Registration(
    prediction="+He4 on the Rademacher phase task: a_4 has the wrong sign, m = 0 is stable "
    "(theory.PopulationLoss refuses the task), so no seed should escape",
    statistic="fraction of the seeds that started below the escape overlap and reached it within the "
    "budget, pooled over N, exact 95% interval",
    rule=Below(NO_ESCAPE_MARGIN, "the escaped fraction"),
    tiers=SWEEP_TIERS,
    rationale={
        "5%": "an effect absent to within 5% of the seeds; with no escape the interval's upper end is "
        "below 5% from 73 seeds on (the default tier has 192)"
    },
    experiment="scaling.sweep (rademacher, +he4)",
    guards="scaling.upper_bound",
)


@register(
    "scaling.no_escape_control",
    "Control: with +He4 on the Rademacher phase task m = 0 is stable, so the same pipeline must find "
    "that (almost) no seed escapes.",
    "theory brief 3.1; issue 12",
    NO_ESCAPE,
)
def no_escape_control(tier: str, out: Path, root_seed: int = 0) -> dict:
    exp, summary, fig = _sweep(tier, str(out), "rademacher", "he4", root_seed)
    rows = summary["cells"]
    moved = sum(round(r["escaped_fraction"] * r["seeds"]) - r["started_escaped"] for r in rows)
    below = sum(r["seeds"] - r["started_escaped"] for r in rows)
    return {
        "prediction": "no seed that starts below the escape overlap reaches it (m = 0 stable)",
        "measurement": f"{moved} of {below} seeds escaped over N = {list(exp.config.dims)} "
        f"({summary['start']} start); {summary['verdict']['reason'].split(';')[0]}",
        "estimate": proportion_interval(int(moved), int(max(below, 1))),
        "figure": fig,
    }


MINI_DIMS = {"smoke": (8, 12), "default": (16, 32, 64, 128), "full": (16, 32, 64, 128, 256)}
MINI_SEEDS = {"smoke": 16, "default": 256, "full": 512}
MINI_CONTROL_SEEDS = {"smoke": 16, "default": 16, "full": 32}  # smoke: one compiled program per N
MINI_BOUND = 3.0
MINI_SLOPE = 0.15
MINI_CONTROL = 50.0
MINIATURE = Registration(
    prediction="BAGJ lower bound in miniature: with n = N^(k-1-1/2) samples at the ODE's best step "
    "(theory.OverlapDynamics.best_step_escape) from a random start, |m| sqrt(N) stays O(1); at "
    "n = C N^(k-1) log N at the same step the weight escapes",
    statistic="per N, the median over seeds of max_t |m_t| sqrt(N) (order-statistic interval) and the "
    "log-log slope of those medians against N (bootstrap over seeds); the control: escaped seeds per N",
    rule=WithControl(
        AllOf(
            (
                ("bounded", Each(Below(MINI_BOUND, "the median of max |m| sqrt(N)"), "N")),
                ("flat", Below(MINI_SLOPE, "the log-log slope of those medians")),
            )
        ),
        Each(FractionAbove(0.5, "the escaped fraction at n = 50 N^(k-1) log N"), "N"),
    ),
    tiers={
        t: f"N = {MINI_DIMS[t]}, {MINI_SEEDS[t]} seeds ({MINI_CONTROL_SEEDS[t]} for the control)"
        for t in MINI_DIMS
    },
    rationale={
        "3": "a uniform start has median |m0| sqrt(N) of 0.67 and 99th percentile 2.6: room for O(1) "
        "wandering, none for escape (|m| = 0.5 is 0.5 sqrt(N) >= 2 at N >= 16, growing like sqrt(N))",
        "0.15": "growth like N^0.15 is a factor 1.4 over a decade; an escape grows like N^0.5",
        "C = 50": "5 to 10 times the ODE's best-step escape count (about 26 N^3) over N = 16..128",
        "1/2": "more than half of the control's seeds must escape (exact interval above 0.5)",
        "256 seeds": "|m0| sqrt(N) is half-normal (log spread about 1.1): 256 seeds over N = 16..128 "
        "give the slope an interval of about +-0.11, inside the 0.15 margin",
    },
)


def miniature_stats(dims, maxima) -> dict:
    """The miniature's estimates from the per-N arrays of max |m| sqrt(N) over seeds."""
    meds = [sims.median_os_ci(m) for m in maxima]
    rng = np.random.default_rng(0)
    x = np.log(np.asarray(dims, float))
    boots = np.stack(
        [np.median(m[rng.integers(0, m.size, (sims.N_BOOT, m.size))], axis=1) for m in maxima], axis=1
    )
    slopes = np.polyfit(x, np.log(boots).T, 1)[0]
    slope = float(np.polyfit(x, np.log([np.median(m) for m in maxima]), 1)[0])
    lo, hi = np.quantile(slopes, [0.025, 0.975])
    return {"bounded": meds, "flat": Interval(slope, float(lo), float(hi))}


@register(
    "scaling.lower_bound_miniature",
    "With n = N^(k-1-1/2) samples at the ODE's best step from a random start, |m| sqrt(N) stays O(1) "
    "and does not grow with N, while n = 50 N^(k-1) log N at the same step escapes (positive control).",
    "BAGJ lower bound; issue 12",
    MINIATURE,
)
def lower_bound_miniature(tier: str, out: Path, root_seed: int = 0) -> dict:
    dims, seeds = MINI_DIMS[tier], MINI_SEEDS[tier]
    small, control, rows = [], [], []
    for dim in dims:
        exp = Experiment(SweepConfig(dims=(dim,), seeds=seeds, start="random", null_seeds=0).validated())
        step = exp.predicted_optimum(dim)[0]
        engine = exp.engine(dim)
        n_small = int(dim ** (exp.k - 1.5))
        n_large = int(math.ceil(MINI_CONTROL * dim ** (exp.k - 1) * math.log(dim)))
        run = engine.run([step], np.arange(seeds), n_small, n_checkpoints=4, root_seed=root_seed)
        small.append(run["max_abs_overlap"][0] * math.sqrt(dim))
        n_control = MINI_CONTROL_SEEDS[tier]
        pos = engine.run([step], np.arange(n_control), n_large, n_checkpoints=4, root_seed=root_seed)
        control.append((int(np.isfinite(pos["escape_samples"][0]).sum()), n_control))
        rows.append(
            f"N={dim}: median {np.median(small[-1]):.2f} at n={n_small}; {control[-1][0]}/{n_control} "
            f"escaped at n={n_large:.3g}"
        )
    est = miniature_stats(dims, small)
    return {
        "prediction": "median max_t |m_t| sqrt(N) = O(1) at n = N^(k-3/2), no growth with N; escape at "
        f"n = {MINI_CONTROL:g} N^(k-1) log N",
        "measurement": "; ".join(rows) + f"; log-log slope {est['flat']} ({seeds} seeds)",
        "estimate": {"claim": est, "control": control},
    }
