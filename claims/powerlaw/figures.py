"""Figures of a power-law sweep: escape samples against N per alpha and placement, and the
speed-up panel."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .._figures import STYLE, save
from .._intervals import censored_errorbar
from .config import PowerlawConfig, PowerlawExperiment


PLACEMENT_STYLE = {"aligned": ("tab:blue", "o"), "spread": ("tab:red", "s")}


def _style(placement: str):
    return PLACEMENT_STYLE.get(placement, ("tab:green", "^"))


def powerlaw_figure(
    exp: PowerlawExperiment,
    summary: dict,
    stem: Path,
    fixed_dim: int | None = None,
    margin: float | None = None,
):
    """Left: escape samples against alpha at fixed N per placement (medians, 95% intervals, theory
    curves). Right: escape samples against N per alpha (aligned placement), fitted exponents.

    Long because it lays out the two panels of one figure (data, theory curves, labels)."""
    c = exp.config
    rows = summary["cells"]
    fixed_dim = fixed_dim or max(c.dims)
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.4, 3.1), constrained_layout=True)
        fine = np.linspace(min(c.alphas), max(c.alphas), 9)
        for placement in c.placements:
            color, marker = _style(placement)
            rs = [r for r in rows if r["N"] == fixed_dim and (r["placement"] == placement or r["alpha"] == 0)]
            rs.sort(key=lambda r: r["alpha"])
            a = np.array([r["alpha"] for r in rs])
            med = np.array([r["median_escape_samples"]["value"] or np.nan for r in rs], float)
            lo = np.array([r["median_escape_samples"]["lo"] or np.nan for r in rs], float)
            hi = np.array([r["median_escape_samples"]["hi"] or np.nan for r in rs], float)
            stops = np.array([r["censored_at"] for r in rs], float)
            med_plot = np.where(np.isfinite(med), med, stops)
            lo = np.where(np.isfinite(lo), lo, med_plot)
            hi = np.where(np.isfinite(hi), hi, med_plot)
            ax.errorbar(
                a + (0.02 if placement != "aligned" else 0),
                np.maximum(med_plot, 1),
                yerr=[med_plot - np.minimum(lo, med_plot), np.maximum(hi, med_plot) - med_plot],
                fmt=marker,
                color=color,
                ms=4,
                capsize=2,
                label=f"{placement} (median, 95% CI)",
            )
            cens = ~np.isfinite(med)
            if cens.any():
                ax.scatter(
                    a[cens], med_plot[cens], marker="^", s=40, facecolor="none", edgecolor=color, zorder=4
                )
            if c.preactivation == "normalised":
                th = [
                    exp.typical_prediction(fixed_dim, x, placement if x > 0 else c.placements[0])
                    for x in fine
                ]
                th = np.array([t if t and t > 0 else np.nan for t in th], float)
                ax.plot(fine, th, color=color, lw=1.0, ls="--", alpha=0.8)
                seeds_th = np.array([r["theory_per_seed_median"] or np.nan for r in rs], float)
                ax.plot(a, seeds_th, color=color, lw=1.0, marker=marker, mfc="none", ms=6, alpha=0.8)
        budgets = [r["budget"] for r in rows if r["N"] == fixed_dim]
        if budgets:
            ax.axhline(budgets[0], color="0.6", ls=":", lw=0.8, label="budget")
        ax.plot(
            [], [], color="0.3", lw=1.0, marker="o", mfc="none", label="shell ODE, median over seeds' starts"
        )
        ax.plot([], [], color="0.3", lw=1.0, ls="--", label="shell ODE, typical start (H1)")
        ax.set(
            yscale="log",
            xlabel=r"spectral exponent $\alpha$  ($P_f \propto (1+f)^{-\alpha}$)",
            ylabel="escape samples n*",
            title=f"N = {fixed_dim}, {c.seeds} seeds per point ({c.preactivation}, {c.start} start)",
        )
        ax.legend(frameon=False, loc="lower left", fontsize=6.5)

        if len(c.dims) == 1:  # one N: the right panel shows the speed-ups themselves
            _speedup_panel(bx, summary, c, margin)
            return save(fig, stem)
        cmap = plt.get_cmap("viridis")
        placement = c.placements[0]
        for i, alpha in enumerate(c.alphas):
            color = cmap(i / max(1, len(c.alphas) - 1) * 0.9)
            rs = sorted(
                [r for r in rows if r["alpha"] == alpha and (r["placement"] == placement or alpha == 0)],
                key=lambda r: r["N"],
            )
            d = np.array([r["N"] for r in rs], float)
            med = np.array([r["median_escape_samples"]["value"] or np.nan for r in rs], float)
            lo = np.array([r["median_escape_samples"]["lo"] or np.nan for r in rs], float)
            hi = np.array([r["median_escape_samples"]["hi"] or np.nan for r in rs], float)
            lo, hi = np.where(np.isfinite(lo), lo, med), np.where(np.isfinite(hi), hi, med)
            fit = next(
                (f for f in summary["fits"] if f["alpha"] == alpha and f["placement"] == placement), None
            )
            if fit is None and alpha == 0:
                fit = next((f for f in summary["fits"] if f["alpha"] == 0), None)
            label = rf"$\alpha$={alpha:g}"
            if fit and fit.get("exponent"):
                e = fit["exponent"]
                label += f": exponent {e['value']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}]"
            ok = np.isfinite(med) & (med > 0)
            bx.errorbar(
                d[ok],
                med[ok],
                yerr=[med[ok] - lo[ok], hi[ok] - med[ok]],
                fmt="o",
                color=color,
                ms=4,
                capsize=2,
                label=label,
            )
            th = np.array(
                [r["theory_per_seed_median"] or r["theory_escape_samples"] or np.nan for r in rs], float
            )
            bx.plot(d, np.where(th > 0, th, np.nan), color=color, lw=1.0)
        bx.plot([], [], color="0.3", lw=1.0, label="shell ODE (median over seeds' starts)")
        bx.set(
            xscale="log",
            yscale="log",
            xlabel="input dimension N",
            ylabel="escape samples n*",
            title=f"{placement} spike",
        )
        bx.set_xticks(list(c.dims), [str(d) for d in c.dims])
        bx.minorticks_off()
        bx.legend(frameon=False, loc="upper left", fontsize=6.5)
        return save(fig, stem)


def _speedup_panel(bx, summary: dict, c: PowerlawConfig, margin: float | None) -> None:
    for placement in c.placements:
        color, marker = _style(placement)
        ss = sorted([s for s in summary["speedups"] if s["placement"] == placement], key=lambda s: s["alpha"])
        if not ss:
            continue
        a = np.array([s["alpha"] for s in ss])
        v = np.array([s["speedup"]["value"] if s["speedup"]["value"] is not None else np.nan for s in ss])
        lo = np.array([s["speedup"]["lo"] if s["speedup"]["lo"] is not None else np.nan for s in ss])
        hi = np.array([s["speedup"]["hi"] if s["speedup"]["hi"] is not None else np.nan for s in ss])
        censored_errorbar(  # an end that leans on a censored median is drawn as a caret
            bx,
            a + (0.02 if placement != "aligned" else 0),
            v,
            lo,
            hi,
            fmt=marker,
            color=color,
            ms=4,
            capsize=2,
            label=f"{placement}: measured (median ratio, 95% CI)",
        )
        th = np.array([s["theory_speedup"] or np.nan for s in ss])
        bx.plot(a, th, color=color, marker=marker, mfc="none", ms=6, lw=1.0, label=f"{placement}: shell ODE")
    bx.axhline(1.0, color="0.5", lw=0.8)
    if margin is not None:
        bx.axhline(margin, color="0.5", lw=0.8, ls="--", label=f"{margin:g}x (claim margin)")
    bx.set(
        yscale="log",
        xlabel=r"spectral exponent $\alpha$",
        ylabel=r"speed-up: median $n^*(0)$ / median $n^*(\alpha)$",
        title=f"speed-up against alpha = 0 (paired seeds, N = {c.dims[0]})",
        xlim=(min(c.alphas) - 0.1, max(c.alphas) + 0.1),
    )
    bx.legend(frameon=False, loc="upper left", fontsize=6.5)


def exponents_figure(exp: PowerlawExperiment, summary: dict, stem: Path):
    """Left: the fitted sample exponent of n* over N against alpha (95% intervals) beside the shell
    ODE's exponent over the same grid and H3's asymptotic exponent. Right: the speed-up
    n*(0) / n*(alpha) against N per alpha (paired seeds, 95% intervals) beside the shell ODE's.
    Needs at least 3 N (returns None otherwise)."""
    c = exp.config
    if len(c.dims) < 3:
        return None
    placement = c.placements[0]
    cmap = plt.get_cmap("viridis")
    colour = {a: cmap(i / max(1, len(c.alphas) - 1) * 0.9) for i, a in enumerate(c.alphas)}
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.4, 3.1), constrained_layout=True)
        _exponent_panel(ax, c, summary, placement, colour)
        speedup_vs_n_panel(bx, c, summary, placement, colour)
        return save(fig, stem)


def _exponent_panel(ax, c, summary: dict, placement: str, colour: dict):
    """Fitted exponent per alpha (95% CI) beside the shell ODE over the same grid and H3's asymptote."""
    fits = [f for f in summary["fits"] if f["placement"] == placement or f["alpha"] == 0]
    fits.sort(key=lambda f: f["alpha"])
    for f in fits:
        e = f.get("exponent")
        if e:
            ax.errorbar(
                f["alpha"], e["value"], yerr=[[e["value"] - e["lo"]], [e["hi"] - e["value"]]],
                fmt="o", color=colour[f["alpha"]], ms=5, capsize=2,
            )  # fmt: skip
        else:
            ax.annotate("no fit", (f["alpha"], 1.0), fontsize=6, ha="center", color="0.4")
    a = np.array([f["alpha"] for f in fits], float)
    ode = np.array([f.get("theory_exponent") or np.nan for f in fits], float)
    ax.plot(a, ode, color="0.3", lw=1.0, marker="s", mfc="none", ms=6, label="shell ODE, same grid")
    h3 = np.array([(f.get("h3") or {}).get("exponent", np.nan) for f in fits], float)
    if np.isfinite(h3).any():
        # a tick per alpha too, so that a run with a single alpha still shows it
        ax.plot(a, h3, color="0.5", lw=1.0, ls="--", marker="_", ms=14, label="H3 asymptote (N -> inf)")
    ax.errorbar([], [], fmt="o", color="0.3", ms=5, capsize=2, label="measured (95% CI)")
    ax.set(
        xlabel=r"spectral exponent $\alpha$",
        ylabel="sample exponent of median n* over N",
        title=f"N = {min(c.dims)}..{max(c.dims)}, {c.seeds} seeds, {placement} spike, {c.start} start",
    )
    ax.legend(frameon=False, fontsize=6.5, loc="upper right")


