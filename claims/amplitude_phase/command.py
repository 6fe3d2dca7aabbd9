"""The amplitude-phase task's part of the sweep command (`fourier-sweep --task amplitude-phase`):
the config its flags describe, what it prints and writes."""

from __future__ import annotations

from pathlib import Path

from .analysis import analyse, format_lines, write_summary
from .config import APConfig, APExperiment, by_readout
from .figures import figure


def config_from_args(args) -> APConfig:
    """The APConfig the sweep's parsed flags describe (the profile, overridden by every flag given);
    `--N` sets every readout's grid unless `--N-phase` sets the phase readout's."""
    get = lambda name: getattr(args, name, None)
    coupling = get("coupling") if get("coupling") is not None else (1.0 if get("correlated") else None)
    dims = tuple(args.dims) if get("dims") else None
    return APConfig.from_profile(
        get("profile") or "default",
        dims_amplitude=dims,
        dims_phase=tuple(get("dims_phase") or get("dims") or ()) or None,
        seeds=get("seeds"),
        student=get("student"),
        units=get("units"),
        coupling=coupling,
        snr_amplitude=get("snr_amplitude"),
        snr_phase=get("snr_phase"),
        budget_factor=get("budget_factor"),
        root_seed=get("root_seed"),
        chunk=get("chunk"),
    )


def describe(exp: APExperiment, out: Path) -> list[str]:
    """The lines the sweep command prints before it runs."""
    c = exp.config
    lines = [f"theory [{name}]: {r.loss.verdict}" for name, r in exp.readouts.items()]
    return lines + [
        f"run: student={c.student} units={c.units} coupling={c.coupling:g} N={list(c.dims_amplitude)} "
        f"(phase N={list(c.dims_phase)}) seeds={c.seeds} -> {out}"
    ]


def report(exp: APExperiment, cells: dict, out: Path) -> tuple[Path, list[Path], list[str]]:
    """Analyse the cells, write summary.json and the figures; returns (summary, figures, lines)."""
    results = by_readout(cells)
    summary = analyse(exp.config, results)
    path = write_summary(out, summary, exp.config)
    figs = figure(exp.config, results, summary, Path(out) / "escape")
    return path, list(figs), format_lines(summary)
