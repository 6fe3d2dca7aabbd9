"""Amplitude before phase on real images: networks trained on natural textures (or CIFAR-100, or an
image folder) are evaluated during training on the original test images, on phase-randomised
copies (amplitude information only) and on amplitude-equalised copies (phase information only).

The pipeline (`TextureConfig` -> `load_data` -> `run_experiment` -> `write_results`, `figure`) is
shared by `scripts/texture_experiment.py` and the registered `textures.*` claims.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import sims.loaders
import sims.networks
import sims.textures

from ._figures import STYLE, save
from .registry import Above, Below, Registration, register, tier_sizes


SET_LABELS = {
    "original": "original",
    "phase_randomised": "phase-randomised (amplitude only)",
    "amplitude_equalised": "amplitude-equalised (phase only)",
}
SET_COLORS = {"original": "k", "phase_randomised": "tab:blue", "amplitude_equalised": "tab:red"}
DEFAULT_LR = {"two-layer": 0.01, "cnn": 0.05}
TRAIN_SETS = ("original", "amplitude_equalised")


@dataclasses.dataclass(frozen=True)
class TextureConfig:
    """One run of the protocol. `dataset` is `textures`, `cifar100:PATH` or `imagefolder:PATH`."""

    model: str = "two-layer"
    dataset: str = "textures"
    seeds: int = 8
    steps: int = 3000
    batch: int = 32
    lr: float | None = None  # None: DEFAULT_LR[model]
    momentum: float = 0.0
    hidden: int = 256
    width: int = 16
    n_eval: int = 30
    patch: int = 32
    train_per_class: int = 2000
    test_fraction: float = 0.5
    image_size: int = 32
    limit_per_class: int | None = None
    cifar_labels: str = "fine"
    center: str = "image"
    root_seed: int = 0
    train_on: str = "original"  # or "amplitude_equalised": the control trains on phase-only images

    def validated(self) -> TextureConfig:
        if self.model not in sims.networks.MODEL_NAMES:
            raise ValueError(
                f"unknown model {self.model!r}: use one of {', '.join(sims.networks.MODEL_NAMES)}"
            )
        kind, _, path = self.dataset.partition(":")
        if kind not in ("textures", "cifar100", "imagefolder") or (kind == "textures") == bool(path):
            raise ValueError(
                f"unknown dataset {self.dataset!r}: use textures, cifar100:PATH or imagefolder:PATH"
            )
        if self.center not in sims.textures.CENTER_NAMES:
            raise ValueError(
                f"unknown center {self.center!r}: use one of {', '.join(sims.textures.CENTER_NAMES)}"
            )
        if self.seeds < 2:
            raise ValueError(f"seeds={self.seeds}: need at least 2 seeds for intervals")
        if self.train_on not in TRAIN_SETS:
            raise ValueError(f"unknown train_on {self.train_on!r}: use one of {', '.join(TRAIN_SETS)}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr}: the learning rate must be positive and finite")
        self.train_config()  # validates the SGD settings
        return self

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.model] if self.lr is None else float(self.lr)

    def train_config(self) -> sims.networks.TrainConfig:
        return sims.networks.TrainConfig(
            steps=self.steps,
            batch=self.batch,
            lr=self.learning_rate,
            momentum=self.momentum,
            seeds=self.seeds,
            n_eval=self.n_eval,
            root_seed=self.root_seed,
        )

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["lr"] = self.learning_rate
        return d


def load_data(cfg: TextureConfig) -> sims.textures.ImageData:
    """The standardised train/test images named by `cfg.dataset`."""
    kind, _, path = cfg.dataset.partition(":")
    if kind == "textures":
        data = sims.textures.texture_data(
            cfg.patch, cfg.train_per_class, cfg.test_fraction, seed=cfg.root_seed
        )
    elif kind == "cifar100":
        data = sims.loaders.load_cifar100(
            Path(path), cfg.cifar_labels, cfg.limit_per_class, cfg.limit_per_class
        )
    else:
        data = sims.loaders.load_image_folder(Path(path), cfg.image_size, limit_per_class=cfg.limit_per_class)
    return data.standardise(cfg.center)


def run_experiment(cfg: TextureConfig, progress: bool = True) -> tuple[dict, dict]:
    """Train and evaluate; returns (run, summary) (see `sims.networks.train`, `sims.textures.summarise`)."""
    cfg = cfg.validated()
    data = load_data(cfg)
    sets = sims.textures.make_test_sets(data, seed=cfg.root_seed)
    if cfg.train_on == "amplitude_equalised":  # every training image gets the common spectrum
        amp, dc = sims.textures.mean_amplitude(data.train_x)
        data = dataclasses.replace(data, train_x=sims.textures.amplitude_equalise(data.train_x, amp, dc))
    model = sims.networks.make_model(cfg.model, data.n_classes, cfg.hidden, cfg.width)
    run = sims.networks.train(model, data.train_x, data.train_y, sets, cfg.train_config(), progress)
    chance = sims.textures.chance_level(data.test_y)
    summary = sims.textures.summarise(run, chance, {k: len(v[1]) for k, v in sets.items()})
    summary.update(
        dataset=data.name,
        classes=list(data.classes),
        image_shape=list(data.shape),
        n_train=int(len(data.train_y)),
        n_test=int(len(data.test_y)),
        wall_seconds=float(run["wall_seconds"]),
        compile_seconds=float(run["compile_seconds"]),
        config=cfg.as_dict(),
    )
    lc = summary["leave_chance"]
    summary["phase_delay_censored"] = censored_log_delay(
        lc["phase_randomised"]["per_seed"], lc["amplitude_equalised"]["per_seed"], cfg.steps, cfg.root_seed
    )
    summary["verdict"] = verdict(summary)
    return run, summary


def censored_log_delay(early, late, budget: int, seed: int = 0, n_boot: int = 2000) -> dict:
    """Median over seeds of log10(late / early) (crossing steps, None = never within `budget`) with
    a 95% percentile bootstrap, under the one censoring policy: a step that never came is at
    least the budget, so a seed with `late` censored gives a lower bound log10(budget / early),
    one with `early` censored an upper bound log10(late / budget), one with both censored nothing.
    The interval's lower end comes from the seeds' lower bounds and its upper end from their upper
    bounds; an end that leans on an unknown bound (more than 2.5% of resamples) is None."""
    e = np.array([np.inf if v is None else max(float(v), 1.0) for v in early])
    l_ = np.array([np.inf if v is None else max(float(v), 1.0) for v in late])
    b = float(max(budget, 1))
    ec, lc = np.minimum(e, b), np.minimum(l_, b)
    point = np.log10(lc) - np.log10(ec)
    lower = np.where(np.isfinite(e), np.log10(lc) - np.log10(ec), -np.inf)
    upper = np.where(np.isfinite(l_), np.log10(lc) - np.log10(ec), np.inf)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, e.size, size=(n_boot, e.size))
    los, his = np.median(lower[idx], axis=1), np.median(upper[idx], axis=1)
    lo = float(np.quantile(los, 0.025, method="lower")) if np.mean(~np.isfinite(los)) <= 0.025 else None
    hi = float(np.quantile(his, 0.975, method="lower")) if np.mean(~np.isfinite(his)) <= 0.025 else None
    return {"value": float(np.median(point)), "lo": lo, "hi": hi, "n": int(e.size)}


DELAY_STATISTIC = (
    "median over seeds of log10(step phase-only leaves chance / step amplitude-only leaves chance), "
    "95% bootstrap; a step that never came is censored at the budget and the interval end that "
    "depends on it is a bound or unknown"
)
TEXTURE_RULE = Above(0.0, "the median log10 delay of phase-only after amplitude-only")
TEXTURE_CONTROL_RULE = Below(0.0, "the median log10 delay of phase-only after amplitude-only")


def verdict(summary: dict, rule=None) -> dict:
    """Amplitude-only leaves chance earlier than phase-only: `TEXTURE_RULE` (or `rule`) on the
    censoring-aware median delay `phase_delay_censored`."""
    rule = TEXTURE_RULE if rule is None else rule
    d = summary["phase_delay_censored"]
    f = lambda v: "?" if v is None else f"{v:+.2f}"
    outcome = rule.decide(d)
    return {
        "holds": rule.passed(d),
        "outcome": outcome,
        "reason": f"median log10(step phase-only / step amplitude-only) = {f(d['value'])} "
        f"[{f(d['lo'])}, {f(d['hi'])}] over {d['n']} seeds: {outcome} ({rule.text})",
    }


def _fmt(v) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:+.2f}"


def _step_text(est: dict, frac: float) -> str:
    f = lambda v: ">budget" if v is None else f"{v:.0f}"
    return f"{f(est['value'])} [{f(est['lo'])}, {f(est['hi'])}] ({frac:.0%} of seeds)"


def describe(summary: dict) -> list[str]:
    """Lines reporting the measured steps with intervals (for the script and the claims)."""
    lines = [
        f"{summary['dataset']}, {summary['config']['model']}, {summary['seeds']} seeds, chance "
        f"{summary['chance']:.3f}; left chance = accuracy > chance + {summary['z']:g} binomial s.e. "
        f"at {summary['sustain']} consecutive evaluations (median step over seeds, 95% bootstrap interval):"
    ]
    for k, v in summary["leave_chance"].items():
        lines.append(
            f"  {SET_LABELS[k]:36s} leaves chance at step {_step_text(v['median_step'], v['fraction'])}"
        )
    sep = summary.get("separation")
    if sep:
        f = lambda v: ">budget" if v is None else str(v)
        lines.append(
            f"  original pulls above phase-randomised at step {f(sep['step'])} "
            f"[{f(sep['lo'])}, {f(sep['hi'])}] (seed-mean gap growth since step 0 > {sep['z']:g} s.e.; "
            f"{sep['resamples_separated']:.0%} of resamples separate)"
        )
    fa = summary["final_accuracy"]
    lines.append(
        "  final accuracy: "
        + ", ".join(f"{k} {v['value']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]" for k, v in fa.items())
    )
    lines.append(f"  verdict: {summary['verdict']['reason']}")
    return lines


def write_results(out: Path, run: dict, summary: dict) -> dict[str, Path]:
    """results.nc (accuracy and loss per seed and step), summary.json, textures.png/.pdf; atomic."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = summary["config"]
    ds = xr.Dataset(
        {
            "accuracy": (("seed", "step", "test_set"), np.asarray(run["accuracy"], float)),
            "train_loss": (("seed", "step"), np.asarray(run["train_loss"], float)),
        },
        coords={
            "seed": np.arange(run["accuracy"].shape[0]),
            "step": np.asarray(run["steps"], np.int64),
            "test_set": list(run["set_names"]),
        },
    )
    ds["train_loss"].attrs["meaning"] = "mean minibatch loss since the previous evaluation step"
    ds.attrs.update(sims.provenance())
    ds.attrs.update(
        config=json.dumps(config, sort_keys=True),
        config_hash=sims.config_hash(config),
        prng_impl="threefry2x32",
        chance=summary["chance"],
        wall_seconds=summary["wall_seconds"],
    )
    paths = {"results": out / "results.nc", "summary": out / "summary.json"}
    with sims.atomic_target(paths["results"]) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    full = dict(summary, provenance=sims.provenance())
    sims.atomic_write_bytes(paths["summary"], (json.dumps(full, indent=2) + "\n").encode())
    paths["figure"] = figure(run, summary, out / "textures")[0]
    return paths


