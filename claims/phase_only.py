"""Claims of the phase-only hardness result: data-model identities, information exponents,
ODE-predicted escape, and the two sample-complexity bounds."""

from __future__ import annotations

import functools as ft
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import sympy as sp

import sims
import theory

from ._config import Experiment, SweepConfig
from ._figures import STYLE, save, scaling_figure
from ._registry import register
from ._sweep import run_cells
from ._verdicts import analyse


BETA = 10.0
SIZES = {"smoke": 200_000, "default": 1_000_000, "full": 4_000_000}


def _blocks_se(values: np.ndarray, fn, blocks: int = 20) -> tuple[float, float]:
    """Estimate fn(values) and its standard error from `blocks` independent blocks."""
    est = fn(values)
    parts = np.array([fn(b) for b in np.array_split(values, blocks)])
    return float(est), float(parts.std(ddof=1) / math.sqrt(blocks))


def _structured(
    n: int,
    dim: int = 16,
    latent: str = "rademacher",
    task: str = "phase",
    beta=BETA,
    key: int = 0,
    shape=None,
):
    basis = sims.FourierBasis(shape or (dim,))
    t = sims.SpikeTask.make(task, beta, latent)
    u = sims.draw_spike(jax.random.key(key), basis)
    x = sims.sample_class(jax.random.key(key + 1), t, basis, u, n, structured=True)
    return basis, np.asarray(u, np.float64), np.asarray(x, np.float64)


@register(
    "data.covariance",
    "Both classes of the phase task have identity covariance (same mean and power spectrum).",
    "theory brief 1.3(4), 3.8",
)
def covariance(tier: str, out: Path) -> dict:
    n = SIZES[tier]
    _, _, x = _structured(n)
    cov = x.T @ x / n
    prods = x[:, :, None] * x[:, None, :]
    se = prods.std(axis=0) / math.sqrt(n)
    z = np.abs(cov - np.eye(x.shape[1])) / se
    limit = scipy.stats.norm.isf(0.0005 / z.size)  # 99.9% family-wise (Bonferroni)
    return {
        "prediction": "Cov(x) = I (N = 16, structured class, beta = 10)",
        "measurement": f"max |Cov - I| = {np.abs(cov - np.eye(x.shape[1])).max():.4f} "
        f"(max z-score {z.max():.2f}, n = {n})",
        "comparison": f"every entry within {limit:.2f} standard errors (99.9% family-wise)",
        "passed": bool(z.max() <= limit),
    }


@register(
    "data.kappa4",
    "The spike coordinate of the Rademacher phase task has kappa_4 = -2 beta^2 / (1 + beta)^2.",
    "theory brief 1.3(4)",
)
def kappa4(tier: str, out: Path) -> dict:
    n = SIZES[tier]
    _, u, x = _structured(n)
    xu = x @ u
    pred = float(theory.spike_hermite_moments("phase", theory.latent("rademacher"), sp.Float(BETA))[4])
    est, se = _blocks_se(xu, lambda v: np.mean(v**4) - 3 * np.mean(v**2) ** 2)
    return {
        "prediction": f"kappa_4 = {pred:.4f}",
        "measurement": f"{est:.4f} +- {se:.4f} (1 s.e., n = {n})",
        "comparison": "|measured - predicted| <= 4 s.e.",
        "passed": bool(abs(est - pred) <= 4 * se),
    }


@register(
    "data.hermite4_overlap",
    "E[He_4(w.x)] = m^4 kappa_4 for unit w with overlap m (structured class).",
    "theory brief 3.1, 3.8",
)
def hermite4_overlap(tier: str, out: Path) -> dict:
    n = SIZES[tier]
    _, u, x = _structured(n)
    rng = np.random.default_rng(1)
    v = rng.normal(size=u.size)
    v -= (v @ u) * u
    v /= np.linalg.norm(v)
    kap = float(theory.spike_hermite_moments("phase", theory.latent("rademacher"), sp.Float(BETA))[4])
    rows, ok = [], True
    for m in (0.3, 0.6, 0.9):
        lam = x @ (m * u + math.sqrt(1 - m * m) * v)
        est, se = _blocks_se(lam**4 - 6 * lam**2 + 3, np.mean)
        ok &= abs(est - m**4 * kap) <= 4 * se
        rows.append(f"m={m}: {est:.4f}+-{se:.4f} vs {m**4 * kap:.4f}")
    return {
        "prediction": "E[He_4(w.x)] = m^4 kappa_4",
        "measurement": "; ".join(rows),
        "comparison": "each within 4 s.e.",
        "passed": bool(ok),
    }


