"""Amplitude versus phase in the two-direction task: the sympy model, the engine, the claims at the
smoke tier, and the command line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jax
import numpy as np
import pytest
import sympy as sp
from conftest import sample_moment_se, within_se

import claims
import sims.two_direction
import theory
import theory.two_direction
from claims import amplitude_phase as ap
from claims.cli import amplitude_phase as amplitude_phase_command
from claims.registry import REGISTRY


ROOT = Path(__file__).resolve().parents[1]
NAMES = [n for n in REGISTRY if n.startswith("amplitude_phase.")]


def _script():
    return amplitude_phase_command


# ---- theory ------------------------------------------------------------------------------------
def test_hermite_combinations_parse_and_refuse():
    assert theory.two_direction.hermite_combination("he2-0.5he4") == {2: 1, 4: sp.Rational(-1, 2)}
    assert sims.two_direction.hermite_combination("-he4") == {4: -1.0}
    for bad in ("relu", "he2he4", "", "he0", "2"):
        with pytest.raises(ValueError, match="combination"):
            theory.two_direction.hermite_combination(bad)
        with pytest.raises(ValueError, match="combination"):
            sims.two_direction.hermite_combination(bad)


@pytest.mark.parametrize("coupling", [0.0, 0.5, 1.0])
def test_mixed_moments_closed_forms(coupling):
    ba, bp = 0.5, 10.0
    model = theory.two_direction.TwoDirectionModel(ba, bp, coupling)
    assert model.hermite_moment(2, 0) == sp.nsimplify(ba)
    assert model.hermite_moment(0, 2) == 0  # u stays whitened for every coupling
    kappa4 = -2 * bp**2 / (1 + bp) ** 2
    assert math.isclose(float(model.hermite_moment(0, 4)), kappa4, rel_tol=1e-12)
    mu11 = coupling * math.sqrt(2 / math.pi) * math.sqrt((1 + ba) * bp / (1 + bp))
    assert math.isclose(float(model.hermite_moment(1, 1)), mu11, abs_tol=1e-12)


def test_exponents_and_staircase():
    indep = theory.two_direction.TwoDirectionModel(0.5, 10.0, 0.0)
    tied = theory.two_direction.TwoDirectionModel(0.5, 10.0, 1.0)
    amp = theory.two_direction.TwoDirectionLoss(indep, "he2")
    assert (amp.exponent_v, amp.exponent_u, amp.staircase_exponent) == (2, None, None)
    ph = theory.two_direction.TwoDirectionLoss(indep, "-he4")
    assert (ph.exponent_v, ph.exponent_u, ph.staircase_exponent) == (4, 4, 4)
    st = theory.two_direction.TwoDirectionLoss(tied, "he2")
    assert (st.exponent_v, st.exponent_u, st.staircase_exponent) == (2, None, 1)
    assert theory.two_direction.TwoDirectionLoss(tied, "-he4").staircase_exponent == 3
    # Along one direction alone the loss is the single-direction task's.
    for loss, task, d in ((amp, "amplitude", "v"), (ph, "phase", "u")):
        single = theory.PopulationLoss(task, "rademacher", loss.activation, 0.5 if d == "v" else 10.0)
        assert math.isclose(loss.leading_coefficient(d), float(single.leading_coefficient), rel_tol=1e-12)
        assert math.isclose(loss.gradient_scale, float(single.gradient_scale), rel_tol=1e-12)
    # Tied latents: the student ends with both overlaps, on the top eigenvector of the quadratic form.
    mv, mu = st.minimiser
    mu11 = float(tied.hermite_moment(1, 1))
    top = np.linalg.eigh(np.array([[0.5, mu11], [mu11, 0.0]]))[1][:, -1]
    np.testing.assert_allclose([mv, mu], np.abs(top), atol=1e-4)
    with pytest.raises(ValueError, match="coupling"):
        theory.two_direction.TwoDirectionModel(0.5, 10.0, 1.5)


def test_two_direction_ode_reduces_to_the_single_direction_ode():
    """With m_v = 0 and independent latents, the -He4 readout is the phase task's ODE."""
    loss = theory.two_direction.TwoDirectionLoss(
        theory.two_direction.TwoDirectionModel(0.5, 10.0, 0.0), "-he4"
    )
    single = theory.OverlapDynamics(theory.PopulationLoss("phase", "rademacher", "-he4", 10.0), 0.75)
    for dim in (16, 32):
        step = single.step(dim)
        two = loss.ode_escape_samples(dim, step, (0.0, dim**-0.5), (0.75, 0.75))[1]
        one = single.ode_escape_samples(dim, step, dim**-0.5)
        assert math.isclose(two, one, rel_tol=1e-4)


# ---- simulation --------------------------------------------------------------------------------
def test_samples_have_the_model_statistics():
    import sims

    basis = sims.FourierBasis((12,))
    task = sims.two_direction.TwoDirectionTask(0.5, 10.0, 1.0)
    v, u = sims.two_direction.draw_directions(jax.random.key(1), basis)
    assert abs(float(v @ u)) < 1e-6 and math.isclose(float(v @ v), 1, rel_tol=1e-5)
    x, y = sims.two_direction.sample_two_direction(jax.random.key(2), task, v, u, 100_000)
    x, y = np.asarray(x, float), np.asarray(y)
    xv, xu = x[y > 0] @ np.asarray(v, float), x[y > 0] @ np.asarray(u, float)
    est, se = sample_moment_se(xv, 2)
    assert within_se(est, 1.5, se)
    est, se = sample_moment_se(xu, 2)
    assert within_se(est, 1.0, se)
    est, se = sample_moment_se(xv * xu, 1)
    assert within_se(
        est, float(theory.two_direction.TwoDirectionModel(0.5, 10.0, 1.0).hermite_moment(1, 1)), se
    )
    noise = x[y < 0] @ np.asarray(v, float)
    est, se = sample_moment_se(noise, 2)
    assert within_se(est, 1.0, se)


