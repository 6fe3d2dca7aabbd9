"""Every pass rule returns HOLDS, DOES NOT HOLD and UNDECIDED on constructed data, and a wider
interval around the same point never passes more easily."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from claims import registry as reg
from claims.registry import (
    FAILS,
    HOLDS,
    UNDECIDED,
    Above,
    AllOf,
    Below,
    Each,
    FractionAbove,
    Interval,
    Within,
)


def test_within_linear_returns_each_outcome():
    rule = Within(-0.1, 0.1, "the difference", max_width=0.15)
    assert rule.decide((0.0, -0.05, 0.05)) == HOLDS
    assert rule.decide((0.3, 0.2, 0.4)) == FAILS  # entirely outside
    assert rule.decide((-0.3, -0.4, -0.2)) == FAILS
    assert rule.decide((0.08, 0.02, 0.14)) == UNDECIDED  # straddles the margin
    assert rule.decide((0.0, -0.09, 0.09)) == UNDECIDED  # inside but wider than 0.15
    assert rule.decide((0.0, None, 0.05)) == UNDECIDED  # censored low end


def test_within_ratio_returns_each_outcome():
    rule = Within.ratio(1.25, "n*/n*_ODE", max_width=1.4)
    assert rule.decide({"value": 1.0, "lo": 0.9, "hi": 1.1}) == HOLDS
    assert rule.decide({"value": 2.0, "lo": 1.6, "hi": 2.5}) == FAILS
    assert rule.decide({"value": 1.0, "lo": 0.85, "hi": 1.22}) == UNDECIDED  # hi/lo = 1.44 > 1.4
    assert rule.decide({"value": 1.2, "lo": 1.1, "hi": 1.3}) == UNDECIDED
    assert rule.decide({"value": 1.0, "lo": 0.9, "hi": None}) == UNDECIDED  # right-censored
    assert rule.decide({"value": 3.0, "lo": 2.0, "hi": None}) == FAILS  # censored, but already outside


def test_one_sided_rules_return_each_outcome():
    above = Above(1.0, "the speed-up")
    assert (above.decide((3, 2, 4)), above.decide((0.5, 0.2, 0.9)), above.decide((1.5, 0.8, 2))) == (
        HOLDS,
        FAILS,
        UNDECIDED,
    )
    assert above.decide((1.5, None, 2.0)) == UNDECIDED  # unknown low end: cannot hold
    assert above.decide((5, 2, None)) == HOLDS  # unknown high end does not matter here
    below = Below(0.0, "the change")
    assert (below.decide((-1, -2, -0.5)), below.decide((1, 0.5, 2)), below.decide((0, -1, 1))) == (
        HOLDS,
        FAILS,
        UNDECIDED,
    )
    assert below.decide((-1, -2, None)) == UNDECIDED


def test_fraction_rule_returns_each_outcome_and_needs_enough_draws():
    rule = FractionAbove(0.5, "seeds escaped")
    assert rule.decide((95, 100)) == HOLDS
    assert rule.decide((10, 100)) == FAILS
    assert rule.decide((55, 100)) == UNDECIDED
    # the same fraction from fewer draws is a wider interval: it must not pass more easily
    assert rule.decide((4, 4)) == UNDECIDED and rule.decide((40, 40)) == HOLDS


def test_combined_rules_fail_when_a_part_fails_and_stay_undecided_when_one_is_open():
    each = Each(Above(0.0, "rho"), "depth")
    assert each.decide([(1, 0.5, 1.5), (1, 0.2, 2)]) == HOLDS
    assert each.decide([(1, 0.5, 1.5), (-1, -2, -0.5)]) == FAILS
    assert each.decide([(1, 0.5, 1.5), (0, -1, 1)]) == UNDECIDED
    assert each.decide([]) == UNDECIDED
    both = AllOf((("a", Above(0.0)), ("b", Below(1.0))))
    assert both.decide({"a": (1, 0.5, 2), "b": (0, -1, 0.5)}) == HOLDS
    assert both.decide({"a": (1, 0.5, 2), "b": (2, 1.5, 3)}) == FAILS
    assert both.decide({"a": (0, -1, 1), "b": (0, -1, 0.5)}) == UNDECIDED
    with pytest.raises(ValueError, match="no estimate for part"):
        both.decide({"a": (1, 0.5, 2)})
    assert "(1) a:" in both.text and "(2) b:" in both.text


RULES = [
    Within(-0.1, 0.1, "d", max_width=0.15),
    Within(-0.1, 0.1, "d"),
    Within.ratio(1.25, "r", max_width=1.4),
    Within.ratio(2.0, "r"),
    Above(1.0),
    Below(0.0),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.text)
def test_a_wider_interval_never_passes_more_easily(rule):
    order = {HOLDS: 2, UNDECIDED: 1, FAILS: 0}
    rng = np.random.default_rng(0)
    for _ in range(2000):
        c = float(rng.uniform(-0.5, 2.5))
        a, b = sorted(rng.uniform(0, 1.5, 2))
        lo_w, hi_w = rng.uniform(0, 1, 2)
        narrow = (c, c - a * lo_w, c + a * hi_w)
        wide = (c, c - b * lo_w, c + b * hi_w)
        n, w = rule.decide(narrow), rule.decide(wide)
        # widening never turns UNDECIDED / DOES NOT HOLD into HOLDS
        assert not (w == HOLDS and n != HOLDS), (rule.text, narrow, wide)
        # and dropping an end (censoring) never helps either
        for cens in ((c, None, wide[2]), (c, wide[1], None)):
            assert order[rule.decide(cens)] <= max(order[w], order[UNDECIDED]), (rule.text, cens)
            assert not (rule.decide(cens) == HOLDS and w != HOLDS)


def test_fraction_rule_is_monotone_in_the_number_of_draws():
    rule = FractionAbove(0.6)
    for frac, (n_small, n_big) in itertools.product((0.5, 0.75, 0.9, 1.0), ((4, 40), (10, 100), (20, 200))):
        small, big = rule.decide((round(frac * n_small), n_small)), rule.decide((round(frac * n_big), n_big))
        assert not (small == HOLDS and big != HOLDS)


def test_interval_reads_estimates_and_treats_infinite_ends_as_unknown():
    assert Interval.of({"value": 1.0, "lo": None, "hi": 2.0}) == Interval(1.0, None, 2.0)
    assert Interval.of((1.0, -math.inf, math.nan)) == Interval(1.0, None, None)
    with pytest.raises(ValueError, match="value, lo and hi"):
        Interval.of(3.0)
    assert str(Interval(1.0, None, 2.0)) == "1 [-inf, 2]"


def test_proportion_interval_is_exact():
    est = reg.proportion_interval(5, 10)
    assert est.value == 0.5 and 0.18 < est.lo < 0.19 and 0.81 < est.hi < 0.82
    assert reg.proportion_interval(0, 7).lo == 0.0 and reg.proportion_interval(7, 7).hi == 1.0
    with pytest.raises(ValueError, match="proportion 8 of 7"):
        reg.proportion_interval(8, 7)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Within(1.0, 1.0), "is empty"),
        (lambda: Within.ratio(0.8, "r"), "must exceed 1"),
        (lambda: Within(0.0, 2.0, scale="ratio"), "must be positive"),
        (lambda: Within(0.0, 1.0, scale="log10"), "scale 'log10'"),
        (lambda: FractionAbove(1.0), "fraction margin 1.0"),
        (lambda: AllOf((("a", Above(0)), ("a", Below(1)))), "distinct names"),
    ],
)
def test_bad_rules_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _registration(rule):
    return reg.Registration("p", "s", rule, {t: "x" for t in reg.TIERS}, {"1": "one"})


def test_the_registered_rule_decides_and_its_text_is_reported(tmp_path):
    claim = reg.Claim(
        "t.c",
        "statement",
        "source",
        lambda tier, out, root_seed=0: {
            "prediction": "1",
            "measurement": "m",
            "estimate": (root_seed, root_seed - 0.5, root_seed + 0.5),
        },
        _registration(Above(1.0, "x")),
    )
    assert claim.run("smoke", tmp_path, root_seed=3).verdict == HOLDS
    res = claim.run("smoke", tmp_path, root_seed=0)
    assert res.verdict == FAILS and res.rule == Above(1.0, "x").text and res.details["outcome"] == FAILS
    cheat = reg.Claim("t.d", "s", "s", lambda tier, out: {"passed": True}, _registration(Above(1.0)))
    bad = cheat.run("smoke", tmp_path)
    assert bad.verdict == UNDECIDED and "must return an estimate" in bad.measurement
    with pytest.raises(ValueError, match="takes no root seed"):
        cheat.run("smoke", tmp_path, root_seed=2)


def test_a_registration_needs_every_tier_and_a_rule():
    with pytest.raises(ValueError, match="give sizes for"):
        reg.Registration("p", "s", Above(0), {"smoke": "x"})
    with pytest.raises(ValueError, match="is not a Rule"):
        reg.Registration("p", "s", "lo > 0", {t: "x" for t in reg.TIERS})


def test_run_claims_threads_the_root_seed(tmp_path, monkeypatch):
    seen = {}

    def seeded(tier, out, root_seed=0):
        seen["seeded"] = root_seed
        return {"prediction": "p", "measurement": "m", "estimate": (2.0, 1.5, 2.5)}

    def fixed(tier, out):
        seen["fixed"] = True
        return {"prediction": "p", "measurement": "m", "comparison": "c", "passed": None}

    monkeypatch.setattr(reg, "REGISTRY", {})
    reg.register("t.seeded", "s", "s", _registration(Above(1.0)))(seeded)
    reg.register("t.fixed", "s", "s")(fixed)
    res = reg.run_claims("smoke", tmp_path, root_seed=7)
    assert seen == {"seeded": 7, "fixed": True}
    assert [r.root_seed for r in res] == [7, 0] and res[0].verdict == HOLDS and res[1].verdict == UNDECIDED
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("t.fixed", "s", "s")(fixed)
