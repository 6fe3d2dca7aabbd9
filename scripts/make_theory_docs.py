#!/usr/bin/env python
"""Generate `docs/theory.md` from the `theory` package, so the formulas on the page are the code's.

Thin wrapper: the command is `claims.cli.theory_docs` (installed as `fourier-theory-docs`); see its --help.
"""

import sys

from claims.cli.theory_docs import main


if __name__ == "__main__":
    sys.exit(main())
