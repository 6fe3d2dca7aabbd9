"""Analysis of the amplitude-phase cells: per-cell medians, exponent fits beside the ODE, the
pre-registered verdicts, the printed table and the summary file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import sympy as sp
import xarray as xr

import sims
import sims.two_direction

from ..registry import Above, AllOf, Within
from .config import CENSOR_TOLERANCE, MIN_SEEDS, READOUTS, APConfig, Readout


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _fit(readout: Readout, cells: dict[int, xr.Dataset], direction: str) -> dict:
    """Power-law exponent (and free log power at the nominal exponent) of the escape along
    `direction`, beside the ODE's exponent over the same N."""
    dims = sorted(cells)
    samples = [np.asarray(cells[d][f"escape_{direction}"].values, float) for d in dims]
    meds = [np.median(np.where(np.isfinite(s), s, np.inf)) for s in samples]
    usable = [d for d, m in zip(dims, meds, strict=True) if m != 0]
    samples = [s for d, s in zip(dims, samples, strict=True) if d in usable]
    ode = np.array([readout.ode(d)[0 if direction == "v" else 1] for d in usable])
    nominal = {("amplitude", "v"): 1, ("phase", "u"): 3, ("staircase", "v"): 1, ("staircase", "u"): 1}[
        (readout.name, direction)
    ]
    out = {
        "direction": direction,
        "dims": usable,
        "nominal_exponent": nominal,
        "ode_exponent": float(np.polyfit(np.log(usable), np.log(ode), 1)[0])
        if len(usable) >= 2 and np.all(np.isfinite(ode))
        else None,
        "exponent": None,
        "log_power": None,
        "censored_resamples": None,
        "usable": False,
    }
    if len(usable) < 3 or readout.config.seeds < MIN_SEEDS:
        out["reason"] = f"{len(usable)} usable N and {readout.config.seeds} seeds (need 3 and {MIN_SEEDS})"
        return out
    budgets = [readout.budget(d) for d in usable]
    power = sims.power_law_fit(usable, samples, budgets=budgets)
    logp = sims.log_power_fit(usable, samples, exponent=nominal, budgets=budgets)
    out.update(
        exponent=power["exponent"].as_dict(),
        log_power=logp["log_power"].as_dict(),
        censored_resamples=power.censored_resamples,
        usable=power.censored_resamples <= CENSOR_TOLERANCE * sims.N_BOOT,
    )
    if not out["usable"]:
        out["reason"] = f"{power.censored_resamples} of {sims.N_BOOT} resamples hit a censored median"
    return out


def analyse(config: APConfig, results: dict[str, dict[int, xr.Dataset]]) -> dict:
    """Per-cell medians with intervals, ODE predictions, exponent fits and the two verdicts."""
    summary: dict = {"theory": {}, "readouts": {}, "verdicts": {}}
    for name, cells in results.items():
        ro = Readout(config, name)
        rows = []
        for dim in sorted(cells):
            ds = cells[dim]
            ode = ro.ode(dim)
            row = {
                "N": dim,
                "seeds": int(ds.sizes["seed"]),
                "step": ro.step(dim),
                "batch": ro.batch(dim),
                "budget": ro.budget(dim),
                "wall_seconds": float(ds.attrs.get("wall_seconds", math.nan)),
            }
            for i, d in enumerate(("v", "u")):
                esc = np.asarray(ds[f"escape_{d}"].values, float)
                row[f"escaped_fraction_{d}"] = float(np.mean(np.isfinite(esc)))
                row[f"median_escape_{d}"] = sims.median_ci(esc).as_dict()
                row[f"ode_escape_{d}"] = _num(ode[i])
            if name == "staircase":
                ev, eu = (np.asarray(ds[f"escape_{d}"].values, float) for d in ("v", "u"))
                ok = np.isfinite(ev) & np.isfinite(eu) & (ev > 0)
                ratio = np.where(ok, eu / np.where(ok, ev, 1.0), np.nan)
                row["ratio_u_to_v"] = sims.median_ci(ratio).as_dict()
                row["ode_ratio_u_to_v"] = _num(ode[1] / ode[0]) if ode[0] > 0 else None
            rows.append(row)
        loss = ro.loss
        summary["theory"][name] = {
            "activation": ro.activation,
            "coupling": ro.coupling,
            "exponent_v": loss.exponent_v,
            "exponent_u": loss.exponent_u,
            "staircase_exponent": loss.staircase_exponent,
            "phi": str(sp.N(loss.phi, 4)),
            "minimiser": list(loss.minimiser),
            "escape_thresholds": list(ro.thresholds),
            "schedule": f"{ro.dynamics.schedule} with delta_0 = {ro.dynamics.default_delta0:.4g}",
            "start": ro.start,
        }
        summary["readouts"][name] = {
            "cells": rows,
            "fits": {d: _fit(ro, cells, d) for d in ro.targets},
        }
    summary["verdicts"]["exponents"] = _exponent_verdict(summary)
    summary["verdicts"]["staircase"] = _staircase_verdict(summary) if "staircase" in results else None
    return summary


