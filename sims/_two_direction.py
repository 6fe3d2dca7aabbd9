"""Online SGD on the two-direction task: amplitude along v, phase along u, optionally sign-tied.

Data (our definition; the symbolic side is `theory/_two_direction.py`). Noise class: independent
N(0, 1) Fourier coordinates. Structured class: the noise draw with its coordinates along two
orthonormal directions replaced,

    x = z + (X_v - z.v) v + (X_u - z.u) u,
    X_v = sqrt(1 + beta_a) lam,                     lam ~ N(0, 1)        (amplitude spike)
    X_u = (zeta + sqrt(beta_p) g) / sqrt(1 + beta_p), zeta ~ N(0, 1)     (whitened cumulant spike)

with g = sign(lam) with probability `coupling` and an independent Rademacher sign otherwise. u is
a flat-amplitude random-phase spike (`sims.draw_spike`); v is another one made orthogonal to u.

Students: K units w_k on the unit sphere (K = 1 is the spherical perceptron; K > 1 a two-layer
network with a fixed second layer of ones), correlation loss -y sum_k sigma(w_k.x), BAGJ step
w_k <- normalise(w_k + (delta/N) sum_b y_b sigma'(w_k.x_b) x_b) per unit. Under this loss the
units do not interact; the network has learned a direction when its best unit has. Escape along a
direction d is the first sample count with max_k |w_k.d| >= the threshold for d.

Randomness follows `sims.OnlineSGD`: a trajectory's key is fold_in(fold_in(key(root), N), seed);
spikes, start and data are fold_in(., 0 / 1 / 2); step t uses fold_in(data_key, t).
"""

from __future__ import annotations

import dataclasses
import functools as ft
import math
import re
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._activations import hermite_prob
from ._data import FourierBasis, draw_spike
from ._engine import chisquare, packed_signs


TWO_DIRECTION_VERSION = 1
"""Bumped whenever a change alters the numbers this engine produces."""

_TERM = re.compile(r"([+-]?)(\d*\.?\d*)\*?he(\d)")
_PROGRESS: dict[int, Callable[[int, int], None]] = {}


def _report(token, t, n_done):
    fn = _PROGRESS.get(int(token))
    if fn is not None:
        fn(int(t), int(n_done))


def hermite_combination(spec: str) -> dict[int, float]:
    """{j: c_j} for an activation sum_j c_j He_j written like `he2`, `-he4` or `he2-0.5he4`."""
    if not isinstance(spec, str):
        raise ValueError(f"activation must be a string such as he2 or he2-he4, got {spec!r}")
    text = spec.strip().lower().replace(" ", "")
    out: dict[int, float] = {}
    pos = 0
    for match in _TERM.finditer(text):
        if match.start() != pos or (pos > 0 and not match.group(1)):
            break
        sign, coeff, order = match.groups()
        value = float(coeff) if coeff not in ("", ".") else 1.0
        out[int(order)] = out.get(int(order), 0.0) + (-value if sign == "-" else value)
        pos = match.end()
    if not text or pos != len(text) or not any(out.values()) or 0 in out:
        raise ValueError(
            f"activation {spec!r} is not a combination of He_1..He_9: write e.g. he2, -he4 or he2-0.5he4"
        )
    return {j: c for j, c in sorted(out.items()) if c != 0}


MAX_ORDER = 6
"""Highest Hermite order an activation may use (its coefficients are a traced argument)."""


def combination_vector(spec: str) -> np.ndarray:
    """Coefficients (c_0, ..., c_MAX_ORDER) of sigma = sum_j c_j He_j."""
    terms = hermite_combination(spec)
    if max(terms) > MAX_ORDER:
        raise ValueError(
            f"activation {spec!r} uses He_{max(terms)}: the engine supports up to He_{MAX_ORDER}"
        )
    out = np.zeros(MAX_ORDER + 1)
    for j, c in terms.items():
        out[j] = c
    return out


