"""Activations of the student as JAX functions, with their derivatives."""

from __future__ import annotations

import re
from collections.abc import Callable

import jax
import jax.numpy as jnp

from vocabulary import ACTIVATION_NAMES


def hermite_prob(j: int, x: jax.Array) -> jax.Array:
    """He_j(x) by the three-term recurrence He_{j+1} = x He_j - j He_{j-1}."""
    prev, cur = jnp.ones_like(x), x
    if j == 0:
        return prev
    for i in range(1, j):
        prev, cur = cur, x * cur - i * prev
    return cur


def _parse(name: str) -> tuple[float, str]:
    if not isinstance(name, str):
        raise ValueError(f"activation must be a string, got {name!r}")
    text = name.strip().lower()
    sign = 1.0
    if text[:1] in "+-":
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    if text not in ACTIVATION_NAMES:
        raise ValueError(
            f"unknown activation {name!r}: use one of {', '.join(ACTIVATION_NAMES)}, "
            "optionally with a leading '-' (e.g. -he4)"
        )
    return sign, text


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """sigma(x) for the activation `name` (e.g. `-he4`, `relu`)."""
    sign, base = _parse(name)
    match = re.fullmatch(r"he(\d)", base)
    if match:
        j = int(match.group(1))
        return lambda x: sign * hermite_prob(j, x)
    fn = {"relu": jax.nn.relu, "tanh": jnp.tanh, "erf": jax.scipy.special.erf}[base]
    return lambda x: sign * fn(x)


def activation_derivative(name: str) -> Callable[[jax.Array], jax.Array]:
    """sigma'(x), in closed form (He_j' = j He_{j-1})."""
    sign, base = _parse(name)
    match = re.fullmatch(r"he(\d)", base)
    if match:
        j = int(match.group(1))
        return lambda x: sign * j * hermite_prob(j - 1, x)
    if base == "relu":
        return lambda x: sign * (x > 0).astype(x.dtype)
    if base == "tanh":
        return lambda x: sign * (1 - jnp.tanh(x) ** 2)
    return lambda x: sign * 2 / jnp.sqrt(jnp.pi) * jnp.exp(-(x**2))
