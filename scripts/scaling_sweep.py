#!/usr/bin/env python
"""Scaling sweep: does online SGD on a phase-only task need between N^3 and N^3 log^2 N samples?

Thin wrapper: the command is `claims.cli.sweep` (installed as `fourier-sweep`); see its --help.
"""

import sys

from claims.cli.sweep import main


if __name__ == "__main__":
    sys.exit(main())
