#!/usr/bin/env python
"""Frequency principle experiments: the 1-D peak protocol, the filtering method on digits, and the
deep frequency principle (layer-wise effective targets).

Writes OUT/<experiment>.nc (netCDF with the config and provenance), OUT/summary.json and
OUT/frequency-principle-<experiment>.png/.pdf, and prints the measured numbers with intervals.
Exit codes: 0 done (the verdicts are printed, whatever they are), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import claims
import claims.frequency_principle as fpc
import sims
from claims.cli._common import Parser


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="frequency_principle.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", default="all", help="1d, filtering, deep or all [default: all]")
    p.add_argument(
        "--tier",
        default="default",
        help="smoke (seconds), default (minutes) or full (largest settings); flags below override it",
    )
    p.add_argument("--seeds", type=int, default=None, help="networks per setting (vmapped)")
    p.add_argument("--steps", type=int, default=None, help="full-batch Adam steps")
    p.add_argument("--record-every", type=int, default=None, help="steps between checkpoints")
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--samples", type=int, default=None, help="digits used (filtering, deep)")
    p.add_argument("--depths", type=int, nargs="+", default=None, help="hidden-layer counts (deep)")
    p.add_argument("--width", type=int, default=None, help="hidden width (deep)")
    p.add_argument("--root-seed", type=int, default=None, help="offsets every seed (robustness checks)")
    p.add_argument("--out", default=None, help="output folder [default: results/frequency-principle-TIER]")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _fmt(e: dict, digits: int = 2) -> str:
    f = lambda v: "inf" if v is None else f"{v:.{digits}f}"
    return f"{f(e['value'])} [{f(e['lo'])}, {f(e['hi'])}] (n = {e['n']})"


def report(experiment: str, s: dict) -> list[str]:
    verdict = lambda ok: {True: "HOLDS", False: "DOES NOT HOLD", None: "UNDECIDED"}[ok]
    if experiment == "1d":
        return [
            f"1-D: peaks at DFT bins {s['peaks']}; median steps to Delta_F < {s['threshold']}: "
            f"{s['median_time_to_threshold']} (None: not reached)",
            f"  Spearman(peak, steps) mean {_fmt(s['spearman_mean'])}; strictly ordered in "
            f"{s['strictly_ordered_fraction']:.0%} of seeds -> {verdict(s['holds'])}",
        ]
    if experiment == "filtering":
        lines = [
            f"filtering: median NN distance {s['median_nearest_neighbour_distance']:.3f}, median pairwise "
            f"distance {s['median_pairwise_distance']:.3f}"
        ]
        for r in s["deltas"]:
            lines.append(
                f"  delta {r['delta']:.3f}: LFR(y) {r['lfr_target']:.4f} (floor {r['lfr_floor']:.4f}); "
                f"median steps low {r['median_t_low']}, high {r['median_t_high']}; "
                f"t_high/t_low {_fmt(r['ratio_t_high_over_t_low'])}"
            )
        lines.append(f"  e_low before e_high at every delta -> {verdict(s['holds'])}")
        return lines
    lines = [f"deep: delta* = {s['delta_star']:.3f} x median pairwise distance, {s['seeds']} seeds"]
    for d, r in s["depths"].items():
        lines.append(
            f"  {d} hidden layers: Spearman(layer, LFR) {_fmt(r['spearman_layer_vs_lfr_at_delta_star'])}; "
            f"deepest-layer LFR change {_fmt(r['deepest_layer_shift'], 3)}; final loss "
            f"{_fmt(r['final_loss'], 4)}"
        )
    lines += [
        f"  deeper layers more low-frequency -> {verdict(s['rank_holds'])}; "
        f"shift during training -> {verdict(s['shift_holds'])}",
        f"  identity layer: max relative difference {s['identity']['max_relative_difference']:.1e}",
        f"  permuted labels: max |z| {s['permutation']['max_abs_z']:.2f} "
        f"(limit {s['permutation']['limit']:.2f}) -> {verdict(s['permutation']['holds'])}",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    experiments = fpc.EXPERIMENTS if args.experiment == "all" else (args.experiment,)
    prog = "frequency_principle.py: error:"
    if args.experiment != "all" and args.experiment not in fpc.EXPERIMENTS:
        print(
            f"{prog} unknown --experiment {args.experiment!r}: use 1d, filtering, deep or all",
            file=sys.stderr,
        )
        return 2
    overrides = {
        "seeds": args.seeds,
        "steps": args.steps,
        "record_every": args.record_every,
        "learning_rate": args.learning_rate,
        "samples": args.samples,
        "depths": tuple(args.depths) if args.depths else None,
        "width": args.width,
        "root_seed": args.root_seed,
    }
    try:
        configs = {e: fpc.config_for(e, args.tier, **overrides) for e in experiments}
    except ValueError as err:
        print(f"{prog} {err}", file=sys.stderr)
        return 2
    out = Path(args.out or f"results/frequency-principle-{args.tier}")
    try:
        claims.check_writable(out)
    except claims.UsageError as err:
        print(f"{prog} {err}", file=sys.stderr)
        return 2
    claims.enable_compilation_cache()
    summary_path = out / "summary.json"
    summary = {}
    if summary_path.exists():  # keep the other experiments' results when running one
        try:
            summary = json.loads(summary_path.read_text()).get("experiments", {})
        except (OSError, ValueError):
            summary = {}
    for e in experiments:
        start = time.perf_counter()
        try:
            s, fig = fpc.run_experiment(e, configs[e], out, progress=not args.no_progress)
        except claims.SimulationError as err:
            print(f"{prog} {err}", file=sys.stderr)
            return 2
        s["figure"] = str(fig)
        summary[e] = s
        for line in report(e, s):
            print(line, flush=True)
        print(f"  ({time.perf_counter() - start:.0f} s; figure {fig})", flush=True)
        payload = {"tier": args.tier, "experiments": summary, "provenance": sims.provenance()}
        sims.atomic_write_bytes(summary_path, (json.dumps(payload, indent=2) + "\n").encode())
    print(f"summary: {summary_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
