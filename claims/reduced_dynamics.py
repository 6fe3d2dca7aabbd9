"""Claims of the reduction ladder: the exact reduced overlap chain agrees in distribution with the
full online-SGD engine, and the diffusion (SDE) and deterministic (ODE) approximations are placed
beside both, with where the ODE stops describing escape."""

from __future__ import annotations

import dataclasses
import functools as ft
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats

import sims

from ._config import Experiment, SweepConfig
from ._figures import STYLE, save
from ._registry import register


KS_DIMS = {"smoke": (12,), "default": (16, 32), "full": (16, 32, 64)}
KS_SEEDS = {"smoke": 160, "default": 256, "full": 512}
LADDER_DIM = {"smoke": 12, "default": 32, "full": 64}
LADDER_SEEDS = {"smoke": 160, "default": 256, "full": 512}
FAMILY_ALPHA = 0.01
"""Family-wise level of the KS tests (Bonferroni over all p-values of a claim)."""
N_CHECKPOINTS = 24
RUNGS = ("full", "reduced", "sde", "ode")
COLOURS = {"full": "k", "reduced": "C0", "sde": "C1", "ode": "C3"}


def experiment(dim: int, seeds: int, start: str) -> Experiment:
    cfg = SweepConfig(dims=(dim,), seeds=seeds, start=start, budget_factor=1.0)
    return Experiment(cfg.validated())


def rung_engine(exp: Experiment, dim: int, rung: str):
    """The engine of one simulated rung (`full`, `reduced` or `sde`) for the experiment's model."""
    base = exp.engine(dim)
    kw = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    if rung == "full":
        return sims.OnlineSGD(**kw)
    if rung == "reduced":
        return sims.ReducedSGD(**kw)
    if rung == "sde":
        return sims.OverlapSDE(
            **kw,
            force_coefficients=exp.dynamics.population_gradient_coefficients,
            gradient_scale=float(exp.loss.gradient_scale),
        )
    raise ValueError(f"unknown rung {rung!r}: use full, reduced or sde")


@ft.cache
def simulate(dim: int, seeds: int, start: str, rung: str) -> dict:
    """One rung's run (cached within a process: both claims share the full and reduced runs)."""
    exp = experiment(dim, seeds, start)
    return rung_engine(exp, dim, rung).run(
        [exp.step(dim)], np.arange(seeds), exp.budget(dim), n_checkpoints=N_CHECKPOINTS
    )


def _censored(esc: np.ndarray) -> np.ndarray:
    """Escape samples with no escape placed at +inf (they rank above every escape)."""
    return np.where(np.isfinite(esc), esc, np.inf)


def compare_runs(a: dict, b: dict) -> dict:
    """KS two-sample tests between two runs: escape samples, and the overlap at every checkpoint
    reached by all trajectories of both runs (at most 4 of them, spread in log n)."""
    tests = {
        "escape": scipy.stats.ks_2samp(_censored(a["escape_samples"][0]), _censored(b["escape_samples"][0]))
    }
    ma, mb = a["overlap"][0], b["overlap"][0]
    full = np.flatnonzero(np.all(np.isfinite(ma), 0) & np.all(np.isfinite(mb), 0))
    moving = [j for j in full if a["checkpoint_samples"][j] >= 8 * a["checkpoint_samples"][0]]
    for j in (
        np.unique(np.asarray(moving)[np.linspace(0, len(moving) - 1, 4).round().astype(int)])
        if moving
        else []
    ):
        tests[f"m at n={a['checkpoint_samples'][j]:.3g}"] = scipy.stats.ks_2samp(ma[:, j], mb[:, j])
    return {k: float(v.pvalue) for k, v in tests.items()}


def _ecdf(ax, values, **kw):
    v = np.sort(_censored(values))
    finite = np.isfinite(v)
    ax.step(v[finite], np.arange(1, finite.sum() + 1) / v.size, where="post", **kw)


