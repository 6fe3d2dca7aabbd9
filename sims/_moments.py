"""Per-sample moments of the reduced chain's gradient triple, by quadrature on the data model.

One sample of the spherical perceptron's batch gradient enters the overlap update only through

    t = (a x_u, a z_e, a^2),   a = y sigma'(m x_u + c z_e),   c = sqrt(1 - m^2)

(docs/reduced-dynamics.md). `triple_moments` computes its mean and covariance at given overlaps m
from the data model itself: labels y = +-1 with probability 1/2 (y = +1: x_u is the task's spike
coordinate; y = -1: x_u = z_u), z_u and z_e independent standard normals, the latent g from its
sampler. The expectations are tensor-product Gauss rules: Gauss-Hermite in z_u and z_e, the
latent's atoms (discrete laws) or a Gauss rule of its law (gaussian, uniform, laplace). For
polynomial activations (He_j) every integrand is a polynomial and the rule is exact once it has
more nodes than half the degree. relu, tanh and erf are refused: a Gauss rule converges slowly on
a kink (relu's moments were off by 1e-2 with 24 nodes, against Monte Carlo).

This lives on the `sims` side on purpose: it uses the samplers' own definitions (not the theory's
Hermite coefficients), so that comparing the moment-matched chain with the theory stays a
comparison of two independent computations.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from ._activations import _parse
from ._data import SpikeTask


def activation_derivative_np(name: str):
    """sigma'(x) for numpy float64 arrays (the same definitions as `activation_derivative`)."""
    sign, base = _parse(name)
    match = re.fullmatch(r"he(\d)", base)
    if match:
        j = int(match.group(1))

        def he(x):
            prev, cur = np.ones_like(x), x
            if j - 1 == 0:
                return prev
            for i in range(1, j - 1):
                prev, cur = cur, x * cur - i * prev
            return cur

        return lambda x: sign * j * he(x)
    if base == "relu":
        return lambda x: sign * (x > 0).astype(float)
    if base == "tanh":
        return lambda x: sign * (1 - np.tanh(x) ** 2)
    return lambda x: sign * 2 / math.sqrt(math.pi) * np.exp(-(x**2))


def check_polynomial(activation: str) -> None:
    """Refuse activations whose moments a Gauss rule does not give exactly (all but He_j)."""
    if not re.fullmatch(r"he\d", _parse(activation)[1]):
        raise ValueError(
            f"activation {activation!r}: the moment-matched chain's quadrature is exact only for "
            "polynomial activations (he1..he9, optionally negated); use the exact reduced engine"
        )


def _gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for E[f(Z)], Z standard normal."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


def latent_rule(latent, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for E[f(g)] under the latent sampler's law."""
    if latent.kind == "discrete":
        return np.asarray(latent.atoms, float), np.asarray(latent.probs, float)
    if latent.kind == "gaussian":
        return _gauss_hermite(n)
    if latent.kind == "uniform":  # sqrt(3) U(-1, 1)
        x, w = np.polynomial.legendre.leggauss(n)
        return math.sqrt(3.0) * x, w / w.sum()
    if latent.kind == "laplace":  # standard Laplace / sqrt(2): |g| sqrt(2) ~ Exp(1), random sign
        x, w = np.polynomial.laguerre.laggauss(n)
        x = np.concatenate([-x[::-1], x]) / math.sqrt(2.0)
        w = np.concatenate([w[::-1], w])
        return x, w / w.sum()
    raise ValueError(f"no quadrature rule for latent kind {latent.kind!r}")


def exact_nodes(activation: str) -> int:
    """The fewest Gauss nodes per coordinate that make every moment exact for He_j: sigma' has
    degree j - 1, so E[a^4] is a polynomial of degree 4 (j - 1) in each coordinate (and
    E[a^2 x_u^2] of degree 2 j), and an n-point rule is exact up to degree 2 n - 1."""
    check_polynomial(activation)
    j = int(_parse(activation)[1][2:])
    return max(2, 2 * (j - 1) + 1, j + 1)


def triple_moments(
    task: SpikeTask, activation: str, m: np.ndarray, nodes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (M, 3) and covariance (M, 3, 3) of one sample's t = (a x_u, a z_e, a^2) at overlaps m.

    `nodes`: Gauss nodes per coordinate (default `exact_nodes`: exact for He_j)."""
    nodes = exact_nodes(activation) if nodes is None else int(nodes)
    m = np.atleast_1d(np.asarray(m, float))
    if np.any(np.abs(m) > 1) or not np.all(np.isfinite(m)):
        raise ValueError("overlaps must lie in [-1, 1]")
    dsigma = activation_derivative_np(activation)
    z, wz = _gauss_hermite(nodes)
    g, wg = latent_rule(task.latent, nodes)
    zu, ze, gg = z[:, None, None], z[None, :, None], g[None, None, :]
    weight = wz[:, None, None] * wz[None, :, None] * wg[None, None, :]
    if task.null:
        xs = zu + 0 * gg
    elif task.name == "phase":
        xs = (zu + math.sqrt(task.snr) * gg) / math.sqrt(1 + task.snr)
    elif task.name == "amplitude":
        xs = math.sqrt(1 + task.snr) * zu + 0 * gg
    else:
        xs = zu + math.sqrt(task.snr) + 0 * gg
    xn = zu + 0 * gg
    wt = np.broadcast_to(weight, np.broadcast_shapes(xs.shape, ze.shape)).reshape(-1) / 2
    first = np.zeros((m.size, 3))
    second = np.zeros((m.size, 3, 3))
    for lo in range(0, m.size, 256):  # blocks of overlaps, vectorised over the nodes
        mb = m[lo : lo + 256, None, None, None]
        cb = np.sqrt(np.clip(1 - mb * mb, 0.0, None))
        for y, xu in ((1.0, xs), (-1.0, xn)):
            a = y * dsigma(mb * xu[None] + cb * ze[None])
            t = np.stack(np.broadcast_arrays(a * xu[None], a * ze[None], a * a), axis=-1)
            t = t.reshape(a.shape[0], -1, 3)
            first[lo : lo + 256] += np.einsum("n,bni->bi", wt, t)
            second[lo : lo + 256] += np.einsum("n,bni,bnj->bij", wt, t, t)
    cov = second - first[:, :, None] * first[:, None, :]
    return first, cov


def _root(s: np.ndarray) -> np.ndarray:
    """A lower-triangular L with L L^T = s for a symmetric s that may be singular to rounding."""
    try:
        return np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(s)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))  # root root^T = s
        return np.linalg.qr(root.T)[1].T  # root^T = Q R, so R^T R = s


@functools.lru_cache(maxsize=16)
def moment_table(task: SpikeTask, activation: str, size: int, nodes: int | None = None) -> np.ndarray:
    """The moment-matched chain's table on the grid m = linspace(-1, 1, size): per row the mean
    (3 numbers) and the lower Cholesky factor of the covariance (6 numbers: l11, l21, l22, l31,
    l32, l33) of one sample's triple, float64. A covariance that is singular to rounding (e.g.
    at |m| = 1) gets its factor from the eigen-decomposition clipped at 0."""
    grid = np.linspace(-1.0, 1.0, size)
    mean, cov = triple_moments(task, activation, grid, nodes)
    cov = (cov + np.swapaxes(cov, 1, 2)) / 2
    try:
        low = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        low = np.stack([_root(s) for s in cov])
    chol = low[:, *np.tril_indices(3)]
    table = np.concatenate([mean, chol], axis=1)
    table.flags.writeable = False  # shared by every engine of this model (cached)
    return table