def figure(run: dict, summary: dict, stem: Path) -> list[Path]:
    """Left: accuracy against SGD step (mean over seeds, 95% band) on the three test sets, with the
    leave-chance steps. Right: per-seed leave-chance steps and the separation step.

    Long because it lays out the panels of one figure."""
    steps = np.asarray(run["steps"], float)
    acc = np.asarray(run["accuracy"])
    names = list(run["set_names"])
    x = np.maximum(steps, 0.5)  # step 0 drawn at 0.5 on the log axis
    chance = summary["chance"]
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(
            1, 2, figsize=(7.4, 3.0), constrained_layout=True, gridspec_kw={"width_ratios": [1.5, 1]}
        )
        for j, k in enumerate(names):
            m, lo, hi = sims.textures.mean_curve_ci(acc[:, :, j])
            ax.plot(x, m, color=SET_COLORS[k], lw=1.4, label=SET_LABELS[k])
            ax.fill_between(x, lo, hi, color=SET_COLORS[k], alpha=0.2, lw=0)
            st = summary["leave_chance"][k]["median_step"]
            if st["value"] is not None:
                ax.axvline(st["value"], ymax=0.3, color=SET_COLORS[k], lw=0.9, ls="--")
        ax.axhline(chance, color="0.5", lw=0.8, ls=":", label="chance")
        cfg = summary["config"]
        ax.set(
            xscale="log",
            xlabel="SGD step",
            ylabel="test accuracy",
            title=f"{summary['dataset']} {tuple(summary['image_shape'])}, {cfg['model']}, lr {cfg['lr']:g}, "
            f"batch {cfg['batch']}\nmean over {summary['seeds']} seeds, 95% bootstrap band; "
            "dashed: leaves chance",
        )
        ax.legend(loc="upper left", frameon=False)

        rng = np.random.default_rng(0)
        budget = steps[-1] * 1.6
        for row, k in enumerate(names):
            v = summary["leave_chance"][k]
            ps = np.array([budget if s is None else max(s, 0.5) for s in v["per_seed"]], float)
            y = row + rng.uniform(-0.15, 0.15, ps.size)
            cens = np.array([s is None for s in v["per_seed"]])
            bx.scatter(ps[~cens], y[~cens], s=9, color=SET_COLORS[k], alpha=0.6, lw=0)
            bx.scatter(ps[cens], y[cens], s=12, marker=">", color=SET_COLORS[k], alpha=0.6, lw=0)
            est = v["median_step"]
            if est["value"] is not None:
                lo = est["lo"] if est["lo"] is not None else est["value"]
                hi = est["hi"] if est["hi"] is not None else budget
                bx.errorbar(
                    est["value"],
                    row + 0.32,
                    xerr=[[est["value"] - lo], [hi - est["value"]]],
                    fmt="o",
                    color=SET_COLORS[k],
                    ms=4,
                    capsize=2,
                )
        ticks = [SET_LABELS[k].split(" (")[0] for k in names]
        sep = summary.get("separation")
        if sep:
            row = len(names)
            if sep["step"] is not None:
                hi = sep["hi"] if sep["hi"] is not None else budget
                bx.errorbar(
                    sep["step"],
                    row,
                    xerr=[[sep["step"] - sep["lo"]], [hi - sep["step"]]],
                    fmt="s",
                    color="tab:purple",
                    ms=4,
                    capsize=2,
                )
            else:
                bx.scatter([budget], [row], marker=">", s=18, color="tab:purple")
            ticks.append("original\nseparates")
        bx.axvline(budget, color="0.6", lw=0.6, ls=":")
        bx.set_yticks(range(len(ticks)), ticks)
        bx.set(
            xscale="log",
            xlabel="step (per seed; > at right: never)",
            title="leaves chance (dots: seeds; point: median,\n95% CI); separation of original curve",
            xlim=(0.4, budget * 1.5),
            ylim=(-0.6, len(ticks) - 0.4),
        )
        return save(fig, stem)


