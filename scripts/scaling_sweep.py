#!/usr/bin/env python
"""Scaling sweep: does online SGD on a phase-only task need between N^3 and N^3 log^2 N samples?

Pipeline: config -> run cells (one netCDF file per N, resumable, progress bars) -> fit exponents
with bootstrap intervals -> compare with the theory (ODE escape samples, thresholds) -> write
DIR/summary.json, DIR/scaling.png and DIR/scaling.pdf, and print the verdict.

Exit codes: 0 done, 2 bad input (one line on stderr naming the value and what to do), including
a step so large that the simulation produces NaN (that cell is not written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import claims


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2), as for every other bad input."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def join_negative_values(argv: list[str]) -> list[str]:
    """Let `--activation -he4` mean `--activation=-he4` (argparse would read -he4 as a flag)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--activation" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"--activation={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="scaling_sweep.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--profile",
        default="default",
        help="smoke (seconds), default (~5 min on 2 CPU cores) "
        "or full (hours on CPU): sets N, seeds, start and budget; other flags override it",
    )
    p.add_argument(
        "--task",
        default=None,
        help="phase (classes differ only in phase: k=4 for symmetric "
        "latents), amplitude (power along u: k=2) or mean (k=1) [default: phase]",
    )
    p.add_argument(
        "--latent",
        default=None,
        help="latent of the spike: rademacher, uniform, laplace, "
        "skewed[:RHO], gaussian, or moments:M1,M2,M3,... (mean 0, variance 1) [default: rademacher]",
    )
    p.add_argument(
        "--activation",
        default=None,
        help="student activation: he1..he6 (optionally -heK), "
        "relu, tanh, erf [default: the theory's recommendation, -he4 for the phase task]",
    )
    p.add_argument("--snr", type=float, default=None, help="signal strength beta [default: 10]")
    p.add_argument(
        "--N",
        dest="dims",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="input dimensions, e.g. --N 16 32 64 [default: the profile's grid]",
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds per N [default: the profile's]")
    p.add_argument(
        "--engine",
        default=None,
        help="auto (the exact reduced engine wherever it applies, i.e. gaussian noise; full otherwise), "
        "full or reduced [default: auto]",
    )
    p.add_argument(
        "--start",
        default=None,
        help="random (uniform on the sphere) or conditioned (m0 = N^-1/2) [default: the profile's]",
    )
    p.add_argument(
        "--step",
        dest="step0",
        type=float,
        default=None,
        help="delta_0 of the step schedule "
        "delta_N = delta_0 N^-(k-2)/2 / log N [default: drift/shrink = 10 at N = 16]",
    )
    p.add_argument(
        "--budget-factor",
        type=float,
        default=None,
        help="budget per seed = factor x "
        "N^(k-1) log^2 N / (k max(k-2,1) a_k delta_0) samples [default: the profile's]",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="samples per SGD step [default: the theory's round(N^((k-2)/2)): N for k = 4, 1 for k <= 2]",
    )
    p.add_argument(
        "--noise", default=None, help="gaussian or fixed_amplitude noise class [default: gaussian]"
    )
    p.add_argument(
        "--inputs",
        default=None,
        help="signal (periodic signals of length N) or image (L x L images, N = L^2 must be square) "
        "[default: signal]",
    )
    p.add_argument("--root-seed", type=int, default=None, help="root of the random key tree [default: 0]")
    p.add_argument("--float64", action="store_true", help="simulate in float64 (slower; for checks)")
    p.add_argument("--out", default=None, help="output folder [default: results/sweep-PROFILE]")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(join_negative_values(sys.argv[1:] if argv is None else argv))
    claims.enable_compilation_cache()
    try:
        dtype = None
        if args.float64:
            import jax

            jax.config.update("jax_enable_x64", True)
            dtype = "float64"
        config = claims.SweepConfig.from_profile(
            args.profile,
            task=args.task,
            latent=args.latent,
            activation=args.activation,
            snr=args.snr,
            dims=tuple(args.dims) if args.dims else None,
            seeds=args.seeds,
            engine=args.engine,
            start=args.start,
            step0=args.step0,
            budget_factor=args.budget_factor,
            batch=args.batch,
            noise=args.noise,
            inputs=args.inputs,
            root_seed=args.root_seed,
            dtype=dtype,
        )
        exp = claims.Experiment(config)
        exp.dynamics  # theory first: refuses a task the student cannot see
        out = Path(args.out or f"results/sweep-{config.profile}")
        exp.check_budgets()
        claims.check_writable(out)
    except claims.UsageError as err:
        print(f"scaling_sweep.py: error: {err}", file=sys.stderr)
        return 2

    print(f"theory: {exp.loss.verdict}")
    print(
        f"sweep: task={config.task} latent={config.latent} activation={exp.activation} snr={config.snr} "
        f"N={list(config.dims)} seeds={config.seeds} start={config.start} engine={config.engine} -> {out}"
    )
    start = time.perf_counter()
    try:
        cells = claims.run_cells(exp, out, progress=not args.no_progress)
    except claims.SimulationError as err:
        print(f"scaling_sweep.py: error: {err}", file=sys.stderr)
        return 2
    summary = claims.analyse(exp, cells)
    path = claims.write_summary(out, summary, exp)
    figs = claims.scaling_figure(exp, cells, summary, out / "scaling")

    print(f"\n{'N':>6} {'seeds':>5} {'escaped':>8} {'median n*':>11} {'95% CI':>23} {'ODE n*':>10}")
    for r in summary["cells"]:
        med = r["median_escape_samples"]
        fmt = lambda v: "inf" if v is None else f"{v:.3g}"
        print(
            f"{r['N']:>6} {r['seeds']:>5} {r['escaped_fraction']:>8.0%} {fmt(med['value']):>11} "
            f"{'[' + fmt(med['lo']) + ', ' + fmt(med['hi']) + ']':>23} {fmt(r['theory_escape_samples']):>10}"
        )
    if summary["fit"]:
        e, q = summary["fit"]["exponent"], summary["fit"]["log_power"]
        th = summary["theory"]["theory_fit_exponent"]
        th_text = f", {th:.3f} for the ODE over these N" if th is not None else ""
        print(
            f"\nfitted exponent {e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]  (theory: "
            f"{summary['predicted_exponent']} nominal{th_text})"
        )
        print(
            f"free log power at exponent {summary['predicted_exponent']}: {q['value']:.2f} "
            f"[{q['lo']:.2f}, {q['hi']:.2f}]"
        )
    print(f"\nverdict: {summary['verdict']['reason']}")
    print(f"wrote {path}, {figs[0]}, {figs[1]} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
