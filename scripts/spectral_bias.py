#!/usr/bin/env python
"""Spectral bias of ReLU networks (Rahaman et al. 2019): experiments 1, 2 and 5 with verdicts.

Thin wrapper: the command is `claims.cli.spectral_bias` (installed as `fourier-spectral-bias`); see
its --help.
"""

import sys

from claims.cli.spectral_bias import main


if __name__ == "__main__":
    sys.exit(main())
