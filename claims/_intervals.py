"""Distribution-free intervals for the claim layer.

`order_statistic_median_ci` is the exact (binomial) interval for a median from order statistics:
with n draws, [x_(j), x_(n+1-j)] covers the median with probability 1 - 2 P(Bin(n, 1/2) < j),
whatever the distribution. It keeps the one censoring policy: censored values (NaN or +inf, a
seed that did not escape within its budget) rank above every observed one, and an interval end
that falls on a censored value is unknown (`None`). tests/test_coverage.py compares its coverage
with the percentile bootstrap (`sims.median_ci_bootstrap`) and with the interpolated interval of
`sims.median_ci` on 8 to 32 seeds.
"""

from __future__ import annotations

import numpy as np
import scipy.stats


def order_statistic_median_ci(values, confidence: float = 0.95) -> dict:
    """Median with the widest-rank order-statistic interval whose coverage is at least `confidence`.

    **Arguments:**
    - `values`: samples; NaN or +inf are right-censored (they rank last).
    - `confidence`: the least coverage wanted, in (0, 1).

    **Returns:** `{"value", "lo", "hi", "n", "coverage"}`; `value`, `lo` or `hi` is None where
    it falls on a censored sample, and `coverage` is the exact coverage of the chosen ranks.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence!r} must be in (0, 1)")
    v = np.sort(np.where(np.isfinite(np.asarray(values, float)), np.asarray(values, float), np.inf))
    n = v.size
    if n < 1:
        raise ValueError("order_statistic_median_ci needs at least one value")
    # largest j with coverage 1 - 2 P(Bin(n, 1/2) <= j - 1) >= confidence (j = 1: the full range)
    j = 1
    while j + 1 <= (n + 1) // 2 and 1 - 2 * scipy.stats.binom.cdf(j, n, 0.5) >= confidence:
        j += 1
    coverage = float(1 - 2 * scipy.stats.binom.cdf(j - 1, n, 0.5))
    f = lambda x: None if not np.isfinite(x) else float(x)
    return {"value": f(np.median(v)), "lo": f(v[j - 1]), "hi": f(v[n - j]), "n": int(n), "coverage": coverage}


def censored_errorbar(ax, x, value, lo, hi, **kw):
    """Error bars under the one censoring policy: a known end is drawn as a bar; an unknown end
    (NaN, None or infinite: it leans on a censored value) is drawn as an open caret pointing
    away from the point, never at an invented value. A missing point is drawn at its known end.

    **Arguments:** `ax`; arrays `x`, `value`, `lo`, `hi`; `kw` passed to `ax.errorbar` (`color`,
    `fmt`, `label`, ...). **Returns:** the errorbar container.
    """
    num = lambda a: np.array([np.nan if v is None else v for v in np.atleast_1d(a)], float)
    x, v, lo, hi = (num(a) for a in (x, value, lo, hi))
    lo_k, hi_k = np.isfinite(lo) & (lo > 0), np.isfinite(hi)
    centre = np.where(np.isfinite(v), v, np.where(lo_k, lo, hi))
    yerr = [np.where(lo_k, centre - lo, 0.0), np.where(hi_k, hi - centre, 0.0)]
    bars = ax.errorbar(x, centre, yerr=yerr, **kw)
    color = kw.get("color")
    for mask, marker, factor in ((~hi_k, 6, 1.5), (~lo_k, 7, 1 / 1.5)):
        ends = np.where(hi_k, hi, centre) if marker == 6 else np.where(lo_k, lo, centre)
        sel = mask & np.isfinite(centre)
        if sel.any():
            ax.plot(x[sel], ends[sel] * factor, ls="none", marker=marker, mfc="none", color=color, ms=5)
    return bars
