"""The hardness verdict of a scaling sweep: per-cell statistics, the step scan, fits and bounds.

Everything here follows one censoring policy (see `sims._stats`): a seed that did not escape is
right-censored where its cell stopped; medians are order statistics (`sims.upper_median`) with
distribution-free intervals; a censored median is a lower bound, and a fit parameter it could move
gets an unbounded interval end on that side (`sims.fit_censored`).

The rules below are fixed before any data (module constants with their reasons):

- **Lower bound** (BAGJ: no step lets online SGD escape with n << N^(k-1)): from n*_best when a
  step scan ran, else from the single schedule. `supported` if the whole 95% interval of the slope
  of log(n*/N^(k-1)) against log N lies above -MARGIN, `refuted` if it lies below, `undecided`
  otherwise.
- **Upper bound** (n >> N^(k-1) log^2 N suffice): `supported` if the interval of the slope of
  log(n*/(N^(k-1) log^2 N)) lies below +MARGIN, `refuted` if above, `undecided` otherwise.
- Fewer than MIN_DIMS usable N or MIN_SEEDS seeds per N: both `undecided`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import xarray as xr

import sims

from ._config import Cell, Experiment
from ._sweep import chance_check, escapes, stop_samples
from .registry import FAILS, HOLDS, UNDECIDED, Above, Below


MARGIN = 0.1
"""eps of the bound rules. The local slope that (log N)^q adds to log n against log N is q / log N:
over N = 16..148 half a power of log N adds more than 0.1, so a deficit of a whole log factor is
never absorbed by the margin, while a prefactor that drifts like (1 + c / log N) (slope about
c / log^2 N, under 0.1 for c < 1 at N >= 23) is."""
MIN_DIMS = 3
"""A slope needs at least 3 N to have an interval that is not a single difference."""
MIN_SEEDS = 6
"""The order-statistic interval of a median needs at least 6 seeds to be bounded at 95%."""
VERDICTS = ("supported", "refuted", "undecided")
SUMMARY_KEYS = (
    "information_exponent",
    "recoverable",
    "predicted_exponent",
    "start",
    "engines",
    "cells",
    "step_scan",
    "step_scan_fit",
    "fit",
    "bounds",
    "resolution",
    "excluded",
    "verdict",
)


def bound_rule(which: str, margin: float = MARGIN):
    """The registered rule of a bound (`claims.registry`): lower, the slope of log(n*/N^(k-1))
    entirely above -margin; upper, the slope of log(n*/(N^(k-1) log^2 N)) entirely below +margin."""
    if which == "lower":
        return Above(-margin, "the slope of log(n*/N^(k-1)) against log N")
    if which == "upper":
        return Below(margin, "the slope of log(n*/(N^(k-1) log^2 N)) against log N")
    raise ValueError(f"unknown bound {which!r}: use lower or upper")


def bound_verdict(which: str, slope, margin: float = MARGIN) -> str:
    """The three-outcome verdict (`supported`, `refuted`, `undecided`) of `bound_rule` on a slope
    estimate (an `Estimate`, its dict or an `Interval`); an unbounded (censored) end never decides
    in its own direction."""
    return {HOLDS: "supported", FAILS: "refuted", UNDECIDED: "undecided"}[
        bound_rule(which, margin).decide(slope)
    ]


def threshold_name(e: int, q: int) -> str:
    text = "N" if e == 1 else f"N^{e}"
    if q:
        text += " log N" if q == 1 else f" log^{q} N"
    return f"({text})" if q else text


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _boot_seed(cell: Cell) -> list[int]:
    return [cell.dim, int(round(cell.factor * 1000))]


def cell_row(exp: Experiment, cell: Cell, ds: xr.Dataset, control: xr.Dataset | None) -> dict:
    """The summary row of one signal cell: escaped fraction, median with interval, the ODE's
    prediction, the chance check against its control, where it stopped."""
    esc = escapes(ds)
    step = float(ds["step"].values[0])
    cfg = json.loads(ds.attrs["config"])
    ratio = np.full(esc.shape, np.nan)
    if exp.loss.recoverable:
        m0 = np.asarray(ds["initial_overlap"].values[0], float)
        pred = np.array([exp.dynamics.ode_escape_samples(cell.dim, step, a) for a in m0])
        good = np.isfinite(pred) & (pred > 0) & np.isfinite(esc)
        ratio[good] = esc[good] / pred[good]
    check = chance_check(exp, ds, control)
    return {
        "N": cell.dim,
        "factor": cell.factor,
        "seeds": int(esc.size),
        "budget": int(cfg["budget"]),
        "stopped_at": stop_samples(ds),
        "step": step,
        "batch": int(cfg["batch"]),
        "engine": ds.attrs.get("engine", "full"),
        "escaped_fraction": float(np.mean(np.isfinite(esc))),
        "started_escaped": int(np.sum(esc == 0)),
        "median_escape_samples": sims.median_os_ci(esc).as_dict(),
        "theory_escape_samples": _num(exp.predicted_escape(cell.dim, cell.factor))
        if exp.loss.recoverable
        else None,
        "median_ratio_to_ode_per_seed": _num(np.nanmedian(ratio)) if np.any(np.isfinite(ratio)) else None,
        "ratio_seeds": int(np.isfinite(ratio).sum()),
        "chance": check,
        "wall_seconds": float(ds.attrs.get("wall_seconds", math.nan)),
    }


def per_dimension(exp: Experiment, cells: dict[Cell, xr.Dataset], rows: list[dict]):
    """Per N: the escape count that enters the fits (n* of the single schedule, or n*_best of the
    scan), its bootstrap medians and its censoring level; plus the scan table and exclusions.

    **Returns:** `(usable, point, boot, floor, scan, excluded, factor_boots)` with `point`, `boot`
    (resamples x N) and `floor` over the `usable` N, and `factor_boots[(N, F)]` the bootstrap
    medians of every cell that entered (for `per_factor_exponents`)."""
    usable, point, boot, floor, scan, excluded = [], [], [], [], [], []
    factor_boots: dict[tuple[int, float], np.ndarray] = {}
    for dim in exp.config.dims:
        mine = [r for r in rows if r["N"] == dim]
        # a censored single-schedule cell stays (the fits treat it as a bound); in a scan it cannot be best
        ok = [
            r
            for r in mine
            if r["chance"]["eligible"] or (r["chance"]["kind"] == "censored" and not exp.scanning)
        ]
        for r in mine:
            if r not in ok:
                excluded.append({"N": dim, "factor": r["factor"], "reason": r["chance"]["reason"]})
        ok = [r for r in ok if r["median_escape_samples"]["value"] != 0]  # start beyond m1: no scaling
        boots = _boots(cells, dim, ok) if ok else None
        factor_boots.update({(dim, r["factor"]): b for r, b in zip(ok, boots.T if ok else (), strict=True)})
        if exp.scanning:
            scan.append(_scan_entry(exp, dim, mine, ok, boots))
        if not ok:
            continue
        meds = np.array([r["median_escape_samples"]["value"] or np.inf for r in ok])
        usable.append(dim)
        point.append(meds.min())
        boot.append(boots.min(axis=1))
        floor.append(min(r["stopped_at"] for r in ok))
    boot = np.stack(boot, axis=1) if boot else None
    return usable, np.array(point), boot, np.array(floor), scan, excluded, factor_boots


def _boots(cells, dim: int, rows: list[dict]) -> np.ndarray:
    """Bootstrap medians (resamples x cells) of the signal cells of N = dim named by `rows`."""
    keys = [Cell(dim, r["factor"]) for r in rows]
    return np.stack([sims.escape_bootstrap(escapes(cells[c]), seed=_boot_seed(c)) for c in keys], axis=1)


def _scan_entry(exp: Experiment, dim: int, mine: list[dict], ok: list[dict], boots) -> dict:
    """The scan's entry for N = dim; `boots` are the bootstrap medians of the `ok` cells."""
    best_factor, best_median = None, {"value": None, "lo": None, "hi": None}
    if ok:
        meds = np.array([r["median_escape_samples"]["value"] or np.inf for r in ok])
        i = int(np.argmin(meds))
        best_factor = ok[i]["factor"] if np.isfinite(meds[i]) else None
        lo, hi = np.quantile(boots.min(axis=1), [0.025, 0.975], method="lower")
        best_median = {"value": _num(meds[i]), "lo": _num(lo), "hi": _num(hi), "n": sims.N_BOOT}
    ode_factor, ode_best = exp.predicted_best(dim) if exp.loss.recoverable else (None, math.inf)
    return {
        "N": dim,
        "best_factor": best_factor,
        "best_median": best_median,
        "ode_best_factor": ode_factor,
        "ode_best_median": _num(ode_best),
        "ode_optimum": _num(exp.predicted_optimum(dim)[1]) if exp.loss.recoverable else None,
        "per_factor": [
            {
                "factor": r["factor"],
                "step": r["step"],
                "escaped_fraction": r["escaped_fraction"],
                "median": r["median_escape_samples"],
                "stopped_at": r["stopped_at"],
                "eligible": r["chance"]["eligible"],
                "reason": r["chance"]["reason"],
                "ode": r["theory_escape_samples"],
            }
            for r in sorted(mine, key=lambda r: r["factor"])
        ],
    }


