"""Population loss of the correlation loss -y sigma(w.x) as a series in the overlap m.

Labels y = +1 (structured class) and y = -1 (noise class) with probability 1/2 each. For a
unit-norm w with overlap m = w.u,

    phi(m) = E[-y sigma(w.x)] = -1/2 sum_{j >= 1} (sigma_j / j!) mu_j m^j,

with sigma_j the Hermite coefficients of the activation and mu_j = E[He_j(X_u)] the Hermite
moments of the spike coordinate. The information exponent k is the first j >= 1 with
sigma_j mu_j != 0; we write phi(m) = -a_k m^k + O(m^(k+1)).
"""

from __future__ import annotations

import dataclasses
import functools as ft

import sympy as sp

from ._hermite import derivative_second_moment, hermite_coefficients, parse_activation
from ._latents import TASK_NAMES, Latent, latent, snr, spike_hermite_moments


m = sp.Symbol("m", real=True)
"""The overlap m = w.u (symbolic)."""

_SERIES_ORDER = 8


@dataclasses.dataclass(frozen=True)
class PopulationLoss:
    """The population loss phi(m) of a task, latent and activation, with its exponent.

    **Arguments:**
    - `task`: `phase`, `amplitude` or `mean`.
    - `latent`: a latent name (see [`theory.latent`][]).
    - `activation`: an activation name (see `theory.ACTIVATION_NAMES`).
    - `beta`: the signal-to-noise ratio; a number, or the symbol `theory.snr`.
    """

    task: str
    latent: str
    activation: str
    beta: sp.Expr = snr

    def __post_init__(self):
        if self.task not in TASK_NAMES:
            raise ValueError(f"unknown task {self.task!r}: use one of {', '.join(TASK_NAMES)}")
        parse_activation(self.activation)
        self.latent_distribution  # validates the latent name
        beta = sp.nsimplify(self.beta)
        if beta.is_number and not beta > 0:
            raise ValueError(f"snr must be positive, got {self.beta}")
        object.__setattr__(self, "beta", beta)

    @ft.cached_property
    def latent_distribution(self) -> Latent:
        return latent(self.latent)

    @ft.cached_property
    def spike_moments(self) -> tuple[sp.Expr, ...]:
        """mu_j = E[He_j(X_u)], j = 0..J (J: the highest order the latent's moments fix)."""
        return spike_hermite_moments(self.task, self.latent_distribution, self.beta)

    @ft.cached_property
    def activation_coefficients(self) -> tuple[sp.Expr, ...]:
        return hermite_coefficients(self.activation, len(self.spike_moments) - 1)

    @ft.cached_property
    def coefficients(self) -> tuple[sp.Expr, ...]:
        """c_j with phi(m) = sum_j c_j m^j, j = 0..J."""
        out = [sp.Integer(0)]
        for j in range(1, len(self.spike_moments)):
            sj, mj = self.activation_coefficients[j], self.spike_moments[j]
            out.append(sp.simplify(-sp.Rational(1, 2) * sj * mj / sp.factorial(j)))
        return tuple(out)

    @ft.cached_property
    def series(self) -> sp.Expr:
        """phi(m) truncated at order min(8, J)."""
        top = min(_SERIES_ORDER, len(self.coefficients) - 1)
        return sum(self.coefficients[j] * m**j for j in range(1, top + 1))

    @ft.cached_property
    def information_exponent(self) -> int | None:
        """First order j >= 1 with a non-zero coefficient; None if none is known to be non-zero."""
        for j, c in enumerate(self.coefficients):
            if j == 0:
                continue
            value = sp.N(c.subs(snr, 1) if c.free_symbols else c, 30)
            if abs(value) > 1e-25:
                return j
        return None

    @property
    def leading_coefficient(self) -> sp.Expr:
        """a_k in phi(m) = -a_k m^k + ...: positive a_k makes phi decrease away from m = 0."""
        k = self._require_exponent()
        return sp.simplify(-self.coefficients[k])

    @property
    def favourable_sign(self) -> int:
        """Sign s such that phi decreases from m = 0 in the direction s m > 0."""
        k = self._require_exponent()
        a = sp.N(self.leading_coefficient.subs(snr, 1))
        if k % 2 == 1:
            return 1 if a > 0 else -1
        return 1

    @property
    def recoverable(self) -> bool:
        """Whether m = 0 is unstable so that SGD from a random start can find the spike.

        Even k needs a_k > 0 (otherwise m = 0 is a local minimum of phi); odd k always has a
        descent direction, from the half-sphere sign(a_k) m > 0.
        """
        k = self.information_exponent
        if k is None:
            return False
        if k % 2 == 1:
            return True
        return bool(sp.N(self.leading_coefficient.subs(snr, 1)) > 0)

    @property
    def verdict(self) -> str:
        """One line: what the theory says about recovery from a random start."""
        k = self.information_exponent
        if k is None:
            return (
                f"no signal: every known coefficient of phi(m) vanishes for task={self.task}, "
                f"latent={self.latent}, activation={self.activation}; the classes are "
                "indistinguishable to this student (give more moments or another activation)"
            )
        a = self.leading_coefficient
        if self.recoverable:
            side = (
                ""
                if k % 2 == 0
                else f" (from the half-sphere {'+' if self.favourable_sign > 0 else '-'}m > 0)"
            )
            rel = "> 0" if k % 2 == 0 else "!= 0"
            return f"information exponent k = {k}, a_k = {a} {rel}: m = 0 is unstable{side}"
        return (
            f"information exponent k = {k} but a_k = {a} < 0: m = 0 is a local minimum of the "
            "population loss, so online SGD from a random start cannot recover the spike "
            f"(flip the activation's sign: {_flipped(self.activation)})"
        )

    @ft.cached_property
    def gradient_scale(self) -> sp.Expr:
        """s = E[sigma'(Z)^2]: the per-sample squared gradient is s N at m near 0."""
        return derivative_second_moment(self.activation)

    def _require_exponent(self) -> int:
        k = self.information_exponent
        if k is None:
            raise ValueError(self.verdict)
        return k


def recommended_activation(task: str, latent_name: str) -> str:
    """The Hermite activation +-He_k with k the task's information exponent and a_k > 0.

    With sigma = s He_k the loss keeps only the informative order: a_k = s mu_k / 2, so
    s = sign(mu_k) makes m = 0 unstable.
    """
    lat = latent(latent_name)
    mu = spike_hermite_moments(task, lat, sp.Integer(1))
    for j in range(1, min(len(mu), 7)):
        value = sp.N(mu[j])
        if abs(value) > 1e-25:
            return f"he{j}" if value > 0 else f"-he{j}"
    raise ValueError(
        f"no activation He1..He6 sees task={task!r} with latent={latent_name!r}: "
        "its spike has no non-zero Hermite moment up to order 6"
    )


def _flipped(name: str) -> str:
    sign, base = parse_activation(name)
    return base if sign < 0 else f"-{base}"
