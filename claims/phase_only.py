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
from ._sweep import analyse, run_cells


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


@ft.cache
def _sweep(tier: str, out: str, latent: str = "rademacher", activation: str | None = None) -> tuple:
    # Tiers are profiles, except that the smoke tier skips N = 8 (its escape is a few batches from a
    # start at m0 = 0.35, where the noise the ODE ignores matters) and takes 16 seeds: with 8 seeds
    # at N = 8..24 the fitted exponent's interval missed the ODE's by chance in one of our runs.
    smoke = {"dims": (12, 16, 24, 32), "seeds": 16} if tier == "smoke" else {}
    cfg = SweepConfig.from_profile(tier, latent=latent, activation=activation, **smoke)
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
    rule = "not entirely below 0" if which == "lower" else "not entirely above 0"
    return {
        "prediction": f"{quantity} {'does not vanish' if which == 'lower' else 'does not grow'} "
        f"as N grows (k = {k})",
        "measurement": f"slope of log({quantity}) vs log N = {s['value']:+.3f} "
        f"[{s['lo']:+.3f}, {s['hi']:+.3f}] over N = {summary['fit']['dims']}, {exp.config.seeds} seeds",
        "comparison": f"95% interval {rule}",
        "passed": b["holds"],  # None: censoring leaves it undecided
        "figure": fig,
        "details": {"fit": summary["fit"]},
    }


@register(
    "scaling.lower_bound",
    "Lower bound: online SGD needs n >> N^(k-1) = N^3 samples (n*/N^3 does not vanish).",
    "seed paper abstract; BAGJ",
)
def lower_bound(tier: str, out: Path) -> dict:
    return _bound_claim(tier, out, "lower")


@register(
    "scaling.upper_bound",
    "Upper bound: n >> N^3 log^2 N samples suffice (n*/(N^3 log^2 N) does not grow).",
    "seed paper abstract; BAGJ",
)
def upper_bound(tier: str, out: Path) -> dict:
    return _bound_claim(tier, out, "upper")


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
    censored = summary["fit"]["censored_resamples"] > 0.025 * sims.N_BOOT
    return {
        "prediction": f"k = {summary['information_exponent']}: exponent of the ODE curve over the same "
        f"N = {th:.3f} (nominal {summary['predicted_exponent']} plus log corrections)",
        "measurement": f"fitted exponent {e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}] "
        f"(N = {summary['fit']['dims']}, {exp.config.seeds} seeds)",
        "comparison": "ODE exponent inside the 95% interval",
        "passed": None if censored else bool(e["lo"] <= th <= e["hi"]),
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


MINI_DIMS = {"smoke": (8, 16, 32), "default": (16, 32, 64), "full": (16, 32, 64, 128)}


@register(
    "scaling.lower_bound_miniature",
    "With n = N^(k-1-eps) samples (eps = 1/2) from a random start, |m| sqrt(N) stays O(1) and does "
    "not grow with N.",
    "BAGJ lower bound; issue 2",
)
def lower_bound_miniature(tier: str, out: Path) -> dict:
    dims = MINI_DIMS[tier]
    seeds = 32
    meds, rows = [], []
    for dim in dims:
        exp = Experiment(SweepConfig(dims=(dim,), seeds=seeds, start="random").validated())
        budget = int(dim ** (exp.k - 1.5))
        run = exp.engine(dim).run([exp.step(dim)], np.arange(seeds), budget, n_checkpoints=4)
        scaled = run["max_abs_overlap"][0] * math.sqrt(dim)
        meds.append(np.median(scaled))
        rows.append(f"N={dim}: median max|m|sqrt(N) = {np.median(scaled):.2f}, max {scaled.max():.2f}")
    fit = np.polyfit(np.log(dims), np.log(meds), 1)[0]
    bound = 3.0
    ok = max(meds) <= bound and fit <= 0.15
    return {
        "prediction": "max_t |m_t| sqrt(N) = O(1), no growth with N",
        "measurement": "; ".join(rows) + f"; log-log slope of the medians {fit:+.3f}",
        "comparison": f"medians <= {bound} and slope <= +0.15",
        "passed": bool(ok),
    }
