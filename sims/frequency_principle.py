"""Frequency-principle measurements (Xu et al.): spectral peaks of 1-D fits, the Gaussian filtering
method for high-dimensional data, and layer-wise effective targets (deep frequency principle).

Conventions used throughout (ours, where the papers' available text leaves gaps):

- **Kernel.** A true Gaussian of *width* `delta` (a length): `G(x, x') = exp(-|x - x'|^2 / (2 delta^2))`,
  row-normalised over the sample (a Nadaraya-Watson smoother, self-weight included). Xu et al. write
  `exp(-|x - x'|^2 / (2 delta))` with `delta` a variance; their `delta` is our `delta**2`. Rows are
  normalised with a softmax over `-d^2 / (2 delta^2)`, so a `delta` far below the nearest-neighbour
  distance gives the identity (self-weight 1) instead of 0/0.
- **Centred targets.** Before any filtering the target's sample mean is removed per output column
  (its zero-frequency part), so a constant target has no power and the low-frequency ratio of
  random labels has a floor near 0, not near the squared class frequencies.
- **LFR.** `LFR(delta) = |K_delta y|^2 / |y|^2` (Frobenius norms over samples and output columns).
  For labels permuted uniformly at random its expectation is exactly
  `(sum_ij K_ij^2 - 1) / (n - 1)` (the *floor*), for any centred `y`.
- **Per-layer normalisation** (deep frequency principle): each layer's point cloud is rescaled so
  that its median pairwise distance is 1; `delta` is then given relative to that median, and the
  same relative grid is used for every layer and every checkpoint.

Everything here is JAX (float32 unless the caller enables x64), jit-compiled and vmapped over seeds;
the reference `lfr_reference` is NumPy float64, kept independent of the JAX path on purpose.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._errors import SimulationError


ACTIVATIONS: dict[str, Callable] = {"tanh": jnp.tanh, "relu": jax.nn.relu}


# ----------------------------------------------------------------------------------------------------
# Multi-layer perceptrons (plain JAX: a list of (W, b) pairs)
# ----------------------------------------------------------------------------------------------------


def init_mlp(key, sizes: tuple[int, ...]) -> list[tuple[jax.Array, jax.Array]]:
    """PyTorch-default initialisation: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    **Arguments:** `key` a typed PRNG key; `sizes` = (input, hidden..., output).
    **Returns:** the list of `(W, b)` with `W` of shape (fan_in, fan_out).
    """
    shapes = [((a, b), (b,)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    total = sum(a * b + b for (a, b), _ in shapes)
    u = jax.random.uniform(key, (total,), minval=-1.0, maxval=1.0)  # one draw: one threefry to compile
    params, at = [], 0
    for (fan_in, fan_out), _ in shapes:
        bound = 1.0 / math.sqrt(fan_in)
        w = u[at : at + fan_in * fan_out].reshape(fan_in, fan_out) * bound
        at += fan_in * fan_out
        b = u[at : at + fan_out] * bound
        at += fan_out
        params.append((w, b))
    return params


def mlp_forward(params, x, activation: str):
    """Return `(output, hidden)`: `hidden[l-1]` is the post-activation of hidden layer l = 1..L."""
    act = ACTIVATIONS[activation]
    hidden = []
    h = x
    for w, b in params[:-1]:
        h = act(jnp.dot(h, w, precision="highest") + b)
        hidden.append(h)
    w, b = params[-1]
    return jnp.dot(h, w, precision="highest") + b, hidden


@dataclasses.dataclass(frozen=True)
class Trainer:
    """Full-batch Adam on the mean squared error, vmapped over seeds, advanced in jit-compiled blocks.

    `measure(params) -> pytree` is evaluated (jit, vmapped) at step 0 and after every block of
    `record_every` steps, so a caller can show progress between blocks.
    """

    sizes: tuple[int, ...]
    activation: str
    learning_rate: float

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}: use one of {', '.join(sorted(ACTIVATIONS))}"
            )
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning rate {self.learning_rate!r} must be positive and finite")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"layer sizes {self.sizes!r} must be >= 1 and at least (input, output)")

    def _opt(self):
        return optax.adam(self.learning_rate)

    def loss(self, params, x, y):
        out, _ = mlp_forward(params, x, self.activation)
        return jnp.mean(jnp.sum((out - y) ** 2, axis=-1))

    def init(self, keys):
        def one(key):
            params = init_mlp(key, self.sizes)
            return params, self._opt().init(params)

        return jax.jit(jax.vmap(one))(keys)

    def block(self, record_every: int):
        """A jit-compiled, seed-vmapped function advancing `(params, opt_state)` by `record_every` steps."""
        opt = self._opt()

        def one(state, x, y):
            def step(carry, _):
                params, opt_state = carry
                loss, grads = jax.value_and_grad(self.loss)(params, x, y)
                updates, opt_state = opt.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), loss

            state, losses = jax.lax.scan(step, state, None, length=record_every)
            return state, losses[-1]

        return jax.jit(jax.vmap(one, in_axes=(0, None, None)))


def train(
    trainer: Trainer,
    keys,
    x,
    y,
    steps: int,
    record_every: int,
    measure: Callable,
    progress: Callable[[int], None] | None = None,
    measure_args: tuple = (),
) -> tuple[np.ndarray, object]:
    """Train one network per key on `(x, y)`; returns `(checkpoint_steps, records)`.

    `records` stacks `measure`'s pytree over checkpoints (axis 0) and seeds (axis 1). `measure` is
    called as `measure(params, *args)` with `args` the per-seed slices of `measure_args` (axis 0).
    `progress(k)` is called after each block with the number of steps done in it.
    """
    if steps < 1 or record_every < 1 or steps % record_every:
        raise ValueError(
            f"steps={steps} must be a positive multiple of record_every={record_every}: change either"
        )
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    state = trainer.init(keys)
    block = trainer.block(record_every)
    meas = jax.jit(jax.vmap(measure))
    records = [jax.device_get(meas(state[0], *measure_args))]
    for _ in range(steps // record_every):
        state, loss = block(state, x, y)
        rec = jax.device_get(meas(state[0], *measure_args))
        if not np.all(np.isfinite(np.asarray(loss))):
            raise SimulationError(
                f"training produced a non-finite loss at lr={trainer.learning_rate}: lower the learning rate"
            )
        records.append(rec)
        if progress:
            progress(record_every)
    stacked = jax.tree.map(lambda *r: np.stack(r), *records)
    return np.arange(0, steps + 1, record_every), stacked


# ----------------------------------------------------------------------------------------------------
# 1-D frequency principle: DFT peaks of the target and the relative error at each peak
# ----------------------------------------------------------------------------------------------------


def xu_target_1d(x):
    """The 1-D target of Xu's TF2 code: sin x + 2 sin 3x + 3 sin 5x (amplitude grows with frequency)."""
    return jnp.sin(x) + 2 * jnp.sin(3 * x) + 3 * jnp.sin(5 * x)