def fits(exp: Experiment, dims, point, boot, floor) -> dict[str, sims.ScalingFit]:
    """The fits of the per-N escape counts: free exponent; free log power at exponent k-1; the
    slopes of the ratios to the two thresholds; exponent and log power both free (resolution)."""
    (lo_e, lo_q), (up_e, up_q) = exp.dynamics.thresholds["lower"], exp.dynamics.thresholds["upper"]

    def run(design, offset=None):
        return sims.fit_censored(dims, point, boot, floor, *sims.DESIGNS[design], offset=offset)

    ratio = lambda e, q: lambda d: e * np.log(d) + q * np.log(np.log(d))
    out = {
        "power": run("power_law"),
        "log_power": run("log_power", lambda d: lo_e * np.log(d)),
        "lower": run("ratio_slope", ratio(lo_e, lo_q)),
        "upper": run("ratio_slope", ratio(up_e, up_q)),
    }
    if len(dims) >= 4:
        out["both"] = run("exponent_and_log_power")
    return out


def per_factor_exponents(exp: Experiment, scan: list[dict], factor_boots: dict) -> list[dict]:
    """A diagnostic beside n*_best (not part of any verdict): per step factor, the fitted exponent of
    its median escape count over the N where its cell is eligible (at least MIN_DIMS of them), with
    the same bootstrap and censoring policy. When the best factor changes with N (for instance
    because the chance control admits a large step only from some N on), n*_best's exponent mixes
    factors; these fits show the scaling at a fixed factor."""
    out = []
    for f in exp.factors:
        rows = [
            (e["N"], p)
            for e in scan
            for p in e["per_factor"]
            if p["factor"] == f and p["eligible"] and (e["N"], f) in factor_boots
        ]
        if len(rows) < MIN_DIMS:
            out.append({"factor": f, "dims": [d for d, _ in rows], "exponent": None})
            continue
        dims = [d for d, _ in rows]
        point = np.array([p["median"]["value"] or np.inf for _, p in rows])
        boot = np.stack([factor_boots[(d, f)] for d, _ in rows], axis=1)
        floor = np.array([p["stopped_at"] for _, p in rows])
        fit = sims.fit_censored(dims, point, boot, floor, *sims.DESIGNS["power_law"])
        out.append({"factor": f, "dims": dims, "exponent": fit["exponent"].as_dict()})
    return out


