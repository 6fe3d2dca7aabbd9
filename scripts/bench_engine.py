#!/usr/bin/env python
"""Benchmark the online-SGD engines: vs NumPy, vs each other, vs their random-number floors, on 2 devices.

Thin wrapper: the command is `claims.cli.bench` (installed as `fourier-bench`); see its --help.
"""

import sys

from claims.cli.bench import main


if __name__ == "__main__":
    sys.exit(main())
