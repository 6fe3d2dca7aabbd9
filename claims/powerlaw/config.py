"""The power-law sweep's configuration and experiment: profiles, `PowerlawConfig`, and
`PowerlawExperiment` (theory and simulation side by side, with the cell protocol of
`claims.run_cells`)."""

from __future__ import annotations

import dataclasses
import functools as ft
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.stats

import sims
import sims.powerlaw
import theory
import theory.powerlaw

from .._config import Cell, ProfileConfig, UsageError, check_cell_budgets, check_counts, check_dims
from .._sweep import run_cells


PROFILES = {
    "smoke": {
        "dims": (16, 24, 32),
        "seeds": 8,
        "alphas": (0.0, 1.0, 1.5),
        "placements": ("aligned", "spread"),
    },
    "default": {
        "dims": (16, 24, 32),
        "seeds": 16,
        "alphas": (0.0, 0.5, 1.0, 1.5),
        "placements": ("aligned", "spread"),
    },
    "full": {
        "dims": (16, 24, 32, 48, 64),
        "seeds": 32,
        "alphas": (0.0, 0.5, 1.0, 1.25, 1.5),
        "placements": ("aligned", "spread", "topK:4"),
    },
}
MIN_SEEDS = 5
ENGINES = ("auto", "coloured")
"""auto: alpha = 0 on the exact reduced chain (the isotropic task), the rest coloured."""
SUMMARY_KEYS = ("theory", "cells", "speedups", "fits", "config", "provenance")


