"""NumPy loops of the reduced and moment-matched overlap chains, for `bench_engine.py`.

Each is the same algorithm as its JAX engine (`sims.ReducedSGD`, `sims.MomentMatchedSGD`; the
update of docs/reduced-dynamics.md) written in plain NumPy float64, vectorised over seeds and the
batch and looped over steps: NumPy's best shape for this work. The task is the benchmark's (phase,
Rademacher latent, activation -He4); the moment-matched loop reads the engine's own moment table,
so both loops time the algorithm, not a re-derivation of it.
"""

from __future__ import annotations

import math
import time

import numpy as np


def _update(m, c, g_u, g_e, s, chi, lr):
    num = m + lr * g_u
    return num / np.sqrt(num * num + (c + lr * g_e) ** 2 + lr * lr * s * chi)


def reduced_loop(N: int, B: int, m0: np.ndarray, steps: int, step: float, snr: float, seed: int = 0):
    """`steps` steps of the exact reduced chain from overlaps m0 (one per seed); returns the overlaps."""
    rng = np.random.default_rng(seed)
    m = np.array(m0, float)
    S, lr = m.size, step / N
    root_beta, root_1beta = math.sqrt(snr), math.sqrt(1 + snr)
    for _ in range(steps):
        z_u = rng.standard_normal((S, B))
        z_e = rng.standard_normal((S, B))
        y = rng.integers(0, 2, (S, B)) * 2.0 - 1.0
        g = rng.integers(0, 2, (S, B)) * 2.0 - 1.0
        x_u = np.where(y > 0, (z_u + root_beta * g) / root_1beta, z_u)
        c = np.sqrt((1 - m) * (1 + m))
        lam = m[:, None] * x_u + c[:, None] * z_e
        a = y * -4.0 * (lam**3 - 3.0 * lam)  # sigma = -He4: sigma' = -4 He3
        g_u, g_e, s = (a * x_u).sum(1), (a * z_e).sum(1), (a * a).sum(1)
        m = _update(m, c, g_u, g_e, s, rng.chisquare(N - 2, S), lr)
    return m


def moment_matched_loop(
    table: np.ndarray, N: int, B: int, m0: np.ndarray, steps: int, step: float, seed: int = 0
):
    """`steps` steps of the moment-matched chain (`table`: the engine's (size, 9) moment table)."""
    rng = np.random.default_rng(seed)
    m = np.array(m0, float)
    S, lr, size, root_b = m.size, step / N, table.shape[0], math.sqrt(B)
    for _ in range(steps):
        pos = (m + 1) * ((size - 1) / 2)
        i = np.clip(np.floor(pos).astype(int), 0, size - 2)
        f = (pos - i)[:, None]
        row = table[i] * (1 - f) + table[i + 1] * f
        mu, l = row[:, :3], row[:, 3:]
        xi = rng.standard_normal((3, S))
        g_u = B * mu[:, 0] + root_b * l[:, 0] * xi[0]
        g_e = B * mu[:, 1] + root_b * (l[:, 1] * xi[0] + l[:, 2] * xi[1])
        s = np.maximum(B * mu[:, 2] + root_b * (l[:, 3] * xi[0] + l[:, 4] * xi[1] + l[:, 5] * xi[2]), 0.0)
        c = np.sqrt((1 - m) * (1 + m))
        m = _update(m, c, g_u, g_e, s, rng.chisquare(N - 2, S), lr)
    return m


def time_loop(fn, steps: int, repeats: int) -> float:
    """Best seconds of `fn(steps)` over `repeats` runs, after a short warm-up."""
    fn(min(steps, 10))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(steps)
        best = min(best, time.perf_counter() - start)
    return best
