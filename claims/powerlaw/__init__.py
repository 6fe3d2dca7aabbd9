"""Power-law spectra: how a dominant principal subspace accelerates phase learning.

The sweep (`scripts/scaling_sweep.py --task powerlaw`: the one cell loop `claims.run_cells` with
`PowerlawExperiment`, whose cells are keyed by `Cell(N, alpha=..., placement=...)`) runs
the coloured phase task (`sims.powerlaw`) over a grid of input dimensions N, spectral exponents
alpha and spike placements, one resumable netCDF cell per (N, alpha, placement), and compares the
escape samples with the shell hierarchy of `theory.powerlaw` (integrated from each seed's own
start). Escape: the first sample count with |m_eff| >= 0.5, m_eff = (C^1/2 w).u / |C^1/2 w| (the
overlap the population loss depends on).

At alpha = 0, C = I and every placement gives the same law of the run (rotation invariance), so
one cell (stored under `aligned`) is the isotropic reference for all placements.

Registered claims: shared amplitudes, the aligned-spike speed-up (against a fixed margin and against
the shell ODE), the spread-spike control (no speed-up),
and the sample exponent against alpha (reported with intervals, never over-claimed).
"""

from .analysis import analyse_powerlaw, format_table, ratio_of_medians, write_powerlaw_summary
from .command import add_powerlaw_arguments, config_from_args, describe, report
from .config import (
    MIN_SEEDS,
    PROFILES,
    SUMMARY_KEYS,
    PowerlawConfig,
    PowerlawExperiment,
    by_axes,
    run_powerlaw_cells,
)
from .figures import exponents_figure, powerlaw_figure
from .registered import (  # noqa: F401  (registers the claims)
    EXPONENT_MARGIN,
    ODE_SPEEDUP_FACTOR,
    SPEEDUP_MARGIN,
    exponent,
    shared_amplitudes,
    speedup_aligned,
    speedup_spread_control,
    speedup_vs_ode,
)


__all__ = [
    "EXPONENT_MARGIN",
    "MIN_SEEDS",
    "ODE_SPEEDUP_FACTOR",
    "PROFILES",
    "SPEEDUP_MARGIN",
    "SUMMARY_KEYS",
    "PowerlawConfig",
    "PowerlawExperiment",
    "add_powerlaw_arguments",
    "analyse_powerlaw",
    "by_axes",
    "config_from_args",
    "describe",
    "format_table",
    "exponents_figure",
    "powerlaw_figure",
    "ratio_of_medians",
    "report",
    "run_powerlaw_cells",
    "write_powerlaw_summary",
]
