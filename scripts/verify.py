#!/usr/bin/env python
"""Run the registered claims and write a Markdown report with their verdicts and figures.

Thin wrapper: the command is `claims.cli.verify` (installed as `fourier-verify`); see its --help.
"""

import sys

from claims.cli.verify import main


if __name__ == "__main__":
    sys.exit(main())
