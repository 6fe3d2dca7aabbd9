"""A small registry of claims: a theory prediction, a measurement, a pass rule fixed before the
data, and optionally a figure, runnable at tiers (`smoke` for tests, `default`, `full`).

**Pre-registration.** A claim registered with a `Registration` states, next to its definition,
its prediction, the statistic it measures, the `Rule` that decides it (margins, maximum interval
width), its tier sizes and a one-line rationale for each number that does not come from theory.
Its check returns the measured `estimate` and the registered rule turns it into one of three
outcomes:

- **HOLDS**: the interval lies inside the margin (and is no wider than allowed);
- **DOES NOT HOLD**: the interval lies outside the margin;
- **UNDECIDED**: anything else: too wide, straddling the margin, or censored on the side that
  matters. A wider interval around the same point never turns UNDECIDED or DOES NOT HOLD into
  HOLDS (tested in tests/test_registry_rules.py).

Interval ends given as `None` (or NaN) are unknown: `lo=None` means unbounded below, `hi=None`
unbounded above (a right-censored escape time has `hi=None`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import scipy.stats


TIERS = ("smoke", "default", "full")
HOLDS, FAILS, UNDECIDED = "HOLDS", "DOES NOT HOLD", "UNDECIDED"
OUTCOMES = (HOLDS, FAILS, UNDECIDED)
PASSED = {HOLDS: True, FAILS: False, UNDECIDED: None}
ALPHA_END = 0.025
"""Chance that one end of a 95% two-sided interval falls on the wrong side of the true value: the
level of a one-sided test made with it (and of an equivalence test made with both ends)."""


# ---- intervals --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Interval:
    """A point estimate with its interval; `None` for an unknown (censored or missing) value/end."""

    value: float | None
    lo: float | None
    hi: float | None

    @classmethod
    def of(cls, est) -> Interval:
        """From an `Interval`, a `sims.Estimate`, a dict with value/lo/hi, or a (value, lo, hi) tuple."""
        if isinstance(est, Interval):
            return est
        if isinstance(est, Mapping):
            v, lo, hi = est.get("value"), est.get("lo"), est.get("hi")
        elif isinstance(est, Sequence) and len(est) == 3:
            v, lo, hi = est
        elif all(hasattr(est, k) for k in ("value", "lo", "hi")):
            v, lo, hi = est.value, est.lo, est.hi
        else:
            raise ValueError(f"estimate {est!r}: give value, lo and hi")
        # an infinite or NaN end (a censored one) is unknown: it decides nothing on its side
        clean = lambda x: None if x is None or not math.isfinite(float(x)) else float(x)
        return cls(clean(v), clean(lo), clean(hi))

    @property
    def low(self) -> float:
        return -math.inf if self.lo is None else self.lo

    @property
    def high(self) -> float:
        return math.inf if self.hi is None else self.hi

    def __str__(self) -> str:
        f = lambda x, d: d if x is None else f"{x:.3g}"
        return f"{f(self.value, '-')} [{f(self.lo, '-inf')}, {f(self.hi, 'inf')}]"


def proportion_interval(k: int, n: int, confidence: float = 0.95) -> Interval:
    """k of n with its exact (Clopper-Pearson) interval."""
    if not (isinstance(k, int) and isinstance(n, int)) or n < 1 or not 0 <= k <= n:
        raise ValueError(f"proportion {k!r} of {n!r}: need integers 0 <= k <= n, n >= 1")
    a = (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(scipy.stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(scipy.stats.beta.ppf(1 - a, k + 1, n - k))
    return Interval(k / n, lo, hi)


# ---- rules ------------------------------------------------------------------------------------


class Rule:
    """A pass rule: `decide(estimate)` returns HOLDS, DOES NOT HOLD or UNDECIDED; `text` states it;
    `alpha` bounds the chance that it returns HOLDS when the claim is false (at the margin)."""

    def decide(self, estimate) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def text(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def alpha(self) -> float:
        return ALPHA_END

    def passed(self, estimate) -> bool | None:
        return PASSED[self.decide(estimate)]


def _num(x: float) -> str:
    return f"{x:.4g}"


@dataclasses.dataclass(frozen=True)
class Within(Rule):
    """Equivalence: HOLDS when the interval lies inside [low, high] and is no wider than
    `max_width` (hi - lo, or hi / lo with `scale="ratio"`); DOES NOT HOLD when it lies entirely
    outside; UNDECIDED otherwise."""

    low: float
    high: float
    what: str = "the estimate"
    max_width: float | None = None
    scale: str = "linear"

    def __post_init__(self):
        if self.scale not in ("linear", "ratio"):
            raise ValueError(f"scale {self.scale!r}: use linear or ratio")
        if not self.low < self.high:
            raise ValueError(f"band [{self.low}, {self.high}] is empty")
        if self.scale == "ratio" and self.low <= 0:
            raise ValueError(f"ratio band [{self.low}, {self.high}] must be positive")
        if self.max_width is not None and not self.max_width > (1 if self.scale == "ratio" else 0):
            raise ValueError(f"max_width {self.max_width!r} allows no interval")

    @classmethod
    def ratio(cls, r: float, what: str, max_width: float | None = None) -> Within:
        """A measured/predicted ratio inside [1/r, r]."""
        if not r > 1:
            raise ValueError(f"ratio margin {r!r} must exceed 1")
        return cls(1 / r, r, what, max_width, "ratio")

    def width(self, est: Interval) -> float:
        if self.scale == "linear":
            return est.high - est.low
        return math.inf if est.low <= 0 else est.high / est.low

    def decide(self, estimate) -> str:
        est = Interval.of(estimate)
        if est.high < self.low or est.low > self.high:
            return FAILS
        if self.max_width is not None and self.width(est) > self.max_width:
            return UNDECIDED
        if self.low <= est.low and est.high <= self.high:
            return HOLDS
        return UNDECIDED

    @property
    def text(self) -> str:
        band = f"[{_num(self.low)}, {_num(self.high)}]"
        w = ""
        if self.max_width is not None:
            w = f", no wider than {'hi/lo' if self.scale == 'ratio' else 'hi-lo'} = {_num(self.max_width)}"
        return f"95% interval of {self.what} inside {band}{w}"


@dataclasses.dataclass(frozen=True)
class Above(Rule):
    """One-sided: HOLDS when the interval lies entirely above `margin`, DOES NOT HOLD when it lies
    at or below it, UNDECIDED otherwise (an unknown lower end is UNDECIDED at best)."""

    margin: float
    what: str = "the estimate"

    def decide(self, estimate) -> str:
        est = Interval.of(estimate)
        if est.low > self.margin:
            return HOLDS
        if est.high <= self.margin:
            return FAILS
        return UNDECIDED

    @property
    def text(self) -> str:
        return f"95% interval of {self.what} entirely above {_num(self.margin)}"


@dataclasses.dataclass(frozen=True)
class Below(Rule):
    """One-sided: HOLDS when the interval lies entirely below `margin`, DOES NOT HOLD when it lies
    at or above it, UNDECIDED otherwise (an unknown upper end is UNDECIDED at best)."""

    margin: float
    what: str = "the estimate"

    def decide(self, estimate) -> str:
        est = Interval.of(estimate)
        if est.high < self.margin:
            return HOLDS
        if est.low >= self.margin:
            return FAILS
        return UNDECIDED

    @property
    def text(self) -> str:
        return f"95% interval of {self.what} entirely below {_num(self.margin)}"


@dataclasses.dataclass(frozen=True)
class FractionAbove(Rule):
    """A count: HOLDS when the exact 95% interval of k/n lies above `margin` (so a smaller n, with
    its wider interval, never passes more easily), DOES NOT HOLD when it lies at or below."""

    margin: float
    what: str = "the fraction"

    def __post_init__(self):
        if not 0 <= self.margin < 1:
            raise ValueError(f"fraction margin {self.margin!r} must be in [0, 1)")

    def decide(self, estimate) -> str:
        k, n = estimate
        return Above(self.margin).decide(proportion_interval(int(k), int(n)))

    @property
    def text(self) -> str:
        return f"exact 95% interval of {self.what} (k of n) entirely above {_num(self.margin)}"


def _combine(outcomes: Sequence[str], need: int) -> str:
    held = sum(o == HOLDS for o in outcomes)
    open_ = sum(o == UNDECIDED for o in outcomes)
    if held >= need:
        return HOLDS
    if held + open_ < need:
        return FAILS
    return UNDECIDED


@dataclasses.dataclass(frozen=True)
class Each(Rule):
    """One rule applied to every item of a list (each alpha, depth, kernel width...): HOLDS when
    every item holds, DOES NOT HOLD when one does not, UNDECIDED otherwise; an empty list is
    UNDECIDED unless `allow_empty` (a condition with no items, such as "no order below k = 1").
    As an intersection-union test it keeps the level of its rule."""

    rule: Rule
    over: str
    allow_empty: bool = False

    def decide(self, estimate) -> str:
        items = list(estimate)
        if not items:
            return HOLDS if self.allow_empty else UNDECIDED
        return _combine([self.rule.decide(e) for e in items], len(items))

    @property
    def alpha(self) -> float:
        return self.rule.alpha

    @property
    def text(self) -> str:
        return f"for every {self.over}{' (if any)' if self.allow_empty else ''}: {self.rule.text}"


@dataclasses.dataclass(frozen=True)
class AllOf(Rule):
    """Named parts that must all hold; the estimate is a mapping from part name to its estimate.
    DOES NOT HOLD as soon as one part does not hold."""

    parts: tuple[tuple[str, Rule], ...]

    def __post_init__(self):
        names = [n for n, _ in self.parts]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"parts {names!r}: need distinct names")

    def outcomes(self, estimate: Mapping) -> dict[str, str]:
        missing = [n for n, _ in self.parts if n not in estimate]
        if missing:
            raise ValueError(f"no estimate for part(s) {', '.join(missing)}")
        return {n: r.decide(estimate[n]) for n, r in self.parts}

    def decide(self, estimate) -> str:
        return _combine(list(self.outcomes(estimate).values()), len(self.parts))

    @property
    def alpha(self) -> float:
        return max(r.alpha for _, r in self.parts)

    @property
    def text(self) -> str:
        return "; ".join(f"({i}) {n}: {r.text}" for i, (n, r) in enumerate(self.parts, 1))


@dataclasses.dataclass(frozen=True)
class WithControl(Rule):
    """A claim with a positive control: `rule` decides the claim from `estimate["claim"]` and
    `control` must HOLD on `estimate["control"]` (the effect the check looks for shows up where it
    must). DOES NOT HOLD when the claim's rule does not hold; UNDECIDED when the control does not
    hold (the check would have had no power); else the claim's outcome."""

    rule: Rule
    control: Rule

    def decide(self, estimate) -> str:
        main = self.rule.decide(estimate["claim"])
        if main == FAILS:
            return FAILS
        if self.control.decide(estimate["control"]) != HOLDS:
            return UNDECIDED
        return main

    @property
    def alpha(self) -> float:
        return self.rule.alpha

    @property
    def text(self) -> str:
        return f"{self.rule.text}; positive control: {self.control.text} (else undecided)"


