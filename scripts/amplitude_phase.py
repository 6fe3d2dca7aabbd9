#!/usr/bin/env python
"""Amplitude before phase: escape samples along an amplitude direction v and a phase direction u of
one task, their fitted exponents beside the overlap ODE, and the staircase with tied latents.

Pipeline: config -> run cells (one netCDF file per readout and N, resumable, progress bars) ->
fit exponents with bootstrap intervals -> compare with the two-direction ODE -> write
OUT/summary.json, OUT/escape.png and OUT/escape.pdf, and print the table and verdicts.

Exit codes: 0 done, 2 bad input (one line on stderr naming the value and what to do).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import claims
from claims import amplitude_phase as ap


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="amplitude_phase.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--profile",
        default="default",
        help="smoke (about a minute), default (about 5 min on 2 CPU cores) or full: sets the N grids "
        "and seeds; other flags override it",
    )
    p.add_argument(
        "--N", dest="dims", type=int, nargs="+", default=None, metavar="N", help="N grid of every readout"
    )
    p.add_argument(
        "--N-phase",
        dest="dims_phase",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="N grid of the -He4 phase readout (about N^3 log N samples each) "
        "[default: --N or the profile's]",
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds per N [default: the profile's]")
    p.add_argument("--student", default="perceptron", help="perceptron or two-layer [default: perceptron]")
    p.add_argument(
        "--units", type=int, default=None, help="hidden units of the two-layer student [default: 4]"
    )
    p.add_argument(
        "--correlated",
        action="store_true",
        help="tie the phase latent's sign to the amplitude latent (coupling 1) and add the staircase readout",
    )
    p.add_argument(
        "--coupling", type=float, default=None, help="tie probability in [0, 1] (implies --correlated)"
    )
    p.add_argument("--snr-amplitude", type=float, default=None, help="beta_a [default: 0.5]")
    p.add_argument("--snr-phase", type=float, default=None, help="beta_p [default: 10]")
    p.add_argument("--budget-factor", type=float, default=None, help="budget multiplier [default: 1]")
    p.add_argument("--root-seed", type=int, default=None, help="root of the random key tree [default: 0]")
    p.add_argument("--out", default=None, help="output folder [default: results/amplitude-phase-PROFILE]")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    claims.enable_compilation_cache()
    coupling = args.coupling if args.coupling is not None else (1.0 if args.correlated else None)
    try:
        config = ap.APConfig.from_profile(
            args.profile,
            dims_amplitude=tuple(args.dims) if args.dims else None,
            dims_phase=tuple(args.dims_phase or args.dims or ()) or None,
            seeds=args.seeds,
            student=args.student,
            units=args.units,
            coupling=coupling,
            snr_amplitude=args.snr_amplitude,
            snr_phase=args.snr_phase,
            budget_factor=args.budget_factor,
            root_seed=args.root_seed,
        )
        out = Path(args.out or f"results/amplitude-phase-{config.profile}")
        claims.check_writable(out)
    except claims.UsageError as err:
        print(f"amplitude_phase.py: error: {err}", file=sys.stderr)
        return 2

    for name in config.readouts:
        print(f"theory [{name}]: {ap.Readout(config, name).loss.verdict}")
    print(
        f"run: student={config.student} units={config.units} coupling={config.coupling:g} "
        f"N={list(config.dims_amplitude)} (phase N={list(config.dims_phase)}) seeds={config.seeds} -> {out}"
    )
    start = time.perf_counter()
    try:
        results = ap.run_all(config, out, progress=not args.no_progress)
    except RuntimeError as err:
        print(f"amplitude_phase.py: error: {err}: lower the step", file=sys.stderr)
        return 2
    summary = ap.analyse(config, results)
    path = ap.write_summary(out, summary, config)
    figs = ap.figure(config, results, summary, out / "escape")
    fmt = lambda v: "inf" if v is None else f"{v:.3g}"
    head = ("readout", "dir", "N", "seeds", "escaped", "median n", "95% CI", "ODE n")
    widths = (10, 3, 5, 5, 8, 10, 22, 9)
    print("\n" + " ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True)))
    for name, data in summary["readouts"].items():
        for d in ap.READOUTS[name][2]:
            for r in data["cells"]:
                med = r[f"median_escape_{d}"]
                ci = f"[{fmt(med['lo'])}, {fmt(med['hi'])}]"
                print(
                    f"{name:>10} {d:>3} {r['N']:>5} {r['seeds']:>5} {r[f'escaped_fraction_{d}']:>8.0%} "
                    f"{fmt(med['value']):>10} {ci:>22} {fmt(r[f'ode_escape_{d}']):>9}"
                )
    print()
    for name, data in summary["readouts"].items():
        for d, fit in data["fits"].items():
            e, q = fit["exponent"], fit["log_power"]
            if e is None:
                print(f"{name} ({d}): no fit ({fit.get('reason', '')})")
                continue
            ode = "-" if fit["ode_exponent"] is None else f"{fit['ode_exponent']:.3f}"
            print(
                f"{name} ({d}): fitted exponent {e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}] "
                f"(ODE over these N {ode}); free log power at exponent {fit['nominal_exponent']}: "
                f"{q['value']:.2f} [{q['lo']:.2f}, {q['hi']:.2f}]"
            )
    word = {True: "HOLDS", False: "DOES NOT HOLD", None: "UNDECIDED"}
    for key, verdict in summary["verdicts"].items():
        if verdict is None:
            print(f"\n{key}: not run (add --correlated)")
            continue
        print(f"\n{key}: {word[verdict['holds']]}: {verdict['reason']}")
    print(f"\nwrote {path}, {figs[0]}, {figs[1]} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
