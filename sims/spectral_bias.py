"""Spectral bias of ReLU networks (Rahaman et al. 2019): targets, networks, training, spectra.

Everything here is numerical JAX. A run trains one ReLU MLP per seed with full-batch Adam on a
sum of phased sines sampled on a uniform grid, and records, every `record_every` steps, the
network output on that grid, the loss and the true largest singular value of every weight matrix.
Seeds are vectorised with `jax.vmap`; the training loop is one jit-compiled `lax.scan`.

**Spectrum and normalisation.** For an output f sampled at t_j = j/n (j = 0..n-1, endpoint
excluded) the exact DFT is F_k = sum_j f_j exp(-2 pi i k j / n); DFT bin k is exactly the
frequency k (cycles on [0, 1)). The single-sided amplitude of a component A sin(2 pi k t + phi)
is 2 |F_k| / n = A for 0 < k < n/2, so the *normalised amplitude* of the network at k is
2 |F_k| / (n A_k): 1 means the component is fitted with the right amplitude. It is computed per
seed and then averaged over seeds (magnitudes, as in the authors' code, not complex values).

**Weight norms.** `sigma_max` is the largest singular value of each weight matrix (an exact SVD),
not a Rayleigh quotient or a product of Frobenius norms.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from ._errors import SimulationError


EXPERIMENT_IDS = (1, 2, 5)


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """One spectral-bias training run, shared by every seed.

    **Arguments:**

    - `freqs`: target frequencies k_i (integers, 0 < k < n/2).
    - `amplitudes`: "equal" (A_i = 1) or "increasing" (A_i = i / len(freqs), 0.1..1.0 for ten).
    - `n`: grid points (t = j/n for the 1-D task, z = j/n on the manifold).
    - `width`, `depth`: hidden ReLU layers of `width` units, `depth` of them.
    - `steps`, `record_every`: full-batch Adam steps and the recording interval.
    - `lr`: Adam learning rate (PyTorch defaults b1 = 0.9, b2 = 0.999, eps = 1e-8).
    - `petals`: None for the 1-D task on [0, 1); an integer L for the flower manifold gamma_L in R^2.
    """

    freqs: tuple[int, ...] = tuple(range(5, 55, 5))
    amplitudes: str = "equal"
    n: int = 200
    width: int = 256
    depth: int = 5
    steps: int = 80_000
    record_every: int = 100
    lr: float = 3e-4
    petals: int | None = None

    def __post_init__(self):
        _check(
            self.amplitudes in ("equal", "increasing"),
            f"amplitudes {self.amplitudes!r}: use 'equal' or 'increasing'",
        )
        _check(self.n >= 8, f"n = {self.n}: use at least 8 grid points")
        _check(len(self.freqs) >= 2, f"freqs {self.freqs}: give at least two frequencies")
        _check(
            all(int(k) == k and 0 < k < self.n / 2 for k in self.freqs),
            f"freqs {self.freqs}: every frequency must be an integer in (0, n/2) = (0, {self.n / 2:g})",
        )
        _check(
            list(self.freqs) == sorted(set(self.freqs)),
            f"freqs {self.freqs}: give distinct, increasing values",
        )
        _check(
            self.width >= 1 and self.depth >= 1, f"width {self.width}, depth {self.depth}: use positive sizes"
        )
        _check(
            self.steps >= 1 and self.record_every >= 1, f"steps {self.steps}: use a positive number of steps"
        )
        _check(
            self.steps % self.record_every == 0,
            f"steps {self.steps} is not a multiple of record_every {self.record_every}: choose a multiple",
        )
        _check(math.isfinite(self.lr) and self.lr > 0, f"lr {self.lr}: use a positive learning rate")
        _check(self.petals is None or self.petals >= 0, f"petals {self.petals}: use L >= 0")

    @property
    def amps(self) -> np.ndarray:
        m = len(self.freqs)
        if self.amplitudes == "equal":
            return np.ones(m)
        return np.arange(1, m + 1) / m

    @property
    def in_dim(self) -> int:
        return 1 if self.petals is None else 2

    @property
    def record_steps(self) -> np.ndarray:
        return np.arange(1, self.steps // self.record_every + 1) * self.record_every

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["freqs"] = list(self.freqs)
        return d


# ---------------------------------------------------------------------------------------------
# data


def grid(n: int) -> jnp.ndarray:
    """The uniform grid j/n, j = 0..n-1 (endpoint excluded, so DFT bin k is frequency k)."""
    return jnp.arange(n, dtype=jnp.float32) / n


def flower(z: jnp.ndarray, petals: int) -> jnp.ndarray:
    """gamma_L(z) = (1 + sin(2 pi L z) / 2) (cos 2 pi z, sin 2 pi z), shape (n, 2); L = 0 is the circle."""
    r = 1.0 + 0.5 * jnp.sin(2 * jnp.pi * petals * z)
    return jnp.stack([r * jnp.cos(2 * jnp.pi * z), r * jnp.sin(2 * jnp.pi * z)], axis=-1)


def inputs(cfg: FitConfig) -> jnp.ndarray:
    """Network inputs, shape (n, in_dim): the grid itself, or its image on the flower manifold."""
    z = grid(cfg.n)
    return z[:, None] if cfg.petals is None else flower(z, cfg.petals)


def phased_waves(key, cfg: FitConfig) -> jnp.ndarray:
    """lambda(z) = sum_i A_i sin(2 pi k_i z + 2 pi phi_i) on the grid, phi_i ~ U(0, 1) drawn from `key`."""
    phases = jax.random.uniform(key, (len(cfg.freqs),))
    z = grid(cfg.n)[:, None]
    k = jnp.asarray(cfg.freqs, jnp.float32)
    amps = jnp.asarray(cfg.amps, jnp.float32)
    return jnp.sum(amps * jnp.sin(2 * jnp.pi * k * z + 2 * jnp.pi * phases), axis=1)


# ---------------------------------------------------------------------------------------------
# network


def init_mlp(key, in_dim: int, width: int, depth: int) -> list[tuple[jnp.ndarray, jnp.ndarray]]:
    """PyTorch-default init: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); weights stored (fan_in, fan_out)."""
    sizes = [in_dim] + [width] * depth + [1]
    params = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        kw, kb = jax.random.split(jax.random.fold_in(key, i))
        bound = 1.0 / math.sqrt(a)
        params.append(
            (
                jax.random.uniform(kw, (a, b), minval=-bound, maxval=bound),
                jax.random.uniform(kb, (b,), minval=-bound, maxval=bound),
            )
        )
    return params


def mlp(params, x: jnp.ndarray) -> jnp.ndarray:
    """ReLU MLP, x of shape (n, in_dim) -> (n,)."""
    h = x
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    return (h @ w + b)[:, 0]


SIGMA_ITERATIONS = 500
"""Power iterations per matrix in `sigma_max`: enough for the Rayleigh quotient to converge to float32
rounding when the top two squared singular values differ by a few percent (random init)."""


def sigma_max(params) -> jnp.ndarray:
    """Largest singular value of each weight matrix, shape (layers,): power iteration on the smaller
    Gram matrix (W^T W or W W^T) from a fixed start, then sqrt of its Rayleigh quotient. It agrees
    with an SVD to float32 rounding (tested against `numpy.linalg.svd`).

    Why not an SVD or a symmetric eigensolver: inside the compiled, seed-vmapped training loop
    (`lax.scan`) either one is a LAPACK call on CPU, and with it the program hung in about half of
    the runs of 3000 steps (every thread waiting, no CPU used); it also made training 3-4x (SVD)
    or 2x (eigensolver) slower. Power iteration is plain matrix-vector products."""
    out = []
    for w, _ in params:
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        k = gram.shape[0]
        v0 = 1.0 + jnp.arange(k, dtype=gram.dtype) / k  # fixed, not orthogonal to a positive vector

        def body(_, v, gram=gram):
            u = gram @ v
            return u / jnp.linalg.norm(u)

        v = jax.lax.fori_loop(0, SIGMA_ITERATIONS, body, v0 / jnp.linalg.norm(v0))
        out.append(jnp.sqrt(jnp.maximum(v @ (gram @ v), 0.0)))
    return jnp.stack(out)


def param_norm(params) -> jnp.ndarray:
    return jnp.sqrt(sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params)))


# ---------------------------------------------------------------------------------------------
# spectra


def amplitudes(pred: jnp.ndarray, freqs) -> jnp.ndarray:
    """Single-sided DFT amplitude 2 |F_k| / n at `freqs` of samples on the grid (last axis)."""
    n = pred.shape[-1]
    spec = jnp.fft.rfft(pred, axis=-1)
    return 2.0 * jnp.abs(spec[..., jnp.asarray(freqs)]) / n


def normalised_amplitudes(pred: jnp.ndarray, cfg: FitConfig) -> jnp.ndarray:
    """2 |F_k| / (n A_k) at the target frequencies, last axis = frequency."""
    return amplitudes(pred, cfg.freqs) / jnp.asarray(cfg.amps, jnp.float32)


def first_crossing(values: np.ndarray, steps: np.ndarray, threshold: float) -> np.ndarray:
    """First recorded step at which `values` (time on axis -2) reaches `threshold`; NaN if never."""
    values = np.asarray(values)
    hit = values >= threshold
    idx = np.argmax(hit, axis=-2)
    out = np.asarray(steps, float)[idx]
    return np.where(hit.any(axis=-2), out, np.nan)


# ---------------------------------------------------------------------------------------------
# training


def _chunk_records(n_rec: int, chunks: int = 20) -> int:
    """Records per jitted chunk: the largest divisor of n_rec not above n_rec / chunks (at least 1)."""
    target = max(1, n_rec // chunks)
    return max(d for d in range(1, target + 1) if n_rec % d == 0)


@functools.lru_cache(maxsize=16)
def _make_train(
    n: int,
    in_dim: int,
    width: int,
    depth: int,
    record_every: int,
    chunk: int,
    lr: float,
    n_freqs: int,
    track_norms: bool,
) -> tuple[Callable, Callable]:
    """Jitted, seed-vmapped (init, chunk) functions for one set of shapes. Inputs, frequencies and
    amplitudes are arguments, so every experiment with the same sizes shares one compilation; a
    chunk runs `chunk` records of `record_every` full-batch Adam steps each inside `lax.scan`."""
    opt = optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8)
    z = grid(n)[:, None]

    def init(key, freqs, amps):
        k_phase, k_init = jax.random.split(key)
        phases = jax.random.uniform(k_phase, (n_freqs,))
        y = jnp.sum(amps * jnp.sin(2 * jnp.pi * freqs * z + 2 * jnp.pi * phases), axis=1)
        params = init_mlp(k_init, in_dim, width, depth)
        return (params, opt.init(params)), y, sigma_max(params)

    def run_chunk(carry, x, y):
        def loss_fn(params):
            return jnp.mean((mlp(params, x) - y) ** 2)

        def step(carry, _):
            params, state = carry
            grads = jax.grad(loss_fn)(params)
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        def record(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, length=record_every)
            params = carry[0]
            pred = mlp(params, x)
            out = {"pred": pred, "loss": jnp.mean((pred - y) ** 2)}
            if track_norms:
                out["sigma_max"] = sigma_max(params)
            return carry, out

        return jax.lax.scan(record, carry, None, length=chunk)

    return (
        jax.jit(jax.vmap(init, in_axes=(0, None, None))),
        jax.jit(jax.vmap(run_chunk, in_axes=(0, None, 0)), donate_argnums=0),
    )


def train(
    cfg: FitConfig,
    seeds,
    track_norms: bool = True,
    progress: bool = False,
    checkpoint: str | Path | None = None,
    checkpoint_seconds: float = 60.0,
    on_chunk: Callable[[int, int], None] | None = None,
) -> dict:
    """Train one network per seed (vmapped) and return numpy arrays plus the final parameters.

    Seed s uses `jax.random.key(s)` split into a phase key and an init key, so a seed's trajectory
    does not depend on the seeds run beside it. Returns a dict with `pred` (seed, record, n),
    `loss` (seed, record),
    `amp` (seed, record, freq: normalised amplitudes), `sigma_max` (seed, record, layer) when
    tracked, `init_sigma_max`, `target` (seed, n), `params` (final, stacked over seeds, JAX),
    `steps`, `wall_seconds`. `progress` shows a tqdm bar over training steps.

    `checkpoint`: a `.npz` path. The training state (parameters, Adam moments) and the records so
    far are written there atomically at most every `checkpoint_seconds` and at the end; a later call
    with the same configuration and seeds resumes from it (bitwise the same trajectory as an
    uninterrupted run) or, if it is complete, returns its records without training. A file written
    for another configuration, seed set or JAX version, or one that cannot be read, is ignored
    (with a warning) and overwritten.

    `on_chunk(done, total)`: called after each trained chunk of records (and after its checkpoint,
    when one was due) with the records done so far and their total; a complete checkpoint calls it
    never. An exception it raises stops training as a kill would, keeping the last checkpoint.
    """
    seeds = np.asarray(seeds, np.int64)
    _check(seeds.ndim == 1 and seeds.size >= 1, f"seeds {seeds}: give at least one seed")
    n_rec = cfg.steps // cfg.record_every
    chunk = _chunk_records(n_rec)
    init, run_chunk = _make_train(
        cfg.n, cfg.in_dim, cfg.width, cfg.depth, cfg.record_every, chunk, cfg.lr, len(cfg.freqs), track_norms
    )
    keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))
    x = inputs(cfg)
    start = time.perf_counter()
    carry, y, sig0 = init(keys, jnp.asarray(cfg.freqs, jnp.float32), jnp.asarray(cfg.amps, jnp.float32))
    header = _checkpoint_header(cfg, seeds, track_norms, chunk)
    recs, wall_before = [], 0.0
    if checkpoint is not None:
        restored = _read_checkpoint(Path(checkpoint), header, carry)
        if restored is not None:
            carry, recs, wall_before = restored
    n_chunks = n_rec // chunk
    what = f"flower L={cfg.petals}" if cfg.petals is not None else f"{cfg.amplitudes} A"
    desc = f"{what}, {seeds.size} seeds"
    last_write = time.monotonic()
    with tqdm(total=cfg.steps, desc=desc, unit="step", disable=not progress, leave=False) as bar:
        bar.update(len(recs) * chunk * cfg.record_every)
        for i in range(len(recs), n_chunks):
            carry, rec = run_chunk(carry, x, y)
            recs.append(jax.device_get(rec))
            bar.update(chunk * cfg.record_every)
            due = time.monotonic() - last_write >= checkpoint_seconds or i == n_chunks - 1
            if checkpoint is not None and due:
                wall_now = wall_before + time.perf_counter() - start
                _write_checkpoint(Path(checkpoint), header, carry, recs, wall_now)
                last_write = time.monotonic()
            if on_chunk is not None:
                on_chunk(len(recs) * chunk, n_chunks * chunk)
    wall = wall_before + time.perf_counter() - start
    out = {k: np.concatenate([r[k] for r in recs], axis=1) for k in recs[0]}
    if not np.all(np.isfinite(out["loss"])):
        raise SimulationError(f"non-finite loss during training (lr {cfg.lr}): lower the learning rate")
    out["target"] = np.asarray(y)
    out["init_sigma_max"] = np.asarray(sig0)
    out["params"] = carry[0]
    out["amp"] = np.asarray(normalised_amplitudes(jnp.asarray(out["pred"]), cfg))
    out["steps"] = cfg.record_steps
    out["wall_seconds"] = wall
    return out


_CHECKPOINT_FORMAT = "fourier-verifier spectral-bias training checkpoint, version 1"


def _checkpoint_header(cfg: FitConfig, seeds: np.ndarray, track_norms: bool, chunk: int) -> dict:
    return {
        "format": _CHECKPOINT_FORMAT,
        "config": cfg.as_dict(),
        "seeds": [int(s) for s in seeds],
        "track_norms": bool(track_norms),
        "records_per_chunk": int(chunk),
        "jax_version": jax.__version__,
    }


def _write_checkpoint(path: Path, header: dict, carry, recs: list[dict], wall: float) -> None:
    """State leaves, records so far and a JSON header (as bytes: nothing is pickled), atomically."""
    from ._results import atomic_target

    arrays = {f"leaf_{i:03d}": np.asarray(v) for i, v in enumerate(jax.tree_util.tree_leaves(carry))}
    arrays.update({f"rec_{k}": np.concatenate([r[k] for r in recs], axis=1) for k in recs[0]})
    meta = dict(header, chunks_done=len(recs), wall_seconds=float(wall))
    arrays["header"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())


def _read_checkpoint(path: Path, header: dict, carry) -> tuple | None:
    """(carry, records split back into chunks, wall seconds so far), or None to start afresh."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(f["header"].tobytes().decode())
            if {k: meta.get(k) for k in header} != header:
                warnings.warn(f"{path}: written for another run; it will be overwritten", stacklevel=3)
                return None
            leaves, treedef = jax.tree_util.tree_flatten(carry)
            stored = [f[f"leaf_{i:03d}"] for i in range(len(leaves))]
            if any(a.shape != np.shape(b) or a.dtype != b.dtype for a, b in zip(stored, leaves, strict=True)):
                raise ValueError("state shapes differ")
            recs_all = {k[4:]: f[k] for k in f.files if k.startswith("rec_")}
            done = int(meta["chunks_done"])
    except Exception as err:  # noqa: BLE001 - any unreadable file means: train from the start
        warnings.warn(f"{path}: cannot resume from it ({err}); training from the start", stacklevel=3)
        return None
    chunk = header["records_per_chunk"]
    recs = [{k: v[:, i * chunk : (i + 1) * chunk] for k, v in recs_all.items()} for i in range(done)]
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in stored]), recs, meta["wall_seconds"]


