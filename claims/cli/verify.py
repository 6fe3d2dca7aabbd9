#!/usr/bin/env python
"""Run the registered claims and write a Markdown report with their verdicts and figures.

Each claim pairs a theory prediction with a measurement and a pass rule fixed before the data
(`claims.registry.Registration`); a verdict is HOLDS, DOES NOT HOLD or UNDECIDED. Tiers: smoke
(seconds to a minute per claim: checks that the software runs, decides nothing), default
(minutes), full (long; CPU hours). With `--replicates R` every claim runs R times with the
independent root seeds S, S+1, ..., S+R-1 (`--root-seed S`); the report gives per claim the
verdict of each replicate, the fraction that hold, how many independent runs stand behind the
claims, and a family-wise (Holm) summary across claims.

Writes OUT/report.md (with figures) and OUT/results.json; with more than one replicate, or a root
seed other than 0, each replicate's files go to OUT/seed-S.
Exit codes: 0 done (add --strict to get 1 when a claim does not hold in every replicate), 2 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import scipy.stats

import claims
import sims
from claims.cli._common import Parser, usage_error


FAMILY_LEVEL = 0.05
"""Family-wise error rate of the Holm summary across claims."""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
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
    p.add_argument("--replicates", type=int, default=1, metavar="R", help="independent root seeds per claim")
    p.add_argument("--root-seed", type=int, default=0, metavar="S", help="first root seed (S, S+1, ...)")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 if any claim does not hold in every replicate"
    )
    p.add_argument("--list", action="store_true", help="list the registered claims and exit")
    p.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="FOLDER",
        help="run nothing: merge the results.json of earlier runs (e.g. one folder per group of claims) "
        "into one report with a family-wise summary over all of them, and OUT/claims-table.md",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=None,
        help="CPU devices the engines shard each run's trajectories over [default: one per core, at "
        "most 8]; the numbers do not depend on it",
    )
    return p


def list_line(name: str, claim: claims.Claim) -> str:
    """One line per claim: its prediction, statistic and rule (or that it is not pre-registered)."""
    r = claim.registration
    if r is None:
        return f"{name}: {claim.statement} | rule: {claim.rule_text}"
    return f"{name} | prediction: {r.prediction} | statistic: {r.statistic} | rule: {r.rule.text}"


def replicate_pvalue(held: int, runs: int, alpha: float) -> float:
    """P(at least `held` of `runs` independent replicates HOLD | the claim is false), when a false
    claim (true value at the margin) passes one replicate with probability at most `alpha`."""
    if held == 0:
        return 1.0
    return float(scipy.stats.binom.sf(held - 1, runs, alpha))


def holm(pvalues: dict[str, float], level: float = FAMILY_LEVEL) -> dict[str, bool]:
    """Holm's step-down procedure: which nulls ("the claim is false") are rejected at `level`."""
    order = sorted(pvalues, key=pvalues.get)
    out, m = {}, len(order)
    going = True
    for i, name in enumerate(order):
        going = going and pvalues[name] <= level / (m - i)
        out[name] = going
    return out


def summarise(results: list, seeds: list[int]) -> dict:
    """Per claim: verdicts per replicate, fraction holding, replicate p-value and the Holm decision;
    and the number of independent runs behind the selected claims."""
    per: dict[str, dict] = {}
    for r in results:
        per.setdefault(r.name, {"verdicts": [], "root_seeds": [], "seconds": 0.0})
        per[r.name]["verdicts"].append(r.verdict)
        per[r.name]["root_seeds"].append(r.root_seed)
        per[r.name]["seconds"] += r.seconds
    pvalues = {}
    runs = set()
    for name, row in per.items():
        claim = claims.REGISTRY[name]
        reg = claim.registration
        n, held = len(row["verdicts"]), row["verdicts"].count(claims.HOLDS)
        row.update(runs=n, held=held, fraction_held=held / n)
        experiment = reg.experiment if reg and reg.experiment else name
        runs |= {(experiment, s) for s in row["root_seeds"]}
        if reg is None:
            row.update(pvalue=None, alpha=None, note="not pre-registered: no p-value")
            continue
        row.update(alpha=reg.rule.alpha, pvalue=replicate_pvalue(held, n, reg.rule.alpha))
        pvalues[name] = row["pvalue"]
    decisions = holm(pvalues)
    for name, row in per.items():
        row["holm_confirmed"] = decisions.get(name)
    return {
        "claims": per,
        "root_seeds": seeds,
        "independent_runs": len(runs),
        "family_level": FAMILY_LEVEL,
        "confirmed": sorted(n for n, ok in decisions.items() if ok),
    }


