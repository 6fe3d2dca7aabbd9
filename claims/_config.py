"""Sweep configuration: profiles, validation, and the pairing of theory with simulation.

`SweepConfig` is the single description of a scaling sweep. `Experiment` builds, from it, the
theory objects (population loss, overlap dynamics, schedule, budget) and the simulation objects
(task, engine per N), so that the two sides always describe the same model.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import math
from typing import Any, ClassVar

import numpy as np

import sims
import theory


PROFILES: dict[str, dict[str, Any]] = {
    # seconds: the tests and `verify.py --tier smoke`
    "smoke": {"dims": (12, 16, 24), "seeds": 8, "start": "random", "budget_factor": 2.0},
    # `make sweep`: random start, N = 16..96, 32 seeds (the order-statistic interval of the median
    # then ends at the 23rd fastest seed, and a cell stops once 23 seeds escaped)
    "default": {
        "dims": (16, 24, 32, 48, 64, 96),
        "seeds": 32,
        "start": "random",
        "budget_factor": 5.0,
    },
    # N over 1.5 decades; hours on 2 CPU cores from the random start (see README)
    "full": {
        "dims": (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512),
        "seeds": 32,
        "start": "random",
        "budget_factor": 5.0,
    },
    # the step scan: every N at delta_N * F for F over three decades, on the schedule without the
    # log (delta_N = delta_0 / N for k = 4), where the ODE's best factor does not move with N
    "scan": {
        "dims": (16, 24, 32, 48, 64, 96, 128),
        "seeds": 16,
        "start": "random",
        "budget_factor": 5.0,
        "step_log_power": 0.0,
        "step_factors": (0.25, 1.0, 2.0, 4.0, 8.0, 32.0, 256.0),
    },
}
ENGINES = ("auto", "full", "reduced", "moment-matched")
INPUTS = ("signal", "image")


class UsageError(ValueError):
    """Bad input: reported as one line, exit code 2."""


class ProfileConfig:
    """The tier mechanism of every task's config (a frozen, validated dataclass): a named profile
    (`profiles`), overridden by the values given (None: keep the profile's), then `validated()`."""

    profiles: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def from_profile(cls, profile: str, **overrides):
        if profile not in cls.profiles:
            raise UsageError(f"unknown profile {profile!r}: use one of {', '.join(cls.profiles)}")
        values = dict(cls.profiles[profile], profile=profile)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()


def check_dims(dims, flag: str = "--N", minimum: int = 4) -> tuple[int, ...]:
    """A grid of N: at least one, each an integer >= `minimum`, none repeated; returned sorted."""
    dims = tuple(dims)
    if not dims:
        raise UsageError(f"{flag} needs at least one dimension, e.g. {flag} 16 32 64")
    for d in dims:
        if not isinstance(d, int | np.integer) or d < minimum:
            raise UsageError(f"{flag} value {d!r} is too small: every N must be an integer >= {minimum}")
    if len(set(dims)) != len(dims):
        raise UsageError(f"{flag} {list(dims)} repeats a dimension: list each N once")
    return tuple(sorted(int(d) for d in dims))


def check_counts(config) -> None:
    """The fields every task's config has: seeds >= 1, a root seed in [0, 2^32), chunk >= 1."""
    if not isinstance(config.seeds, int | np.integer) or config.seeds < 1:
        raise UsageError(f"--seeds {config.seeds!r} must be an integer >= 1")
    if not isinstance(config.root_seed, int | np.integer) or not 0 <= config.root_seed < 2**32:
        raise UsageError(f"--root-seed {config.root_seed!r} must be an integer in [0, 2^32)")
    if not isinstance(config.chunk, int | np.integer) or config.chunk < 1:
        raise UsageError(f"--chunk {config.chunk!r} must be an integer >= 1 (trajectories per program)")


@dataclasses.dataclass(frozen=True)
class SweepConfig(ProfileConfig):
    """Everything that defines a scaling sweep (the embedded default is the `default` profile).

    **Arguments:**
    - `task`: `phase` (default), `amplitude` or `mean`.
    - `latent`: latent of the spike coordinate (default `rademacher`).
    - `activation`: student activation; None picks the theory's recommendation (+-He_k).
    - `snr`: signal strength beta.
    - `dims`: the N grid.
    - `seeds`: number of seeds per N.
    - `engine`: `auto` (the reduced engine wherever it is exact, i.e. Gaussian noise; the full
      engine otherwise), `full`, `reduced` or `moment-matched` (the reduced chain with the batch's
      gradient triple drawn from its exact mean and covariance: O(1) per step, an approximation
      validated by `engines.moment_matched_vs_reduced`).
    - `start`: `random` (uniform on the sphere, favourable sign) or `conditioned` (m0 = N^-1/2).
    - `step0`: delta_0 of the step schedule; None uses the theory's default.
    - `budget_factor`: budget = factor x N^(k-1) log^2 N / (k max(k-2,1) a_k delta_0).
    - `batch`: samples per step; None means the theory's B = round(N^((k-2)/2)) (N for k = 4).
    - `noise`: `gaussian` or `fixed_amplitude` noise class.
    - `inputs`: `signal` (periodic signals of length N) or `image` (L x L images, N = L^2).
    - `step_exponent`, `step_log_power`: P and Q of the schedule delta_N = delta_0 N^-P (log N)^-Q;
      None takes the theory's (P = (k-2)/2, Q = 1; Q = 0 for k = 1).
    - `step_factors`: the step scan: every N runs at delta_N * F for each F (cells keyed by (N, F));
      empty: the single schedule.
    - `null_seeds`: seeds of the no-signal control run beside every cell (identical classes, same
      keys); an escape counts as learning only where it is clearly faster than the control's
      (see `claims._sweep`). 0 switches the control off.
    - `early_stop`: stop a cell once the seeds that its median and the median's interval rest on
      have escaped (the statistics are exactly those of a run to the full budget).
    - `scan_cap`: in a step scan, cap every factor's cell at the upper interval end of the factor
      the ODE predicts best (it cannot change n*_best; cells above it are drawn as censored).
    """

    task: str = "phase"
    latent: str = "rademacher"
    activation: str | None = None
    snr: float = 10.0
    dims: tuple[int, ...] = PROFILES["default"]["dims"]
    seeds: int = PROFILES["default"]["seeds"]
    engine: str = "auto"
    start: str = "random"
    step0: float | None = None
    budget_factor: float = PROFILES["default"]["budget_factor"]
    batch: int | None = None
    noise: str = "gaussian"
    inputs: str = "signal"
    step_exponent: float | None = None
    step_log_power: float | None = None
    step_factors: tuple[float, ...] = ()
    null_seeds: int = 16
    early_stop: bool = True
    scan_cap: bool = True
    m_escape: float = theory.ESCAPE_OVERLAP
    root_seed: int = 0
    n_checkpoints: int = 96
    dtype: str = "float32"
    prng_impl: str = "threefry2x32"
    chunk: int = sims.CHUNK
    profile: str = "default"

    profiles: ClassVar[dict[str, dict[str, Any]]] = PROFILES

    def validated(self) -> SweepConfig:
        """Check every field; raise UsageError naming the bad value and what to do.

        Long because it is the flat list of checks, one per field, each with its own message."""
        if self.task not in theory.TASK_NAMES:
            raise UsageError(f"unknown task {self.task!r}: use one of {', '.join(theory.TASK_NAMES)}")
        try:
            theory.latent(self.latent)
            sims.latent_sampler(self.latent)
            if self.activation is not None:
                theory.parse_activation(self.activation)
                if self.engine == "moment-matched":
                    sims.check_polynomial(self.activation)
        except ValueError as err:
            raise UsageError(str(err)) from None
        if not (isinstance(self.snr, int | float) and math.isfinite(self.snr) and self.snr > 0):
            raise UsageError(f"--snr {self.snr!r} must be a positive number")
        dims = check_dims(self.dims)
        check_counts(self)
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}: use one of {', '.join(ENGINES)}")
        if self.start not in sims.START_NAMES:
            raise UsageError(f"unknown start {self.start!r}: use one of {', '.join(sims.START_NAMES)}")
        if self.step0 is not None and not (math.isfinite(self.step0) and self.step0 > 0):
            raise UsageError(f"--step {self.step0!r} must be a positive number (delta_0 of the schedule)")
        if not (math.isfinite(self.budget_factor) and self.budget_factor > 0):
            raise UsageError(f"--budget-factor {self.budget_factor!r} must be a positive number")
        if self.batch is not None and (not isinstance(self.batch, int | np.integer) or self.batch < 1):
            raise UsageError(f"--batch {self.batch!r} must be an integer >= 1")
        if self.noise not in sims.NOISE_NAMES:
            raise UsageError(f"unknown noise {self.noise!r}: use one of {', '.join(sims.NOISE_NAMES)}")
        if self.engine in ("reduced", "moment-matched") and not sims.reduced_is_exact(self.noise):
            raise UsageError(
                f"--engine {self.engine} {'is exact' if self.engine == 'reduced' else 'holds'} only for "
                f"gaussian noise, not --noise {self.noise}: "
                "use --engine auto or full"
            )
        if self.inputs not in INPUTS:
            raise UsageError(f"unknown inputs {self.inputs!r}: use one of {', '.join(INPUTS)}")
        if self.inputs == "image":
            bad = [d for d in dims if math.isqrt(d) ** 2 != d]
            if bad:
                raise UsageError(f"--N {bad[0]} is not a square: images need N = L^2, e.g. --N 16 36 64")
        if not 0 < self.m_escape < 1:
            raise UsageError(f"escape overlap {self.m_escape!r} must lie in (0, 1)")
        for name, flag in (("step_exponent", "--step-exponent"), ("step_log_power", "--step-log-power")):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int | float) and math.isfinite(v) and -4 <= v <= 4):
                raise UsageError(f"{flag} {v!r} must be a number in [-4, 4]")
        factors = tuple(self.step_factors)
        for f in factors:
            if not (isinstance(f, int | float) and math.isfinite(f) and f > 0):
                raise UsageError(
                    f"--step-scan factor {f!r} must be a positive number, e.g. --step-scan 0.5 1 2 4"
                )
        if len(set(factors)) != len(factors):
            raise UsageError(f"--step-scan {list(factors)} repeats a factor: list each once")
        if len(factors) == 1:
            raise UsageError("--step-scan needs at least two factors (one factor is --step delta_0 x F)")
        if not isinstance(self.null_seeds, int | np.integer) or self.null_seeds < 0:
            raise UsageError(f"--null-seeds {self.null_seeds!r} must be an integer >= 0 (0: no control)")
        if self.start == "conditioned" and min(dims) <= self.m_escape**-2:
            raise UsageError(
                f"--N {min(dims)} with --start conditioned starts at m0 = N^-1/2 >= the escape overlap "
                f"{self.m_escape}: use N > {self.m_escape**-2:g} or --start random"
            )
        return dataclasses.replace(
            self,
            dims=dims,
            step_factors=tuple(sorted(float(f) for f in factors)),
        )

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["dims"] = list(self.dims)
        out["step_factors"] = list(self.step_factors)
        return out