@register(
    "data.equal_amplitudes",
    "Structured and noise inputs have the same expected Fourier amplitude in every mode "
    "(8 x 8 images): phase-only information.",
    "seed paper abstract; theory brief 1.3(2)",
)
def equal_amplitudes(tier: str, out: Path) -> dict:
    n = SIZES[tier] // 4
    basis = sims.FourierBasis((8, 8))
    task = sims.SpikeTask.make("phase", BETA, "rademacher")
    u = sims.draw_spike(jax.random.key(3), basis)
    a_s = np.asarray(basis.amplitudes(sims.sample_class(jax.random.key(4), task, basis, u, n, True)), float)
    a_n = np.asarray(basis.amplitudes(sims.sample_class(jax.random.key(5), task, basis, u, n, False)), float)
    z = (a_s.mean(0) - a_n.mean(0)) / np.sqrt(a_s.var(0) / n + a_n.var(0) / n)
    limit = scipy.stats.norm.isf(0.0005 / z.size)
    fig_path = None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(3.6, 2.6), constrained_layout=True)
        freq = np.concatenate(
            [
                basis.frequencies[: basis.n_self],
                basis.frequencies[basis.n_self : basis.n_self + basis.n_pairs],
            ]
        )
        ax.scatter(freq, a_n.mean(0), s=10, label="noise class", color="0.4")
        ax.scatter(freq, a_s.mean(0), s=10, marker="x", label="structured class", color="tab:red")
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set(
            xlabel="radial frequency |k|",
            ylabel=r"mean $|X_k|^2$",
            ylim=(0.9, 1.1),
            title=f"per-mode power, n = {n} per class",
        )
        ax.legend(frameon=False)
        fig_path = str(save(fig, Path(out) / "equal_amplitudes")[0])
    return {
        "prediction": "E|X_k|^2 = 1 in both classes for every mode k",
        "measurement": f"max |z| over {z.size} modes = {np.abs(z).max():.2f} (n = {n} per class)",
        "comparison": f"max |z| <= {limit:.2f} (99.9% family-wise)",
        "passed": bool(np.abs(z).max() <= limit),
        "figure": fig_path,
    }


def _measured_exponent(task: str, latent: str, activation: str, n: int) -> tuple[int | None, list]:
    """First j with sigma_j mu_j significantly non-zero, from samples (sims side only)."""
    _, u, x = _structured(n, task=task, latent=latent)
    xu = x @ u
    nodes = np.linspace(-12, 12, 120_001)  # dense grid (ReLU's kink defeats Gauss-Hermite)
    weights = np.exp(-(nodes**2) / 2)
    weights = weights / weights.sum()
    sigma = np.asarray(sims.activation(activation)(jnp.asarray(nodes)), float)
    table = []
    for j in range(1, 7):
        he = np.asarray(sims.hermite_prob(j, jnp.asarray(xu)), float)
        s_j = float(np.sum(weights * sigma * np.asarray(sims.hermite_prob(j, jnp.asarray(nodes)), float)))
        mu, se = _blocks_se(he, np.mean)
        table.append((j, s_j, mu, se))
        if abs(s_j) > 1e-6 and abs(mu) > 6 * se:
            return j, table
    return None, table


@register(
    "theory.information_exponents",
    "Information exponents: mean task k = 1, amplitude task k = 2, phase task k = 4 (Rademacher), "
    "k = 3 for a skewed latent; measured from samples as the first order with signal.",
    "theory brief 1.3(2), 3.1",
)
def information_exponents(tier: str, out: Path) -> dict:
    n = SIZES[tier]
    cases = [
        ("mean", "rademacher", "relu"),
        ("amplitude", "rademacher", "relu"),
        ("phase", "rademacher", "relu"),
        ("phase", "skewed", "he3"),
    ]
    preds, meas, ok = [], [], True
    for task, lat, act in cases:
        k_th = theory.PopulationLoss(task, lat, act, BETA).information_exponent
        k_sim, _ = _measured_exponent(task, lat, act, n)
        preds.append(f"{task}/{lat}/{act}: {k_th}")
        meas.append(f"{k_sim}")
        ok &= k_th == k_sim
    return {
        "prediction": "; ".join(preds),
        "measurement": "measured k: " + ", ".join(meas) + f" (6 s.e. rule, n = {n})",
        "comparison": "equal",
        "passed": bool(ok),
    }