def dft_magnitude(values, n_bins: int):
    """|DFT| of samples on a uniform grid (last axis), bins 0..n_bins-1, unnormalised."""
    return jnp.abs(jnp.fft.fft(values, axis=-1)[..., :n_bins])


def select_peaks(spectrum: np.ndarray, min_fraction: float = 0.1) -> np.ndarray:
    """Bins that are strict local maxima of `spectrum` and at least `min_fraction` of its maximum.

    The amplitude cut is ours: without it, leakage side-lobes of a non-periodic window count as peaks.
    """
    s = np.asarray(spectrum, float)
    inner = np.arange(1, s.size - 1)
    is_max = (s[inner] > s[inner - 1]) & (s[inner] > s[inner + 1]) & (s[inner] >= min_fraction * s.max())
    return inner[is_max]


def peak_relative_error(pred_spec, target_spec, peaks):
    """Delta_F(k) = |pred_hat(k) - target_hat(k)| / |target_hat(k)| at the peak bins (complex DFTs)."""
    return jnp.abs(pred_spec[..., peaks] - target_spec[peaks]) / jnp.abs(target_spec[peaks])


def first_below(curve: np.ndarray, steps: np.ndarray, threshold: float) -> np.ndarray:
    """First checkpoint step at which `curve` (checkpoints on axis 0) is below `threshold` and stays
    below up to the end; +inf where that never happens."""
    c = np.asarray(curve, float)
    above = c >= threshold
    # index after the last checkpoint that is above the threshold
    last_above = np.where(above.any(0), c.shape[0] - 1 - np.argmax(above[::-1], axis=0), -1)
    idx = last_above + 1
    out = np.where(idx < c.shape[0], np.asarray(steps, float)[np.minimum(idx, c.shape[0] - 1)], np.inf)
    return out