@register(
    "engines.reduced_vs_full",
    "The reduced engine (exact overlap chain, O(1) per sample) agrees in distribution with the full "
    "engine: escape samples and overlaps at fixed checkpoints (two-sample KS).",
    "issue 3; derivation in docs/reduced-dynamics.md",
)
def reduced_vs_full(tier: str, out: Path) -> dict:
    dims, seeds = KS_DIMS[tier], KS_SEEDS[tier]
    pvalues, rows = {}, []
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.4), squeeze=False)
    for ax, dim in zip(axes[0], dims, strict=True):
        full = simulate(dim, seeds, "conditioned", "full")
        red = simulate(dim, seeds, "conditioned", "reduced")
        p = compare_runs(full, red)
        pvalues.update({f"N={dim} {k}": v for k, v in p.items()})
        speed = (
            (float(full["wall_seconds"]) / float(red["wall_seconds"]))
            if red["wall_seconds"] > 0
            else math.nan
        )
        rows.append((dim, min(p.values()), speed))
        with plt.rc_context(STYLE):
            _ecdf(ax, full["escape_samples"][0], color=COLOURS["full"], label="full engine")
            _ecdf(ax, red["escape_samples"][0], color=COLOURS["reduced"], ls="--", label="reduced engine")
            ax.set_xscale("log")
            ax.set_xlabel("escape samples n*")
            ax.set_title(f"N = {dim}, {seeds} seeds; KS p = {p['escape']:.2f}", fontsize=9)
    axes[0][0].set_ylabel("fraction of seeds escaped")
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    figure = str(save(fig, Path(out) / "reduced_vs_full")[0])
    plt.close(fig)
    threshold = FAMILY_ALPHA / len(pvalues)
    worst = min(pvalues, key=pvalues.get)
    return {
        "prediction": "same distributions (exact reduction for isotropic Gaussian noise)",
        "measurement": (
            f"{len(pvalues)} KS tests at N = {list(dims)} with {seeds} seeds per engine; smallest p = "
            f"{pvalues[worst]:.3f} ({worst}); wall-time ratio full/reduced "
            + ", ".join(f"N={d}: {s:.1f}x" for d, _, s in rows)
        ),
        "comparison": (
            f"every p >= {threshold:.2g} (family-wise level {FAMILY_ALPHA} over {len(pvalues)} tests)"
        ),
        "passed": bool(min(pvalues.values()) >= threshold),
        "figure": figure,
        "details": {"pvalues": pvalues},
    }


def _quantiles(overlap: np.ndarray) -> np.ndarray:
    """10%, 50%, 90% quantiles of |m| over seeds at each checkpoint; NaN where any run stopped."""
    a = np.abs(overlap)
    q = np.nanquantile(a, [0.1, 0.5, 0.9], axis=0)
    q[:, np.any(np.isnan(a), axis=0)] = np.nan
    return q


def _ode_escapes(exp: Experiment, dim: int, m0: np.ndarray) -> np.ndarray:
    return np.array([exp.dynamics.ode_escape_samples(dim, exp.step(dim), a) for a in m0])


