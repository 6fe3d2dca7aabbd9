"""Flax students for the amplitude-versus-phase protocol and their SGD training loop.

- `TwoLayer`: flatten, one hidden ReLU layer, linear read-out (the paper's two-layer network).
- `SmallCNN`: three 3 x 3 convolutions (widths w, 2w, 4w) with ReLU, 2 x 2 average pooling after the
  first two, global average pooling and a linear read-out.

`train` runs minibatch SGD (optax) with softmax cross-entropy for several seeds at once: the
parameters carry a leading seed axis and one jit-compiled, seed-vmapped function advances every seed
between evaluation steps. Seed s draws its initialisation from NumPy's default_rng([root, s])
(see `init_params`) and the minibatch of step t from fold_in(fold_in(fold_in(key(root), s), 1), t)
(indices with replacement into the training images), so a seed re-run alone reproduces its run.
At every evaluation step (0, then log-spaced up to `steps`) each seed's accuracy on every test set
is recorded.
"""

from __future__ import annotations

import dataclasses
import math
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from ._errors import SimulationError


MODEL_NAMES = ("two-layer", "cnn")


class TwoLayer(nn.Module):
    """x -> W2 relu(W1 flatten(x) + b1) + b2."""

    hidden: int = 256
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.classes)(x)


class Conv3x3(nn.Module):
    """A 3 x 3 'same' convolution with bias, written as its nine shifted copies of the zero-padded
    input stacked on the channel axis and one matrix product (im2col by slicing).

    The same function and parameters (`kernel` (3, 3, C_in, C_out), `bias`) as `flax.linen.Conv`
    with a (3, 3) window, to float rounding. Why not `nn.Conv`: on XLA's CPU backend the gradient
    of a convolution with respect to its kernel ran at about 1 GFLOP/s, so one SGD step of the
    texture CNN (width 16, batch 32, 32 x 32 patches) took 372 ms against 39 ms here (measured on
    the 2-core machine, both under the same load); the slices' gradients are pads and adds, and
    the products run at matmul speed. It also compiles about 2x faster."""

    features: int

    @nn.compact
    def __call__(self, x):
        c_in = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, c_in, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        h, w = x.shape[-3], x.shape[-2]
        padded = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(1, 1), (1, 1), (0, 0)])
        # (i, j, c) order on the channel axis, as the kernel's leading axes flatten
        columns = jnp.concatenate(
            [padded[..., i : i + h, j : j + w, :] for i in range(3) for j in range(3)], axis=-1
        )
        return columns @ kernel.reshape(9 * c_in, self.features) + bias


class SmallCNN(nn.Module):
    """Three 3 x 3 convolutions with ReLU and average pooling, global pooling, linear read-out."""

    width: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        for i, mult in enumerate((1, 2, 4)):
            # named as flax names nn.Conv, so parameter paths (and `init_params`' draws) are unchanged
            x = nn.relu(Conv3x3(self.width * mult, name=f"Conv_{i}")(x))
            if i < 2:
                x = nn.avg_pool(x, (2, 2), strides=(2, 2))
        return nn.Dense(self.classes)(x.mean(axis=(1, 2)))


def make_model(name: str, classes: int, hidden: int = 256, width: int = 16) -> nn.Module:
    """`two-layer` (hidden units `hidden`) or `cnn` (base width `width`)."""
    if name == "two-layer":
        if hidden < 1:
            raise ValueError(f"hidden must be positive, got {hidden}")
        return TwoLayer(hidden=int(hidden), classes=int(classes))
    if name == "cnn":
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        return SmallCNN(width=int(width), classes=int(classes))
    raise ValueError(f"unknown model {name!r}: use one of {', '.join(MODEL_NAMES)}")


