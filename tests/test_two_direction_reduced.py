"""The exact reduced (r = 2) chain of the two-direction task against the full engine: agreement in
law (two-sample KS), bad input, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sims.two_direction


N, BATCH, SEEDS = 16, 4, 256
TASK = sims.two_direction.TwoDirectionTask(
    0.5, 10.0, 0.5
)  # coupling 0.5: tied and free phase signs both occur
STEP, BUDGET, ESCAPE = 0.5, 20_000, (0.8, 0.5)
CHECKPOINTS = 8  # log-spaced: samples 4, 12, 44, 152, 520, ...
READ_AT = (44.0, 152.0)  # checkpoints read out (reached: some seed is still unfinished there)
# Two readouts share one compiled program per engine (activation, start and task are traced or
# drawn outside it): He_2 from a random start, and -He_4 from the conditioned start.
READOUTS = {"random": "he2", "conditioned": "-he4"}
N_TESTS = 14  # KS tests over both readouts (8 + 6)
LEVEL = 0.001 / N_TESTS


def _engines(start):
    kw = dict(activation=READOUTS[start], batch=BATCH, start=start, escape=ESCAPE)
    return sims.two_direction.TwoDirectionSGD(N, TASK, **kw), sims.two_direction.ReducedTwoDirectionSGD(
        N, TASK, **kw
    )


def _samples(run):
    """The compared statistics of one run, by name (no escape within the budget: 2 x budget)."""
    out = {f"escape_{d}": np.nan_to_num(run[f"escape_{d}"], nan=2.0 * BUDGET) for d in ("v", "u")}
    for at in READ_AT:
        (i,) = np.flatnonzero(run["checkpoint_samples"] == at)
        out[f"overlap_v@{at:g}"] = run["overlap_v"][:, i]
        out[f"overlap_u@{at:g}"] = run["overlap_u"][:, i]
    return out


def ks_pvalues(full_run, reduced_run, start):
    sa, sb = _samples(full_run), _samples(reduced_run)
    if start == "random":  # the start itself is drawn differently by the two engines
        for d in ("v", "u"):
            sa[f"initial_{d}"] = full_run[f"initial_overlap_{d}"]
            sb[f"initial_{d}"] = reduced_run[f"initial_overlap_{d}"]
    for name, x in sa.items():
        assert np.isfinite(x).all() and np.isfinite(sb[name]).all(), name
    return {name: stats.ks_2samp(sa[name], sb[name]).pvalue for name in sa}


# The random start (He2) in the fast tier; the conditioned start (-He4) with `make test-all`.
@pytest.mark.parametrize(
    "start", [s if s == "random" else pytest.param(s, marks=pytest.mark.slow) for s in READOUTS]
)
def test_reduced_chain_agrees_in_law_with_the_full_engine(start):
    """KS p-values on escape samples along v and u and on |m_v|, |m_u| at two checkpoints (and on
    the random start's overlaps), family-wise level 0.001 over all tests of both readouts."""
    full, reduced = _engines(start)
    seeds = np.arange(SEEDS)
    a = full.run(STEP, seeds, BUDGET, n_checkpoints=CHECKPOINTS)
    b = reduced.run(STEP, seeds, BUDGET, n_checkpoints=CHECKPOINTS)
    if start == "conditioned":
        np.testing.assert_allclose(b["initial_overlap_v"], N**-0.5, rtol=1e-6)
        np.testing.assert_allclose(b["initial_overlap_u"], N**-0.5, rtol=1e-6)
    assert a["finite"].all() and b["finite"].all()
    # Most seeds must escape along both directions for the comparison to mean something.
    for run in (a, b):
        assert np.isfinite(run["escape_v"]).mean() > 0.8 and np.isfinite(run["escape_u"]).mean() > 0.8
    pvalues = ks_pvalues(a, b, start)
    assert min(pvalues.values()) > LEVEL, pvalues


def test_reduced_chain_refuses_several_units():
    with pytest.raises(ValueError, match="units=3: use TwoDirectionSGD"):
        sims.two_direction.ReducedTwoDirectionSGD(N, TASK, "he2", units=3)
    with pytest.raises(ValueError, match="N=3"):
        sims.two_direction.ReducedTwoDirectionSGD(3, TASK, "he2")
    with pytest.raises(ValueError, match="step"):
        sims.two_direction.ReducedTwoDirectionSGD(N, TASK, "he2").run(-1.0, [0], 10)


def test_reduced_chain_is_deterministic():
    """Same seeds, same numbers (a fresh engine object, the same compiled program); another root
    seed, other numbers."""
    budget = 2_000  # the same executable as above: the budget only moves the checkpoints
    first = _engines("random")[1].run(STEP, np.arange(SEEDS), budget, n_checkpoints=CHECKPOINTS)
    again = _engines("random")[1].run(STEP, np.arange(SEEDS), budget, n_checkpoints=CHECKPOINTS)
    for name in ("initial_overlap_v", "initial_overlap_u", "escape_v", "escape_u", "overlap_v", "overlap_u"):
        np.testing.assert_array_equal(first[name], again[name])
    assert np.isfinite(first["escape_u"]).mean() > 0.5
    other = _engines("random")[1].run(STEP, np.arange(SEEDS), budget, n_checkpoints=CHECKPOINTS, root_seed=1)
    assert not np.array_equal(first["escape_u"], other["escape_u"], equal_nan=True)
