"""A small registry of claims: a theory prediction, a measurement, a comparison with a stated
tolerance, and optionally a figure, runnable at tiers (`smoke` for tests, `default`, `full`)."""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable
from pathlib import Path


TIERS = ("smoke", "default", "full")


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

    @property
    def verdict(self) -> str:
        return {True: "HOLDS", False: "DOES NOT HOLD", None: "UNDECIDED"}[self.passed]


@dataclasses.dataclass(frozen=True)
class Claim:
    """A registered claim; `check(tier, out)` returns the fields of a `ClaimResult`."""

    name: str
    statement: str
    source: str
    check: Callable[[str, Path], dict]

    def run(self, tier: str, out: Path) -> ClaimResult:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}: use one of {', '.join(TIERS)}")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            fields = self.check(tier, out)
        except Exception as err:  # noqa: BLE001 - a crashing check is reported, not hidden
            fields = {
                "prediction": "-",
                "measurement": f"error: {err}",
                "comparison": "-",
                "passed": None,
                "details": {"traceback": traceback.format_exc()},
            }
        return ClaimResult(self.name, self.statement, seconds=time.perf_counter() - start, **fields)


REGISTRY: dict[str, Claim] = {}


def register(name: str, statement: str, source: str):
    """Decorator registering `fn(tier, out) -> dict` as the claim `name`."""

    def wrap(fn):
        if name in REGISTRY:
            raise ValueError(f"claim {name!r} registered twice")
        REGISTRY[name] = Claim(name, statement, source, fn)
        return fn

    return wrap


def run_claims(
    tier: str,
    out: Path,
    names: list[str] | None = None,
    on_result: Callable[[ClaimResult], None] | None = None,
) -> list[ClaimResult]:
    """Run the selected claims (all by default) in registration order."""
    names = list(REGISTRY) if not names else names
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown claim(s) {', '.join(unknown)}: use one of {', '.join(REGISTRY)}")
    results = []
    for name in names:
        res = REGISTRY[name].run(tier, out)
        results.append(res)
        if on_result:
            on_result(res)
    return results
