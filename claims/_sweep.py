"""Run a scaling sweep cell by cell, analyse it against the theory, and write its summary.

Pipeline: `run_cells` (resumable: a cell whose file matches its config is skipped) ->
`analyse` (medians with intervals, fits, bounds, verdict) -> `write_summary` (JSON, atomic).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

import sims
from sims import _results

from ._config import Experiment, UsageError


MIN_SEEDS = 5
"""Fewer seeds per N give no meaningful bootstrap interval: the verdict is then undecided."""
CENSOR_TOLERANCE = 0.025
"""Fraction of bootstrap resamples that may touch a censored median before one-sided rules apply."""

SUMMARY_KEYS = (
    "information_exponent",
    "recoverable",
    "predicted_exponent",
    "engines",
    "cells",
    "fit",
    "bounds",
    "verdict",
)


class SimulationError(RuntimeError):
    """The simulation produced NaN or infinite overlaps."""


def cell_path(out: Path, dim: int) -> Path:
    return Path(out) / "cells" / f"cell_N{dim:05d}.nc"


def run_cells(
    exp: Experiment,
    out: Path,
    progress: bool = True,
    *,
    dims=None,
    devices: int | None = None,
    log=None,
) -> dict[int, xr.Dataset]:
    """Run (or reuse) the N cells of the sweep; returns the datasets keyed by N.

    **Arguments:**
    - `dims`: the N to run (one process's or one job's share); default: all of the sweep's.
    - `devices`: local devices each cell's seeds are sharded over (default: all).
    - `log`: called with one line for every cell file that exists but is not reused (corrupt,
      other schema, other config), before that cell is recomputed.

    A cell file is reused only if it holds every variable, the current schema version and this
    cell's config hash; otherwise the cell is recomputed and the file replaced atomically. Hidden
    temporaries a killed writer left are removed first (one writer per cell is assumed).
    """
    out = Path(out)
    exp.check_budgets()
    cells: dict[int, xr.Dataset] = {}
    dims = exp.config.dims if dims is None else tuple(dims)
    unknown = [d for d in dims if d not in exp.config.dims]
    if unknown:
        raise UsageError(
            f"N={unknown[0]} is not in this sweep's --N {list(exp.config.dims)}: pick one of those"
        )
    bar = tqdm(total=len(dims), desc="cells", unit="cell", disable=not progress, position=0)
    for dim in dims:
        cfg = exp.cell_config(dim)
        path = cell_path(out, dim)
        _results.remove_stale_temporaries(path)
        ds, reason = _results.cell_status(path, cfg, _results.CELL_VARIABLES)
        if ds is not None:
            bar.set_postfix_str(f"N={dim} reused")
            cells[dim] = ds
            bar.update()
            continue
        if reason != "missing" and log is not None:
            log(f"N={dim}: {path} is {reason}: recomputing it")
        engine = exp.engine(dim)
        inner = tqdm(
            total=cfg["budget"],
            desc=f"N={dim} samples",
            unit="sample",
            unit_scale=True,
            leave=False,
            disable=not progress,
            position=1,
        )

        def report(done, n_done, inner=inner, total=exp.config.seeds):
            inner.n = min(done, inner.total)
            inner.set_postfix_str(f"escaped {n_done}/{total}")
            inner.refresh()

        run = engine.run(
            [cfg["step"]],
            np.arange(exp.config.seeds),
            cfg["budget"],
            root_seed=exp.config.root_seed,
            n_checkpoints=exp.config.n_checkpoints,
            progress=report if progress else None,
            devices=devices,
        )
        inner.close()
        if not np.all(run["finite"]):
            raise SimulationError(
                f"step delta={cfg['step']:.3g} (delta_0={exp.step0:.3g}) produced NaN at N={dim}: "
                "lower --step"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        cells[dim] = sims.write_cell(path, run, [cfg["step"]], cfg["seeds"], cfg)
        bar.set_postfix_str(f"N={dim} {float(run['wall_seconds']):.1f}s")
        bar.update()
    bar.close()
    return cells


def load_cells(exp: Experiment, out: Path) -> dict[int, xr.Dataset]:
    """Every cell of the sweep from its file, or a one-line `CellFileError` for the first that is
    missing, corrupt or written for another config (used where recomputing is not wanted, e.g.
    after a job array or by process 0 of a distributed run)."""
    return {
        dim: _results.load_cell(cell_path(out, dim), exp.cell_config(dim), _results.CELL_VARIABLES)
        for dim in exp.config.dims
    }


CONFIG_KEYS: dict[str, tuple[str, type]] = {
    # key in the file: (argparse destination, type)
    "profile": ("profile", str),
    "task": ("task", str),
    "latent": ("latent", str),
    "activation": ("activation", str),
    "snr": ("snr", float),
    "N": ("dims", list),
    "seeds": ("seeds", int),
    "engine": ("engine", str),
    "start": ("start", str),
    "step": ("step0", float),
    "budget_factor": ("budget_factor", float),
    "batch": ("batch", int),
    "noise": ("noise", str),
    "inputs": ("inputs", str),
    "root_seed": ("root_seed", int),
    "float64": ("float64", bool),
    "devices": ("devices", int),
    "out": ("out", str),
}
"""Keys a `--config` file may hold (dashes may replace underscores), named as the CLI flags."""


def load_config_file(path) -> dict:
    """Read a `--config` file (JSON, or TOML by its .toml suffix) into argparse destinations.

    Raises `UsageError` (one line: file, key or value, and what to do) for a missing or malformed
    file, an unknown key, or a value of the wrong type."""
    import difflib
    import tomllib

    path = Path(path)
    where = f"--config {str(path)!r}"
    try:
        text = path.read_text()
    except OSError as err:
        raise UsageError(
            f"{where}: cannot read it ({err.strerror or err}): give an existing JSON or TOML file"
        ) from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON (use a .toml suffix for TOML)"
        raise UsageError(f"{where} is not valid {kind}: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f'{where}: the top level must be a table of keys, e.g. {{"N": [16, 32]}}')
    out = {}
    for raw, value in data.items():
        key = str(raw).replace("-", "_")
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"{where}: unknown key {raw!r}: {hint}allowed keys are {', '.join(CONFIG_KEYS)}")
        dest, kind = CONFIG_KEYS[key]
        out[dest] = _config_value(where, raw, value, kind)
    return out


def _config_value(where: str, key: str, value, kind: type):
    bad = UsageError(f"{where}: key {key!r} = {value!r} must be {_KIND_WORDS[kind]}")
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(value, bool):
        raise bad
    if kind is list:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise bad
        return list(value)
    if kind is float and isinstance(value, int | float):
        return float(value)
    if not isinstance(value, kind):
        raise bad
    return value


_KIND_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a non-empty list of integers, e.g. [16, 32, 64]",
}


def _escapes(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["escape_samples"].values[0], float)


def analyse(exp: Experiment, cells: dict[int, xr.Dataset]) -> dict:
    """Compare the sweep with the theory: per-cell medians, fits, bounds and the verdict."""
    k = exp.loss.information_exponent
    dims = sorted(cells)
    rows = []
    for dim in dims:
        ds = cells[dim]
        esc = _escapes(ds)
        med = sims.median_ci(esc, seed=dim)
        m0 = np.asarray(ds["initial_overlap"].values[0], float)
        step = float(ds["step"].values[0])
        recoverable = exp.loss.recoverable
        per_seed = np.array(
            [exp.dynamics.ode_escape_samples(dim, step, a) if recoverable else np.inf for a in m0]
        )
        good = np.isfinite(per_seed) & (per_seed > 0) & np.isfinite(esc)
        ratio = np.full(esc.shape, np.nan)
        ratio[good] = esc[good] / per_seed[good]
        cfg = json.loads(ds.attrs["config"])
        rows.append(
            {
                "N": dim,
                "seeds": int(esc.size),
                "budget": int(cfg["budget"]),
                "step": step,
                "batch": int(cfg["batch"]),
                "engine": ds.attrs.get("engine", "full"),
                "escaped_fraction": float(np.mean(np.isfinite(esc))),
                "median_escape_samples": med.as_dict(),
                "theory_escape_samples": _num(exp.predicted_escape(dim)) if recoverable else None,
                "median_ratio_to_ode_per_seed": _num(np.nanmedian(ratio))
                if np.any(np.isfinite(ratio))
                else None,
                "ratio_seeds": int(np.isfinite(ratio).sum()),
                "wall_seconds": float(ds.attrs.get("wall_seconds", math.nan)),
            }
        )
    summary: dict = {
        "information_exponent": k,
        "recoverable": bool(exp.loss.recoverable),
        "predicted_exponent": exp.dynamics.thresholds["lower"][0] if k else None,
        "theory": {
            "task": exp.config.task,
            "latent": exp.config.latent,
            "activation": exp.activation,
            "snr": exp.config.snr,
            "leading_coefficient": float(exp.loss.leading_coefficient),
            "statement": exp.loss.verdict,
            "step0": exp.step0,
            "schedule": str(exp.dynamics.schedule),
            "gradient_scale": float(exp.loss.gradient_scale),
            "theory_fit_exponent": None,
        },
        "engines": sorted({r["engine"] for r in rows}),
        "cells": rows,
        "fit": None,
        "bounds": None,
        "verdict": None,
    }
    if not exp.loss.recoverable:
        escaped = max(r["escaped_fraction"] for r in rows)
        ok = escaped <= 0.25
        summary["verdict"] = {
            "holds": ok,
            "lower_bound": None,
            "upper_bound": None,
            "reason": (
                f"theory: m = 0 is stable ({exp.loss.verdict.split(':')[0]}); simulation: at most "
                f"{escaped:.0%} of seeds escaped within the budget "
                + ("(consistent)" if ok else "(INCONSISTENT: escapes the theory forbids)")
            ),
        }
        return summary
    # Cells whose median is 0 (the start is already beyond the escape overlap) carry no scaling
    # information; every other cell enters the fit, a censored median at its budget (a lower bound).
    zero = [r["N"] for r in rows if r["median_escape_samples"]["value"] == 0]
    usable = [r["N"] for r in rows if r["N"] not in zero]
    censored = [r["N"] for r in rows if r["median_escape_samples"]["value"] is None]
    notes = []
    if zero:
        notes.append(f"N = {zero} left out: the median start is already beyond the escape overlap")
    if censored:
        notes.append(
            f"N = {censored}: more than half of the seeds did not escape, median taken at the "
            "budget (a lower bound)"
        )
    if len(usable) < 3 or exp.config.seeds < MIN_SEEDS:
        why = (
            f"{len(usable)} usable N (need at least 3 for a fit)"
            if len(usable) < 3
            else f"{exp.config.seeds} seeds per N (need at least {MIN_SEEDS} for bootstrap intervals)"
        )
        summary["verdict"] = {
            "holds": None,
            "lower_bound": None,
            "upper_bound": None,
            "reason": f"undecided: {why}" + "".join(f"; {n}" for n in notes),
        }
        return summary
    samples = [_escapes(cells[d]) for d in usable]
    budgets = [next(r["budget"] for r in rows if r["N"] == d) for d in usable]
    (lo_e, lo_q), (up_e, up_q) = exp.dynamics.thresholds["lower"], exp.dynamics.thresholds["upper"]
    theory_n = {r["N"]: r["theory_escape_samples"] for r in rows}
    pred = np.array([np.inf if theory_n[d] is None else theory_n[d] for d in usable])
    pred_ok = bool(np.all(np.isfinite(pred)) and np.all(pred > 0))
    if pred_ok:
        summary["theory"]["theory_fit_exponent"] = float(np.polyfit(np.log(usable), np.log(pred), 1)[0])
    power = sims.power_law_fit(usable, samples, budgets=budgets)
    logp = sims.log_power_fit(usable, samples, exponent=lo_e, budgets=budgets)
    lower = sims.ratio_slope_fit(usable, samples, exponent=lo_e, log_power=lo_q, budgets=budgets)
    upper = sims.ratio_slope_fit(usable, samples, exponent=up_e, log_power=up_q, budgets=budgets)
    lo_slope, up_slope = lower["slope"], upper["slope"]
    # Censoring only lowers the fitted slopes (a censored median is taken at its budget), so:
    # the lower bound may be declared to hold, and the upper bound violated, from censored data;
    # the opposite conclusions need resamples free of censoring.
    touched = lower.censored_resamples > CENSOR_TOLERANCE * sims.N_BOOT
    lower_holds = True if lo_slope.hi >= 0 else (None if touched else False)
    upper_holds = False if up_slope.lo > 0 else (None if touched else True)
    summary["fit"] = {
        "dims": usable,
        "exponent": power["exponent"].as_dict(),
        "log_power": logp["log_power"].as_dict(),
        "log_power_at_exponent": lo_e,
        "censored_cells": censored,
        "censored_resamples": power.censored_resamples,
    }
    lo_name, up_name = _threshold_name(lo_e, lo_q), _threshold_name(up_e, up_q)
    ode = {}
    if pred_ok:
        x = np.log(usable)
        ode["lower"] = float(np.polyfit(x, np.log(pred / exp.dynamics.lower_threshold(usable)), 1)[0])
        ode["upper"] = float(np.polyfit(x, np.log(pred / exp.dynamics.upper_threshold(usable)), 1)[0])
    summary["bounds"] = {
        name: {
            "quantity": f"n*/{label}",
            "threshold": label,
            "slope": est.as_dict(),
            "holds": holds,
            "ode_slope": ode.get(name),
        }
        for name, label, est, holds in (
            ("lower", lo_name, lo_slope, lower_holds),
            ("upper", up_name, up_slope, upper_holds),
        )
    }
    fmt = lambda e: f"{e.value:+.3f} [{e.lo:+.3f}, {e.hi:+.3f}]"
    word = {True: "holds", False: "VIOLATED", None: "UNDECIDED (censored)"}
    reason = (
        f"lower bound {word[lower_holds]}: slope of log(n*/{lo_name}) = {fmt(lo_slope)}"
        f"; upper bound {word[upper_holds]}: slope of log(n*/{up_name}) = "
        f"{fmt(up_slope)} (95% bootstrap intervals, {len(usable)} N from {min(usable)} to {max(usable)}, "
        f"{exp.config.seeds} seeds each)"
    )
    finite_n = [
        b
        for b, holds, sign in (("lower", lower_holds, -1), ("upper", upper_holds, 1))
        if holds is False and ode.get(b) is not None and sign * ode[b] > 0
    ]
    if finite_n:
        reason += (
            f"; the ODE itself has slope {', '.join(f'{ode[b]:+.3f} ({b})' for b in finite_n)} over "
            "these N: finite-N effects, the asymptotic regime is not reached (use larger N)"
        )
    reason += "".join(f"; {n}" for n in notes)
    overall = None if None in (lower_holds, upper_holds) else (lower_holds and upper_holds)
    summary["verdict"] = {
        "holds": overall,
        "lower_bound": lower_holds,
        "upper_bound": upper_holds,
        "reason": reason,
    }
    return summary


def _threshold_name(e: int, q: int) -> str:
    text = "N" if e == 1 else f"N^{e}"
    if q:
        text += " log N" if q == 1 else f" log^{q} N"
    return f"({text})" if q else text


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def write_summary(out: Path, summary: dict, exp: Experiment) -> Path:
    payload = dict(summary)
    payload["config"] = exp.config.as_dict()
    payload["provenance"] = sims.provenance()
    path = Path(out) / "summary.json"
    sims.atomic_write_bytes(path, (json.dumps(payload, indent=2, allow_nan=False) + "\n").encode())
    return path


def check_writable(out: Path) -> None:
    """Fail early, before any simulation, if `out` cannot hold results."""
    out = Path(out)
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"--out {str(out)!r}: {str(probe)!r} is a file, not a folder; choose another --out")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {str(out)!r} is not writable: choose a folder you can write to")
