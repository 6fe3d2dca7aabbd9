"""The registered power-law claims: shared amplitudes, the aligned-spike speed-up (against a
fixed margin and against the shell ODE), the spread-spike control and the exponents."""

from __future__ import annotations

import functools as ft
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import sims
import sims.powerlaw

from .._figures import STYLE, save
from ..registry import Above, AllOf, Below, Each, Registration, Within, register, tier_sizes
from .analysis import analyse_powerlaw, write_powerlaw_summary
from .config import PowerlawConfig, PowerlawExperiment, run_powerlaw_cells
from .figures import powerlaw_figure


SPECTRA_SAMPLES = {"smoke": 50_000, "default": 400_000, "full": 1_000_000}
SPEEDUP_TIERS = {
    # smoke: a software check (N = 16, alpha = 1.5 only), seconds; its verdict means nothing.
    # Budget 0.5 x the isotropic scale: about twice the alpha = 0 escape count at N = 64.
    "smoke": {"dims": (16,), "seeds": 8, "alphas": (0.0, 1.5), "budget_factor": 0.5},
    "default": {"dims": (64,), "seeds": 16, "alphas": (0.0, 1.0, 1.5), "budget_factor": 0.5},
    "full": {"dims": (64,), "seeds": 32, "alphas": (0.0, 1.0, 1.25, 1.5), "budget_factor": 1.0},
}
EXPONENT_TIERS = {
    "smoke": {"dims": (12, 16), "seeds": 8, "alphas": (0.0, 1.0), "placements": ("aligned",)},
    "default": {
        "dims": (16, 24, 32, 48, 64),
        "seeds": 16,
        "alphas": (0.0, 0.5, 1.0),
        "placements": ("aligned",),
    },
    "full": {
        "dims": (16, 24, 32, 48, 64, 96),
        "seeds": 32,
        "alphas": (0.0, 0.5, 1.0, 1.25),
        "placements": ("aligned",),
    },
}
SPEEDUP_MARGIN = 2.0
"""Lower margin on the aligned spike's speed-up, and upper margin on the spread spike's."""
ODE_SPEEDUP_FACTOR = 2.0
"""The measured speed-up must match the shell ODE's within this factor."""
EXPONENT_MARGIN = 0.5
"""The fitted sample exponent must match the shell ODE's within this (absolute) margin."""
POWER_MARGIN = 0.05


@ft.cache
def _claim_sweep(kind: str, tier: str, out: str, root_seed: int = 0):
    params = dict((SPEEDUP_TIERS if kind == "speedup" else EXPONENT_TIERS)[tier])
    params.setdefault("placements", ("aligned", "spread"))
    # the coloured engine at every alpha, as when the claims were registered (not the CLI's auto)
    cfg = PowerlawConfig(profile=tier, root_seed=root_seed, engine="coloured", **params).validated()
    exp = PowerlawExperiment(cfg)
    folder = Path(out) / f"powerlaw-{kind}"
    cells = run_powerlaw_cells(exp, folder, progress=False)
    summary = analyse_powerlaw(exp, cells)
    write_powerlaw_summary(folder, summary, exp)
    fig = str(powerlaw_figure(exp, summary, folder / "powerlaw", margin=SPEEDUP_MARGIN)[0])
    return exp, summary, fig


SHARED_AMPLITUDES = Registration(
    prediction="E|X_k|^2 = P_k proportional to (1+|k|)^-alpha in both classes, every mode k (seed paper; "
    "theory brief 1.1, 1.3(5))",
    statistic="per mode: mean power of the structured class / noise class - 1, and noise class / P_k - 1, "
    "95% delta-method intervals",
    rule=AllOf(
        (
            ("classes equal", Each(Within(-POWER_MARGIN, POWER_MARGIN, "structured / noise - 1"), "mode")),
            ("spectrum P_k", Each(Within(-POWER_MARGIN, POWER_MARGIN, "noise / P_k - 1"), "mode")),
        )
    ),
    tiers=tier_sizes(SPECTRA_SAMPLES),
    rationale={"5%": "as data.equal_amplitudes: a 5% power difference per mode is an amplitude signal"},
    experiment="powerlaw.spectra",
)