# --- registered claims ----------------------------------------------------------------------------

TIER_CONFIGS = {
    "smoke": TextureConfig(
        seeds=6, steps=600, patch=16, hidden=128, train_per_class=1000, n_eval=20, lr=0.02
    ),
    "default": TextureConfig(seeds=8, steps=3000, patch=32),
    "full": TextureConfig(seeds=16, steps=20000, patch=32, n_eval=50, lr=0.005),
}
TEXTURE_TIERS = tier_sizes(TIER_CONFIGS, ("seeds", "steps", "patch", "hidden", "train_per_class", "n_eval"))


def _texture_claim(tier: str, out: Path, root_seed: int, train_on: str) -> dict:
    cfg = dataclasses.replace(TIER_CONFIGS[tier], root_seed=root_seed, train_on=train_on)
    run, summary = run_experiment(cfg, progress=False)
    paths = write_results(Path(out) / f"textures-{tier}-{train_on}", run, summary)
    lc = summary["leave_chance"]
    d = summary["phase_delay_censored"]
    f = lambda v: ">budget" if v is None else f"{v:.0f}"
    g = lambda v: "?" if v is None else f"{v:+.2f}"
    step = lambda k: "{} [{}, {}]".format(*(f(lc[k]["median_step"][q]) for q in ("value", "lo", "hi")))
    return {
        "prediction": "step(phase-only leaves chance) > step(amplitude-only leaves chance)",
        "measurement": f"trained on {train_on} images; median steps: amplitude-only "
        f"{step('phase_randomised')} ({lc['phase_randomised']['fraction']:.0%} left chance), phase-only "
        f"{step('amplitude_equalised')} ({lc['amplitude_equalised']['fraction']:.0%}), original "
        f"{step('original')}; paired log10 delay {g(d['value'])} [{g(d['lo'])}, {g(d['hi'])}] "
        f"({summary['seeds']} seeds, patch {cfg.patch}, {cfg.steps} steps)",
        "estimate": d,
        "figure": str(paths["figure"]),
        "details": {"summary": summary},
    }