def load_results(folders: list[Path]) -> list:
    """The ClaimResults stored in FOLDER/results.json of earlier runs (JSON; nothing is unpickled)."""
    fields = {f.name for f in dataclasses.fields(claims.ClaimResult)}
    out = []
    for folder in folders:
        path = Path(folder) / "results.json"
        try:
            rows = json.loads(path.read_text())["claims"]
        except (OSError, ValueError, KeyError) as err:
            raise claims.UsageError(f"--merge {str(folder)!r}: cannot read {path.name} ({err})") from None
        for row in rows:
            if row["name"] not in claims.REGISTRY:
                raise claims.UsageError(f"--merge {str(folder)!r}: unknown claim {row['name']!r}")
            out.append(claims.ClaimResult(**{k: v for k, v in row.items() if k in fields}))
    return out


def claims_table(summary: dict, tier: str) -> str:
    """docs/claims.md's table: every registered claim with its registration and, where it was run,
    the verdict of each replicate, the Holm decision and the run time."""
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    lines = [
        "| claim | prediction (source) | statistic | rule | numbers not from theory | "
        f"tiers (smoke / default / full) | {tier}-tier verdicts (root seeds) | run time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    per = summary["claims"]
    for name, claim in claims.REGISTRY.items():
        reg = claim.registration
        guard = f" Control for `{reg.guards}`." if reg.guards else ""
        numbers = "; ".join(f"**{k}**: {v}" for k, v in reg.rationale.items()) or "-"
        tiers = " / ".join(reg.tiers[t] for t in claims.TIERS)
        row = per.get(name)
        if row is None:
            verdicts, seconds = f"not run at {tier}", "-"
        else:
            holm = {True: "confirmed", False: "not confirmed", None: "-"}[row["holm_confirmed"]]
            seeds = ", ".join(str(s) for s in row["root_seeds"])
            held = f"{row['held']}/{row['runs']} hold"
            verdicts = f"{', '.join(row['verdicts'])} ({seeds}; {held}; Holm: {holm})"
            seconds = f"{row['seconds']:.0f} s"
        lines.append(
            f"| `{name}` | {esc(reg.prediction)} ({esc(claim.source)}).{guard} | {esc(reg.statistic)} | "
            f"{esc(reg.rule.text)} | {esc(numbers)} | {esc(tiers)} | {verdicts} | {seconds} |"
        )
    return "\n".join(lines) + "\n"


def report(results, tier: str, out: Path, seconds: float, summary: dict) -> str:
    per = summary["claims"]
    seeds = summary["root_seeds"]
    n_claims = len(per)
    all_hold = [n for n, r in per.items() if r["held"] == r["runs"]]
    lines = [
        f"# Verification report (tier `{tier}`)",
        "",
        f"{n_claims} claims, root seeds {seeds}; {summary['independent_runs']} independent runs stand behind "
        f"them (claims reading the same run at the same root seed share it); {seconds:.0f} s.",
        f"{len(all_hold)} of {n_claims} claims hold in every replicate. Family-wise (Holm, level "
        f"{summary['family_level']:g}): {len(summary['confirmed'])} confirmed.",
        "",
        *(
            ["**Smoke tier:** it checks that the software runs; its verdicts are not evidence.", ""]
            if tier == "smoke"
            else []
        ),
        "A claim's p-value is the chance that a false claim (its true value at the margin) holds in at "
        "least as many independent replicates: binomial with the rule's per-replicate level (0.025 for "
        "an end of a 95% interval). Holm's procedure then controls the chance of confirming any false "
        "claim. It assumes the intervals have their nominal coverage.",
        "",
        "| claim | verdict per replicate | held | p | Holm | rule | time |",
        "|---|---|---|---|---|---|---|",
    ]
    esc = lambda s: str(s).replace("|", "\\|")
    for name, r in per.items():
        p = "-" if r["pvalue"] is None else f"{r['pvalue']:.2g}"
        h = {True: "confirmed", False: "not confirmed", None: "-"}[r["holm_confirmed"]]
        lines.append(
            f"| `{name}` | {', '.join(r['verdicts'])} | {r['held']}/{r['runs']} | {p} | {h} | "
            f"{esc(claims.REGISTRY[name].rule_text)} | {r['seconds']:.0f} s |"
        )
    lines.append("")
    for r in results:
        lines += [
            f"## `{r.name}` (root seed {r.root_seed}): {r.verdict}",
            "",
            r.statement,
            "",
            f"- source: {claims.REGISTRY[r.name].source}",
            f"- prediction: {r.prediction}",
            f"- measurement: {r.measurement}",
            f"- rule: {r.rule}",
            f"- time: {r.seconds:.1f} s",
            "",
        ]
        parts = r.details.get("parts")
        if parts:
            lines += [f"- parts: {'; '.join(f'{k}: {v}' for k, v in parts.items())}", ""]
        if r.figure:
            rel = os.path.relpath(r.figure, out)
            lines += [f"![{r.name}]({rel})", ""]
        if "traceback" in r.details:
            lines += ["```", r.details["traceback"].strip()[-2000:], "```", ""]
    return "\n".join(lines) + "\n"


def merge(folders: list[str], tier: str, out: Path) -> int:
    """`--merge`: one report over the results of earlier runs, and the docs table."""
    results = load_results([Path(f) for f in folders])
    tiers = {r.details.get("tier", tier) for r in results}
    seeds = sorted({r.root_seed for r in results})
    summary = summarise(results, seeds)
    seconds = sum(r.seconds for r in results)
    text = report(results, tier, out, seconds, summary)
    out.mkdir(parents=True, exist_ok=True)
    sims.atomic_write_bytes(out / "report.md", text.encode())
    sims.atomic_write_bytes(out / "claims-table.md", claims_table(summary, tier).encode())
    per = summary["claims"]
    n_ok = sum(r["held"] == r["runs"] for r in per.values())
    print(
        f"merged {len(results)} results of {len(per)} claims from {len(folders)} folders "
        f"(tiers {sorted(tiers)}): "
        f"{n_ok} hold in every replicate; Holm-confirmed at {FAMILY_LEVEL:g}: {len(summary['confirmed'])}; "
        f"{out / 'report.md'}, {out / 'claims-table.md'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Long because it is the command's sequence: checks, runs per claim and replicate, report."""
    args = build_parser().parse_args(argv)
    if args.list:
        for name, c in claims.REGISTRY.items():
            print(list_line(name, c))
        return 0
    error = lambda msg: usage_error("verify.py", msg)
    if args.tier not in claims.TIERS:
        return error(f"unknown tier {args.tier!r}: use one of {', '.join(claims.TIERS)}")
    unknown = [n for n in args.claim or [] if n not in claims.REGISTRY]
    if unknown:
        return error(f"unknown claim {unknown[0]!r}: see --list")
    if args.replicates < 1:
        return error(f"--replicates {args.replicates} must be at least 1")
    if not 0 <= args.root_seed < 2**31 - args.replicates:
        return error(f"--root-seed {args.root_seed} must be in [0, 2^31 - replicates)")
    if args.devices is not None and not 1 <= args.devices <= 64:
        return error(f"--devices {args.devices} must be an integer in 1..64")
    out = Path(args.out or f"results/verify-{args.tier}")
    try:
        claims.check_writable(out)
        if args.merge:
            return merge(args.merge, args.tier, out)
    except claims.UsageError as err:
        return error(str(err))
    import jax

    try:  # before JAX's backend starts; the engines then shard each run over every core
        jax.config.update("jax_num_cpu_devices", args.devices or min(8, len(os.sched_getaffinity(0))))
    except RuntimeError:  # JAX already started (main() called in-process)
        pass
    claims.enable_compilation_cache()
    start = time.perf_counter()
    seeds = list(range(args.root_seed, args.root_seed + args.replicates))
    split = args.replicates > 1 or args.root_seed != 0

    def show(r):
        print(
            f"[{r.verdict:>13}] {r.name} (root seed {r.root_seed}, {r.seconds:.1f} s)\n"
            f"    prediction: {r.prediction}\n    measurement: {r.measurement}\n    rule: {r.rule}",
            flush=True,
        )

    names = args.claim or list(claims.REGISTRY)
    results = []
    for name in names:
        claim = claims.REGISTRY[name]
        for seed in seeds if claim.replicable else seeds[:1]:
            seed = seed if claim.replicable else 0
            res = claim.run(args.tier, out / f"seed-{seed}" if split else out, root_seed=seed)
            results.append(res)
            show(res)
        if not claim.replicable and args.replicates > 1:
            print(f"    ({name} takes no root seed: run once, at root seed 0)", flush=True)
    summary = summarise(results, seeds)
    path = out / "report.md"
    text = report(results, args.tier, out, time.perf_counter() - start, summary)
    sims.atomic_write_bytes(path, text.encode())
    rows = [dict(dataclasses.asdict(r), verdict=r.verdict) for r in results]
    payload = {"tier": args.tier, "claims": rows, "replicates": summary, "provenance": sims.provenance()}
    sims.atomic_write_bytes(
        out / "results.json", (json.dumps(payload, indent=2, default=str) + "\n").encode()
    )
    per = summary["claims"]
    n_ok = sum(r["held"] == r["runs"] for r in per.values())
    print(
        f"\n{n_ok}/{len(per)} claims hold in every replicate ({len(seeds)} root seeds, "
        f"{summary['independent_runs']} independent runs); Holm-confirmed at {FAMILY_LEVEL:g}: "
        f"{len(summary['confirmed'])}; report: {path}"
    )
    return 1 if args.strict and n_ok < len(per) else 0


if __name__ == "__main__":
    sys.exit(main())
