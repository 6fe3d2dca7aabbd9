"""Latent distributions of the spike coordinate and the Hermite moments of the spike.

A latent g is a zero-mean, unit-variance scalar distribution known through its exact moments
E[g^p]. The structured class of each task places a scalar X_u along the hidden direction u and
leaves the orthogonal complement standard Gaussian; every spike statistic the theory needs is a
Hermite moment mu_j = E[He_j(X_u)].

Tasks (our definitions; the seed paper's exact model was not available):

- `phase`: X_u = (z + sqrt(beta) g) / sqrt(1 + beta) with z ~ N(0, 1): the whitened spiked
  cumulant. Mean 0 and variance 1 along u, so both classes share mean and covariance (hence the
  same expected Fourier amplitudes) and differ only in cumulants of order >= 3 (phase statistics).
- `amplitude`: X_u = sqrt(1 + beta) z: the classes differ in power along u (second order).
- `mean`: X_u = z + sqrt(beta): the classes differ in their mean along u (first order).
"""

from __future__ import annotations

import dataclasses
import functools as ft

import sympy as sp

from vocabulary import LATENT_NAMES, TASK_NAMES

from ._hermite import hermite, x


snr = sp.Symbol("beta", positive=True)
"""The signal-to-noise ratio beta of the spike (symbolic)."""


_MAX_ORDER = 12


@dataclasses.dataclass(frozen=True)
class Latent:
    """A zero-mean, unit-variance latent distribution given by its exact moments.

    **Arguments:**
    - `name`: label used in reports.
    - `moments`: E[g^p] for p = 0, 1, 2, ... (at least up to p = 2). Moments beyond the tuple are
      unknown; the theory refuses to use them.
    """

    name: str
    moments: tuple[sp.Expr, ...]

    def __post_init__(self):
        if len(self.moments) < 3:
            raise ValueError(f"latent {self.name!r}: give moments up to order 2 at least")
        m0, m1, m2 = (sp.nsimplify(v) for v in self.moments[:3])
        if m0 != 1:
            raise ValueError(f"latent {self.name!r}: moment 0 must be 1, got {m0}")
        if m1 != 0 or m2 != 1:
            raise ValueError(
                f"latent {self.name!r} has mean {sp.N(m1, 6)} and variance {sp.N(m2 - m1**2, 6)}: "
                "a latent must have mean 0 and variance 1 (standardise it)"
            )
        if len(self.moments) >= 5:
            m3, m4 = self.moments[3], self.moments[4]
            # Hankel positivity: E[g^4] >= 1 + E[g^3]^2 for any mean-0 variance-1 law.
            if sp.N(m4 - 1 - m3**2) < -1e-12:
                raise ValueError(
                    f"latent {self.name!r}: moments E[g^3]={m3}, E[g^4]={m4} belong to no "
                    "distribution (need E[g^4] >= 1 + E[g^3]^2)"
                )

    @property
    def max_order(self) -> int:
        return len(self.moments) - 1

    def cumulant(self, order: int) -> sp.Expr:
        """The cumulant kappa_order of g (from its moments)."""
        if order > self.max_order:
            raise ValueError(f"latent {self.name!r}: moment {order} unknown")
        t = sp.Symbol("t")
        mgf = sum(self.moments[p] * t**p / sp.factorial(p) for p in range(order + 1))
        cgf = sp.series(sp.log(mgf), t, 0, order + 1).removeO()
        return sp.simplify(cgf.coeff(t, order) * sp.factorial(order))


def _even_moments(fn) -> tuple[sp.Expr, ...]:
    return tuple(fn(p) if p % 2 == 0 else sp.Integer(0) for p in range(_MAX_ORDER + 1))


def _skewed(rho: sp.Expr) -> tuple[sp.Expr, ...]:
    # Two atoms: (1 - rho)/s with probability rho, -rho/s with probability 1 - rho.
    s = sp.sqrt(rho * (1 - rho))
    return tuple(
        sp.simplify(rho * ((1 - rho) / s) ** p + (1 - rho) * (-rho / s) ** p) for p in range(_MAX_ORDER + 1)
    )


