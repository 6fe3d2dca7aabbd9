"""Statistics over seeds: censored medians with bootstrap intervals, and scaling fits.

Escape samples of trajectories that did not escape within the budget are censored: they count as
+inf, so a median is finite only while more than half of the seeds escaped, and an interval end is
infinite when the resampled medians are. Intervals are percentile bootstraps over seeds (seeds are
resampled within each N cell, cells independently). In fits, a censored median is replaced by the
cell's budget, a lower bound, and the fit says how many resamples that touched.
"""

from __future__ import annotations

import dataclasses

import numpy as np


CONFIDENCE = 0.95
N_BOOT = 2000


def _censor(values) -> np.ndarray:
    v = np.asarray(values, float)
    return np.where(np.isfinite(v), v, np.inf)


def bootstrap_medians(values, n_boot: int = N_BOOT, rng: np.random.Generator | None = None) -> np.ndarray:
    """Medians of `n_boot` resamples (with replacement) of `values` (NaN counts as +inf)."""
    rng = rng or np.random.default_rng(0)
    v = _censor(values)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    return np.median(v[idx], axis=1)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A point estimate with its (lo, hi) interval at `confidence`, from `n` seeds/resamples."""

    value: float
    lo: float
    hi: float
    n: int
    confidence: float = CONFIDENCE

    def as_dict(self) -> dict:
        f = lambda x: None if not np.isfinite(x) else float(x)
        return {
            "value": f(self.value),
            "lo": f(self.lo),
            "hi": f(self.hi),
            "n": int(self.n),
            "confidence": self.confidence,
        }

    def __str__(self) -> str:
        return f"{self.value:.4g} [{self.lo:.4g}, {self.hi:.4g}]"


def median_ci(values, n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Median of `values` (NaN = censored) with a percentile-bootstrap interval."""
    v = _censor(values)
    boots = bootstrap_medians(v, n_boot, np.random.default_rng(seed))
    alpha = (1 - CONFIDENCE) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha], method="lower")
    return Estimate(float(np.median(v)), float(lo), float(hi), int(v.size))


@dataclasses.dataclass(frozen=True)
class ScalingFit:
    """Least-squares fit of log(median samples) against regressors in log N, bootstrapped.

    `censored_resamples` counts bootstrap resamples in which some cell's median was censored (more
    than half of the resampled seeds did not escape) and was replaced by that cell's budget, a lower
    bound. When it is non-zero the fitted values are biased low where censoring bites, so the
    claim layer treats an interval that leans on them as one-sided evidence only.
    """

    names: tuple[str, ...]
    estimates: tuple[Estimate, ...]
    dims: tuple[int, ...]
    censored_resamples: int
    censored_point: bool

    def __getitem__(self, name: str) -> Estimate:
        return self.estimates[self.names.index(name)]

    def as_dict(self) -> dict:
        out = {name: est.as_dict() for name, est in zip(self.names, self.estimates, strict=True)}
        out["dims"] = list(self.dims)
        out["censored_resamples"] = int(self.censored_resamples)
        out["censored_point"] = bool(self.censored_point)
        return out


def fit_scaling(
    dims,
    samples,
    design,
    names: tuple[str, ...],
    offset=None,
    budgets=None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> ScalingFit:
    """Fit log(median n) - offset(N) = design(N) @ theta over N cells, bootstrap over seeds.

    **Arguments:**
    - `dims`: the N of each cell.
    - `samples`: per cell, the escape samples of its seeds (NaN = no escape within the budget).
    - `design`: function of log N (array) returning the design matrix (cells x parameters).
    - `names`: parameter names.
    - `offset`: function of N giving a known part of log n subtracted before fitting.
    - `budgets`: per cell, the budget; a censored (infinite) median is replaced by it, a lower
      bound on the true median. Without budgets a censored median raises ValueError.

    Medians must be positive (a start already beyond the escape overlap gives 0: leave such cells
    out).
    """
    dims = np.asarray(dims, float)
    X = design(np.log(dims))
    off = np.zeros_like(dims) if offset is None else offset(dims)
    floor = np.full(dims.shape, np.inf) if budgets is None else np.asarray(budgets, float)
    rng = np.random.default_rng(seed)
    meds = np.array([np.median(_censor(s)) for s in samples])
    censored_point = bool(np.any(~np.isfinite(meds)))
    meds = np.where(np.isfinite(meds), meds, floor)
    if not np.all(np.isfinite(meds)):
        raise ValueError("a cell has no finite median escape count: raise the budget")
    if np.any(meds <= 0):
        raise ValueError("a cell has median escape count 0 (its start is beyond the escape overlap)")
    theta = np.linalg.lstsq(X, np.log(meds) - off, rcond=None)[0]
    boots = np.stack([bootstrap_medians(s, n_boot, rng) for s in samples], axis=1)
    hit = ~np.isfinite(boots)
    boots = np.where(hit, floor[None, :], boots)
    boots = np.maximum(boots, 1.0)  # a resample whose median start had already escaped: 1 sample
    thetas = np.linalg.lstsq(X, (np.log(boots) - off).T, rcond=None)[0].T
    alpha = (1 - CONFIDENCE) / 2
    ests = []
    for j in range(X.shape[1]):
        lo, hi = np.quantile(thetas[:, j], [alpha, 1 - alpha])
        ests.append(Estimate(float(theta[j]), float(lo), float(hi), n_boot))
    return ScalingFit(
        tuple(names), tuple(ests), tuple(int(d) for d in dims), int(hit.any(axis=1).sum()), censored_point
    )


def power_law_fit(dims, samples, **kw) -> ScalingFit:
    """log n = c + b log N: the free sample exponent b."""
    return fit_scaling(
        dims, samples, lambda x: np.stack([np.ones_like(x), x], 1), ("log_prefactor", "exponent"), **kw
    )


def log_power_fit(dims, samples, exponent: float, **kw) -> ScalingFit:
    """log n = c + exponent log N + q log log N: the free power q of log N at a fixed exponent."""
    return fit_scaling(
        dims,
        samples,
        lambda x: np.stack([np.ones_like(x), np.log(x)], 1),
        ("log_prefactor", "log_power"),
        offset=lambda d: exponent * np.log(d),
        **kw,
    )


def ratio_slope_fit(dims, samples, exponent: float, log_power: float, **kw) -> ScalingFit:
    """Slope of log(n / (N^exponent (log N)^log_power)) against log N."""
    return fit_scaling(
        dims,
        samples,
        lambda x: np.stack([np.ones_like(x), x], 1),
        ("log_prefactor", "slope"),
        offset=lambda d: exponent * np.log(d) + log_power * np.log(np.log(d)),
        **kw,
    )