def speedup_vs_n_panel(bx, c, summary: dict, placement: str, colour: dict):
    """Speed-up n*(0) / n*(alpha) against N per alpha (censored ends drawn as such) beside the ODE's."""
    if not summary["speedups"]:  # no alpha = 0 cells in the run: nothing to compare with
        bx.set_axis_off()
        bx.text(0.5, 0.5, "no alpha = 0 cells in this run:\nno speed-up to show", ha="center", va="center")
        return
    for i, alpha in enumerate(c.alphas):
        ss = sorted(
            [s for s in summary["speedups"] if s["alpha"] == alpha and s["placement"] == placement],
            key=lambda s: s["N"],
        )
        if not ss:
            continue
        d = np.array([s["N"] for s in ss], float)
        dodge = 1.03 ** (i - (len(c.alphas) - 1) / 2)  # side by side at each N (log axis)
        v, lo, hi = (
            np.array([np.nan if s["speedup"][k] is None else s["speedup"][k] for s in ss], float)
            for k in ("value", "lo", "hi")
        )
        censored_errorbar(
            bx, d * dodge, v, lo, hi, fmt="o", color=colour[alpha], ms=4, capsize=2,
            label=rf"$\alpha$={alpha:g}",
        )  # fmt: skip
        th = np.array([s["theory_speedup"] or np.nan for s in ss], float)
        bx.plot(d, th, color=colour[alpha], lw=1.0)
    bx.plot([], [], color="0.3", lw=1.0, label="shell ODE")
    bx.axhline(1.0, color="0.5", lw=0.8)
    bx.set(
        xscale="log",
        yscale="log",
        xlabel="input dimension N",
        ylabel=r"speed-up $n^*(0)$ / $n^*(\alpha)$",
        title="speed-up against the isotropic task (paired seeds)",
    )
    bx.set_xticks(list(c.dims), [str(d) for d in c.dims])
    bx.minorticks_off()
    bx.legend(frameon=False, fontsize=6.5, loc="upper left")