# ---- pre-registration -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Registration:
    """What a claim commits to before it is run.

    **Arguments:**
    - `prediction`: the predicted value or relation and where it comes from.
    - `statistic`: what is measured, over what, with which interval.
    - `rule`: the `Rule` that decides the claim from the statistic.
    - `tiers`: tier name -> the sizes run at that tier.
    - `rationale`: number -> one line on why it is what it is (for numbers not from theory).
    - `experiment`: the run the claim reads (claims sharing one are not independent evidence).
    - `guards`: for a `_control` claim, the claim whose mechanism it removes.
    """

    prediction: str
    statistic: str
    rule: Rule
    tiers: Mapping[str, str]
    rationale: Mapping[str, str] = dataclasses.field(default_factory=dict)
    experiment: str | None = None
    guards: str | None = None

    def __post_init__(self):
        if set(self.tiers) != set(TIERS):
            raise ValueError(f"tiers {sorted(self.tiers)}: give sizes for {', '.join(TIERS)}")
        if not isinstance(self.rule, Rule):
            raise ValueError(f"rule {self.rule!r} is not a Rule")


def tier_sizes(table: Mapping, keys: Sequence[str] | None = None) -> dict[str, str]:
    """`{tier: "k=v, ..."}` from a per-tier table of dicts (or of values)."""
    out = {}
    for tier in TIERS:
        row = table[tier]
        if dataclasses.is_dataclass(row):
            row = dataclasses.asdict(row)
        if isinstance(row, Mapping):
            row = ", ".join(f"{k}={v}" for k, v in row.items() if keys is None or k in keys)
        out[tier] = str(row)
    return out