ESCAPE_DIM = {"smoke": 16, "default": 32, "full": 64}
ESCAPE_SEEDS = {"smoke": 64, "default": 64, "full": 128}


@register(
    "dynamics.escape_vs_ode",
    "Per seed, the simulated escape samples match the overlap ODE (drift + spherical shrink) "
    "integrated from that seed's start m0 = N^-1/2.",
    "theory brief 3.2, 3.3, 3.6",
)
def escape_vs_ode(tier: str, out: Path) -> dict:
    dim, seeds = ESCAPE_DIM[tier], ESCAPE_SEEDS[tier]
    exp = Experiment(
        # budget 2x the sweep's (about 6x the ODE median at N = 16): a seed that does not escape
        # enters the median as +inf, and at small N a few percent of seeds need 3x the median
        SweepConfig(dims=(dim,), seeds=seeds, start="conditioned", budget_factor=2.0).validated()
    )
    run = exp.engine(dim).run([exp.step(dim)], np.arange(seeds), exp.budget(dim), n_checkpoints=8)
    esc = run["escape_samples"][0]
    pred = np.array(
        [exp.dynamics.ode_escape_samples(dim, exp.step(dim), a) for a in run["initial_overlap"][0]]
    )
    ratio = esc / pred
    est = sims.median_ci(ratio)
    lo, hi = 2 / 3, 3 / 2
    return {
        "prediction": f"n_sim / n_ODE = 1 (N = {dim}, ODE median {np.median(pred):.3g} samples)",
        "measurement": f"median ratio {est} over {seeds} seeds, escaped {np.mean(np.isfinite(esc)):.0%}",
        "comparison": f"95% interval inside [{lo:.2f}, {hi:.2f}]",
        "passed": bool(lo <= est.lo and est.hi <= hi),
    }


SMOKE_SWEEP = {"dims": (12, 16, 24, 32), "seeds": 16}
"""The smoke tier's sweep: small N, enough seeds for a bounded median interval (software check only)."""
WORDS = {"supported": True, "refuted": False, "undecided": None}


@ft.cache
def _sweep(tier: str, out: str, latent: str = "rademacher", activation: str | None = None) -> tuple:
    # Tiers are the sweep's profiles (random start); the smoke tier only checks that the pipeline
    # runs and returns a verdict.
    cfg = SweepConfig.from_profile(
        tier, latent=latent, activation=activation, **(SMOKE_SWEEP if tier == "smoke" else {})
    )
    exp = Experiment(cfg)
    folder = Path(out) / f"sweep-{latent}-{exp.activation}"
    cells = run_cells(exp, folder, progress=False)
    summary = analyse(exp, cells)
    fig = str(scaling_figure(exp, cells, summary, folder / "scaling")[0])
    return exp, summary, fig


def _bound_claim(tier: str, out: Path, which: str) -> dict:
    exp, summary, fig = _sweep(tier, str(out))
    if summary["bounds"] is None:
        return {
            "prediction": "-",
            "measurement": summary["verdict"]["reason"],
            "comparison": "-",
            "passed": None,
            "figure": fig,
        }
    b = summary["bounds"][which]
    s = b["slope"]
    k = summary["information_exponent"]
    quantity = b["quantity"]
    side = f"above -{b['margin']}" if which == "lower" else f"below +{b['margin']}"
    f = lambda v: "inf" if v is None else f"{v:+.3f}"
    return {
        "prediction": f"{quantity} {'does not vanish' if which == 'lower' else 'does not grow'} "
        f"as N grows (k = {k}, {summary['start']} start, {b['basis']})",
        "measurement": f"slope of log({quantity}) vs log N = {f(s['value'])} "
        f"[{f(s['lo'])}, {f(s['hi'])}] over N = {summary['fit']['dims']}, {exp.config.seeds} seeds",
        "comparison": f"supported if the 95% interval lies {side}, refuted if on the other side, "
        "else undecided",
        "passed": WORDS[b["verdict"]],
        "figure": fig,
        "details": {"fit": summary["fit"], "verdict": b["verdict"]},
    }


