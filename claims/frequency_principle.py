"""Claims of the frequency principle (Xu et al.) and the deep frequency principle (Xu & Zhou 2021).

Three experiments, each at three tiers (`smoke` seconds, `default` minutes, `full` the largest
settings we define), all vmapped over seeds:

- `1d`: a tanh MLP fits sin x + 2 sin 3x + 3 sin 5x on [-5, 5]; the relative error at each DFT peak
  of the target falls below 0.1 earlier for lower peaks (despite their smaller amplitude).
- `filtering`: an MLP fits one-hot labels of scikit-learn's bundled digits; with a row-normalised
  Gaussian smoother K_delta (kernel exp(-d^2 / (2 delta^2)), delta on a grid from the data's median
  nearest-neighbour to median pairwise distance), the low-frequency error |K(y - h)| / |K y|
  converges before the high-frequency error |(I - K)(y - h)| / |(I - K) y|.
- `deep`: MLPs of several depths on the digits; per hidden layer the effective target
  h_l(x_i) -> y_i, its low-frequency ratio LFR_l(delta) after scaling the layer's median pairwise
  distance to 1; controls: layer 0 (the input) reproduces the input-space LFR of an independent
  float64 computation, and permuted labels sit at the exact permutation floor.

Definitions that are ours (the deep-FP paper's text was not available) are listed in
`sims/frequency_principle.py` and docs/frequency-principle.md.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import xarray as xr
from tqdm.auto import tqdm

import sims
import sims.frequency_principle

from ._figures import STYLE, save
from .registry import Above, AllOf, Below, Each, FractionAbove, Registration, register, tier_sizes


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


# ----------------------------------------------------------------------------------------------------
# Experiment 1: the 1-D protocol
# ----------------------------------------------------------------------------------------------------


def run_1d(config: Config1D, progress: bool = False) -> xr.Dataset:
    """Train `config.seeds` MLPs on Xu's 1-D target; record Delta_F at each target peak."""
    start = time.perf_counter()
    x = np.linspace(-5, 5, config.points, dtype=np.float32)[:, None]
    y = np.asarray(sims.frequency_principle.xu_target_1d(x), np.float32)
    spec = np.fft.fft(y[:, 0].astype(np.float64))
    peaks = sims.frequency_principle.select_peaks(np.abs(spec[: config.points // 2]))
    layers = (1, *config.hidden, 1)
    trainer = sims.frequency_principle.Trainer(layers, config.activation, config.learning_rate)
    xj, sj = jnp.asarray(x), jnp.asarray(spec.astype(np.complex64))

    def measure(params):
        out, _ = sims.frequency_principle.mlp_forward(params, xj, config.activation)
        pred = jnp.fft.fft(out[:, 0])
        return {
            "error": sims.frequency_principle.peak_relative_error(pred, sj, peaks),
            "prediction": out[:, 0],
        }

    keys = jax.random.split(jax.random.fold_in(jax.random.key(0), config.root_seed), config.seeds)
    with _bar(config.steps, "1-D fit", progress) as bar:
        steps, rec = sims.frequency_principle.train(
            trainer, keys, x, y, config.steps, config.record_every, measure, bar.update
        )
    ds = xr.Dataset(
        {
            "peak_error": (("step", "seed", "peak"), rec["error"]),
            "prediction": (("step", "seed", "x"), rec["prediction"]),
            "target": (("x",), y[:, 0]),
            "target_dft_magnitude": (("peak",), np.abs(spec[peaks])),
        },
        coords={"step": steps, "seed": np.arange(config.seeds), "peak": peaks, "x": x[:, 0]},
    )
    ds["peak_error"].attrs["meaning"] = "|DFT(pred)[k] - DFT(target)[k]| / |DFT(target)[k]| at peak bins k"
    ds.attrs.update(_attrs(config, time.perf_counter() - start, "1d"))
    return ds


def analyse_1d(ds: xr.Dataset) -> dict:
    steps = ds["step"].values
    err = ds["peak_error"].values  # (step, seed, peak)
    t = sims.frequency_principle.first_below(err, steps, THRESHOLD_1D)  # (seed, peak)
    peaks = ds["peak"].values
    rho = np.array([sims.frequency_principle.spearman(peaks, ts) for ts in t])
    strict = np.array([bool(np.all(np.diff(ts) > 0)) for ts in t])
    est = mean_ci(rho)
    med_t = np.median(t, axis=0)
    return {
        "peaks": peaks.tolist(),
        "threshold": THRESHOLD_1D,
        "time_to_threshold_per_seed": [[None if not np.isfinite(v) else float(v) for v in r] for r in t],
        "median_time_to_threshold": [None if not np.isfinite(v) else float(v) for v in med_t],
        "spearman_per_seed": rho.tolist(),
        "spearman_mean": est.as_dict(),
        "strictly_ordered_fraction": float(strict.mean()),
        "seeds": int(rho.size),
        "strictly_ordered_seeds": int(strict.sum()),
        "holds": PEAKS_RULE.passed(_peaks_estimate(est.as_dict(), int(strict.sum()), int(rho.size))),
        "wall_seconds": float(ds.attrs["wall_seconds"]),
    }


def figure_1d(ds: xr.Dataset, summary: dict, stem: Path) -> Path:
    err = ds["peak_error"].values
    steps = ds["step"].values
    peaks = ds["peak"].values
    with plt.rc_context(STYLE):
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(9.6, 2.8), constrained_layout=True)
        x = ds["x"].values
        ax.plot(x, ds["target"].values, color="k", lw=1.2, label="target")
        mids = [len(steps) // 10, len(steps) // 3, len(steps) - 1]
        for i, c in zip(mids, ("tab:blue", "tab:orange", "tab:red"), strict=True):
            ax.plot(x, ds["prediction"].values[i, 0], color=c, lw=0.9, label=f"step {steps[i]}")
        ax.set(xlabel="x", ylabel="f(x)", title="sin x + 2 sin 3x + 3 sin 5x (seed 0)")
        ax.legend(frameon=False, fontsize=6.5)
        mean = err.mean(1).T
        im = bx.pcolormesh(
            steps, np.arange(len(peaks)), mean, cmap="RdBu", vmin=0.0, vmax=1.0, shading="nearest"
        )
        bx.set_yticks(np.arange(len(peaks)), [f"bin {k}" for k in peaks])
        bx.set(xlabel="training step", title=rf"$\Delta_F$ at the target's peaks ({err.shape[1]} seeds)")
        fig.colorbar(im, ax=bx, shrink=0.8)
        for j, k in enumerate(peaks):
            m = err[:, :, j]
            cx.plot(steps, np.median(m, 1), lw=1.2, label=f"peak bin {k}")
            cx.fill_between(steps, np.quantile(m, 0.1, 1), np.quantile(m, 0.9, 1), alpha=0.2)
        cx.axhline(THRESHOLD_1D, color="k", lw=0.6, ls=":")
        rho = summary["spearman_mean"]
        cx.set(
            yscale="log",
            xlabel="training step",
            ylabel=r"$\Delta_F$ (median, 10-90%)",
            title=f"Spearman(k, t$_{{0.1}}$) = {rho['value']:.2f} [{rho['lo']:.2f}, {rho['hi']:.2f}]",
        )
        cx.legend(frameon=False)
        return save(fig, stem)[0]


# ----------------------------------------------------------------------------------------------------
# Experiment 2: the filtering method on digits
# ----------------------------------------------------------------------------------------------------


def run_filtering(config: ConfigFilter, progress: bool = False) -> xr.Dataset:
    start = time.perf_counter()
    x, y, _ = sims.frequency_principle.load_digits_subset(config.samples)
    if config.permute_labels:
        y = y[np.random.default_rng([5, config.root_seed]).permutation(len(y))]
    scales = sims.frequency_principle.distance_scales(x)
    deltas = sims.frequency_principle.delta_grid(x, config.n_delta)
    d2 = sims.frequency_principle.squared_distances(jnp.asarray(x))
    kernels = jnp.stack([sims.frequency_principle.gaussian_smoother(d2, d) for d in deltas])
    lfr = np.asarray(sims.frequency_principle.lfr_from_d2(d2, y, deltas))
    floor = np.asarray(sims.frequency_principle.lfr_floor_from_d2(d2, deltas))
    trainer = sims.frequency_principle.Trainer(
        (64, *config.hidden, 10), config.activation, config.learning_rate
    )
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def measure(params):
        out, _ = sims.frequency_principle.mlp_forward(params, xj, config.activation)
        e_low, e_high = sims.frequency_principle.filter_errors(kernels, yj, out)
        return {
            "e_low": e_low,
            "e_high": e_high,
            "lfr_output": sims.frequency_principle.lfr_from_d2(d2, out, deltas),
        }

    keys = jax.random.split(jax.random.fold_in(jax.random.key(1), config.root_seed), config.seeds)
    with _bar(config.steps, "filtering", progress) as bar:
        steps, rec = sims.frequency_principle.train(
            trainer, keys, x, y, config.steps, config.record_every, measure, bar.update
        )
    ds = xr.Dataset(
        {
            "e_low": (("step", "seed", "delta"), rec["e_low"]),
            "e_high": (("step", "seed", "delta"), rec["e_high"]),
            "lfr_output": (("step", "seed", "delta"), rec["lfr_output"]),
            "lfr_target": (("delta",), lfr),
            "lfr_floor": (("delta",), floor),
        },
        coords={"step": steps, "seed": np.arange(config.seeds), "delta": deltas},
    )
    ds["delta"].attrs["meaning"] = "Gaussian kernel width (a length): exp(-d^2 / (2 delta^2))"
    ds.attrs.update(_attrs(config, time.perf_counter() - start, "filtering"))
    ds.attrs.update(
        median_nearest_neighbour_distance=scales["nearest_neighbour"],
        median_pairwise_distance=scales["pairwise"],
    )
    return ds


def censored_ratio_ci(num, den, budget: float, n_boot: int = sims.N_BOOT, seed: int = 0) -> dict:
    """Median over seeds of num / den (times to a threshold, +inf = not reached within `budget`)
    with a 95% percentile bootstrap, under the one censoring policy: an unreached time is at
    least `budget`, so each seed's ratio is known only between bounds (den unreached: lower bound
    0; num unreached: upper bound +inf), and the interval's lower end comes from the seeds' lower
    bounds, its upper end from their upper bounds (None where more than 2.5% of resamples give
    an infinite one). The point uses the budget for unreached times."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    n_c, d_c = np.where(np.isfinite(num), num, budget), np.where(np.isfinite(den), den, budget)
    with np.errstate(divide="ignore", invalid="ignore"):
        point = n_c / np.maximum(d_c, 1)
        lower = np.where(np.isfinite(den), n_c / np.maximum(d_c, 1), 0.0)
        upper = np.where(np.isfinite(num), num / np.maximum(d_c, 1), np.inf)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num.size, size=(n_boot, num.size))
    lo = float(np.quantile(np.median(lower[idx], axis=1), 0.025, method="lower"))
    his = np.median(upper[idx], axis=1)
    hi = float(np.quantile(his, 0.975, method="lower")) if np.mean(~np.isfinite(his)) <= 0.025 else None
    return {"value": float(np.median(point)), "lo": lo, "hi": hi, "n": int(num.size)}


def analyse_filtering(ds: xr.Dataset) -> dict:
    steps = ds["step"].values
    t_low = sims.frequency_principle.first_below(ds["e_low"].values, steps, THRESHOLD_FILTER)  # (seed, delta)
    t_high = sims.frequency_principle.first_below(ds["e_high"].values, steps, THRESHOLD_FILTER)
    budget = float(steps[-1])
    rows = []
    for j, d in enumerate(ds["delta"].values):
        est = censored_ratio_ci(t_high[:, j], t_low[:, j], budget)
        rows.append(
            {
                "delta": float(d),
                "lfr_target": float(ds["lfr_target"].values[j]),
                "lfr_floor": float(ds["lfr_floor"].values[j]),
                "median_t_low": _finite(np.median(t_low[:, j])),
                "median_t_high": _finite(np.median(t_high[:, j])),
                "reached_fraction_low": float(np.mean(np.isfinite(t_low[:, j]))),
                "reached_fraction_high": float(np.mean(np.isfinite(t_high[:, j]))),
                "ratio_t_high_over_t_low": est,
            }
        )
    return {
        "threshold": THRESHOLD_FILTER,
        "deltas": rows,
        "median_nearest_neighbour_distance": float(ds.attrs["median_nearest_neighbour_distance"]),
        "median_pairwise_distance": float(ds.attrs["median_pairwise_distance"]),
        "seeds": int(ds.sizes["seed"]),
        "holds": FILTERING_RULE.passed([r["ratio_t_high_over_t_low"] for r in rows]),
        "wall_seconds": float(ds.attrs["wall_seconds"]),
    }


def _plain_log_ticks(ax, ticks) -> None:
    ax.xaxis.set_major_locator(mticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%.2g"))
    ax.xaxis.set_minor_locator(mticker.NullLocator())


def _finite(v):
    return None if not np.isfinite(v) else float(v)


def figure_filtering(ds: xr.Dataset, summary: dict, stem: Path) -> Path:
    steps, deltas = ds["step"].values, ds["delta"].values
    lo, hi = ds["e_low"].values.mean(1), ds["e_high"].values.mean(1)  # (step, delta)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 4, figsize=(11.5, 2.7), constrained_layout=True)
        ax = axes[0]
        ax.plot(deltas, ds["lfr_target"].values, "o-", color="k", ms=3, label="one-hot labels")
        ax.plot(deltas, ds["lfr_floor"].values, "s--", color="0.5", ms=3, label="permutation floor")
        ax.set(xscale="log", yscale="log", xlabel=r"kernel width $\delta$", ylabel=r"LFR($\delta$)")
        _plain_log_ticks(ax, deltas)
        ax.set_title(f"digits, n = {json.loads(ds.attrs['config'])['samples']}")
        ax.legend(frameon=False)
        bx = axes[1]
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(deltas)))
        for j in (0, len(deltas) // 2, len(deltas) - 1):
            bx.plot(steps, lo[:, j], color=colors[j], lw=1.2, label=rf"low, $\delta$={deltas[j]:.2f}")
            bx.plot(
                steps, hi[:, j], color=colors[j], lw=1.2, ls="--", label=rf"high, $\delta$={deltas[j]:.2f}"
            )
        bx.axhline(THRESHOLD_FILTER, color="k", lw=0.6, ls=":")
        bx.set(yscale="log", xlabel="training step", ylabel="relative error (seed mean)")
        bx.legend(frameon=False, fontsize=6, loc="lower left")
        # heatmaps: row j is delta j's own data (the original code drew the last delta in every map)
        for cx, data, name in ((axes[2], lo, "e_low"), (axes[3], hi, "e_high")):
            im = cx.pcolormesh(
                steps, np.arange(len(deltas)), data.T, cmap="RdBu", vmin=0, vmax=1, shading="nearest"
            )
            cx.set_yticks(np.arange(len(deltas)), [f"{d:.2f}" for d in deltas])
            cx.set(xlabel="training step", ylabel=r"$\delta$", title=f"{name}({chr(948)}, step)")
            fig.colorbar(im, ax=cx, shrink=0.8)
        return save(fig, stem)[0]


# ----------------------------------------------------------------------------------------------------
# Experiment 3: the deep frequency principle
# ----------------------------------------------------------------------------------------------------


def relative_delta_grid(x, n_delta: int) -> np.ndarray:
    """Kernel widths relative to a cloud's median pairwise distance: from half the input data's
    median nearest-neighbour distance to the median pairwise distance (both relative)."""
    s = sims.frequency_principle.distance_scales(x)
    return np.geomspace(0.5 * s["nearest_neighbour"] / s["pairwise"], 1.0, n_delta)


def run_deep(config: ConfigDeep, progress: bool = False) -> xr.Dataset:
    """Long because it is one training run recorded layer by layer (the protocol of Xu & Zhou)."""
    start = time.perf_counter()
    x, y, _ = sims.frequency_principle.load_digits_subset(config.samples)
    n = x.shape[0]
    if config.permute_labels:
        y = y[np.random.default_rng([6, config.root_seed]).permutation(n)]
    rel = relative_delta_grid(x, config.n_delta)
    perms = np.stack(
        [
            np.stack(
                [
                    y[np.random.default_rng([7, config.root_seed, s, p]).permutation(n)]
                    for p in range(config.permutations)
                ]
            )
            for s in range(config.seeds)
        ]
    )
    measure = sims.frequency_principle.layer_lfr_measure(config.activation, x, y, rel)
    keys = jax.random.split(jax.random.fold_in(jax.random.key(2), config.root_seed), config.seeds)
    parts = {}
    total = config.steps * len(config.depths)
    with _bar(total, "deep FP", progress) as bar:
        for depth in config.depths:
            trainer = sims.frequency_principle.Trainer(
                (64, *([config.width] * depth), 10), config.activation, config.learning_rate
            )
            steps, rec = sims.frequency_principle.train(
                trainer,
                jax.vmap(lambda k, d=depth: jax.random.fold_in(k, d))(keys),
                x,
                y,
                config.steps,
                config.record_every,
                measure,
                bar.update,
                measure_args=(jnp.asarray(perms),),
            )
            parts[depth] = (steps, rec)
    max_layers = max(config.depths) + 1
    shape = (len(config.depths), len(steps), config.seeds, max_layers, len(rel))

    def pad(key, extra=()):
        arr = np.full(shape[:4] + extra, np.nan, np.float64)
        for i, d in enumerate(config.depths):
            arr[i, :, :, : d + 1] = parts[d][1][key]
        return arr

    ds = xr.Dataset(
        {
            "lfr": (("depth", "step", "seed", "layer", "delta"), pad("lfr", (len(rel),))),
            "lfr_permuted": (
                ("depth", "step", "seed", "layer", "delta", "permutation"),
                pad("lfr_permuted", (len(rel), config.permutations)),
            ),
            "floor": (("depth", "step", "seed", "layer", "delta"), pad("floor", (len(rel),))),
            "scale": (("depth", "step", "seed", "layer"), pad("scale")),
            "loss": (
                ("depth", "step", "seed"),
                np.stack([parts[d][1]["loss"] for d in config.depths]).astype(np.float64),
            ),
        },
        coords={
            "depth": list(config.depths),
            "step": steps,
            "seed": np.arange(config.seeds),
            "layer": np.arange(max_layers),
            "delta": rel,
            "permutation": np.arange(config.permutations),
        },
    )
    ds["delta"].attrs["meaning"] = "kernel width relative to the layer's median pairwise distance"
    ds["layer"].attrs["meaning"] = "0: the input itself; l >= 1: hidden layer l (NaN beyond the depth)"
    ds.attrs.update(_attrs(config, time.perf_counter() - start, "deep"))
    # reference LFR of the input, computed independently in float64 NumPy
    s = sims.frequency_principle.distance_scales(x)
    ds["lfr_input_reference"] = (
        ("delta",),
        sims.frequency_principle.lfr_reference(x / s["pairwise"], y, rel),
    )
    return ds


def analyse_deep(ds: xr.Dataset) -> dict:
    """Long because it computes the deep protocol's statistics one after the other."""
    rel = ds["delta"].values
    j_star = len(rel) // 2
    depths = [int(d) for d in ds["depth"].values]
    out = {"delta_star": float(rel[j_star]), "depths": {}, "seeds": int(ds.sizes["seed"])}
    for i, depth in enumerate(depths):
        lfr = ds["lfr"].values[i]  # (step, seed, layer, delta)
        layers = np.arange(1, depth + 1)
        end = lfr[-1][:, 1 : depth + 1, :]  # (seed, layer, delta)
        rho = np.array(
            [
                [sims.frequency_principle.spearman(layers, end[s, :, j]) for j in range(len(rel))]
                for s in range(end.shape[0])
            ]
        )
        est = mean_ci(rho[:, j_star])
        shift = lfr[-1, :, depth, j_star] - lfr[0, :, depth, j_star]
        shift_est = mean_ci(shift)
        start = lfr[0][:, 1 : depth + 1, :]
        rho0 = np.array(
            [
                [sims.frequency_principle.spearman(layers, start[s, :, j]) for j in range(len(rel))]
                for s in range(start.shape[0])
            ]
        )
        out["depths"][str(depth)] = {
            "spearman_at_start_at_delta_star": mean_ci(rho0[:, j_star]).as_dict(),
            "spearman_at_start_mean_per_delta": rho0.mean(0).tolist(),
            "spearman_layer_vs_lfr_at_delta_star": est.as_dict(),
            "spearman_per_seed": rho[:, j_star].tolist(),
            "spearman_mean_per_delta": rho.mean(0).tolist(),
            "lfr_end_per_layer_at_delta_star": end[:, :, j_star].mean(0).tolist(),
            "lfr_start_per_layer_at_delta_star": lfr[0][:, 1 : depth + 1, j_star].mean(0).tolist(),
            "deepest_layer_shift": shift_est.as_dict(),
            "final_loss": mean_ci(ds["loss"].values[i, -1]).as_dict(),
        }
    per_depth = out["depths"].values()
    out["rank_holds"] = DEEP_RANK_RULE.passed([r["spearman_layer_vs_lfr_at_delta_star"] for r in per_depth])
    out["shift_holds"] = DEEP_SHIFT_RULE.passed([r["deepest_layer_shift"] for r in per_depth])
    # identity control: layer 0 (JAX, float32, in-loop) against the float64 NumPy reference
    layer0 = ds["lfr"].values[:, :, :, 0, :]
    ref = ds["lfr_input_reference"].values
    rel_err = np.abs(layer0 - ref) / np.maximum(ref, 1e-6)
    out["identity"] = {"max_relative_difference": float(rel_err.max()), "reference": ref.tolist()}
    # permutation control: deviations from the exact floor at the first and last checkpoints
    dev, lfr_true = [], []
    for i, depth in enumerate(depths):
        for t in (0, -1):
            p = ds["lfr_permuted"].values[i, t, :, : depth + 1]  # (seed, layer, delta, perm)
            f = ds["floor"].values[i, t, :, : depth + 1][..., None]
            dev.append((p - f).transpose(1, 2, 0, 3).reshape(depth + 1, len(rel), -1))
            lfr_true.append(ds["lfr"].values[i, t, :, : depth + 1].mean(0))
    z = []
    for d in dev:  # (layer, delta, draws)
        se = d.std(-1, ddof=1) / math.sqrt(d.shape[-1])
        z.append(np.abs(d.mean(-1)) / np.maximum(se, 1e-12))
    z = np.concatenate([a.ravel() for a in z])
    from scipy.stats import t as student_t

    draws = dev[0].shape[-1]  # z is a t statistic with draws - 1 degrees of freedom
    limit = float(student_t.isf(0.0005 / z.size, draws - 1))
    out["permutation"] = {
        "max_abs_z": float(z.max()),
        "limit": limit,
        "tests": int(z.size),
        "draws_per_test": int(draws),
        "max_abs_mean_deviation": float(max(np.abs(d.mean(-1)).max() for d in dev)),
        "holds": bool(z.max() <= limit),
    }
    out["wall_seconds"] = float(ds.attrs["wall_seconds"])
    return out


def figure_deep(ds: xr.Dataset, summary: dict, stem: Path) -> Path:
    """Long because it lays out the panels of one figure."""
    rel = ds["delta"].values
    j = len(rel) // 2
    depths = [int(d) for d in ds["depth"].values]
    steps = ds["step"].values
    i_deep = len(depths) - 1
    depth = depths[i_deep]
    lfr = ds["lfr"].values[i_deep]
    colors = plt.cm.viridis(np.linspace(0, 0.9, depth + 1))
    with plt.rc_context(STYLE):
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(10.5, 2.9), constrained_layout=True)
        for layer in range(depth + 1):
            m = lfr[:, :, layer, j]
            ax.plot(
                steps,
                m.mean(1),
                color=colors[layer],
                lw=1.3,
                label="input" if layer == 0 else f"layer {layer}",
            )
        perm = ds["lfr_permuted"].values[i_deep][:, :, : depth + 1, j].mean((1, 3))
        ax.plot(steps, perm.mean(1), color="0.6", ls="--", lw=1, label="permuted labels (all layers)")
        ax.set(
            xlabel="training step",
            ylabel=rf"LFR at $\delta^*$ = {rel[j]:.2f} $\times$ median dist.",
            title=f"{depth} hidden layers, width {json.loads(ds.attrs['config'])['width']}",
        )
        ax.legend(frameon=False, fontsize=6, ncol=2)
        for layer in range(depth + 1):
            bx.plot(rel, lfr[-1, :, layer, :].mean(0), "o-", ms=2.5, color=colors[layer], lw=1)
        bx.plot(
            rel,
            ds["floor"].values[i_deep, -1, :, depth].mean(0),
            ":",
            color="0.5",
            label="floor (last layer)",
        )
        bx.axvline(rel[j], color="k", lw=0.5, ls=":")
        bx.set(
            xscale="log", yscale="log", xlabel=r"$\delta$ / median pairwise distance", ylabel="LFR at the end"
        )
        _plain_log_ticks(bx, rel[::2])
        bx.legend(frameon=False)
        for d in depths:
            r = summary["depths"][str(d)]
            e = r["spearman_layer_vs_lfr_at_delta_star"]
            cx.errorbar(
                [d],
                [e["value"]],
                yerr=[[e["value"] - e["lo"]], [e["hi"] - e["value"]]],
                fmt="o",
                color="k",
                capsize=3,
            )
            cx.scatter(
                np.full(len(r["spearman_per_seed"]), d)
                + np.linspace(-0.15, 0.15, len(r["spearman_per_seed"])),
                r["spearman_per_seed"],
                s=6,
                color="0.6",
            )
        cx.axhline(0, color="k", lw=0.5)
        cx.set(
            xlabel="number of hidden layers",
            ylabel="Spearman(layer, LFR) at the end",
            ylim=(-1.05, 1.05),
            title=f"mean and 95% CI over {ds.sizes['seed']} seeds",
        )
        cx.set_xticks(depths)
        return save(fig, stem)[0]


# ----------------------------------------------------------------------------------------------------
# Running and writing
# ----------------------------------------------------------------------------------------------------


RUNNERS = {
    "1d": (run_1d, analyse_1d, figure_1d),
    "filtering": (run_filtering, analyse_filtering, figure_filtering),
    "deep": (run_deep, analyse_deep, figure_deep),
}


def run_experiment(experiment: str, config, out: Path, progress: bool = False) -> tuple[dict, Path]:
    """Run, write `out/<experiment>.nc` atomically, analyse and draw; returns (summary, figure path)."""
    run, analyse, figure = RUNNERS[experiment]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = run(config, progress)
    with sims.atomic_target(out / f"{experiment}.nc") as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    summary = analyse(ds)
    summary["config"] = dataclasses.asdict(config)
    fig = figure(ds, summary, out / f"frequency-principle-{experiment}")
    return summary, fig


# ----------------------------------------------------------------------------------------------------
# Registered claims
# ----------------------------------------------------------------------------------------------------


@ft.cache
def _cached(experiment: str, tier: str, out: str, root_seed: int = 0, **overrides) -> tuple[dict, str]:
    cfg = config_for(experiment, tier, root_seed=root_seed, **overrides)
    tag = "".join(f"-{k}" for k, v in sorted(overrides.items()) if v)
    summary, fig = run_experiment(experiment, cfg, Path(out) / f"frequency-principle{tag}")
    return summary, str(fig)


ORDERED_MARGIN = 0.5
PEAKS_RULE = AllOf(
    (
        ("rank", Above(0.0, "the seed-mean Spearman(peak frequency, steps to threshold)")),
        ("ordered seeds", FractionAbove(ORDERED_MARGIN, "seeds whose peaks converge strictly in order")),
    )
)


def _peaks_estimate(rho: dict, ordered: int, seeds: int) -> dict:
    return {"rank": rho, "ordered seeds": (ordered, seeds)}


FILTER_CONTROL_MARGIN = 2.0
FILTERING_STATISTIC = (
    "per kernel width: median over seeds of t_high / t_low (steps until the high- / low-frequency "
    "relative error stays below 0.1), 95% bootstrap; an unreached time is censored at the budget and "
    "the interval end that depends on it is a bound"
)
FILTERING_RULE = Each(Above(1.0, "the median ratio t_high / t_low"), "kernel width delta")
FILTERING_CONTROL_RULE = Each(
    Below(FILTER_CONTROL_MARGIN, "the median ratio t_high / t_low"), "kernel width delta"
)
DEEP_RANK_RULE = Each(Above(0.0, "the seed-mean Spearman(layer l, LFR_l) at delta*"), "depth")
DEEP_SHIFT_RULE = Each(Above(0.0, "the seed-mean LFR_L(end) - LFR_L(start) at delta*"), "depth")
DEEP_CONTROL_MARGIN = 0.5
DEEP_CONTROL_RULE = Each(
    Below(DEEP_CONTROL_MARGIN, "the seed-mean Spearman(layer l, LFR_l) at delta*"), "depth"
)


def _sizes(experiment: str, keys: tuple[str, ...]) -> dict[str, str]:
    return tier_sizes(TIER_CONFIGS[experiment], keys)


DEEP_KEYS = ("samples", "depths", "width", "steps", "seeds")
DEEP_RANK_STATISTIC = (
    "per depth: mean over seeds of the Spearman correlation between layer index l and LFR_l at the "
    "middle kernel width delta*, 95% percentile bootstrap over seeds"
)


@register(
    "frequency_principle.peaks_1d_low_first",
    "1-D F-principle: fitting sin x + 2 sin 3x + 3 sin 5x, the relative error at a lower DFT peak of "
    "the target falls below 0.1 earlier, although lower peaks have smaller amplitude.",
    "Xu et al. (F-principle, arXiv 1901.06523); brief B.1 (Xu's TF2 settings)",
    Registration(
        prediction="steps to Delta_F < 0.1 increase with the peak frequency (F-principle, Xu et al.)",
        statistic="seed-mean Spearman(peak, steps to threshold) with 95% bootstrap interval (never = "
        "last); the number of seeds whose peaks converge strictly in order",
        rule=PEAKS_RULE,
        tiers=_sizes("1d", ("hidden", "learning_rate", "steps", "seeds")),
        rationale={
            "0.1": "Delta_F below which a peak counts as converged: the floor of Xu's colour map",
            "0.5": "a majority of seeds strictly ordered (exact binomial interval), so one lucky seed "
            "cannot carry the claim",
        },
        experiment="frequency_principle.1d",
    ),
)
def peaks_1d_low_first(tier: str, out: Path, root_seed: int = 0) -> dict:
    s, fig = _cached("1d", tier, str(out), root_seed)
    e = s["spearman_mean"]
    med = ", ".join("never" if v is None else f"{v:.0f}" for v in s["median_time_to_threshold"])
    return {
        "prediction": f"time for Delta_F < {s['threshold']} increases with the peak frequency "
        f"(bins {s['peaks']})",
        "measurement": f"median steps to threshold per peak: {med}; Spearman(k, t) = {e['value']:.2f} "
        f"[{e['lo']:.2f}, {e['hi']:.2f}] over {s['seeds']} seeds; strictly ordered in "
        f"{s['strictly_ordered_seeds']} of {s['seeds']} seeds",
        "estimate": _peaks_estimate(e, s["strictly_ordered_seeds"], s["seeds"]),
        "figure": fig,
        "details": {"summary": s},
    }


def _filtering_claim(s: dict, fig: str) -> dict:
    rows = s["deltas"]
    budget = s["config"]["steps"]
    never = f"not within {budget}"
    f = lambda v: "?" if v is None else f"{v:.2f}"
    parts = []
    for r in rows:
        e = r["ratio_t_high_over_t_low"]
        t_low = never if r["median_t_low"] is None else f"{r['median_t_low']:.0f}"
        t_high = never if r["median_t_high"] is None else f"{r['median_t_high']:.0f}"
        parts.append(
            f"delta={r['delta']:.2f}: {f(e['value'])} [{f(e['lo'])}, {f(e['hi'])}] ({t_low}/{t_high})"
        )
    return {
        "prediction": f"t_high / t_low > 1 at every delta (steps to relative error < {s['threshold']})",
        "measurement": "median ratio (median steps low/high): " + "; ".join(parts) + f"; {s['seeds']} seeds",
        "estimate": [r["ratio_t_high_over_t_low"] for r in rows],
        "figure": fig,
        "details": {"summary": s},
    }


FILTER_KEYS = ("samples", "hidden", "steps", "seeds", "n_delta")


@register(
    "frequency_principle.filtering_low_first",
    "High-dimensional F-principle (filtering method, true Gaussian kernel): on digits, the "
    "low-frequency error e_low converges before the high-frequency error e_high at every kernel width "
    "between the median nearest-neighbour and median pairwise distances.",
    "Xu et al. (F-principle); brief B.3 (filtering method)",
    Registration(
        prediction="t_high / t_low > 1 at every kernel width (F-principle, filtering method)",
        statistic=FILTERING_STATISTIC,
        rule=FILTERING_RULE,
        tiers=_sizes("filtering", FILTER_KEYS),
        rationale={
            "0.1": "the relative error below which a part counts as converged (as in the 1-D protocol)"
        },
        experiment="frequency_principle.filtering",
    ),
)
def filtering_low_first(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _filtering_claim(*_cached("filtering", tier, str(out), root_seed))


@register(
    "frequency_principle.filtering_control",
    "Control for the filtering method: networks trained on labels permuted at random (no "
    "low-frequency structure in the target) show no low-first ordering: t_high / t_low below 2.",
    "issue 13 (controls)",
    Registration(
        prediction="no frequency ordering when the labels carry no structure over the inputs",
        statistic=FILTERING_STATISTIC + "; labels permuted at random before training",
        rule=FILTERING_CONTROL_RULE,
        tiers=_sizes("filtering", FILTER_KEYS),
        rationale={
            "2": "fixed before any control run: an ordering weaker than a factor 2 is not the effect the "
            "claim reports",
        },
        experiment="frequency_principle.filtering_permuted",
        guards="frequency_principle.filtering_low_first",
    ),
)
def filtering_control(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _filtering_claim(*_cached("filtering", tier, str(out), root_seed, permute_labels=True))


def _rank_claim(s: dict, fig: str, key: str) -> dict:
    parts = []
    for d, r in s["depths"].items():
        e = r[key]
        parts.append(f"L={d}: {e['value']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}]")
    return {
        "prediction": f"Spearman(l, LFR_l) at delta* = {s['delta_star']:.2f} x median pairwise distance",
        "measurement": "; ".join(parts) + f" ({s['seeds']} seeds)",
        "estimate": [r[key] for r in s["depths"].values()],
        "figure": fig,
        "details": {"summary": s},
    }


@register(
    "frequency_principle.deep_layers_lower_frequency",
    "Deep F-principle: at the end of training, deeper hidden layers' effective targets h_l(x) -> y "
    "carry more low-frequency power (Spearman correlation of LFR_l with l is positive), for each depth.",
    "Xu & Zhou, arXiv 2007.14313 (abstract); brief C.2, C.4",
    Registration(
        prediction="Spearman(l, LFR_l) > 0 at the end of training (Xu & Zhou)",
        statistic=DEEP_RANK_STATISTIC + ", at the end of training",
        rule=DEEP_RANK_RULE,
        tiers=_sizes("deep", DEEP_KEYS),
        rationale={"delta*": "the middle of the relative kernel-width grid (fixed before the runs)"},
        experiment="frequency_principle.deep",
    ),
)
def deep_layers_lower_frequency(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _rank_claim(*_cached("deep", tier, str(out), root_seed), "spearman_layer_vs_lfr_at_delta_star")


@register(
    "frequency_principle.deep_untrained_control",
    "Control for the deep F-principle: in the same networks at initialisation (untrained), the "
    "layers' LFR does not rise with depth: the seed-mean Spearman(l, LFR_l) lies below 0.5.",
    "issue 13 (controls)",
    Registration(
        prediction="no depth ordering of the LFR without training",
        statistic=DEEP_RANK_STATISTIC + ", at initialisation (step 0 of the claim's run)",
        rule=DEEP_CONTROL_RULE,
        tiers=_sizes("deep", DEEP_KEYS),
        rationale={
            "0.5": "fixed before any control run: half of a perfect layer ordering; a random network "
            "ordering its layers more strongly would make the trained ordering uninformative",
        },
        experiment="frequency_principle.deep",
        guards="frequency_principle.deep_layers_lower_frequency",
    ),
)
def deep_untrained_control(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _rank_claim(*_cached("deep", tier, str(out), root_seed), "spearman_at_start_at_delta_star")


@register(
    "frequency_principle.deep_random_label_control",
    "Control for the deep F-principle: networks trained on labels permuted at random show no depth "
    "ordering of the LFR (measured against their own training labels): Spearman below 0.5.",
    "issue 13 (controls)",
    Registration(
        prediction="no depth ordering of the LFR when the labels carry no structure over the inputs",
        statistic=DEEP_RANK_STATISTIC + ", at the end of training on permuted labels",
        rule=DEEP_CONTROL_RULE,
        tiers=_sizes("deep", DEEP_KEYS),
        rationale={"0.5": "as deep_untrained_control"},
        experiment="frequency_principle.deep_permuted",
        guards="frequency_principle.deep_layers_lower_frequency",
    ),
)
def deep_random_label_control(tier: str, out: Path, root_seed: int = 0) -> dict:
    s, fig = _cached("deep", tier, str(out), root_seed, permute_labels=True)
    return _rank_claim(s, fig, "spearman_layer_vs_lfr_at_delta_star")


@register(
    "frequency_principle.deep_shift_during_training",
    "Deep F-principle: during training the deepest hidden layer's effective target shifts to lower "
    "frequency (its LFR at the end exceeds its LFR at initialisation), for each depth.",
    "Xu & Zhou, arXiv 2007.14313 (abstract); brief C.2(b)",
    Registration(
        prediction="LFR_L(end) - LFR_L(start) > 0 for the deepest layer L (Xu & Zhou)",
        statistic="per depth: mean over seeds of LFR_L(end) - LFR_L(start) at delta*, 95% bootstrap",
        rule=DEEP_SHIFT_RULE,
        tiers=_sizes("deep", DEEP_KEYS),
        rationale={"delta*": "the middle of the relative kernel-width grid (fixed before the runs)"},
        experiment="frequency_principle.deep",
    ),
)
def deep_shift_during_training(tier: str, out: Path, root_seed: int = 0) -> dict:
    s, fig = _cached("deep", tier, str(out), root_seed)
    parts = []
    for d, r in s["depths"].items():
        e = r["deepest_layer_shift"]
        parts.append(f"L={d}: {e['value']:+.3f} [{e['lo']:+.3f}, {e['hi']:+.3f}]")
    return {
        "prediction": f"LFR_L(end) - LFR_L(start) > 0 at delta* = {s['delta_star']:.2f}",
        "measurement": "; ".join(parts) + f" ({s['seeds']} seeds)",
        "estimate": [r["deepest_layer_shift"] for r in s["depths"].values()],
        "figure": fig,
    }
