"""The frequency-principle experiments' configurations per tier, their validation, and the shared
helpers (progress bars, provenance attributes, seed-mean intervals)."""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import numpy as np
from tqdm.auto import tqdm

import sims
import sims.frequency_principle


EXPERIMENTS = ("1d", "filtering", "deep")
SCHEMA = "frequency-principle/1"
THRESHOLD_1D = 0.1  # Delta_F below which a peak counts as converged (the floor of Xu's colour map)
THRESHOLD_FILTER = 0.1


# ----------------------------------------------------------------------------------------------------
# Configurations per tier
# ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config1D:
    hidden: tuple[int, ...] = (200, 200, 200, 100)
    points: int = 101
    learning_rate: float = 2e-4
    steps: int = 3000
    record_every: int = 30
    seeds: int = 8
    activation: str = "tanh"
    root_seed: int = 0


@dataclasses.dataclass(frozen=True)
class ConfigFilter:
    samples: int = 1000
    hidden: tuple[int, ...] = (128, 128)
    learning_rate: float = 1e-3
    steps: int = 800
    record_every: int = 20
    seeds: int = 8
    n_delta: int = 8
    activation: str = "relu"
    root_seed: int = 0
    permute_labels: bool = False  # the control: train on labels permuted at random


@dataclasses.dataclass(frozen=True)
class ConfigDeep:
    samples: int = 500
    depths: tuple[int, ...] = (2, 4, 6, 8)
    width: int = 64
    learning_rate: float = 1e-3
    steps: int = 1500
    record_every: int = 100
    seeds: int = 8
    n_delta: int = 7
    permutations: int = 2
    activation: str = "tanh"
    root_seed: int = 0
    permute_labels: bool = False  # the control: train on labels permuted at random


TIER_CONFIGS = {
    "1d": {
        "smoke": Config1D(hidden=(64, 64, 64), learning_rate=1e-3, steps=800, record_every=40, seeds=4),
        "default": Config1D(),
        "full": Config1D(seeds=20, record_every=10),  # Xu's TF2 settings (brief B.1)
    },
    "filtering": {
        "smoke": ConfigFilter(
            samples=200, hidden=(64, 64), learning_rate=2e-3, steps=400, record_every=20, seeds=4, n_delta=6
        ),
        "default": ConfigFilter(),
        "full": ConfigFilter(samples=1797, hidden=(400, 400), steps=3000, record_every=30, seeds=16),
    },
    "deep": {
        "smoke": ConfigDeep(samples=200, depths=(4,), steps=600, record_every=150, seeds=4, permutations=8),
        "default": ConfigDeep(),
        "full": ConfigDeep(samples=1000, depths=(2, 4, 6, 8, 10), width=128, steps=5000, seeds=16),
    },
}


def config_for(experiment: str, tier: str, **overrides):
    """The tier's configuration for `experiment`, with `overrides` (None values ignored), validated."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}: use one of {', '.join(EXPERIMENTS)}")
    if tier not in TIER_CONFIGS[experiment]:
        raise ValueError(f"unknown tier {tier!r}: use one of smoke, default, full")
    cfg = TIER_CONFIGS[experiment][tier]
    fields = {f.name for f in dataclasses.fields(cfg)}
    kw = {k: v for k, v in overrides.items() if v is not None and k in fields}
    cfg = dataclasses.replace(cfg, **kw)
    _validate(cfg)
    return cfg


def _validate(cfg) -> None:
    if cfg.seeds < 2:
        raise ValueError(f"seeds={cfg.seeds}: need at least 2 seeds for an interval")
    if cfg.steps < 1 or cfg.record_every < 1 or cfg.steps % cfg.record_every:
        raise ValueError(f"steps={cfg.steps} must be a positive multiple of record_every={cfg.record_every}")
    if not (cfg.learning_rate > 0 and math.isfinite(cfg.learning_rate)):
        raise ValueError(f"learning rate {cfg.learning_rate} must be positive and finite")
    if cfg.activation not in sims.frequency_principle.ACTIVATIONS:
        raise ValueError(f"unknown activation {cfg.activation!r}: use tanh or relu")
    if getattr(cfg, "samples", 1797) > 1797 or getattr(cfg, "samples", 1797) < 30:
        raise ValueError(f"samples={cfg.samples}: the bundled digits allow 30..1797")
    if isinstance(cfg, ConfigDeep) and (min(cfg.depths) < 2 or cfg.width < 2):
        raise ValueError(f"depths={cfg.depths}, width={cfg.width}: need depths >= 2 hidden layers")
    if isinstance(cfg, Config1D) and cfg.points < 16:
        raise ValueError(f"points={cfg.points}: need at least 16 grid points")


def _bar(total: int, desc: str, progress: bool):
    return tqdm(total=total, desc=desc, unit="step", disable=not progress, leave=False)


def _attrs(config, seconds: float, experiment: str) -> dict:
    cfg = dataclasses.asdict(config)
    attrs = sims.provenance()
    attrs.update(
        schema=SCHEMA,
        experiment=experiment,
        config=json.dumps(cfg, sort_keys=True),
        config_hash=sims.config_hash(cfg),
        prng_impl=str(jax.config.jax_default_prng_impl),
        wall_seconds=float(seconds),
    )
    return attrs


def mean_ci(values, n_boot: int = sims.N_BOOT, seed: int = 0) -> sims.Estimate:
    """Mean over seeds with a 95% percentile-bootstrap interval."""
    v = np.asarray(values, float)
    rng = np.random.default_rng(seed)
    boots = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return sims.Estimate(float(v.mean()), float(lo), float(hi), int(v.size))
