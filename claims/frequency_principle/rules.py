"""The pass rules of the frequency-principle claims, fixed before the data (the analyses report
whether a run meets them; the registered claims apply them)."""

from __future__ import annotations

from ..registry import Above, AllOf, Below, Each, FractionAbove


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