def resolution(dims, fitted: dict) -> dict:
    """What the N grid can resolve: over these N, one power of log N looks like an exponent change
    of `exponent_per_log_power` (the least-squares slope of log log N on log N); with the exponent
    left free, the log power is known to +-`log_power_halfwidth` (from the fit with both free), so
    the grid tells one power of log N from an exponent change only when that is below 1."""
    x = np.log(np.asarray(dims, float))
    rho = float(np.polyfit(x, np.log(x), 1)[0])
    both = fitted.get("both")
    half = None
    if both is not None:
        q = both["log_power"]
        half = _num((q.hi - q.lo) / 2)
    return {
        "exponent_per_log_power": rho,
        "log_power_halfwidth": half,
        "resolves_one_log_power": None if half is None else bool(half < 1),
        "slope_halfwidth": _num((fitted["lower"]["slope"].hi - fitted["lower"]["slope"].lo) / 2),
    }


def analyse(exp: Experiment, cells: dict[Cell, xr.Dataset]) -> dict:
    """Compare the sweep with the theory: per-cell medians, the scan, fits, bounds and verdict."""
    rows = [
        cell_row(exp, cell, ds, cells.get(cell.control))
        for cell, ds in sorted(cells.items())
        if not cell.null
    ]
    summary = _header(exp, rows)
    if not exp.loss.recoverable:
        summary["verdict"] = no_escape_verdict(exp, rows)
        return summary
    usable, point, boot, floor, scan, excluded, factor_boots = per_dimension(exp, cells, rows)
    summary["step_scan"] = scan or None
    summary["excluded"] = excluded
    notes = [f"left out by the chance control: {len(excluded)} cell(s)"] if excluded else []
    if len(usable) < MIN_DIMS or exp.config.seeds < MIN_SEEDS:
        why = (
            f"{len(usable)} usable N (need {MIN_DIMS})"
            if len(usable) < MIN_DIMS
            else f"{exp.config.seeds} seeds per N (need {MIN_SEEDS} for an interval of the median)"
        )
        summary["verdict"] = {
            "lower_bound": "undecided",
            "upper_bound": "undecided",
            "reason": f"undecided: {why}; " + _where(exp) + "".join(f"; {n}" for n in notes),
        }
        return summary
    fitted = fits(exp, usable, point, boot, floor)
    _fill_fits(exp, summary, usable, point, fitted, scan, factor_boots)
    summary["resolution"] = resolution(usable, fitted)
    summary["verdict"] = _bound_verdicts(exp, summary, usable, notes)
    return summary


