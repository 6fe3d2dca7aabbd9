"""Analysis of a power-law sweep: per-cell medians, speed-ups against alpha = 0 with paired
intervals under the one censoring policy, exponent fits, the summary file and the printed table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import sims
import sims.powerlaw
import theory
import theory.powerlaw

from .._sweep import stop_samples
from .config import MIN_SEEDS, PowerlawExperiment, by_axes


def _escapes(ds) -> np.ndarray:
    return np.asarray(ds["escape_samples"].values, float)


def _num(x):
    return None if x is None or not np.isfinite(x) else float(x)


def ratio_of_medians(
    ref, other, n_boot: int = sims.N_BOOT, seed: int = 0, budgets: tuple[float, float] | None = None
) -> sims.Estimate:
    """median(ref) / median(other) with a paired percentile bootstrap over seeds (seeds share their
    spike noise, start noise and data across alpha). Censored values (NaN) count as +inf; a ratio
    of two censored medians is NaN (undecided), and so is the interval when more than 2.5% of
    the resamples give one.

    With `budgets` (of ref, of other) the one censoring policy applies instead: a seed that did
    not escape sits at its budget (a lower bound on its escape count), so a ratio is a bound
    only: the lower end is unknown (NaN) when more than 2.5% of the resamples have a censored
    median of `other` (more than half of its seeds at the budget), the upper end when more than
    2.5% have a censored median of `ref`; the point is NaN when either full-sample median is."""
    ref, other = (np.asarray(v, float) for v in (ref, other))
    if ref.size != other.size:
        raise ValueError("paired ratio needs the same seeds in both cells")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ref.size, size=(n_boot, ref.size))
    if budgets is not None:
        cens_r, cens_o = ~np.isfinite(ref), ~np.isfinite(other)
        r = np.where(cens_r, budgets[0], ref)
        o = np.where(cens_o, budgets[1], other)
        with np.errstate(divide="ignore", invalid="ignore"):
            boots = np.median(r[idx], axis=1) / np.median(o[idx], axis=1)
            point = float(np.median(r) / np.median(o))
        lo, hi = np.quantile(boots, [0.025, 0.975], method="lower")
        if np.mean(cens_o[idx].mean(1) >= 0.5) > 0.025:
            lo = math.nan
        if np.mean(cens_r[idx].mean(1) >= 0.5) > 0.025:
            hi = math.nan
        if cens_o.mean() >= 0.5 or cens_r.mean() >= 0.5:
            point = math.nan
        return sims.Estimate(point, float(lo), float(hi), int(ref.size))
    ref, other = (np.where(np.isfinite(v), v, np.inf) for v in (ref, other))

    def ratio(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(a, float) / np.asarray(b, float)

    boots = ratio(np.median(ref[idx], axis=1), np.median(other[idx], axis=1))
    if np.mean(np.isnan(boots)) > 0.025:  # both medians censored too often: no interval
        lo = hi = math.nan
    else:
        lo, hi = np.quantile(boots[~np.isnan(boots)], [0.025, 0.975], method="lower")
    return sims.Estimate(float(ratio(np.median(ref), np.median(other))), float(lo), float(hi), int(ref.size))


def _censored_at(ds) -> float:
    """Where a cell's unescaped seeds are censored: where it stopped (`claims._sweep.stop_samples`:
    the budget, or earlier with `stop_after`), never beyond the budget (the last step may overrun it
    by less than a batch)."""
    return min(stop_samples(ds), float(json.loads(ds.attrs["config"])["budget"]))


def _boot_slopes(dims, samples, budgets, idx) -> np.ndarray:
    """Least-squares slopes of log(median) against log N for resampled seed indices idx[cell]."""
    x = np.log(np.asarray(dims, float))
    meds = []
    for s, b, ix in zip(samples, budgets, idx, strict=True):
        v = np.where(np.isfinite(s), s, np.inf)
        m = np.median(v[ix], axis=1)
        meds.append(np.maximum(np.where(np.isfinite(m), m, b), 1.0))
    y = np.log(np.stack(meds, axis=1))
    X = np.stack([np.ones_like(x), x], 1)
    return np.linalg.lstsq(X, y.T, rcond=None)[0][1]


def start_test(ds, start: str, n_boot: int = sims.N_BOOT, seed: int = 0) -> dict:
    """H1 tested on one cell's starts: the measured mean of m_eff(0)^2 over its seeds (95%
    percentile bootstrap), beside the exact expectation for a uniformly random unit w given each
    seed's spike (`theory.powerlaw.start_overlap_weights`, averaged over the same spikes) and H1's
    u^T C u / tr C (same average). Under the conditioned start m_eff(0)^2 is H1's value by
    construction (imposed, not tested): only the random start tests anything."""
    c = np.asarray(ds["spectrum"].values, float)
    u2 = np.asarray(ds["spike"].values, float).reshape(-1, c.size) ** 2
    m2 = np.asarray(ds["initial_overlap"].values, float).reshape(-1) ** 2
    h1 = float(np.mean(u2 @ c) / c.sum())
    exact = float(np.mean(u2 @ theory.powerlaw.start_overlap_weights(c)))
    rng = np.random.default_rng(seed)
    boots = m2[rng.integers(0, m2.size, size=(n_boot, m2.size))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return {
        "start": start,
        "tested": start == "random",
        "measured": {"value": float(m2.mean()), "lo": float(lo), "hi": float(hi), "n": int(m2.size)},
        "exact": exact,
        "h1": h1,
        "measured_over_h1": {"value": float(m2.mean()) / h1, "lo": float(lo) / h1, "hi": float(hi) / h1},
        "exact_over_h1": exact / h1,
    }


def _ratio_to_theory(esc, pred) -> float | None:
    """Median over seeds of simulated / ODE escape samples (seeds that escaped, finite ODE > 0)."""
    if pred is None:
        return None
    good = np.isfinite(esc) & np.isfinite(pred) & (pred > 0)
    return _num(np.median(esc[good] / pred[good])) if good.any() else None


def analyse_powerlaw(exp: PowerlawExperiment, cells: dict, per_seed_theory: bool = True) -> dict:
    """Per-cell medians with intervals, speed-ups against alpha = 0, exponent fits per
    (alpha, placement) with their differences from alpha = 0, and the theory beside each.

    Long because it assembles the summary's sections (cells, speed-ups, fits) one after the other."""
    c = exp.config
    cells = by_axes(cells)
    rows = []
    for (dim, alpha, placement), ds in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        esc = _escapes(ds)
        med = sims.median_ci(esc)
        pred = exp.per_seed_predictions(ds) if per_seed_theory else None
        h = exp.hierarchy(dim, alpha, placement)
        rows.append(
            {
                "N": dim,
                "alpha": alpha,
                "placement": placement,
                "seeds": int(esc.size),
                "budget": int(json.loads(ds.attrs["config"])["budget"]),
                "censored_at": _censored_at(ds),
                "engine": json.loads(ds.attrs["config"]).get("engine", "coloured"),
                "escaped_fraction": float(np.mean(np.isfinite(esc))),
                "started_escaped_fraction": float(np.mean(esc == 0)),
                "median_escape_samples": med.as_dict(),
                "median_start_overlap": float(np.median(np.asarray(ds["initial_overlap"].values))),
                "participation_ratio": theory.powerlaw.participation_ratio(exp.variances(dim, alpha)),
                "theory_start_overlap": None
                if h is None
                else theory.powerlaw.typical_start_overlap(h.c, h.u2),
                "theory_escape_samples": _num(exp.typical_prediction(dim, alpha, placement)),
                "theory_per_seed_median": None if pred is None else _num(np.median(pred)),
                "median_ratio_to_theory_per_seed": _ratio_to_theory(esc, pred),
                "wall_seconds": float(ds.attrs.get("wall_seconds", math.nan)),
                "start_overlap_squared": start_test(ds, c.start, seed=dim),
            }
        )
    summary = {
        "theory": {
            "activation": exp.activation,
            "leading_coefficient": float(exp.loss.leading_coefficient),
            "step0": exp.step0,
            "schedule": str(exp.dynamics.schedule),
            "budget_factor": exp.budget_factor,
            "covered": c.preactivation == "normalised",
            "hypotheses": "H1 start overlap, H2 shell hierarchy, H3 closed form (docs/powerlaw.md)",
            "participation_ratio_scaling": {
                f"{a:g}": [str(v) for v in theory.powerlaw.pr_scaling(a, 2 if c.inputs == "image" else 1)]
                for a in c.alphas
            },
        },
        "cells": rows,
        "speedups": [],
        "fits": [],
    }
    theory_median = {(r["N"], r["alpha"], r["placement"]): r["theory_per_seed_median"] for r in rows}
    # Speed-up of each cell against the alpha = 0 cell at the same N (paired over seeds); the
    # theory's is the ratio of the medians of the per-seed ODE predictions.
    if 0.0 in c.alphas:
        for (dim, alpha, placement), ds in sorted(cells.items()):
            if alpha == 0:
                continue
            ref = cells[(dim, 0.0, c.placements[0])]
            budgets = (_censored_at(ref), _censored_at(ds))
            est = ratio_of_medians(_escapes(ref), _escapes(ds), seed=dim, budgets=budgets)
            ta = theory_median.get((dim, alpha, placement))
            t0 = theory_median.get((dim, 0.0, c.placements[0]))
            summary["speedups"].append(
                {
                    "N": dim,
                    "alpha": alpha,
                    "placement": placement,
                    "speedup": est.as_dict(),
                    "theory_speedup": None if not ta or not t0 else _num(t0 / ta),
                }
            )
    # Exponent per (alpha, placement) over N, and its difference from alpha = 0 (paired seeds).
    n_boot = sims.N_BOOT
    rng = np.random.default_rng(1)
    dims = list(c.dims)
    idx = [rng.integers(0, c.seeds, size=(n_boot, c.seeds)) for _ in dims]
    ref_slopes = None
    dimensionality = 2 if c.inputs == "image" else 1
    for alpha in c.alphas:
        for placement in c.placements[:1] if alpha == 0 else c.placements:
            rs = [r for r in rows if r["alpha"] == alpha and r["placement"] == placement]
            rs.sort(key=lambda r: r["N"])
            entry = {"alpha": alpha, "placement": placement, "dims": [r["N"] for r in rs]}
            zero = [r["N"] for r in rs if r["median_escape_samples"]["value"] == 0]
            if len(rs) < 3 or zero or c.seeds < MIN_SEEDS:
                entry["exponent"] = None
                entry["reason"] = (
                    f"median start already beyond the escape overlap at N = {zero}"
                    if zero
                    else ("fewer than 3 N" if len(rs) < 3 else f"fewer than {MIN_SEEDS} seeds")
                )
                summary["fits"].append(entry)
                continue
            samples = [_escapes(cells[(r["N"], alpha, placement)]) for r in rs]
            budgets = [r["censored_at"] for r in rs]
            fit = sims.power_law_fit(entry["dims"], samples, budgets=budgets)
            slopes = _boot_slopes(entry["dims"], samples, budgets, idx)
            x = np.log(entry["dims"])
            th = [r["theory_per_seed_median"] or r["theory_escape_samples"] for r in rs]
            entry["exponent"] = fit["exponent"].as_dict()
            entry["censored_resamples"] = fit.censored_resamples
            entry["theory_exponent"] = (
                float(np.polyfit(x, np.log(th), 1)[0]) if all(t and t > 0 for t in th) else None
            )
            if placement == "aligned":
                # H3's asymptotic law N^p (log N)^q; the free power of log N at H3's exponent p
                p_h3, q_h3 = (float(v) for v in theory.powerlaw.h3_escape_scaling(alpha, dimensionality))
                q_fit = sims.log_power_fit(entry["dims"], samples, p_h3, budgets=budgets)
                entry["h3"] = {"exponent": p_h3, "log_power": q_h3}
                entry["log_power_at_h3_exponent"] = q_fit["log_power"].as_dict()
            if alpha == 0:
                ref_slopes = slopes
            elif ref_slopes is not None:
                diff = slopes - ref_slopes
                lo, hi = np.quantile(diff, [0.025, 0.975])
                point = (
                    fit["exponent"].value
                    - next(f for f in summary["fits"] if f["alpha"] == 0)["exponent"]["value"]
                )
                entry["difference_from_alpha0"] = {"value": float(point), "lo": float(lo), "hi": float(hi)}
                entry["changes"] = bool(lo > 0 or hi < 0)
            summary["fits"].append(entry)
    return summary


