"""Shared fixtures and the tolerance helper for the test suite."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import settings


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
