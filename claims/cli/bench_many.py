"""The reduced engine with many seeds per compiled program, for `scripts/bench_engine.py --many-seeds`
(issue 15, item 6: the GPU measurement, runnable on any backend).

In the sweep's shape (batch N, threefry, the phase task of the benchmark, a step so small that
nothing escapes) each seed count S runs as chunks of min(S, `MAX_CHUNK`) trajectories (on a GPU a
chunk of 8 would leave the device idle), on every local device. Unit: ns per sample and trajectory,
and trajectory-samples per second, best of the repeats after a warm-up; compile time excluded. No
floor and no target: the numbers are the device's throughput, to set beside the CPU's sweep-shape
row of the main benchmark (docs/benchmarks.md).
"""

from __future__ import annotations

import math
import sys

import numpy as np

import sims


MAX_CHUNK = 256
"""Trajectories per compiled chunk at most (a GPU wants thousands of samples per step: chunk x N)."""


def many_seed_rows(dims, seed_counts, repeats: int, work: float, task, activation: str, step: float) -> list:
    """One row per (N, seeds): the reduced engine in the sweep's shape with `seeds` trajectories run
    `work` trajectory-samples in all (at least 16 steps)."""
    rows = []
    for N in dims:
        for seeds in seed_counts:
            chunk = min(int(seeds), MAX_CHUNK)
            engine = sims.ReducedSGD(N, task, activation, batch=N, chunk=chunk)
            steps = max(16, round(work / (N * seeds)))
            kw = dict(steps=[step], seeds=np.arange(seeds), budget_samples=steps * N)
            first = engine.run(**kw)  # compiles
            best = math.inf
            for _ in range(repeats):
                out = engine.run(**kw)
                best = min(best, float(out["wall_seconds"]))
            if np.isnan(out["overlap"][..., -1]).any():
                print(f"warning: many seeds N={N} S={seeds}: a trajectory escaped", file=sys.stderr)
            per = steps * N * seeds
            row = dict(N=N, batch=N, seeds=int(seeds), chunk=chunk, steps=steps, seconds=best)
            row.update(
                ns_per_sample=best / per * 1e9,
                samples_per_second=per / best,
                compile=float(first["compile_seconds"]),
            )
            rows.append(row)
            print(
                f"  many seeds N={N} S={seeds} chunk={chunk}: {row['ns_per_sample']:.3f} ns/sample, "
                f"{row['samples_per_second']:.3g} trajectory-samples/s",
                file=sys.stderr,
            )
    return rows


def render_many(rows: list, backend: str) -> list[str]:
    out = [
        "",
        f"### Reduced engine with many seeds (backend {backend}; threefry, batch N, sweep's shape)",
        "",
        "| N | seeds | chunk | steps | ns/sample per trajectory | trajectory-samples/s | compile s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['N']} | {r['seeds']} | {r['chunk']} | {r['steps']} | {r['ns_per_sample']:.3f} "
            f"| {r['samples_per_second']:.3g} | {r['compile']:.1f} |"
        )
    return out