@register(
    "textures.amplitude_before_phase",
    "On natural textures, a two-layer network's accuracy on amplitude-only (phase-randomised) test "
    "patches rises above chance earlier in SGD than its accuracy on phase-only (amplitude-equalised) "
    "patches.",
    "seed paper abstract (textures); theory brief 1.4, 2.5; issue 5",
    Registration(
        prediction="amplitude information is learned before phase information (seed paper, textures)",
        statistic=DELAY_STATISTIC,
        rule=TEXTURE_RULE,
        tiers=TEXTURE_TIERS,
        rationale={
            "left chance": "accuracy above chance + 3 binomial s.e. at 3 consecutive evaluations (unchanged)",
        },
        experiment="textures.original",
    ),
)
def amplitude_before_phase(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _texture_claim(tier, out, root_seed, "original")


@register(
    "textures.phase_trained_control",
    "Control for textures: a network trained on amplitude-equalised images (every class has the same "
    "spectrum, so only phase is informative) does not leave chance on amplitude-only patches before "
    "phase-only ones: the delay's interval lies below 0.",
    "issue 13 (controls)",
    Registration(
        prediction="no amplitude-before-phase ordering when the training images carry no amplitude "
        "information",
        statistic=DELAY_STATISTIC + "; training images amplitude-equalised",
        rule=TEXTURE_CONTROL_RULE,
        tiers=TEXTURE_TIERS,
        rationale={"0": "the claim's margin, from the other side: the ordering is absent or reversed"},
        experiment="textures.amplitude_equalised",
        guards="textures.amplitude_before_phase",
    ),
)
def phase_trained_control(tier: str, out: Path, root_seed: int = 0) -> dict:
    return _texture_claim(tier, out, root_seed, "amplitude_equalised")
