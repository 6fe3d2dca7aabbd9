#!/usr/bin/env python
"""Job array: one scheduler job per N cell of a scaling sweep, submitted with submitit.

Thin wrapper: the command is `claims.cli.launch_array` (installed as `fourier-launch-array`); see its --help.
"""

import sys

from claims.cli.launch_array import main


if __name__ == "__main__":
    sys.exit(main())