@register(
    "powerlaw.shared_amplitudes",
    "Coloured phase task: both classes have the same power spectrum P_f proportional to (1+f)^-alpha "
    "(amplitudes carry no label), for the aligned spike at alpha = 1 on 8 x 8 images.",
    "seed paper (ICML abstract); theory brief 1.1, 1.3(5)",
    SHARED_AMPLITUDES,
)
def shared_amplitudes(tier: str, out: Path, root_seed: int = 0) -> dict:
    from ..phase_only.data import _z_interval, power_difference

    n = SPECTRA_SAMPLES[tier]
    basis = sims.FourierBasis((8, 8))
    spec = sims.powerlaw.power_spectrum(basis, 1.0)
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    key = lambda k: jax.random.fold_in(jax.random.key(k), root_seed)
    u = sims.powerlaw.draw_placed_spike(key(11), basis, spec, "aligned")
    xs = np.asarray(sims.powerlaw.sample_coloured_class(key(12), task, basis, spec, u, n, True), float)
    xn = np.asarray(sims.powerlaw.sample_coloured_class(key(13), task, basis, spec, u, n, False), float)
    a_s, a_n = (np.asarray(basis.amplitudes(jnp.asarray(x)), float) for x in (xs, xn))
    ns = basis.n_self
    target = np.concatenate([spec[:ns], spec[ns : ns + basis.n_pairs]])
    classes = power_difference(a_s, a_n)
    to_target = _z_interval(a_n.mean(0) / target - 1, np.sqrt(a_n.var(0) / n) / target)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(3.6, 2.7), constrained_layout=True)
        freq = np.concatenate([basis.frequencies[:ns], basis.frequencies[ns : ns + basis.n_pairs]])
        order = np.argsort(freq)
        ax.plot(freq[order], target[order], color="k", lw=1, label=r"$P_f \propto (1+f)^{-1}$")
        ax.scatter(freq, a_n.mean(0), s=12, color="0.4", label="noise class")
        ax.scatter(freq, a_s.mean(0), s=14, marker="x", color="tab:red", label="structured class")
        ax.set(
            xlabel="radial frequency |k|",
            ylabel=r"mean $|X_k|^2$",
            yscale="log",
            title=f"8x8 images, aligned spike, n = {n} per class",
        )
        ax.legend(frameon=False)
        fig_path = str(save(fig, Path(out) / "powerlaw_shared_amplitudes")[0])
    worst = lambda rows: max(rows, key=lambda d: max(abs(d[1]), abs(d[2])))
    w1, w2 = worst(classes), worst(to_target)
    return {
        "prediction": "E|X_k|^2 = P_k in both classes for every mode k",
        "measurement": f"largest relative difference over {len(classes)} modes between classes "
        f"{w1[0]:+.4f} [{w1[1]:+.4f}, {w1[2]:+.4f}]; noise class against P: {w2[0]:+.4f} "
        f"[{w2[1]:+.4f}, {w2[2]:+.4f}] (n = {n} per class)",
        "estimate": {"classes equal": classes, "spectrum P_k": to_target},
        "figure": fig_path,
    }


def _speedup_rows(summary: dict, placement: str, min_alpha: float) -> list[dict]:
    return [s for s in summary["speedups"] if s["placement"] == placement and s["alpha"] >= min_alpha]


def _theory_speedups(rows: list[dict]) -> str:
    return ", ".join("-" if s["theory_speedup"] is None else f"{s['theory_speedup']:.3g}" for s in rows)


def _fmt(e: dict) -> str:
    f = lambda v: "?" if v is None else f"{v:.3g}"
    return f"{f(e['value'])} [{f(e['lo'])}, {f(e['hi'])}]"


def _speedup_text(rows: list[dict]) -> str:
    return "; ".join(
        f"alpha={s['alpha']:g}: {_fmt(s['speedup'])} (ODE {s['theory_speedup'] or float('nan'):.3g})"
        for s in rows
    )


