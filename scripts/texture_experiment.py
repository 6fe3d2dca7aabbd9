#!/usr/bin/env python
"""Amplitude before phase on images: train a network, test it on phase- and amplitude-only sets.

Thin wrapper: the command is `claims.cli.textures` (installed as `fourier-textures`); see its --help.
"""

import sys

from claims.cli.textures import main


if __name__ == "__main__":
    sys.exit(main())
