"""Experiment 3: the deep frequency principle (Xu & Zhou): the layers' low-frequency ratios."""

from __future__ import annotations

import json
import math
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
from .config import ConfigDeep, _attrs, _bar, mean_ci
from .filtering import _plain_log_ticks
from .rules import DEEP_RANK_RULE, DEEP_SHIFT_RULE


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