@register(
    "dynamics.ladder",
    "The reduction ladder full engine -> exact reduced chain -> diffusion (SDE) -> overlap ODE: the "
    "first three agree on escape from the conditioned start m0 = N^-1/2, and the ODE, integrated "
    "from each seed's own start, predicts the conditioned start's escape but not the random start's.",
    "issue 3; theory brief 3.2, 3.3",
)
def ladder(tier: str, out: Path) -> dict:
    dim, seeds = LADDER_DIM[tier], LADDER_SEEDS[tier]
    k = 4
    scale = float(dim) ** (k - 1)
    stats, figure_rows = {}, {}
    for start in ("conditioned", "random"):
        exp = experiment(dim, seeds, start)
        runs = {r: simulate(dim, seeds, start, r) for r in RUNGS[:3]}
        n = runs["reduced"]["checkpoint_samples"]
        m0 = runs["reduced"]["initial_overlap"][0]
        ode_m = np.array([exp.dynamics.ode_trajectory(dim, exp.step(dim), a, n) for a in m0])
        ode_esc = _ode_escapes(exp, dim, m0)
        red_esc = runs["reduced"]["escape_samples"][0]
        ratio = red_esc / ode_esc  # NaN where the seed did not escape (censored)
        finite = np.isfinite(ratio)
        outside = np.where(
            finite, (ratio < 0.5) | (ratio > 2), np.isfinite(ode_esc) & (ode_esc <= exp.budget(dim))
        )
        stats[start] = {
            "median": {r: sims.median_ci(runs[r]["escape_samples"][0], seed=1) for r in RUNGS[:3]},
            "ode_median": float(np.median(ode_esc)),
            "ks_full_reduced": compare_runs(runs["full"], runs["reduced"])["escape"],
            "ks_sde_reduced": compare_runs(runs["sde"], runs["reduced"])["escape"],
            "ode_ratio": sims.median_ci(ratio, seed=2),
            "outside_2x": float(np.mean(outside)),
            "escaped": {r: float(np.mean(np.isfinite(runs[r]["escape_samples"][0]))) for r in RUNGS[:3]},
        }
        figure_rows[start] = (
            n,
            {**{r: _quantiles(runs[r]["overlap"][0]) for r in RUNGS[:3]}, "ode": _quantiles(ode_m)},
        )

    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True)
        for ax, start in zip(axes, ("conditioned", "random"), strict=True):
            n, qs = figure_rows[start]
            for rung in RUNGS:
                lo, med, hi = qs[rung]
                ax.plot(
                    n / scale,
                    med,
                    color=COLOURS[rung],
                    label=rung,
                    lw=1.6 if rung != "ode" else 1.2,
                    ls="--" if rung == "ode" else "-",
                )
                ax.fill_between(n / scale, lo, hi, color=COLOURS[rung], alpha=0.12, lw=0)
            ax.axhline(exp.config.m_escape, color="0.5", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            s = stats[start]
            ax.set_title(
                f"{start} start: n*/n*_ODE = {s['ode_ratio'].value:.2f}, "
                f"{s['outside_2x']:.0%} of seeds off by > 2x",
                fontsize=9,
            )
            ax.set_xlabel(f"samples n / N^{k - 1}  (N = {dim}, {seeds} seeds)")
        axes[0].set_ylabel("|m|: median and 10-90% band")
        axes[0].legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        figure = str(save(fig, Path(out) / "ladder")[0])
        plt.close(fig)

    c, r = stats["conditioned"], stats["random"]
    sde_vs_red = c["median"]["sde"].value / c["median"]["reduced"].value
    checks = {
        "full ~ reduced (KS p >= 0.005, both starts)": min(c["ks_full_reduced"], r["ks_full_reduced"])
        >= 0.005,
        "SDE median within 25% of reduced (conditioned)": abs(math.log(sde_vs_red)) <= math.log(1.25),
        "ODE ratio interval inside [0.8, 1.25] (conditioned)": 0.8 <= c["ode_ratio"].lo
        and c["ode_ratio"].hi <= 1.25,
        "more seeds off their ODE by > 2x from the random start": r["outside_2x"] > c["outside_2x"],
    }
    fmt = lambda e: f"{e.value:.3g} [{e.lo:.3g}, {e.hi:.3g}]"
    meas = (
        f"N = {dim}, {seeds} seeds. Conditioned: median n* full {fmt(c['median']['full'])}, reduced "
        f"{fmt(c['median']['reduced'])}, SDE {fmt(c['median']['sde'])}, ODE {c['ode_median']:.3g}; "
        f"KS p full/reduced {c['ks_full_reduced']:.2f}, SDE/reduced {c['ks_sde_reduced']:.2f}; per-seed "
        f"n*/n*_ODE {fmt(c['ode_ratio'])}, {c['outside_2x']:.0%} off by > 2x. Random: reduced "
        f"{fmt(r['median']['reduced'])} ({r['escaped']['reduced']:.0%} escaped), "
        f"ODE median {r['ode_median']:.3g}, "
        f"KS p full/reduced {r['ks_full_reduced']:.2f}, SDE/reduced {r['ks_sde_reduced']:.2f}; per-seed "
        f"n*/n*_ODE {fmt(r['ode_ratio'])}, {r['outside_2x']:.0%} off by > 2x"
    )
    return {
        "prediction": "full = reduced in law; SDE and ODE describe the conditioned start; the random start's "
        "small-m0 seeds escape long before their ODE time (noise-driven escape)",
        "measurement": meas,
        "comparison": "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks.items()),
        "passed": bool(all(checks.values())),
        "figure": figure,
        "details": {"checks": {k: bool(v) for k, v in checks.items()}},
    }
