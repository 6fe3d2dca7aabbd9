"""What every command shares: one-line errors with exit code 2, and argv clean-up."""

from __future__ import annotations

import argparse
import sys


USAGE_EXIT = 2
"""Exit code for bad input (argparse's own), used by every command."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2), as for every other bad input."""

    def error(self, message):
        self.exit(USAGE_EXIT, f"{self.prog}: error: {message} (see --help)\n")


def usage_error(prog: str, message: str) -> int:
    """Print `prog: error: message` on stderr and return the usage exit code."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return USAGE_EXIT


def join_negative_values(argv: list[str], flags: tuple[str, ...] = ("--activation",)) -> list[str]:
    """Let `--activation -he4` mean `--activation=-he4` (argparse would read -he4 as a flag)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in flags and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out
