"""Claims of the frequency principle (Xu et al.) and the deep frequency principle (Xu & Zhou 2021).

Three experiments, each at three tiers (`smoke` seconds, `default` minutes, `full` the largest
settings we define), all vmapped over seeds:

- `1d`: a tanh MLP fits sin x + 2 sin 3x + 3 sin 5x on [-5, 5]; the relative error at each DFT peak
  of the target falls below 0.1 earlier for lower peaks (despite their smaller amplitude).
- `filtering`: an MLP fits one-hot labels of scikit-learn's bundled digits; with a row-normalised
  Gaussian smoother K_delta (kernel exp(-d^2 / (2 delta^2)), delta on a grid from the data's median
  nearest-neighbour to median pairwise distance), the low-frequency error |K(y - h)| / |K y|
  converges before the high-frequency error |(I - K)(y - h)| / |(I - K) y|.
- `deep`: MLPs of several depths on the digits; per hidden layer the effective target
  h_l(x_i) -> y_i, its low-frequency ratio LFR_l(delta) after scaling the layer's median pairwise
  distance to 1; controls: layer 0 (the input) reproduces the input-space LFR of an independent
  float64 computation, and permuted labels sit at the exact permutation floor.

Definitions that are ours (the deep-FP paper's text was not available) are listed in
`sims/frequency_principle.py` and docs/frequency-principle.md.
"""

from .config import (  # noqa: F401
    EXPERIMENTS,
    SCHEMA,
    THRESHOLD_1D,
    THRESHOLD_FILTER,
    TIER_CONFIGS,
    Config1D,
    ConfigDeep,
    ConfigFilter,
    config_for,
    mean_ci,
)
from .deep import (  # noqa: F401
    analyse_deep,
    figure_deep,
    relative_delta_grid,
    run_deep,
)
from .experiments import (  # noqa: F401
    RUNNERS,
    run_experiment,
)
from .filtering import (  # noqa: F401
    analyse_filtering,
    censored_ratio_ci,
    figure_filtering,
    run_filtering,
)
from .peaks import (  # noqa: F401
    analyse_1d,
    figure_1d,
    run_1d,
)
from .registered import (  # noqa: F401
    DEEP_KEYS,
    DEEP_RANK_STATISTIC,
    FILTER_KEYS,
    deep_layers_lower_frequency,
    deep_random_label_control,
    deep_shift_during_training,
    deep_untrained_control,
    filtering_control,
    filtering_low_first,
    peaks_1d_low_first,
)
from .rules import (  # noqa: F401
    DEEP_CONTROL_MARGIN,
    DEEP_CONTROL_RULE,
    DEEP_RANK_RULE,
    DEEP_SHIFT_RULE,
    FILTER_CONTROL_MARGIN,
    FILTERING_CONTROL_RULE,
    FILTERING_RULE,
    FILTERING_STATISTIC,
    ORDERED_MARGIN,
    PEAKS_RULE,
)
