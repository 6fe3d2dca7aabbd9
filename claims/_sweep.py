"""Run a scaling sweep cell by cell, analyse it against the theory, and write its summary.

Pipeline: `run_cells` (resumable: a cell whose file matches its config is skipped) ->
`analyse` (medians with intervals, the step scan, fits, bounds, verdict; `claims._verdicts`) ->
`write_summary` (JSON, atomic).

A cell is keyed by its axes (`claims.Cell`: N, the step factor of a scan, and whether it is the
no-signal control). Cells run in the order `Experiment.cells` gives, because some take their
budget from an earlier one: a control runs to its signal cell's upper interval end, and in a capped
step scan every factor runs to the upper interval end of the factor the ODE predicts fastest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

import sims

from ._config import Cell, Experiment, UsageError


def cell_path(out: Path, cell: Cell | int) -> Path:
    cell = cell if isinstance(cell, Cell) else Cell(int(cell))
    return Path(out) / "cells" / f"cell_{cell.name}.nc"


def escapes(ds: xr.Dataset) -> np.ndarray:
    """Per-seed escape samples of a cell (NaN: no escape before the cell stopped)."""
    return np.asarray(ds["escape_samples"].values[0], float)


def stop_samples(ds: xr.Dataset) -> float:
    """The sample count at which the seeds of a cell that had not escaped were censored."""
    cfg = json.loads(ds.attrs["config"])
    return float(ds.attrs.get("stop_samples", cfg["budget"]))


def upper_end(ds: xr.Dataset) -> float:
    """X_(u): the upper end of the order-statistic interval of the cell's median (inf if censored)."""
    esc = escapes(ds)
    return sims.order_statistic(esc, sims.median_interval_ranks(esc.size)[1])


def compare_point(ds: xr.Dataset) -> float:
    """Where a cell is compared with its control: X_(u), the upper end of its median's interval,
    or, where that seed had not escaped when the cell stopped, the stop itself."""
    return min(upper_end(ds), stop_samples(ds))


def chance_check(exp: Experiment, signal: xr.Dataset, control: xr.Dataset | None) -> dict:
    """Whether the signal cell's escapes are clearly faster than chance (rule fixed in advance).

    The control (identical classes, same keys, `null_seeds` seeds) ran to the signal's comparison
    point c = min(X_(u), stop) (`compare_point`). Control seeds that start beyond the escape
    overlap are left out (they are not escapes in time). With n0 remaining control seeds and l0 the
    lower rank of their median's interval (`sims.median_interval_ranks`: l0 = 4 for 16 seeds, so at
    most 3 may escape by c; l0 = 1 for 6..8 seeds, so none may), the cell is **eligible** iff its
    median is finite and the
    control's X0_(l0) exceeds c: by the time most signal seeds escaped, the control's median is
    still clearly out of reach. `kind` says why not: `censored` (the median did not escape),
    `chance` (X0_(l0) <= c), `control` (missing, or too few usable seeds for an interval)."""
    med = float(sims.upper_median(escapes(signal)))
    if not np.isfinite(med):
        return {
            "eligible": False,
            "kind": "censored",
            "reason": "censored: fewer than half of the seeds escaped",
        }
    at = compare_point(signal)
    if control is None:
        if not exp.config.null_seeds:
            return {"eligible": True, "kind": "unchecked", "reason": "no control run (--null-seeds 0)"}
        return {"eligible": False, "kind": "control", "reason": "its control cell is missing"}
    esc0 = escapes(control)
    moving = esc0[~(esc0 == 0)]  # NaN (no escape) stays; 0 means the seed started beyond m1
    l0 = sims.median_interval_ranks(moving.size)[0] if moving.size else 0
    escaped = int(np.sum(np.isfinite(moving) & (moving <= at)))
    out = {"control_seeds": int(moving.size), "control_escaped": escaped, "compared_at": at}
    if l0 < 1:
        return out | {
            "eligible": False,
            "kind": "control",
            "reason": f"control has {moving.size} usable seeds",
        }
    if sims.order_statistic(moving, l0) > at:
        return out | {"eligible": True, "kind": "ok", "reason": "clearly faster than the control"}
    return out | {
        "eligible": False,
        "kind": "chance",
        "reason": f"chance: {escaped} of {moving.size} control seeds escaped by {at:.3g} samples",
    }


def cell_budget(exp, cell: Cell, done: dict[Cell, xr.Dataset]) -> int:
    """The budget of `cell` given the cells before it: the sweep's, or set by its reference
    (`Experiment.reference`); 0 means the cell is not run (a control whose signal cell has no
    finite median: there is nothing to compare)."""
    full = exp.full_budget(cell)
    ref = exp.reference(cell)
    if ref is None:
        return full
    signal = done[ref]
    if cell.null:
        if not np.isfinite(sims.upper_median(escapes(signal))):
            return 0
        return int(min(full, np.ceil(compare_point(signal))))
    cap = upper_end(signal)
    if not (np.isfinite(cap) and chance_check(exp, signal, done.get(ref.control))["eligible"]):
        return full  # the reference cannot bound the best: no cap
    return int(min(full, np.ceil(cap)))


