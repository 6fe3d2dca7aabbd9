"""The escape figure of the amplitude-phase experiment."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .._figures import STYLE, save
from .._intervals import censored_errorbar
from .analysis import _opt
from .config import APConfig, Readout


COLOURS = {
    ("amplitude", "v"): "tab:blue",
    ("phase", "u"): "tab:red",
    ("staircase", "u"): "tab:green",
    ("staircase", "v"): "tab:cyan",
}
LABELS = {
    ("amplitude", "v"): r"$n_v$: amplitude, He$_2$",
    ("phase", "u"): r"$n_u$: phase, $-$He$_4$",
    ("staircase", "u"): r"$n_u$: phase, tied latents, He$_2$",
    ("staircase", "v"): r"$n_v$: tied latents, He$_2$",
}


def _median(values: np.ndarray) -> np.ndarray:
    """Median over seeds per checkpoint, NaN where no seed was still running."""
    out = np.full(values.shape[1], np.nan)
    ok = np.isfinite(values).any(axis=0)
    out[ok] = np.nanmedian(values[:, ok], axis=0)
    return out


def figure(config: APConfig, results: dict, summary: dict, stem: Path) -> list[Path]:
    """Left: escape samples against N with ODE curves. Right: overlaps against samples/N at one N."""
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.6, 3.2), constrained_layout=True)
        for name, data in summary["readouts"].items():
            ro = Readout(config, name)
            for d in ro.targets:
                rows = data["cells"]
                dims = np.array([r["N"] for r in rows], float)
                med = np.array([r[f"median_escape_{d}"]["value"] or np.nan for r in rows], float)
                lo = np.array([r[f"median_escape_{d}"]["lo"] or np.nan for r in rows], float)
                hi = np.array([r[f"median_escape_{d}"]["hi"] or np.nan for r in rows], float)
                col = COLOURS[(name, d)]
                fit = data["fits"][d]
                lab = LABELS[(name, d)]
                if fit["exponent"]:
                    lab += f"\n  slope {fit['exponent']['value']:.2f} (ODE {_opt(fit['ode_exponent'])})"
                censored_errorbar(ax, dims, med, lo, hi, fmt="o", ms=3.5, capsize=2, color=col, label=lab)
                fine = np.geomspace(dims.min(), dims.max(), 16)
                ax.plot(
                    fine,
                    [ro.ode(float(f))[0 if d == "v" else 1] for f in fine],
                    color=col,
                    lw=1,
                    alpha=0.8,
                )
        ax.set(
            xscale="log", yscale="log", xlabel="input dimension N", ylabel="escape samples (median, 95% CI)"
        )
        ticks = sorted({int(r["N"]) for data in summary["readouts"].values() for r in data["cells"]})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_title(f"{config.student}, {config.seeds} seeds per N; lines: overlap ODE")
        ax.legend(loc="upper right", frameon=False, fontsize=6.5)
        # Right panel: trajectories at the largest common N of the He2 readouts.
        name = "staircase" if "staircase" in results else "amplitude"
        dim = max(results[name])
        for nm, style in (("amplitude", "--"), (name, "-")) if name == "staircase" else (("amplitude", "-"),):
            ds = results[nm][dim]
            n = ds["checkpoint_samples"].values / dim
            for d, col in (("v", "tab:blue"), ("u", "tab:green")):
                traj = _median(ds[f"overlap_{d}"].values)
                tag = "tied" if nm == "staircase" else "independent"
                bx.plot(n, traj, style, color=col, lw=1.3, label=rf"$|m_{d}|$, {tag} latents")
        if "phase" in results:
            dp = max(results["phase"])
            ds = results["phase"][dp]
            traj = _median(ds["overlap_u"].values)
            bx.plot(
                ds["checkpoint_samples"].values / dp,
                traj,
                ":",
                color="tab:red",
                lw=1.3,
                label=rf"$|m_u|$, $-$He$_4$, N = {dp}",
            )
        bx.set(xscale="log", xlabel="samples / N", ylabel="median overlap", ylim=(0, 1))
        bx.set_title(f"He$_2$ student at N = {dim} (curves end when every seed escaped)")
        bx.legend(loc="upper left", frameon=False, fontsize=6.5)
        return save(fig, stem)
