"""Paper-style figures (matplotlib, Agg backend), saved atomically as PNG and PDF."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import sims  # noqa: E402


STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 150,
}


def _tick_labels(dims) -> list[str]:
    """Labels for N ticks on a log axis: with more than 8 values, every other one is left blank
    (the largest is always labelled) so that neighbours such as 384 and 512 do not run together."""
    dims = [int(d) for d in dims]
    if len(dims) <= 8:
        return [str(d) for d in dims]
    keep = len(dims) - 1
    return [str(d) if (keep - i) % 2 == 0 else "" for i, d in enumerate(dims)]


def save(fig, stem: Path) -> list[Path]:
    """Save `fig` to stem.png and stem.pdf atomically; returns the paths."""
    paths = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, bbox_inches="tight")
        path = Path(f"{stem}.{ext}")
        sims.atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths


def _tex(e: int, q: int) -> str:
    text = "N" if e == 1 else f"N^{{{e}}}"
    if q:
        text += r"\log N" if q == 1 else rf"\log^{{{q}}} N"
    return text


def scaling_figure(exp, cells: dict, summary: dict, stem: Path) -> list[Path]:
    """Escape samples against N (seeds, medians with intervals, ODE, thresholds) and n*/N^(k-1)."""
    k = summary["information_exponent"]
    rows = summary["cells"]
    dims = np.array([r["N"] for r in rows], float)
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.2, 3.0), constrained_layout=True)
        rng = np.random.default_rng(0)
        censored = False
        for r in rows:
            esc = np.asarray(cells[r["N"]]["escape_samples"].values[0], float)
            jitter = r["N"] * np.exp(rng.normal(0, 0.025, esc.size))
            ok = np.isfinite(esc)
            ax.scatter(jitter[ok], esc[ok], s=6, color="0.6", alpha=0.6, lw=0, zorder=1)
            if (~ok).any():
                censored = True
                ax.scatter(
                    jitter[~ok],
                    np.full((~ok).sum(), r["budget"]),
                    marker="^",
                    s=10,
                    color="tab:red",
                    alpha=0.7,
                    lw=0,
                    zorder=1,
                )
        med = np.array([r["median_escape_samples"]["value"] or np.nan for r in rows], float)
        lo = np.array([r["median_escape_samples"]["lo"] or np.nan for r in rows], float)
        hi = np.array([r["median_escape_samples"]["hi"] or np.inf for r in rows], float)
        hi_plot = np.where(np.isfinite(hi), hi, med * 3)
        yerr = np.vstack([med - lo, hi_plot - med])
        ax.errorbar(
            dims,
            med,
            yerr=yerr,
            fmt="o",
            color="k",
            ms=4,
            capsize=2,
            zorder=3,
            label=f"median, 95% CI ({rows[0]['seeds']} seeds)",
        )
        fine = np.geomspace(dims.min(), dims.max(), 40)
        if summary["recoverable"]:
            theory_curve = [
                exp.dynamics.ode_escape_samples(d, exp.step(d), exp.start_overlap(d)) for d in fine
            ]
            ax.plot(fine, theory_curve, color="tab:blue", lw=1.5, zorder=2, label="ODE (theory)")
        finite = np.flatnonzero(np.isfinite(med) & (med > 0))
        i0 = int(finite[0]) if finite.size else 0  # thresholds pinned to the first finite median
        ref = med[i0] if finite.size else rows[0]["budget"]  # no median at all: pin to the budget
        dyn = exp.dynamics
        lo_tex, up_tex = (_tex(*dyn.thresholds[b]) for b in ("lower", "upper"))
        ax.plot(
            fine,
            dyn.lower_threshold(fine) / dyn.lower_threshold(dims[i0]) * ref,
            "--",
            color="tab:green",
            lw=1,
            label=rf"$\propto {lo_tex}$ (lower)",
        )
        ax.plot(
            fine,
            dyn.upper_threshold(fine) / dyn.upper_threshold(dims[i0]) * ref,
            ":",
            color="tab:orange",
            lw=1.2,
            label=rf"$\propto {up_tex}$ (upper)",
        )
        if censored:
            ax.scatter([], [], marker="^", color="tab:red", s=10, label="no escape (at budget)")
        ax.set(xscale="log", yscale="log", xlabel="input dimension N", ylabel="escape samples n*")
        fit = summary.get("fit")
        title = f"task={exp.config.task}, latent={exp.config.latent}, $\\sigma$={exp.activation}, k={k}"
        if fit:
            e = fit["exponent"]
            title += f"\nfitted exponent {e['value']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}]"
        ax.set_title(title)
        ax.legend(loc="upper left", frameon=False)
        ax.set_xticks(dims, _tick_labels(dims), minor=False)
        ax.minorticks_off()

        if not finite.size:  # nothing escaped anywhere: show the escaped fraction instead
            frac = [r["escaped_fraction"] for r in rows]
            bx.plot(
                dims,
                frac,
                "o-",
                color="k",
                ms=4,
                label=f"escaped within the budget ({rows[0]['seeds']} seeds)",
            )
            bx.set(xscale="log", ylim=(-0.05, 1.05), xlabel="input dimension N", ylabel="escaped fraction")
            bx.set_xticks(dims, _tick_labels(dims))
            bx.minorticks_off()
            bx.legend(loc="best", frameon=False)
            reason = (summary.get("verdict") or {}).get("reason", "")
            bx.set_title("\n".join(textwrap.wrap(reason, 60)[:4]))
            return save(fig, stem)
        norm = dyn.lower_threshold(dims)
        bx.errorbar(
            dims, med / norm, yerr=yerr / norm, fmt="o-", color="k", ms=4, capsize=2, label=rf"$n^*/{lo_tex}$"
        )
        norm2 = dyn.upper_threshold(dims)
        scale = norm2[i0] / norm[i0]
        bx.errorbar(
            dims,
            med / norm2 * scale,
            yerr=yerr / norm2 * scale,
            fmt="s--",
            color="tab:orange",
            ms=3.5,
            capsize=2,
            label=rf"$n^*/({up_tex})$, rescaled",
        )
        if summary["recoverable"]:
            pred = np.array([r["theory_escape_samples"] or np.nan for r in rows], float)
            bx.plot(dims, pred / norm, color="tab:blue", lw=1.2, label="ODE (theory)")
        bx.set(xscale="log", xlabel="input dimension N", ylabel="normalised escape samples")
        bx.set_xticks(dims, _tick_labels(dims))
        bx.minorticks_off()
        verdict = summary.get("verdict") or {}
        lines = []
        if summary.get("bounds"):
            for name in ("lower", "upper"):
                b = summary["bounds"][name]
                s = b["slope"]
                word = {True: "holds", False: "VIOLATED", None: "undecided"}[b["holds"]]
                lines.append(f"{name}: slope {s['value']:+.2f} [{s['lo']:+.2f}, {s['hi']:+.2f}] -> {word}")
        elif verdict:
            lines += textwrap.wrap(verdict.get("reason", ""), 60)[:4]
        bx.set_title("\n".join(lines) if lines else "")
        bx.legend(loc="best", frameon=False)
        return save(fig, stem)
