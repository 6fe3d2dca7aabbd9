#!/usr/bin/env python
"""Benchmark the full online-SGD engine against a NumPy loop and against its random-number floor.

One run measures, for each PRNG implementation (threefry2x32, the default, and philox4x32) and
each N, the engine `sims.OnlineSGD(N, phase task (beta=10, rademacher latent), "-he4").run(...)`
at four shapes: batch 1 / 1 seed, batch N / 1 seed, batch 1 / 16 seeds and batch N / 16 seeds
(the scaling sweep's shape). Beside each it times:

- the **floor**: the engine's own random numbers only (fold_in(data_key, t), split into 3,
  normal (B, N), rademacher (B,), latent (B,) per step, vmapped over seeds inside a jitted
  `lax.fori_loop`, with a sum carried so nothing is optimised away);
- a **NumPy loop**: the same algorithm, one trajectory, one sample per step, float64.

Times are ns per sample per dimension, per trajectory (so 16 seeds divide by 16): the engine's
`wall_seconds` (compile excluded), best of `--repeats` after a warm-up call, engine and floor
runs interleaved so that a change in background load hits both alike. A benchmark, not a test: it
prints ratios measured in one run and asserts nothing. The load average is printed so that a busy
machine shows; the default run takes about 3 minutes on 2 cores.

Targets: engine >= 100x faster than NumPy at N=256 (batch 1, one seed, threefry); engine within
1.5x of its random-number floor.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import sims


STEP = 1e-4  # BAGJ step delta: tiny, so no trajectory escapes within the budget
SNR = 10.0
ACTIVATION = "-he4"
IMPLS = ("threefry2x32", "philox4x32")
TARGET_NUMPY, TARGET_FLOOR = 100.0, 1.5


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench_engine.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: N=16, two shapes, tiny sample counts (timings meaningless)",
    )
    p.add_argument("--out", metavar="FILE", help="also write the Markdown report to FILE")
    p.add_argument("--dims", type=int, nargs="+", help="N values [default: 64 256 1024]")
    p.add_argument("--repeats", type=int, help="timed repeats, the best is kept [default: 3]")
    return p


# -- machine -------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "platform": platform.platform(),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "jax": f"{jax.__version__} (backend {jax.default_backend()}, devices {jax.device_count()})",
        "numpy": np.__version__,
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "(unset)"),
    }


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# -- the three timed things ------------------------------------------------------------------------
def numpy_loop(N: int, n: int, seed: int = 0) -> float:
    """n online-SGD samples of one trajectory in plain NumPy; returns the final overlap m."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(N)
    u /= np.linalg.norm(u)
    w = rng.standard_normal(N)
    w /= np.linalg.norm(w)
    sqrt_beta, sqrt_1beta, lr = math.sqrt(SNR), math.sqrt(1 + SNR), STEP / N
    m = w @ u
    for _ in range(n):
        z = rng.standard_normal(N)
        y = 1.0 if rng.random() < 0.5 else -1.0
        g = 1.0 if rng.random() < 0.5 else -1.0
        if y > 0:
            z_u = z @ u
            x = z + ((z_u + sqrt_beta * g) / sqrt_1beta - z_u) * u
        else:
            x = z
        lam = w @ x
        w = w + (lr * y * -4.0 * (lam**3 - 3.0 * lam)) * x  # sigma = -He4: sigma' = -4 He3
        w /= np.linalg.norm(w)
        m = w @ u
        if abs(m) >= 0.5:
            break
    return m


def time_numpy(N: int, n: int, repeats: int) -> float:
    """Best seconds per sample of the NumPy loop."""
    numpy_loop(N, min(n, 100))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        numpy_loop(N, n)
        best = min(best, time.perf_counter() - start)
    return best / n


def floor_fn(engine: sims.OnlineSGD, steps: int):
    """Jitted: the engine's random draws for `steps` steps per data key, nothing else."""
    B, latent = engine.batch, engine.task.latent
    dtype = jnp.dtype(engine.dtype)

    def one(data_key, acc):
        def body(t, acc):
            k_z, k_y, k_g = jax.random.split(jax.random.fold_in(data_key, t), 3)
            z = sims.draw_noise(k_z, engine.basis, (B,), engine.noise, dtype)
            y = jax.random.rademacher(k_y, (B,), dtype)
            g = latent.sample(k_g, (B,), dtype)
            return acc + jnp.sum(z) + jnp.sum(y * g)

        return jax.lax.fori_loop(1, steps + 1, body, acc)

    return jax.jit(jax.vmap(one))


def time_pair(engine: sims.OnlineSGD, seeds: int, steps: int, repeats: int) -> dict[str, float]:
    """Best seconds of engine.run (its wall_seconds) and of the floor over `steps` steps.

    The two are interleaved (engine, floor, engine, floor, ...) after one warm-up each, so that
    a change in background load hits both alike.
    """
    kw = dict(steps=[STEP], seeds=np.arange(seeds), budget_samples=steps * engine.batch)
    keys = engine.seed_keys(0, np.arange(seeds))
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)  # as in OnlineSGD.run
    acc = jnp.zeros(seeds, engine.dtype)
    floor = floor_fn(engine, steps).lower(data_keys, acc).compile()

    out = engine.run(**kw)  # warm-up; compiles
    jax.block_until_ready(floor(data_keys, acc))
    best = dict(engine=math.inf, floor=math.inf, compile=float(out["compile_seconds"]))
    for _ in range(repeats):
        out = engine.run(**kw)
        best["engine"] = min(best["engine"], float(out["wall_seconds"]))
        start = time.perf_counter()
        jax.block_until_ready(floor(data_keys, acc))
        best["floor"] = min(best["floor"], time.perf_counter() - start)
    if np.isnan(out["overlap"][..., -1]).any() or not np.all(out["finite"]):
        print(
            f"warning: N={engine.dim} batch={engine.batch}: the run stopped early (all "
            "trajectories escaped) or went non-finite; its time is not comparable",
            file=sys.stderr,
        )
    return best


