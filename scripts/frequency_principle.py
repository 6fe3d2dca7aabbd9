#!/usr/bin/env python
"""Frequency principle experiments: the 1-D peaks, the filtering method and deep networks.

Thin wrapper: the command is `claims.cli.frequency_principle` (installed as
`fourier-frequency-principle`); see its --help.
"""

import sys

from claims.cli.frequency_principle import main


if __name__ == "__main__":
    sys.exit(main())
