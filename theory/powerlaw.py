"""Power-law spectra: participation ratio, effective start overlap, and the preconditioned
overlap dynamics of the coloured phase task.

Model (shared with `sims.powerlaw`): inputs x = C^1/2 x_w with x_w from the whitened phase task
with spike u, and C diagonal in real Fourier coordinates, c_i proportional to (1 + f_i)^-alpha at
the radial frequency f_i, tr C = N. The student's pre-activation is normalised,
lambda = w.x / sqrt(w^T C w), so that its population loss is exactly phi(m_eff) of the isotropic
task with m_eff = (C^1/2 w).u / |C^1/2 w|.

What is derived here, and what is a hypothesis of ours (not the paper's theorem, whose statement
we could not read):

- **Exact:** the participation ratio PR = (tr C)^2 / tr C^2 of the spectrum, the population loss
  phi(m_eff), and the leading-order scaling of PR with N (sums of (1 + f)^-p alpha over the modes
  of a d-dimensional lattice, derived below).
- **H1 (start):** a uniformly random unit w has m_eff^2 close to u^T C u / tr C (ratio of means).
  For the aligned spike u ~ C^1/2 g this is about tr C^2 / (tr C)^2 = 1 / PR; for the spread spike
  it is exactly 1/N; for a top-K spike it is the mean variance of the top K coordinates over N.
- **H2 (hierarchy):** the mean-field dynamics of the shell variables p_s = w_s.u_s/|u_s| and
  q_s = |w_s|^2 (w_s: the coordinates of one variance shell) close: drift from grad phi(m_eff),
  the spherical shrink and the martingale noise's feed of |w_s|^2, with the noise statistics of the
  Gaussian (noise) class. See `ShellHierarchy` for the equations. Its escape-sample count is our
  prediction; the simulation tests it.
- **H3 (closed form):** while |C^1/2 w| stays near 1 and m is small, dm/dn = (delta/N) k a_k
  (u^T C u) m^(k-1): the isotropic escape count with a_k replaced by a_k u^T C u. For the aligned
  spike at k = 4 and start m0^2 = 1/PR this gives n ~ PR^2 N log N / (2 k a_k delta_0) under the
  step schedule, a speed-up of about (N / PR)^2 over the isotropic task at the same step.
"""

from __future__ import annotations

import functools as ft
import math

import numpy as np
import scipy.integrate
import sympy as sp

from ._population import PopulationLoss, m
from .dynamics import ESCAPE_OVERLAP, a_k, delta, escape_samples_leading, m0, m1
from .dynamics import N as N_dyn


alpha = sp.Symbol("alpha", nonnegative=True)
f = sp.Symbol("f", nonnegative=True)
N = sp.Symbol("N", positive=True)
spectrum_expr = (1 + f) ** (-alpha)
"""Power spectrum P(f) before normalisation: (1 + f)^-alpha at radial frequency f."""


def radial_frequencies(shape: tuple[int, ...]) -> np.ndarray:
    """Radial frequency |k| of each lattice site of a periodic signal of this shape (unsorted)."""
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    return np.sqrt(
        sum(np.minimum(g, s - g).astype(float) ** 2 for g, s in zip(grids, shape, strict=True))
    ).ravel()


def variances(shape: tuple[int, ...], spectral_exponent: float) -> np.ndarray:
    """c per lattice site: (1 + f)^-alpha normalised to sum N (lambdified from `spectrum_expr`)."""
    fn = sp.lambdify((f, alpha), spectrum_expr, "numpy")
    c = np.asarray(fn(radial_frequencies(shape), float(spectral_exponent)), float)
    return c * (c.size / c.sum())


def participation_ratio(c) -> float:
    """PR = (tr C)^2 / tr C^2 of a diagonal covariance given by its variances."""
    c = np.asarray(c, float)
    return float(c.sum() ** 2 / np.sum(c * c))


@ft.cache
def mode_sum_scaling(exponent: sp.Expr, d: int = 1) -> tuple[sp.Expr, sp.Expr]:
    """Leading N-dependence of sum over modes of (1 + f)^-exponent on a d-dimensional lattice with
    N sites, as (power of N, power of log N), from the radial integral of f^(d-1) f^-exponent up to
    the cut-off F ~ N^(1/d) (sympy integrates it; the constant part wins when it converges)."""
    x, big = sp.Symbol("x", positive=True), sp.Symbol("F", positive=True)
    e = sp.nsimplify(exponent)
    integral = sp.integrate(x ** (d - 1 - e), (x, 1, big))
    # Leading behaviour as F -> infinity: F^p (log F)^q, or a constant (p = q = 0).
    if sp.limit(integral, big, sp.oo).is_finite:
        return sp.Integer(0), sp.Integer(0)
    p = sp.Integer(d) - e
    if p == 0:
        return sp.Integer(0), sp.Integer(1)
    return p / d, sp.Integer(0)


