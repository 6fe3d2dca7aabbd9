"""Coloured (power-law) phase task and its online-SGD engine, in Fourier coordinates.

Both classes share one circulant covariance C. In the real Fourier coordinates of
[`sims.FourierBasis`][] a circulant C is diagonal, C = diag(c), with c_i = P(f_i) the power spectrum
at the radial frequency f_i of coordinate i; here P(f) is proportional to (1 + f)^-alpha and
normalised so that tr C = sum_i c_i = N. An input is x = C^1/2 x_w, where x_w is drawn from the
whitened phase task (`sims.SpikeTask`: structured class x_w = z + (X_u - z.u) u, noise class
x_w = z) with spike u. So both classes have covariance C (the same power spectrum: amplitudes carry
no label), and the non-Gaussianity sits along u in whitened coordinates: the direction
v = C^-1/2 u / |C^-1/2 u| in input space is the one whose projection v.x is non-Gaussian.

Spike placements (`placement`):

- `aligned`: u = C^1/2 g / |C^1/2 g| with g standard Gaussian: u shares the power-law weighting of
  the data, i.e. it lives mostly in the dominant principal subspace.
- `spread`: flat Fourier amplitudes and uniform random phases (the isotropic spike of
  `sims.draw_spike`), whatever alpha.
- `topK:K`: flat amplitudes and random phases on the K coordinates of highest variance (lowest
  radial frequency), zero elsewhere.

Student: unit-norm w, pre-activation either `normalised`, lambda = w.x / sqrt(w^T C w), or `plain`,
lambda = w.x. With the normalised pre-activation the population loss is exactly phi(m_eff) of the
isotropic task, with the **effective overlap**

    m_eff = (C^1/2 w).u / |C^1/2 w|,

the correlation (under the shared covariance) between the student's pre-activation and the spike
coordinate u.C^-1/2 x. Escape is |m_eff| >= m_escape for both pre-activations: m_eff is what the
loss sees, and it is basis-free; the plain overlap w.u has no meaning here (u is a whitened-space
direction).

Engine: the BAGJ step w <- normalise(w - (delta/N) grad) on the batch sum of the gradients of
-y sigma(lambda), with C diagonal, so every sample costs O(N). `ColouredSGD` runs on the shared
driver of the other engines (one engine per (N, alpha, placement)); keys follow `sims.OnlineSGD`
(fold_in(fold_in(key(root), N), seed); spike noise, start and data are fold_in(., 0 / 1 / 2)), so a
seed sees the same spike noise g, start noise and data stream for every alpha and placement
(common random numbers).
"""

from __future__ import annotations

import dataclasses
import functools as ft
import json
import math
import re

import jax
import jax.numpy as jnp
import numpy as np

from vocabulary import PLACEMENT_NAMES  # noqa: F401  (re-exported by sims)

from ._activations import activation_derivative
from ._data import FourierBasis, SpikeTask, draw_noise
from ._driver import _SphericalSGD
from ._engine import ReducedSGD, overlap_update


PREACTIVATIONS = ("normalised", "plain")
POWERLAW_ENGINE_VERSION = 2
"""2: the coloured engine runs on the shared driver (fixed chunks, host checkpoints, per-chunk
stop) and computes its products as (B, N) x (N, 2) dots and its divisions by |C^1/2 w| as products
with the reciprocal, so that a trajectory's numbers are bitwise the same alone, in a batch and on
1 or 2 devices (version 1's were not). Spikes and starts are those of version 1; steps differ in
the last bits, so escape samples differ seed by seed (not in law)."""