def _header(exp: Experiment, rows: list[dict]) -> dict:
    k = exp.loss.information_exponent
    p, q = exp.schedule
    return {
        "information_exponent": k,
        "recoverable": bool(exp.loss.recoverable),
        "predicted_exponent": exp.dynamics.thresholds["lower"][0] if k else None,
        "start": exp.config.start,
        "theory": {
            "task": exp.config.task,
            "latent": exp.config.latent,
            "activation": exp.activation,
            "snr": exp.config.snr,
            "leading_coefficient": float(exp.loss.leading_coefficient),
            "statement": exp.loss.verdict,
            "step0": exp.step0,
            "schedule": exp.schedule_text,
            "step_exponent": p,
            "step_log_power": q,
            "step_factors": list(exp.config.step_factors),
            "gradient_scale": float(exp.loss.gradient_scale),
            "theory_fit_exponent": None,
        },
        "engines": sorted({r["engine"] for r in rows}),
        "cells": rows,
        "step_scan": None,
        "step_scan_fit": None,
        "fit": None,
        "bounds": None,
        "resolution": None,
        "excluded": [],
        "verdict": None,
    }


def _where(exp: Experiment) -> str:
    """Where a verdict stands: start, schedule or scan, N range, seeds, margin."""
    c = exp.config
    start = "random start (uniform on the sphere)" if c.start == "random" else "conditioned start m0 = N^-1/2"
    if exp.scanning:
        basis = (
            f"best step over a scan of {len(c.step_factors)} factors "
            f"F = {c.step_factors[0]:g}..{c.step_factors[-1]:g} "
            f"x ({exp.schedule_text})"
        )
    else:
        basis = f"single schedule {exp.schedule_text}"
    return (
        f"{basis}; {start}; N = {min(c.dims)}..{max(c.dims)} ({len(c.dims)} N), {c.seeds} seeds each; "
        f"margin eps = {MARGIN}; 95% intervals"
    )