@dataclasses.dataclass(frozen=True)
class PowerlawConfig(ProfileConfig):
    """Everything that defines a power-law sweep.

    **Arguments:**
    - `dims`, `seeds`: the N grid and seeds per cell.
    - `alphas`: spectral exponents (P_f proportional to (1 + f)^-alpha, tr C = N).
    - `placements`: `aligned`, `spread`, `topK:K`.
    - `preactivation`: `normalised` (w.x / sqrt(w^T C w); the theory covers it) or `plain`.
    - `start`: `conditioned` (m_eff(0) = sqrt(u^T C u / tr C)) or `random` (uniform on the sphere).
    - `latent`, `activation`, `snr`: the whitened phase task and the student (activation None: the
      theory's recommendation, -He4 for the Rademacher latent).
    - `step0`: delta_0 of the isotropic schedule delta_N = delta_0 / (N log N) (None: the theory's).
    - `budget_factor`: budget = factor x the isotropic scale N^3 log^2 N / (8 a_4 delta_0) (None: 1,
      about log N times the isotropic escape count); seeds that do not escape are censored at it.
    - `inputs`: `signal` (length N) or `image` (L x L, N = L^2: radial frequencies).
    - `stop_after`: stop a cell once this many of its seeds have escaped; the others are censored
      at the stop (`stop_samples` in the cell file) and every statistic treats them as escaping
      later than that (None: run every seed to its escape or the budget, as before). With 16
      seeds, 14 keeps the median and its interval exact and leaves a bootstrap resample's median
      on a censored seed with probability about 1e-4, while the slowest seeds of a random start,
      which can take 10-60 times the median, no longer set the cell's cost.
    - `engine`: `auto` (alpha = 0 cells on the exact reduced chain, `sims.powerlaw.IsotropicReducedSGD`,
      O(1) per sample; the others on the coloured engine) or `coloured` (every cell on the coloured
      engine, O(N) per sample; the registered claims use it, as when they were registered).
    """

    dims: tuple[int, ...] = PROFILES["default"]["dims"]
    seeds: int = PROFILES["default"]["seeds"]
    alphas: tuple[float, ...] = PROFILES["default"]["alphas"]
    placements: tuple[str, ...] = PROFILES["default"]["placements"]
    preactivation: str = "normalised"
    start: str = "conditioned"
    latent: str = "rademacher"
    activation: str | None = None
    snr: float = 10.0
    step0: float | None = None
    budget_factor: float | None = None
    inputs: str = "signal"
    engine: str = "auto"
    stop_after: int | None = None
    m_escape: float = theory.ESCAPE_OVERLAP
    root_seed: int = 0
    n_checkpoints: int = 32
    dtype: str = "float32"
    prng_impl: str = "threefry2x32"
    chunk: int = sims.CHUNK
    profile: str = "default"
    task: str = "powerlaw"

    profiles: ClassVar[dict[str, dict]] = PROFILES

    def validated(self) -> PowerlawConfig:
        """Long because it is the flat list of checks, one per field, each with its own message."""
        dims = check_dims(self.dims)
        if self.inputs not in ("signal", "image"):
            raise UsageError(f"unknown inputs {self.inputs!r}: use signal or image")
        if self.inputs == "image":
            bad = [d for d in dims if math.isqrt(d) ** 2 != d]
            if bad:
                raise UsageError(f"--N {bad[0]} is not a square: images need N = L^2, e.g. --N 16 36 64")
        alphas = tuple(self.alphas)
        if not alphas:
            raise UsageError("--alpha needs at least one spectral exponent, e.g. --alpha 0 1 1.5")
        for a in alphas:
            try:
                sims.powerlaw.check_alpha(a)
            except ValueError as err:
                raise UsageError(f"--alpha: {err}") from None
        if len(set(alphas)) != len(alphas):
            raise UsageError(f"--alpha {list(alphas)} repeats a value: list each alpha once")
        if not self.placements:
            raise UsageError("--placement needs at least one of aligned, spread, topK:K")
        for p in self.placements:
            try:
                for d in dims:
                    sims.powerlaw.parse_placement(p, d)
            except ValueError as err:
                raise UsageError(f"--placement: {err}") from None
        if len(set(self.placements)) != len(self.placements):
            raise UsageError(f"--placement {list(self.placements)} repeats a placement")
        if self.engine not in ENGINES:
            raise UsageError(
                f"unknown --engine {self.engine!r} for the power-law task: use {' or '.join(ENGINES)}"
            )
        if self.preactivation not in sims.powerlaw.PREACTIVATIONS:
            raise UsageError(
                f"unknown --preactivation {self.preactivation!r}: use one of "
                f"{', '.join(sims.powerlaw.PREACTIVATIONS)}"
            )
        if self.start not in sims.START_NAMES:
            raise UsageError(
                f"unknown --start {self.start!r} for the power-law task: use conditioned or random"
            )
        try:
            theory.latent(self.latent)
            sims.latent_sampler(self.latent)
            if self.activation is not None:
                theory.parse_activation(self.activation)
        except ValueError as err:
            raise UsageError(str(err)) from None
        if not (isinstance(self.snr, int | float) and math.isfinite(self.snr) and self.snr > 0):
            raise UsageError(f"--snr {self.snr!r} must be a positive number")
        if self.step0 is not None and not (math.isfinite(self.step0) and self.step0 > 0):
            raise UsageError(f"--step {self.step0!r} must be a positive number (delta_0 of the schedule)")
        if self.budget_factor is not None and not (
            math.isfinite(self.budget_factor) and self.budget_factor > 0
        ):
            raise UsageError(f"--budget-factor {self.budget_factor!r} must be a positive number")
        check_counts(self)
        if self.stop_after is not None and not (
            isinstance(self.stop_after, int) and 1 <= self.stop_after <= self.seeds
        ):
            raise UsageError(
                f"--stop-after {self.stop_after!r} must be an integer from 1 to {self.seeds} (--seeds)"
            )
        if self.task != "powerlaw":
            raise UsageError(f"a PowerlawConfig is for --task powerlaw, not {self.task!r}")
        return dataclasses.replace(
            self,
            dims=dims,
            alphas=tuple(sorted(float(a) for a in alphas)),
            placements=tuple(self.placements),
        )

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.update(dims=list(self.dims), alphas=list(self.alphas), placements=list(self.placements))
        return out


