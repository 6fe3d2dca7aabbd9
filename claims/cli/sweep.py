#!/usr/bin/env python
"""Scaling sweep: does online SGD on a phase-only task need between N^3 and N^3 log^2 N samples?

Pipeline: config -> run cells (one netCDF file per N, resumable, progress bars) -> fit exponents
with bootstrap intervals -> compare with the theory (ODE escape samples, thresholds) -> write
DIR/summary.json, DIR/scaling.png and DIR/scaling.pdf, and print the verdict.

Exit codes: 0 done, 2 bad input (one line on stderr naming the value and what to do), including
a step so large that the simulation produces NaN (that cell is not written), a `--config` file with
an unknown key, and (with --summary-only) a missing or corrupt cell file.

Scaling out (docs/scaling-out.md): --devices shards each cell's seeds over local devices;
--distributed splits the cells between the processes of one JAX job; scripts/launch_array.py runs
one cell per cluster job. Every path writes the same cell files, and a rerun skips finished cells.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import claims
from claims import distributed
from claims.cli._common import Parser, join_negative_values, usage_error


PROG = "scaling_sweep.py"


def build_parser() -> argparse.ArgumentParser:
    """Long because it is the flat list of the command's flags and their help; nothing to factor."""
    p = Parser(
        prog="scaling_sweep.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--profile",
        default="default",
        help="smoke (about a minute), default (N = 16..128, random start; minutes on 2 CPU cores), "
        "full (N = 16..512; hours on 2 CPU cores) or scan (the step scan over N = 16..128): sets N, "
        "seeds, start, budget and scan; other flags override it",
    )
    p.add_argument(
        "--task",
        default=None,
        help="phase (classes differ only in phase: k=4 for symmetric "
        "latents), amplitude (power along u: k=2), mean (k=1), powerlaw (phase task with a shared "
        "(1+f)^-alpha spectrum; see --alpha, --placement, --preactivation) or amplitude-phase (one "
        "task with an amplitude and a phase direction; see --N-phase, --student, --correlated) "
        "[default: phase]",
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
        "full, reduced, or moment-matched (the reduced chain with each step's batch drawn as a Gaussian "
        "triple with its exact moments: O(1) per step, an approximation for large N) [default: auto]; "
        "for --task powerlaw: auto (alpha = 0 on the exact reduced chain, the rest on the coloured "
        "engine) or coloured (every alpha on the coloured engine)",
    )
    p.add_argument(
        "--start",
        default=None,
        help="random (uniform on the sphere, the theorem's start) or conditioned (m0 = N^-1/2, a "
        "variance-reduction option) [default: random]",
    )
    p.add_argument(
        "--step",
        dest="step0",
        type=float,
        default=None,
        help="delta_0 of the step schedule "
        "delta_N = delta_0 N^-P (log N)^-Q [default: the step with drift/shrink = 10 at N = 16]",
    )
    p.add_argument(
        "--step-exponent",
        type=float,
        default=None,
        metavar="P",
        help="P of the schedule delta_N = delta_0 N^-P (log N)^-Q [default: the theory's (k-2)/2]",
    )
    p.add_argument(
        "--step-log-power",
        type=float,
        default=None,
        metavar="Q",
        help="Q of the schedule [default: the theory's, 1 (0 for k = 1)]",
    )
    p.add_argument(
        "--step-scan",
        type=float,
        nargs="+",
        default=None,
        metavar="F",
        help="scan the step: run every N at delta_N x F for each F (at least two; e.g. "
        "--step-scan 0.25 1 4 16 64 256) and take the verdict from the best step n*_best(N)",
    )
    p.add_argument(
        "--null-seeds",
        type=int,
        default=None,
        help="seeds of the no-signal control beside every cell (identical classes, same keys); an "
        "escape counts only where it is clearly faster than the control's; 0: no control [default: 16]",
    )
    p.add_argument(
        "--no-early-stop",
        action="store_true",
        help="run every seed to the budget (by default a cell stops once the seeds its median and the "
        "median's interval rest on have escaped; the statistics are the same)",
    )
    p.add_argument(
        "--no-scan-cap",
        action="store_true",
        help="in a step scan, run every factor to the full budget (by default each is capped at the "
        "upper interval end of the factor the ODE predicts fastest, which cannot change n*_best)",
    )
    p.add_argument(
        "--budget-factor",
        type=float,
        default=None,
        help="budget per seed = factor x "
        "N^(k-1) log^2 N / (k max(k-2,1) a_k delta_0*) samples, delta_0* the theory's default, "
        "whatever the step [default: the profile's]",
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
    p.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="trajectories computed together by one program (a seed's numbers are bitwise the same "
        "for every run with the same chunk; larger chunks use a GPU better) [default: 8]",
    )
    p.add_argument("--float64", action="store_true", help="simulate in float64 (slower; for checks)")
    p.add_argument("--out", default=None, help="output folder [default: results/sweep-PROFILE]")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="JSON or TOML file of settings named as these flags (N, seeds, step, budget_factor, ...); "
        "flags given on the command line override it; unknown keys are refused",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=None,
        help="local devices to shard each cell's seeds over (on CPU, that many CPU devices are "
        "created) [default: on CPU, one device per core (at most 8); otherwise all local devices]",
    )
    p.add_argument(
        "--cells-only", action="store_true", help="compute the cell files only, no summary or figure"
    )
    p.add_argument(
        "--summary-only",
        action="store_true",
        help="compute nothing: summarise existing cell files (e.g. after a job array); a missing "
        "or corrupt cell is an error",
    )
    dist = p.add_argument_group("several processes (one JAX job; see docs/scaling-out.md)")
    dist.add_argument(
        "--distributed",
        action="store_true",
        help="initialise jax.distributed and split the cells between processes (auto-detected on "
        "SLURM / MPI; otherwise give the three flags below); process 0 writes the summary",
    )
    dist.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="address of process 0")
    dist.add_argument("--num-processes", type=int, default=None, help="number of processes")
    dist.add_argument("--process-id", type=int, default=None, help="this process's id, 0..P-1")
    claims.powerlaw.add_powerlaw_arguments(p)
    add_amplitude_phase_arguments(p)
    return p


