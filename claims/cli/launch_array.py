#!/usr/bin/env python
"""Job array: one scheduler job per N cell of a scaling sweep, submitted with submitit.

For clusters without a shared JAX job. Takes the flags of scaling_sweep.py (and --config FILE)
plus the scheduler's; submits one job per N (a SLURM array with --executor slurm, or local
processes with --executor local), waits, then summarises the cell files as scaling_sweep.py does.
Finished cells are skipped, so rerunning after a failed or cancelled job recomputes only the rest.

submitit pickles its job function and each job's small return record for its own bookkeeping
(under --logs); the results are netCDF cell files, read with sims.load_cell and never unpickled.

    python scripts/launch_array.py --profile default --executor slurm --partition gpu --gpus 1
    python scripts/launch_array.py --profile smoke --executor local      # test the path locally

Exit codes: 0 done, 2 bad input or a failed job (one line on stderr).
"""

from __future__ import annotations

import sys
from pathlib import Path

import claims
from claims import distributed
from claims.cli import sweep as scaling_sweep  # same flags, same summary
from claims.cli._common import join_negative_values


def build_parser():
    p = scaling_sweep.build_parser()
    p.prog = "launch_array.py"
    p.description = __doc__.split("\n\n")[0]
    g = p.add_argument_group("job array (submitit)")
    g.add_argument(
        "--executor",
        default="auto",
        help="auto (SLURM if sbatch is found, else local), slurm or local [default: auto]",
    )
    g.add_argument("--logs", default=None, help="submitit's folder for job logs [default: OUT/jobs]")
    g.add_argument("--partition", default=None, help="SLURM partition")
    g.add_argument("--gpus", type=int, default=0, help="GPUs per job [default: 0]")
    g.add_argument("--cpus", type=int, default=2, help="CPUs per job [default: 2]")
    g.add_argument("--timeout-min", type=int, default=120, help="time limit per job, minutes [default: 120]")
    g.add_argument("--parallel", type=int, default=None, help="at most this many jobs at once")
    g.add_argument(
        "--no-wait", action="store_true", help="submit and exit (summarise later with --summary-only)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Long because it is the command's sequence: checks, submission, waiting, summary."""
    import submitit

    parser = build_parser()
    argv = join_negative_values(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        if args.config is not None:
            parser.set_defaults(**claims.load_config_file(args.config))
            args = parser.parse_args(argv)
        if args.executor not in ("auto", "slurm", "local"):
            raise claims.UsageError(f"unknown --executor {args.executor!r}: use auto, slurm or local")
        if args.distributed or args.summary_only or args.cells_only:
            raise claims.UsageError("launch_array.py runs one cell per job: drop --distributed/--*-only")
        exp = scaling_sweep.experiment(args, "float64" if args.float64 else None)
        config = exp.config
        out = Path(args.out) if args.out else scaling_sweep.default_out(exp)
        claims.check_writable(out)
    except claims.UsageError as err:
        print(f"launch_array.py: error: {err}", file=sys.stderr)
        return 2

    logs = Path(args.logs or out / "jobs")
    if args.executor == "local":
        executor = submitit.LocalExecutor(folder=logs)
        executor.update_parameters(timeout_min=args.timeout_min)
    else:
        executor = submitit.AutoExecutor(folder=logs, cluster=None if args.executor == "auto" else "slurm")
        params = dict(timeout_min=args.timeout_min, cpus_per_task=args.cpus, gpus_per_node=args.gpus)
        if args.partition:
            params["slurm_partition"] = args.partition
        if args.parallel:
            params["slurm_array_parallelism"] = args.parallel
        executor.update_parameters(name="fourier-sweep", **params)
    # Cheapest first: the quick cells finish (and are checkable) while the big ones still run.
    dims = sorted(config.dims, key=lambda d: distributed.cell_cost(exp, d))
    cfg = config.as_dict()
    jobs = executor.map_array(distributed.run_one_cell, [cfg] * len(dims), [str(out)] * len(dims), dims)
    print(f"submitted {len(jobs)} jobs ({executor.__class__.__name__}), logs in {logs}: N={dims}")
    rest = [a for a in argv if a not in ("--no-wait",)]
    if args.no_wait:
        print(f"when they are done: python scripts/scaling_sweep.py --summary-only {' '.join(rest)}")
        return 0
    failed = []
    for dim, job in zip(dims, jobs, strict=True):
        try:
            record = job.result()
            print(f"N={dim}: done ({record['wall_seconds']:.1f} s) -> {record['path']}")
        except Exception as err:  # noqa: BLE001 - submitit re-raises the job's error
            failed.append(dim)
            last = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            print(f"N={dim}: job {job.job_id} failed: {last}")
    if failed:
        print(
            f"launch_array.py: error: jobs for N={failed} failed (logs in {logs}): fix the cause and rerun "
            "(finished cells are kept)",
            file=sys.stderr,
        )
        return 2
    keep = [a for a in argv if a != "--no-wait"]
    drop = {"--executor", "--logs", "--partition", "--gpus", "--cpus", "--timeout-min", "--parallel"}
    summary_args, skip = [], False
    for a in keep:
        if skip:
            skip = False
            continue
        if a.split("=", 1)[0] in drop:
            skip = "=" not in a
            continue
        summary_args.append(a)
    return scaling_sweep.main([*summary_args, "--summary-only"])


if __name__ == "__main__":
    sys.exit(main())
