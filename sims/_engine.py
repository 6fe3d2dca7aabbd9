"""The full and reduced online-SGD engines for a spherical perceptron with correlation loss, and the
SDE rung (all on the shared driver, `sims._driver._SphericalSGD`).

- `OnlineSGD` (the **full** engine) works in Fourier coordinates with O(N) work per sample: one step
  draws B fresh labelled samples per trajectory, takes the BAGJ step
  w <- normalise(w + (delta/N) sum_b y_b sigma'(lambda_b) x_b) (the gradient of -y sigma(w.x)), and
  tracks the overlap m = w.u.
- `ReducedSGD` (the **reduced** engine) simulates the exact Markov chain of the overlap m for
  isotropic (Gaussian-noise) tasks with O(1) work per sample; see its docstring and
  `docs/reduced-dynamics.md` for the derivation.
- `OverlapSDE`: Euler-Maruyama for the diffusion approximation of the overlap.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._activations import activation_derivative
from ._data import draw_noise, draw_spike
from ._driver import (
    _SphericalSGD,
    chisquare,
    chisquare_from,
    normal_from_words,
    signs_from_words,
    uniform_from_words,
    words_per_float,
)
from ._moments import check_polynomial, moment_table


@dataclasses.dataclass(frozen=True)
class OnlineSGD(_SphericalSGD):
    """The **full** engine: weights w in R^N (Fourier coordinates), O(N) work per sample.

    Exact for every task, noise and input shape; see [`sims._driver._SphericalSGD`][] for the
    arguments.
    """

    name = "full"

    def _init_one(self, key):
        dtype = jnp.dtype(self.dtype)
        u = draw_spike(jax.random.fold_in(key, 0), self.basis, dtype)
        v = jax.random.normal(jax.random.fold_in(key, 1), (self.dim,), dtype)
        if self.start == "random":
            w = v / jnp.linalg.norm(v)
        else:
            m0 = jnp.asarray(self.start_scale / math.sqrt(self.dim), dtype)
            v = v - (v @ u) * u
            w = m0 * u + jnp.sqrt(1 - m0**2) * v / jnp.linalg.norm(v)
        w = w * self._favour(jnp.dot(w, u, precision="highest"))
        return w, u

    def _overlap_one(self, w, u):
        return jnp.dot(w, u, precision="highest")

    def _step_one(self, w, u, key, step):
        dtype = jnp.dtype(self.dtype)
        basis, task, B, N = self.basis, self.task, int(self.batch), int(self.dim)
        dsigma = activation_derivative(self.activation)
        k_z, k_y, k_g = jax.random.split(key, 3)
        z = draw_noise(k_z, basis, (B,), self.noise, dtype)
        y = jax.random.rademacher(k_y, (B,), dtype)
        g = task.latent.sample(k_g, (B,), dtype)
        if B == 1:
            # Under vmap, multiply-and-sum beats XLA's batched (1, N) x (N, 2) products on CPU.
            z_w, z_u, m = jnp.sum(z * w, axis=1), jnp.sum(z * u, axis=1), jnp.sum(w * u)
        else:
            proj = jnp.dot(z, jnp.stack([w, u], axis=1), precision="highest")  # (B, 2)
            z_w, z_u = proj[:, 0], proj[:, 1]
            m = jnp.dot(w, u, precision="highest")
        shift = jnp.where(y > 0, task.spike_coordinate(z_u, g) - z_u, 0.0)
        lam = z_w + shift * m
        a = y * dsigma(lam)
        if B == 1:
            grad_dir = a[0] * z[0] + jnp.sum(a * shift) * u
        else:
            grad_dir = jnp.dot(a, z, precision="highest") + jnp.sum(a * shift) * u
        w = w + (step / N) * grad_dir
        return w / jnp.linalg.norm(w)


def overlap_update(m, c, g_u, g_e, s, chi, eta):
    """The reduced chain's exact step m -> m' from the batch triple (G_u, G_e, S) and chi^2_{N-2}:
    |w'|^2 - 1 without cancellation (m^2 + c^2 = 1), then m' - m in a form accurate for tiny steps."""
    excess = 2 * eta * (m * g_u + c * g_e) + eta * eta * (g_u * g_u + g_e * g_e + s * chi)
    r = jnp.expm1(-0.5 * jnp.log1p(excess))  # 1/sqrt(1 + excess) - 1
    m_new = m + eta * g_u * (1 + r) + m * r
    return jnp.clip(m_new, -1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class ReducedSGD(_SphericalSGD):
    """The **reduced** engine: the exact Markov chain of the overlap m, O(1) work per sample.

    With Gaussian noise the task is isotropic around the spike u: write the unit-norm weight as
    w = m u + c e with c = sqrt(1 - m^2) and e a unit vector orthogonal to u. A sample's
    coordinates along u (x_u: the task's spike coordinate, or z_u for noise) and along e (z_e, a
    standard normal) are all the student sees, since lambda = w.x = m x_u + c z_e. The batch
    gradient direction G = sum_b a_b x_b with a_b = y_b sigma'(lambda_b) splits into
    G_u = sum a_b x_{b,u}, G_e = sum a_b z_{b,e} and a part orthogonal to span(u, e) that, given
    the a_b, is Gaussian with variance S = sum a_b^2 per coordinate, so its squared norm is
    S chi^2_{N-2}. After the step w' = w + (delta/N) G and renormalisation,

        m' = (m + eta G_u) / sqrt((m + eta G_u)^2 + (c + eta G_e)^2 + eta^2 S chi^2_{N-2}),

    eta = delta / N, and by isotropy the law of the next step again depends on m' only. One step
    costs 2B normals, B label bits, B latent draws and one chi-square draw, whatever N. The
    random start draws m0 = z / sqrt(z^2 + chi^2_{N-1}) (the overlap of a uniform unit vector).

    Exact only for `noise="gaussian"`; the input shape does not matter (the law is rotation
    invariant). Its random numbers differ from the full engine's: the two agree in distribution,
    not trajectory by trajectory.
    """

    name = "reduced"

    def __post_init__(self):
        super().__post_init__()
        if self.noise != "gaussian":
            raise ValueError(
                f"the reduced engine is exact only for gaussian noise, not {self.noise!r}: "
                "use the full engine (--engine full or auto)"
            )

    def _init_one(self, key):
        dtype = jnp.dtype(self.dtype)
        if self.start == "random":
            k_z, k_c = jax.random.split(jax.random.fold_in(key, 1))
            z = jax.random.normal(k_z, (), dtype)
            rest = chisquare(k_c, self.dim - 1, dtype)
            m = z / jnp.sqrt(z * z + rest)
        else:
            m = jnp.asarray(self.start_scale / math.sqrt(self.dim), dtype)
        m = m * self._favour(m)
        return m, jnp.zeros((), dtype)

    def _overlap_one(self, m, aux):
        return m

    @property
    def steps_per_draw(self) -> int:
        """About 4096 samples of one trajectory per draw, at most 64 steps (a function of the
        batch only, so a trajectory's numbers do not depend on how many run beside it)."""
        return max(1, min(64, 4096 // int(self.batch)))

    @property
    def scan_unroll(self) -> int:
        """The whole block (K <= 16 steps, batch >= 256) unrolled: at N = 256, batch N, the rolled
        loop's per-step cost was about 60% of the random numbers' (docs/benchmarks.md)."""
        K = self.steps_per_draw
        return K if K <= 16 else 1

    def _draws_one(self, block_key):
        """The block's numbers from one draw of random words, laid out step-major: per step 2B
        normals, B label bits, B latent bits (Rademacher latent), 2 chi-square candidate pairs
        and the seed of the chi-square's rarely entered rejection loop (`chisquare_from`); a
        non-Rademacher latent is drawn from its own key. (One draw
        instead of five compiles about 6x faster and is the random-number floor's layout.)"""
        dtype = jnp.dtype(self.dtype)
        K, B, N = self.steps_per_draw, int(self.batch), int(self.dim)
        f, sign_words = words_per_float(dtype), -(-B // 32)
        rademacher = self.task.latent.is_rademacher
        per_step = f * (2 * B + 4) + 1 + sign_words * (2 if rademacher else 1)
        words = jax.random.bits(block_key, (K, per_step), jnp.uint32)
        at = 0

        def take(n):
            nonlocal at
            at += n
            return words[:, at - n : at]

        z = normal_from_words(take(2 * B * f), dtype).reshape(K, 2, B)
        x = normal_from_words(take(2 * f), dtype)
        u = 1 - uniform_from_words(take(2 * f), dtype)  # in (0, 1]: log(u) is finite
        y = jax.vmap(lambda w: signs_from_words(w, (B,), dtype))(take(sign_words))
        if rademacher:
            g = jax.vmap(lambda w: signs_from_words(w, (B,), dtype))(take(sign_words))
        else:
            g = self.task.latent.sample(jax.random.fold_in(block_key, 1), (K, B), dtype)
        seed = take(1)[:, 0]  # the rejection loop's seed (rarely used)
        chi = jax.vmap(lambda sd, a, b: chisquare_from(sd, a, b, N - 2))(seed, x, u)
        return z, y, g, chi

    def _step_one(self, m, aux, draw, step):
        task, N = self.task, int(self.dim)
        dsigma = activation_derivative(self.activation)
        z, y, g, chi = draw
        z_u, z_e = z[0], z[1]
        x_u = jnp.where(y > 0, task.spike_coordinate(z_u, g), z_u)
        c = jnp.sqrt((1 - m) * (1 + m))
        a = y * dsigma(m * x_u + c * z_e)
        g_u, g_e, s = jnp.sum(a * x_u), jnp.sum(a * z_e), jnp.sum(a * a)
        return overlap_update(m, c, g_u, g_e, s, chi, step / N)


@dataclasses.dataclass(frozen=True)
class OverlapSDE(ReducedSGD):
    """The **SDE** rung: Euler-Maruyama for the diffusion approximation of the overlap,

        dm = [(delta/N)(1 - m^2) F(m) - (delta^2/(2N)) s m] dn + (delta/N) sqrt(s) dW_n,

    with F(m) = -phi'(m) the population force (a polynomial with `force_coefficients`, lowest
    order first) and s = E[sigma'^2] the `gradient_scale`, both supplied by the theory side.
    One Euler step spans `batch` samples. Starts as the reduced engine does. An approximation,
    not an exact engine: it ignores the m-dependence of the noise and all higher cumulants.
    """

    force_coefficients: tuple[float, ...] = ()
    gradient_scale: float = 1.0

    name = "sde"

    def __post_init__(self):
        super().__post_init__()
        if not self.force_coefficients or not all(math.isfinite(c) for c in self.force_coefficients):
            raise ValueError(f"force_coefficients must be finite numbers, got {self.force_coefficients!r}")
        if not (math.isfinite(self.gradient_scale) and self.gradient_scale > 0):
            raise ValueError(f"gradient_scale must be positive, got {self.gradient_scale!r}")

    @property
    def steps_per_draw(self) -> int:
        return 256

    def _draws_one(self, block_key):
        return jax.random.normal(block_key, (self.steps_per_draw,), jnp.dtype(self.dtype))

    def _step_one(self, m, aux, xi, step):
        B, N, s = float(self.batch), float(self.dim), self.gradient_scale
        force = jnp.polyval(jnp.asarray(self.force_coefficients[::-1], m.dtype), m)
        mu = step / N * (1 - m * m) * force - step * step / (2 * N) * s * m
        m_new = m + B * mu + math.sqrt(B * s) * (step / N) * xi
        return jnp.clip(m_new, -1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class MomentMatchedSGD(ReducedSGD):
    """The **moment-matched** rung: the reduced chain with the batch drawn as a Gaussian triple.

    Per SGD step the batch enters the overlap update only through the sums G_u = sum a_b x_{b,u},
    G_e = sum a_b z_{b,e} and S = sum a_b^2 (see `ReducedSGD`). This engine draws that triple from
    the Gaussian with its exact mean B mu(m) and covariance B Sigma(m), where mu and Sigma are one
    sample's moments at the current overlap, computed by quadrature on the data model
    (`sims._moments`, tabulated on `table_size` points of m in [-1, 1] and interpolated
    linearly), clips S at 0, draws chi^2_{N-2} exactly and applies the exact update. One step costs
    3 normals and one chi-square variate, whatever the batch: about B times fewer random numbers
    than the exact chain at batch B.

    An approximation, not an exact engine: it keeps the first two moments of the batch sum and
    drops its higher cumulants (which shrink like B^-1/2 relative to the Gaussian part). Validated
    against the exact chain in law by `engines.moment_matched_vs_reduced`; the control
    `engines.moment_matched_control` (`covariance_scale` = 1.2, a covariance 20% too large) shows
    the same check rejects a wrong variant.

    **Arguments** (beyond the driver's): `table_size` (grid points of m), `quadrature_nodes`
    (Gauss nodes per coordinate; default the fewest that make He_j's moments exact),
    `covariance_scale` (1 except in the control).
    """

    table_size: int = 16385
    quadrature_nodes: int | None = None
    covariance_scale: float = 1.0

    name = "moment-matched"

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.table_size, int) or self.table_size < 65:
            raise ValueError(f"table_size must be an integer >= 65, got {self.table_size!r}")
        nodes = self.quadrature_nodes
        if nodes is not None and (not isinstance(nodes, int) or not 4 <= nodes <= 200):
            raise ValueError(f"quadrature_nodes must be None or an integer in [4, 200], got {nodes!r}")
        if not (math.isfinite(self.covariance_scale) and self.covariance_scale > 0):
            raise ValueError(f"covariance_scale must be positive, got {self.covariance_scale!r}")
        check_polynomial(self.activation)

    @functools.cached_property
    def moment_table(self) -> np.ndarray:
        """(table_size, 9) float64: per grid point of m the mean and the Cholesky factor of one
        sample's triple (`sims._moments.moment_table`)."""
        table = moment_table(self.task, self.activation, self.table_size, self.quadrature_nodes).copy()
        table[:, 3:] *= math.sqrt(self.covariance_scale)
        return table

    @property
    def steps_per_draw(self) -> int:
        return 256

    def _draws_one(self, block_key):
        """Per step 3 normals, 2 chi-square candidate pairs and the chi-square loop's seed, from
        one draw of random words (as `ReducedSGD`)."""
        dtype = jnp.dtype(self.dtype)
        K, N, f = self.steps_per_draw, int(self.dim), words_per_float(dtype)
        words = jax.random.bits(block_key, (K, 7 * f + 1), jnp.uint32)
        xi = normal_from_words(words[:, : 3 * f], dtype)
        x = normal_from_words(words[:, 3 * f : 5 * f], dtype)
        u = 1 - uniform_from_words(words[:, 5 * f : 7 * f], dtype)
        chi = jax.vmap(lambda sd, a, b: chisquare_from(sd, a, b, N - 2))(words[:, -1], x, u)
        return xi, chi

    def _step_one(self, m, aux, draw, step):
        dtype = m.dtype
        N, B, size = int(self.dim), float(self.batch), self.table_size
        table = jnp.asarray(self.moment_table, dtype)
        xi, chi = draw
        pos = (m + 1) * ((size - 1) / 2)
        i = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, size - 2)
        f = pos - i
        row = table[i] * (1 - f) + table[i + 1] * f
        mu, l = row[:3], row[3:]
        root_b = math.sqrt(B)
        g_u = B * mu[0] + root_b * (l[0] * xi[0])
        g_e = B * mu[1] + root_b * (l[1] * xi[0] + l[2] * xi[1])
        s = jnp.maximum(B * mu[2] + root_b * (l[3] * xi[0] + l[4] * xi[1] + l[5] * xi[2]), 0.0)
        c = jnp.sqrt((1 - m) * (1 + m))
        return overlap_update(m, c, g_u, g_e, s, chi, step / N)


ENGINE_CLASSES = {"full": OnlineSGD, "reduced": ReducedSGD, "moment-matched": MomentMatchedSGD}


def reduced_is_exact(noise: str) -> bool:
    """Whether the reduced engine is exact for this noise class (isotropic noise only)."""
    return noise == "gaussian"