def _opt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _fmt(e: dict | None) -> str:
    f = lambda v: "?" if v is None else f"{v:.3f}"
    return "-" if e is None else f"{f(e['value'])} [{f(e['lo'])}, {f(e['hi'])}]"


NONE = {"value": None, "lo": None, "hi": None}
EXPONENT_MARGIN = 0.15
"""|measured - ODE exponent| allowed: a finite-N correction of relative size N^-1/2 to the escape
count moves a log-log slope over N >= N_min by at most (1/2) N_min^-1/2 = 0.144 at N_min = 12."""
GAP_MARGIN = 1.0
"""The phase exponent must exceed the other by more than half the nominal gap (3 - 1 = 2)."""
PACE_FACTOR = 1.5
"""Median n_u over the ODE's at the largest N: the accuracy asked of the ODE in dynamics.escape_vs_ode."""


def _minus_ode(fit: dict) -> dict:
    """Measured minus ODE exponent (unknown when the fit is unusable or censored)."""
    if not fit["usable"] or fit["ode_exponent"] is None:
        return NONE
    return {k: fit["exponent"][k] - fit["ode_exponent"] for k in ("value", "lo", "hi")}


def _gap(high: dict, low: dict) -> dict:
    """Exponent of `high` minus exponent of `low`, with the conservative interval of independent fits."""
    if not (high["usable"] and low["usable"]):
        return NONE
    h, lo_ = high["exponent"], low["exponent"]
    return {"value": h["value"] - lo_["value"], "lo": h["lo"] - lo_["hi"], "hi": h["hi"] - lo_["lo"]}


EXPONENTS_RULE = AllOf(
    (
        ("amplitude at the ODE's exponent", Within(-EXPONENT_MARGIN, EXPONENT_MARGIN, "v exponent - ODE")),
        ("phase at the ODE's exponent", Within(-EXPONENT_MARGIN, EXPONENT_MARGIN, "u exponent - ODE")),
        ("phase above amplitude", Above(GAP_MARGIN, "u exponent - v exponent (independent fits)")),
    )
)


def _exponent_verdict(summary: dict) -> dict:
    amp = summary["readouts"]["amplitude"]["fits"]["v"]
    ph = summary["readouts"]["phase"]["fits"]["u"]
    seeds = summary["readouts"]["amplitude"]["cells"][0]["seeds"]
    est = {
        "amplitude at the ODE's exponent": _minus_ode(amp),
        "phase at the ODE's exponent": _minus_ode(ph),
        "phase above amplitude": _gap(ph, amp),
    }
    reason = (
        f"amplitude (v, He2): exponent {_fmt(amp['exponent'])} vs ODE {_opt(amp['ode_exponent'])} over "
        f"N = {amp['dims']}; phase (u, -He4): exponent {_fmt(ph['exponent'])} vs ODE "
        f"{_opt(ph['ode_exponent'])} over N = {ph['dims']}; {seeds} seeds per N, 95% bootstrap intervals"
    )
    unusable = [f.get("reason", "") for f in (amp, ph) if not f["usable"]]
    if unusable:
        reason += "; unusable fit: " + "; ".join(unusable)
    return {
        "holds": EXPONENTS_RULE.passed(est),
        "parts": EXPONENTS_RULE.outcomes(est),
        "estimate": est,
        "reason": reason,
    }