def write_powerlaw_summary(out: Path, summary: dict, exp: PowerlawExperiment) -> Path:
    payload = dict(summary, config=exp.config.as_dict(), provenance=sims.provenance())
    path = Path(out) / "summary.json"
    sims.atomic_write_bytes(path, (json.dumps(payload, indent=2, allow_nan=False) + "\n").encode())
    return path


def format_table(summary: dict) -> str:
    fmt = lambda v: "inf" if v is None else f"{v:.3g}"
    lines = [
        f"\n{'N':>4} {'alpha':>5} {'placement':>9} {'seeds':>5} {'escaped':>7} {'median n*':>10} "
        f"{'95% CI':>21} {'ODE n*':>9} {'speed-up vs alpha=0 [95% CI]':>30} {'ODE':>6}"
    ]
    sp_ = {(s["N"], s["alpha"], s["placement"]): s for s in summary["speedups"]}
    for r in sorted(summary["cells"], key=lambda r: (r["N"], r["alpha"], r["placement"])):
        med = r["median_escape_samples"]
        s = sp_.get((r["N"], r["alpha"], r["placement"]))
        sp_text, th_text = "-", "-"
        if s:
            e = s["speedup"]
            sp_text = (
                "n/a (both censored)"
                if e["value"] is None
                else f"{fmt(e['value'])} [{fmt(e['lo'])}, {fmt(e['hi'])}]"
            )
            th_text = fmt(s["theory_speedup"])
        lines.append(
            f"{r['N']:>4} {r['alpha']:>5g} {r['placement']:>9} {r['seeds']:>5} {r['escaped_fraction']:>7.0%} "
            f"{fmt(med['value']):>10} {'[' + fmt(med['lo']) + ', ' + fmt(med['hi']) + ']':>21} "
            f"{fmt(r['theory_per_seed_median'] or r['theory_escape_samples']):>9} {sp_text:>30} {th_text:>6}"
        )
    lines.append("\nfitted sample exponents over N (95% bootstrap intervals):")
    for f_ in summary["fits"]:
        if not f_.get("exponent"):
            lines.append(f"  alpha={f_['alpha']:g} {f_['placement']}: no fit ({f_['reason']})")
            continue
        e = f_["exponent"]
        text = f"  alpha={f_['alpha']:g} {f_['placement']}: {e['value']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}]"
        if f_.get("theory_exponent") is not None:
            text += f" (ODE {f_['theory_exponent']:.2f})"
        d = f_.get("difference_from_alpha0")
        if d:
            text += f"; minus alpha=0: {d['value']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}] -> " + (
                "changes" if f_["changes"] else "no resolved change"
            )
        q = f_.get("log_power_at_h3_exponent")
        if q:
            h3 = f_["h3"]
            text += (
                f"; H3 asymptote N^{h3['exponent']:g} (log N)^{h3['log_power']:g}, free log power at "
                f"that exponent {_interval(q)}"
            )
        lines.append(text)
    lines.extend(format_start_table(summary))
    return "\n".join(lines)


