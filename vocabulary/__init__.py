"""The shared vocabulary of the verifier: the names a user types and both sides understand.

`theory` (symbolic, sympy) and `sims` (numerical, JAX) never import each other; the claim layer
pairs them. The name lists they must agree on live here, once, so that a task, latent law or
activation known to one side is known to the other by construction. This module imports nothing.
"""

from __future__ import annotations


TASK_NAMES = ("phase", "amplitude", "mean")
"""The spiked tasks: the structured class differs from noise in phase only (equal power spectra),
in amplitude (variance along the spike) or in the mean."""

LATENT_NAMES = ("rademacher", "uniform", "laplace", "skewed", "gaussian", "moments:M1,M2,M3,...")
"""Laws of the latent variable along the spike; `moments:...` gives a law by its moments."""

ACTIVATION_NAMES = ("he1", "he2", "he3", "he4", "he5", "he6", "relu", "tanh", "erf")
"""Student activations: probabilists' Hermite polynomials (a leading `-` flips the sign) and three
non-polynomial ones."""

START_NAMES = ("random", "conditioned")
"""How a seed's student starts: uniform on the sphere, or at overlap exactly N^-1/2."""

PLACEMENT_NAMES = ("aligned", "spread", "topK:K")
"""Where the spike of the power-law task sits among the Fourier modes."""

__all__ = ["ACTIVATION_NAMES", "LATENT_NAMES", "PLACEMENT_NAMES", "START_NAMES", "TASK_NAMES"]
