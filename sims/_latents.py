"""Samplers for the latent variable g of the spike coordinate (mean 0, variance 1)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from vocabulary import LATENT_NAMES


@dataclasses.dataclass(frozen=True)
class LatentSampler:
    """A latent distribution the simulation can draw from.

    Discrete laws are stored as atoms and probabilities; continuous ones by name.
    """

    name: str
    kind: str  # "discrete", "uniform", "laplace", "gaussian"
    atoms: tuple[float, ...] = ()
    probs: tuple[float, ...] = ()

    def sample(self, key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        if self.kind == "gaussian":
            return jax.random.normal(key, shape, dtype)
        if self.kind == "uniform":
            return jnp.sqrt(3.0).astype(dtype) * jax.random.uniform(key, shape, dtype, -1.0, 1.0)
        if self.kind == "laplace":
            return jax.random.laplace(key, shape, dtype) / jnp.sqrt(2.0).astype(dtype)
        atoms = jnp.asarray(self.atoms, dtype)
        if len(self.atoms) == 2:
            hit = jax.random.uniform(key, shape, dtype) < self.probs[1]
            return jnp.where(hit, atoms[1], atoms[0])
        idx = jax.random.choice(key, len(self.atoms), shape, p=jnp.asarray(self.probs))
        return atoms[idx]

    @property
    def is_rademacher(self) -> bool:
        return self.kind == "discrete" and self.atoms == (-1.0, 1.0) and self.probs == (0.5, 0.5)

    def moment(self, p: int) -> float:
        """Exact E[g^p] of this sampler."""
        if self.kind == "discrete":
            return float(np.sum(np.asarray(self.probs) * np.asarray(self.atoms) ** p))
        if p % 2:
            return 0.0
        if self.kind == "gaussian":
            return float(np.prod(np.arange(p - 1, 0, -2))) if p else 1.0
        if self.kind == "uniform":
            return 3 ** (p / 2) / (p + 1)
        return math.factorial(p) / 2 ** (p / 2)


def _gauss_rule(mom: list[float], r: int) -> tuple[np.ndarray, np.ndarray] | None:
    hankel = np.array([[mom[i + j] for j in range(r)] for i in range(r)])
    try:
        np.linalg.cholesky(hankel)
    except np.linalg.LinAlgError:
        return None
    if np.linalg.cond(hankel) > 1e12:
        return None
    coeffs = np.linalg.solve(hankel, -np.array(mom[r : 2 * r]))
    atoms = np.sort(np.roots(np.concatenate([[1.0], coeffs[::-1]])).real)
    probs = np.linalg.solve(np.vander(atoms, r, increasing=True).T, np.array(mom[:r]))
    if np.any(probs <= 0):
        return None
    return atoms, probs / probs.sum()


def quadrature_from_moments(moments: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The discrete law with the fewest atoms matching E[g^p], p = 0..len-1 (a Gauss rule).

    With moments up to order 2r - 2 the law has r atoms (the free moment of order 2r - 1 is set
    to 0); atoms are the roots of the monic orthogonal polynomial of degree r and weights solve
    the Vandermonde system. On the boundary of the moment space (a singular Hankel matrix) a rule
    with fewer atoms is used if it reproduces every given moment. Raises ValueError otherwise.
    """
    given = [float(v) for v in moments]
    if not all(math.isfinite(v) for v in given):
        raise ValueError(f"moments {given[1:]} must be finite numbers")
    mom = given + ([0.0] if len(given) % 2 == 1 else [])
    for r in range(len(mom) // 2, 0, -1):
        rule = _gauss_rule(mom, r)
        if rule is None:
            continue
        atoms, probs = rule
        got = [float(np.sum(probs * atoms**p)) for p in range(len(given))]
        if np.allclose(got, given, rtol=1e-8, atol=1e-8):
            return rule
    raise ValueError(
        f"moments {given[1:]} belong to no distribution: the Hankel matrix is "
        "not positive semi-definite (e.g. E[g^4] must be at least 1 + E[g^3]^2)"
    )


def latent_sampler(spec: str) -> LatentSampler:
    """Build a sampler from a latent name (same names as `theory.latent`)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"latent must be a non-empty string, got {spec!r}")
    text = spec.strip().lower()
    name, _, arg = text.partition(":")
    if name == "rademacher" and not arg:
        return LatentSampler(text, "discrete", (-1.0, 1.0), (0.5, 0.5))
    if name in ("uniform", "laplace", "gaussian") and not arg:
        return LatentSampler(text, name)
    if name == "skewed":
        try:
            rho = float(arg) if arg else 0.2
        except ValueError:
            raise ValueError(f"latent {spec!r}: RHO must be a number in (0, 1)") from None
        if not 0 < rho < 1:
            raise ValueError(f"latent {spec!r}: RHO must lie strictly between 0 and 1")
        s = np.sqrt(rho * (1 - rho))
        return LatentSampler(text, "discrete", (-rho / s, (1 - rho) / s), (1 - rho, rho))
    if name == "moments":
        try:
            given = [float(v) for v in arg.split(",") if v.strip()]
        except ValueError:
            raise ValueError(
                f"latent {spec!r}: write moments:M1,M2,M3,... with numbers, e.g. moments:0,1,0,2"
            ) from None
        if len(given) < 3:
            raise ValueError(f"latent {spec!r}: give E[g], E[g^2] and at least E[g^3], e.g. moments:0,1,0,2")
        mean, second = given[0], given[1]
        if abs(mean) > 1e-12 or abs(second - mean**2 - 1) > 1e-12:
            raise ValueError(
                f"latent {spec!r} has mean {mean:g} and variance {second - mean**2:g}: a latent "
                "must have mean 0 and variance 1 (standardise it)"
            )
        atoms, probs = quadrature_from_moments([1.0, *given])
        return LatentSampler(text, "discrete", tuple(map(float, atoms)), tuple(map(float, probs)))
    raise ValueError(f"unknown latent {spec!r}: use one of {', '.join(LATENT_NAMES)}")