def parse_placement(text: str, dim: int | None = None) -> tuple[str, int | None]:
    """`aligned`, `spread` or `topK:K` -> (kind, K); ValueError naming the value otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"placement must be a string, got {text!r}")
    t = text.strip()
    if t in ("aligned", "spread"):
        return t, None
    match = re.fullmatch(r"top[kK]:(\d+)", t)
    if not match:
        raise ValueError(f"unknown placement {text!r}: use aligned, spread or topK:K (e.g. topK:8)")
    k = int(match.group(1))
    if k < 1 or (dim is not None and k > dim):
        raise ValueError(f"placement {text!r}: K must lie in 1..N (N = {dim})")
    return "topK", k


def check_alpha(alpha) -> float:
    """A spectral exponent must be a finite number >= 0."""
    if not isinstance(alpha, int | float | np.floating | np.integer) or not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"spectral exponent alpha={alpha!r} must be a finite number >= 0")
    return float(alpha)


def power_spectrum(basis: FourierBasis, alpha: float) -> np.ndarray:
    """Per-coordinate variances c_i proportional to (1 + f_i)^-alpha with sum_i c_i = N (float64)."""
    alpha = check_alpha(alpha)
    c = (1.0 + basis.frequencies) ** (-alpha)
    return c * (basis.dim / c.sum())


def top_coordinates(basis: FourierBasis, k: int) -> np.ndarray:
    """Indices of the K coordinates of lowest radial frequency (highest variance for alpha > 0)."""
    return np.argsort(basis.frequencies, kind="stable")[:k]


def draw_placed_spike(
    key: jax.Array, basis: FourierBasis, spectrum: np.ndarray, placement: str, dtype=jnp.float32
) -> jax.Array:
    """The spike u (unit norm, whitened coordinates) for a placement; see the module docstring."""
    kind, k = parse_placement(placement, basis.dim)
    if kind == "aligned":
        g = jax.random.normal(key, (basis.dim,), dtype)
        u = jnp.sqrt(jnp.asarray(spectrum, dtype)) * g
    else:
        u = draw_noise(key, basis, (), "fixed_amplitude", dtype)
        if kind == "topK":
            mask = np.zeros(basis.dim, bool)
            mask[top_coordinates(basis, k)] = True
            u = jnp.where(jnp.asarray(mask), u, 0.0)
    return u / jnp.linalg.norm(u)


def sample_coloured_class(
    key: jax.Array,
    task: SpikeTask,
    basis: FourierBasis,
    spectrum: np.ndarray,
    spike: jax.Array,
    n: int,
    structured: bool,
    dtype=jnp.float32,
) -> jax.Array:
    """n inputs x = C^1/2 x_w of one class, in Fourier coordinates, shape (n, N)."""
    k_z, k_g = jax.random.split(key)
    z = jax.random.normal(k_z, (n, basis.dim), dtype)
    if structured:
        g = task.latent.sample(k_g, (n,), dtype)
        z_u = z @ spike
        z = z + (task.spike_coordinate(z_u, g) - z_u)[:, None] * spike[None, :]
    return z * jnp.sqrt(jnp.asarray(spectrum, dtype))


def effective_overlap(w: jax.Array, u: jax.Array, spectrum) -> jax.Array:
    """m_eff = (C^1/2 w).u / |C^1/2 w| along the last axis."""
    a = w * jnp.sqrt(jnp.asarray(spectrum, w.dtype))
    return jnp.sum(a * u, -1) / jnp.linalg.norm(a, axis=-1)


def typical_start_overlap(u, spectrum) -> jax.Array:
    """sqrt(u^T C u / tr C): the root-mean-square m_eff of a uniformly random unit w (leading order)."""
    c = jnp.asarray(spectrum, u.dtype)
    return jnp.sqrt(jnp.sum(c * u * u, -1) / jnp.sum(c, -1))


def conditioned_start(v: jax.Array, u: jax.Array, spectrum, m0) -> jax.Array:
    """Unit w = cos(t) e + sin(t) v_perp with m_eff(w) = m0 exactly.

    e = C^1/2 u / |C^1/2 u| is the input-space direction whose weight m_eff measures; v_perp is the
    random vector v made orthogonal to e. This is the isotropic engine's conditioned start
    (m0 u + sqrt(1 - m0^2) v_perp) with u replaced by e; the angle t solves the quadratic
    m_eff(w)^2 = m0^2 (positive root).
    """
    sc = jnp.sqrt(jnp.asarray(spectrum, u.dtype))
    e = sc * u
    amp = jnp.linalg.norm(e)  # A = sqrt(u^T C u)
    e = e / amp
    v = v - jnp.dot(v, e, precision="highest") * e
    v = v / jnp.linalg.norm(v)
    p = jnp.sum((sc * e) ** 2)
    q = jnp.sum((sc * e) * (sc * v))
    r = jnp.sum((sc * v) ** 2)
    m2 = m0 * m0
    lead = amp**2 - m2 * p
    t = (m2 * q + jnp.sqrt(m2 * m2 * q * q + lead * m2 * r)) / lead  # cot of the angle
    w = t * e + v
    return w / jnp.linalg.norm(w)


def project(z, w, u, sc) -> tuple[jax.Array, jax.Array]:
    """(z.C^1/2 w, z.u) for a batch z (B, N), as one (B, N) x (N, 2) product: the form whose numbers
    do not depend on how many trajectories run beside it or on how many devices (XLA rewrites a
    matrix-vector product into row sums whose order can)."""
    proj = jnp.dot(z, jnp.stack([sc * w, u], axis=1), precision="highest")
    return proj[:, 0], proj[:, 1]


def descent_direction(w, u, sc, z, shift, y, dsigma, normalised: bool, z_a=None) -> jax.Array:
    """-sum_b grad_w [-y_b sigma(lambda_b)] for inputs x_b = C^1/2 (z_b + shift_b u), in O(B N).

    lambda = w.x (plain) or w.x / |C^1/2 w| (normalised); sc = sqrt of the variances c. `z_a`:
    z.C^1/2 w if already computed (`project`).
    """
    a = sc * w  # C^1/2 w
    hi = "highest"
    z_a = project(z, w, u, sc)[0] if z_a is None else z_a
    lam = z_a + shift * jnp.dot(a, u, precision=hi)  # w.x
    if normalised:
        r = jnp.linalg.norm(a)
        lam = lam / r
    coef = y * dsigma(lam)
    # sum_b coef_b x_b = C^1/2 (sum_b coef_b z_b + (sum_b coef_b shift_b) u)
    direction = sc * (jnp.dot(coef, z, precision=hi) + jnp.sum(coef * shift) * u)
    if normalised:  # d lambda / dw = x / r - lambda C w / r^2
        # times 1/r rather than divided by r: XLA may compile a vector divided by a scalar
        # differently in the one-device and the sharded program (last-bit differences)
        direction = (direction - (jnp.sum(coef * lam) / r) * (sc * a)) * (1.0 / r)
    return direction


@dataclasses.dataclass(frozen=True)
class ColouredSGD(_SphericalSGD):
    """Online SGD on the coloured phase task for one dimension N and one spectrum and placement.

    A subclass of the shared driver ([`sims._driver._SphericalSGD`][]): keys, fixed chunks, device
    sharding, checkpoints, early stop and progress are the other engines'; so a trajectory's numbers
    are bitwise the same alone, in any batch and on 1 or 2 devices. Per trajectory the state is the
    unit weight w (O(N) per sample) and the constant part is the spike u with C^1/2.

    **Arguments** (besides the driver's `dim`, `task`, `activation`, `batch`, `m_escape`, `dtype`,
    `prng_impl`, `shape`, `chunk`):
    - `alpha`: the spectral exponent (P(f) proportional to (1 + f)^-alpha, tr C = N).
    - `placement`: `aligned`, `spread` or `topK:K` (module docstring).
    - `preactivation`: `normalised` (w.x / sqrt(w^T C w)) or `plain` (w.x).
    - `start`: `conditioned` (m_eff(0) = sqrt(u^T C u / tr C), the typical value) or `random`
      (uniform on the sphere); either way the sign is flipped so that m_eff(0) >= 0.
    Escape is |m_eff| >= `m_escape`. Gaussian noise only (`noise` must stay `gaussian`).
    """

    start: str = "conditioned"
    alpha: float = 0.0
    placement: str = "aligned"
    preactivation: str = "normalised"

    name = "coloured"

    def __post_init__(self):
        super().__post_init__()
        if self.noise != "gaussian":
            raise ValueError(f"the coloured task has gaussian noise only, not {self.noise!r}")
        check_alpha(self.alpha)
        parse_placement(self.placement, self.dim)
        if self.preactivation not in PREACTIVATIONS:
            raise ValueError(
                f"unknown preactivation {self.preactivation!r}: use one of {', '.join(PREACTIVATIONS)}"
            )

    @ft.cached_property
    def spectrum(self) -> np.ndarray:
        """The per-coordinate variances c (float64, sum N)."""
        return power_spectrum(self.basis, self.alpha)

    def _init_one(self, key):
        """(w0, (u, C^1/2)): spike from fold_in(key, 0), start noise from fold_in(key, 1)."""
        dtype = jnp.dtype(self.dtype)
        spec = jnp.asarray(self.spectrum, dtype)
        u = draw_placed_spike(jax.random.fold_in(key, 0), self.basis, spec, self.placement, dtype)
        v = jax.random.normal(jax.random.fold_in(key, 1), (self.dim,), dtype)
        if self.start == "random":
            w = v / jnp.linalg.norm(v)
        else:
            w = conditioned_start(v, u, spec, typical_start_overlap(u, spec))
        w = jnp.where(effective_overlap(w, u, spec) < 0, -w, w)
        return w, (u, jnp.asarray(np.sqrt(self.spectrum), dtype))

    def _overlap_one(self, w, aux):
        u, sc = aux
        a = w * sc
        return jnp.dot(a, u, precision="highest") / jnp.linalg.norm(a)

    def _step_one(self, w, aux, key, step):
        u, sc = aux
        dtype = jnp.dtype(self.dtype)
        task, B, N = self.task, int(self.batch), int(self.dim)
        dsigma = activation_derivative(self.activation)
        k_z, k_y, k_g = jax.random.split(key, 3)
        z = jax.random.normal(k_z, (B, N), dtype)
        y = jax.random.rademacher(k_y, (B,), dtype)
        g = task.latent.sample(k_g, (B,), dtype)
        z_a, z_u = project(z, w, u, sc)
        shift = jnp.where(y > 0, task.spike_coordinate(z_u, g) - z_u, 0.0)
        normalised = self.preactivation == "normalised"
        direction = descent_direction(w, u, sc, z, shift, y, dsigma, normalised, z_a=z_a)
        w = w + (step / N) * direction
        return w / jnp.linalg.norm(w)

    def _collect(self, loop: dict, layout: dict, ends: np.ndarray, leading: tuple[int, int]) -> dict:
        """The driver's results (`sims.OnlineSGD.run`), plus per trajectory the spike, the start
        and the typical start overlap sqrt(u^T C u / tr C) (`spike`, `w0`, `typical_overlap`,
        leading axes (step, seed); they do not depend on the step), and the `spectrum` (N,). Read
        from the starts the driver laid out for the run, not drawn again."""
        out = super()._collect(loop, layout, ends, leading)
        n_traj, N = layout["n_traj"], int(self.dim)
        state0, (u, _), _, _ = layout["arrays"]
        w0 = np.asarray(state0).reshape(-1, N)[:n_traj]
        u = np.asarray(u).reshape(-1, N)[:n_traj]
        typical = np.asarray(typical_start_overlap(jnp.asarray(u), jnp.asarray(self.spectrum, u.dtype)))
        return out | {
            "spike": u.reshape(*leading, N),
            "w0": w0.reshape(*leading, N),
            "typical_overlap": typical.reshape(leading).astype(np.float64),
            "spectrum": self.spectrum.copy(),
        }


def tangent_overlap_update(m, c, g_u, g_e, s, chi, eta):
    """The reduced chain's exact step for the normalised pre-activation at C = I: the batch
    direction's radial part p w, p = m G_u + c G_e (= sum_b a_b lambda_b), removed before the step
    (`sims.overlap_update` for the plain pre-activation)."""
    p = m * g_u + c * g_e
    return overlap_update(m, c, g_u - p * m, g_e - p * c, s, chi, eta)


@dataclasses.dataclass(frozen=True)
class IsotropicReducedSGD(ReducedSGD):
    """The coloured task at alpha = 0 (C = I) on the exact reduced chain: O(1) work per sample.

    At alpha = 0 the coloured task is the isotropic phase task, so the reduced engine's overlap
    chain (`sims.ReducedSGD`, docs/reduced-dynamics.md) is exact for it, with one change for the
    `normalised` pre-activation: lambda = w.x / |w| has gradient x - lambda w on the sphere, so the
    batch direction loses its radial part p w, p = sum_b a_b lambda_b = m G_u + c G_e. In the
    chain's coordinates that is G_u -> G_u - p m and G_e -> G_e - p c; the part orthogonal to
    span(u, e), S chi^2_{N-2}, is unchanged. With `plain` the chain is the reduced engine's.
    Starts as `ColouredSGD` does (uniform on the sphere or m0 = N^-1/2, flipped to m0 >= 0), and
    escape is |m| >= `m_escape`. Its numbers differ from the coloured engine's: the two agree in
    law, not trajectory by trajectory.

    `_collect` adds what the power-law analysis reads from a coloured cell: a spike u = e_0, the
    start w0 = m0 e_0 + sqrt(1 - m0^2) e_1 (the isotropic task depends on w0 only through m0),
    the typical overlap N^-1/2 and the flat spectrum.
    """

    preactivation: str = "normalised"

    name = "isotropic-reduced"

    def __post_init__(self):
        super().__post_init__()
        if self.preactivation not in PREACTIVATIONS:
            raise ValueError(
                f"unknown preactivation {self.preactivation!r}: use one of {', '.join(PREACTIVATIONS)}"
            )
        if self.favourable_sign != 1:
            raise ValueError("the coloured task's starts are flipped to m0 >= 0: favourable_sign must be 1")

    def _step_one(self, m, aux, draw, step):
        if self.preactivation == "plain":
            return super()._step_one(m, aux, draw, step)
        task, N = self.task, int(self.dim)
        dsigma = activation_derivative(self.activation)
        z, y, g, chi = draw
        z_u, z_e = z[0], z[1]
        x_u = jnp.where(y > 0, task.spike_coordinate(z_u, g), z_u)
        c = jnp.sqrt((1 - m) * (1 + m))
        a = y * dsigma(m * x_u + c * z_e)
        g_u, g_e, s = jnp.sum(a * x_u), jnp.sum(a * z_e), jnp.sum(a * a)
        return tangent_overlap_update(m, c, g_u, g_e, s, chi, step / N)

    def _collect(self, loop: dict, layout: dict, ends: np.ndarray, leading: tuple[int, int]) -> dict:
        out = super()._collect(loop, layout, ends, leading)
        N = int(self.dim)
        m0 = np.asarray(out["initial_overlap"], np.float64)
        spike = np.zeros((*leading, N))
        spike[..., 0] = 1.0
        w0 = np.zeros((*leading, N))
        w0[..., 0], w0[..., 1] = m0, np.sqrt(np.clip(1 - m0 * m0, 0.0, None))
        return out | {
            "spike": spike,
            "w0": w0,
            "typical_overlap": np.full(leading, 1 / math.sqrt(N)),
            "spectrum": np.ones(N),
        }


def start_overlaps(engine: ColouredSGD, n: int, root_seed: int = 0) -> dict[str, np.ndarray]:
    """The engine's own starts for seeds 0..n-1 (its `initial_state`, without running SGD):
    `m0` = m_eff(0) (sign-flipped to >= 0, as every run starts) and `u2` the spike powers u_i^2,
    shapes (n,) and (n, N). For testing H1 on many more starts than a sweep's seeds."""
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    w, (u, _) = engine.initial_state(engine.seed_keys(root_seed, np.arange(n)))
    m0 = effective_overlap(w, u, jnp.asarray(engine.spectrum, w.dtype))
    return {"m0": np.asarray(m0, np.float64), "u2": np.asarray(u, np.float64) ** 2}