def _fill_fits(exp, summary, usable, point, fitted, scan, factor_boots) -> None:
    (lo_e, lo_q), (up_e, up_q) = exp.dynamics.thresholds["lower"], exp.dynamics.thresholds["upper"]
    if exp.scanning:
        pred = np.array([e["ode_best_median"] or np.inf for e in scan if e["N"] in usable])
    else:
        pred = np.array([exp.predicted_escape(d) for d in usable])
    pred_ok = bool(np.all(np.isfinite(pred)) and np.all(pred > 0))
    x = np.log(np.asarray(usable, float))
    ode = {}
    if pred_ok:
        summary["theory"]["theory_fit_exponent"] = float(np.polyfit(x, np.log(pred), 1)[0])
        ode["lower"] = float(np.polyfit(x, np.log(pred / exp.dynamics.lower_threshold(usable)), 1)[0])
        ode["upper"] = float(np.polyfit(x, np.log(pred / exp.dynamics.upper_threshold(usable)), 1)[0])
        ode["log_power"] = float(np.polyfit(np.log(x), np.log(pred) - lo_e * x, 1)[0])
    basis = "step scan" if exp.scanning else "single schedule"
    summary["fit"] = {
        "basis": basis,
        "dims": list(usable),
        "exponent": fitted["power"]["exponent"].as_dict(),
        "log_power": fitted["log_power"]["log_power"].as_dict(),
        "log_power_at_exponent": lo_e,
        "censored_cells": [d for d, v in zip(usable, point, strict=True) if not np.isfinite(v)],
        "censored_resamples": fitted["power"].censored_resamples,
    }
    if exp.scanning:
        summary["step_scan_fit"] = {
            "exponent": summary["fit"]["exponent"],
            "log_power": summary["fit"]["log_power"],
            "ode_exponent": summary["theory"]["theory_fit_exponent"],
            "ode_log_power": ode.get("log_power"),
            "per_factor": per_factor_exponents(exp, scan, factor_boots),
        }
    summary["bounds"] = {}
    for name, (e, q) in (("lower", (lo_e, lo_q)), ("upper", (up_e, up_q))):
        slope = fitted[name]["slope"]
        summary["bounds"][name] = {
            "threshold": threshold_name(e, q),
            "quantity": f"n*/{threshold_name(e, q)}",
            "slope": slope.as_dict(),
            "verdict": bound_verdict(name, slope),
            "margin": MARGIN,
            "basis": basis,
            "ode_slope": ode.get(name),
        }


def _bound_verdicts(exp, summary, usable, notes) -> dict:
    b = summary["bounds"]
    fmt = lambda s: (
        f"{'censored' if s['value'] is None else _f(s['value'])} [{_f(s['lo'])}, "
        f"{'+inf' if s['hi'] is None else _f(s['hi'])}]"
    )
    star = "n*_best" if exp.scanning else "n*"
    parts = []
    for name, side in (("lower", f"> -{MARGIN}"), ("upper", f"< +{MARGIN}")):
        bb = b[name]
        parts.append(
            f"{name} bound {bb['verdict'].upper()}: slope of log({star}/{bb['threshold']}) = "
            f"{fmt(bb['slope'])} "
            f"(supported if the interval is {side})"
        )
    res = summary["resolution"]
    reason = "; ".join(parts) + "; " + _where(exp)
    rho = res["exponent_per_log_power"]
    reason += f"; over these N one power of log N looks like an exponent change of {rho:.2f}"
    for name in ("lower", "upper"):
        ode = b[name]["ode_slope"]
        if (
            b[name]["verdict"] == "refuted"
            and ode is not None
            and (ode < -MARGIN if name == "lower" else ode > MARGIN)
        ):
            reason += f"; the ODE itself has {name} slope {ode:+.3f} over these N (finite-N effects)"
    reason += "".join(f"; {n}" for n in notes)
    return {"lower_bound": b["lower"]["verdict"], "upper_bound": b["upper"]["verdict"], "reason": reason}


def _f(v) -> str:
    return "-inf" if v is None else f"{v:+.3f}"


