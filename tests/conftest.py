"""Shared fixtures and the tolerance helper for the test suite."""

from __future__ import annotations

import math
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import settings


# Many tests compile the same programs, in this process, in the other pytest-xdist worker and in the
# scripts they start: share JAX's persistent compilation cache between them (the environment
# variables reach the subprocesses). Executables are keyed by a hash of the program, compiler and
# JAX version, so a stale entry is never reused; delete the folder to start cold.
_CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax-compilation"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update(
    "jax_persistent_cache_min_compile_time_secs",
    float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
)


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
