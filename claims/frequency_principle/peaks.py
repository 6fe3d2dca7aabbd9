"""Experiment 1: the 1-D protocol (Xu et al.): steps to converge at each target peak."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import sims
import sims.frequency_principle

from .._figures import STYLE, save
from .config import THRESHOLD_1D, Config1D, _attrs, _bar, mean_ci
from .rules import PEAKS_RULE, _peaks_estimate


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
