"""The claim layer: pairs theory predictions with simulation measurements.

- `SweepConfig` / `Experiment`: one description of a sweep, from which both sides are built.
- `run_cells`, `analyse`, `write_summary`: the scaling sweep pipeline.
- `Claim`, `register`, `REGISTRY`, `run_claims`: registered, tiered checks with verdicts.
"""

from . import (
    _distributed,  # noqa: F401
    amplitude_phase,  # noqa: F401
    frequency_principle,  # noqa: F401
    phase_only,  # noqa: F401  (registers the claims)
    powerlaw,  # noqa: F401
    reduced_dynamics,  # noqa: F401
    spectral_bias,  # noqa: F401
    textures,  # noqa: F401
)
from ._cache import enable_compilation_cache
from ._config import ENGINES, PROFILES, Experiment, SweepConfig, UsageError
from ._figures import save, scaling_figure
from ._registry import (
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
    Within,
    register,
    run_claims,
)
from ._sweep import (
    SUMMARY_KEYS,
    SimulationError,
    analyse,
    cell_path,
    check_writable,
    load_cells,
    load_config_file,
    run_cells,
    write_summary,
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
    "ENGINES",
    "PROFILES",
    "REGISTRY",
    "SUMMARY_KEYS",
    "TIERS",
    "Claim",
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
    "write_summary",
]
