#!/usr/bin/env python
"""Spectral bias of ReLU networks (Rahaman et al. 2019): experiments 1, 2 and 5 with verdicts.

Experiment 1: per-frequency normalised amplitude over training (equal and increasing amplitudes),
with the true largest singular values of the weights. Experiment 2: amplitude kept under isotropic
parameter perturbations. Experiment 5: the flower manifold gamma_L. Tiers: smoke (seconds),
default (minutes on 2 CPU cores), full (the paper's settings; CPU hours). Explicit sizes override
the tier's. Writes OUT/spectral-bias-expN.nc (netCDF), OUT/summary.json and the figures
OUT/spectral-bias-expN.png/.pdf, all atomically with provenance. Training is checkpointed under
OUT/checkpoints (at most once a minute): rerunning the same command after a kill resumes it, and
trainings that finished are not repeated.

Exit codes: 0 done (1 with --strict when a claim does not hold), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import claims
import sims
from claims import spectral_bias as sbc
from claims.cli._common import Parser


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    return values


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="spectral_bias.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", default="all", help="1, 2, 5 or all [default: all]")
    p.add_argument("--tier", default="default", help="smoke, default or full [default: default]")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (>= 3) [default: the tier's]")
    p.add_argument("--freqs", type=_int_list, default=None, help="target frequencies, e.g. 5,10,15")
    p.add_argument("--n", type=int, default=None, help="grid points")
    p.add_argument("--width", type=int, default=None, help="hidden width")
    p.add_argument("--depth", type=int, default=None, help="number of hidden ReLU layers")
    p.add_argument("--steps", type=int, default=None, help="full-batch Adam steps")
    p.add_argument("--record-every", type=int, default=None, help="recording interval in steps")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    p.add_argument(
        "--petals", type=_int_list, default=None, help="experiment 5: petal counts L, e.g. 0,4,10,16"
    )
    p.add_argument("--samples", type=int, default=None, help="experiment 2: perturbation directions per norm")
    p.add_argument(
        "--root-seed",
        type=int,
        default=0,
        help="seeds are ROOT_SEED * 10000 + (0 .. SEEDS-1); a pilot uses one never reported [default: 0]",
    )
    p.add_argument("--out", default=None, help="output folder [default: results/spectral-bias-TIER]")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--no-checkpoint",
        action="store_true",
        help="do not checkpoint training under OUT/checkpoints (by default a killed run resumes there)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 if a claim does not hold")
    return p


def _experiments(text: str) -> list[int]:
    if text == "all":
        return [1, 2, 5]
    try:
        exps = [int(v) for v in text.split(",")]
    except ValueError:
        exps = [-1]
    bad = [e for e in exps if e not in (1, 2, 5)]
    if bad:
        raise ValueError(f"--experiment {text!r}: use 1, 2, 5, a comma list of them, or all")
    return exps


def _settings(exp: int, args) -> dict:
    common = dict(
        seeds=args.seeds,
        freqs=args.freqs,
        n=args.n,
        width=args.width,
        depth=args.depth,
        steps=args.steps,
        record_every=args.record_every,
        lr=args.lr,
        root_seed=args.root_seed,
    )
    if args.root_seed < 0:
        raise ValueError(f"--root-seed {args.root_seed}: use a non-negative integer")
    if exp == 2:
        common["samples"] = args.samples
    if exp == 5:
        common["petals"] = args.petals
    s = sbc.settings(exp, args.tier, **common)
    for key in ("n", "width", "depth", "steps", "record_every", "seeds"):
        if int(s[key]) < 1:
            raise ValueError(f"--{key.replace('_', '-')} {s[key]}: use a positive value")
    if exp == 2 and int(s["samples"]) < 1:
        raise ValueError(f"--samples {s['samples']}: use at least one direction")
    sbc.fit_config(s, "equal", petals=0 if exp == 5 else None)  # validates sizes and frequencies
    return s


def _print_summary(exp: int, summary: dict) -> None:
    n = summary["settings"]["seeds"]
    verdict = {True: "HOLDS", False: "DOES NOT HOLD", None: "UNDECIDED"}[summary["passed"]]
    print(f"experiment {exp}: {verdict} ({n} seeds; intervals are 95% bootstrap over seeds)")
    if exp == 1:
        for amps, row in summary["settings_by_amplitude"].items():
            for thr in sbc.THRESHOLDS:
                t = row["thresholds"][str(thr)]
                times = ", ".join("-" if v is None else f"{v:.0f}" for v in t["time_of_seed_mean_curve"])
                print(
                    f"  {amps:>10} A, threshold {thr}: "
                    f"mean per-seed rho = {sbc.fmt_estimate(t['rho_mean'])}, "
                    f"rho of seed-mean curve = {t['rho_of_seed_mean_curve']:.2f}; times [{times}]"
                )
            fin = ", ".join(sbc.fmt_estimate(e) for e in row["final_amplitude"])
            print(
                f"  {amps:>10} A: final amplitudes {fin} "
                f"(rule: every interval within {sbc.FINAL_TOL:.0%} of 1)"
            )
            print(
                f"  {amps:>10} A: sigma_max init {[round(v, 2) for v in row['sigma_max_init']]} -> final "
                f"{[round(v, 2) for v in row['sigma_max_final']]}; "
                f"product ratio {sbc.fmt_estimate(row['lipschitz_bound_ratio'], 1)}"
            )
    elif exp == 2:
        last = summary["response_at_max_norm"]
        ks = summary["settings"]["freqs"]
        kept = ", ".join(f"k={k}: {sbc.fmt_estimate(e)}" for k, e in zip(ks, last, strict=True))
        print(f"  kept amplitude at norm {summary['norms'][-1]:.2f}: {kept}")
        rho = [r for r, m in zip(summary["rho_per_norm"], summary["moved"], strict=True) if m]
        print(
            f"  Spearman rho(k, kept) at the {len(rho)} norms that move the response: "
            f"{[round(r, 2) for r in rho]}"
        )
        print(f"  rises in k with interval above {sbc.RISE_TOL}: {summary['significant_rises'] or 'none'}")
    else:
        for L, r in summary["per_petals"].items():
            t = ", ".join("-" if v is None else f"{v:.0f}" for v in r["time_to_0.5_of_seed_mean"])
            print(
                f"  L={L:>2}: final loss {sbc.fmt_estimate(r['final_loss'], 3)}, high-k speed "
                f"{sbc.fmt_estimate(r['high_frequency_speed'])}, t(0.5) [{t}]"
            )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.tier not in claims.TIERS:
            raise ValueError(f"--tier {args.tier!r}: use one of {', '.join(claims.TIERS)}")
        exps = _experiments(args.experiment)
        plan = {e: _settings(e, args) for e in exps}
        out = Path(args.out or f"results/spectral-bias-{args.tier}")
        claims.check_writable(out)
    except ValueError as err:
        print(f"spectral_bias.py: error: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    claims.enable_compilation_cache()
    sbc.use_checkpoints(None if args.no_checkpoint else out / "checkpoints")
    try:
        summaries, all_ok = {}, True
        for exp, s in plan.items():
            start = time.perf_counter()
            print(f"experiment {exp} ({args.tier} tier): {sbc.jsonable(s)}", flush=True)
            try:
                ds, summary, figure = sbc.run_experiment(exp, s, progress=not args.no_progress)
            except claims.SimulationError as err:
                print(f"spectral_bias.py: error: {err}", file=sys.stderr)
                return 2
            summary["seconds"] = time.perf_counter() - start
            ds.attrs.update(sims.provenance())
            ds.attrs["settings"] = json.dumps(sbc.jsonable(s), sort_keys=True)
            ds.attrs["tier"] = args.tier
            ds.attrs["prng_impl"] = "threefry2x32"
            path = out / f"spectral-bias-exp{exp}.nc"
            with sims.atomic_target(path) as tmp:
                ds.to_netcdf(tmp, engine="h5netcdf")
            figure(ds, summary, out / f"spectral-bias-exp{exp}")
            summaries[str(exp)] = summary
            all_ok = all_ok and summary["passed"] is True
            _print_summary(exp, summary)
            print(
                f"  {summary['seconds']:.0f} s; data {path}, figure {out / f'spectral-bias-exp{exp}.png'}",
                flush=True,
            )
            payload = {"tier": args.tier, "experiments": summaries, "provenance": sims.provenance()}
            text = json.dumps(payload, indent=2, default=float) + "\n"
            sims.atomic_write_bytes(out / "summary.json", text.encode())  # rewritten after every experiment
    finally:
        sbc.use_checkpoints(None)
    print(f"summary: {out / 'summary.json'}")
    return 1 if args.strict and not all_ok else 0


if __name__ == "__main__":
    sys.exit(main())
