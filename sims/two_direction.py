"""Online SGD on the two-direction task: amplitude along v, phase along u, optionally sign-tied.

Data (our definition; the symbolic side is `theory/two_direction.py`). Noise class: independent
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
import math
import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._activations import hermite_prob
from ._data import FourierBasis, draw_spike
from ._driver import _SphericalSGD, chisquare, packed_signs


TWO_DIRECTION_VERSION = 2
"""2: both two-direction engines run on the shared driver (fixed chunks of trajectories, host
checkpoints, a chunk stops once its trajectories are done; task parameters and activation are
compiled in), so cells of version 1 are recomputed. Keys and draws are those of version 1."""
"""Bumped whenever a change alters the numbers this engine produces."""

_TERM = re.compile(r"([+-]?)(\d*\.?\d*)\*?he(\d)")
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
class TwoDirectionSGD(_SphericalSGD):
    """Online SGD of K units on the two-direction task (see the module docstring), on the shared
    driver of the other engines (keys, fixed chunks, devices, checkpoints, early stop), with a
    vector overlap: (max_k |w_k.v|, max_k |w_k.u|), the best unit's overlap with each direction.

    **Arguments** (besides the driver's `dim`, `batch`, `dtype`, `prng_impl`, `chunk`):
    - `task`: a `TwoDirectionTask`.
    - `activation`: a Hermite combination (`he2`, `-he4`, `he2-he4`, ...).
    - `units`: K (1: perceptron).
    - `start`: `random` (every unit uniform on the sphere) or `conditioned` (every unit starts with
      m_v = m_u = N^-1/2).
    - `escape`: thresholds (on |m_v|, on |m_u|).
    - `stop_on`: the directions whose escape ends a trajectory (`v`, `u` or both).
    """

    start: str = "conditioned"
    units: int = 1
    escape: tuple[float, float] = (0.5, 0.5)
    stop_on: tuple[str, ...] = ("v", "u")

    name = "two-direction"
    overlap_names = ("v", "u")

    def __post_init__(self):
        super().__post_init__()
        if self.shape is not None:
            raise ValueError("the two-direction task has signals of length N only (no image shape)")
        if not isinstance(self.units, int | np.integer) or self.units < 1:
            raise ValueError(f"units must be a positive integer, got {self.units!r}")
        if len(self.escape) != 2 or not all(0 < e < 1 for e in self.escape):
            raise ValueError(f"escape thresholds must lie in (0, 1), got {self.escape!r}")
        if not self.stop_on or any(d not in ("v", "u") for d in self.stop_on):
            raise ValueError(f"stop_on must name v and/or u, got {self.stop_on!r}")

    def _check_activation(self) -> None:
        combination_vector(self.activation)

    @property
    def escape_thresholds(self) -> tuple[float, float]:
        return tuple(float(e) for e in self.escape)

    @property
    def escape_needed(self) -> tuple[bool, bool]:
        return ("v" in self.stop_on, "u" in self.stop_on)

    @property
    def _params(self):
        return jnp.asarray(self.task.params, jnp.dtype(self.dtype))

    @property
    def _coeffs(self):
        return jnp.asarray(combination_vector(self.activation), jnp.dtype(self.dtype))

    def _init_one(self, key):
        """(W0 (K, N), (v, u)): directions from fold_in(key, 0), start noise from fold_in(key, 1)."""
        dtype, K, N = jnp.dtype(self.dtype), int(self.units), int(self.dim)
        v, u = draw_directions(jax.random.fold_in(key, 0), self.basis, dtype)
        g = jax.random.normal(jax.random.fold_in(key, 1), (K, N), dtype)
        if self.start == "conditioned":
            m0 = jnp.asarray(1 / math.sqrt(N), dtype)
            g = g - jnp.outer(g @ v, v) - jnp.outer(g @ u, u)
            g = g / jnp.linalg.norm(g, axis=1, keepdims=True)
            w = m0 * (v + u)[None, :] + jnp.sqrt(1 - 2 * m0**2) * g
        else:
            w = g
        return w / jnp.linalg.norm(w, axis=1, keepdims=True), (v, u)

    def _overlap_one(self, W, aux):
        v, u = aux
        mv = jnp.max(jnp.abs(jnp.dot(W, v, precision="highest")))
        mu = jnp.max(jnp.abs(jnp.dot(W, u, precision="highest")))
        return jnp.stack([mv, mu])

    def _step_one(self, W, aux, key, step):
        v, u = aux
        B, N = int(self.batch), int(self.dim)
        z, y, xv, xu = _draw(key, B, N, jnp.dtype(self.dtype), self._params)
        basis = jnp.concatenate([W, v[None], u[None]], axis=0)  # (K + 2, N)
        proj = jnp.dot(z, basis.T, precision="highest")  # (B, K + 2)
        sv = jnp.where(y > 0, xv - proj[:, -2], 0.0)
        su = jnp.where(y > 0, xu - proj[:, -1], 0.0)
        mv, mu = W @ v, W @ u  # (K,)
        lam = proj[:, :-2] + sv[:, None] * mv[None, :] + su[:, None] * mu[None, :]  # (B, K)
        a = y[:, None] * combination_derivative(self._coeffs, lam)  # (B, K)
        grad = jnp.dot(a.T, z, precision="highest") + jnp.outer(a.T @ sv, v) + jnp.outer(a.T @ su, u)
        W = W + (step / N) * grad
        return W / jnp.linalg.norm(W, axis=1, keepdims=True)

    def run(
        self,
        step,
        seeds,
        budget_samples: int,
        *,
        root_seed: int = 0,
        n_checkpoints: int = 48,
        progress: Callable[[int, int], None] | None = None,
        devices: int | None = None,
        stop_after: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Run every seed for at most `budget_samples` samples with BAGJ step `step` (the driver's
        `run` with one step; see `sims.OnlineSGD.run` for `devices` and `stop_after`, where a
        trajectory counts as escaped once every direction of `stop_on` escaped).

        **Returns:** numpy arrays over seeds: `initial_overlap_v/u` (best unit), `escape_v/u`
        (samples; NaN: no escape), `overlap_v/u` (seed, checkpoint; NaN after its chunk stopped),
        `finite`; plus `checkpoint_samples`, `stop_samples`, `wall_seconds`, `compile_seconds`.
        """
        if isinstance(step, list | tuple | np.ndarray) and np.size(step) == 1:
            step = float(np.asarray(step).reshape(-1)[0])  # the driver's form: a list of one step
        if not (isinstance(step, int | float) and math.isfinite(step) and step > 0):
            raise ValueError(f"step must be a positive number, got {step!r}")
        out = super().run(
            [step],
            seeds,
            budget_samples,
            root_seed=root_seed,
            n_checkpoints=n_checkpoints,
            progress=progress,
            devices=devices,
            stop_after=stop_after,
        )
        f64 = lambda a: np.asarray(a, np.float64)
        return {
            "initial_overlap_v": f64(out["initial_overlap"][0, :, 0]),
            "initial_overlap_u": f64(out["initial_overlap"][0, :, 1]),
            "escape_v": out["escape_samples"][0, :, 0],
            "escape_u": out["escape_samples"][0, :, 1],
            "overlap_v": f64(out["overlap"][0, :, 0]),
            "overlap_u": f64(out["overlap"][0, :, 1]),
            "finite": out["finite"][0],
        } | {k: out[k] for k in ("checkpoint_samples", "stop_samples", "wall_seconds", "compile_seconds")}


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

    def _init_one(self, key):
        """((m_v, m_u), no constants): the start overlaps, from fold_in(key, 1) when random."""
        dtype, N = jnp.dtype(self.dtype), int(self.dim)
        if self.start == "conditioned":
            return jnp.full((2,), 1 / math.sqrt(N), dtype), jnp.zeros((), dtype)
        k_z, k_c = jax.random.split(jax.random.fold_in(key, 1))
        z = jax.random.normal(k_z, (2,), dtype)
        return z / jnp.sqrt(jnp.sum(z * z) + chisquare(k_c, N - 2, dtype)), jnp.zeros((), dtype)

    def _overlap_one(self, M, aux):
        return jnp.abs(M)  # as the full engine's best-unit overlaps: magnitudes

    @property
    def steps_per_draw(self) -> int:
        return reduced_steps_per_draw(self.batch)

    def _draws_one(self, block_key):
        # Per sample: n1 (the v coordinate: lam for the structured class, z_v for noise), n2 (zeta
        # or z_u), z_e, a uniform for the coupling, a label bit and a free sign bit; per step one
        # chi-square with N - 3 degrees of freedom for the rest of the space.
        dtype, K, B, N = jnp.dtype(self.dtype), self.steps_per_draw, int(self.batch), int(self.dim)
        k_n, k_c, k_y, k_f, k_chi = jax.random.split(block_key, 5)
        normals = jax.random.normal(k_n, (K, 3, B), dtype)
        unif = jax.random.uniform(k_c, (K, B), dtype)
        y = packed_signs(k_y, (K, B), dtype)
        free = packed_signs(k_f, (K, B), dtype)
        chi = jax.vmap(lambda k: _chi_square(k, N - 3, dtype))(jax.random.split(k_chi, K))
        n1 = normals[:, 0]
        g = jnp.where(unif < self._params[2], jnp.where(n1 >= 0, 1.0, -1.0).astype(dtype), free)
        return normals, y, g, chi

    def _step_one(self, M, aux, draw, step):
        params, N = self._params, int(self.dim)
        ba, bp = params[0], params[1]
        normals, y, g, chi = draw
        n1, n2, z_e = normals[0], normals[1], normals[2]
        x_v = jnp.where(y > 0, jnp.sqrt(1 + ba) * n1, n1)
        x_u = jnp.where(y > 0, (n2 + jnp.sqrt(bp) * g) / jnp.sqrt(1 + bp), n2)
        m_v, m_u = M[0], M[1]
        c = jnp.sqrt(jnp.maximum(1 - m_v * m_v - m_u * m_u, 0.0))
        a = y * combination_derivative(self._coeffs, m_v * x_v + m_u * x_u + c * z_e)
        g_v, g_u, g_e, s = jnp.sum(a * x_v), jnp.sum(a * x_u), jnp.sum(a * z_e), jnp.sum(a * a)
        eta = step / N
        # |w'|^2 - 1 without cancellation (m_v^2 + m_u^2 + c^2 = 1), then m' - m accurate for tiny steps.
        excess = 2 * eta * (m_v * g_v + m_u * g_u + c * g_e)
        excess = excess + eta * eta * (g_v * g_v + g_u * g_u + g_e * g_e + s * chi)
        r = jnp.expm1(-0.5 * jnp.log1p(excess))  # 1/|w'| - 1
        new = jnp.stack([m_v + eta * g_v * (1 + r) + m_v * r, m_u + eta * g_u * (1 + r) + m_u * r])
        return jnp.clip(new, -1.0, 1.0)