def eval_steps(steps: int, n_eval: int) -> np.ndarray:
    """Step 0 and about `n_eval` log-spaced integer steps from 1 to `steps` (duplicates removed)."""
    if steps < 1 or n_eval < 2:
        raise ValueError(f"need steps >= 1 and n_eval >= 2, got steps={steps}, n_eval={n_eval}")
    grid = np.unique(np.round(np.geomspace(1, steps, n_eval)).astype(np.int64))
    return np.concatenate([[0], grid])


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """SGD settings: `steps` minibatches of `batch` images, learning rate `lr`, optional momentum."""

    steps: int = 3000
    batch: int = 32
    lr: float = 0.05
    momentum: float = 0.0
    seeds: int = 8
    n_eval: int = 40
    root_seed: int = 0
    eval_chunk: int = 512

    def __post_init__(self):
        checks = {
            "steps": self.steps >= 1,
            "batch": self.batch >= 1,
            "lr": math.isfinite(self.lr) and self.lr > 0,
            "momentum": 0 <= self.momentum < 1,
            "seeds": self.seeds >= 1,
            "n_eval": self.n_eval >= 2,
            "eval_chunk": self.eval_chunk >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"invalid {name}={getattr(self, name)!r}: see TrainConfig for the valid range"
                )


def _padded(x: np.ndarray, y: np.ndarray, chunk: int):
    n = len(x)
    pad = (-n) % chunk
    xp = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]) if pad else x
    yp = np.concatenate([y, np.full(pad, -1, np.int64)]) if pad else np.asarray(y, np.int64)
    return xp.reshape((-1, chunk) + x.shape[1:]), yp.reshape(-1, chunk)


def init_params(model: nn.Module, example: jax.Array, seeds: int, root_seed: int = 0):
    """Parameters for `seeds` seeds with a leading seed axis: every kernel drawn from
    N(0, 1/fan_in) (LeCun normal, fan_in = product of all but its last axis), every bias zero.

    Drawn with NumPy (`default_rng([root_seed, seed])` per seed, leaves in flax's order): compiling
    jax.random initialisers for a CNN took tens of seconds on a loaded CPU.
    """
    shapes = jax.eval_shape(model.init, jax.random.key(0), example)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    per_seed = []
    for s in range(seeds):
        rng = np.random.default_rng([root_seed, s])
        vals = []
        for path, leaf in leaves:
            name = str(getattr(path[-1], "key", path[-1]))
            if name == "kernel":
                fan_in = int(np.prod(leaf.shape[:-1]))
                vals.append(rng.standard_normal(leaf.shape) / math.sqrt(fan_in))
            else:
                vals.append(np.zeros(leaf.shape))
        per_seed.append(vals)
    stacked = [
        jnp.asarray(np.stack([v[i] for v in per_seed]), leaves[i][1].dtype) for i in range(len(leaves))
    ]
    return jax.tree_util.tree_unflatten(treedef, stacked)


def _over_seeds(fn, in_axes, sequential: bool):
    """vmap `fn` over the seed axis, or (sequential) map it seed by seed with `lax.map` inside the
    same compiled program; arguments with in_axes None are shared by all seeds."""
    if not sequential:
        return jax.vmap(fn, in_axes=in_axes)

    def mapped(*args):
        per_seed = [a for a, ax in zip(args, in_axes, strict=True) if ax == 0]

        def one(xs):
            it = iter(xs)
            return fn(*[next(it) if ax == 0 else a for a, ax in zip(args, in_axes, strict=True)])

        return jax.lax.map(one, per_seed)

    return mapped


