"""Shared fixtures and the tolerance helper for the test suite."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings


# The fast tier is compile-bound: most tests run a few hundred SGD steps at N <= 24, and compiling
# each engine's program takes longer than running it. XLA's CPU backend compiles about 1.4x faster at
# optimisation level 0 (the smoke verify run of the phase-only claims: 90 s -> 65 s), at a run-time
# cost that these sizes do not feel. The numbers a user sees come from default flags; tests that
# assert bitwise properties of the compiled programs (the determinism scripts) run their subprocesses
# with the user's own flags (`default_compiler_env`). FOURIER_TEST_DEFAULT_COMPILER=1 runs every test
# at the default flags.
USER_XLA_FLAGS = os.environ.get("XLA_FLAGS")
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if os.environ.get("FOURIER_TEST_DEFAULT_COMPILER") != "1" and "FOURIER_TEST_XLA_FLAGS_SET" not in os.environ:
    os.environ["XLA_FLAGS"] = f"{USER_XLA_FLAGS or ''} {TEST_XLA_FLAGS}".strip()
    os.environ["FOURIER_TEST_XLA_FLAGS_SET"] = USER_XLA_FLAGS or ""


def default_compiler_env() -> dict[str, str]:
    """The environment for a subprocess that must run the programs users run (default XLA flags)."""
    env = dict(os.environ)
    user = env.pop("FOURIER_TEST_XLA_FLAGS_SET", None)
    if user is not None:  # this session changed the flags: restore the user's own
        if user:
            env["XLA_FLAGS"] = user
        else:
            env.pop("XLA_FLAGS", None)
    return env


import claims  # noqa: E402  (after XLA_FLAGS: the backend reads them when it starts)


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
