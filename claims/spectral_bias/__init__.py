"""Claims of the spectral bias of ReLU networks (Rahaman et al., ICML 2019, arXiv 1806.08734 v3).

Three experiments, each runnable at the tiers smoke / default / full (full = the paper's settings):

- Experiment 1: a sum of sines with frequencies k_i (5..50 in the paper) and equal or increasing
  amplitudes; the per-frequency normalised amplitude 2|F_k|/(n A_k) of the network output over
  training, and the true largest singular value of every weight matrix.
- Experiment 2: the trained networks of experiment 1 (equal amplitudes) perturbed along random
  isotropic unit directions theta_hat over all parameters: amplitude kept at each frequency
  against the perturbation norm.
- Experiment 5: the same target as a function of the latent coordinate z of the flower manifold
  gamma_L in R^2; more petals L make the task easier.

The definitions of "seed-averaged correlation", "monotone" and "easier" are ours and are stated in
each claim's comparison string and in docs/spectral-bias.md.
"""

from .config import (  # noqa: F401
    EXP1,
    EXP2,
    EXP5,
    FINAL_TOL,
    GEOMETRIC_FREQS,
    LINEAR_FREQS,
    MANIFOLD_FREQS,
    MOVED,
    OFF_PETAL_FREQS,
    PAPER_FREQS,
    RHO_DECAY,
    RHO_MIN,
    RISE_TOL,
    SIZE_KEYS,
    SOURCE,
    THRESHOLDS,
    TOP,
    fit_config,
    fmt_estimate,
    settings,
    use_checkpoints,
)
from .experiment1 import (  # noqa: F401
    EXP1_RULE,
    EXP1_TIERS,
    NORM_CONTROL_MARGIN,
    NORM_CONTROL_RULE,
    NORM_MARGIN,
    NORM_RULE,
    NORM_STATISTIC,
    experiment1,
    figure1,
    jsonable,
    low_frequencies_first,
    weight_norms_control,
    weight_norms_grow,
)
from .experiment2 import (  # noqa: F401
    DECAY_RULE,
    decay_verdict,
    experiment2,
    figure2,
    high_frequencies_fragile,
)
from .experiment5 import (  # noqa: F401
    PETALS_RULE,
    experiment5,
    figure5,
    manifold_petals_help,
)
from .experiments import (  # noqa: F401
    EXPERIMENTS,
    run_experiment,
)
