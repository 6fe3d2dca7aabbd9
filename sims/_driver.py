"""The one driver of every online-SGD engine (`_SphericalSGD`): keys, blocked draws, fixed chunks of
trajectories, sharding over devices, the compiled `start` / `advance` programs, checkpoints, early
stop, progress and escape bookkeeping. An engine subclasses it and defines what one trajectory is
(`_init_one`, `_draws_one`, `_step_one`, `_overlap_one`): the full and reduced engines
(`sims._engine`), the coloured one (`sims.powerlaw`) and the two-direction ones
(`sims.two_direction`).

Randomness: typed keys. A trajectory's key is fold_in(fold_in(key(root_seed), N), seed); its spike,
start and data stream are fold_in(., 0 / 1 / 2). The data of block b (steps bK+1 .. bK+K, K =
`steps_per_draw`) come from fold_in(data_key, b + 1) in one draw. All step sizes of a seed see the
same samples (common random numbers).

Determinism: trajectories run in fixed chunks of `chunk` (default 8; the run is padded with copies
that are dropped), the chunks one after the other on each device, every chunk with the same compiled
program; starts are computed in the same chunks. A trajectory's numbers are therefore bitwise the
same alone, in any batch and on any number of devices (tested for every engine). Without the chunks,
XLA on CPU compiles a batch of one, or a different batch size, with a different reduction order and
the last bit moves.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import math
import time
from collections.abc import Callable
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from vocabulary import START_NAMES

from ._activations import activation_derivative
from ._data import NOISE_NAMES, FourierBasis, SpikeTask


CHUNK = 8
"""Trajectories per chunk by default: a run pads its trajectories to whole chunks and computes the
chunks one after the other (split over devices), each with the same compiled program, so that a
trajectory's numbers are bitwise the same alone, in any batch and on any device count."""
MAX_STEPS = 2**31 - 2
"""The most SGD steps one run can count (step counters are int32)."""
ENGINE_VERSION = 3
"""Bumped whenever a change alters the numbers the engine produces; stored cells of an older version
are recomputed."""


class _ChunkProgress:
    """Turns per-chunk reports into progress(samples, trajectories_done) for the whole run:
    samples is the mean over chunks of the samples each has run (chunks not yet started count 0)."""

    def __init__(self, progress, n_chunks: int, batch: int, n_traj: int):
        self.progress, self.batch, self.n_traj = progress, batch, n_traj
        self.t, self.done = np.zeros(n_chunks), np.zeros(n_chunks, int)

    def __call__(self, chunk: int, t: int, n_done: int) -> None:
        self.t[chunk], self.done[chunk] = t, n_done
        self.progress(int(self.t.mean() * self.batch), min(int(self.done.sum()), self.n_traj))


def check_dimensions(dim, shape, batch) -> None:
    """Validate an engine's N, input shape and batch size (shared by every online-SGD engine)."""
    if not isinstance(dim, int | np.integer) or dim < 4:
        raise ValueError(f"dimension N={dim!r} is too small: use N >= 4")
    if shape is not None and int(np.prod(shape)) != dim:
        raise ValueError(f"shape {shape} does not have N={dim} pixels")
    if not isinstance(batch, int | np.integer) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")


def _marsaglia_tsang(df: int):
    """Marsaglia and Tsang's acceptance test for 2 Gamma(df/2) = chi^2_df (df >= 2): a function of a
    candidate pair (x standard normal, u uniform in (0, 1]) returning (accepted, value)."""
    if df < 2:
        raise ValueError(f"chisquare needs df >= 2, got {df}")
    d = df / 2 - 1 / 3
    c = 1 / math.sqrt(9 * d)

    def test(x, u):
        v = (1 + c * x) ** 3
        v_safe = jnp.where(v > 0, v, 1)
        ok = (v > 0) & (jnp.log(u) < 0.5 * x * x + d - d * v_safe + d * jnp.log(v_safe))
        return ok, 2 * d * v_safe

    return test


