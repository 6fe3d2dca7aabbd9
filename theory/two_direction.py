"""Two hidden directions: amplitude along v (exponent 2), phase along u (exponent 4), and the
staircase when their latents are correlated.

**Our definitions** (a reconstruction in the spirit of Bardone & Goldt's mixed cumulant model; the
seed paper's exact model was not available). Noise class: x ~ N(0, I_N). Structured class: x is
Gaussian except along two orthonormal directions v and u, where it carries

- X_v = sqrt(1 + beta_a) lam with lam ~ N(0, 1): more power along v (an amplitude spike, the
  existing `amplitude` task);
- X_u = (zeta + sqrt(beta_p) g) / sqrt(1 + beta_p) with zeta ~ N(0, 1) and a Rademacher g: the
  whitened spiked cumulant along u (the existing `phase` task).

The two latents are independent (`coupling` c = 0) or sign-tied: with probability c the phase
latent is g = sign(lam), otherwise an independent sign, so E[g sign(lam)] = c. Independently
along u alone, X_u keeps mean 0 and variance 1 for every c; the tie creates mixed moments such
as E[X_v X_u] = c sqrt(2/pi) sqrt((1 + beta_a) beta_p / (1 + beta_p)), i.e. a covariance
between the two directions that only a student already aligned with v can exploit.

**Our derivation.** For a unit student w with overlaps m_v = w.v and m_u = w.u,
w.x = m_v X_v + m_u X_u + sqrt(1 - m_v^2 - m_u^2) xi with xi ~ N(0, 1) independent, and the
Hermite addition formula gives

    E[He_j(w.x)] = sum_{p+q=j} binom(j, p) m_v^p m_u^q mu_pq,   mu_pq = E[He_p(X_v) He_q(X_u)],

so the correlation loss -y sigma(w.x) has the population loss

    phi(m_v, m_u) = -1/2 sum_j (sigma_j / j!) sum_{p+q=j} binom(j, p) mu_pq m_v^p m_u^q.

Three exponents follow: k_v (the first power of m_v at m_u = 0), k_u (of m_u at m_v = 0), and the
**staircase exponent** k_u|v: the lowest power of m_u whose coefficient is non-zero once m_v is
macroscopic. Independent latents give mu_pq = mu_p^v mu_q^u, so k_u|v is never below k_u; a sign
tie makes mu_11 != 0 and k_u|v = 1 for any activation with sigma_2 != 0: once v is learned, u is
pulled along at the amplitude rate instead of needing N^3 samples.

Overlap ODE on the sphere (the two-direction version of `theory.OverlapDynamics`): per sample,

    dm_d/dn = (delta/N) (-d_phi/d_m_d + m_d (m_v d_phi/d_m_v + m_u d_phi/d_m_u)) - (delta^2/(2N)) s m_d,

with s = E[sigma'(Z)^2] (the shrink at small overlaps), integrated numerically from a start.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import math
import re

import numpy as np
import scipy.integrate
import scipy.optimize
import sympy as sp

from ._hermite import hermite, x


m_v, m_u = sp.symbols("m_v m_u", real=True)
"""The overlaps with the amplitude direction v and the phase direction u (symbolic)."""

_TERM = re.compile(r"([+-]?)(\d*\.?\d*)\*?he(\d)")


def hermite_combination(spec: str) -> dict[int, sp.Rational]:
    """Parse an activation written as a combination of Hermite polynomials.

    `he2` is He_2, `-he4` is -He_4, `he2-he4` is He_2 - He_4, `he2-0.5he4` is He_2 - He_4 / 2.

    **Returns:** {j: c_j} with sigma = sum_j c_j He_j. Raises ValueError on anything else.
    """
    if not isinstance(spec, str):
        raise ValueError(f"activation must be a string such as he2 or he2-he4, got {spec!r}")
    text = spec.strip().lower().replace(" ", "")
    out: dict[int, sp.Rational] = {}
    pos = 0
    for match in _TERM.finditer(text):
        if match.start() != pos or (pos > 0 and not match.group(1)):
            break
        sign, coeff, order = match.groups()
        value = sp.nsimplify(float(coeff)) if coeff not in ("", ".") else sp.Integer(1)
        j = int(order)
        out[j] = out.get(j, 0) + (-value if sign == "-" else value)
        pos = match.end()
    if not text or pos != len(text) or not out or all(v == 0 for v in out.values()) or 0 in out:
        raise ValueError(
            f"activation {spec!r} is not a combination of He_1..He_9: write e.g. he2, -he4 or he2-0.5he4"
        )
    return {j: c for j, c in sorted(out.items()) if c != 0}


def _gauss_moment(p: int) -> sp.Expr:
    return sp.factorial2(p - 1) if p % 2 == 0 else sp.Integer(0)


def _abs_gauss_moment(p: int) -> sp.Expr:
    """E|lam|^p for lam ~ N(0, 1)."""
    return sp.sqrt(2) ** p * sp.gamma(sp.Rational(p + 1, 2)) / sp.sqrt(sp.pi)


@dataclasses.dataclass(frozen=True)
class TwoDirectionModel:
    """The structured class of the two-direction task (our definition, see the module docstring).

    **Arguments:**
    - `snr_amplitude`: beta_a > 0, extra power along v.
    - `snr_phase`: beta_p > 0, strength of the Rademacher cumulant spike along u.
    - `coupling`: c in [0, 1], probability that the phase latent's sign is tied to sign(lam).
    """

    snr_amplitude: float
    snr_phase: float
    coupling: float = 0.0

    def __post_init__(self):
        for name in ("snr_amplitude", "snr_phase"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        c = self.coupling
        if not (isinstance(c, int | float) and 0 <= c <= 1):
            raise ValueError(f"coupling must lie in [0, 1], got {c!r}")

    @ft.cached_property
    def _exact(self) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
        return tuple(sp.nsimplify(v) for v in (self.snr_amplitude, self.snr_phase, self.coupling))

    def _latent_moment(self, a: int, r: int) -> sp.Expr:
        """E[lam^a g^r]."""
        if r % 2 == 0:
            return _gauss_moment(a)
        if a % 2 == 0:
            return sp.Integer(0)
        return self._exact[2] * _abs_gauss_moment(a)

    @ft.lru_cache(maxsize=512)  # noqa: B019 - the model is frozen and small
    def raw_moment(self, a: int, b: int) -> sp.Expr:
        """E[X_v^a X_u^b], exact."""
        ba, bp, _ = self._exact
        total = sum(
            sp.binomial(b, r) * sp.sqrt(bp) ** r * _gauss_moment(b - r) * self._latent_moment(a, r)
            for r in range(b + 1)
        )
        return sp.simplify(sp.sqrt(1 + ba) ** a * total / sp.sqrt(1 + bp) ** b)

    @ft.lru_cache(maxsize=512)  # noqa: B019
    def hermite_moment(self, p: int, q: int) -> sp.Expr:
        """mu_pq = E[He_p(X_v) He_q(X_u)]."""
        cp = sp.Poly(hermite(p), x).all_coeffs()[::-1]
        cq = sp.Poly(hermite(q), x).all_coeffs()[::-1]
        return sp.simplify(
            sum(cp[a] * cq[b] * self.raw_moment(a, b) for a in range(p + 1) for b in range(q + 1))
        )


@dataclasses.dataclass(frozen=True)
class TwoDirectionLoss:
    """phi(m_v, m_u) of the correlation loss for a Hermite-combination activation.

    **Arguments:**
    - `model`: a `TwoDirectionModel`.
    - `activation`: e.g. `he2`, `-he4`, `he2-he4` (see `hermite_combination`).
    """

    model: TwoDirectionModel
    activation: str

    def __post_init__(self):
        hermite_combination(self.activation)

    @ft.cached_property
    def combination(self) -> dict[int, sp.Rational]:
        return hermite_combination(self.activation)

    @ft.cached_property
    def coefficients(self) -> dict[tuple[int, int], sp.Expr]:
        """{(p, q): c_pq} with phi = sum c_pq m_v^p m_u^q (zero terms left out)."""
        out = {}
        for j, cj in self.combination.items():
            # sigma_j / j! = c_j for sigma = sum_j c_j He_j.
            for p in range(j + 1):
                q = j - p
                c = sp.simplify(-sp.Rational(1, 2) * cj * sp.binomial(j, p) * self.model.hermite_moment(p, q))
                if c != 0:
                    out[(p, q)] = c
        return out

    @ft.cached_property
    def phi(self) -> sp.Expr:
        return sum((c * m_v**p * m_u**q for (p, q), c in self.coefficients.items()), sp.Integer(0))

    def _first(self, pred) -> int | None:
        orders = [p + q for (p, q) in self.coefficients if pred(p, q)]
        return min(orders) if orders else None

    @property
    def exponent_v(self) -> int | None:
        """Information exponent along v at m_u = 0 (None: the student never sees v alone)."""
        return self._first(lambda p, q: q == 0 and p > 0)

    @property
    def exponent_u(self) -> int | None:
        """Information exponent along u at m_v = 0."""
        return self._first(lambda p, q: p == 0 and q > 0)

    @property
    def staircase_exponent(self) -> int | None:
        """Lowest power of m_u in phi once m_v is macroscopic (terms with p >= 0, q >= 1)."""
        qs = [q for (p, q) in self.coefficients if q > 0]
        return min(qs) if qs else None

    def leading_coefficient(self, direction: str) -> float:
        """a_k > 0 in phi = -a_k m^k + ... along one direction alone (the other overlap 0)."""
        k = self.exponent_v if direction == "v" else self.exponent_u
        if k is None:
            raise ValueError(f"activation {self.activation} does not see direction {direction} alone")
        key = (k, 0) if direction == "v" else (0, k)
        return float(-self.coefficients[key])

    @ft.cached_property
    def gradient_scale(self) -> float:
        """s = E[sigma'(Z)^2] = sum_j c_j^2 j^2 (j-1)!."""
        return float(sum(c**2 * j**2 * sp.factorial(j - 1) for j, c in self.combination.items()))

    @ft.cached_property
    def _grad_fn(self):
        return sp.lambdify((m_v, m_u), [sp.diff(self.phi, m_v), sp.diff(self.phi, m_u)], "numpy")

    @ft.cached_property
    def _phi_fn(self):
        return sp.lambdify((m_v, m_u), self.phi, "numpy")

    @ft.cached_property
    def minimiser(self) -> tuple[float, float]:
        """(|m_v|, |m_u|) at the minimum of phi over the unit disk: where a student ends up."""
        theta = np.linspace(0, 2 * np.pi, 3601)
        radius = np.linspace(0, 1, 201)
        R, T = np.meshgrid(radius, theta)
        vals = np.broadcast_to(self._phi_fn(R * np.cos(T), R * np.sin(T)), R.shape)
        i = np.unravel_index(np.argmin(vals), vals.shape)
        r0, t0 = R[i], T[i]
        res = scipy.optimize.minimize(
            lambda z: self._phi_fn(z[0], z[1]) + 1e3 * max(0.0, z[0] ** 2 + z[1] ** 2 - 1) ** 2,
            [r0 * np.cos(t0), r0 * np.sin(t0)],
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-12},
        )
        mv, mu = res.x
        norm = math.hypot(mv, mu)
        if norm > 1:
            mv, mu = mv / norm, mu / norm
        return abs(float(mv)), abs(float(mu))

    def escape_overlaps(self, fraction: float = 0.75, floor: float = 0.1) -> tuple[float, float]:
        """Escape thresholds (v, u): `fraction` of the minimiser's overlap, or `fraction` itself
        where the minimiser has (almost) none along that direction (the student is not expected to
        get there). Our choice: 0.75 keeps the thresholds well above the start N^-1/2."""
        return tuple(fraction * m if m > floor else fraction for m in self.minimiser)

    def rate(self, dim: int, step: float):
        """The ODE right-hand side f(mv, mu) -> (dmv/dn, dmu/dn) per sample."""
        s = self.gradient_scale

        def f(mv, mu):
            gv, gu = self._grad_fn(mv, mu)
            radial = mv * gv + mu * gu
            shrink = step**2 / (2 * dim) * s
            return (
                step / dim * (-gv + mv * radial) - shrink * mv,
                step / dim * (-gu + mu * radial) - shrink * mu,
            )

        return f

    def ode_escape_samples(
        self,
        dim: int,
        step: float,
        start: tuple[float, float],
        thresholds: tuple[float, float],
        max_samples: float = 1e12,
    ) -> tuple[float, float]:
        """Samples for the overlap ODE to first reach |m_v| >= thresholds[0] and |m_u| >= thresholds[1].

        Integrated in log(1 + n) so that both the N log N and the N^3 scales are resolved; inf
        where a threshold is not reached within `max_samples`.
        """
        f = self.rate(dim, step)
        tv, tu = thresholds
        y0 = [float(start[0]), float(start[1])]
        done = [0.0 if abs(y0[0]) >= tv else math.inf, 0.0 if abs(y0[1]) >= tu else math.inf]
        # A threshold beyond the population minimiser's overlap is never reached: leave it out.
        wanted = [not math.isfinite(done[i]) and self.minimiser[i] > thresholds[i] for i in range(2)]
        if not any(wanted):
            return tuple(done)

        def rhs(tau, y):
            n = math.expm1(tau)
            dv, du = f(y[0], y[1])
            return [dv * (n + 1), du * (n + 1)]

        ev = lambda tau, y: abs(y[0]) - tv
        eu = lambda tau, y: abs(y[1]) - tu
        ev.direction = eu.direction = 1

        def both(tau, y):
            return min(abs(y[i]) - thresholds[i] if wanted[i] else 1.0 for i in range(2))

        both.terminal, both.direction = True, 1
        sol = scipy.integrate.solve_ivp(
            rhs,
            (0.0, math.log1p(max_samples)),
            y0,
            events=(ev, eu, both),
            rtol=1e-8,
            atol=1e-12,
            method="LSODA",
        )
        for i in range(2):
            if wanted[i] and sol.t_events[i].size:
                done[i] = math.expm1(float(sol.t_events[i][0]))
            elif wanted[i] and sol.t_events[2].size:
                # Both thresholds crossed within one located step: the terminal event's time.
                done[i] = math.expm1(float(sol.t_events[2][0]))
        return tuple(done)

    @property
    def verdict(self) -> str:
        kv, ku, ks = self.exponent_v, self.exponent_u, self.staircase_exponent
        return (
            f"activation {self.activation}: exponent along v {kv}, along u {ku}, along u once v is "
            f"learned {ks} (coupling {self.model.coupling:g})"
        )
