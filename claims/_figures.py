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


def _per_dimension(exp, cells: dict, summary: dict) -> list[dict]:
    """Per N: the seeds and the median that enter the fit (the single schedule's cell, or the best
    factor of a scan), with the censoring level and the theory's prediction for it."""
    out = []
    scan = {e["N"]: e for e in summary.get("step_scan") or []}
    for r in summary["cells"]:
        if exp.scanning:
            e = scan.get(r["N"])
            if e is None or e["best_factor"] is None or r["factor"] != e["best_factor"]:
                continue
            med, theory_n = e["best_median"], e["ode_best_median"]
        elif r["factor"] != 1.0:
            continue
        else:
            med, theory_n = r["median_escape_samples"], r["theory_escape_samples"]
        ds = next(v for c, v in cells.items() if c.dim == r["N"] and c.factor == r["factor"] and not c.null)
        out.append(
            {
                "N": r["N"],
                "escapes": np.asarray(ds["escape_samples"].values[0], float),
                "stop": r["stopped_at"],
                "median": med,
                "theory": theory_n,
                "seeds": r["seeds"],
            }
        )
    return out


def _medians(ax, dims, rows, label, color="k", fmt="o", scale=None):
    """Medians with intervals; a censored upper end is an upward arrow, a censored median a red
    triangle at the sample count where its cell stopped (a lower bound)."""
    scale = np.ones(len(dims)) if scale is None else np.asarray(scale, float)
    med = np.array([r["median"]["value"] or np.nan for r in rows], float)
    lo = np.array([r["median"]["lo"] or np.nan for r in rows], float)
    hi = np.array([r["median"]["hi"] or np.nan for r in rows], float)
    lo = np.where(np.isfinite(lo), lo, med)
    hi_f = np.where(np.isfinite(hi), hi, med)
    yerr = np.vstack([med - lo, hi_f - med]) / scale
    ax.errorbar(dims, med / scale, yerr=yerr, fmt=fmt, color=color, ms=4, capsize=2, zorder=3, label=label)
    for d, m, h, sc in zip(dims, med, hi, scale, strict=True):
        if np.isfinite(m) and not np.isfinite(h):
            ax.annotate(
                "",
                xy=(d, 3 * m / sc),
                xytext=(d, m / sc),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 0.8},
            )
    cens = [
        (d, r["stop"] / sc) for d, r, m, sc in zip(dims, rows, med, scale, strict=True) if not np.isfinite(m)
    ]
    if cens:
        ax.scatter(
            *zip(*cens, strict=True),
            marker="^",
            s=30,
            color="tab:red",
            zorder=4,
            label="median censored (> stop)",
        )
    return med, yerr