SPEEDUP_STATISTIC = (
    "speed-up median n*(alpha = 0) / median n*(alpha) at the same N, 95% paired percentile bootstrap "
    "over seeds; a seed that did not escape sits at its budget, and an interval end that leans on a "
    "censored median is unknown"
)
SPEEDUP_TIER_TEXT = tier_sizes(SPEEDUP_TIERS)
SPEEDUP_ALIGNED = Registration(
    prediction="a spike aligned with the dominant principal subspace escapes faster at alpha >= 1 than at "
    "alpha = 0 (shell ODE of theory.powerlaw: about 4.4x at alpha = 1, N = 64)",
    statistic=SPEEDUP_STATISTIC,
    rule=Each(Above(SPEEDUP_MARGIN, "the speed-up"), "alpha >= 1 (aligned spike)"),
    tiers=SPEEDUP_TIER_TEXT,
    rationale={
        "2": "a fixed margin below half the smallest shell-ODE speed-up at these N (about 3x at N = 32, "
        "4.4x at N = 64), fixed before the runs; a lower end above 2 is a material speed-up, not a "
        "start-overlap fluctuation",
        "budget 0.5": "about twice the alpha = 0 escape count at N = 64 (the alpha = 0 median stays finite)",
    },
    experiment="powerlaw.speedup",
)


@register(
    "powerlaw.speedup_aligned",
    "A spike aligned with the dominant principal subspace (u ~ C^1/2 g) is found with fewer samples at "
    "alpha >= 1 than at alpha = 0: the speed-up's interval lies above 2.",
    "seed paper (ICML abstract); theory brief 1.3(5), 3.7",
    SPEEDUP_ALIGNED,
)
def speedup_aligned(tier: str, out: Path, root_seed: int = 0) -> dict:
    exp, summary, fig = _claim_sweep("speedup", tier, str(out), root_seed)
    rows = _speedup_rows(summary, "aligned", 1.0)
    return {
        "prediction": f"speed-up > {SPEEDUP_MARGIN:g} at N = {exp.config.dims[0]} (shell ODE: "
        f"{_theory_speedups(rows)})",
        "measurement": f"speed-up [95% paired bootstrap] {_speedup_text(rows)}; {exp.config.seeds} seeds "
        "per cell",
        "estimate": [s["speedup"] for s in rows],
        "figure": fig,
        "details": {"speedups": summary["speedups"], "cells": summary["cells"]},
    }


SPEEDUP_VS_ODE = Registration(
    prediction="the speed-up of the shell ODE integrated from each seed's own spike and start "
    "(theory.powerlaw; theory brief 3.7)",
    statistic="measured speed-up (as in powerlaw.speedup_aligned) divided by the ODE's speed-up (ratio of "
    "the medians of the per-seed ODE escape counts, no sampling error)",
    rule=Each(Within.ratio(ODE_SPEEDUP_FACTOR, "measured / ODE speed-up"), "alpha >= 1 (aligned spike)"),
    tiers=SPEEDUP_TIER_TEXT,
    rationale={
        "factor 2": "the ODE drops finite-N fluctuations of the overlap and the batch noise; a factor 2 in "
        "a speed-up is the accuracy asked of it (looser than dynamics.escape_vs_ode's 1.5 because "
        "it is a ratio of two escape counts)",
    },
    experiment="powerlaw.speedup",
)


def _over(e: dict, t: float | None) -> dict:
    if not t:
        return {"value": None, "lo": None, "hi": None}
    return {k: (None if e[k] is None else e[k] / t) for k in ("value", "lo", "hi")}


@register(
    "powerlaw.speedup_vs_ode",
    "The aligned spike's speed-up at alpha >= 1 matches the shell ODE's predicted speed-up within a "
    "factor 2.",
    "theory brief 3.7; issue 13",
    SPEEDUP_VS_ODE,
)
def speedup_vs_ode(tier: str, out: Path, root_seed: int = 0) -> dict:
    exp, summary, fig = _claim_sweep("speedup", tier, str(out), root_seed)
    rows = _speedup_rows(summary, "aligned", 1.0)
    ratios = [_over(s["speedup"], s["theory_speedup"]) for s in rows]
    return {
        "prediction": f"measured / ODE speed-up = 1 (ODE: {_theory_speedups(rows)})",
        "measurement": "measured / ODE: "
        + "; ".join(f"alpha={s['alpha']:g}: {_fmt(r)}" for s, r in zip(rows, ratios, strict=True))
        + f" ({exp.config.seeds} seeds per cell, N = {exp.config.dims[0]})",
        "estimate": ratios,
        "figure": fig,
    }