def latent(spec: str) -> Latent:
    """Build a [`theory.Latent`][] from a name.

    Names: `rademacher` (+-1), `uniform` (on [-sqrt 3, sqrt 3]), `laplace` (scale 1/sqrt 2),
    `skewed` or `skewed:RHO` (two-point law with atoms (1-RHO)/s w.p. RHO and -RHO/s,
    s = sqrt(RHO(1-RHO)); default RHO = 1/5), `gaussian` (no signal beyond order 2) and
    `moments:M1,M2,M3,...` (any law given by its moments E[g], E[g^2], E[g^3], ...; it must have
    mean 0 and variance 1, i.e. M1 = 0 and M2 = 1).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"latent must be a non-empty string, got {spec!r}")
    text = spec.strip().lower()
    name, _, arg = text.partition(":")
    if name == "rademacher" and not arg:
        moments = _even_moments(lambda p: sp.Integer(1))
    elif name == "uniform" and not arg:
        moments = _even_moments(lambda p: sp.sqrt(3) ** p / (p + 1))
    elif name == "laplace" and not arg:
        moments = _even_moments(lambda p: sp.factorial(p) / sp.Integer(2) ** sp.Rational(p, 2))
    elif name == "gaussian" and not arg:
        moments = _even_moments(lambda p: sp.factorial2(p - 1))
    elif name == "skewed":
        rho = sp.Rational(1, 5)
        if arg:
            try:
                rho = sp.nsimplify(float(arg), rational=True)
            except ValueError:
                raise ValueError(f"latent {spec!r}: RHO must be a number in (0, 1)") from None
        if not 0 < rho < 1:
            raise ValueError(f"latent {spec!r}: RHO must lie strictly between 0 and 1")
        moments = _skewed(rho)
    elif name == "moments":
        try:
            given = [sp.nsimplify(float(v), rational=True) for v in arg.split(",") if v.strip()]
        except ValueError:
            raise ValueError(
                f"latent {spec!r}: write moments:M1,M2,M3,... with numbers, e.g. moments:0,1,0,2"
            ) from None
        if len(given) < 3:
            raise ValueError(f"latent {spec!r}: give E[g], E[g^2] and at least E[g^3], e.g. moments:0,1,0,2")
        moments = (sp.Integer(1), *given)
    else:
        raise ValueError(f"unknown latent {spec!r}: use one of {', '.join(LATENT_NAMES)}")
    return Latent(text, tuple(sp.nsimplify(m) for m in moments))


def _gaussian_moment(p: int) -> sp.Expr:
    return sp.factorial2(p - 1) if p % 2 == 0 else sp.Integer(0)


def spike_moments(task: str, lat: Latent, beta: sp.Expr = snr) -> tuple[sp.Expr, ...]:
    """Raw moments E[X_u^p] of the spike coordinate, p = 0..(highest known order)."""
    if task not in TASK_NAMES:
        raise ValueError(f"unknown task {task!r}: use one of {', '.join(TASK_NAMES)}")
    if task == "phase":
        top = lat.max_order
        scale = 1 / sp.sqrt(1 + beta)
        out = []
        for p in range(top + 1):
            total = sum(
                sp.binomial(p, q) * _gaussian_moment(p - q) * sp.sqrt(beta) ** q * lat.moments[q]
                for q in range(p + 1)
            )
            out.append(sp.simplify(total * scale**p))
        return tuple(out)
    if task == "amplitude":
        return tuple(sp.sqrt(1 + beta) ** p * _gaussian_moment(p) for p in range(_MAX_ORDER + 1))
    return tuple(
        sp.expand(sum(sp.binomial(p, q) * _gaussian_moment(p - q) * sp.sqrt(beta) ** q for q in range(p + 1)))
        for p in range(_MAX_ORDER + 1)
    )


@ft.cache
def _hermite_coeffs(j: int) -> tuple[sp.Expr, ...]:
    poly = sp.Poly(hermite(j), x)
    return tuple(poly.coeff_monomial(x**p) for p in range(j + 1))


@ft.lru_cache(maxsize=256)
def spike_hermite_moments(task: str, lat: Latent, beta: sp.Expr = snr) -> tuple[sp.Expr, ...]:
    """Hermite moments mu_j = E[He_j(X_u)], j = 0..(highest known order).

    For a unit-norm student w with overlap m = w.u the structured class gives
    E[He_j(w.x)] = m^j mu_j (Hermite addition formula), the noise class gives 0 for j >= 1.
    """
    raw = spike_moments(task, lat, beta)
    return tuple(
        sp.simplify(sum(c * raw[p] for p, c in enumerate(_hermite_coeffs(j)))) for j in range(len(raw))
    )
