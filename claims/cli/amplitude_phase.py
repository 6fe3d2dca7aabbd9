"""Amplitude before phase: escape samples along an amplitude direction v and a phase direction u of
one task, their fitted exponents beside the overlap ODE, and the staircase with tied latents.

The same command as `fourier-sweep --task amplitude-phase` (one cell loop for every task: resume,
`--devices`, `--chunk`, `--distributed`, `--cells-only`, `--summary-only`, `--config`, job arrays):
config -> run cells (one netCDF file per readout and N) -> fit exponents with bootstrap intervals
-> compare with the two-direction ODE -> write OUT/summary.json, OUT/escape.png and
OUT/escape.pdf, and print the table and verdicts. Flags: those of the sweep command for this task
(`--profile`, `--N`, `--N-phase`, `--seeds`, `--student`, `--units`, `--correlated`, `--coupling`,
`--snr-amplitude`, `--snr-phase`, `--budget-factor`, `--root-seed`, `--out`, ...).

Exit codes: 0 done, 2 bad input (one line on stderr naming the value and what to do).
"""

from __future__ import annotations

import sys

from claims.cli import sweep
from claims.cli._common import usage_error


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a == "--task" or a.startswith("--task=") for a in argv):
        return usage_error("amplitude_phase.py", "--task is fixed to amplitude-phase here: leave it out")
    return sweep.main(["--task", "amplitude-phase", *argv])


if __name__ == "__main__":
    sys.exit(main())
