"""Sweep configuration: profiles, validation, and the pairing of theory with simulation.

`SweepConfig` is the single description of a scaling sweep. `Experiment` builds, from it, the
theory objects (population loss, overlap dynamics, schedule, budget) and the simulation objects
(task, engine per N), so that the two sides always describe the same model.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import math
from typing import Any

import numpy as np

import sims
import theory


PROFILES: dict[str, dict[str, Any]] = {
    # seconds: the tests and `verify.py --tier smoke`
    "smoke": {"dims": (8, 12, 16, 24), "seeds": 8, "start": "conditioned", "budget_factor": 1.0},
    # `make sweep` with the reduced engine: N over 1.1 decades (0.6 with the full engine)
    "default": {
        "dims": (16, 24, 32, 48, 64, 96, 128, 192),
        "seeds": 16,
        "start": "conditioned",
        "budget_factor": 1.0,
    },
    # N over 1.5 decades with the reduced engine; about 80 minutes on 2 CPU cores (see README)
    "full": {
        "dims": (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512),
        "seeds": 16,
        "start": "conditioned",
        "budget_factor": 1.0,
    },
}
ENGINES = ("auto", "full", "reduced")
INPUTS = ("signal", "image")


class UsageError(ValueError):
    """Bad input: reported as one line, exit code 2."""


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """Everything that defines a scaling sweep (the embedded default is the `default` profile).

    **Arguments:**
    - `task`: `phase` (default), `amplitude` or `mean`.
    - `latent`: latent of the spike coordinate (default `rademacher`).
    - `activation`: student activation; None picks the theory's recommendation (+-He_k).
    - `snr`: signal strength beta.
    - `dims`: the N grid.
    - `seeds`: number of seeds per N.
    - `engine`: `auto` (the reduced engine wherever it is exact, i.e. Gaussian noise; the full
      engine otherwise), `full` or `reduced`.
    - `start`: `random` (uniform on the sphere, favourable sign) or `conditioned` (m0 = N^-1/2).
    - `step0`: delta_0 of the step schedule; None uses the theory's default.
    - `budget_factor`: budget = factor x N^(k-1) log^2 N / (k max(k-2,1) a_k delta_0).
    - `batch`: samples per step; None means the theory's B = round(N^((k-2)/2)) (N for k = 4).
    - `noise`: `gaussian` or `fixed_amplitude` noise class.
    - `inputs`: `signal` (periodic signals of length N) or `image` (L x L images, N = L^2).
    """

    task: str = "phase"
    latent: str = "rademacher"
    activation: str | None = None
    snr: float = 10.0
    dims: tuple[int, ...] = PROFILES["default"]["dims"]
    seeds: int = PROFILES["default"]["seeds"]
    engine: str = "auto"
    start: str = "conditioned"
    step0: float | None = None
    budget_factor: float = 1.0
    batch: int | None = None
    noise: str = "gaussian"
    inputs: str = "signal"
    m_escape: float = theory.ESCAPE_OVERLAP
    root_seed: int = 0
    n_checkpoints: int = 48
    dtype: str = "float32"
    prng_impl: str = "threefry2x32"
    chunk: int = sims.CHUNK
    profile: str = "default"

    @classmethod
    def from_profile(cls, profile: str, **overrides) -> SweepConfig:
        if profile not in PROFILES:
            raise UsageError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
        values = dict(PROFILES[profile], profile=profile)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    def validated(self) -> SweepConfig:
        """Check every field; raise UsageError naming the bad value and what to do."""
        if self.task not in theory.TASK_NAMES:
            raise UsageError(f"unknown task {self.task!r}: use one of {', '.join(theory.TASK_NAMES)}")
        try:
            theory.latent(self.latent)
            sims.latent_sampler(self.latent)
            if self.activation is not None:
                theory.parse_activation(self.activation)
        except ValueError as err:
            raise UsageError(str(err)) from None
        if not (isinstance(self.snr, int | float) and math.isfinite(self.snr) and self.snr > 0):
            raise UsageError(f"--snr {self.snr!r} must be a positive number")
        dims = tuple(self.dims)
        if not dims:
            raise UsageError("--N needs at least one dimension, e.g. --N 16 32 64")
        for d in dims:
            if not isinstance(d, int | np.integer) or d < 4:
                raise UsageError(f"--N value {d!r} is too small: every N must be an integer >= 4")
        if len(set(dims)) != len(dims):
            raise UsageError(f"--N {list(dims)} repeats a dimension: list each N once")
        if not isinstance(self.seeds, int | np.integer) or self.seeds < 1:
            raise UsageError(f"--seeds {self.seeds!r} must be an integer >= 1")
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
        if self.engine == "reduced" and not sims.reduced_is_exact(self.noise):
            raise UsageError(
                f"--engine reduced is exact only for gaussian noise, not --noise {self.noise}: "
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
        if not isinstance(self.chunk, int | np.integer) or self.chunk < 1:
            raise UsageError(f"--chunk {self.chunk!r} must be an integer >= 1 (trajectories per program)")
        if not isinstance(self.root_seed, int | np.integer) or not 0 <= self.root_seed < 2**32:
            raise UsageError(f"--root-seed {self.root_seed!r} must be an integer in [0, 2^32)")
        if self.start == "conditioned" and min(dims) <= self.m_escape**-2:
            raise UsageError(
                f"--N {min(dims)} with --start conditioned starts at m0 = N^-1/2 >= the escape overlap "
                f"{self.m_escape}: use N > {self.m_escape**-2:g} or --start random"
            )
        return dataclasses.replace(self, dims=tuple(sorted(int(d) for d in dims)))

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["dims"] = list(self.dims)
        return out


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
    def step0(self) -> float:
        return self.dynamics.default_delta0 if self.config.step0 is None else float(self.config.step0)

    def step(self, dim: int) -> float:
        return self.dynamics.step(dim, self.step0)

    def batch(self, dim: int) -> int:
        return self.dynamics.batch_size(dim) if self.config.batch is None else int(self.config.batch)

    def budget(self, dim: int) -> int:
        return int(math.ceil(self.config.budget_factor * self.dynamics.escape_scale(dim, self.step0)))

    def start_overlap(self, dim: int) -> float:
        """The start the theory's prediction uses: N^-1/2 (conditioned) or the median |m0| (random)."""
        if self.config.start == "conditioned":
            return 1.0 / math.sqrt(dim)
        return theory.median_abs_start(dim)

    def predicted_escape(self, dim: int) -> float:
        """ODE escape samples from the typical start (the median for a random start), on the side
        of the equator the engine starts from (favourable sign)."""
        start = self.start_overlap(dim) * (self.loss.favourable_sign if self.loss.recoverable else 1)
        return self.dynamics.ode_escape_samples(dim, self.step(dim), start)

    def check_budgets(self) -> None:
        """Refuse, before any simulation, a budget that one run cannot count."""
        for dim in self.config.dims:
            steps = math.ceil(self.budget(dim) / self.batch(dim))
            if steps >= 2**31 - 1:
                raise UsageError(
                    f"--budget-factor {self.config.budget_factor:g} gives {self.budget(dim):.3g} samples "
                    f"({steps:.3g} steps) at N={dim}, more than one run can count: lower it"
                )

    @ft.cached_property
    def task(self) -> sims.SpikeTask:
        return sims.SpikeTask.make(self.config.task, self.config.snr, self.config.latent)

    def engine(self, dim: int) -> sims.OnlineSGD | sims.ReducedSGD:
        c = self.config
        return sims.ENGINE_CLASSES[self.engine_name(dim)](
            dim=dim,
            task=self.task,
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

    def cell_config(self, dim: int) -> dict:
        """Everything that determines one cell's numbers (its file is reused only if equal)."""
        c = self.config
        return {
            "task": c.task,
            "latent": c.latent,
            "activation": self.activation,
            "snr": c.snr,
            "N": dim,
            "seeds": list(range(c.seeds)),
            "step": self.step(dim),
            "budget": self.budget(dim),
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
        } | ({} if c.chunk == sims.CHUNK else {"chunk": c.chunk})  # recorded when not the default