@ft.cache
def pr_scaling(spectral_exponent: float, d: int = 1) -> tuple[sp.Expr, sp.Expr]:
    """PR ~ N^p (log N)^q for P(f) = (1 + f)^-alpha on a d-dimensional lattice: (p, q).

    With a = alpha/d: p = 1 for a < 1/2; N / log N at a = 1/2; N^(2 - 2a) for 1/2 < a < 1;
    (log N)^2 at a = 1; O(1) for a > 1.
    """
    a = sp.nsimplify(spectral_exponent)
    p1, q1 = mode_sum_scaling(a, d)
    p2, q2 = mode_sum_scaling(2 * a, d)
    return sp.simplify(2 * p1 - p2), sp.simplify(2 * q1 - q2)


def placement_shell_power(c: np.ndarray, placement: str, k: int | None = None) -> np.ndarray:
    """Expected u_i^2 per coordinate for a placement (`aligned`, `spread`, `topK`)."""
    c = np.asarray(c, float)
    if placement == "aligned":
        return c / c.sum()
    if placement == "spread":
        return np.full(c.size, 1.0 / c.size)
    if placement == "topK":
        if k is None or not 1 <= k <= c.size:
            raise ValueError(f"topK placement needs 1 <= K <= N, got K={k!r}")
        order = np.argsort(-c, kind="stable")
        out = np.zeros(c.size)
        out[order[:k]] = 1.0 / k
        return out
    raise ValueError(f"unknown placement {placement!r}: use aligned, spread or topK")


def typical_start_overlap(c, u2) -> float:
    """H1: sqrt(u^T C u / tr C) for coordinate variances c and spike powers u_i^2."""
    c, u2 = np.asarray(c, float), np.asarray(u2, float)
    return math.sqrt(float(np.sum(c * u2) / c.sum()))


def start_overlap_weights(c) -> np.ndarray:
    """Exact weights K_i with E[m_eff(0)^2 | u] = sum_i K_i u_i^2 for a uniformly random unit w.

    With w = z / |z|, z ~ N(0, I_N), m_eff^2 = (b.z)^2 / (z^T C z), b = C^1/2 u, and writing
    1/Q = int_0^inf exp(-s Q) ds, the Gaussian integrals factorise per coordinate:

        E[m_eff^2 | u] = sum_i c_i u_i^2 K'_i,   K'_i = int_0^inf (1 + 2 s c_i)^-1
                                                         prod_j (1 + 2 s c_j)^-1/2 ds,

    so K_i = c_i K'_i, one integral per coordinate whatever the spike (integrated in log s by
    adaptive quadrature). For C = I every K_i = 1/N. H1 replaces K_i by c_i / tr C; the ratio
    sum K_i u_i^2 / (u^T C u / tr C) measures H1's error."""
    c = np.asarray(c, float)
    if c.ndim != 1 or c.size < 3 or np.any(c <= 0):
        raise ValueError("c must be a 1-D array of at least 3 positive variances")

    def integrand(x):
        s = math.exp(x)
        log_prod = -0.5 * np.sum(np.log1p(2 * s * c))
        return c * s * math.exp(log_prod) / (1 + 2 * s * c)

    # the integrand in x = log s rises like s for small s and falls like s^(1 - N/2) for large s
    lo, hi = math.log(1e-12 / c.max()), math.log(1e12 / c.min())
    weights, _ = scipy.integrate.quad_vec(integrand, lo, hi, epsrel=1e-10, epsabs=0.0)
    return np.asarray(weights)


def h3_escape_scaling(spectral_exponent: float, d: int = 1) -> tuple[sp.Expr, sp.Expr]:
    """H3's asymptotic law for the aligned spike, n* ~ N^p (log N)^q: (p, q).

    From n ~ PR^2 N log N / (2 k a_k delta_0) (module docstring; k = 4, start m0^2 = 1/PR,
    u^T C u = N / PR, the schedule delta_N = delta_0 / (N log N)) and PR ~ N^p' (log N)^q'
    (`pr_scaling`): p = 1 + 2 p', q = 1 + 2 q'. Asymptotic: over a finite grid the local exponent
    of the shell hierarchy (H2) is the prediction to compare with."""
    p, q = pr_scaling(spectral_exponent, d)
    return sp.simplify(1 + 2 * p), sp.simplify(1 + 2 * q)


