"""The claim layer: pairs theory predictions with simulation measurements.

- `SweepConfig` / `Experiment`: one description of a sweep, from which both sides are built.
- `Cell`: one cell of a sweep, keyed by its axes (N, step factor, control).
- `run_cells`, `analyse`, `write_summary`: the scaling sweep pipeline; `bound_verdict` and
  `MARGIN`: the three-outcome rules of the hardness verdict.
- `Claim`, `register`, `REGISTRY`, `run_claims`: registered, tiered checks with verdicts.
"""

from sims import SimulationError

from . import (
    amplitude_phase,  # noqa: F401
    distributed,  # noqa: F401
    frequency_principle,  # noqa: F401
    phase_only,  # noqa: F401  (registers the claims)
    powerlaw,  # noqa: F401
    reduced_dynamics,  # noqa: F401
    spectral_bias,  # noqa: F401
    textures,  # noqa: F401
)
from ._cache import enable_compilation_cache
from ._config import ENGINES, PROFILES, Cell, Experiment, SweepConfig, UsageError
from ._figures import save, scaling_figure, step_scan_figure
from ._intervals import censored_errorbar, order_statistic_median_ci
from ._sweep import (
    cell_path,
    chance_check,
    check_writable,
    load_cells,
    load_config_file,
    run_cells,
    write_summary,
)
from ._verdicts import (
    MARGIN,
    SUMMARY_KEYS,
    VERDICTS,
    analyse,
    bound_verdict,
    no_escape_verdict,
    summary_lines,
)
from .registry import (
    FAILS,
    HOLDS,
    REGISTRY,
    TIERS,
    UNDECIDED,
    Above,
    AllOf,
    Below,
    Claim,
    ClaimResult,
    Each,
    FractionAbove,
    Interval,
    Registration,
    Rule,
    WithControl,
    Within,
    register,
    run_claims,
)


__all__ = [
    "FAILS",
    "HOLDS",
    "UNDECIDED",
    "Above",
    "AllOf",
    "Below",
    "Each",
    "FractionAbove",
    "Interval",
    "Registration",
    "Rule",
    "Within",
    "WithControl",
    "ENGINES",
    "PROFILES",
    "REGISTRY",
    "SUMMARY_KEYS",
    "TIERS",
    "Cell",
    "Claim",
    "MARGIN",
    "VERDICTS",
    "bound_verdict",
    "censored_errorbar",
    "chance_check",
    "no_escape_verdict",
    "order_statistic_median_ci",
    "ClaimResult",
    "Experiment",
    "SimulationError",
    "SweepConfig",
    "UsageError",
    "analyse",
    "enable_compilation_cache",
    "cell_path",
    "load_cells",
    "load_config_file",
    "check_writable",
    "register",
    "run_cells",
    "run_claims",
    "save",
    "scaling_figure",
    "step_scan_figure",
    "summary_lines",
    "write_summary",
]