# ----------------------------------------------------------------------------------------------------
# Filtering method: Gaussian smoother, low/high-frequency errors, LFR, delta grids
# ----------------------------------------------------------------------------------------------------


@jax.jit
def squared_distances(x):
    """Pairwise squared Euclidean distances (n, n), clipped at 0, with an exact zero diagonal."""
    x = jnp.asarray(x)
    g = jnp.dot(x, x.T, precision="highest")
    sq = jnp.diag(g)
    d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2 * g, 0.0)
    return d2 * (1 - jnp.eye(x.shape[0], dtype=d2.dtype))


@jax.jit
def gaussian_smoother(d2, delta):
    """Row-normalised Gaussian kernel exp(-d^2 / (2 delta^2)) on a squared-distance matrix."""
    return jax.nn.softmax(-d2 / (2.0 * delta**2), axis=-1)


def centred(y):
    y = jnp.asarray(y)
    y = y[:, None] if y.ndim == 1 else y
    return y - y.mean(axis=0, keepdims=True)


@jax.jit
def lfr_from_d2(d2, y, deltas):
    """LFR(delta) = |K_delta y_c|^2 / |y_c|^2 for each delta (y centred per column)."""
    yc = centred(y)
    total = jnp.sum(yc**2)

    def one(delta):
        return jnp.sum(jnp.dot(gaussian_smoother(d2, delta), yc, precision="highest") ** 2) / total

    return jax.vmap(one)(jnp.asarray(deltas))


@jax.jit
def lfr_floor_from_d2(d2, deltas):
    """Expected LFR of uniformly permuted labels: (sum_ij K_ij^2 - 1) / (n - 1), per delta."""
    n = d2.shape[0]
    return jax.vmap(lambda dl: (jnp.sum(gaussian_smoother(d2, dl) ** 2) - 1.0) / (n - 1))(jnp.asarray(deltas))