def chisquare(key: jax.Array, df: int, dtype=jnp.float32) -> jax.Array:
    """One exact chi-square variate with `df` >= 2 degrees of freedom: 2 Gamma(df/2) by
    Marsaglia and Tsang's rejection method (shape >= 1), in a small while loop that compiles far
    faster than `jax.random.chisquare` (about 4x in our measurements) and accepts a candidate with
    probability > 0.95."""
    test = _marsaglia_tsang(df)

    def body(state):
        i, value, done = state
        k_x, k_u = jax.random.split(jax.random.fold_in(key, i))
        ok, v = test(jax.random.normal(k_x, (), dtype), jax.random.uniform(k_u, (), dtype))
        return i + 1, jnp.where(done, value, v), done | ok

    init = (jnp.uint32(0), jnp.zeros((), dtype), jnp.zeros((), bool))
    return jax.lax.while_loop(lambda st: ~st[2], body, init)[1]


def uniform_from_words(words: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Uniform variates in [0, 1) from random uint32 words: one word each in float32 (23 mantissa
    bits), two words each in float64 (52 bits); the last axis of `words` is consumed pairwise
    for float64."""
    if jnp.dtype(dtype) == jnp.float64:
        hi, lo = words[..., 0::2].astype(jnp.uint64), words[..., 1::2].astype(jnp.uint64)
        mant = ((hi << 32) | lo) >> 12
        one = jax.lax.bitcast_convert_type(mant | jnp.uint64(0x3FF0000000000000), jnp.float64)
        return one - 1.0
    one = jax.lax.bitcast_convert_type((words >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    return (one - 1.0).astype(dtype)


def normal_from_words(words: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Standard normal variates by inversion, sqrt(2) erfinv(2U - 1) with U in the open interval
    (0, 1) (as `jax.random.normal` does), from the words of `uniform_from_words`."""
    u = uniform_from_words(words, dtype)
    tiny = jnp.finfo(dtype).eps / 2
    return jnp.sqrt(jnp.asarray(2.0, dtype)) * jax.lax.erf_inv(jnp.clip(2 * u - 1, -1 + tiny, 1 - tiny))


def words_per_float(dtype) -> int:
    return 2 if jnp.dtype(dtype) == jnp.float64 else 1


def _mix32(h: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finaliser: a bijection of uint32 with full avalanche."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def chisquare_from(seed: jax.Array, x: jax.Array, u: jax.Array, df: int) -> jax.Array:
    """The exact chi-square variate of `chisquare` (Marsaglia-Tsang), trying the given candidate
    pairs (x normal, u uniform in (0, 1]; last axis = attempts) first: the first accepted one is
    the value. Acceptance has probability > 0.95, so with two candidates the rejection loop is
    entered about once in 400 variates or less; it then draws further candidates from a counter
    hash of the uint32 `seed` (MurmurHash3's finaliser of seed + a Weyl sequence), which compiles
    to a few integer operations instead of a threefry call in a loop."""
    test = _marsaglia_tsang(df)
    dtype = x.dtype
    f = words_per_float(dtype)
    ok, value = test(x, u)
    done, value = jnp.any(ok), value[jnp.argmax(ok)]

    def body(state):
        i, value, done = state
        counter = seed + (i * jnp.uint32(2 * f) + jnp.arange(1, 2 * f + 1, dtype=jnp.uint32)) * jnp.uint32(
            0x9E3779B9
        )
        words = _mix32(_mix32(counter))
        ok, v = test(normal_from_words(words[:f], dtype)[0], 1 - uniform_from_words(words[f:], dtype)[0])
        return i + 1, jnp.where(done, value, v), done | ok

    init = (jnp.uint32(0), value, done)
    return jax.lax.while_loop(lambda st: ~st[2], body, init)[1]


def packed_signs(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Independent fair +-1 signs of the given shape, 32 per random word (the bits of
    ceil(size/32) uint32 draws), instead of one word each as `jax.random.rademacher` uses."""
    size = math.prod(shape)
    words = jax.random.bits(key, (-(-size // 32),), jnp.uint32)
    return signs_from_words(words, shape, dtype)


def signs_from_words(words: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Fair +-1 signs of the given shape from the bits of ceil(size/32) random uint32 words."""
    size = math.prod(shape)
    bits = (words[:, None] >> jnp.arange(32, dtype=jnp.uint32)) & jnp.uint32(1)
    return (1 - 2 * bits.reshape(-1)[:size].astype(dtype)).reshape(shape)


def _devices(requested: int | None, n_traj: int, prng_impl: str = "threefry2x32") -> list:
    """The local devices a run is sharded over (trajectories are split evenly between them).

    Only threefry keys shard: with jax 0.10 on CPU, a philox draw inside a sharded program fails to
    compile, so other PRNG implementations run on one device (and refuse an explicit request for
    more)."""
    available = jax.local_devices()
    if prng_impl != "threefry2x32":
        if requested not in (None, 1):
            raise ValueError(
                f"devices={requested!r} with prng_impl={prng_impl!r}: only threefry2x32 keys can be "
                "sharded over devices; use devices=1 or threefry2x32"
            )
        return available[:1]
    if requested is None:
        return available[: max(1, min(len(available), n_traj))]
    if not isinstance(requested, int | np.integer) or not 1 <= requested <= len(available):
        raise ValueError(
            f"devices={requested!r}: this process has {len(available)} local device(s): "
            f"use 1..{len(available)}"
        )
    return available[:requested]


@dataclasses.dataclass(frozen=True)
class _SphericalSGD:
    """Shared configuration, validation, key tree and driver of the online-SGD engines.

    **Arguments:**
    - `dim`: input dimension N (>= 4); signals of length N, or `shape=(L, L)` images.
    - `task`: a [`sims.SpikeTask`][].
    - `activation`: student activation name (e.g. `-he4`).
    - `batch`: samples per step B; the step is (delta/N) times the batch *sum* of gradients, so
      the per-sample dynamics do not depend on B.
    - `noise`: `gaussian` or `fixed_amplitude` noise class.
    - `start`: `random` (uniform on the sphere) or `conditioned` (m0 = start_scale / sqrt(N)).
    - `favourable_sign`: the start is flipped so that favourable_sign * m0 > 0 (BAGJ's start on
      the descending side; irrelevant for even information exponents).
    - `m_escape`: escape threshold on |m|.
    - `dtype`: `float32` or `float64` (needs `jax_enable_x64`).
    - `prng_impl`: JAX PRNG implementation (`threefry2x32` by default).
    - `chunk`: trajectories computed together (default `CHUNK` = 8; a run is padded to whole
      chunks). A trajectory's numbers are bitwise the same for every run with the same chunk;
      `chunk=1` saves the padding when running one seed at a time.
    """

    dim: int
    task: SpikeTask
    activation: str
    batch: int = 1
    noise: str = "gaussian"
    start: str = "random"
    start_scale: float = 1.0
    favourable_sign: int = 1
    m_escape: float = 0.5
    dtype: str = "float32"
    prng_impl: str = "threefry2x32"
    shape: tuple[int, ...] | None = None
    chunk: int = CHUNK

    name = "abstract"

    def __post_init__(self):
        check_dimensions(self.dim, self.shape, self.batch)
        self._check_activation()
        if self.noise not in NOISE_NAMES:
            raise ValueError(f"unknown noise {self.noise!r}: use one of {', '.join(NOISE_NAMES)}")
        if self.start not in START_NAMES:
            raise ValueError(f"unknown start {self.start!r}: use one of {', '.join(START_NAMES)}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.dtype == "float64" and not jax.config.jax_enable_x64:
            raise ValueError("float64 needs jax_enable_x64: set JAX_ENABLE_X64=1 or use --float64")
        if not 0 < self.m_escape < 1:
            raise ValueError(f"escape overlap must lie in (0, 1), got {self.m_escape}")
        if not isinstance(self.chunk, int | np.integer) or self.chunk < 1:
            raise ValueError(f"chunk must be a positive integer, got {self.chunk!r}")

    @property
    def basis(self) -> FourierBasis:
        return FourierBasis(self.shape or (self.dim,))

    # -- what an engine defines ----------------------------------------------------------------
    def _check_activation(self) -> None:
        activation_derivative(self.activation)  # validates the name

    overlap_names: ClassVar[tuple[str, ...]] = ()
    """Empty: one overlap m per trajectory (escape: |m| >= m_escape). Names of D directions: the
    overlap is a vector of D components with one escape threshold each (`escape_thresholds`), and
    every output about it gains a trailing axis of length D."""

    @property
    def escape_thresholds(self) -> tuple[float, ...] | float:
        return self.m_escape

    @property
    def escape_needed(self) -> tuple[bool, ...] | bool:
        """The directions whose escape finishes a trajectory (all of them by default)."""
        return True if not self.overlap_names else (True,) * len(self.overlap_names)

    def _init_one(self, key: jax.Array):
        """(state, aux) of one trajectory from its key; aux is constant along the run."""
        raise NotImplementedError

    steps_per_draw = 1
    """Steps whose random numbers one draw produces (a block): the data key of block b (steps
    bK+1 .. bK+K, b = 0, 1, ...) is fold_in(data_key, b + 1), so with K = 1 step t uses
    fold_in(data_key, t). Large draws amortise the PRNG's fixed cost per call."""

    scan_unroll = 1
    """Steps of a block unrolled in the compiled loop over the block (1: a rolled loop). Unrolling
    saves the loop's per-step cost where a step's work is small; it costs compile time."""

    def _draws_one(self, block_key: jax.Array):
        """The random numbers of one block of one trajectory: a pytree with leading axis K."""
        return block_key[None]

    def _step_one(self, state, aux, draw, step: jax.Array):
        """The state after one step of one trajectory, given that step's slice of the draws."""
        raise NotImplementedError

    def _overlap_one(self, state, aux) -> jax.Array:
        """The overlap m of one trajectory (shape (D,) for D `overlap_names`)."""
        raise NotImplementedError

    def _finished(self, esc, bad):
        """Per trajectory: every needed direction escaped, or the run went non-finite."""
        if not self.overlap_names:
            return (esc >= 0) | bad
        return jnp.all((esc >= 0) | ~jnp.asarray(self.escape_needed), axis=-1) | bad

    # -- keys ----------------------------------------------------------------------------------
    def seed_keys(self, root_seed: int, seeds: np.ndarray) -> jax.Array:
        root = jax.random.key(root_seed, impl=self.prng_impl)
        cell = jax.random.fold_in(root, self.dim)
        return jax.vmap(lambda s: jax.random.fold_in(cell, s))(jnp.asarray(seeds, jnp.uint32))

    def initial_state(self, keys: jax.Array):
        """(state, aux) for each key, batched along the first axis.

        Computed in chunks of `chunk` keys (padded with copies of the last), one chunk after the
        other with the same compiled body: XLA may sum a vector in a different order when it is
        vectorised over a different number of trajectories, so a start must not depend on how many
        seeds are drawn beside it."""
        n, C = keys.shape[0], int(self.chunk)
        pad = (-n) % C
        padded = jnp.concatenate([keys] + [keys[-1:]] * pad) if pad else keys
        out = self._initial_state(padded.reshape((-1, C) + keys.shape[1:]))
        return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:])[:n], out)

    @ft.cached_property
    def _initial_state(self):
        return jax.jit(lambda chunks: jax.lax.map(jax.vmap(self._init_one), chunks))

    def _favour(self, m: jax.Array) -> jax.Array:
        """-1 where the start must be flipped to the favourable side, else +1."""
        return jnp.where(self.favourable_sign * m < 0, -1, 1).astype(m.dtype)

    # -- the compiled run ----------------------------------------------------------------------
    @ft.cached_property
    def _executables(self) -> dict:
        return {}

    def _programs(self):
        """The two per-device programs of a run: `start` (the carry of every chunk at sample 0) and
        `advance` (every chunk of this device from its step t to the checkpoint t_end, one chunk
        after the other, each in its own while loop that also stops once all its trajectories
        escaped). The host calls `advance` once per checkpoint and decides there whether to stop,
        so the programs hold neither host callbacks nor collectives (and enter JAX's persistent
        cache).

        Long because the two compiled programs and their inner loops must be read together."""
        m_esc = self.escape_thresholds
        vector = bool(self.overlap_names)
        finished = self._finished
        K, unroll = int(self.steps_per_draw), int(self.scan_unroll)
        step_batch = jax.vmap(self._step_one)
        draw_batch = jax.vmap(self._draws_one)
        overlap = jax.vmap(self._overlap_one)

        def advance_chunk(carry, aux, data_keys, steps, t_end):
            def cond(c):
                state, t, esc, mx, bad = c
                return (t < t_end) & ~jnp.all(finished(esc, bad))

            def inner(c):
                # One block of K steps; after a checkpoint inside a block, the block is drawn
                # again and only its remaining steps are taken (same numbers either way).
                state, t, esc, mx, bad = c
                block = t // K
                base = block * K
                keys = jax.vmap(lambda k: jax.random.fold_in(k, block + 1))(data_keys)
                draws = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), draw_batch(keys))

                def one(masked, c2, xs):
                    state, esc, mx, bad = c2
                    j, draw = xs
                    tj = base + j + 1
                    new = step_batch(state, aux, draw, steps)
                    if masked:
                        live = (tj > t) & (tj <= t_end)
                        new = jax.tree.map(lambda n, o: jnp.where(live, n, o), new, state)
                    else:
                        live = jnp.bool_(True)
                    m = overlap(new, aux)
                    am = jnp.abs(m)
                    esc = jnp.where(live & (esc < 0) & (am >= jnp.asarray(m_esc, am.dtype)), tj, esc)
                    bad = bad | (~jnp.all(jnp.isfinite(m), axis=-1) if vector else ~jnp.isfinite(m))
                    mx = jnp.maximum(mx, jnp.where(jnp.isfinite(am), am, 0.0))
                    return (new, esc, mx, bad), None

                xs = (jnp.arange(K, dtype=jnp.int32), draws)

                def scan(masked):  # the rare masked block stays rolled (compile time)
                    body, n = ft.partial(one, masked), 1 if masked else unroll
                    return lambda c3: jax.lax.scan(body, c3, xs, unroll=n)[0]

                if K == 1:
                    state, esc, mx, bad = scan(False)((state, esc, mx, bad))
                else:
                    # Only a block cut by the run's start or a checkpoint pays for the mask.
                    whole = (base >= t) & (base + K <= t_end)
                    state, esc, mx, bad = jax.lax.cond(whole, scan(False), scan(True), (state, esc, mx, bad))
                return state, jnp.minimum(base + K, t_end), esc, mx, bad

            return jax.lax.while_loop(cond, inner, carry)

        def start(state0, aux):
            m0 = jax.vmap(overlap)(state0, aux)  # (chunks, C[, D])
            hit0 = jnp.abs(m0) >= jnp.asarray(m_esc, m0.dtype)
            esc0 = jnp.where(hit0, 0, -1).astype(jnp.int32)  # escaped at the start
            t0 = jnp.zeros(m0.shape[:1], jnp.int32)
            return (state0, t0, esc0, jnp.abs(m0), jnp.zeros(m0.shape[:2], bool)), m0

        def advance(carry, aux, data_keys, steps, t_end):
            carry = jax.lax.map(
                lambda a: advance_chunk(a[:5], *a[5:], t_end), (*carry, aux, data_keys, steps)
            )
            return carry, jax.vmap(overlap)(carry[0], aux)

        return start, advance

    def _compiled(self, devices: list, example) -> dict:
        """The compiled `start` and `advance` programs for these shapes and devices (cached on the
        engine), sharded over the chunk axis with `jax.shard_map` on several devices."""
        signature = (
            tuple((a.shape, str(a.dtype)) for a in jax.tree.leaves(example)),
            tuple(d.id for d in devices),
        )
        if signature in self._executables:
            return self._executables[signature]
        start, advance = self._programs()
        state0, aux, data_keys, steps = example
        out = {"sharding": None}
        if len(devices) > 1:
            mesh = jax.sharding.Mesh(np.asarray(devices), ("chunk",))
            P = jax.sharding.PartitionSpec
            out["sharding"] = jax.sharding.NamedSharding(mesh, P("chunk"))
            shard = lambda fn, n_in, n_out: jax.shard_map(
                fn, mesh=mesh, in_specs=n_in, out_specs=n_out, check_vma=False
            )
            start = shard(start, (P("chunk"), P("chunk")), P("chunk"))
            advance = shard(advance, (P("chunk"),) * 4 + (P(),), P("chunk"))
            state0, aux, data_keys, steps = jax.device_put(example, out["sharding"])
        carry, _ = jax.eval_shape(start, state0, aux)
        carry = jax.tree.map(
            lambda a: (
                jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=out["sharding"]) if out["sharding"] else a
            ),
            carry,
        )
        out["start"] = jax.jit(start).lower(state0, aux).compile()
        out["advance"] = jax.jit(advance).lower(carry, aux, data_keys, steps, jnp.int32(0)).compile()
        self._executables[signature] = out
        return out

    def run(
        self,
        steps,
        seeds,
        budget_samples: int,
        *,
        root_seed: int = 0,
        n_checkpoints: int = 64,
        progress: Callable[[int, int], None] | None = None,
        devices: int | None = None,
        stop_after: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Run every (step size, seed) trajectory for at most `budget_samples` samples.

        **Arguments:**
        - `steps`: BAGJ step sizes delta (each > 0).
        - `seeds`: non-negative integer seed indices.
        - `budget_samples`: samples per trajectory (rounded up to whole batches).
        - `root_seed`: the root of the key tree.
        - `n_checkpoints`: number of log-spaced checkpoints at which m is recorded.
        - `progress`: called as progress(samples_done, trajectories_done) at each checkpoint.
        - `devices`: how many local devices to shard the trajectories over (default: all of
          them, at most one per trajectory). A trajectory's numbers do not depend on it.
        - `stop_after`: stop every trajectory at the first checkpoint by which at least this many
          (of all steps and seeds together) have escaped; the others are then right-censored at
          that checkpoint (`stop_samples`). Default: run to the budget. Escapes up to the stop are
          bitwise those of a run to the full budget.

        **Returns:** a dict of numpy arrays with leading axes (step, seed): `initial_overlap`,
        `overlap` (..., checkpoint; NaN after the run stopped), `escape_samples` (NaN if no
        escape), `max_abs_overlap`, `finite`; plus `checkpoint_samples`, `stop_samples` (the
        sample count at which trajectories that had not escaped stopped: the budget, or the early
        stop), `wall_seconds` (run only) and `compile_seconds`.
        """
        steps = np.atleast_1d(np.asarray(steps, float))
        seeds = np.atleast_1d(np.asarray(seeds))
        if steps.size == 0 or np.any(~np.isfinite(steps)) or np.any(steps <= 0):
            raise ValueError(f"step sizes must be positive numbers, got {steps.tolist()}")
        if seeds.size == 0 or np.any(seeds < 0) or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"seeds must be non-negative integers, got {seeds.tolist()}")
        total_steps = max(1, math.ceil(budget_samples / self.batch))
        if total_steps > MAX_STEPS:
            raise ValueError(f"budget of {budget_samples} samples is too large for one run")
        ends = np.unique(np.geomspace(1, total_steps, n_checkpoints).round().astype(np.int64))
        n_traj = steps.size * seeds.size
        if stop_after is not None and (not isinstance(stop_after, int | np.integer) or stop_after < 1):
            raise ValueError(f"stop_after must be a positive integer or None, got {stop_after!r}")
        stop = n_traj + 1 if stop_after is None else min(int(stop_after), n_traj + 1)
        devices = _devices(devices, -(-n_traj // int(self.chunk)), self.prng_impl)
        start_compile = time.perf_counter()
        layout = self._layout(steps, seeds, root_seed, devices)
        programs = self._compiled(devices, layout["arrays"])
        if len(devices) > 1:
            layout["arrays"] = jax.device_put(layout["arrays"], programs["sharding"])
        compile_seconds = time.perf_counter() - start_compile
        start = time.perf_counter()
        loop = self._checkpoint_loop(programs, layout, ends, stop, progress)
        wall = time.perf_counter() - start
        out = self._collect(loop, layout, ends, (steps.size, seeds.size))
        return out | {
            "checkpoint_samples": ends.astype(np.float64) * self.batch,
            "stop_samples": np.float64(loop["stop_step"] * self.batch),
            "wall_seconds": np.float64(wall),
            "compile_seconds": np.float64(compile_seconds),
        }

    def _layout(self, steps: np.ndarray, seeds: np.ndarray, root_seed: int, devices: list) -> dict:
        """The run's trajectories as whole chunks: (step, seed) flattened into one axis (all steps
        of a seed share its data), padded with copies of the last trajectory (never counted) to
        whole chunks, as many per device, reshaped to (chunks, chunk, ...)."""
        n_step, n_seed, C = steps.size, seeds.size, int(self.chunk)
        n_traj = n_step * n_seed
        keys = self.seed_keys(root_seed, seeds)
        state0, aux = self.initial_state(keys)
        data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)
        tile = lambda a: jnp.tile(a, (n_step,) + (1,) * (a.ndim - 1))
        with np.errstate(over="ignore"):  # a step beyond the dtype's range runs as inf -> NaN flag
            flat_steps = jnp.repeat(jnp.asarray(steps.astype(self.dtype)), n_seed)
        real = jnp.ones(n_traj, bool)
        traj = (jax.tree.map(tile, state0), jax.tree.map(tile, aux), tile(data_keys), flat_steps, real)
        n_chunks = -(-n_traj // (C * len(devices))) * len(devices)
        pad = n_chunks * C - n_traj
        if pad:
            traj = jax.tree.map(lambda a: jnp.concatenate([a] + [a[-1:]] * pad), traj)
            traj = (*traj[:4], traj[4].at[n_traj:].set(False))  # padded copies never count as escapes
        traj = jax.tree.map(lambda a: a.reshape((n_chunks, C) + a.shape[1:]), traj)
        return {
            "arrays": traj[:4],  # state0, aux, data keys, steps
            "real": np.asarray(traj[4]).reshape(-1),
            "n_traj": n_traj,
            "n_chunks": n_chunks,
        }

    def _checkpoint_loop(self, programs: dict, layout: dict, ends: np.ndarray, stop: int, progress) -> dict:
        """Run `start`, then `advance` to each checkpoint in turn; record the overlaps and the
        steps each chunk reached, report progress, and stop early once `stop` trajectories (of the
        real ones, over all devices) have escaped."""
        state0, aux, data_keys, flat_steps = layout["arrays"]
        n_chunks, C = layout["n_chunks"], int(self.chunk)
        carry, m0 = programs["start"](state0, aux)
        D = (len(self.overlap_names),) if self.overlap_names else ()
        flat = lambda a: np.asarray(a).reshape((n_chunks * C, *D))  # (trajectory[, direction])
        needed = np.asarray(self.escape_needed)
        escaped = lambda esc: np.all((esc >= 0) | ~needed, axis=-1) if D else esc >= 0
        ms = np.full((len(ends), n_chunks * C, *D), np.nan)
        ts = np.zeros((len(ends), n_chunks), np.int64)
        report = _ChunkProgress(progress, n_chunks, self.batch, layout["n_traj"]) if progress else None
        stop_step = int(ends[-1])
        for j, t_end in enumerate(ends):
            carry, m = programs["advance"](carry, aux, data_keys, flat_steps, jnp.int32(t_end))
            done_all = escaped(flat(carry[2]))
            ms[j], ts[j] = flat(m), np.asarray(carry[1])
            if report is not None:
                done = (done_all | np.asarray(carry[4]).reshape(-1)).reshape(n_chunks, C).sum(axis=1)
                for chunk in range(n_chunks):
                    report(chunk, int(ts[j, chunk]), int(done[chunk]))
            if int(np.sum(layout["real"] & done_all)) >= stop:  # the early stop, for all devices
                stop_step = int(t_end)
                break
        return {"m0": flat(m0), "carry": carry, "flat": flat, "ms": ms, "ts": ts, "stop_step": stop_step}

    def _collect(self, loop: dict, layout: dict, ends: np.ndarray, leading: tuple[int, int]) -> dict:
        """The per-trajectory results with leading axes (step, seed): padded copies dropped, and
        checkpoints a chunk did not reach (it stops once all its trajectories escaped) set to NaN."""
        n_traj, C, flat, carry = layout["n_traj"], int(self.chunk), loop["flat"], loop["carry"]
        D = (len(self.overlap_names),) if self.overlap_names else ()
        m0 = loop["m0"][:n_traj]
        esc, mx = (flat(a)[:n_traj] for a in (carry[2], carry[3]))
        bad = np.asarray(carry[4]).reshape(-1)[:n_traj]
        ms = np.moveaxis(loop["ms"], 0, -1)[:n_traj]  # (trajectory[, direction], checkpoint)
        reached = np.repeat(loop["ts"].T == ends, C, axis=0)[:n_traj]
        ms = np.where(reached.reshape((n_traj,) + (1,) * len(D) + (len(ends),)), ms, np.nan)
        shape = (*leading, *D)
        escape = np.where(esc >= 0, esc.astype(np.float64) * self.batch, np.nan)
        return {
            "initial_overlap": m0.reshape(shape),
            "overlap": ms.reshape(shape + (len(ends),)),
            "escape_samples": escape.reshape(shape),
            "max_abs_overlap": mx.reshape(shape),
            "finite": (~bad).reshape(leading),
        }
