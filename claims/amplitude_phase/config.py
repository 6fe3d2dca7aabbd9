"""The amplitude-phase experiment's configuration: profiles, readouts, `APConfig`, `Readout` and
`APExperiment` (the cell protocol of `claims.run_cells`), and the cell files."""

from __future__ import annotations

import dataclasses
import functools as ft
import json
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import xarray as xr

import sims
import sims.two_direction
import theory
import theory.two_direction

from .._config import Cell, ProfileConfig, UsageError, check_cell_budgets, check_counts, check_dims
from .._sweep import run_cells


PROFILES = {
    # one compiled program per N serves all three readouts (batch 1 everywhere)
    "smoke": {"dims_amplitude": (10, 12), "dims_phase": (10, 12), "seeds": 6, "phase_batch": 1},
    "default": {"dims_amplitude": (16, 32, 64, 128, 256), "dims_phase": (12, 16, 24, 32), "seeds": 16},
    "full": {"dims_amplitude": (16, 32, 64, 128, 256, 512), "dims_phase": (16, 24, 32, 48, 64), "seeds": 32},
}
STUDENTS = ("perceptron", "two-layer")
READOUTS = {
    # name: (activation, single-direction task for the schedule, target directions)
    "amplitude": ("he2", "amplitude", ("v",)),
    "phase": ("-he4", "phase", ("u",)),
    "staircase": ("he2", "amplitude", ("v", "u")),
}
MIN_SEEDS = 5
CENSOR_TOLERANCE = 0.025
ENGINE = "two-direction"


