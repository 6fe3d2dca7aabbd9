"""The registered frequency-principle claims and their controls."""

from __future__ import annotations

import functools as ft
from pathlib import Path

from ..registry import Registration, register, tier_sizes
from .config import TIER_CONFIGS, config_for
from .experiments import run_experiment
from .rules import (
    DEEP_CONTROL_RULE,
    DEEP_RANK_RULE,
    DEEP_SHIFT_RULE,
    FILTERING_CONTROL_RULE,
    FILTERING_RULE,
    FILTERING_STATISTIC,
    PEAKS_RULE,
    _peaks_estimate,
)


@ft.cache
def _cached(experiment: str, tier: str, out: str, root_seed: int = 0, **overrides) -> tuple[dict, str]:
    cfg = config_for(experiment, tier, root_seed=root_seed, **overrides)
    tag = "".join(f"-{k}" for k, v in sorted(overrides.items()) if v)
    summary, fig = run_experiment(experiment, cfg, Path(out) / f"frequency-principle{tag}")
    return summary, str(fig)




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