def train(
    model: nn.Module,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_sets: dict[str, tuple[np.ndarray, np.ndarray]],
    config: TrainConfig,
    progress: bool = True,
    sequential: bool | None = None,
) -> dict:
    """Train `config.seeds` copies of `model` with SGD (vmapped over seeds), evaluating on the way.

    **Arguments:**
    - `model`: a flax module mapping (batch, H, W, C) images to class logits.
    - `train_x`, `train_y`: standardised training images (n, H, W, C) and integer labels.
    - `test_sets`: name -> (images, labels), evaluated at every evaluation step.
    - `config`: a `TrainConfig`.
    - `progress`: show a tqdm bar over SGD steps.
    - `sequential`: map over seeds one at a time inside the compiled program instead of vmapping
      (default: True for convolutional models, whose vmapped convolutions with per-seed kernels
      compile and run slowly on CPU; the same function, to float rounding).

    **Returns:** a dict with `steps` (evaluation steps), `accuracy` (seeds, steps, sets), `set_names`,
    `train_loss` (seeds, steps: mean minibatch loss since the previous evaluation; NaN at step 0),
    `wall_seconds`, `compile_seconds`. Raises `SimulationError` if a loss is not finite.

    Long because it is one training loop with its evaluation schedule, progress and divergence check.
    """
    cfg = config
    if sequential is None:
        sequential = isinstance(model, SmallCNN)
    xs = jnp.asarray(train_x, jnp.float32)
    ys = jnp.asarray(train_y, jnp.int32)
    n_train = xs.shape[0]
    root = jax.random.key(cfg.root_seed)
    seed_keys = jax.vmap(lambda s: jax.random.fold_in(root, s))(jnp.arange(cfg.seeds))
    params = init_params(model, xs[:1], cfg.seeds, cfg.root_seed)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(seed_keys)
    tx = optax.sgd(cfg.lr, momentum=cfg.momentum or None)
    opt_state = jax.vmap(tx.init)(params)

    def loss_fn(p, xb, yb):
        logits = model.apply(p, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def advance(p, o, key, start, stop):
        def body(t, carry):
            p, o, total = carry
            idx = jax.random.randint(jax.random.fold_in(key, t), (cfg.batch,), 0, n_train)
            loss, grads = jax.value_and_grad(loss_fn)(p, xs[idx], ys[idx])
            updates, o = tx.update(grads, o, p)
            return optax.apply_updates(p, updates), o, total + loss

        p, o, total = jax.lax.fori_loop(start, stop, body, (p, o, jnp.zeros((), jnp.float32)))
        return p, o, total / jnp.maximum(stop - start, 1)

    advance = jax.jit(_over_seeds(advance, (0, 0, 0, None, None), sequential))

    def correct(p, xb, yb):
        pred = jnp.argmax(model.apply(p, xb), axis=-1)
        return jnp.sum(pred == yb)

    correct = jax.jit(_over_seeds(correct, (0, None, None), sequential))
    names = list(test_sets)
    chunked = {
        k: _padded(np.asarray(x, np.float32), np.asarray(y), cfg.eval_chunk)
        for k, (x, y) in test_sets.items()
    }
    sizes = {k: len(y) for k, (_, y) in test_sets.items()}

    def evaluate(p) -> np.ndarray:
        out = np.zeros((cfg.seeds, len(names)))
        for j, k in enumerate(names):
            cx, cy = chunked[k]
            hits = sum(correct(p, cx[i], cy[i]) for i in range(len(cx)))
            out[:, j] = np.asarray(hits) / sizes[k]
        return out

    grid = eval_steps(cfg.steps, cfg.n_eval)
    acc = np.zeros((cfg.seeds, len(grid), len(names)))
    losses = np.full((cfg.seeds, len(grid)), np.nan)
    t0 = time.perf_counter()
    acc[:, 0] = evaluate(params)
    compile_seconds = 0.0
    bar = tqdm(total=int(grid[-1]), desc="SGD steps", unit="step", disable=not progress, leave=False)
    for i in range(1, len(grid)):
        c0 = time.perf_counter()
        params, opt_state, loss = advance(params, opt_state, data_keys, int(grid[i - 1]), int(grid[i]))
        loss = np.asarray(loss)
        if i == 1:
            compile_seconds = time.perf_counter() - c0
        if not np.all(np.isfinite(loss)):
            bar.close()
            raise SimulationError(
                f"training loss is not finite at step {int(grid[i])} (lr={cfg.lr}): lower the learning rate"
            )
        losses[:, i] = loss
        acc[:, i] = evaluate(params)
        bar.update(int(grid[i] - grid[i - 1]))
        bar.set_postfix(acc=f"{acc[:, i, 0].mean():.3f}")
    bar.close()
    return {
        "steps": grid,
        "accuracy": acc,
        "set_names": names,
        "train_loss": losses,
        "wall_seconds": time.perf_counter() - t0,
        "compile_seconds": compile_seconds,
    }