def _interval(e: dict) -> str:
    fmt = lambda v: "?" if v is None or not np.isfinite(v) else f"{v:.2f}"
    return f"{fmt(e['value'])} [{fmt(e['lo'])}, {fmt(e['hi'])}]"


def format_start_table(summary: dict) -> list[str]:
    """The H1 test: measured mean m_eff(0)^2 per cell against the exact expectation and H1."""
    rows = [r for r in summary["cells"] if r.get("start_overlap_squared")]
    if not rows:
        return []
    if not rows[0]["start_overlap_squared"]["tested"]:
        return [
            "\nstart: conditioned, m_eff(0)^2 set to H1's u^T C u / tr C "
            "(H1 imposed, not tested; --start random tests it)"
        ]
    lines = [
        "\nH1 test, random start: mean m_eff(0)^2 over seeds [95% bootstrap] against the exact expectation"
        " for a uniform start and H1 (both averaged over the same spikes)",
        f"{'N':>4} {'alpha':>5} {'placement':>9} {'measured':>26} {'exact':>8} {'H1':>8} "
        f"{'measured/H1':>24} {'exact/H1':>8}",
    ]
    for r in sorted(rows, key=lambda r: (r["alpha"], r["placement"], r["N"])):
        t = r["start_overlap_squared"]
        m, q = t["measured"], t["measured_over_h1"]
        lines.append(
            f"{r['N']:>4} {r['alpha']:>5g} {r['placement']:>9} "
            f"{m['value']:>8.4f} [{m['lo']:.4f}, {m['hi']:.4f}] {t['exact']:>8.4f} {t['h1']:>8.4f} "
            f"{q['value']:>6.3f} [{q['lo']:.3f}, {q['hi']:.3f}] {t['exact_over_h1']:>8.3f}"
        )
    return lines
