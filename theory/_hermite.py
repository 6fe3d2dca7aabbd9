"""Probabilists' Hermite polynomials and the Hermite coefficients of activations.

An activation is expanded as sigma(x) = sum_j (sigma_j / j!) He_j(x) with
sigma_j = E[sigma(Z) He_j(Z)], Z ~ N(0, 1). Polynomials, ReLU and erf are exact (sympy
integrals); tanh is evaluated with mpmath quadrature at 40 significant digits.
"""

from __future__ import annotations

import functools as ft
import re

import mpmath
import sympy as sp

from vocabulary import ACTIVATION_NAMES


x = sp.Symbol("x", real=True)
_GAUSS = sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)

"""Names accepted by [`theory.activation`][]; a leading `-` flips the sign (e.g. `-he4`)."""

_NUMERIC_DIGITS = 40


@ft.cache
def hermite(j: int) -> sp.Expr:
    """Probabilists' Hermite polynomial He_j(x) (monic, orthogonal under N(0, 1))."""
    if j < 0:
        raise ValueError(f"Hermite order must be >= 0, got {j}")
    return sp.expand(sp.hermite_prob(j, x))


def parse_activation(name: str) -> tuple[int, str]:
    """Split an activation name into (sign, base name); raise ValueError on unknown names."""
    if not isinstance(name, str):
        raise ValueError(f"activation must be a string, got {name!r}")
    text = name.strip().lower()
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    elif text.startswith("+"):
        text = text[1:]
    if text not in ACTIVATION_NAMES:
        raise ValueError(
            f"unknown activation {name!r}: use one of {', '.join(ACTIVATION_NAMES)}, "
            "optionally with a leading '-' (e.g. -he4)"
        )
    return sign, text


def activation_expr(name: str) -> sp.Expr:
    """The activation as a sympy expression in `x` (ReLU as a Piecewise)."""
    sign, base = parse_activation(name)
    match = re.fullmatch(r"he(\d)", base)
    if match:
        expr = hermite(int(match.group(1)))
    elif base == "relu":
        expr = sp.Piecewise((x, x > 0), (0, True))
    elif base == "tanh":
        expr = sp.tanh(x)
    else:
        expr = sp.erf(x)
    return sign * expr


def _gauss_mean(expr: sp.Expr) -> sp.Expr:
    return sp.simplify(sp.integrate(sp.expand(expr) * _GAUSS, (x, -sp.oo, sp.oo)))


@ft.cache
def _coefficient(base: str, j: int) -> sp.Expr:
    match = re.fullmatch(r"he(\d)", base)
    if match:
        return sp.factorial(j) if int(match.group(1)) == j else sp.Integer(0)
    if base == "relu":
        return sp.nsimplify(sp.simplify(sp.integrate(x * hermite(j) * _GAUSS, (x, 0, sp.oo))))
    if base == "erf":
        if j == 0:
            return sp.Integer(0)  # odd function
        # Gaussian integration by parts: E[f(Z) He_j(Z)] = E[f^(j)(Z)].
        return _gauss_mean(sp.diff(sp.erf(x), x, j))
    # tanh: no closed form; high-precision quadrature of E[tanh(Z) He_j(Z)].
    if j % 2 == 0:
        return sp.Integer(0)
    with mpmath.workdps(_NUMERIC_DIGITS):
        poly = sp.lambdify(x, hermite(j), "mpmath")
        val = mpmath.quad(
            lambda t: mpmath.tanh(t) * poly(t) * mpmath.exp(-t * t / 2),
            [-mpmath.inf, 0, mpmath.inf],
        ) / mpmath.sqrt(2 * mpmath.pi)
    return sp.Float(val, _NUMERIC_DIGITS)


def hermite_coefficients(name: str, order: int) -> tuple[sp.Expr, ...]:
    """Hermite coefficients sigma_0..sigma_order of the activation `name`.

    **Arguments:**
    - `name`: an activation name (see `ACTIVATION_NAMES`), optionally with a leading `-`.
    - `order`: the highest order returned.

    **Returns:** a tuple of sympy numbers, exact where a closed form exists.
    """
    sign, base = parse_activation(name)
    return tuple(sign * _coefficient(base, j) for j in range(order + 1))


@ft.cache
def derivative_second_moment(name: str) -> sp.Expr:
    """E[sigma'(Z)^2] for Z ~ N(0, 1): the size of the gradient, which sets the spherical shrink."""
    sign, base = parse_activation(name)
    if base == "relu":
        return sp.Rational(1, 2)
    if base == "tanh":
        with mpmath.workdps(_NUMERIC_DIGITS):
            val = mpmath.quad(
                lambda t: mpmath.sech(t) ** 4 * mpmath.exp(-t * t / 2),
                [-mpmath.inf, 0, mpmath.inf],
            ) / mpmath.sqrt(2 * mpmath.pi)
        return sp.Float(val, _NUMERIC_DIGITS)
    deriv = sp.diff(activation_expr(base), x)
    return _gauss_mean(deriv**2)