@register(
    "scaling.lower_bound",
    "Lower bound: online SGD from a random start needs n >> N^(k-1) = N^3 samples (n*/N^3 does not "
    "vanish; slope of log(n*/N^3) above -eps).",
    "seed paper abstract; BAGJ",
)
def lower_bound(tier: str, out: Path) -> dict:
    return _bound_claim(tier, out, "lower")


@register(
    "scaling.upper_bound",
    "Upper bound: n >> N^3 log^2 N samples suffice (slope of log(n*/(N^3 log^2 N)) below +eps).",
    "seed paper abstract; BAGJ",
)
def upper_bound(tier: str, out: Path) -> dict:
    return _bound_claim(tier, out, "upper")


EXPONENT_MARGIN = 0.25
"""The fitted exponent must lie within +-0.25 of the ODE's over the same N: about the exponent change
one power of log N makes over N = 16..128 (0.27), so agreement means agreement to better than a log."""
EXPONENT_MAX_WIDTH = 0.5
"""An interval wider than twice the margin cannot show agreement: UNDECIDED."""


def exponent_rule(lo: float | None, hi: float | None, target: float) -> bool | None:
    """Equivalence rule: True if [lo, hi] lies inside target +- EXPONENT_MARGIN and is at most
    EXPONENT_MAX_WIDTH wide, False if it lies entirely outside that band, else None."""
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    if hi < target - EXPONENT_MARGIN or lo > target + EXPONENT_MARGIN:
        return False
    if target - EXPONENT_MARGIN <= lo and hi <= target + EXPONENT_MARGIN and hi - lo <= EXPONENT_MAX_WIDTH:
        return True
    return None


def _exponent_claim(tier: str, out: Path, latent: str, activation: str | None) -> dict:
    exp, summary, fig = _sweep(tier, str(out), latent, activation)
    th = summary["theory"]["theory_fit_exponent"]
    if summary["fit"] is None or th is None:
        return {
            "prediction": "-",
            "measurement": summary["verdict"]["reason"],
            "comparison": "-",
            "passed": None,
            "figure": fig,
        }
    e = summary["fit"]["exponent"]
    f = lambda v: "inf" if v is None else f"{v:.3f}"
    return {
        "prediction": f"k = {summary['information_exponent']}: exponent of the ODE curve over the same "
        f"N = {th:.3f} (nominal {summary['predicted_exponent']} plus log corrections)",
        "measurement": f"fitted exponent {f(e['value'])} [{f(e['lo'])}, {f(e['hi'])}] "
        f"(N = {summary['fit']['dims']}, {exp.config.seeds} seeds, {summary['start']} start)",
        "comparison": f"95% interval inside ODE +- {EXPONENT_MARGIN} and at most {EXPONENT_MAX_WIDTH} wide "
        "(entirely outside: does not hold)",
        "passed": exponent_rule(e["lo"], e["hi"], th),
        "figure": fig,
    }


@register(
    "scaling.exponent_phase",
    "Phase task (Rademacher, -He4): the sample exponent matches the ODE's (about 3).",
    "theory brief 3.3, 3.6",
)
def exponent_phase(tier: str, out: Path) -> dict:
    return _exponent_claim(tier, out, "rademacher", None)


@register(
    "scaling.exponent_skewed_cubic",
    "A skewed latent (kappa_3 != 0) with a cubic activation has k = 3 and sample exponent about 2.",
    "theory brief 2.3 (BAGJ), issue 2",
)
def exponent_skewed(tier: str, out: Path) -> dict:
    return _exponent_claim(tier, out, "skewed", "he3")


@register(
    "scaling.no_escape_control",
    "Control: with +He4 on the Rademacher phase task m = 0 is stable (the theory refuses the task), so "
    "the same pipeline must find that no seed escapes.",
    "theory brief 3.1; issue 12",
)
def no_escape_control(tier: str, out: Path) -> dict:
    exp, summary, fig = _sweep(tier, str(out), "rademacher", "he4")
    v = summary["verdict"]
    moved = sum(round(r["escaped_fraction"] * r["seeds"]) - r["started_escaped"] for r in summary["cells"])
    return {
        "prediction": "no seed that starts below the escape overlap reaches it (m = 0 stable)",
        "measurement": f"{moved} seed(s) escaped over N = {list(exp.config.dims)}, {exp.config.seeds} seeds "
        f"each, {summary['start']} start",
        "comparison": "none may escape",
        "passed": WORDS[v["no_escape"]],
        "figure": fig,
    }


