"""Running one sweep on several processes or hosts, and one cell per cluster job.

Two paths, both writing the same netCDF cell files as a single-process run:

- `--distributed` (one JAX job): `initialize` starts `jax.distributed` (auto-detected on SLURM,
  Open MPI and the other clusters JAX knows; explicit coordinator address, process count and id
  otherwise; gloo collectives on CPU). `partition` gives every process a share of the N cells
  (longest first, balanced by estimated cost); each process shards its cells' seeds over its own
  local devices. `gather_done` is a collective: every process learns which cells all the others
  finished, and process 0 then reads every cell file (strictly) and writes the summary. A cell's
  numbers depend only on its config and seeds, never on which process or device computed it, so
  the combined result is the single-process result.
- job arrays (no shared JAX job): `run_one_cell` is the function a scheduler job runs for one N
  (see `scripts/launch_array.py`, which submits it with submitit). submitit pickles this function
  and its small return value for its own bookkeeping; the results themselves are netCDF files that
  we read with `sims.load_cell`, never unpickled by us.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ._config import Experiment, SweepConfig, UsageError


CLUSTER_ENV = {
    "SLURM_JOB_ID": "SLURM",
    "OMPI_COMM_WORLD_SIZE": "Open MPI",
    "PMI_SIZE": "MPICH / PMI",
    "MV2_COMM_WORLD_SIZE": "MVAPICH2",
}
"""Environment variables whose presence means a launcher JAX can auto-detect started us."""


def detect_cluster(env=None) -> str | None:
    """The name of the cluster launcher found in the environment, or None."""
    env = os.environ if env is None else env
    return next((name for var, name in CLUSTER_ENV.items() if var in env), None)


def check_arguments(coordinator: str | None, num_processes: int | None, process_id: int | None, env=None):
    """Validate `--distributed` arguments (before any JAX work); returns them or raises UsageError."""
    given = [x is not None for x in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise UsageError(
            "--distributed with explicit settings needs all of --coordinator HOST:PORT, "
            "--num-processes P and --process-id I (or none of them on SLURM / MPI)"
        )
    if not any(given):
        if detect_cluster(env) is None:
            raise UsageError(
                "--distributed found no cluster launcher (no SLURM_JOB_ID, OMPI_COMM_WORLD_SIZE, PMI_SIZE): "
                "give --coordinator HOST:PORT --num-processes P --process-id I"
            )
        return None, None, None
    if (
        not re.fullmatch(r"[^\s:]+:\d{1,5}", coordinator)
        or not 0 < int(coordinator.rsplit(":", 1)[1]) < 65536
    ):
        raise UsageError(f"--coordinator {coordinator!r} must be HOST:PORT, e.g. localhost:12355")
    if num_processes < 1:
        raise UsageError(f"--num-processes {num_processes} must be an integer >= 1")
    if not 0 <= process_id < num_processes:
        raise UsageError(f"--process-id {process_id} must lie in 0..{num_processes - 1} (--num-processes)")
    return coordinator, num_processes, process_id


def initialize(
    coordinator=None, num_processes=None, process_id=None, timeout_s: int = 120
) -> tuple[int, int]:
    """Start `jax.distributed` (call before any other JAX work); returns (process id, process count)."""
    import jax

    coordinator, num_processes, process_id = check_arguments(coordinator, num_processes, process_id)
    # CPU collectives between processes go through gloo; GPU ones through NCCL (set by JAX).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=timeout_s,
    )
    return jax.process_index(), jax.process_count()


def cell_cost(exp, dim: int) -> float:
    """Relative cost of the cells of one N: samples x work per sample (O(N) for the full and
    coloured engines, O(1) reduced) x signal cells of that N (step factors, or alpha and
    placement)."""
    per_sample = dim if exp.engine_name(dim) in ("full", "coloured") else 1.0
    signal = [c for c in exp.cells([dim]) if not c.null]
    return sum(float(exp.full_budget(c)) for c in signal) * exp.config.seeds * per_sample


def partition(dims, costs, num_processes: int) -> list[list[int]]:
    """Split cells between processes: longest first, each to the least-loaded process (ties: the
    lowest process id). Deterministic, so every process computes the same split on its own."""
    shares: list[list[int]] = [[] for _ in range(num_processes)]
    load = [0.0] * num_processes
    for dim, cost in sorted(zip(dims, costs, strict=True), key=lambda dc: (-dc[1], dc[0])):
        p = min(range(num_processes), key=lambda i: (load[i], i))
        shares[p].append(int(dim))
        load[p] += cost
    return [sorted(s) for s in shares]


def my_cells(exp, process_id: int, num_processes: int) -> list[int]:
    dims = list(exp.config.dims)
    return partition(dims, [cell_cost(exp, d) for d in dims], num_processes)[process_id]


def gather_done(exp, done: list[int]) -> np.ndarray:
    """Collective over all processes: how many processes finished each cell (a barrier as well)."""
    from jax.experimental import multihost_utils

    mine = np.array([d in done for d in exp.config.dims], np.int32)
    every = np.asarray(multihost_utils.process_allgather(mine))  # (processes, cells)
    return every.reshape(-1, len(exp.config.dims)).sum(axis=0)


def experiment_from_dict(config: dict):
    """The experiment of a config written by `as_dict` (`SweepConfig` or, for `task` powerlaw,
    `PowerlawConfig`): how a job of an array rebuilds it."""
    tuples = ("dims", "step_factors", "alphas", "placements")
    config = {k: tuple(v) if k in tuples else v for k, v in config.items()}
    if config.get("task") == "powerlaw":
        from .powerlaw import PowerlawConfig, PowerlawExperiment

        return PowerlawExperiment(PowerlawConfig(**config).validated())
    if config.get("task") == "amplitude-phase":
        from .amplitude_phase import APConfig, APExperiment

        config = {k: tuple(v) if k in ("dims_amplitude", "dims_phase") else v for k, v in config.items()}
        return APExperiment(APConfig(**config).validated())
    return Experiment(SweepConfig(**config).validated())


def run_one_cell(config: dict, out: str, dim: int) -> dict:
    """One job of a job array: compute (or reuse) the cells of N = `dim` (every step factor and
    control, which depend on each other); returns a small record.

    The cell itself is written as netCDF under `out`; only this record goes back through the
    scheduler's (pickled) result channel."""
    from ._sweep import cell_path, run_cells

    exp = experiment_from_dict(config)
    cells = run_cells(exp, Path(out), progress=False, dims=[int(dim)])
    return {
        "N": int(dim),
        "path": ", ".join(str(cell_path(out, c)) for c in cells),
        "config_hash": ", ".join(str(ds.attrs["config_hash"]) for ds in cells.values()),
        "wall_seconds": float(sum(ds.attrs.get("wall_seconds", float("nan")) for ds in cells.values())),
    }
