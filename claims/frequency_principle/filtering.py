"""Experiment 2: the filtering method on digits: low- and high-frequency parts' convergence times."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import xarray as xr

import sims
import sims.frequency_principle

from .._figures import STYLE, save
from .config import THRESHOLD_FILTER, ConfigFilter, _attrs, _bar
from .rules import FILTERING_RULE


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