@dataclasses.dataclass(frozen=True)
class ClaimResult:
    """The outcome of one claim at one tier. `passed` is None when the check could not be made."""

    name: str
    statement: str
    prediction: str
    measurement: str
    comparison: str
    passed: bool | None
    figure: str | None = None
    details: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    rule: str = ""
    root_seed: int = 0

    @property
    def verdict(self) -> str:
        return {True: HOLDS, False: FAILS, None: UNDECIDED}[self.passed]


@dataclasses.dataclass(frozen=True)
class Claim:
    """A registered claim; `check(tier, out[, root_seed])` returns the fields of a `ClaimResult`.

    A registered (pre-registered) claim's check returns `estimate` instead of `passed`: the
    registered rule decides."""

    name: str
    statement: str
    source: str
    check: Callable[..., dict]
    registration: Registration | None = None

    @property
    def replicable(self) -> bool:
        """Whether the check takes a root seed (its randomness derives from it)."""
        return "root_seed" in inspect.signature(self.check).parameters

    @property
    def rule_text(self) -> str:
        return self.registration.rule.text if self.registration else "(not pre-registered)"

    def run(self, tier: str, out: Path, root_seed: int = 0) -> ClaimResult:
        """Run the check at `tier` writing under `out`, with randomness from `root_seed`."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}: use one of {', '.join(TIERS)}")
        if not isinstance(root_seed, int) or not 0 <= root_seed < 2**31:
            raise ValueError(f"root seed {root_seed!r} must be an integer in [0, 2^31)")
        if root_seed and not self.replicable:
            raise ValueError(f"claim {self.name!r} takes no root seed: run it with root seed 0")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            kw = {"root_seed": root_seed} if self.replicable else {}
            fields = dict(self.check(tier, out, **kw))
            if self.registration is not None:
                if "passed" in fields or "estimate" not in fields:
                    raise ValueError(f"registered claim {self.name!r} must return an estimate, not a verdict")
                est = fields.pop("estimate")
                fields["passed"] = self.registration.rule.passed(est)
                fields.setdefault("comparison", self.rule_text)
                fields.setdefault("details", {})
                fields["details"] = dict(fields["details"], outcome=self.registration.rule.decide(est))
                if isinstance(self.registration.rule, AllOf):
                    fields["details"]["parts"] = self.registration.rule.outcomes(est)
        except Exception as err:  # noqa: BLE001 - a crashing check is reported, not hidden
            fields = {
                "prediction": "-",
                "measurement": f"error: {err}",
                "comparison": "-",
                "passed": None,
                "details": {"traceback": traceback.format_exc()},
            }
        return ClaimResult(
            self.name,
            self.statement,
            seconds=time.perf_counter() - start,
            rule=self.rule_text,
            root_seed=root_seed,
            **fields,
        )


REGISTRY: dict[str, Claim] = {}


def register(name: str, statement: str, source: str, registration: Registration | None = None):
    """Decorator registering `fn(tier, out[, root_seed]) -> dict` as the claim `name`."""

    def wrap(fn):
        if name in REGISTRY:
            raise ValueError(f"claim {name!r} registered twice")
        if registration is not None and registration.guards is not None and not name.endswith("_control"):
            raise ValueError(f"claim {name!r} guards {registration.guards!r}: its id must end in _control")
        REGISTRY[name] = Claim(name, statement, source, fn, registration)
        return fn

    return wrap


def run_claims(
    tier: str,
    out: Path,
    names: list[str] | None = None,
    on_result: Callable[[ClaimResult], None] | None = None,
    root_seed: int = 0,
) -> list[ClaimResult]:
    """Run the selected claims (all by default) in registration order, with randomness from
    `root_seed` (a claim that takes no root seed runs at root seed 0)."""
    names = list(REGISTRY) if not names else names
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown claim(s) {', '.join(unknown)}: use one of {', '.join(REGISTRY)}")
    results = []
    for name in names:
        claim = REGISTRY[name]
        res = claim.run(tier, out, root_seed=root_seed if claim.replicable else 0)
        results.append(res)
        if on_result:
            on_result(res)
    return results
