"""The one error for numerical failure, whichever engine or network produced it."""

from __future__ import annotations


class SimulationError(FloatingPointError):
    """The simulation produced NaN or infinite values: the SGD step or the learning rate is too
    large for this N. Commands report it in one line and exit with code 2, as for bad input, since
    the fix is a smaller step. (Bad input that is caught before running is `claims.UsageError`.)"""
