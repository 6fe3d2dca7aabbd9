"""Overlap dynamics of the spherical perceptron under online SGD, and escape-sample counts.

BAGJ step (one fresh sample per step): w <- (w - (delta/N) grad L) / norm. To second order in
the step, with a = y sigma'(lambda) and |x|^2 = N, the overlap m = w.u moves by

    E[dm] = (delta/N) (1 - m^2) (-phi'(m))  -  (delta^2 / (2N)) s m          per sample,
    Var[dm] = (delta^2 / N^2) s                                             per sample (m ~ 0),

drift, spherical shrink and martingale noise, with s = E[sigma'(Z)^2]. A mini-batch of B samples
with step (delta/N) * sum_b grad_b has the same per-sample drift, shrink and noise, so the
sample count does not depend on B while B stays well below N^(k/2).

Search phase: the escape-sample count from m0 to m1 under the drift alone is
n = integral_{m0}^{m1} N dm / (delta k a_k m^(k-1)); sympy integrates it for k = 1, 2 and k >= 3.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import math
import warnings

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special
import sympy as sp

from ._population import PopulationLoss, m


N = sp.Symbol("N", positive=True)
n = sp.Symbol("n", positive=True)
delta = sp.Symbol("delta", positive=True)
delta0 = sp.Symbol("delta_0", positive=True)
m0, m1 = sp.symbols("m_0 m_1", positive=True)
a_k = sp.Symbol("a_k", positive=True)
k_sym = sp.Symbol("k", positive=True, integer=True)
s_sym = sp.Symbol("s", positive=True)

ESCAPE_OVERLAP = 0.5
"""Default escape threshold m1: escape is the first sample count with |m| >= m1."""

STABILITY_RATIO = 10
REFERENCE_DIM = 16
MAX_RELATIVE_DRIFT = 1e-3


@ft.cache
def escape_samples_leading(k: int) -> sp.Expr:
    """Search-phase samples from m0 to m1 with drift dm/dn = (delta/N) k a_k m^(k-1), integrated
    by sympy (for k >= 3 with k symbolic, then specialised)."""
    if k in (1, 2):
        integrand = N / (delta * k * a_k * m ** (k - 1))
        expr = sp.integrate(integrand, (m, m0, m1))
    else:
        expr = escape_samples_general().subs(k_sym, k)
    return sp.expand_log(sp.simplify(expr), force=True)


@ft.cache
def escape_samples_general() -> sp.Expr:
    """The k >= 3 escape-sample count with k kept symbolic, integrated with p = k - 2 > 0."""
    p = sp.Symbol("p", positive=True)
    integrand = N / (delta * k_sym * a_k * m ** (p + 1))
    return sp.simplify(sp.integrate(integrand, (m, m0, m1)).subs(p, k_sym - 2))


def schedule_powers(k: int) -> tuple[sp.Rational, int]:
    """(P, Q) of the theory's schedule delta_N = delta_0 N^-P (log N)^-Q: P = (k-2)/2 for k >= 3
    (0 below), Q = 1 for k >= 2 and 0 for k = 1."""
    return (sp.Rational(max(k - 2, 0), 2), 0 if k == 1 else 1)


def step_schedule(k: int, exponent=None, log_power=None) -> sp.Expr:
    """delta_N = delta_0 N^-P (log N)^-Q; by default the theory's (P, Q) of `schedule_powers`:
    delta_0 for k = 1, delta_0 / log N for k = 2, delta_0 N^(-(k-2)/2) / log N for k >= 3."""
    p0, q0 = schedule_powers(k)
    p = p0 if exponent is None else sp.nsimplify(exponent)
    q = q0 if log_power is None else sp.nsimplify(log_power)
    return delta0 * N ** (-p) / sp.log(N) ** q


def threshold_powers(k: int) -> dict[str, tuple[int, int]]:
    """(power of N, power of log N) of the BAGJ sample thresholds.

    k >= 3: lower N^(k-1), upper N^(k-1) log^2 N. k = 2: lower N log N, upper N log^2 N.
    k = 1: lower N, upper N log N (any n/N -> infinity suffices; log N is our choice).
    """
    if k >= 3:
        return {"lower": (k - 1, 0), "upper": (k - 1, 2)}
    if k == 2:
        return {"lower": (1, 1), "upper": (1, 2)}
    return {"lower": (1, 0), "upper": (1, 1)}


def lower_threshold(k: int) -> sp.Expr:
    """n << lower: SGD from a random start does not leave the equator (BAGJ lower bound)."""
    e, q = threshold_powers(k)["lower"]
    return N**e * sp.log(N) ** q


def upper_threshold(k: int) -> sp.Expr:
    """n >> upper: SGD recovers the spike (BAGJ upper bound); N^(k-1) log^2 N for k >= 3."""
    e, q = threshold_powers(k)["upper"]
    return N**e * sp.log(N) ** q


@dataclasses.dataclass(frozen=True)
class OverlapDynamics:
    """Drift, shrink and noise of the overlap for a [`theory.PopulationLoss`][] at numeric beta.

    **Arguments:**
    - `loss`: the population loss (its `beta` must be a number).
    - `m_escape`: escape threshold m1.
    """

    loss: PopulationLoss
    m_escape: float = ESCAPE_OVERLAP

    def __post_init__(self):
        if not self.loss.beta.is_number:
            raise ValueError("OverlapDynamics needs a numeric snr")
        if not self.loss.recoverable:
            raise ValueError(self.loss.verdict)
        if not 0 < self.m_escape < 1:
            raise ValueError(f"escape overlap must lie in (0, 1), got {self.m_escape}")

    # ---- symbolic pieces -------------------------------------------------------------------
    @property
    def k(self) -> int:
        return self.loss.information_exponent

    @property
    def a(self) -> sp.Expr:
        return self.loss.leading_coefficient

    @property
    def s(self) -> sp.Expr:
        return self.loss.gradient_scale

    @ft.cached_property
    def drift(self) -> sp.Expr:
        """Mean change of m per sample from the population gradient (tangent projection)."""
        return delta / N * (1 - m**2) * (-sp.diff(self.loss.series, m))

    @ft.cached_property
    def shrink(self) -> sp.Expr:
        """Mean change of m per sample from renormalising after a step of norm^2 = (delta/N)^2 s N."""
        return -(delta**2) / (2 * N) * self.s * m

    @ft.cached_property
    def noise_variance(self) -> sp.Expr:
        """Variance of the change of m per sample (martingale part, m near 0)."""
        return delta**2 / N**2 * self.s

    @property
    def rate(self) -> sp.Expr:
        """dm/dn of the deterministic overlap ODE."""
        return self.drift + self.shrink

    @ft.cached_property
    def escape_leading(self) -> sp.Expr:
        """Leading-order search-phase samples as a function of N, delta, m0, m1."""
        return escape_samples_leading(self.k).subs(a_k, sp.Abs(self.a))

    @property
    def schedule(self) -> sp.Expr:
        return step_schedule(self.k)

    @ft.cached_property
    def default_delta0(self) -> float:
        """delta_0 of the schedule (our choice), the smaller of two conditions at N = 16:

        - drift / shrink = 10 at m0 = N^-1/2. At m0 = gamma / sqrt(N) the ratio is
          2 k a_k gamma^(k-2) log N / (delta_0 s) under the schedule, so it grows with N.
        - the drift per sample at m = 1, (delta_N / N) k a_k, is at most 1e-3 (small steps; this
          binds for k <= 2, where the schedule does not shrink the step with N).
        """
        k, a, s = self.k, abs(float(self.a)), float(self.s)
        unit = float(self.schedule.subs({N: REFERENCE_DIM, delta0: 1}))
        # drift/shrink at m0 = N^-1/2 is 2 k a N^-(k-2)/2 / (delta_N s); solve for delta_0.
        stability = 2 * k * a * REFERENCE_DIM ** (-(k - 2) / 2) / (STABILITY_RATIO * s * unit)
        small = MAX_RELATIVE_DRIFT * REFERENCE_DIM / (k * a * unit)
        return min(stability, small)

    def batch_size(self, dim: int) -> int:
        """Default samples per step: round(N^((k-2)/2)), at least 1.

        The per-step drift is B times the per-sample drift; under the schedule that is
        B (delta_0 / log N) N^-(k-2)/2 k a_k m^(k-1) / N, so B = N^((k-2)/2) keeps each step as
        small as one sample's at k = 2 while staying far below the N^(k/2) at which larger batches
        stop helping (Arnaboldi et al. 2024).
        """
        return max(1, int(round(dim ** ((self.k - 2) / 2))))

    # ---- numeric versions --------------------------------------------------------------------
    def step(self, dim: int, d0: float | None = None, exponent=None, log_power=None) -> float:
        """delta_N for dimension `dim` on the schedule delta_0 N^-P (log N)^-Q (the theory's P, Q
        unless given), with `d0` or the default delta_0 of that schedule (`delta0_for`)."""
        d0 = self.delta0_for(exponent, log_power) if d0 is None else d0
        return float(step_schedule(self.k, exponent, log_power).subs({N: dim, delta0: d0}))

    def delta0_for(self, exponent=None, log_power=None) -> float:
        """delta_0 of the schedule N^-P (log N)^-Q that gives the same step at N = 16 as the theory's
        schedule with its default delta_0 (so every schedule starts from the same step)."""
        ref = float(self.schedule.subs({N: REFERENCE_DIM, delta0: self.default_delta0}))
        unit = float(step_schedule(self.k, exponent, log_power).subs({N: REFERENCE_DIM, delta0: 1}))
        return ref / unit

    def critical_step(self, dim: int, start: float) -> float:
        """The largest step for which the ODE escapes from `start` (drift beats the shrink all the
        way to m1); found by bisection in log(delta). inf if no step is too large (k = 1)."""
        lo = self.step(dim) * 1e-6
        if not math.isfinite(self.ode_escape_samples(dim, lo, start)):
            return 0.0
        hi = lo * 10
        while math.isfinite(self.ode_escape_samples(dim, hi, start)):
            hi *= 10
            if hi > 1e12:
                return math.inf
        for _ in range(60):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if math.isfinite(self.ode_escape_samples(dim, mid, start)) else (lo, mid)
        return lo

    def best_step_escape(self, dim: int, start: float, steps=None) -> tuple[float, float]:
        """(best step, ODE escape samples at it) from `start`: the minimum over `steps` (a scan) or,
        without them, over every step below the critical one (bounded search in log delta)."""
        if steps is not None:
            values = [self.ode_escape_samples(dim, float(d), start) for d in steps]
            i = int(np.argmin(values))
            return float(steps[i]), float(values[i])
        crit = self.critical_step(dim, start)
        if not math.isfinite(crit) or crit <= 0:
            return math.nan, math.inf
        with warnings.catch_warnings():  # quad warns close to the critical step, where n* diverges
            warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
            res = self._minimise_log_escape(dim, start, crit)
        return float(math.exp(res.x)), float(math.exp(res.fun))

    def _minimise_log_escape(self, dim: int, start: float, crit: float):
        return scipy.optimize.minimize_scalar(
            lambda x: math.log(self.ode_escape_samples(dim, math.exp(x), start)),
            bounds=(math.log(crit) - math.log(1e4), math.log(crit) - 1e-9),
            method="bounded",
            options={"xatol": 1e-6},
        )

    @ft.cached_property
    def _rate_fn(self):
        return sp.lambdify((m, N, delta), self.rate, "numpy")

    def ode_escape_samples(self, dim: int, step: float, start: float) -> float:
        """Samples for the deterministic ODE dm/dn = drift + shrink to go from `start` to m1.

        Returns inf when the rate is not positive on the way (the shrink wins, or an odd-k start
        on the wrong side of the equator). For even k the sign of `start` is irrelevant.
        """
        start = float(start)
        sign = 1 if self.k % 2 == 0 else self.loss.favourable_sign
        start = abs(start) if self.k % 2 == 0 else start * sign
        if start >= self.m_escape:
            return 0.0
        if start <= 0 and self.k >= 2:
            return math.inf
        # In the coordinate sign * m the descent direction is positive.
        fn = lambda v, d, st: sign * self._rate_fn(sign * v, d, st)
        grid = np.geomspace(max(start, 1e-12), self.m_escape, 64) if start > 0 else None
        probe = fn(grid if grid is not None else np.linspace(start, self.m_escape, 64), dim, step)
        if np.any(np.asarray(probe) <= 0):
            return math.inf
        val, _ = scipy.integrate.quad(
            lambda v: 1.0 / fn(v, dim, step), start, self.m_escape, limit=200, epsrel=1e-8
        )
        return float(val)

    # ---- the diffusion (SDE) and deterministic (ODE) rungs -----------------------------------
    @ft.cached_property
    def population_gradient(self) -> sp.Expr:
        """-phi'(m): the population force along the spike, a polynomial in m."""
        return sp.expand(-sp.diff(self.loss.series, m))

    @ft.cached_property
    def population_gradient_coefficients(self) -> tuple[float, ...]:
        """Coefficients of -phi'(m), lowest order first (c_0 + c_1 m + ...)."""
        poly = sp.Poly(self.population_gradient, m)
        coeffs = [0.0] * (poly.degree() + 1)
        for (power,), c in poly.terms():
            coeffs[power] = float(c)
        return tuple(coeffs)

    @ft.cached_property
    def sde(self) -> dict[str, sp.Expr]:
        """The diffusion approximation dm = mu(m) dn + sqrt(D) dW in the sample count n:
        mu = drift + shrink (per sample), D = the per-sample variance at m ~ 0 (our choice:
        the noise is taken constant in m, exact to leading order in the search phase)."""
        return {"mu": self.rate, "D": self.noise_variance}

    def ode_trajectory(self, dim: int, step: float, start: float, samples) -> np.ndarray:
        """m(n) of the deterministic ODE dm/dn = drift + shrink from m(0) = `start`, at the sample
        counts `samples` (increasing); integrated in log n with an implicit method."""
        samples = np.asarray(samples, float)
        rate = lambda _, v: self._rate_fn(v, dim, step)
        sol = scipy.integrate.solve_ivp(
            lambda t, v: rate(t, v),
            (0.0, float(samples[-1])),
            [float(start)],
            t_eval=samples,
            method="LSODA",
            rtol=1e-8,
            atol=1e-12,
        )
        out = np.full(samples.shape, np.nan)
        out[: sol.y.shape[1]] = sol.y[0]
        return out

    def leading_escape_samples(self, dim: int, step: float, start: float) -> float:
        """The sympy closed form (drift only) evaluated numerically."""
        expr = self.escape_leading.subs({N: dim, delta: step, m0: abs(start), m1: self.m_escape})
        return float(expr)

    @property
    def thresholds(self) -> dict[str, tuple[int, int]]:
        return threshold_powers(self.k)

    def lower_threshold(self, dim) -> np.ndarray:
        e, q = self.thresholds["lower"]
        d = np.asarray(dim, float)
        return d**e * np.log(d) ** q

    def upper_threshold(self, dim) -> np.ndarray:
        e, q = self.thresholds["upper"]
        d = np.asarray(dim, float)
        return d**e * np.log(d) ** q

    def escape_scale(self, dim: int, d0: float | None = None) -> float:
        """The upper threshold with the theory's prefactor: upper(N) / (k max(k-2,1) a_k delta_0).

        The budget of a sweep is a multiple of this (for k >= 3 it is log N times the ODE escape
        count from m0 = N^-1/2).
        """
        d0 = self.default_delta0 if d0 is None else d0
        k, a = self.k, abs(float(self.a))
        return float(self.upper_threshold(dim)) / (max(k - 2, 1) * k * a * d0)


def median_abs_start(dim: int) -> float:
    """Median of |w.u| for w uniform on the unit sphere in dimension `dim` (m^2 ~ Beta(1/2, (N-1)/2))."""
    return math.sqrt(float(scipy.special.betaincinv(0.5, (dim - 1) / 2, 0.5)))


def start_quantile(dim: int, q: float) -> float:
    """Quantile q of |w.u| for w uniform on the sphere."""
    return math.sqrt(float(scipy.special.betaincinv(0.5, (dim - 1) / 2, q)))
