"""Numerical side of the verifier: data models, students, online-SGD engines, measurements.

Nothing here is symbolic; `theory` never imports this package and this package never imports
`theory`. The claim layer (`claims`) pairs them.
"""

from ._activations import ACTIVATION_NAMES, activation, activation_derivative, hermite_prob
from ._data import (
    NOISE_NAMES,
    TASK_NAMES,
    FourierBasis,
    SpikeTask,
    draw_noise,
    draw_spike,
    sample_class,
    sample_inputs,
)
from ._engine import (
    ENGINE_CLASSES,
    ENGINE_VERSION,
    START_NAMES,
    OnlineSGD,
    OverlapSDE,
    ReducedSGD,
    reduced_is_exact,
)
from ._latents import LATENT_NAMES, LatentSampler, latent_sampler, quadrature_from_moments
from ._loaders import load_cifar100, load_image_folder
from ._networks import MODEL_NAMES, SmallCNN, TrainConfig, TrainingDiverged, TwoLayer
from ._powerlaw import (
    PLACEMENT_NAMES,
    PREACTIVATIONS,
    ColouredSGD,
    descent_direction,
    draw_placed_spike,
    effective_overlap,
    power_spectrum,
    sample_coloured_class,
)
from ._results import SCHEMA_VERSION, atomic_write_bytes, config_hash, provenance, read_cell, write_cell
from ._stats import (
    N_BOOT,
    Estimate,
    ScalingFit,
    bootstrap_medians,
    log_power_fit,
    median_ci,
    power_law_fit,
    ratio_slope_fit,
)
from ._textures import (
    TEST_SET_NAMES,
    TEXTURE_NAMES,
    ImageData,
    amplitude_equalise,
    make_test_sets,
    phase_randomise,
    texture_data,
)
from ._two_direction import (
    TWO_DIRECTION_VERSION,
    TwoDirectionSGD,
    TwoDirectionTask,
    draw_directions,
    sample_two_direction,
)


__all__ = [
    "load_cifar100",
    "load_image_folder",
    "MODEL_NAMES",
    "SmallCNN",
    "TrainConfig",
    "TrainingDiverged",
    "TwoLayer",
    "TEST_SET_NAMES",
    "TEXTURE_NAMES",
    "ImageData",
    "amplitude_equalise",
    "make_test_sets",
    "phase_randomise",
    "texture_data",
    "PLACEMENT_NAMES",
    "PREACTIVATIONS",
    "ColouredSGD",
    "descent_direction",
    "draw_placed_spike",
    "effective_overlap",
    "power_spectrum",
    "sample_coloured_class",
    "TWO_DIRECTION_VERSION",
    "TwoDirectionSGD",
    "TwoDirectionTask",
    "draw_directions",
    "sample_two_direction",
    "ENGINE_VERSION",
    "N_BOOT",
    "ACTIVATION_NAMES",
    "LATENT_NAMES",
    "NOISE_NAMES",
    "SCHEMA_VERSION",
    "START_NAMES",
    "TASK_NAMES",
    "Estimate",
    "FourierBasis",
    "LatentSampler",
    "OnlineSGD",
    "ReducedSGD",
    "OverlapSDE",
    "ENGINE_CLASSES",
    "reduced_is_exact",
    "ScalingFit",
    "SpikeTask",
    "activation",
    "activation_derivative",
    "atomic_write_bytes",
    "bootstrap_medians",
    "config_hash",
    "draw_noise",
    "draw_spike",
    "hermite_prob",
    "latent_sampler",
    "log_power_fit",
    "median_ci",
    "power_law_fit",
    "provenance",
    "quadrature_from_moments",
    "ratio_slope_fit",
    "read_cell",
    "sample_class",
    "sample_inputs",
    "write_cell",
]
