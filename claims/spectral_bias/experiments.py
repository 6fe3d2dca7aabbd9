"""Running an experiment by number (the command's entry)."""

from __future__ import annotations

from .experiment1 import experiment1, figure1
from .experiment2 import experiment2, figure2
from .experiment5 import experiment5, figure5


EXPERIMENTS = {1: (experiment1, figure1), 2: (experiment2, figure2), 5: (experiment5, figure5)}


def run_experiment(experiment: int, s: dict, progress: bool = False):
    """Run experiment 1, 2 or 5 with settings `s`; returns (dataset, summary, figure function)."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment {experiment!r}: use one of 1, 2, 5")
    fn, fig = EXPERIMENTS[experiment]
    ds, summary = fn(s, progress=progress)
    return ds, summary, fig