# -- driver ----------------------------------------------------------------------------------------
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    dims = args.dims or ([16] if args.quick else [64, 256, 1024])
    if any(n < 4 for n in dims):
        print(f"error: --dims {dims}: every N must be >= 4", file=sys.stderr)
        return 2
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        print(f"error: --repeats {repeats}: use at least 1", file=sys.stderr)
        return 2
    work = 2**12 if args.quick else 2**24  # samples x N x seeds per engine / floor measurement
    min_steps = 4 if args.quick else 16
    numpy_samples = {n: (200 if args.quick else (20000 if n <= 256 else 10000)) for n in dims}
    shapes = [(1, 1), ("N", 1), (1, 16), ("N", 16)]  # (batch, seeds); the sweep runs (N, 16)
    if args.quick:
        shapes = [(1, 1), ("N", 16)]

    info, load0, t_start = machine(), load(), time.perf_counter()
    task = sims.SpikeTask.make("phase", SNR, "rademacher")
    print(f"bench_engine: N={dims}, repeats={repeats}, load average {load0}", file=sys.stderr)

    numpy_ns = {}
    for N in dims:
        numpy_ns[N] = time_numpy(N, numpy_samples[N], repeats) * 1e9
        print(f"  numpy N={N}: {numpy_ns[N] / N:.1f} ns/(sample N)", file=sys.stderr)

    rows = []
    for impl in IMPLS:
        for N in dims:
            for batch, seeds in shapes:
                B = N if batch == "N" else batch
                steps = max(min_steps, round(work / (B * N * seeds)))
                engine = sims.OnlineSGD(N, task, ACTIVATION, batch=B, prng_impl=impl)
                t = time_pair(engine, seeds, steps, repeats)
                per = steps * B * seeds * N / 1e9  # trajectory-samples x N, in units of 1e9
                row = dict(
                    impl=impl,
                    N=N,
                    batch=B,
                    seeds=seeds,
                    samples=steps * B,
                    engine=t["engine"] / per,
                    floor=t["floor"] / per,
                    compile=t["compile"],
                )
                row["numpy"] = numpy_ns[N] / N
                rows.append(row)
                print(
                    f"  {impl} N={N} B={B} S={seeds}: engine {row['engine']:.2f}, floor "
                    f"{row['floor']:.2f} ns/(sample N)",
                    file=sys.stderr,
                )

    report = render(rows, dims, info, load0, load(), time.perf_counter() - t_start, numpy_samples)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")
    return 0


def render(rows, dims, info, load0, load1, seconds, numpy_samples) -> str:
    lines = [
        "| PRNG | N | batch | seeds | samples/traj | engine ns/(sample·N) | floor ns/(sample·N) "
        "| engine/floor | NumPy ns/(sample·N) | NumPy/engine | compile s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['impl']} | {r['N']} | {r['batch']} | {r['seeds']} | {r['samples']:.3g} "
            f"| {r['engine']:.2f} | {r['floor']:.2f} | {r['engine'] / r['floor']:.2f} "
            f"| {r['numpy']:.1f} | {r['numpy'] / r['engine']:.1f} | {r['compile']:.1f} |"
        )
    head = [f"- {k}: {v}" for k, v in info.items()]
    head += [
        f"- task: phase, beta={SNR}, rademacher latent; activation {ACTIVATION}; step {STEP}; "
        "engine float32, NumPy float64",
        f"- NumPy loop samples: {', '.join(f'N={n}: {numpy_samples[n]}' for n in dims)}; "
        "times per trajectory (16 seeds: divided by 16); best of repeats, compile excluded",
        f"- load average (1, 5, 15 min): {load0} before, {load1} after; total {seconds:.0f} s",
    ]
    verdict = []
    ref = [r for r in rows if r["impl"] == IMPLS[0] and r["N"] == 256 and r["batch"] == 1 and r["seeds"] == 1]
    if ref:
        ratio = ref[0]["numpy"] / ref[0]["engine"]
        met = "met" if ratio >= TARGET_NUMPY else "NOT met"
        verdict.append(
            f"- NumPy/engine at N=256, batch 1, 1 seed, {IMPLS[0]}: {ratio:.1f}x "
            f"(target >= {TARGET_NUMPY:.0f}x: {met})"
        )
    worst = max(rows, key=lambda r: r["engine"] / r["floor"])
    verdict.append(
        f"- engine/floor: {min(r['engine'] / r['floor'] for r in rows):.2f} to "
        f"{worst['engine'] / worst['floor']:.2f} (worst {worst['impl']} N={worst['N']} "
        f"batch={worst['batch']} seeds={worst['seeds']}; target <= {TARGET_FLOOR}: "
        f"{'met' if worst['engine'] / worst['floor'] <= TARGET_FLOOR else 'NOT met'})"
    )
    for N in dims:
        t = {(r["impl"], r["batch"], r["seeds"]): r["engine"] for r in rows if r["N"] == N}
        pairs = [
            f"batch={b} seeds={s}: {t[(IMPLS[0], b, s)] / t[(IMPLS[1], b, s)]:.2f}"
            for (i, b, s) in t
            if i == IMPLS[0] and (IMPLS[1], b, s) in t
        ]
        verdict.append(f"- {IMPLS[0]}/{IMPLS[1]} engine time at N={N}: " + ", ".join(pairs))
    return "\n".join(["## Engine benchmark", "", *head, "", *lines, "", *verdict])


if __name__ == "__main__":
    sys.exit(main())