def combination_derivative(coeffs: jax.Array, x: jax.Array) -> jax.Array:
    """sigma'(x) = sum_j c_j j He_{j-1}(x), for a coefficient vector of length MAX_ORDER + 1."""
    hes = [hermite_prob(j, x) for j in range(MAX_ORDER)]
    return sum(coeffs[j] * j * hes[j - 1] for j in range(1, MAX_ORDER + 1))


@dataclasses.dataclass(frozen=True)
class TwoDirectionTask:
    """The structured class of the two-direction task.

    **Arguments:**
    - `snr_amplitude`: beta_a > 0 (extra power along v).
    - `snr_phase`: beta_p > 0 (cumulant spike along u).
    - `coupling`: probability in [0, 1] that the phase latent's sign equals sign(lam).
    """

    snr_amplitude: float
    snr_phase: float
    coupling: float = 0.0

    def __post_init__(self):
        for name in ("snr_amplitude", "snr_phase"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (isinstance(self.coupling, int | float) and 0 <= self.coupling <= 1):
            raise ValueError(f"coupling must lie in [0, 1], got {self.coupling!r}")

    @property
    def params(self) -> tuple[float, float, float]:
        return (float(self.snr_amplitude), float(self.snr_phase), float(self.coupling))


def draw_directions(key: jax.Array, basis: FourierBasis, dtype=jnp.float32) -> tuple[jax.Array, jax.Array]:
    """(v, u): u a random-phase spike, v another one orthogonalised against u."""
    u = draw_spike(jax.random.fold_in(key, 0), basis, dtype)
    v = draw_spike(jax.random.fold_in(key, 1), basis, dtype)
    v = v - jnp.dot(v, u, precision="highest") * u
    return v / jnp.linalg.norm(v), u


def sample_two_direction(
    key: jax.Array, task: TwoDirectionTask, v: jax.Array, u: jax.Array, n: int, dtype=jnp.float32
) -> tuple[jax.Array, jax.Array]:
    """Labelled inputs (x, y): y = +1 structured, y = -1 noise, each with probability 1/2 (the
    same draws as one engine step of batch n)."""
    z, y, xv, xu = _draw(key, n, v.size, dtype, jnp.asarray(task.params, dtype))
    sv = jnp.where(y > 0, xv - z @ v, 0.0)
    su = jnp.where(y > 0, xu - z @ u, 0.0)
    return z + sv[:, None] * v[None, :] + su[:, None] * u[None, :], y


_EXECUTABLES: dict[tuple, object] = {}


@ft.cache
def _program(N: int, K: int, B: int, dtype_name: str):
    """The jitted run for one (N, K, B, dtype); the activation's Hermite coefficients, the task
    parameters, the thresholds and the stop rule are traced arguments, so every readout of one N
    and batch shares one executable."""
    dtype = jnp.dtype(dtype_name)

    def step_one(W, v, u, data_key, step, t, params, coeffs):
        z, y, xv, xu = _draw(jax.random.fold_in(data_key, t), B, N, dtype, params)
        basis = jnp.concatenate([W, v[None], u[None]], axis=0)  # (K + 2, N)
        proj = jnp.dot(z, basis.T, precision="highest")  # (B, K + 2)
        sv = jnp.where(y > 0, xv - proj[:, -2], 0.0)
        su = jnp.where(y > 0, xu - proj[:, -1], 0.0)
        mv, mu = W @ v, W @ u  # (K,)
        lam = proj[:, :-2] + sv[:, None] * mv[None, :] + su[:, None] * mu[None, :]  # (B, K)
        a = y[:, None] * combination_derivative(coeffs, lam)  # (B, K)
        grad = jnp.dot(a.T, z, precision="highest") + jnp.outer(a.T @ sv, v) + jnp.outer(a.T @ su, u)
        W = W + (step / N) * grad
        return W / jnp.linalg.norm(W, axis=1, keepdims=True)

    step_batch = jax.vmap(step_one, in_axes=(0, 0, 0, 0, 0, None, None, None))

    def overlaps(W, v, u):
        mv = jnp.max(jnp.abs(jnp.einsum("skn,sn->sk", W, v, precision="highest")), axis=1)
        mu = jnp.max(jnp.abs(jnp.einsum("skn,sn->sk", W, u, precision="highest")), axis=1)
        return mv, mu

    def run(W0, v, u, data_keys, steps, ends, params, coeffs, thresholds, need, token):
        S = W0.shape[0]
        mv0, mu0 = overlaps(W0, v, u)

        def finished_each(esc, bad):
            return ((esc >= 0) | ~need[None, :]).all(axis=1) | bad

        def body(carry, t_end):
            def cond(c):
                W, t, esc, bad = c
                return (t < t_end) & ~jnp.all(finished_each(esc, bad))

            def inner(c):
                W, t, esc, bad = c
                t = t + 1
                W = step_batch(W, v, u, data_keys, steps, t, params, coeffs)
                mv, mu = overlaps(W, v, u)
                hit = jnp.stack([mv >= thresholds[0], mu >= thresholds[1]], axis=1)
                esc = jnp.where((esc < 0) & hit, t, esc)
                bad = bad | ~jnp.isfinite(mv) | ~jnp.isfinite(mu)
                return W, t, esc, bad

            carry = jax.lax.while_loop(cond, inner, carry)
            W, t, esc, bad = carry
            mv, mu = overlaps(W, v, u)
            jax.debug.callback(_report, token, t, jnp.sum(finished_each(esc, bad)))
            return carry, (mv, mu, t)

        hit0 = jnp.stack([mv0 >= thresholds[0], mu0 >= thresholds[1]], axis=1)
        esc0 = jnp.where(hit0, 0, -1).astype(jnp.int32)
        init = (W0, jnp.int32(0), esc0, jnp.zeros(S, bool))
        (W, t, esc, bad), (mvs, mus, ts) = jax.lax.scan(body, init, ends)
        return mv0, mu0, mvs, mus, ts, esc, bad

    return jax.jit(run)


def _draw(key, n: int, dim: int, dtype, params):
    """One batch: noise z (n, N), labels y, and the spike coordinates (X_v, X_u) of the structured
    class, from two draws (one Gaussian block, one uniform block) to keep the step cheap."""
    ba, bp, coupling = params[0], params[1], params[2]
    k_gauss, k_unif = jax.random.split(key)
    gauss = jax.random.normal(k_gauss, (n, dim + 2), dtype)
    unif = jax.random.uniform(k_unif, (n, 3), dtype)
    z, lam, zeta = gauss[:, :dim], gauss[:, dim], gauss[:, dim + 1]
    y = jnp.where(unif[:, 0] < 0.5, 1.0, -1.0).astype(dtype)
    free = jnp.where(unif[:, 1] < 0.5, 1.0, -1.0).astype(dtype)
    g = jnp.where(unif[:, 2] < coupling, jnp.where(lam >= 0, 1.0, -1.0).astype(dtype), free)
    return z, y, jnp.sqrt(1 + ba) * lam, (zeta + jnp.sqrt(bp) * g) / jnp.sqrt(1 + bp)


@dataclasses.dataclass(frozen=True)
class TwoDirectionSGD:
    """Online SGD of K units on the two-direction task (see the module docstring).

    **Arguments:**
    - `dim`: N >= 4.
    - `task`: a `TwoDirectionTask`.
    - `activation`: a Hermite combination (`he2`, `-he4`, `he2-he4`, ...).
    - `units`: K (1: perceptron).
    - `batch`: samples per step (the step uses the batch sum, so per-sample dynamics do not depend on it).
    - `start`: `random` (every unit uniform on the sphere) or `conditioned` (every unit starts with
      m_v = m_u = N^-1/2).
    - `escape`: thresholds (on |m_v|, on |m_u|).
    - `stop_on`: the directions whose escape ends a trajectory (`v`, `u` or both).
    """

    dim: int
    task: TwoDirectionTask
    activation: str
    units: int = 1
    batch: int = 1
    start: str = "conditioned"
    escape: tuple[float, float] = (0.5, 0.5)
    stop_on: tuple[str, ...] = ("v", "u")
    dtype: str = "float32"
    prng_impl: str = "threefry2x32"

    def __post_init__(self):
        if not isinstance(self.dim, int | np.integer) or self.dim < 4:
            raise ValueError(f"dimension N={self.dim!r} is too small: use N >= 4")
        for name in ("units", "batch"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.start not in ("random", "conditioned"):
            raise ValueError(f"unknown start {self.start!r}: use random or conditioned")
        if self.start == "conditioned" and self.dim < 3:
            raise ValueError("a conditioned start needs N >= 3")
        if len(self.escape) != 2 or not all(0 < e < 1 for e in self.escape):
            raise ValueError(f"escape thresholds must lie in (0, 1), got {self.escape!r}")
        if not self.stop_on or any(d not in ("v", "u") for d in self.stop_on):
            raise ValueError(f"stop_on must name v and/or u, got {self.stop_on!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        combination_vector(self.activation)

    @property
    def basis(self) -> FourierBasis:
        return FourierBasis((self.dim,))

    def seed_keys(self, root_seed: int, seeds) -> jax.Array:
        root = jax.random.key(root_seed, impl=self.prng_impl)
        cell = jax.random.fold_in(root, self.dim)
        return jax.vmap(lambda s: jax.random.fold_in(cell, s))(jnp.asarray(seeds, jnp.uint32))

    @ft.cached_property
    def _initial_state(self):
        dtype, basis, K, N = jnp.dtype(self.dtype), self.basis, int(self.units), int(self.dim)

        def one(key):
            v, u = draw_directions(jax.random.fold_in(key, 0), basis, dtype)
            g = jax.random.normal(jax.random.fold_in(key, 1), (K, N), dtype)
            if self.start == "conditioned":
                m0 = jnp.asarray(1 / math.sqrt(N), dtype)
                g = g - jnp.outer(g @ v, v) - jnp.outer(g @ u, u)
                g = g / jnp.linalg.norm(g, axis=1, keepdims=True)
                w = m0 * (v + u)[None, :] + jnp.sqrt(1 - 2 * m0**2) * g
            else:
                w = g
            return v, u, w / jnp.linalg.norm(w, axis=1, keepdims=True)

        return jax.jit(jax.vmap(one))

    def initial_state(self, keys):
        """(v, u, W0) for each key: shapes (S, N), (S, N), (S, K, N)."""
        return self._initial_state(keys)

    def _run_inputs(self, keys) -> tuple:
        """The per-trajectory arrays the compiled run starts from (here the directions and W0)."""
        v, u, W0 = self.initial_state(keys)
        return W0, v, u

    @ft.cached_property
    def _program(self):
        return _program(int(self.dim), int(self.units), int(self.batch), self.dtype)

    def run(
        self,
        step: float,
        seeds,
        budget_samples: int,
        *,
        root_seed: int = 0,
        n_checkpoints: int = 48,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run every seed for at most `budget_samples` samples with BAGJ step `step`.

        **Returns:** numpy arrays over seeds: `initial_overlap_v/u` (best unit), `escape_v/u`
        (samples; NaN: no escape), `overlap_v/u` (seed, checkpoint; NaN after the run stopped),
        `finite`; plus `checkpoint_samples`, `wall_seconds`, `compile_seconds`.
        """
        if not (isinstance(step, int | float) and math.isfinite(step) and step > 0):
            raise ValueError(f"step must be a positive number, got {step!r}")
        seeds = np.atleast_1d(np.asarray(seeds))
        if seeds.size == 0 or not np.issubdtype(seeds.dtype, np.integer) or np.any(seeds < 0):
            raise ValueError(f"seeds must be non-negative integers, got {seeds.tolist()}")
        total = max(1, math.ceil(budget_samples / self.batch))
        if total >= 2**31 - 1:
            raise ValueError(f"budget of {budget_samples} samples is too large for one run")
        ends = np.unique(np.geomspace(1, total, n_checkpoints).round().astype(np.int64))
        # Pad to a fixed length (a repeated end is a no-op) so that one executable serves every budget.
        padded = np.concatenate([ends, np.full(n_checkpoints - ends.size, ends[-1])])
        keys = self.seed_keys(root_seed, seeds)
        leading = self._run_inputs(keys)
        data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)
        token = (id(self) ^ time.time_ns()) & 0x7FFFFFFF
        if progress is not None:
            _PROGRESS[token] = lambda t, d: progress(t * self.batch, d)
        dtype = jnp.dtype(self.dtype)
        task = self.task
        args = (
            *leading,
            data_keys,
            jnp.full((seeds.size,), step, dtype),
            jnp.asarray(padded, jnp.int32),
            jnp.asarray(task.params, dtype),
            jnp.asarray(combination_vector(self.activation), dtype),
            jnp.asarray(self.escape, dtype),
            jnp.asarray(["v" in self.stop_on, "u" in self.stop_on]),
            jnp.int32(token),
        )
        cache_key = (type(self).__name__, self.dim, self.units, self.batch, self.dtype, self.prng_impl)
        cache_key += (seeds.size, n_checkpoints)
        start = time.perf_counter()
        if cache_key not in _EXECUTABLES:
            _EXECUTABLES[cache_key] = self._program.lower(*args).compile()
        compiled = _EXECUTABLES[cache_key]
        compile_seconds = time.perf_counter() - start
        start = time.perf_counter()
        try:
            out = jax.block_until_ready(compiled(*args))
        finally:
            _PROGRESS.pop(token, None)
        wall = time.perf_counter() - start
        mv0, mu0, mvs, mus, ts, esc, bad = (np.asarray(a) for a in out)
        mvs, mus, ts = mvs[: ends.size], mus[: ends.size], ts[: ends.size]
        reached = (ts == ends)[:, None]
        escape = np.where(esc >= 0, esc.astype(np.float64) * self.batch, np.nan)
        return {
            "initial_overlap_v": mv0.astype(np.float64),
            "initial_overlap_u": mu0.astype(np.float64),
            "escape_v": escape[:, 0],
            "escape_u": escape[:, 1],
            "overlap_v": np.where(reached, mvs, np.nan).T.astype(np.float64),
            "overlap_u": np.where(reached, mus, np.nan).T.astype(np.float64),
            "finite": ~bad,
            "checkpoint_samples": ends.astype(np.float64) * self.batch,
            "wall_seconds": np.float64(wall),
            "compile_seconds": np.float64(compile_seconds),
        }


# ---- the exact reduced chain (r = 2, one unit) ---------------------------------------------------
def _chi_square(key, df: int, dtype):
    """One chi-square variate with df >= 1 degrees of freedom (df = 1: a squared normal)."""
    if df == 1:
        return jax.random.normal(key, (), dtype) ** 2
    return chisquare(key, df, dtype)


def reduced_steps_per_draw(batch: int) -> int:
    """Steps whose random numbers one draw produces in the reduced chain: about 4096 samples, at
    most 64 steps (a function of the batch only)."""
    return max(1, min(64, 4096 // int(batch)))


@ft.cache
def _reduced_program(N: int, B: int, dtype_name: str):
    """The jitted run of the reduced chain for one (N, B, dtype); same traced arguments and outputs
    as `_program`, with the state M = (m_v, m_u) per trajectory in place of (W, v, u)."""
    dtype = jnp.dtype(dtype_name)
    K = reduced_steps_per_draw(B)

    def draw_block(key, params):
        # Per sample: n1 (the v coordinate: lam for the structured class, z_v for noise), n2 (zeta
        # or z_u), z_e, a uniform for the coupling, a label bit and a free sign bit; per step one
        # chi-square with N - 3 degrees of freedom for the rest of the space.
        k_n, k_c, k_y, k_f, k_chi = jax.random.split(key, 5)
        normals = jax.random.normal(k_n, (K, 3, B), dtype)
        unif = jax.random.uniform(k_c, (K, B), dtype)
        y = packed_signs(k_y, (K, B), dtype)
        free = packed_signs(k_f, (K, B), dtype)
        chi = jax.vmap(lambda k: _chi_square(k, N - 3, dtype))(jax.random.split(k_chi, K))
        n1 = normals[:, 0]
        g = jnp.where(unif < params[2], jnp.where(n1 >= 0, 1.0, -1.0).astype(dtype), free)
        return normals, y, g, chi

    def step_one(M, draw, step, params, coeffs):
        ba, bp = params[0], params[1]
        normals, y, g, chi = draw
        n1, n2, z_e = normals[0], normals[1], normals[2]
        x_v = jnp.where(y > 0, jnp.sqrt(1 + ba) * n1, n1)
        x_u = jnp.where(y > 0, (n2 + jnp.sqrt(bp) * g) / jnp.sqrt(1 + bp), n2)
        m_v, m_u = M[0], M[1]
        c = jnp.sqrt(jnp.maximum(1 - m_v * m_v - m_u * m_u, 0.0))
        a = y * combination_derivative(coeffs, m_v * x_v + m_u * x_u + c * z_e)
        g_v, g_u, g_e, s = jnp.sum(a * x_v), jnp.sum(a * x_u), jnp.sum(a * z_e), jnp.sum(a * a)
        eta = step / N
        # |w'|^2 - 1 without cancellation (m_v^2 + m_u^2 + c^2 = 1), then m' - m accurate for tiny steps.
        excess = 2 * eta * (m_v * g_v + m_u * g_u + c * g_e)
        excess = excess + eta * eta * (g_v * g_v + g_u * g_u + g_e * g_e + s * chi)
        r = jnp.expm1(-0.5 * jnp.log1p(excess))  # 1/|w'| - 1
        new = jnp.stack([m_v + eta * g_v * (1 + r) + m_v * r, m_u + eta * g_u * (1 + r) + m_u * r])
        return jnp.clip(new, -1.0, 1.0)

    step_batch = jax.vmap(step_one, in_axes=(0, 0, 0, None, None))
    draw_batch = jax.vmap(draw_block, in_axes=(0, None))

    def run(M0, data_keys, steps, ends, params, coeffs, thresholds, need, token):
        S = M0.shape[0]

        def finished_each(esc, bad):
            return ((esc >= 0) | ~need[None, :]).all(axis=1) | bad

        def body(carry, t_end):
            def cond(c):
                M, t, esc, bad = c
                return (t < t_end) & ~jnp.all(finished_each(esc, bad))

            def inner(c):
                # One block of K steps drawn at once (key fold_in(data_key, block + 1)); a step is
                # taken only while it lies in (t, t_end] and some trajectory is unfinished, so the
                # run stops where the full engine's would. After a checkpoint inside a block, the
                # block is drawn again and only its remaining steps are taken (same numbers).
                M, t, esc, bad = c
                block = t // K
                base = block * K
                keys = jax.vmap(lambda k: jax.random.fold_in(k, block + 1))(data_keys)
                draws = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), draw_batch(keys, params))

                def one(c2, xs):
                    M, t, esc, bad = c2
                    j, draw = xs
                    tj = base + j + 1
                    live = (tj > t) & (tj <= t_end) & ~jnp.all(finished_each(esc, bad))
                    M = jnp.where(live, step_batch(M, draw, steps, params, coeffs), M)
                    am = jnp.abs(M)
                    hit = am >= thresholds[None, :]
                    esc = jnp.where(live & (esc < 0) & hit, tj, esc)
                    bad = bad | ~jnp.all(jnp.isfinite(M), axis=1)
                    return (M, jnp.where(live, tj, t), esc, bad), None

                xs = (jnp.arange(K, dtype=jnp.int32), draws)
                return jax.lax.scan(one, (M, t, esc, bad), xs)[0]

            carry = jax.lax.while_loop(cond, inner, carry)
            M, t, esc, bad = carry
            jax.debug.callback(_report, token, t, jnp.sum(finished_each(esc, bad)))
            return carry, (jnp.abs(M[:, 0]), jnp.abs(M[:, 1]), t)

        A0 = jnp.abs(M0)
        esc0 = jnp.where(A0 >= thresholds[None, :], 0, -1).astype(jnp.int32)
        init = (M0, jnp.int32(0), esc0, jnp.zeros(S, bool))
        (M, t, esc, bad), (mvs, mus, ts) = jax.lax.scan(body, init, ends)
        return A0[:, 0], A0[:, 1], mvs, mus, ts, esc, bad

    return jax.jit(run)


@dataclasses.dataclass(frozen=True)
class ReducedTwoDirectionSGD(TwoDirectionSGD):
    """The exact Markov chain of (m_v, m_u) for the perceptron (K = 1), O(1) work per sample.

    Both classes are isotropic in the N - 2 coordinates orthogonal to span(v, u). Write the unit
    weight as w = m_v v + m_u u + c e, c = sqrt(1 - m_v^2 - m_u^2), e a unit vector orthogonal to
    v and u. A sample's coordinates along v and u (the class's X_v, X_u or z_v, z_u, drawn as in
    `_draw`) and along e (z_e ~ N(0, 1)) give lambda = m_v x_v + m_u x_u + c z_e. With
    a_b = y_b sigma'(lambda_b), the batch gradient has G_v = sum a x_v, G_u = sum a x_u,
    G_e = sum a z_e, and a rest that, given the a_b, is Gaussian in N - 3 dimensions with
    variance S = sum a_b^2 per coordinate: squared norm S chi^2_{N-3}. After w' = w + (delta/N) G,

        m_d' = (m_d + eta G_d) / |w'|,  |w'|^2 = sum_{d=v,u} (m_d + eta G_d)^2 + (c + eta G_e)^2
                                                 + eta^2 S chi^2_{N-3},

    and by the rotation invariance the next step's law depends on (m_v', m_u') only. The random
    start is the pair of overlaps of a uniform unit vector, (z_1, z_2) / sqrt(z_1^2 + z_2^2 +
    chi^2_{N-2}); the conditioned start is m_v = m_u = N^-1/2, as in `TwoDirectionSGD`. Same
    arguments (with `units=1` only), same `run` and output; the random numbers differ from the full
    engine's, so the two agree in distribution, not trajectory by trajectory. The numbers of
    `reduced_steps_per_draw(batch)` steps are drawn at once.
    """

    def __post_init__(self):
        super().__post_init__()
        if self.units != 1:
            raise ValueError(
                f"the reduced two-direction chain follows one unit (the perceptron), got "
                f"units={self.units!r}: use TwoDirectionSGD for units > 1"
            )

    @ft.cached_property
    def _initial_state(self):
        dtype, N = jnp.dtype(self.dtype), int(self.dim)

        def one(key):
            if self.start == "conditioned":
                return jnp.full((2,), 1 / math.sqrt(N), dtype)
            k_z, k_c = jax.random.split(jax.random.fold_in(key, 1))
            z = jax.random.normal(k_z, (2,), dtype)
            return z / jnp.sqrt(jnp.sum(z * z) + chisquare(k_c, N - 2, dtype))

        return jax.jit(jax.vmap(one))

    def initial_state(self, keys):
        """The start (m_v, m_u) for each key: shape (S, 2)."""
        return self._initial_state(keys)

    def _run_inputs(self, keys) -> tuple:
        return (self.initial_state(keys),)

    @ft.cached_property
    def _program(self):
        return _reduced_program(int(self.dim), int(self.batch), self.dtype)
