#!/usr/bin/env python
"""Amplitude before phase: escape samples along an amplitude and a phase direction of one task.

Thin wrapper: the command is `claims.cli.amplitude_phase` (installed as `fourier-amplitude-phase`);
see its --help.
"""

import sys

from claims.cli.amplitude_phase import main


if __name__ == "__main__":
    sys.exit(main())