def leading_escape_samples(
    loss: PopulationLoss, dim: int, step: float, start: float, utcu: float, m_escape: float = ESCAPE_OVERLAP
) -> float:
    """H3: the isotropic drift-only escape count with a_k replaced by a_k u^T C u."""
    k = loss.information_exponent
    expr = escape_samples_leading(k).subs(a_k, abs(float(loss.leading_coefficient)) * utcu)
    return float(expr.subs({N_dyn: dim, delta: step, m0: abs(start), m1: m_escape}))


class ShellHierarchy:
    """H2: mean-field overlap dynamics of the normalised student, one pair of variables per shell.

    Shells are groups of coordinates with equal variance c_s (n_s coordinates each). With
    U_s = |u_s|, p_s = w_s.u_s / U_s, q_s = |w_s|^2, r^2 = sum_s c_s q_s, m = sum_s sqrt(c_s) U_s p_s
    / r, eta = delta / N, G = -phi'(m) / r and s = E[sigma'(Z)^2], per sample:

        dp_s/dn = eta G sqrt(c_s) (U_s - m sqrt(c_s) p_s / r) - K p_s / 2
        dq_s/dn = 2 eta G sqrt(c_s) (U_s p_s - m sqrt(c_s) q_s / r)
                  + eta^2 s c_s (n_s - c_s q_s / r^2) / r^2 - K q_s

    where K = eta^2 s (tr C - sum_s c_s^2 q_s / r^2) / r^2 is the mean squared step (the shrink of
    renormalising w), and the second line's middle term is the noise's mean feed of |w_s|^2 (both
    exact for Gaussian inputs, since the per-sample gradient is orthogonal to w). For C = I this is
    the isotropic overlap ODE (drift times 1 - m^2, shrink s delta^2 m / 2N).

    Several spikes (one per seed) on the same spectrum are integrated together.

    **Arguments:**
    - `loss`: the population loss phi (numeric beta).
    - `c`: per-coordinate variances (sum N), shape (N,).
    - `u2`: per-coordinate spike powers u_i^2 (sum 1), shape (N,) or (S, N); only their shell sums
      matter.
    - `m_escape`: escape threshold on m_eff.
    """

    def __init__(self, loss: PopulationLoss, c, u2, m_escape: float = ESCAPE_OVERLAP):
        c, u2 = np.asarray(c, float), np.asarray(u2, float)
        if c.ndim != 1 or u2.shape[-1] != c.size or u2.ndim > 2:
            raise ValueError("c must be (N,) and u2 (N,) or (S, N)")
        self.loss, self.c, self.u2, self.m_escape = loss, c, np.atleast_2d(u2), float(m_escape)
        keys = np.round(c / c.max(), 12)
        uniq, index = np.unique(keys, return_inverse=True)
        self.index = index
        self.cs = np.array([c[index == j].mean() for j in range(uniq.size)])
        self.ns = np.bincount(index, minlength=uniq.size).astype(float)
        self.us = np.sqrt(np.stack([np.bincount(index, weights=row, minlength=uniq.size) for row in self.u2]))
        self.s = float(loss.gradient_scale)
        self._phi_prime = sp.lambdify(m, sp.diff(loss.series, m), "numpy")

    @classmethod
    def make(cls, loss: PopulationLoss, c, u2, m_escape: float = ESCAPE_OVERLAP) -> ShellHierarchy:
        return cls(loss, c, u2, m_escape)

    @property
    def utcu(self) -> np.ndarray:
        """u^T C u per spike."""
        return self.u2 @ self.c

    def typical_state(self, m0) -> np.ndarray:
        """H1 start: q_s = n_s / N (a random unit w) and p_s along sqrt(c_s) U_s with m_eff = m0."""
        amp2 = np.sum(self.cs * self.us**2, axis=-1, keepdims=True)
        p = np.asarray(m0, float).reshape(-1, 1) * np.sqrt(self.cs) * self.us / amp2
        q = np.broadcast_to(self.ns / self.ns.sum(), p.shape)
        return np.concatenate([p, q], axis=-1)

    def state_of(self, w, u) -> np.ndarray:
        """Shell variables of trajectories: unit w and u per coordinate, shapes (S, N)."""
        w, u = np.atleast_2d(np.asarray(w, float)), np.atleast_2d(np.asarray(u, float))
        k = self.cs.size
        q = np.stack([np.bincount(self.index, weights=row, minlength=k) for row in w * w])
        wu = np.stack([np.bincount(self.index, weights=row, minlength=k) for row in w * u])
        p = np.where(self.us > 0, wu / np.where(self.us > 0, self.us, 1.0), 0.0)
        return np.concatenate([p, q], axis=-1)

    def overlap(self, state) -> np.ndarray:
        k = self.cs.size
        p, q = state[..., :k], state[..., k:]
        return np.sum(np.sqrt(self.cs) * self.us * p, -1) / np.sqrt(np.sum(self.cs * q, -1))

    def rate(self, state, dim: int, step: float) -> np.ndarray:
        cs, ns, us, k = self.cs, self.ns, self.us, self.cs.size
        p, q = state[..., :k], np.maximum(state[..., k:], 0.0)
        eta = step / dim
        r2 = np.sum(cs * q, -1, keepdims=True)
        r = np.sqrt(r2)
        mm = np.sum(np.sqrt(cs) * us * p, -1, keepdims=True) / r
        grad = -self._phi_prime(mm) / r
        sq = np.sqrt(cs)
        kick = eta**2 * self.s * (np.sum(cs * ns) - np.sum(cs * cs * q, -1, keepdims=True) / r2) / r2
        dp = eta * grad * sq * (us - mm * sq * p / r) - 0.5 * kick * p
        feed = eta**2 * self.s * cs * (ns - cs * q / r2) / r2
        dq = 2 * eta * grad * sq * (us * p - mm * sq * q / r) + feed - kick * q
        return np.concatenate([dp, dq], axis=-1)

    def escape_samples(self, state, dim: int, step: float, horizon: float | None = None) -> np.ndarray:
        """Samples until |m_eff| reaches m_escape, per trajectory (state (S, 2k) or (2k,)); inf if
        not within `horizon` (default: 1e4 times N^2 / (step a_k))."""
        state = np.atleast_2d(np.asarray(state, float))
        S = state.shape[0]
        out = np.full(S, np.inf)
        m_start = np.abs(self.overlap(state))
        out[m_start >= self.m_escape] = 0.0
        todo = np.flatnonzero(m_start < self.m_escape)
        if todo.size == 0:
            return out
        if horizon is None:
            horizon = 1e4 * dim**2 / (step * abs(float(self.loss.leading_coefficient)))
        sub = ShellHierarchy.__new__(ShellHierarchy)
        sub.__dict__.update(self.__dict__)
        sub.us, sub.u2 = self.us[todo], self.u2[todo]
        shape = (todo.size, state.shape[1])
        # Integrate in tau = log(1 + n / n0) so that early fast and late slow phases both resolve.
        n0 = dim / step

        def fun(tau, y):
            return (sub.rate(y.reshape(shape), dim, step) * (n0 * math.exp(tau))).ravel()

        def all_escaped(tau, y):
            return float(np.min(np.abs(sub.overlap(y.reshape(shape)))) - self.m_escape)

        all_escaped.terminal, all_escaped.direction = True, 1
        sol = scipy.integrate.solve_ivp(
            fun,
            (0.0, math.log1p(horizon / n0)),
            state[todo].ravel(),
            method="LSODA",
            events=all_escaped,
            dense_output=True,
            rtol=1e-6,
            atol=1e-10,
        )
        grid = np.linspace(0.0, sol.t[-1], 4001)
        ms = np.abs(sub.overlap(sol.sol(grid).T.reshape(grid.size, *shape)))  # (T, S)
        ms[-1] = np.where(sol.status == 1, np.maximum(ms[-1], self.m_escape), ms[-1])
        for j in range(todo.size):
            hit = np.flatnonzero(ms[:, j] >= self.m_escape)
            if hit.size:
                i = hit[0]
                lo, hi = ms[i - 1, j], ms[i, j]
                frac = (self.m_escape - lo) / (hi - lo) if hi > lo else 1.0
                tau = grid[i - 1] + frac * (grid[i] - grid[i - 1])
                out[todo[j]] = n0 * math.expm1(tau)
        return out

    def typical_escape_samples(self, dim: int, step: float, m0: float | None = None) -> float:
        """Escape count from the H1 typical start (m0 defaults to sqrt(u^T C u / tr C)) of the first
        spike."""
        if m0 is None:
            m0 = typical_start_overlap(self.c, self.u2[0])
        return float(self.escape_samples(self.typical_state(m0)[:1], dim, step)[0])