def scaling_figure(exp, cells: dict, summary: dict, stem: Path) -> list[Path]:
    """Escape samples against N (seeds, medians with intervals, ODE, thresholds) and n*/N^(k-1);
    for a step scan, the best factor's seeds and n*_best.

    Long because it lays out one figure (data, censored ends, theory curves, thresholds)."""
    k = summary["information_exponent"]
    rows = _per_dimension(exp, cells, summary)
    if not rows:  # nothing to draw per N (e.g. a scan where no factor was eligible)
        rows = []
    dims = np.array([r["N"] for r in rows], float)
    star = "n^*_{best}" if exp.scanning else "n^*"
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.2, 3.0), constrained_layout=True)
        if not rows:
            _text_panel(ax, summary)
            _text_panel(bx, summary)
            return save(fig, stem)
        rng = np.random.default_rng(0)
        censored = False
        for r in rows:
            esc = r["escapes"]
            jitter = r["N"] * np.exp(rng.normal(0, 0.025, esc.size))
            ok = np.isfinite(esc) & (esc > 0)
            ax.scatter(jitter[ok], esc[ok], s=6, color="0.6", alpha=0.6, lw=0, zorder=1)
            if np.isnan(esc).any():
                censored = True
                ax.scatter(
                    jitter[np.isnan(esc)],
                    np.full(np.isnan(esc).sum(), r["stop"]),
                    marker="^",
                    s=10,
                    color="tab:red",
                    alpha=0.5,
                    lw=0,
                    zorder=1,
                )
        seeds = rows[0]["seeds"]
        med, yerr = _medians(ax, dims, rows, f"median, 95% CI ({seeds} seeds)")
        fine = np.geomspace(dims.min(), dims.max(), 40)
        if summary["recoverable"]:
            if exp.scanning:
                curve = [exp.predicted_best(d)[1] for d in fine]
                label = "ODE, best factor of the scan"
            else:
                curve = [exp.predicted_escape(d) for d in fine]
                label = "ODE (theory)"
            ax.plot(fine, curve, color="tab:blue", lw=1.5, zorder=2, label=label)
        finite = np.flatnonzero(np.isfinite(med) & (med > 0))
        i0 = int(finite[0]) if finite.size else 0
        ref = med[i0] if finite.size else rows[0]["stop"]
        dyn = exp.dynamics
        lo_tex, up_tex = (_tex(*dyn.thresholds[b]) for b in ("lower", "upper"))
        for fn, style, color, tex, name in (
            (dyn.lower_threshold, "--", "tab:green", lo_tex, "lower"),
            (dyn.upper_threshold, ":", "tab:orange", up_tex, "upper"),
        ):
            ax.plot(
                fine,
                fn(fine) / fn(dims[i0]) * ref,
                style,
                color=color,
                lw=1.1,
                label=rf"$\propto {tex}$ ({name})",
            )
        if censored:
            ax.scatter([], [], marker="^", color="tab:red", s=10, label="seed censored (at its stop)")
        ax.set(xscale="log", yscale="log", xlabel="input dimension N", ylabel=rf"escape samples ${star}$")
        title = f"task={exp.config.task}, $\\sigma$={exp.activation}, k={k}, {exp.config.start} start"
        fit = summary.get("fit")
        if fit and fit["exponent"]["lo"] is not None and fit["exponent"]["hi"] is not None:
            e = fit["exponent"]
            title += f"\nfitted exponent {_g(e['value'])} [{_g(e['lo'])}, {_g(e['hi'])}]"
        ax.set_title(title)
        ax.legend(loc="upper left", frameon=False)
        ax.set_xticks(dims, _tick_labels(dims), minor=False)
        ax.minorticks_off()
        _ratio_panel(bx, exp, summary, dims, rows, i0, star, lo_tex, up_tex)
        return save(fig, stem)


def _g(v) -> str:
    return "-inf" if v is None else f"{v:.2f}"


def _text_panel(ax, summary) -> None:
    ax.axis("off")
    reason = (summary.get("verdict") or {}).get("reason", "")
    ax.text(0, 1, "\n".join(textwrap.wrap(reason, 60)[:12]), va="top", fontsize=7)


def _ratio_panel(bx, exp, summary, dims, rows, i0, star, lo_tex, up_tex) -> None:
    dyn = exp.dynamics
    norm, norm2 = dyn.lower_threshold(dims), dyn.upper_threshold(dims)
    _medians(bx, dims, rows, rf"${star}/{lo_tex}$", scale=norm, fmt="o-")
    _medians(
        bx,
        dims,
        rows,
        rf"${star}/({up_tex})$, rescaled",
        color="tab:orange",
        fmt="s--",
        scale=norm2 / (norm2[i0] / norm[i0]),
    )
    if summary["recoverable"]:
        pred = np.array([r["theory"] or np.nan for r in rows], float)
        bx.plot(dims, pred / norm, color="tab:blue", lw=1.2, label="ODE (theory)")
    bx.set(xscale="log", yscale="log", xlabel="input dimension N", ylabel="normalised escape samples")
    bx.set_xticks(dims, _tick_labels(dims))
    bx.minorticks_off()
    lines = []
    for name in ("lower", "upper"):
        b = (summary.get("bounds") or {}).get(name)
        if b:
            s = b["slope"]
            lines.append(f"{name}: slope {_g(s['value'])} [{_g(s['lo'])}, {_g(s['hi'])}] -> {b['verdict']}")
    if lines:
        lines.append(
            f"margin eps = {summary['bounds']['lower']['margin']}, "
            f"basis: {summary['bounds']['lower']['basis']}"
        )
    else:
        lines = textwrap.wrap((summary.get("verdict") or {}).get("reason", ""), 60)[:4]
    bx.set_title("\n".join(lines))
    bx.legend(loc="best", frameon=False)