def lfr_reference(x, y, deltas) -> np.ndarray:
    """Float64 NumPy LFR (independent of the JAX path), for checks; scale x beforehand as needed."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    y = y[:, None] if y.ndim == 1 else y
    yc = y - y.mean(0)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    out = []
    for delta in np.asarray(deltas, float):
        logits = -d2 / (2 * delta**2)
        logits -= logits.max(1, keepdims=True)
        k = np.exp(logits)
        k /= k.sum(1, keepdims=True)
        out.append(np.sum((k @ yc) ** 2) / np.sum(yc**2))
    return np.array(out)


def distance_scales(x) -> dict:
    """Median nearest-neighbour distance and median pairwise distance of a point cloud (lengths)."""
    x = np.asarray(x, np.float64)
    sq = (x**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    n = d2.shape[0]
    iu = np.triu_indices(n, 1)
    d2_nn = np.where(np.eye(n, dtype=bool), np.inf, d2).min(1)
    return {
        "nearest_neighbour": float(np.sqrt(np.median(d2_nn))),
        "pairwise": float(np.sqrt(np.median(d2[iu]))),
    }


def delta_grid(x, n_delta: int) -> np.ndarray:
    """Geometric grid of kernel widths from the median nearest-neighbour distance to the median
    pairwise distance: the window where the filter resolves anything (brief B.3)."""
    if n_delta < 2:
        raise ValueError(f"n_delta={n_delta} must be >= 2")
    s = distance_scales(x)
    return np.geomspace(s["nearest_neighbour"], s["pairwise"], n_delta)


@jax.jit
def filter_errors(kernels, y, h):
    """Xu's e_low and e_high for each smoother in `kernels` (m, n, n); y and h are (n, c).

    e_low = |K (y - h)| / |K y|, e_high = |(I - K)(y - h)| / |(I - K) y| (Frobenius norms).
    """
    y, h = centred(y), centred(h)
    r = y - h

    def one(k):
        ky, kr = jnp.dot(k, y, precision="highest"), jnp.dot(k, r, precision="highest")
        e_low = jnp.sqrt(jnp.sum(kr**2) / jnp.sum(ky**2))
        e_high = jnp.sqrt(jnp.sum((r - kr) ** 2) / jnp.sum((y - ky) ** 2))
        return e_low, e_high

    return jax.vmap(one)(kernels)


# ----------------------------------------------------------------------------------------------------
# Deep frequency principle: effective targets h_l(x_i) -> y_i, normalised per layer
# ----------------------------------------------------------------------------------------------------


@jax.jit
def normalised_d2(h, iu):
    """Squared distances of the cloud `h` after scaling its median pairwise distance to 1.

    `iu` are the (static) upper-triangle indices. A collapsed cloud (median 0) is left unscaled and
    reported through the returned median, so the caller can flag it.
    """
    d2 = squared_distances(h)
    med = jnp.median(d2[iu])
    return d2 / jnp.where(med > 0, med, 1.0), jnp.sqrt(med)


@jax.jit
def lfr_stats_from_d2(d2, y, y_perms, deltas):
    """For each delta, with one kernel evaluation: the LFR of `y`, the LFRs of the permuted label sets
    `y_perms` (p, n, c), and the permutation floor. Returns arrays (m,), (m, p), (m,)."""
    n = d2.shape[0]
    yc = centred(y)
    pc = jax.vmap(centred)(y_perms)
    total = jnp.sum(yc**2)
    totals = jnp.sum(pc**2, axis=(1, 2))

    def one(delta):
        k = gaussian_smoother(d2, delta)
        low = jnp.sum(jnp.dot(k, yc, precision="highest") ** 2) / total
        low_p = jnp.sum(jnp.einsum("ij,pjc->pic", k, pc, precision="highest") ** 2, axis=(1, 2)) / totals
        return low, low_p, (jnp.sum(k**2) - 1.0) / (n - 1)

    return jax.vmap(one)(jnp.asarray(deltas))


def layer_lfr_measure(activation: str, x, y, rel_deltas):
    """`measure(params, y_perms)` for `train`: per layer l = 0 (the input itself) .. L, the LFR of the
    effective target h_l(x_i) -> y_i on the relative delta grid (after per-layer normalisation), the
    LFRs with permuted labels `y_perms` (p, n, c), the permutation floor, the layer's median pairwise
    distance before normalisation, and the training loss."""
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y, jnp.float32)
    n = x.shape[0]
    iu = tuple(jnp.asarray(a) for a in np.triu_indices(n, 1))
    rel = jnp.asarray(rel_deltas, jnp.float32)

    def per_layer(h, y_perms):
        d2, med = normalised_d2(h, iu)
        low, low_p, floor = lfr_stats_from_d2(d2, y, y_perms, rel)
        return {"lfr": low, "lfr_permuted": low_p, "floor": floor, "scale": med}

    def measure(params, y_perms):
        out, hidden = mlp_forward(params, x, activation)
        clouds = [x, *hidden]
        # zero-padding the features to a common width leaves all distances unchanged, and lets one
        # vmapped (hence compiled once) computation serve every layer
        width = max(c.shape[1] for c in clouds)
        stack = jnp.stack([jnp.pad(c, ((0, 0), (0, width - c.shape[1]))) for c in clouds])
        res = jax.vmap(per_layer, in_axes=(0, None))(stack, y_perms)
        res["loss"] = jnp.mean(jnp.sum((out - y) ** 2, axis=-1))
        return res

    return measure


# ----------------------------------------------------------------------------------------------------
# Data available offline
# ----------------------------------------------------------------------------------------------------


def load_digits_subset(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` images of scikit-learn's bundled 8x8 digits (no download), pixels / 16 in [0, 1].

    **Returns:** `(x (n, 64), one_hot (n, 10), labels (n,))`; the subset is a fixed random draw.
    """
    from sklearn.datasets import load_digits

    xs, labels = load_digits(return_X_y=True)
    if not 10 <= n <= xs.shape[0]:
        raise ValueError(f"n={n} digits requested: choose 10 <= n <= {xs.shape[0]}")
    idx = np.sort(np.random.default_rng(seed).permutation(xs.shape[0])[:n])
    x = (xs[idx] / 16.0).astype(np.float32)
    lab = labels[idx].astype(np.int64)
    return x, np.eye(10, dtype=np.float32)[lab], lab


def spearman(a, b) -> float:
    """Spearman rank correlation of two 1-D arrays (average ranks for ties; inf allowed)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.all(a == a[0]) or np.all(b == b[0]):
        return 0.0
    return float(spearmanr(a, b).statistic)
