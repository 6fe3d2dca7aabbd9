"""Training throughput of the three network paths, for `scripts/bench_engine.py` (issue 17).

For the two-layer network and the CNN of the texture protocol (`sims.networks.train`) and the
Rahaman MLP (`sims.spectral_bias.train`), each in the shape its experiment's default uses, this
measures SGD (or Adam) steps per second over all seeds, converts them to achieved GFLOP/s with the
model's multiply-add count (forward and backward: 3 x 2 x MACs per example, the optimiser's
element-wise update not counted) and divides by the CPU's measured float32 matmul throughput (a
jitted 1024 x 1024 product, best of several). Compile time is excluded: the texture paths are
timed as wall time minus the first (compiling) segment, with test sets of one minibatch so that
evaluation is negligible; the Rahaman path is trained twice with the same shapes and the second
run is timed.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import sims.networks
import sims.spectral_bias


def matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Best-of-`repeats` float32 throughput of one jitted n x n matrix product (GFLOP/s)."""
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _texture_macs(model: str, side: int, hidden: int, width: int, classes: int = 3) -> int:
    if model == "two-layer":
        return side * side * hidden + hidden * classes
    w, s = width, side
    return s * s * w * 9 + (s // 2) ** 2 * 2 * w * 9 * w + (s // 4) ** 2 * 4 * w * 9 * 2 * w + 4 * w * classes


def time_texture(model: str, seeds: int, steps: int, side: int = 32, batch: int = 32) -> dict:
    """Steps per second of `sims.networks.train` for the texture protocol's `model`."""
    hidden, width = 256, 16
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, side, side, 1)).astype(np.float32)
    y = rng.integers(0, 3, 512)
    tests = {"test": (x[:batch], y[:batch])}
    cfg = sims.networks.TrainConfig(steps=steps, batch=batch, lr=0.01, seeds=seeds, n_eval=2)
    net = sims.networks.make_model(model, 3, hidden=hidden, width=width)
    out = sims.networks.train(net, x, y, tests, cfg, progress=False)
    seconds = out["wall_seconds"] - out["compile_seconds"]  # steps 1..steps, compiled
    macs = _texture_macs(model, side, hidden, width) * batch
    shape = f"{seeds} seeds, batch {batch}, {side} x {side}" + (
        f", {hidden} hidden" if model == "two-layer" else f", width {width}"
    )
    return _row(model, shape, seeds, steps - 1, seconds, macs, out["compile_seconds"])


def time_rahaman(seeds: int, steps: int, width: int = 128, depth: int = 5, n: int = 200) -> dict:
    """Steps per second of `sims.spectral_bias.train` (full-batch Adam, the experiment-1 MLP)."""
    cfg = sims.spectral_bias.FitConfig(
        freqs=(2, 4, 6, 8, 10), n=n, width=width, depth=depth, steps=steps, record_every=steps // 10, lr=1e-3
    )
    t0 = time.perf_counter()
    sims.spectral_bias.train(cfg, np.arange(seeds), track_norms=False)  # compiles
    first = time.perf_counter() - t0
    out = sims.spectral_bias.train(cfg, np.arange(seeds), track_norms=False)
    macs = n * (cfg.in_dim * width + (depth - 1) * width * width + width)
    shape = f"{seeds} seeds, {n} points, {depth} x {width} ReLU"
    return _row("rahaman-mlp", shape, seeds, steps, out["wall_seconds"], macs, first - out["wall_seconds"])


def _row(model, shape, seeds, steps, seconds, macs_per_step, compile_seconds) -> dict:
    flop = 6.0 * macs_per_step * seeds * steps  # forward + backward, all seeds
    return {
        "model": model,
        "shape": shape,
        "seeds": seeds,
        "steps": steps,
        "seconds": float(seconds),
        "steps_per_second": steps / seconds,
        "gflops": flop / seconds / 1e9,
        "mflop_per_step": 6.0 * macs_per_step / 1e6,
        "compile_seconds": float(compile_seconds),
    }


def network_rows(quick: bool) -> tuple[list[dict], float]:
    """The three paths (fewer steps with `quick`; timings then meaningless) and the matmul peak."""
    peak = matmul_gflops(256 if quick else 1024, 2 if quick else 5)
    steps = 21 if quick else 401
    rows = [
        time_texture("two-layer", 8, steps),
        time_texture("cnn", 4, steps if quick else 101),
        time_rahaman(4, 20 if quick else 1000),
    ]
    for r in rows:
        r["fraction_of_matmul"] = r["gflops"] / peak
    return rows, peak


def render_networks(rows: list[dict], peak: float) -> list[str]:
    out = [
        "",
        "### Network training throughput (steps per second over all seeds, compile excluded)",
        "",
        f"Measured float32 matmul throughput (jitted 1024 x 1024 product): {peak:.1f} GFLOP/s.",
        "",
        "| path | shape | steps timed | steps/s | MFLOP/step (1 seed) | GFLOP/s | fraction of matmul | "
        "compile s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['model']} | {r['shape']} | {r['steps']} | {r['steps_per_second']:.1f} "
            f"| {r['mflop_per_step']:.1f} | {r['gflops']:.2f} | {r['fraction_of_matmul']:.2f} "
            f"| {r['compile_seconds']:.1f} |"
        )
    return out