def _run_one(exp, cell, cfg, devices, progress):
    engine = exp.engine_for(cell)
    inner = tqdm(
        total=cfg["budget"],
        desc=f"{cell} samples",
        unit="sample",
        unit_scale=True,
        leave=False,
        disable=not progress,
        position=1,
    )
    seeds = len(cfg["seeds"])
    stop = f", stops at {cfg['stop_after']}" if cfg.get("stop_after", seeds + 1) <= seeds else ""

    def report(done, n_done):
        inner.n = min(done, inner.total)
        inner.set_postfix_str(f"escaped {n_done}/{seeds}{stop}")
        inner.refresh()

    run = engine.run(
        [cfg["step"]],
        np.arange(seeds),
        cfg["budget"],
        root_seed=exp.config.root_seed,
        n_checkpoints=exp.config.n_checkpoints,
        progress=report if progress else None,
        devices=devices,
        stop_after=cfg.get("stop_after"),
    )
    inner.close()
    if not np.all(run["finite"]):
        raise sims.SimulationError(exp.nan_hint(cell, cfg))
    return run


def run_cells(
    exp,
    out: Path,
    progress: bool = True,
    *,
    dims=None,
    devices: int | None = None,
    log=None,
) -> dict[Cell, xr.Dataset]:
    """Run (or reuse) the cells of the sweep; returns the datasets keyed by `Cell`.

    `exp` is any experiment with the cell protocol: `config` (dims, seeds, root_seed,
    n_checkpoints), `check_budgets`, `cells(dims)`, `reference(cell)`, `full_budget(cell)`,
    `cell_config(cell, budget)`, `engine_for(cell)` (a `sims` engine on the shared driver),
    `write_cell`, `cell_variables` and `nan_hint`: `claims.Experiment` (phase, amplitude and mean
    tasks), `claims.powerlaw.PowerlawExperiment` and `claims.amplitude_phase.APExperiment`.

    **Arguments:**
    - `dims`: the N whose cells to run (one process's or one job's share); default: all.
    - `devices`: local devices each cell's seeds are sharded over (default: all).
    - `log`: called with one line for every cell file that exists but is not reused (corrupt,
      other schema, other config), before that cell is recomputed.

    A cell file is reused only if it holds every variable, the current schema version and this
    cell's config hash (which includes a budget set by a reference cell); otherwise the cell is
    recomputed and the file replaced atomically. Hidden temporaries a killed writer left are removed
    first (one writer per cell is assumed).

    Long because it is the cell loop with its reuse, recompute and progress bookkeeping.
    """
    out = Path(out)
    exp.check_budgets()
    dims = exp.config.dims if dims is None else tuple(dims)
    unknown = [d for d in dims if d not in exp.config.dims]
    if unknown:
        raise UsageError(
            f"N={unknown[0]} is not in this sweep's --N {list(exp.config.dims)}: pick one of those"
        )
    todo = exp.cells(dims)
    cells: dict[Cell, xr.Dataset] = {}
    bar = tqdm(total=len(todo), desc="cells", unit="cell", disable=not progress, position=0)
    for cell in todo:
        budget = cell_budget(exp, cell, cells)
        if budget == 0:
            bar.update()
            continue
        cfg = exp.cell_config(cell, budget)
        path = cell_path(out, cell)
        sims.remove_stale_temporaries(path)
        ds, reason = sims.cell_status(path, cfg, exp.cell_variables)
        if ds is None:
            if reason != "missing" and log is not None:
                log(f"{cell}: {path} is {reason}: recomputing it")
            run = _run_one(exp, cell, cfg, devices, progress)
            path.parent.mkdir(parents=True, exist_ok=True)
            ds = exp.write_cell(path, run, cfg)
            bar.set_postfix_str(f"{cell} {float(run['wall_seconds']):.1f}s")
        else:
            bar.set_postfix_str(f"{cell} reused")
        cells[cell] = ds
        bar.update()
    bar.close()
    return cells


def load_cells(exp, out: Path) -> dict[Cell, xr.Dataset]:
    """Every cell of the sweep from its file, or a one-line `CellFileError` for the first that is
    missing, corrupt or written for another config (used where recomputing is not wanted, e.g.
    after a job array or by process 0 of a distributed run)."""
    cells: dict[Cell, xr.Dataset] = {}
    for cell in exp.cells():
        budget = cell_budget(exp, cell, cells)
        if budget:
            cfg = exp.cell_config(cell, budget)
            cells[cell] = sims.load_cell(cell_path(out, cell), cfg, exp.cell_variables)
    return cells


CONFIG_KEYS: dict[str, tuple[str, type | str]] = {
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
    "step_exponent": ("step_exponent", float),
    "step_log_power": ("step_log_power", float),
    "step_scan": ("step_scan", "floats"),
    "null_seeds": ("null_seeds", int),
    "no_early_stop": ("no_early_stop", bool),
    "no_scan_cap": ("no_scan_cap", bool),
    "alpha": ("alphas", "floats"),
    "placement": ("placements", "strings"),
    "preactivation": ("preactivation", str),
    "chunk": ("chunk", int),
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


def _config_value(where: str, key: str, value, kind):
    bad = UsageError(f"{where}: key {key!r} = {value!r} must be {_KIND_WORDS[kind]}")
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(value, bool):
        raise bad
    if kind == "strings":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise bad
        return list(value)
    if kind == "floats":
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise bad
        return [float(v) for v in value]
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
    "floats": "a non-empty list of numbers, e.g. [0.5, 1, 2, 4]",
    "strings": 'a non-empty list of strings, e.g. ["aligned", "spread"]',
}


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