def step_scan_figure(exp, cells: dict, summary: dict, stem: Path) -> list[Path]:
    """The step scan: median escape samples against the step factor F per N (the U-shape; the
    chance control's exclusions crossed out, censored medians as triangles at their stop), and
    n*_best against N with the ODE's best over the same scan.

    Long because it lays out the panels of one figure."""
    scan = summary.get("step_scan") or []
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.2, 3.2), constrained_layout=True)
        colors = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(scan))))
        for e, color in zip(scan, colors, strict=True):
            f = np.array([p["factor"] for p in e["per_factor"]])
            med = np.array([p["median"]["value"] or np.nan for p in e["per_factor"]], float)
            norm = e["N"] ** 3
            ax.plot(f, med / norm, "o-", color=color, ms=3.5, lw=1, label=f"N={e['N']}")
            bad = np.array(
                [not p["eligible"] and np.isfinite(m) for p, m in zip(e["per_factor"], med, strict=True)]
            )
            if bad.any():
                ax.scatter(f[bad], med[bad] / norm, marker="x", s=40, color="tab:red", zorder=4)
            cens = np.array([p["stopped_at"] for p in e["per_factor"]], float)
            miss = ~np.isfinite(med)
            if miss.any():
                ax.scatter(
                    f[miss],
                    cens[miss] / norm,
                    marker="^",
                    s=14,
                    facecolors="none",
                    edgecolors=color,
                    zorder=3,
                )
            ode = np.array([p["ode"] or np.nan for p in e["per_factor"]], float)
            ax.plot(f, ode / norm, ":", color=color, lw=0.8)
        ax.scatter([], [], marker="x", color="tab:red", label="chance (control not slower)")
        ax.scatter([], [], marker="^", facecolors="none", edgecolors="k", label="censored (> stop)")
        ax.plot([], [], ":", color="k", lw=0.8, label="ODE")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="step factor F (step = F x delta_N)",
            ylabel=r"median $n^*/N^3$",
            title=f"step scan, {exp.config.seeds} seeds per cell, {exp.config.start} start",
        )
        ax.legend(loc="best", frameon=False, ncol=2, fontsize=6.5)
        rows = [
            {"N": e["N"], "median": e["best_median"], "stop": min(p["stopped_at"] for p in e["per_factor"])}
            for e in scan
            if e["best_median"]["value"] is not None
        ]
        if rows:
            dims = np.array([r["N"] for r in rows], float)
            _medians(bx, dims, rows, r"$n^*_{best}/N^3$ (95% CI)", scale=dims**3, fmt="o")
            best = {e["N"]: e["best_factor"] for e in scan}
            for d, r in zip(dims, rows, strict=True):  # which factor is the best one at each N
                bx.annotate(
                    f"F={best[int(d)]:g}",
                    (d, r["median"]["value"] / d**3),
                    textcoords="offset points",
                    xytext=(4, -10),
                    fontsize=6.5,
                    color="0.3",
                )
            fine = np.geomspace(dims.min(), dims.max(), 30)
            bx.plot(
                fine,
                [exp.predicted_best(d)[1] / d**3 for d in fine],
                color="tab:blue",
                lw=1.4,
                label="ODE, best factor of the scan",
            )
            bx.plot(
                fine,
                [exp.predicted_optimum(d)[1] / d**3 for d in fine],
                "--",
                color="tab:blue",
                lw=0.9,
                label="ODE, best step overall",
            )
            ref = rows[0]["median"]["value"] / dims[0] ** 3
            bx.plot(
                fine,
                ref * np.log(fine) / np.log(dims[0]),
                ":",
                color="tab:orange",
                lw=1,
                label=r"$\propto N^3 \log N$",
            )
        bx.set(xscale="log", yscale="log", xlabel="input dimension N", ylabel=r"$n^*_{best}/N^3$")
        if rows:
            bx.set_xticks(dims, _tick_labels(dims))
        bx.minorticks_off()
        fit = summary.get("step_scan_fit")
        if fit:
            e, q = fit["exponent"], fit["log_power"]
            bx.set_title(
                f"exponent {_g(e['value'])} [{_g(e['lo'])}, {_g(e['hi'])}] (ODE {_g(fit['ode_exponent'])})\n"
                f"log power at 3: {_g(q['value'])} [{_g(q['lo'])}, {_g(q['hi'])}] "
                f"(ODE {_g(fit['ode_log_power'])})"
            )
        bx.legend(loc="best", frameon=False)
        return save(fig, stem)