# ---------------------------------------------------------------------------------------------
# experiment 2: robustness to isotropic parameter perturbations


def perturbation_response(cfg: FitConfig, params, norms, samples: int, key) -> np.ndarray:
    """Normalised |DFT| after isotropic perturbations theta* + delta theta_hat, theta_hat a random
    unit vector over all parameters (weights and biases).

    For each seed (leading axis of the stacked `params`) and each norm delta, the magnitudes
    2|F_k|/n are averaged over `samples` directions and divided by those of the unperturbed
    network. Returns an array of shape (seed, norm, freq).
    """
    _check(samples >= 1, f"samples {samples}: use at least one perturbation direction")
    norms = jnp.asarray(norms, jnp.float32)
    _check(bool(jnp.all(norms >= 0)), "perturbation norms must be non-negative")
    x = inputs(cfg)
    freqs = cfg.freqs

    def one_seed(params, key):
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        base = amplitudes(mlp(params, x), freqs)

        def one_dir(k):
            d = jax.random.normal(k, flat.shape)
            d = d / jnp.linalg.norm(d)
            return jax.vmap(lambda s: amplitudes(mlp(unravel(flat + s * d), x), freqs))(norms)

        mags = jax.lax.map(one_dir, jax.random.split(key, samples))  # (samples, norm, freq)
        return mags.mean(0) / base

    n_seeds = jax.tree_util.tree_leaves(params)[0].shape[0]
    keys = jax.random.split(key, n_seeds)
    return np.asarray(jax.jit(jax.vmap(one_seed))(params, keys))


# ---------------------------------------------------------------------------------------------
# statistics over seeds


def spearman(x, y) -> float:
    """Spearman rank correlation with average ranks for ties; NaN in y (never reached) ranks last."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    y = np.where(np.isfinite(y), y, np.inf)
    rx, ry = _rank(x), _rank(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _rank(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size, float)
    ranks[order] = np.arange(v.size, dtype=float)
    for value in np.unique(v):  # average ranks over ties (also over ties at +inf)
        tie = v == value
        ranks[tie] = ranks[tie].mean()
    return ranks


def mean_ci(
    values, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean over seeds with a percentile-bootstrap interval (NaN entries are dropped)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    boots = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [a, 1 - a])
    return float(v.mean()), float(lo), float(hi)
