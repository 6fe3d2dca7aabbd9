"""Statistics over seeds: censored medians with intervals, and scaling fits.

Escape samples of trajectories that did not escape within the budget are censored: they count as
+inf, so a median is finite only while more than half of the seeds escaped, and an interval end is
infinite when the statistic it rests on is censored.

Two families of intervals live here:

- `median_ci` (used by the topic modules): the interpolated order-statistic interval of
  Hettmansperger and Sheather, close to nominal coverage on 8 seeds where the percentile bootstrap
  (`median_ci_bootstrap`, used before 2026-12-02) is not; `fit_scaling`: a percentile bootstrap over
  seeds, where a censored median is replaced by the cell's budget and the fit counts the resamples
  it touched.
- the **escape-time policy** of the scaling sweep (`median_os_ci`, `clip_to_rank`, `fit_censored`):
  the median's interval is the distribution-free order-statistic interval [X_(l), X_(u)], so it
  depends on the seeds' ranks up to u only; bootstrap resamples are drawn from values clipped at
  X_(u), so every statistic is a function of the u fastest seeds and a run stopped once u seeds
  escaped reports exactly what a run to the full budget reports; and a censored median enters a fit
  as what it is, a lower bound: each parameter's interval is unbounded on the side that the
  censored cell could push it to (for a slope, below when the cell is at small N, above at large N).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.stats


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


def median_ci(values, confidence: float = CONFIDENCE) -> Estimate:
    """Median of `values` (NaN = censored = +inf) with the interpolated order-statistic interval
    of Hettmansperger and Sheather (1986).

    With d the largest rank whose interval [X_(d), X_(n+1-d)] covers the median with probability
    g_d = 1 - 2 P(Bin(n, 1/2) < d) >= `confidence`, each end is interpolated towards the next
    order statistic inward by lam = (n - d) I / (d + (n - 2d) I), I = (g_d - confidence) /
    (g_d - g_{d+1}). Its coverage is close to nominal for any continuous law, where the percentile
    bootstrap's is not on 8 seeds (tests/test_coverage.py: 0.89-0.92 there; docs/claims.md). An end
    that touches a censored seed is +inf. With too few seeds for `confidence` (n < 6 at 95%) the
    interval is the sample's range and its coverage (`Estimate.confidence`) is below nominal.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence!r} must be in (0, 1)")
    v = np.sort(_censor(values))
    n = v.size
    if n < 1:
        raise ValueError("median_ci needs at least one value")
    cover = lambda d: 1 - 2 * scipy.stats.binom.cdf(d - 1, n, 0.5)  # noqa: E731
    d = median_interval_ranks(n, confidence)[0]  # 0: even the range covers less than `confidence`
    if d == 0 or d + 1 > n - d:  # the range itself falls short, or no inner pair to move towards
        return Estimate(float(np.median(v)), float(v[0]), float(v[-1]), int(n), float(cover(max(d, 1))))
    g, g_next = cover(d), cover(d + 1)
    share = (g - confidence) / (g - g_next)
    lam = (n - d) * share / (d + (n - 2 * d) * share)

    def mix(outer: float, inner: float) -> float:
        if not (np.isfinite(outer) and np.isfinite(inner)):
            return math.inf if max(outer, inner) == math.inf else -math.inf
        return float((1 - lam) * outer + lam * inner)

    lo, hi = mix(v[d - 1], v[d]), mix(v[n - d], v[n - d - 1])
    return Estimate(float(np.median(v)), lo, hi, int(n), float(confidence))