@dataclasses.dataclass(frozen=True)
class APConfig(ProfileConfig):
    """One amplitude-versus-phase experiment.

    **Arguments:**
    - `dims_amplitude`: N grid of the He_2 readouts (cheap: about N log^2 N samples).
    - `dims_phase`: N grid of the -He_4 readout (about N^3 log N samples).
    - `seeds`: seeds per N.
    - `student`: `perceptron` (one unit, start m_v = m_u = N^-1/2) or `two-layer` (`units` units
      from a uniform random start; the best unit counts).
    - `coupling`: probability that the phase latent's sign is tied to the amplitude latent; > 0
      adds the `staircase` readout.
    - `snr_amplitude`, `snr_phase`: beta_a and beta_p.
    - `budget_factor`: budget = factor x the single-direction upper threshold with its prefactor.
    - `phase_batch`: samples per step of the phase readout (None: the theory's N). The per-sample
      dynamics do not depend on it; batch 1 lets every readout of one N share a compiled program.
    """

    dims_amplitude: tuple[int, ...] = PROFILES["default"]["dims_amplitude"]
    dims_phase: tuple[int, ...] = PROFILES["default"]["dims_phase"]
    seeds: int = PROFILES["default"]["seeds"]
    student: str = "perceptron"
    units: int = 4
    coupling: float = 0.0
    snr_amplitude: float = 0.5
    snr_phase: float = 10.0
    budget_factor: float = 1.0
    phase_batch: int | None = None
    root_seed: int = 0
    n_checkpoints: int = 48
    chunk: int = sims.CHUNK
    profile: str = "default"
    task: str = "amplitude-phase"

    profiles: ClassVar[dict[str, dict]] = PROFILES

    def validated(self) -> APConfig:
        if self.student not in STUDENTS:
            raise UsageError(f"unknown student {self.student!r}: use one of {', '.join(STUDENTS)}")
        dims_amplitude = check_dims(self.dims_amplitude, "--N", minimum=8)
        dims_phase = check_dims(self.dims_phase, "--N-phase", minimum=8)
        if not isinstance(self.units, int | np.integer) or self.units < 1:
            raise UsageError(f"--units {self.units!r} must be an integer >= 1")
        if not (isinstance(self.coupling, int | float) and 0 <= self.coupling <= 1):
            raise UsageError(f"--coupling {self.coupling!r} must lie in [0, 1]")
        for flag, value in (("--snr-amplitude", self.snr_amplitude), ("--snr-phase", self.snr_phase)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise UsageError(f"{flag} {value!r} must be a positive number")
        if self.phase_batch is not None and (
            not isinstance(self.phase_batch, int | np.integer) or self.phase_batch < 1
        ):
            raise UsageError(f"--phase-batch {self.phase_batch!r} must be an integer >= 1")
        if not (math.isfinite(self.budget_factor) and self.budget_factor > 0):
            raise UsageError(f"--budget-factor {self.budget_factor!r} must be a positive number")
        check_counts(self)
        if self.task != "amplitude-phase":
            raise UsageError(f"an APConfig is for --task amplitude-phase, not {self.task!r}")
        units = 1 if self.student == "perceptron" else int(self.units)
        return dataclasses.replace(
            self,
            dims_amplitude=dims_amplitude,
            dims_phase=dims_phase,
            units=units,
        )

    @property
    def readouts(self) -> tuple[str, ...]:
        return ("amplitude", "phase", "staircase") if self.coupling > 0 else ("amplitude", "phase")

    @property
    def dims(self) -> tuple[int, ...]:
        """Every N of any readout (the unit a process or a job of an array takes)."""
        return tuple(sorted(set(self.dims_amplitude) | set(self.dims_phase)))

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["dims_amplitude"], out["dims_phase"] = list(self.dims_amplitude), list(self.dims_phase)
        return out


@dataclasses.dataclass(frozen=True)
class Readout:
    """Theory and simulation of one readout of an `APConfig`, side by side."""

    config: APConfig
    name: str

    @property
    def activation(self) -> str:
        return READOUTS[self.name][0]

    @property
    def targets(self) -> tuple[str, ...]:
        return READOUTS[self.name][2]

    @property
    def coupling(self) -> float:
        return float(self.config.coupling) if self.name == "staircase" else 0.0

    @property
    def dims(self) -> tuple[int, ...]:
        return self.config.dims_phase if self.name == "phase" else self.config.dims_amplitude

    @property
    def snr(self) -> float:
        return self.config.snr_phase if self.name == "phase" else self.config.snr_amplitude

    @property
    def loss(self) -> theory.two_direction.TwoDirectionLoss:
        c = self.config
        return _loss(c.snr_amplitude, c.snr_phase, self.coupling, self.activation)

    @property
    def dynamics(self) -> theory.OverlapDynamics:
        """Single-direction dynamics of the readout's own direction: schedule, batch, budget."""
        return _dynamics(READOUTS[self.name][1], self.activation, self.snr)

    @property
    def thresholds(self) -> tuple[float, float]:
        return tuple(float(t) for t in self.loss.escape_overlaps())

    @property
    def k(self) -> int:
        return self.dynamics.k

    @property
    def start(self) -> str:
        return "conditioned" if self.config.student == "perceptron" else "random"

    def step(self, dim: int) -> float:
        return self.dynamics.step(dim)

    def batch(self, dim: int) -> int:
        if self.name == "phase" and self.config.phase_batch is not None:
            return int(self.config.phase_batch)
        return self.dynamics.batch_size(dim)

    def budget(self, dim: int) -> int:
        """factor x the upper threshold with the theory's prefactor; x3 for the cheap He_2 readouts,
        whose escape overlap (0.75 of the minimiser) lies further out than the usual 0.5."""
        extra = 1.0 if self.name == "phase" else 3.0
        return int(math.ceil(extra * self.config.budget_factor * self.dynamics.escape_scale(dim)))

    def start_overlaps(self, dim: int) -> tuple[float, float]:
        """The start the ODE uses: m_v = m_u = N^-1/2 (conditioned), or the median of the best of K
        uniform units along the direction of the population minimiser (random)."""
        if self.start == "conditioned":
            return (dim**-0.5, dim**-0.5)
        q = theory.start_quantile(dim, 0.5 ** (1 / self.config.units))
        mv, mu = self.loss.minimiser
        norm = math.hypot(mv, mu)
        return (q * mv / norm, q * mu / norm)

    def ode(self, dim: int, start: tuple[float, float] | None = None) -> tuple[float, float]:
        """ODE escape samples (v, u) from `start` (default: `start_overlaps`)."""
        start = self.start_overlaps(dim) if start is None else tuple(start)
        return _ode(self, dim, start)

    def engine(self, dim: int) -> sims.two_direction.TwoDirectionSGD:
        c = self.config
        return sims.two_direction.TwoDirectionSGD(
            dim=dim,
            task=sims.two_direction.TwoDirectionTask(c.snr_amplitude, c.snr_phase, self.coupling),
            activation=self.activation,
            units=c.units,
            batch=self.batch(dim),
            start=self.start,
            escape=self.thresholds,
            stop_on=self.targets,
            chunk=c.chunk,
        )

    def cell_config(self, dim: int, budget: int | None = None) -> dict:
        c = self.config
        return {
            "readout": self.name,
            "activation": self.activation,
            "snr_amplitude": c.snr_amplitude,
            "snr_phase": c.snr_phase,
            "coupling": self.coupling,
            "student": c.student,
            "units": c.units,
            "N": dim,
            "seeds": list(range(c.seeds)),
            "step": self.step(dim),
            "batch": self.batch(dim),
            "budget": self.budget(dim) if budget is None else int(budget),
            "start": self.start,
            "escape": list(self.thresholds),
            "root_seed": c.root_seed,
            "n_checkpoints": c.n_checkpoints,
            "engine": ENGINE,
            "engine_version": sims.two_direction.TWO_DIRECTION_VERSION,
        } | ({} if c.chunk == sims.CHUNK else {"chunk": c.chunk})


@ft.cache
def _loss(ba: float, bp: float, coupling: float, activation: str) -> theory.two_direction.TwoDirectionLoss:
    model = theory.two_direction.TwoDirectionModel(ba, bp, coupling)
    return theory.two_direction.TwoDirectionLoss(model, activation)


@ft.cache
def _dynamics(task: str, activation: str, snr: float) -> theory.OverlapDynamics:
    return theory.OverlapDynamics(theory.PopulationLoss(task, "rademacher", activation, snr))


@ft.lru_cache(maxsize=4096)
def _ode(readout: Readout, dim: int, start: tuple[float, float]) -> tuple[float, float]:
    return readout.loss.ode_escape_samples(dim, readout.step(dim), start, readout.thresholds)


def _write(path: Path, run: dict, config: dict) -> xr.Dataset:
    ds = xr.Dataset(
        {
            "escape_v": ("seed", run["escape_v"]),
            "escape_u": ("seed", run["escape_u"]),
            "initial_overlap_v": ("seed", run["initial_overlap_v"]),
            "initial_overlap_u": ("seed", run["initial_overlap_u"]),
            "overlap_v": (("seed", "checkpoint"), run["overlap_v"]),
            "overlap_u": (("seed", "checkpoint"), run["overlap_u"]),
            "finite": ("seed", run["finite"].astype(np.int8)),
        },
        coords={
            "seed": np.asarray(config["seeds"]),
            "checkpoint_samples": ("checkpoint", run["checkpoint_samples"]),
        },
    )
    ds["escape_v"].attrs["meaning"] = "first sample count with max_k |w_k.v| >= escape[0]; NaN: none"
    ds["escape_u"].attrs["meaning"] = "first sample count with max_k |w_k.u| >= escape[1]; NaN: none"
    ds.attrs.update(sims.provenance())
    ds.attrs.update(
        config=json.dumps(config, sort_keys=True),
        config_hash=sims.config_hash(config),
        engine=ENGINE,
        prng_impl="threefry2x32",
        wall_seconds=float(run["wall_seconds"]),
        compile_seconds=float(run["compile_seconds"]),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with sims.atomic_target(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return ds


CELL_VARIABLES = ("escape_v", "escape_u", "initial_overlap_v", "initial_overlap_u", "overlap_v", "overlap_u")


@dataclasses.dataclass(frozen=True)
class APExperiment:
    """All readouts of one `APConfig` as one sweep: cells keyed by `Cell(N, readout=name)`, run by
    the one cell loop (`claims.run_cells`: resume, devices, chunks, processes, job arrays)."""

    config: APConfig
    factors = (1.0,)
    cell_variables = CELL_VARIABLES

    @ft.cached_property
    def readouts(self) -> dict[str, Readout]:
        return {name: Readout(self.config, name) for name in self.config.readouts}

    def cells(self, dims=None) -> list[Cell]:
        dims = self.config.dims if dims is None else dims
        return [Cell(d, readout=n) for n, r in self.readouts.items() for d in r.dims if d in dims]

    def reference(self, cell: Cell) -> None:
        return None

    def full_budget(self, cell: Cell) -> int:
        return self.readouts[cell.readout].budget(cell.dim)

    def engine_name(self, dim: int) -> str:
        return "full"  # O(N) work per sample and unit

    def engine_for(self, cell: Cell) -> sims.two_direction.TwoDirectionSGD:
        return self.readouts[cell.readout].engine(cell.dim)

    def check_budgets(self) -> None:
        check_cell_budgets(self)

    def cell_config(self, cell: Cell, budget: int | None = None) -> dict:
        return self.readouts[cell.readout].cell_config(cell.dim, budget)

    def write_cell(self, path, run: dict, cfg: dict) -> xr.Dataset:
        return _write(Path(path), run, cfg)

    def nan_hint(self, cell: Cell, cfg: dict) -> str:
        return f"{cell.readout}: step {cfg['step']:.3g} produced NaN at N={cell.dim}: lower the step"


def by_readout(cells: dict) -> dict[str, dict[int, xr.Dataset]]:
    """Cells keyed by `Cell` -> {readout: {N: dataset}}, as the analysis reads them."""
    out: dict[str, dict[int, xr.Dataset]] = {}
    for cell, ds in sorted(cells.items()):
        out.setdefault(cell.readout, {})[cell.dim] = ds
    return out


def run_all(config: APConfig, out: Path, progress: bool = True, **kw) -> dict[str, dict[int, xr.Dataset]]:
    """Run (or reuse) every cell of every readout through the one cell loop; by readout and N."""
    return by_readout(run_cells(APExperiment(config), Path(out), progress, **kw))
