#!/usr/bin/env python
"""Run the registered claims and write a Markdown report with their verdicts and figures.

Each claim pairs a theory prediction with a measurement and a stated tolerance. Tiers: smoke
(seconds to a minute, used by the tests), default (minutes), full (long; CPU hours).
Writes OUT/report.md (with figures) and OUT/results.json.
Exit codes: 0 done (add --strict to get 1 when a claim does not hold or is undecided), 2 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import claims
import sims


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="verify.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--tier", default="smoke", help=f"one of {', '.join(claims.TIERS)}")
    p.add_argument(
        "--claim",
        action="append",
        default=None,
        metavar="NAME",
        help=f"run only this claim (repeatable): {', '.join(claims.REGISTRY)}",
    )
    p.add_argument("--out", default=None, help="report folder [default: results/verify-TIER]")
    p.add_argument("--strict", action="store_true", help="exit 1 if any claim does not hold or is undecided")
    p.add_argument("--list", action="store_true", help="list the registered claims and exit")
    return p


def report(results, tier: str, out: Path, seconds: float) -> str:
    lines = [
        f"# Verification report (tier `{tier}`)",
        "",
        f"{sum(r.passed is True for r in results)} of {len(results)} claims hold "
        f"({sum(r.passed is False for r in results)} do not, {sum(r.passed is None for r in results)} "
        f"undecided); {seconds:.0f} s.",
        "",
        "| claim | verdict | prediction | measurement | comparison |",
        "|---|---|---|---|---|",
    ]
    esc = lambda s: str(s).replace("|", "\\|")
    for r in results:
        lines.append(
            f"| `{r.name}` | **{r.verdict}** | {esc(r.prediction)} | {esc(r.measurement)} | "
            f"{esc(r.comparison)} |"
        )
    lines.append("")
    for r in results:
        lines += [
            f"## `{r.name}`: {r.verdict}",
            "",
            r.statement,
            "",
            f"- source: {claims.REGISTRY[r.name].source}",
            f"- prediction: {r.prediction}",
            f"- measurement: {r.measurement}",
            f"- comparison: {r.comparison}",
            f"- time: {r.seconds:.1f} s",
            "",
        ]
        if r.figure:
            rel = os.path.relpath(r.figure, out)
            lines += [f"![{r.name}]({rel})", ""]
        if "traceback" in r.details:
            lines += ["```", r.details["traceback"].strip()[-2000:], "```", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        for name, c in claims.REGISTRY.items():
            print(f"{name}: {c.statement}")
        return 0
    if args.tier not in claims.TIERS:
        print(
            f"verify.py: error: unknown tier {args.tier!r}: use one of {', '.join(claims.TIERS)}",
            file=sys.stderr,
        )
        return 2
    unknown = [n for n in args.claim or [] if n not in claims.REGISTRY]
    if unknown:
        print(f"verify.py: error: unknown claim {unknown[0]!r}: see --list", file=sys.stderr)
        return 2
    out = Path(args.out or f"results/verify-{args.tier}")
    try:
        claims.check_writable(out)
    except claims.UsageError as err:
        print(f"verify.py: error: {err}", file=sys.stderr)
        return 2
    claims.enable_compilation_cache()
    start = time.perf_counter()

    def show(r):
        print(
            f"[{r.verdict:>13}] {r.name} ({r.seconds:.1f} s)\n"
            f"    prediction: {r.prediction}\n    measurement: {r.measurement}\n"
            f"    comparison: {r.comparison}",
            flush=True,
        )

    results = claims.run_claims(args.tier, out, args.claim, on_result=show)
    path = out / "report.md"
    sims.atomic_write_bytes(path, report(results, args.tier, out, time.perf_counter() - start).encode())
    rows = [dict(dataclasses.asdict(r), verdict=r.verdict) for r in results]
    payload = {"tier": args.tier, "claims": rows, "provenance": sims.provenance()}
    sims.atomic_write_bytes(
        out / "results.json", (json.dumps(payload, indent=2, default=str) + "\n").encode()
    )
    n_ok = sum(r.passed is True for r in results)
    print(f"\n{n_ok}/{len(results)} claims hold; report: {path}")
    return 1 if args.strict and n_ok < len(results) else 0


if __name__ == "__main__":
    sys.exit(main())