def add_amplitude_phase_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("amplitude before phase (--task amplitude-phase)")
    g.add_argument(
        "--N-phase",
        dest="dims_phase",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="N grid of the -He4 phase readout (about N^3 log N samples each) "
        "[default: --N or the profile's]",
    )
    g.add_argument("--student", default=None, help="perceptron or two-layer [default: perceptron]")
    g.add_argument(
        "--units", type=int, default=None, help="hidden units of the two-layer student [default: 4]"
    )
    g.add_argument(
        "--correlated",
        action="store_true",
        help="tie the phase latent's sign to the amplitude latent (coupling 1) and add the staircase readout",
    )
    g.add_argument(
        "--coupling", type=float, default=None, help="tie probability in [0, 1] (implies --correlated)"
    )
    g.add_argument("--snr-amplitude", type=float, default=None, help="beta_a [default: 0.5]")
    g.add_argument("--snr-phase", type=float, default=None, help="beta_p [default: 10]")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the flags; values from --config FILE become defaults that the flags override."""
    parser = build_parser()
    argv = join_negative_values(argv)
    args = parser.parse_args(argv)
    if args.config is not None:
        parser.set_defaults(**claims.load_config_file(args.config))
        args = parser.parse_args(argv)
    return args


def sweep_config(args: argparse.Namespace, dtype: str | None = None) -> claims.SweepConfig:
    """The SweepConfig the parsed flags describe (the profile, overridden by every flag given)."""
    return claims.SweepConfig.from_profile(
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
        chunk=args.chunk,
        step_exponent=args.step_exponent,
        step_log_power=args.step_log_power,
        step_factors=tuple(args.step_scan) if args.step_scan else None,
        null_seeds=args.null_seeds,
        early_stop=False if args.no_early_stop else None,
        scan_cap=False if args.no_scan_cap else None,
    )


SPIKE = {"phase", "amplitude", "mean"}
POWERLAW = {"powerlaw"}
AMPLITUDE_PHASE = {"amplitude-phase"}
TASKS = (*sorted(SPIKE), "powerlaw", "amplitude-phase")
TASK_FLAGS = {
    # argparse destination: (flag, the tasks that use it); a flag given for another task is refused
    "latent": ("--latent", SPIKE | POWERLAW),
    "activation": ("--activation", SPIKE | POWERLAW),
    "snr": ("--snr", SPIKE | POWERLAW),
    "start": ("--start", SPIKE | POWERLAW),
    "step0": ("--step", SPIKE | POWERLAW),
    "inputs": ("--inputs", SPIKE | POWERLAW),
    "float64": ("--float64", SPIKE | POWERLAW),
    "engine": ("--engine", SPIKE | POWERLAW),
    "batch": ("--batch", SPIKE),
    "noise": ("--noise", SPIKE),
    "step_exponent": ("--step-exponent", SPIKE),
    "step_log_power": ("--step-log-power", SPIKE),
    "step_scan": ("--step-scan", SPIKE),
    "null_seeds": ("--null-seeds", SPIKE),
    "no_early_stop": ("--no-early-stop", SPIKE),
    "no_scan_cap": ("--no-scan-cap", SPIKE),
    "alphas": ("--alpha", POWERLAW),
    "placements": ("--placement", POWERLAW),
    "preactivation": ("--preactivation", POWERLAW),
    "stop_after": ("--stop-after", POWERLAW),
    "dims_phase": ("--N-phase", AMPLITUDE_PHASE),
    "student": ("--student", AMPLITUDE_PHASE),
    "units": ("--units", AMPLITUDE_PHASE),
    "correlated": ("--correlated", AMPLITUDE_PHASE),
    "coupling": ("--coupling", AMPLITUDE_PHASE),
    "snr_amplitude": ("--snr-amplitude", AMPLITUDE_PHASE),
    "snr_phase": ("--snr-phase", AMPLITUDE_PHASE),
}
"""Flags that only some tasks use: any other task refuses them (never silently ignores them)."""


def task_of(args: argparse.Namespace) -> str:
    task = args.task or "phase"
    if task not in TASKS:
        raise claims.UsageError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
    return task


def check_task_flags(args: argparse.Namespace) -> None:
    task = task_of(args)
    for dest, (flag, tasks) in TASK_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None and value is not False and task not in tasks:  # 0 is a value given
            only = ", ".join(sorted(tasks))
            raise claims.UsageError(f"{flag} does not apply to --task {task} (only to {only}): leave it out")


def experiment(args: argparse.Namespace, dtype: str | None = None):
    """The experiment the flags describe, theory checked first (a task the student cannot see is
    refused before any simulation): `claims.Experiment` or `claims.powerlaw.PowerlawExperiment`."""
    check_task_flags(args)
    if args.task == "powerlaw":
        exp = claims.powerlaw.PowerlawExperiment(claims.powerlaw.config_from_args(args, dtype))
        exp.loss
    elif args.task == "amplitude-phase":
        exp = claims.amplitude_phase.APExperiment(claims.amplitude_phase.config_from_args(args))
        for readout in exp.readouts.values():
            readout.loss
    else:
        exp = claims.Experiment(sweep_config(args, dtype))
        exp.dynamics
    exp.check_budgets()
    return exp


def default_out(exp) -> Path:
    kind = exp.config.task if exp.config.task in ("powerlaw", "amplitude-phase") else "sweep"
    return Path(f"results/{kind}-{exp.config.profile}")


def describe(exp, out: Path) -> list[str]:
    if exp.config.task == "powerlaw":
        return claims.powerlaw.describe(exp, out)
    if exp.config.task == "amplitude-phase":
        return claims.amplitude_phase.describe(exp, out)
    config = exp.config
    scan = f" step scan F={list(config.step_factors)}" if exp.scanning else ""
    return [
        f"theory: {exp.loss.verdict}",
        f"sweep: task={config.task} latent={config.latent} activation={exp.activation} snr={config.snr} "
        f"N={list(config.dims)} seeds={config.seeds} start={config.start} engine={config.engine} "
        f"schedule {exp.schedule_text}{scan} -> {out}",
    ]


def report(exp, cells: dict, out: Path) -> tuple[Path, list[Path], list[str]]:
    """Analyse, write summary.json and the figures; returns (summary path, figures, lines)."""
    if exp.config.task == "powerlaw":
        return claims.powerlaw.report(exp, cells, out)
    if exp.config.task == "amplitude-phase":
        return claims.amplitude_phase.report(exp, cells, out)
    summary = claims.analyse(exp, cells)
    path = claims.write_summary(out, summary, exp)
    figs = claims.scaling_figure(exp, cells, summary, out / "scaling")
    if exp.scanning:
        figs += claims.step_scan_figure(exp, cells, summary, out / "step_scan")
    return path, list(figs), ["", *claims.summary_lines(summary)]


def main(argv: list[str] | None = None) -> int:
    """Run the sweep the flags describe; 0 done, 2 bad input (one line on stderr).

    Long because it is the command's sequence: flags, processes, cells, summary, each with its
    one-line error."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        if args.devices is not None and args.devices < 1:
            raise claims.UsageError(f"--devices {args.devices} must be an integer >= 1")
        if args.cells_only and args.summary_only:
            raise claims.UsageError("--cells-only and --summary-only exclude each other: give one of them")
        import jax

        # must precede JAX's backend start; only affects the CPU backend
        cpu_devices = args.devices if args.devices is not None else min(8, len(os.sched_getaffinity(0)))
        if args.devices is not None or not args.distributed:
            try:
                jax.config.update("jax_num_cpu_devices", cpu_devices)
            except RuntimeError:  # JAX already started (main() called in-process): checked below
                pass
        process, processes = 0, 1
        if args.distributed:
            distributed.check_arguments(args.coordinator, args.num_processes, args.process_id)
        elif any(x is not None for x in (args.coordinator, args.num_processes, args.process_id)):
            raise claims.UsageError("--coordinator/--num-processes/--process-id need --distributed")
        if args.distributed:
            process, processes = distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    except claims.UsageError as err:
        return usage_error(PROG, err)
    claims.enable_compilation_cache()
    try:
        dtype = None
        if args.float64:
            jax.config.update("jax_enable_x64", True)
            dtype = "float64"
        exp = experiment(args, dtype)
        config = exp.config
        out = Path(args.out) if args.out else default_out(exp)
        if args.devices is not None and args.devices > len(jax.local_devices()):
            raise claims.UsageError(
                f"--devices {args.devices}: this process has {len(jax.local_devices())} "
                f"{jax.default_backend()} device(s): use at most that many"
            )
        claims.check_writable(out)
    except claims.UsageError as err:
        return usage_error(PROG, err)

    say = print if process == 0 else (lambda *a, **k: None)
    for line in describe(exp, out):
        say(line)
    start = time.perf_counter()
    failure = None
    if not args.summary_only:
        mine = distributed.my_cells(exp, process, processes) if processes > 1 else list(config.dims)
        if processes > 1:
            print(f"process {process}/{processes}: cells N={mine}", flush=True)
        try:
            claims.run_cells(
                exp,
                out,
                progress=not args.no_progress and process == 0,
                dims=mine,
                devices=args.devices,
                log=lambda line: print(line, flush=True),
            )
        except claims.SimulationError as err:
            failure, mine = err, []
        if processes > 1:
            counts = distributed.gather_done(exp, mine)  # collective: also waits for every process
            if failure is None and process == 0 and not counts.all():
                missing = [d for d, c in zip(config.dims, counts, strict=True) if not c]
                failure = f"cells N={missing} were not finished by any process: rerun the same command"
        if failure is not None:
            return usage_error(PROG, failure)
        if process != 0:
            print(f"process {process}: cells done; process 0 writes the summary")
            return 0
        if args.cells_only:
            print(f"wrote the cells of N={list(config.dims)} under {out / 'cells'}")
            return 0
    try:
        cells = claims.load_cells(exp, out)
    except ValueError as err:  # sims CellFileError: one line naming the file
        return usage_error(PROG, err)
    path, figs, lines = report(exp, cells, out)
    print("\n".join(lines))
    print(
        f"wrote {path}, {', '.join(str(f) for f in figs if Path(f).suffix == '.png')} "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return 0
