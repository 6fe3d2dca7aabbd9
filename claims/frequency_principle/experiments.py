"""Running an experiment and writing its results (the one entry the command and the claims use)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sims
import sims.frequency_principle

from .deep import analyse_deep, figure_deep, run_deep
from .filtering import analyse_filtering, figure_filtering, run_filtering
from .peaks import analyse_1d, figure_1d, run_1d


RUNNERS = {
    "1d": (run_1d, analyse_1d, figure_1d),
    "filtering": (run_filtering, analyse_filtering, figure_filtering),
    "deep": (run_deep, analyse_deep, figure_deep),
}


def run_experiment(experiment: str, config, out: Path, progress: bool = False) -> tuple[dict, Path]:
    """Run, write `out/<experiment>.nc` atomically, analyse and draw; returns (summary, figure path)."""
    run, analyse, figure = RUNNERS[experiment]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = run(config, progress)
    with sims.atomic_target(out / f"{experiment}.nc") as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    summary = analyse(ds)
    summary["config"] = dataclasses.asdict(config)
    fig = figure(ds, summary, out / f"frequency-principle-{experiment}")
    return summary, fig