STAIRCASE_RULE = AllOf(
    (
        ("u at the ODE's exponent", Within(-EXPONENT_MARGIN, EXPONENT_MARGIN, "tied u exponent - ODE")),
        ("u below phase", Above(GAP_MARGIN, "independent-latent u exponent - tied u exponent")),
        ("u at the ODE's pace", Within.ratio(PACE_FACTOR, "median n_u / ODE n_u at the largest N")),
    )
)


def _staircase_verdict(summary: dict) -> dict:
    """u escapes with the tied-latent ODE's exponent, far below the independent-latent one, and at
    the ODE's pace at the largest N (the rule of issue 5's first version, restored with margins
    fixed from theory in issue 13)."""
    st = summary["readouts"]["staircase"]
    fu = st["fits"]["u"]
    ph = summary["readouts"]["phase"]["fits"]["u"]
    last = st["cells"][-1]
    med, ode = last["median_escape_u"], last["ode_escape_u"]
    pace = {k: (None if med[k] is None or not ode else med[k] / ode) for k in ("value", "lo", "hi")}
    est = {
        "u at the ODE's exponent": _minus_ode(fu),
        "u below phase": _gap(ph, fu),
        "u at the ODE's pace": pace,
    }
    r = last["ratio_u_to_v"]
    reason = (
        f"tied latents: u escapes with exponent {_fmt(fu['exponent'])} (ODE {_opt(fu['ode_exponent'])}) "
        f"against {_fmt(ph['exponent'])} with independent latents; at N = {last['N']} median n_u / ODE "
        f"= {_fmt(pace)}, n_u/n_v = {_fmt(r)} (ODE {_opt(last['ode_ratio_u_to_v'])}); {last['seeds']} "
        "seeds per N"
    )
    return {
        "holds": STAIRCASE_RULE.passed(est),
        "parts": STAIRCASE_RULE.outcomes(est),
        "estimate": est,
        "reason": reason,
    }


def format_lines(summary: dict) -> list[str]:
    """The table of cells, the fitted exponents and the verdicts, as printed by the command."""
    fmt = lambda v: "inf" if v is None else f"{v:.3g}"
    head = ("readout", "dir", "N", "seeds", "escaped", "median n", "95% CI", "ODE n")
    widths = (10, 3, 5, 5, 8, 10, 22, 9)
    lines = ["", " ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True))]
    for name, data in summary["readouts"].items():
        for d in READOUTS[name][2]:
            for r in data["cells"]:
                med = r[f"median_escape_{d}"]
                ci = f"[{fmt(med['lo'])}, {fmt(med['hi'])}]"
                lines.append(
                    f"{name:>10} {d:>3} {r['N']:>5} {r['seeds']:>5} {r[f'escaped_fraction_{d}']:>8.0%} "
                    f"{fmt(med['value']):>10} {ci:>22} {fmt(r[f'ode_escape_{d}']):>9}"
                )
    lines.append("")
    for name, data in summary["readouts"].items():
        for d, fit in data["fits"].items():
            e, q = fit["exponent"], fit["log_power"]
            if e is None:
                lines.append(f"{name} ({d}): no fit ({fit.get('reason', '')})")
                continue
            ode = "-" if fit["ode_exponent"] is None else f"{fit['ode_exponent']:.3f}"
            lines.append(
                f"{name} ({d}): fitted exponent {e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}] "
                f"(ODE over these N {ode}); free log power at exponent {fit['nominal_exponent']}: "
                f"{q['value']:.2f} [{q['lo']:.2f}, {q['hi']:.2f}]"
            )
    word = {True: "HOLDS", False: "DOES NOT HOLD", None: "UNDECIDED"}
    for key, verdict in summary["verdicts"].items():
        if verdict is None:
            lines += ["", f"{key}: not run (add --correlated)"]
            continue
        lines += ["", f"{key}: {word[verdict['holds']]}: {verdict['reason']}"]
    return lines


def write_summary(out: Path, summary: dict, config: APConfig) -> Path:
    payload = dict(summary, config=config.as_dict(), provenance=sims.provenance())
    path = Path(out) / "summary.json"
    sims.atomic_write_bytes(path, (json.dumps(payload, indent=2, allow_nan=False) + "\n").encode())
    return path