SPREAD_CONTROL = Registration(
    prediction="no speed-up when the spike is spread evenly over the Fourier modes: its start overlap is "
    "N^-1/2 whatever alpha, and low-variance modes learn slower (shell ODE <= 1)",
    statistic=SPEEDUP_STATISTIC + " (spread spike)",
    rule=Each(Below(SPEEDUP_MARGIN, "the speed-up"), "alpha >= 1 (spread spike)"),
    tiers=SPEEDUP_TIER_TEXT,
    rationale={"2": "the aligned claim's margin: the control shows the effect that claim tests absent"},
    experiment="powerlaw.speedup",
    guards="powerlaw.speedup_aligned",
)


@register(
    "powerlaw.speedup_spread_control",
    "Control for the speed-up: a spike spread evenly over the Fourier modes gains no such speed-up (at "
    "alpha >= 1 its speed-up's interval lies below the aligned claim's margin 2).",
    "theory brief 3.7",
    SPREAD_CONTROL,
)
def speedup_spread_control(tier: str, out: Path, root_seed: int = 0) -> dict:
    exp, summary, fig = _claim_sweep("speedup", tier, str(out), root_seed)
    rows = _speedup_rows(summary, "spread", 1.0)
    cens = [
        f"alpha={r['alpha']:g}: {r['escaped_fraction']:.0%} escaped"
        for r in summary["cells"]
        if r["placement"] == "spread" and r["alpha"] >= 1
    ]
    return {
        "prediction": "speed-up <= 1 (spread spike: start overlap 1/sqrt(N) exactly, and low-variance modes "
        f"learn slower; shell ODE {_theory_speedups(rows)})",
        "measurement": f"speed-up [95% paired bootstrap] {_speedup_text(rows)} "
        f"({', '.join(cens)}; {exp.config.seeds} seeds)",
        "estimate": [s["speedup"] for s in rows],
        "figure": fig,
    }


EXPONENT = Registration(
    prediction="the exponent of the shell-ODE escape counts over the same N and starts, per alpha "
    "(theory.powerlaw; theory brief 3.7)",
    statistic="least-squares slope of log median n* against log N, 95% bootstrap over seeds, minus the "
    "ODE's slope; unknown when more than 2.5% of the resamples hit a censored median",
    rule=Each(Within(-EXPONENT_MARGIN, EXPONENT_MARGIN, "measured - ODE exponent"), "alpha (aligned spike)"),
    tiers=tier_sizes(EXPONENT_TIERS),
    rationale={
        "0.5": "half the unit step between the sample exponents k - 1 of neighbouring information "
        "exponents: an error below 0.5 cannot mistake one regime for the next (replaces 'ODE inside "
        "the interval', which passed more easily the noisier the fit)",
    },
    experiment="powerlaw.exponent",
)


@register(
    "powerlaw.exponent",
    "Sample exponent against alpha (aligned spike): the fitted exponent of n*(N) per alpha agrees with "
    "the shell ODE's over the same N within 0.5; a change with alpha is reported only where the "
    "interval of the difference excludes 0.",
    "theory brief 3.7; issue 4",
    EXPONENT,
)
def exponent(tier: str, out: Path, root_seed: int = 0) -> dict:
    exp, summary, fig = _claim_sweep("exponent", tier, str(out), root_seed)
    fits = [f_ for f_ in summary["fits"] if f_.get("exponent")]
    parts, ests = [], []
    for f_ in fits:
        e, th = f_["exponent"], f_.get("theory_exponent")
        censored = f_.get("censored_resamples", 0) > 0.025 * sims.N_BOOT
        if th is None or censored:
            ests.append({"value": None, "lo": None, "hi": None})
        else:
            ests.append({k: e[k] - th for k in ("value", "lo", "hi")})
        text = f"alpha={f_['alpha']:g}: {e['value']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}] (ODE {th:.2f})"
        if censored:
            text += " (censored)"
        d = f_.get("difference_from_alpha0")
        if d:
            text += f", minus alpha=0 {d['value']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}] " + (
                "(changes)" if f_["changes"] else "(no resolved change)"
            )
        parts.append(text)
    return {
        "prediction": "exponent of the shell-ODE escape counts over the same N and starts",
        "measurement": ("; ".join(parts) or "no fit") + f" (N = {list(exp.config.dims)}, "
        f"{exp.config.seeds} seeds)",
        "estimate": ests,
        "figure": fig,
        "details": {"fits": summary["fits"]},
    }