@dataclasses.dataclass(frozen=True, order=True)
class Cell:
    """One cell of a sweep, keyed by its axes: N; the step factor F of a scan (1 without one);
    the spectral exponent alpha and spike placement of the power-law task, the readout of the
    amplitude-phase task (None for the others); `null` marks the no-signal control run beside the
    cell with the same keys.

    The file name is `cell_N00064.nc` for the plain cell, with `_F2` for a scan factor,
    `_alpha1.500_aligned` for a power-law cell, `_phase` for a readout and `_null` for the control,
    so that the cells of a single-schedule sweep keep their names."""

    dim: int
    factor: float = 1.0
    null: bool = False
    alpha: float | None = None
    placement: str | None = None
    readout: str | None = None

    @property
    def name(self) -> str:
        text = f"N{self.dim:05d}"
        if self.factor != 1.0:
            text += f"_F{self.factor:g}"
        if self.alpha is not None:
            text += f"_alpha{self.alpha:.3f}_{str(self.placement).replace(':', '')}"
        if self.readout is not None:
            text += f"_{self.readout}"
        return text + ("_null" if self.null else "")

    @property
    def signal(self) -> Cell:
        return dataclasses.replace(self, null=False)

    @property
    def control(self) -> Cell:
        return dataclasses.replace(self, null=True)

    def __str__(self) -> str:
        text = f"N={self.dim}"
        if self.factor != 1.0:
            text += f" F={self.factor:g}"
        if self.alpha is not None:
            text += f" alpha={self.alpha:g} {self.placement}"
        if self.readout is not None:
            text += f" {self.readout}"
        return text + (" null" if self.null else "")