MINI_DIMS = {"smoke": (12, 16, 24), "default": (16, 32, 64), "full": (16, 32, 64, 128)}
MINI_SEEDS = {"smoke": 16, "default": 32, "full": 32}
MINI_BOUND = 3.0
"""The miniature's statistic (median over seeds of max_t |m_t| sqrt(N)) must stay at most 3: a uniform
start has median |m0| sqrt(N) of about 0.67 and its 99th percentile is 2.6, so 3 leaves room for
the O(1) wandering the theorem allows and none for escape (|m| = 0.5 is 0.5 sqrt(N) >= 2 at N >= 16)."""
MINI_SLOPE = 0.15
"""Its log-log slope against N must stay at most +0.15 (growth like N^0.15 over a decade is a factor
1.4; an escape makes it grow like N^0.5)."""
MINI_CONTROL = 50.0
"""The positive control runs n = 50 N^(k-1) log N samples at the same step: 5 to 10 times the ODE's
best-step escape count (about 26 N^3 from the median start) over N = 16..128, so the same
statistic must show the escape (|m| = 0.5 makes it 0.5 sqrt(N), slope +0.5)."""


def miniature_rule(medians, dims) -> bool:
    """True if the medians of max_t |m_t| sqrt(N) stay <= MINI_BOUND with log-log slope against N
    <= MINI_SLOPE ("|m| sqrt(N) stays O(1)"), False otherwise."""
    medians, dims = np.asarray(medians, float), np.asarray(dims, float)
    slope = float(np.polyfit(np.log(dims), np.log(medians), 1)[0])
    return bool(medians.max() <= MINI_BOUND and slope <= MINI_SLOPE)


def miniature_verdict(small, large, dims) -> bool | None:
    """The claim: the statistic stays O(1) at n = N^(k-3/2) (else DOES NOT HOLD) and does not at the
    positive control's n = C N^(k-1) log N (else UNDECIDED: the check would have shown nothing)."""
    if not miniature_rule(small, dims):
        return False
    return None if miniature_rule(large, dims) else True


def _max_overlap(engine, step, seeds, budget, dim) -> float:
    run = engine.run([step], np.arange(seeds), budget, n_checkpoints=4)
    return float(np.median(run["max_abs_overlap"][0] * math.sqrt(dim)))


@register(
    "scaling.lower_bound_miniature",
    "With n = N^(k-1-1/2) samples at the ODE's best step from a random start, |m| sqrt(N) stays O(1) "
    "and does not grow with N, while n = C N^(k-1) log N at the same step escapes (positive control).",
    "BAGJ lower bound; issue 12",
)
def lower_bound_miniature(tier: str, out: Path) -> dict:
    dims, seeds = MINI_DIMS[tier], MINI_SEEDS[tier]
    small, large, rows = [], [], []
    for dim in dims:
        exp = Experiment(SweepConfig(dims=(dim,), seeds=seeds, start="random", null_seeds=0).validated())
        step = exp.predicted_optimum(dim)[0]
        engine = exp.engine(dim)
        n_small = int(dim ** (exp.k - 1.5))
        n_large = int(math.ceil(MINI_CONTROL * dim ** (exp.k - 1) * math.log(dim)))
        small.append(_max_overlap(engine, step, seeds, n_small, dim))
        large.append(_max_overlap(engine, step, seeds, n_large, dim))
        rows.append(f"N={dim}: {small[-1]:.2f} at n={n_small}, {large[-1]:.2f} at n={n_large:.3g}")
    slope = lambda v: float(np.polyfit(np.log(dims), np.log(v), 1)[0])
    return {
        "prediction": "median max_t |m_t| sqrt(N) = O(1) at n = N^(k-3/2) (no growth with N); it grows at "
        f"n = {MINI_CONTROL:g} N^(k-1) log N",
        "measurement": "; ".join(rows)
        + f"; log-log slopes {slope(small):+.3f} (miniature) and {slope(large):+.3f} (control), {seeds} seeds",
        "comparison": f"miniature: medians <= {MINI_BOUND} and slope <= +{MINI_SLOPE}; the control must "
        "break that rule (otherwise undecided)",
        "passed": miniature_verdict(small, large, dims),
    }