@dataclasses.dataclass(frozen=True)
class PowerlawExperiment:
    """Theory and simulation of one `PowerlawConfig`, side by side."""

    config: PowerlawConfig

    @ft.cached_property
    def activation(self) -> str:
        if self.config.activation is not None:
            return self.config.activation
        try:
            return theory.recommended_activation("phase", self.config.latent)
        except ValueError as err:
            raise UsageError(str(err)) from None

    @ft.cached_property
    def loss(self) -> theory.PopulationLoss:
        loss = theory.PopulationLoss("phase", self.config.latent, self.activation, self.config.snr)
        if not loss.recoverable:
            raise UsageError(loss.verdict)
        return loss

    @ft.cached_property
    def dynamics(self) -> theory.OverlapDynamics:
        return theory.OverlapDynamics(self.loss, self.config.m_escape)

    @property
    def step0(self) -> float:
        return self.dynamics.default_delta0 if self.config.step0 is None else float(self.config.step0)

    @property
    def budget_factor(self) -> float:
        return 1.0 if self.config.budget_factor is None else float(self.config.budget_factor)

    def step(self, dim: int) -> float:
        return self.dynamics.step(dim, self.step0)

    def batch(self, dim: int) -> int:
        return self.dynamics.batch_size(dim)

    def budget(self, dim: int) -> int:
        return int(math.ceil(self.budget_factor * self.dynamics.escape_scale(dim, self.step0)))

    def shape(self, dim: int) -> tuple[int, ...]:
        return (math.isqrt(dim),) * 2 if self.config.inputs == "image" else (dim,)

    @ft.cached_property
    def task(self) -> sims.SpikeTask:
        return sims.SpikeTask.make("phase", self.config.snr, self.config.latent)

    def isotropic_reduced(self, alpha: float) -> bool:
        """Whether the cells of this alpha run on the exact reduced chain (alpha = 0, engine auto)."""
        return alpha == 0 and self.config.engine == "auto"

    @ft.cache  # noqa: B019 - experiments are few and long-lived
    def engine(self, dim: int, alpha: float, placement: str) -> sims.powerlaw.ColouredSGD:
        c = self.config
        if self.isotropic_reduced(alpha):
            return sims.powerlaw.IsotropicReducedSGD(
                dim=dim,
                task=self.task,
                activation=self.activation,
                batch=self.batch(dim),
                preactivation=c.preactivation,
                start=c.start,
                m_escape=c.m_escape,
                dtype=c.dtype,
                prng_impl=c.prng_impl,
                shape=self.shape(dim) if c.inputs == "image" else None,
                chunk=c.chunk,
            )
        return sims.powerlaw.ColouredSGD(
            dim=dim,
            task=self.task,
            activation=self.activation,
            batch=self.batch(dim),
            alpha=float(alpha),
            placement=placement,
            preactivation=c.preactivation,
            start=c.start,
            m_escape=c.m_escape,
            dtype=c.dtype,
            prng_impl=c.prng_impl,
            shape=self.shape(dim) if c.inputs == "image" else None,
            chunk=c.chunk,
        )

    # ---- the cell protocol of `claims.run_cells` (see `claims.Experiment`) --------------------
    factors = (1.0,)
    cell_variables = sims.CELL_VARIABLES + ("spike", "w0", "spectrum", "typical_overlap")

    def cells(self, dims=None) -> list[Cell]:
        """Every cell (of the N in `dims`): per N each alpha and placement; alpha = 0 once, under
        the first placement (every placement is the isotropic task there)."""
        c = self.config
        out = []
        for d in c.dims if dims is None else dims:
            for a in c.alphas:
                for p in c.placements[:1] if a == 0 else c.placements:
                    out.append(Cell(d, alpha=a, placement=p))
        return out

    def reference(self, cell: Cell) -> None:
        return None  # every cell runs to its own budget

    def full_budget(self, cell: Cell) -> int:
        return self.budget(cell.dim)

    def engine_name(self, dim: int) -> str:
        return "coloured"  # O(N) per sample, as the full engine

    def engine_for(self, cell: Cell) -> sims.powerlaw.ColouredSGD:
        return self.engine(cell.dim, cell.alpha, cell.placement)

    def check_budgets(self) -> None:
        check_cell_budgets(self)

    def write_cell(self, path, run: dict, cfg: dict):
        return sims.powerlaw.write_powerlaw_cell(path, run, cfg)

    def nan_hint(self, cell: Cell, cfg: dict) -> str:
        return f"step delta={cfg['step']:.3g} produced NaN at {cell}: lower --step"

    def cell_config(self, cell: Cell, budget: int | None = None) -> dict:
        c, dim, alpha, placement = self.config, cell.dim, cell.alpha, cell.placement
        return (
            {
                "task": "powerlaw",
                "latent": c.latent,
                "activation": self.activation,
                "snr": c.snr,
                "N": dim,
                "spectral_exponent": alpha,
                "placement": placement,
                "preactivation": c.preactivation,
                "start": c.start,
                "inputs": c.inputs,
                "seeds": list(range(c.seeds)),
                "step": self.step(dim),
                "budget": self.budget(dim) if budget is None else int(budget),
                "batch": self.batch(dim),
                "m_escape": c.m_escape,
                "root_seed": c.root_seed,
                "n_checkpoints": c.n_checkpoints,
                "dtype": c.dtype,
                "prng_impl": c.prng_impl,
            }
            | (
                {"engine": "isotropic-reduced", "engine_version": sims.ENGINE_VERSION}
                if self.isotropic_reduced(alpha)
                else {"engine": "coloured", "engine_version": sims.powerlaw.POWERLAW_ENGINE_VERSION}
            )
            | ({} if c.chunk == sims.CHUNK else {"chunk": c.chunk})
            | ({"stop_after": c.stop_after} if c.stop_after is not None and c.stop_after < c.seeds else {})
        )

    # ---- theory ------------------------------------------------------------------------------
    def variances(self, dim: int, alpha: float) -> np.ndarray:
        return theory.powerlaw.variances(self.shape(dim), alpha)

    def hierarchy(self, dim: int, alpha: float, placement: str, spike=None, spectrum=None):
        """The shell hierarchy for typical spikes of a placement, or for a given spike."""
        if self.config.preactivation != "normalised":
            return None
        if spike is None:
            c = self.variances(dim, alpha)
            kind, k = sims.powerlaw.parse_placement(placement, dim)
            u2 = theory.powerlaw.placement_shell_power(c, kind, k)
        else:
            c, u2 = np.asarray(spectrum, float), np.asarray(spike, float) ** 2
        return theory.powerlaw.ShellHierarchy.make(self.loss, c, u2, self.config.m_escape)

    def typical_prediction(self, dim: int, alpha: float, placement: str) -> float | None:
        """ODE escape samples from the typical start (None for the plain pre-activation)."""
        if alpha == 0:
            placement = self.config.placements[0]
        key = (dim, float(alpha), placement)
        if key not in self._typical:
            h = self.hierarchy(dim, alpha, placement)
            if h is None:
                self._typical[key] = None
            else:
                m0 = theory.powerlaw.typical_start_overlap(h.c, h.u2[0])
                if self.config.start == "random":
                    m0 *= math.sqrt(float(scipy.stats.chi2.ppf(0.5, 1)))  # median |m0|, Gaussian overlap
                self._typical[key] = h.typical_escape_samples(dim, self.step(dim), m0)
        return self._typical[key]

    @ft.cached_property
    def _typical(self) -> dict:
        return {}

    def per_seed_predictions(self, ds) -> np.ndarray | None:
        """ODE escape samples from each seed's own spike and start (None: plain pre-activation)."""
        if self.config.preactivation != "normalised":
            return None
        u, w = np.asarray(ds["spike"].values), np.asarray(ds["w0"].values)
        dim = u.shape[1]
        h = theory.powerlaw.ShellHierarchy(
            self.loss, np.asarray(ds["spectrum"].values), u**2, self.config.m_escape
        )
        return h.escape_samples(h.state_of(w, u), dim, self.step(dim))


def run_powerlaw_cells(exp: PowerlawExperiment, out: Path, progress: bool = True, **kw) -> dict:
    """Run (or reuse) every cell through the one cell loop (`claims.run_cells`: resume, devices,
    chunks, stale temporaries); returns the datasets keyed by (N, alpha, placement)."""
    return by_axes(run_cells(exp, Path(out), progress, **kw))


def by_axes(cells: dict) -> dict:
    """Cells keyed by `Cell` -> keyed by (N, alpha, placement), as the analysis reads them."""
    return {(c.dim, c.alpha, c.placement) if isinstance(c, Cell) else c: ds for c, ds in cells.items()}