def write_powerlaw_cell(path, run: dict, config: dict):
    """Store one (N, alpha, placement) cell of `ColouredSGD.run` (one step) as netCDF, atomically.

    Besides the fields of `sims.write_cell` it keeps each seed's spike, start and typical overlap
    (so that theory predictions can be made per seed), and the spectrum.
    """
    import xarray as xr

    from ._results import atomic_target, config_hash, provenance

    seeds = np.asarray(config["seeds"], np.int64)
    ds = xr.Dataset(
        {
            "initial_overlap": (("seed",), run["initial_overlap"][0]),
            "typical_overlap": (("seed",), run["typical_overlap"][0]),
            "overlap": (("seed", "checkpoint"), run["overlap"][0]),
            "escape_samples": (("seed",), run["escape_samples"][0]),
            "max_abs_overlap": (("seed",), run["max_abs_overlap"][0].astype(np.float64)),
            "finite": (("seed",), run["finite"][0].astype(np.int8)),
            "spike": (("seed", "coordinate"), run["spike"][0].astype(np.float64)),
            "w0": (("seed", "coordinate"), run["w0"][0].astype(np.float64)),
            "spectrum": (("coordinate",), np.asarray(run["spectrum"], np.float64).reshape(-1)),
        },
        coords={"seed": seeds, "checkpoint_samples": ("checkpoint", run["checkpoint_samples"])},
    )
    ds["escape_samples"].attrs["meaning"] = "first sample count with |m_eff| >= m_escape; NaN: no escape"
    attrs = provenance()
    attrs.update(
        config=json.dumps(config, sort_keys=True),
        config_hash=config_hash(config),
        engine=config.get("engine", "coloured"),  # the engine that ran the cell (its config's)
        prng_impl=config.get("prng_impl", "threefry2x32"),
        wall_seconds=float(run["wall_seconds"]),
        compile_seconds=float(run.get("compile_seconds", 0.0)),
        stop_samples=float(run.get("stop_samples", config.get("budget", np.nan))),
    )
    ds.attrs.update(attrs)
    with atomic_target(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return ds
