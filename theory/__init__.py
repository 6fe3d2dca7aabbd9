"""Symbolic side of the verifier: every formula the project uses, derived with sympy.

Nothing here simulates; `sims` never imports this package and this package never imports `sims`.
The claim layer (`claims`) pairs the predictions made here with measurements made there.
"""

from ._hermite import (
    ACTIVATION_NAMES,
    activation_expr,
    derivative_second_moment,
    hermite,
    hermite_coefficients,
    parse_activation,
)
from ._latents import (
    LATENT_NAMES,
    TASK_NAMES,
    Latent,
    latent,
    snr,
    spike_hermite_moments,
    spike_moments,
)
from ._population import PopulationLoss, m, recommended_activation
from .dynamics import (
    ESCAPE_OVERLAP,
    OverlapDynamics,
    escape_samples_general,
    escape_samples_leading,
    lower_threshold,
    median_abs_start,
    schedule_powers,
    start_quantile,
    step_schedule,
    threshold_powers,
    upper_threshold,
)
from .powerlaw import ShellHierarchy, participation_ratio, pr_scaling
from .powerlaw import variances as powerlaw_variances
from .two_direction import TwoDirectionLoss, TwoDirectionModel, hermite_combination, m_u, m_v


__all__ = [
    "ShellHierarchy",
    "participation_ratio",
    "pr_scaling",
    "powerlaw_variances",
    "TwoDirectionLoss",
    "TwoDirectionModel",
    "hermite_combination",
    "m_u",
    "m_v",
    "ACTIVATION_NAMES",
    "ESCAPE_OVERLAP",
    "LATENT_NAMES",
    "TASK_NAMES",
    "Latent",
    "OverlapDynamics",
    "PopulationLoss",
    "activation_expr",
    "derivative_second_moment",
    "escape_samples_general",
    "escape_samples_leading",
    "hermite",
    "hermite_coefficients",
    "latent",
    "lower_threshold",
    "m",
    "median_abs_start",
    "parse_activation",
    "recommended_activation",
    "snr",
    "spike_hermite_moments",
    "spike_moments",
    "start_quantile",
    "schedule_powers",
    "step_schedule",
    "threshold_powers",
    "upper_threshold",
]