def check_cell_budgets(exp) -> None:
    """Refuse, before any simulation, a cell whose budget one run cannot count (the one check for
    every experiment; the engines' driver refuses the same at run time, `sims.MAX_STEPS`)."""
    for cell in exp.cells():
        cfg = exp.cell_config(cell)
        steps = math.ceil(cfg["budget"] / cfg["batch"])
        if steps > sims.MAX_STEPS:
            raise UsageError(
                f"--budget-factor gives {cfg['budget']:.3g} samples ({steps:.3g} steps) at {cell}, "
                "more than one run can count: lower it"
            )


@dataclasses.dataclass(frozen=True)
class Experiment:
    """The theory and the simulation of one `SweepConfig`, side by side."""

    config: SweepConfig

    @ft.cached_property
    def activation(self) -> str:
        if self.config.activation is not None:
            return self.config.activation
        try:
            return theory.recommended_activation(self.config.task, self.config.latent)
        except ValueError as err:
            raise UsageError(str(err)) from None

    @ft.cached_property
    def loss(self) -> theory.PopulationLoss:
        return theory.PopulationLoss(self.config.task, self.config.latent, self.activation, self.config.snr)

    @ft.cached_property
    def dynamics(self) -> theory.OverlapDynamics:
        """Overlap dynamics; for an unrecoverable loss, those of the sign-flipped activation
        (same |a_k| and gradient scale), used only to set the schedule and the budget."""
        if self.loss.information_exponent is None:
            raise UsageError(self.loss.verdict)
        loss = self.loss
        if not loss.recoverable:
            sign, base = theory.parse_activation(self.activation)
            flipped = base if sign < 0 else f"-{base}"
            loss = theory.PopulationLoss(self.config.task, self.config.latent, flipped, self.config.snr)
        return theory.OverlapDynamics(loss, self.config.m_escape)

    @property
    def k(self) -> int:
        return self.dynamics.k

    @ft.cached_property
    def schedule(self) -> tuple[float, float]:
        """(P, Q) of the step schedule delta_N = delta_0 N^-P (log N)^-Q in use."""
        p0, q0 = theory.schedule_powers(self.k)
        c = self.config
        return (
            float(p0) if c.step_exponent is None else float(c.step_exponent),
            float(q0) if c.step_log_power is None else float(c.step_log_power),
        )

    @property
    def schedule_text(self) -> str:
        p, q = self.schedule
        text = f"delta_N = {self.step0:.4g}"
        text += "" if p == 0 else (" / N" if p == 1 else f" N^-{p:g}")
        text += "" if q == 0 else (" / log N" if q == 1 else f" / (log N)^{q:g}")
        return text

    @ft.cached_property
    def step0(self) -> float:
        """delta_0: the given one, or the schedule's default (the theory's step at N = 16)."""
        if self.config.step0 is not None:
            return float(self.config.step0)
        return self.dynamics.delta0_for(*self.schedule)

    @property
    def factors(self) -> tuple[float, ...]:
        """The step factors of the scan, (1.0,) for a single schedule."""
        return self.config.step_factors or (1.0,)

    @property
    def scanning(self) -> bool:
        return bool(self.config.step_factors)

    def step(self, dim: int, factor: float = 1.0) -> float:
        return float(factor) * self.dynamics.step(dim, self.step0, *self.schedule)

    def batch(self, dim: int) -> int:
        return self.dynamics.batch_size(dim) if self.config.batch is None else int(self.config.batch)

    def budget(self, dim: int) -> int:
        """Samples per seed: budget_factor x N^(k-1) log^2 N / (k max(k-2,1) a_k delta_0*), with
        delta_0* the theory's default; the same for every step, schedule and scan factor, so that
        a larger step never gets a smaller budget."""
        return int(math.ceil(self.config.budget_factor * self.dynamics.escape_scale(dim)))

    def start_overlap(self, dim: int) -> float:
        """The start the theory's prediction uses: N^-1/2 (conditioned) or the median |m0| (random)."""
        if self.config.start == "conditioned":
            return 1.0 / math.sqrt(dim)
        return theory.median_abs_start(dim)

    def _signed_start(self, dim: int) -> float:
        return self.start_overlap(dim) * (self.loss.favourable_sign if self.loss.recoverable else 1)

    def predicted_escape(self, dim: int, factor: float = 1.0) -> float:
        """ODE escape samples from the typical start (the median for a random start), on the side
        of the equator the engine starts from (favourable sign)."""
        return self.dynamics.ode_escape_samples(dim, self.step(dim, factor), self._signed_start(dim))

    @ft.cached_property
    def _predicted_best(self) -> dict[int, tuple[float, float]]:
        return {}

    def predicted_best(self, dim: int) -> tuple[float, float]:
        """(factor, ODE escape samples) of the scan factor the ODE predicts fastest at N = dim
        (computed once per N: `cells` and `reference` ask for it for every cell)."""
        if dim not in self._predicted_best:
            values = [self.predicted_escape(dim, f) for f in self.factors]
            i = int(np.argmin(values))
            self._predicted_best[dim] = (self.factors[i], float(values[i]))
        return self._predicted_best[dim]

    def predicted_optimum(self, dim: int) -> tuple[float, float]:
        """(step, ODE escape samples) at the ODE's best step over all steps (not only the scan's)."""
        return self.dynamics.best_step_escape(dim, self._signed_start(dim))

    def cells(self, dims=None) -> list[Cell]:
        """Every cell of the sweep (or of the N in `dims`), in the order they must run: per N, the
        factor the ODE predicts fastest first (its result caps the others when `scan_cap`), then
        the other factors; each followed by its no-signal control when `null_seeds` > 0."""
        out = []
        for dim in self.config.dims if dims is None else dims:
            first = (
                self.predicted_best(dim)[0] if self.scanning and self.loss.recoverable else self.factors[0]
            )
            for f in (first, *(f for f in self.factors if f != first)):
                out.append(Cell(dim, f))
                if self.config.null_seeds:
                    out.append(Cell(dim, f, null=True))
        return out

    def reference(self, cell: Cell) -> Cell | None:
        """The signal cell whose result sets this cell's budget: a control's own signal cell, and in
        a capped scan the first factor of its N; None for cells that run to the full budget."""
        if cell.null:
            return cell.signal
        if self.scanning and self.config.scan_cap and self.loss.recoverable:
            first = self.cells([cell.dim])[0]
            return None if first == cell else first
        return None

    def stop_after(self, seeds: int) -> int | None:
        """The escape count after which a cell may stop: the upper rank u of the median's
        order-statistic interval (`sims.median_interval_ranks`); None without early stop."""
        if not self.config.early_stop:
            return None
        return sims.median_interval_ranks(seeds)[1]

    def cell_seeds(self, cell: Cell) -> int:
        return min(self.config.null_seeds, self.config.seeds) if cell.null else self.config.seeds

    def check_budgets(self) -> None:
        check_cell_budgets(self)

    @ft.cached_property
    def task(self) -> sims.SpikeTask:
        return sims.SpikeTask.make(self.config.task, self.config.snr, self.config.latent)

    @ft.cached_property
    def null_task(self) -> sims.SpikeTask:
        return sims.SpikeTask.make(self.config.task, self.config.snr, self.config.latent, null=True)

    # ---- what the cell loop (`claims.run_cells`) asks of every experiment ---------------------
    cell_variables = sims.CELL_VARIABLES
    """The variables a reusable cell file must hold."""

    def full_budget(self, cell: Cell) -> int:
        """The cell's budget before any reference cell caps it."""
        return self.budget(cell.dim)

    def engine_for(self, cell: Cell) -> sims.OnlineSGD | sims.ReducedSGD:
        """The engine that runs `cell` (its `run(steps, seeds, budget, ...)` is the driver's)."""
        return self.engine(cell.dim, null=cell.null)

    def write_cell(self, path, run: dict, cfg: dict):
        """Store one finished cell atomically; returns the dataset."""
        return sims.write_cell(path, run, [cfg["step"]], cfg["seeds"], cfg)

    def nan_hint(self, cell: Cell, cfg: dict) -> str:
        return (
            f"step delta={cfg['step']:.3g} (delta_0={self.step0:.3g}, factor {cell.factor:g}) produced NaN "
            f"at N={cell.dim}: lower --step"
        )

    def engine(self, dim: int, null: bool = False) -> sims.OnlineSGD | sims.ReducedSGD:
        c = self.config
        return sims.ENGINE_CLASSES[self.engine_name(dim)](
            dim=dim,
            task=self.null_task if null else self.task,
            activation=self.activation,
            batch=self.batch(dim),
            noise=c.noise,
            shape=(math.isqrt(dim),) * 2 if c.inputs == "image" else None,
            start=c.start,
            favourable_sign=self.loss.favourable_sign if self.loss.information_exponent else 1,
            m_escape=c.m_escape,
            dtype=c.dtype,
            prng_impl=c.prng_impl,
            chunk=c.chunk,
        )

    def engine_name(self, dim: int) -> str:
        """The engine this cell runs on: `auto` resolves to `reduced` where it is exact."""
        if self.config.engine == "auto":
            return "reduced" if sims.reduced_is_exact(self.config.noise) else "full"
        return self.config.engine

    def cell_config(self, cell: Cell | int, budget: int | None = None) -> dict:
        """Everything that determines one cell's numbers (its file is reused only if equal).

        `budget`: the cell's budget when a reference cell sets it (see `reference`); default the
        sweep's. Keys beyond those of a plain single-schedule cell are added only where they apply,
        so such cells keep their configuration."""
        cell = cell if isinstance(cell, Cell) else Cell(int(cell))
        c, dim = self.config, cell.dim
        extra: dict = {}
        if cell.factor != 1.0:
            extra["factor"] = cell.factor
        if cell.null:
            extra["null"] = True
        stop = None if cell.null else self.stop_after(self.cell_seeds(cell))  # controls run to their budget
        if stop is not None:
            extra["stop_after"] = stop
        return (
            extra
            | {
                "task": c.task,
                "latent": c.latent,
                "activation": self.activation,
                "snr": c.snr,
                "N": dim,
                "seeds": list(range(self.cell_seeds(cell))),
                "step": self.step(dim, cell.factor),
                "budget": self.budget(dim) if budget is None else int(budget),
                "batch": self.batch(dim),
                "start": c.start,
                "noise": c.noise,
                "inputs": c.inputs,
                "m_escape": c.m_escape,
                "root_seed": c.root_seed,
                "n_checkpoints": c.n_checkpoints,
                "dtype": c.dtype,
                "prng_impl": c.prng_impl,
                "engine": self.engine_name(dim),
                "engine_version": sims.ENGINE_VERSION,
            }
            | ({} if c.chunk == sims.CHUNK else {"chunk": c.chunk})
        )  # recorded when not the default