def test_engine_validation():
    task = sims.two_direction.TwoDirectionTask(0.5, 10.0)
    with pytest.raises(ValueError, match="N=3"):
        sims.two_direction.TwoDirectionSGD(3, task, "he2")
    with pytest.raises(ValueError, match="stop_on"):
        sims.two_direction.TwoDirectionSGD(16, task, "he2", stop_on=("w",))
    with pytest.raises(ValueError, match="He_8"):
        sims.two_direction.TwoDirectionSGD(16, task, "he8")
    with pytest.raises(ValueError, match="snr_phase"):
        sims.two_direction.TwoDirectionTask(0.5, -1.0)
    eng = sims.two_direction.TwoDirectionSGD(16, task, "he2")
    with pytest.raises(ValueError, match="step"):
        eng.run(0.0, [0], 10)
    with pytest.raises(ValueError, match="seeds"):
        eng.run(0.1, [-1], 10)


@pytest.mark.slow  # kept out of the 10-minute fast tier
def test_two_layer_student_best_unit_and_reproducibility():
    task = sims.two_direction.TwoDirectionTask(0.5, 10.0, 1.0)
    eng = sims.two_direction.TwoDirectionSGD(10, task, "he2", units=3, start="random", escape=(0.6, 0.45))
    keys = eng.seed_keys(0, np.arange(4))
    W, (v, u) = eng.initial_state(keys)
    W, v, u = np.asarray(W), np.asarray(v), np.asarray(u)
    run = eng.run(0.05, np.arange(4), 4000, n_checkpoints=8)
    np.testing.assert_allclose(
        run["initial_overlap_v"], np.abs(np.einsum("skn,sn->sk", W, v)).max(1), atol=1e-6
    )
    assert np.all(run["finite"])
    assert np.mean(np.isfinite(run["escape_v"])) >= 0.5  # He2 on tied latents learns v quickly
    alone = eng.run(0.05, np.arange(2, 3), 4000, n_checkpoints=8)  # seed 2 re-run alone
    np.testing.assert_array_equal(alone["escape_v"], run["escape_v"][2:3])


# ---- claims and command line ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def claim_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ap_claims")


# Every registered claim runs at smoke scale once, in tests/test_claims.py (software only: no
# smoke test requires a scientific claim to hold).


@pytest.mark.slow  # the command is the sweep's (tests/test_reliability.py); its smoke claims run fast
def test_script_writes_summary_and_reuses_cells(claim_dir, capsys):
    """The smoke profile with --correlated is the claims' experiment: its cells are reused."""
    out = claim_dir / "amplitude-phase"
    code = _script().main(["--profile", "smoke", "--correlated", "--no-progress", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    for key in ("exponents", "staircase"):
        assert re.search(rf"\n{key}: (HOLDS|DOES NOT HOLD|UNDECIDED): ", text), text
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["readouts"]) == {"amplitude", "phase", "staircase"}
    assert summary["config"]["coupling"] == 1.0 and summary["provenance"]["schema_version"] == 1
    assert (out / "escape.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--student", "cnn"], "unknown student 'cnn'"),
        (["--N", "4", "16"], "--N value 4 is too small"),
        (["--N", "16", "16", "32"], "repeats a dimension"),
        (["--seeds", "0"], "--seeds 0"),
        (["--coupling", "2"], "--coupling 2.0 must lie in [0, 1]"),
        (["--snr-phase", "-1"], "--snr-phase -1.0"),
        (["--profile", "huge"], "unknown profile 'huge'"),
    ],
)
def test_script_refuses_bad_input(argv, message, tmp_path, capsys):
    code = _script().main([*argv, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_config_refuses_bad_values():
    with pytest.raises(claims.UsageError, match="--phase-batch"):
        ap.APConfig(phase_batch=0).validated()
    assert ap.APConfig(student="perceptron", units=7).validated().units == 1


def test_two_layer_readouts_start_from_the_best_of_k_units():
    one = ap.Readout(ap.APConfig(student="perceptron", coupling=1.0).validated(), "staircase")
    many = ap.Readout(ap.APConfig(student="two-layer", units=4, coupling=1.0).validated(), "staircase")
    assert one.start == "conditioned" and many.start == "random"
    assert one.start_overlaps(64) == (0.125, 0.125)
    mv, mu = many.start_overlaps(64)
    q = theory.start_quantile(64, 0.5 ** (1 / 4))
    assert math.isclose(math.hypot(mv, mu), q, rel_tol=1e-9) and q > theory.median_abs_start(64)
    # Both ODE predictions are finite; a start twice as far out escapes sooner.
    assert 0 < many.ode(64)[1] < math.inf and 0 < one.ode(64)[1] < math.inf
    assert many.ode(64, (2 * mv, 2 * mu))[1] < many.ode(64)[1]
    cfg = many.cell_config(64)
    assert cfg["units"] == 4 and cfg["start"] == "random" and cfg["coupling"] == 1.0
