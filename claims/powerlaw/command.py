"""The power-law task's part of the sweep command (`fourier-sweep --task powerlaw`): its flags,
the config they describe, and what it prints and writes."""

from __future__ import annotations

import argparse
from pathlib import Path

from .analysis import analyse_powerlaw, format_table, write_powerlaw_summary
from .config import PROFILES, PowerlawConfig, PowerlawExperiment
from .figures import exponents_figure, powerlaw_figure
from .registered import SPEEDUP_MARGIN


def add_powerlaw_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the power-law flags (--alpha, --placement, --preactivation) to the sweep's parser."""
    g = parser.add_argument_group("power-law task (--task powerlaw)")
    g.add_argument(
        "--alpha",
        dest="alphas",
        type=float,
        nargs="+",
        default=None,
        metavar="ALPHA",
        help="spectral exponents: P_f proportional to (1+f)^-alpha "
        f"[default: the profile's, {' '.join(f'{a:g}' for a in PROFILES['default']['alphas'])}]",
    )
    g.add_argument(
        "--placement",
        dest="placements",
        nargs="+",
        default=None,
        metavar="PLACEMENT",
        help="spike placements: aligned (u ~ C^1/2 g), spread (flat amplitudes), topK:K (top K "
        "coordinates) [default: aligned spread]",
    )
    g.add_argument(
        "--preactivation",
        default=None,
        help="normalised (w.x / sqrt(w^T C w), covered by the theory) or plain (w.x) [default: normalised]",
    )
    g.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="K",
        help="stop a cell once K of its seeds escaped; the rest are censored at the stop [default: "
        "run every seed to its escape or the budget]",
    )
    return parser


def config_from_args(args: argparse.Namespace, dtype: str | None = None) -> PowerlawConfig:
    """The PowerlawConfig the sweep's parsed flags describe (the profile, overridden by every flag
    given). The flags the power-law task does not use are refused by the sweep command."""
    get = lambda name: getattr(args, name, None)
    return PowerlawConfig.from_profile(
        get("profile") or "default",
        dims=tuple(args.dims) if get("dims") else None,
        seeds=get("seeds"),
        alphas=tuple(args.alphas) if get("alphas") else None,
        placements=tuple(args.placements) if get("placements") else None,
        preactivation=get("preactivation"),
        start=get("start"),
        latent=get("latent"),
        activation=get("activation"),
        snr=get("snr"),
        step0=get("step0"),
        budget_factor=get("budget_factor"),
        inputs=get("inputs"),
        engine=get("engine"),
        stop_after=get("stop_after"),
        root_seed=get("root_seed"),
        chunk=get("chunk"),
        dtype=dtype,
    )


def describe(exp: PowerlawExperiment, out: Path) -> list[str]:
    """The lines the sweep command prints before it runs."""
    c = exp.config
    return [
        f"theory: {exp.loss.verdict}; escape at |m_eff| >= {c.m_escape}",
        f"powerlaw sweep: alpha={list(c.alphas)} placements={list(c.placements)} N={list(c.dims)} "
        f"seeds={c.seeds} preactivation={c.preactivation} start={c.start} engine={c.engine} "
        f"budget factor={exp.budget_factor:g} -> {out}",
    ]


def report(exp: PowerlawExperiment, cells: dict, out: Path) -> tuple[Path, list[Path], list[str]]:
    """Analyse the cells, write summary.json and the figures; returns (summary, figures, lines)."""
    summary = analyse_powerlaw(exp, cells)
    path = write_powerlaw_summary(out, summary, exp)
    figs = list(powerlaw_figure(exp, summary, Path(out) / "powerlaw", margin=SPEEDUP_MARGIN))
    figs += list(exponents_figure(exp, summary, Path(out) / "powerlaw-exponents") or [])
    return path, figs, format_table(summary).splitlines()