def no_escape_verdict(exp: Experiment, rows: list[dict]) -> dict:
    """The no-escape control: the theory says m = 0 is stable, so no seed that started below the
    escape overlap may reach it within the budget (seeds that started beyond it are reported)."""
    moved = {r["N"]: int(round(r["escaped_fraction"] * r["seeds"])) - r["started_escaped"] for r in rows}
    started = sum(r["started_escaped"] for r in rows)
    bad = {d: n for d, n in moved.items() if n > 0}
    word = "supported" if not bad else "refuted"
    reason = (
        f"no escape {word.upper()}: theory: m = 0 is stable ({exp.loss.verdict.split(':')[0]}); "
        + (
            "no seed that started below the escape overlap reached it"
            if not bad
            else "seeds escaped although the theory forbids it: "
            + ", ".join(f"N={d}: {n}" for d, n in bad.items())
        )
        + f" ({started} seed(s) started beyond it); {_where(exp)}"
    )
    return {"lower_bound": None, "upper_bound": None, "no_escape": word, "reason": reason}


def _interval_text(e: dict) -> str:
    """value [lo, hi] with a censored (unknown) value, lower end or upper end written as such."""
    v = "censored" if e["value"] is None else f"{e['value']:.3g}"
    lo = "-inf" if e["lo"] is None else f"{e['lo']:.3g}"
    hi = "+inf" if e["hi"] is None else f"{e['hi']:.3g}"
    return f"{v} [{lo}, {hi}]"


def summary_lines(summary: dict) -> list[str]:
    """The printed report of a sweep: the per-N table (and the scan), the fits and the verdict."""
    fmt = lambda v: "inf" if v is None else f"{v:.3g}"
    lines = [
        f"{'N':>6} {'F':>6} {'seeds':>5} {'escaped':>8} {'median n*':>10} {'95% CI':>22} {'ODE n*':>9}"
        "  chance control"
    ]
    for r in summary["cells"]:
        med = r["median_escape_samples"]
        ci = "[" + fmt(med["lo"]) + ", " + fmt(med["hi"]) + "]"
        lines.append(
            f"{r['N']:>6} {r['factor']:>6g} {r['seeds']:>5} {r['escaped_fraction']:>8.0%} "
            f"{fmt(med['value']):>10} "
            f"{ci:>22} {fmt(r['theory_escape_samples']):>9}  {r['chance']['reason']}"
        )
    for e in summary.get("step_scan") or []:
        b = e["best_median"]
        lines.append(
            f"N={e['N']}: best factor {e['best_factor']}, n*_best = {fmt(b['value'])} [{fmt(b['lo'])}, "
            f"{fmt(b['hi'])}]; ODE best factor {e['ode_best_factor']:g}: {fmt(e['ode_best_median'])}"
        )
    fit = summary.get("fit")
    if fit:
        e, q = fit["exponent"], fit["log_power"]
        th = summary["theory"]["theory_fit_exponent"]
        star = "n*_best" if fit["basis"] == "step scan" else "n*"
        lines.append(
            f"\n{star}: fitted exponent {_interval_text(e)}"
            + (f" (ODE over these N: {th:.3f})" if th is not None else "")
            + f"; free log power at exponent {summary['predicted_exponent']}: {_interval_text(q)}"
        )
    for pf in (summary.get("step_scan_fit") or {}).get("per_factor", []):
        e = pf["exponent"]
        if e is not None:
            lines.append(
                f"at fixed factor F = {pf['factor']:g} (eligible at N = {pf['dims']}): exponent "
                f"{_interval_text(e)} (diagnostic, no verdict)"
            )
    res = summary.get("resolution")
    if res:
        half = res["log_power_halfwidth"]
        lines.append(
            "resolution: one power of log N looks like an exponent change of "
            f"{res['exponent_per_log_power']:.2f} "
            "over these N; "
            + (
                f"with the exponent free the log power is known to +-{half:.2f}"
                + (
                    " (resolves one power of log N)"
                    if res["resolves_one_log_power"]
                    else " (cannot resolve one power of log N)"
                )
                if half is not None
                else "too few N to fit exponent and log power together"
            )
        )
    lines.append(f"\nverdict: {summary['verdict']['reason']}")
    return lines
