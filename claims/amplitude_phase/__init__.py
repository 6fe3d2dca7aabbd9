"""Amplitude before phase in a solvable model: escape along an amplitude direction v (exponent 2)
and a phase direction u (exponent 4) of one task, and the staircase when the latents are tied.

Three **readouts** of the two-direction task (`theory/two_direction.py`, `sims/two_direction.py`):

- `amplitude`: the He_2 student on independent latents, the k = 2 step schedule; escape along v.
- `phase`: the -He_4 student on independent latents, the k = 4 schedule (batch N); escape along u.
- `staircase`: the He_2 student on sign-tied latents (coupling c > 0); escape along v and along u.

Each readout runs one cell per N (a netCDF file, resumable), and `analyse` fits the escape
exponents with bootstrap intervals and compares them with the two-direction overlap ODE integrated
over the same N. Steps, batches and budgets come from the single-direction theory (the marginal of
the task along v alone is the `amplitude` task, along u alone the `phase` task).
"""

from .analysis import (  # noqa: F401
    EXPONENT_MARGIN,
    EXPONENTS_RULE,
    GAP_MARGIN,
    NONE,
    PACE_FACTOR,
    STAIRCASE_RULE,
    analyse,
    format_lines,
    write_summary,
)
from .command import (  # noqa: F401
    config_from_args,
    describe,
    report,
)
from .config import (  # noqa: F401
    CELL_VARIABLES,
    CENSOR_TOLERANCE,
    ENGINE,
    MIN_SEEDS,
    PROFILES,
    READOUTS,
    STUDENTS,
    APConfig,
    APExperiment,
    Readout,
    by_readout,
    run_all,
)
from .figures import (  # noqa: F401
    COLOURS,
    LABELS,
    figure,
)
from .registered import (  # noqa: F401
    AP_TIERS,
    EXPONENT_RATIONALE,
    MOMENT_MARGIN,
    MOMENT_PAIRS,
    MOMENT_SAMPLES,
    exponents_claim,
    mixed_moments_claim,
    staircase_claim,
)