def median_ci_bootstrap(values, n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Median of `values` (NaN = censored) with a percentile-bootstrap interval: the interval
    `median_ci` used before 2026-12-02, kept for the coverage comparison (it under-covers on 8
    seeds)."""
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


# ---- the escape-time policy of the scaling sweep -----------------------------------------------


def median_interval_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """1-based ranks (l, u) of the distribution-free interval [X_(l), X_(u)] for the median of n
    seeds: l is the largest rank with P(Binomial(n, 1/2) < l) <= (1 - confidence)/2, u = n + 1 - l,
    so the coverage is at least `confidence` for any continuous law. With too few seeds for such an
    interval (n < 6 at 95%) l = 0 and u = n + 1: both ends are unbounded."""
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"median_interval_ranks needs n >= 1 seeds, got {n!r}")
    alpha = (1 - confidence) / 2
    l = int(scipy.stats.binom.ppf(alpha, n, 0.5))  # smallest k with P(B <= k) >= alpha
    while l > 0 and scipy.stats.binom.cdf(l - 1, n, 0.5) > alpha:
        l -= 1
    while scipy.stats.binom.cdf(l, n, 0.5) <= alpha:
        l += 1
    return l, n + 1 - l


def order_statistic(values, rank: int) -> float:
    """X_(rank) (1-based) of `values` (NaN counts as +inf); -inf for rank 0, +inf beyond n."""
    v = np.sort(_censor(values))
    if rank < 1:
        return -math.inf
    if rank > v.size:
        return math.inf
    return float(v[rank - 1])


def upper_median(values, axis: int = -1) -> np.ndarray:
    """The median as an order statistic: X_(floor(n/2) + 1), the middle value for odd n and the
    upper of the two middle values for even n (NaN counts as +inf). It is finite exactly when more
    than half of the values are, and, unlike the mean of the two middle values, it does not change
    when values above it are censored."""
    v = _censor(values)
    n = v.shape[axis]
    return np.take(np.partition(v, n // 2, axis=axis), n // 2, axis=axis)


def median_os_ci(values, confidence: float = CONFIDENCE) -> Estimate:
    """`upper_median` of `values` (NaN = censored = +inf) with the order-statistic interval
    [X_(l), X_(u)] of `median_interval_ranks`; an end is +inf when its seed did not escape."""
    v = _censor(values)
    l, u = median_interval_ranks(v.size, confidence)
    return Estimate(
        float(upper_median(v)), order_statistic(v, l), order_statistic(v, u), int(v.size), confidence
    )


def clip_to_rank(values, rank: int) -> np.ndarray:
    """`values` (NaN = +inf) with everything above X_(rank) set to X_(rank): the result depends only
    on the `rank` smallest values, so it is the same whether the slower seeds were run to the budget
    or censored once `rank` seeds had escaped."""
    v = _censor(values)
    cap = order_statistic(v, rank)
    return np.minimum(v, cap)


def escape_bootstrap(values, n_boot: int = N_BOOT, seed=0, confidence: float = CONFIDENCE) -> np.ndarray:
    """Bootstrap medians (`upper_median`) of the escape samples of one cell under the sweep's
    policy: resamples of `clip_to_rank(values, u)` with u the upper rank of the median's interval
    (+inf = censored). Every resampled median is an order statistic X_(j) with j <= u."""
    v = clip_to_rank(values, median_interval_ranks(np.size(values), confidence)[1])
    idx = np.random.default_rng(seed).integers(0, v.size, size=(n_boot, v.size))
    return upper_median(v[idx], axis=1)


def fit_censored(
    dims,
    medians,
    boot,
    budgets,
    design,
    names: tuple[str, ...],
    offset=None,
    confidence: float = CONFIDENCE,
) -> ScalingFit:
    """Least squares of log(median) - offset(N) on design(log N), with censored medians as bounds.

    **Arguments:**
    - `dims`: the N of each cell.
    - `medians`: the point medians (+inf where censored); `boot`: bootstrap medians, shape
      (resamples, cells), +inf where censored (e.g. from `escape_bootstrap`).
    - `budgets`: per cell, the sample count a censored median is known to exceed.
    - `design`, `names`, `offset`: as for `fit_scaling`.

    A censored median is only known to exceed its budget. Every parameter is linear in the log
    medians, theta_j = sum_i c_ji y_i, so a censored cell i with c_ji < 0 leaves theta_j unbounded
    below and one with c_ji > 0 unbounded above. In each resample the parameter is computed with the
    censored medians at their budgets and its lower (upper) value is set to -inf (+inf) where a
    censored cell could move it that way; the interval is the lower quantile of the lower values
    and the upper quantile of the upper values. The point value is None when the point medians are
    censored in a way that moves it. Such an interval never passes more easily than the uncensored
    one would.

    Long because the censoring rules for each fitted parameter are spelled out case by case.
    """
    dims = np.asarray(dims, float)
    X = design(np.log(dims))
    coef = np.linalg.pinv(X)  # (parameters, cells)
    coef = np.where(np.abs(coef) < 1e-12, 0.0, coef)
    off = np.zeros_like(dims) if offset is None else offset(dims)
    floor = np.asarray(budgets, float)
    meds = np.asarray(medians, float)
    boot = np.asarray(boot, float)
    if boot.ndim != 2 or boot.shape[1] != dims.size:
        raise ValueError(f"boot must have shape (resamples, {dims.size}), got {boot.shape}")
    if np.any(meds[np.isfinite(meds)] <= 0):
        raise ValueError("a cell has median escape count 0 (its start is beyond the escape overlap)")

    def solve(y, censored):
        y = np.where(censored, floor, y)
        theta = (np.log(np.maximum(y, 1.0)) - off) @ coef.T  # (..., parameters)
        down = (censored[..., None, :] & (coef < 0)).any(-1)
        up = (censored[..., None, :] & (coef > 0)).any(-1)
        return theta, np.where(down, -np.inf, theta), np.where(up, np.inf, theta)

    point_cens = ~np.isfinite(meds)
    theta, p_lo, p_hi = solve(meds, point_cens)
    hit = ~np.isfinite(boot)
    _, lows, highs = solve(boot, hit)
    alpha = (1 - confidence) / 2
    ests = []
    for j in range(X.shape[1]):
        # order statistics of the resamples (no interpolation: an end next to an infinite one is kept)
        lo = float(np.quantile(lows[:, j], alpha, method="lower"))
        hi = float(np.quantile(highs[:, j], 1 - alpha, method="higher"))
        value = float(theta[j]) if np.isfinite(p_lo[j]) and np.isfinite(p_hi[j]) else math.nan
        ests.append(Estimate(value, lo, hi, int(boot.shape[0]), confidence))
    return ScalingFit(
        tuple(names),
        tuple(ests),
        tuple(int(d) for d in dims),
        int(hit.any(axis=1).sum()),
        bool(point_cens.any()),
    )


DESIGNS = {
    "power_law": (lambda x: np.stack([np.ones_like(x), x], 1), ("log_prefactor", "exponent")),
    "log_power": (lambda x: np.stack([np.ones_like(x), np.log(x)], 1), ("log_prefactor", "log_power")),
    "ratio_slope": (lambda x: np.stack([np.ones_like(x), x], 1), ("log_prefactor", "slope")),
    "exponent_and_log_power": (
        lambda x: np.stack([np.ones_like(x), x, np.log(x)], 1),
        ("log_prefactor", "exponent", "log_power"),
    ),
}
"""Designs (of x = log N) for `fit_censored`: free exponent; free power of log N at a fixed
exponent (offset); slope of a ratio to N^e (log N)^q (offset); exponent and log power both free."""
