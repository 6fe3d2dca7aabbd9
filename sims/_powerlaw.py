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
-y sigma(lambda), with C diagonal, so every sample costs O(N). Trajectories (spectra x placements x
seeds) are one vmapped axis; keys follow `sims.OnlineSGD` (fold_in(fold_in(key(root), N), seed);
spike noise, start and data are fold_in(., 0 / 1 / 2)), so a seed sees the same spike noise g,
start noise and data stream for every alpha and placement (common random numbers).
"""

from __future__ import annotations

import dataclasses
import functools as ft
import json
import math
import re
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._activations import activation_derivative
from ._data import FourierBasis, SpikeTask, draw_noise
from ._engine import check_dimensions


PREACTIVATIONS = ("normalised", "plain")
PLACEMENT_NAMES = ("aligned", "spread", "topK:K")
POWERLAW_START_NAMES = ("conditioned", "random")
POWERLAW_ENGINE_VERSION = 1

_PROGRESS: dict[int, Callable[[int, int], None]] = {}


def _report(token, t, n_done):
    fn = _PROGRESS.get(int(token))
    if fn is not None:
        fn(int(t), int(n_done))


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


def descent_direction(w, u, sc, z, shift, y, dsigma, normalised: bool) -> jax.Array:
    """-sum_b grad_w [-y_b sigma(lambda_b)] for inputs x_b = C^1/2 (z_b + shift_b u), in O(B N).

    lambda = w.x (plain) or w.x / |C^1/2 w| (normalised); sc = sqrt of the variances c.
    """
    a = sc * w  # C^1/2 w
    # Multiply-and-sum: under vmap XLA fuses these, where batched (B, N) x (N, 2) dots are slower.
    lam = jnp.sum(z * a, axis=1) + shift * jnp.sum(a * u)  # w.x
    if normalised:
        r = jnp.linalg.norm(a)
        lam = lam / r
    coef = y * dsigma(lam)
    # sum_b coef_b x_b = C^1/2 (sum_b coef_b z_b + (sum_b coef_b shift_b) u)
    direction = sc * (jnp.sum(coef[:, None] * z, axis=0) + jnp.sum(coef * shift) * u)
    if normalised:  # d lambda / dw = x / r - lambda C w / r^2
        direction = direction / r - jnp.sum(coef * lam) * (sc * a) / (r * r)
    return direction


@dataclasses.dataclass(frozen=True)
class ColouredSGD:
    """Online SGD on the coloured phase task for one dimension N.

    **Arguments:**
    - `dim`: input dimension N (>= 4); `shape=(L, L)` for images.
    - `task`: a [`sims.SpikeTask`][] (the whitened task; `phase` for the power-law claims).
    - `activation`: student activation name (e.g. `-he4`).
    - `batch`: samples per step; the step is (delta/N) times the batch *sum* of gradients.
    - `preactivation`: `normalised` (w.x / sqrt(w^T C w)) or `plain` (w.x).
    - `start`: `conditioned` (m_eff(0) = sqrt(u^T C u / tr C), the typical value) or `random`
      (uniform on the sphere, sign flipped so that m_eff(0) >= 0).
    - `m_escape`: escape threshold on |m_eff|.
    - `dtype`, `prng_impl`: as for `sims.OnlineSGD`.
    """

    dim: int
    task: SpikeTask
    activation: str
    batch: int = 1
    preactivation: str = "normalised"
    start: str = "conditioned"
    m_escape: float = 0.5
    dtype: str = "float32"
    prng_impl: str = "threefry2x32"
    shape: tuple[int, ...] | None = None

    def __post_init__(self):
        check_dimensions(self.dim, self.shape, self.batch)
        if self.preactivation not in PREACTIVATIONS:
            raise ValueError(
                f"unknown preactivation {self.preactivation!r}: use one of {', '.join(PREACTIVATIONS)}"
            )
        if self.start not in POWERLAW_START_NAMES:
            raise ValueError(f"unknown start {self.start!r}: use one of {', '.join(POWERLAW_START_NAMES)}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.dtype == "float64" and not jax.config.jax_enable_x64:
            raise ValueError("float64 needs jax_enable_x64: set JAX_ENABLE_X64=1 or use --float64")
        if not 0 < self.m_escape < 1:
            raise ValueError(f"escape overlap must lie in (0, 1), got {self.m_escape}")
        activation_derivative(self.activation)

    @property
    def basis(self) -> FourierBasis:
        return FourierBasis(self.shape or (self.dim,))

    def seed_keys(self, root_seed: int, seeds) -> jax.Array:
        root = jax.random.key(root_seed, impl=self.prng_impl)
        cell = jax.random.fold_in(root, self.dim)
        return jax.vmap(lambda s: jax.random.fold_in(cell, s))(jnp.asarray(seeds, jnp.uint32))

    def prepare(self, configs: Sequence[tuple[float, str]], seeds, root_seed: int = 0) -> dict:
        """Spectra, spikes and starts for every (alpha, placement) config and seed.

        **Returns:** numpy arrays with leading axes (config, seed): `spectrum` (config, N),
        `spike` and `w0` (config, seed, N), `typical_overlap` (config, seed).
        """
        basis, dtype = self.basis, jnp.dtype(self.dtype)
        seeds = np.atleast_1d(np.asarray(seeds))
        keys = self.seed_keys(root_seed, seeds)
        specs, spikes, starts, typ = [], [], [], []
        for alpha, placement in configs:
            spec = power_spectrum(basis, alpha)
            parse_placement(placement, self.dim)
            u, w, m_typ = self._prepare_one(keys, jnp.asarray(spec, dtype), placement)
            specs.append(spec)
            spikes.append(np.asarray(u))
            starts.append(np.asarray(w))
            typ.append(np.asarray(m_typ))
        return {
            "spectrum": np.stack(specs),
            "spike": np.stack(spikes),
            "w0": np.stack(starts),
            "typical_overlap": np.stack(typ).astype(np.float64),
        }

    @ft.cached_property
    def _prepare_one(self):
        """Spike, start and typical overlap per key, jitted once per engine (placement static)."""
        basis, dtype = self.basis, jnp.dtype(self.dtype)

        def one(key, spec, placement):
            u = draw_placed_spike(jax.random.fold_in(key, 0), basis, spec, placement, dtype)
            v = jax.random.normal(jax.random.fold_in(key, 1), (self.dim,), dtype)
            m_typ = typical_start_overlap(u, spec)
            if self.start == "random":
                w = v / jnp.linalg.norm(v)
            else:
                w = conditioned_start(v, u, spec, m_typ)
            w = jnp.where(effective_overlap(w, u, spec) < 0, -w, w)
            return u, w, m_typ

        return jax.jit(jax.vmap(one, in_axes=(0, None, None)), static_argnums=2)

    @ft.cached_property
    def _executables(self) -> dict:
        return {}

    @ft.cached_property
    def _compiled(self):
        dtype = jnp.dtype(self.dtype)
        task, B, N = self.task, int(self.batch), int(self.dim)
        dsigma = activation_derivative(self.activation)
        m_esc = self.m_escape
        normalised = self.preactivation == "normalised"

        def overlap(w, u, sc):
            a = w * sc
            return jnp.sum(a * u) / jnp.linalg.norm(a)

        def step_one(w, u, sc, data_key, step, t):
            key = jax.random.fold_in(data_key, t)
            k_z, k_y, k_g = jax.random.split(key, 3)
            z = jax.random.normal(k_z, (B, N), dtype)
            y = jax.random.rademacher(k_y, (B,), dtype)
            g = task.latent.sample(k_g, (B,), dtype)
            z_u = jnp.sum(z * u, axis=1)
            shift = jnp.where(y > 0, task.spike_coordinate(z_u, g) - z_u, 0.0)
            direction = descent_direction(w, u, sc, z, shift, y, dsigma, normalised)
            w = w + (step / N) * direction
            return w / jnp.linalg.norm(w)

        step_batch = jax.vmap(step_one, in_axes=(0, 0, 0, 0, 0, None))
        overlaps = jax.vmap(overlap)

        def run(w0, u, sc, data_keys, steps, ends, token):
            S = w0.shape[0]
            m0 = overlaps(w0, u, sc)

            def body(carry, t_end):
                def cond(c):
                    w, t, esc, mx, bad = c
                    return (t < t_end) & ~jnp.all((esc >= 0) | bad)

                def inner(c):
                    w, t, esc, mx, bad = c
                    t = t + 1
                    w = step_batch(w, u, sc, data_keys, steps, t)
                    am = jnp.abs(overlaps(w, u, sc))
                    esc = jnp.where((esc < 0) & (am >= m_esc), t, esc)
                    bad = bad | ~jnp.isfinite(am)
                    return w, t, esc, jnp.maximum(mx, jnp.where(jnp.isfinite(am), am, 0.0)), bad

                carry = jax.lax.while_loop(cond, inner, carry)
                w, t, esc, mx, bad = carry
                jax.debug.callback(_report, token, t, jnp.sum((esc >= 0) | bad))
                return carry, (overlaps(w, u, sc), t)

            esc0 = jnp.where(jnp.abs(m0) >= m_esc, 0, -1).astype(jnp.int32)
            init = (w0, jnp.int32(0), esc0, jnp.abs(m0), jnp.zeros(S, bool))
            (w, t, esc, mx, bad), (ms, ts) = jax.lax.scan(body, init, ends)
            return m0, ms, ts, esc, mx, bad

        return jax.jit(run)

    def run(
        self,
        configs: Sequence[tuple[float, str]],
        seeds,
        step: float,
        budget_samples: int,
        *,
        root_seed: int = 0,
        n_checkpoints: int = 48,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run every (config, seed) trajectory for at most `budget_samples` samples, all vmapped.

        **Arguments:**
        - `configs`: (alpha, placement) pairs.
        - `seeds`: non-negative integer seed indices.
        - `step`: the BAGJ step delta (> 0), shared by all trajectories.
        - `budget_samples`: samples per trajectory (rounded up to whole batches).
        - `progress`: called as progress(samples_done, trajectories_done) at each checkpoint.

        **Returns:** numpy arrays with leading axes (config, seed): `initial_overlap` (m_eff at the
        start), `typical_overlap`, `overlap` (..., checkpoint; NaN after the run stopped),
        `escape_samples` (NaN: no escape), `max_abs_overlap`, `finite`; plus `spectrum`
        (config, N), `spike`, `w0`, `checkpoint_samples`, `wall_seconds`, `compile_seconds`.
        """
        seeds = np.atleast_1d(np.asarray(seeds))
        if not (isinstance(step, int | float) and math.isfinite(step) and step > 0):
            raise ValueError(f"step size must be a positive number, got {step!r}")
        if seeds.size == 0 or np.any(seeds < 0) or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"seeds must be non-negative integers, got {seeds.tolist()}")
        if not configs:
            raise ValueError("configs must list at least one (alpha, placement) pair")
        total_steps = max(1, math.ceil(budget_samples / self.batch))
        if total_steps >= 2**31 - 1:
            raise ValueError(f"budget of {budget_samples} samples is too large for one run")
        ends = np.unique(np.geomspace(1, total_steps, n_checkpoints).round().astype(np.int64))
        prep = self.prepare(configs, seeds, root_seed)
        n_cfg, n_seed = len(configs), seeds.size
        keys = self.seed_keys(root_seed, seeds)
        data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)
        dtype = jnp.dtype(self.dtype)
        flat = lambda a: jnp.asarray(a.reshape((n_cfg * n_seed,) + a.shape[2:]), dtype)
        sc = np.repeat(np.sqrt(prep["spectrum"])[:, None, :], n_seed, axis=1)
        token = (id(self) ^ time.time_ns()) & 0x7FFFFFFF
        if progress is not None:
            _PROGRESS[token] = lambda t, d: progress(t * self.batch, d)
        args = (
            flat(prep["w0"]),
            flat(prep["spike"]),
            flat(sc),
            jnp.tile(data_keys, (n_cfg,)),
            jnp.full((n_cfg * n_seed,), step, dtype),
            jnp.asarray(ends, jnp.int32),
            jnp.int32(token),
        )
        start = time.perf_counter()
        shapes = (args[0].shape, args[5].shape)
        compiled = self._executables.get(shapes)
        if compiled is None:  # one compilation per trajectory count and checkpoint count
            compiled = self._executables[shapes] = self._compiled.lower(*args).compile()
        compile_seconds = time.perf_counter() - start
        start = time.perf_counter()
        try:
            out = jax.block_until_ready(compiled(*args))
        finally:
            _PROGRESS.pop(token, None)
        wall = time.perf_counter() - start
        m0, ms, ts, esc, mx, bad = (np.asarray(a) for a in out)
        reached = ts == ends
        ms = np.where(reached[:, None], ms, np.nan).T
        shape = (n_cfg, n_seed)
        escape = np.where(esc >= 0, esc.astype(np.float64) * self.batch, np.nan)
        return {
            "initial_overlap": m0.reshape(shape).astype(np.float64),
            "typical_overlap": prep["typical_overlap"],
            "overlap": ms.reshape(shape + (len(ends),)),
            "escape_samples": escape.reshape(shape),
            "max_abs_overlap": mx.reshape(shape),
            "finite": (~bad).reshape(shape),
            "spectrum": prep["spectrum"],
            "spike": prep["spike"],
            "w0": prep["w0"],
            "checkpoint_samples": ends.astype(np.float64) * self.batch,
            "wall_seconds": np.float64(wall),
            "compile_seconds": np.float64(compile_seconds),
        }


def write_powerlaw_cell(path, run: dict, config: dict):
    """Store one (N, alpha, placement) cell of `ColouredSGD.run` (one config) as netCDF, atomically.

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
            "spectrum": (("coordinate",), run["spectrum"][0]),
        },
        coords={"seed": seeds, "checkpoint_samples": ("checkpoint", run["checkpoint_samples"])},
    )
    ds["escape_samples"].attrs["meaning"] = "first sample count with |m_eff| >= m_escape; NaN: no escape"
    attrs = provenance()
    attrs.update(
        config=json.dumps(config, sort_keys=True),
        config_hash=config_hash(config),
        engine="coloured",
        prng_impl=config.get("prng_impl", "threefry2x32"),
        wall_seconds=float(run["wall_seconds"]),
        compile_seconds=float(run.get("compile_seconds", 0.0)),
    )
    ds.attrs.update(attrs)
    with atomic_target(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return ds
