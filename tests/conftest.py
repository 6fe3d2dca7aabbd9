"""Shared fixtures and the tolerance helper for the test suite."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

import claims


# Many tests compile the same programs, in this process, in the other pytest-xdist worker and in the
# scripts they start: point the project's compilation cache (`claims.enable_compilation_cache`, which
# every script calls) at one folder for all of them; the environment variable reaches the
# subprocesses. Executables are keyed by a hash of the program, compiler and JAX version, so a stale
# entry is never reused; delete the folder to start cold.
os.environ.setdefault(
    "FOURIER_VERIFIER_CACHE", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax-compilation")
)
claims.enable_compilation_cache()


# Property tests draw the same examples on every run, so CI is reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci")


def within_se(estimate: float, target: float, se: float, n_se: float = 5.0) -> bool:
    """True if |estimate - target| <= n_se standard errors (tolerances come from the statistics)."""
    return abs(estimate - target) <= n_se * se


def sample_moment_se(x: np.ndarray, p: int) -> tuple[float, float]:
    v = np.asarray(x, float) ** p
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


@pytest.fixture(scope="session")
def tmp_results(tmp_path_factory):
    return tmp_path_factory.mktemp("results")
