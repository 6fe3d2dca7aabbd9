"""Fast tests of the symbolic side (`theory/`) against independent computations.

Every exact formula is checked either exactly (sympy: `simplify(difference) == 0`) or against an
independent numeric route (Gauss quadrature, scipy distributions, Monte Carlo with a fixed seed and
a tolerance of 5 standard errors).
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import sympy as sp
from numpy.polynomial import hermite_e

import theory
import theory.dynamics


ROOT = Path(__file__).resolve().parents[1]
beta = theory.snr
m = theory.m
SNR = sp.Rational(3)  # a numeric snr: sympy is ~20x faster than with the symbol beta

# ---- independent quadrature ------------------------------------------------------------------
# Gauss-Hermite (probabilists') with 200 nodes for smooth integrands against N(0, 1).
_GH_X, _GH_W = hermite_e.hermegauss(200)
_GH_W = _GH_W / math.sqrt(2 * math.pi)
# ReLU has a kink at 0 where Gauss-Hermite converges slowly (error ~1e-3 at 200 nodes), so the
# half-line integral is done with Gauss-Legendre on [0, 14] where the integrand is smooth
# (the Gaussian tail beyond 14 is below 1e-40).
_GL_X, _GL_W = np.polynomial.legendre.leggauss(400)
_HALF_X = (_GL_X + 1) * 7.0
_HALF_W = _GL_W * 7.0 * np.exp(-(_HALF_X**2) / 2) / math.sqrt(2 * math.pi)


def he(j: int, t: np.ndarray) -> np.ndarray:
    coeffs = np.zeros(j + 1)
    coeffs[j] = 1.0
    return hermite_e.hermeval(t, coeffs)


def gauss_mean(fn) -> float:
    """E[fn(Z)], Z ~ N(0, 1), for smooth fn."""
    return float(np.sum(_GH_W * fn(_GH_X)))


def relu_mean(fn) -> float:
    """E[fn(Z) 1{Z > 0}], Z ~ N(0, 1): the half-line integral only."""
    return float(np.sum(_HALF_W * fn(_HALF_X)))


def erf_np(t):
    return np.vectorize(math.erf)(t)


NUMERIC_COEFF = {
    "relu": lambda j: relu_mean(lambda t: t * he(j, t)),
    "erf": lambda j: gauss_mean(lambda t: erf_np(t) * he(j, t)),
    "tanh": lambda j: gauss_mean(lambda t: np.tanh(t) * he(j, t)),
}
NUMERIC_GRAD2 = {
    "relu": lambda: relu_mean(lambda t: np.ones_like(t)),
    "erf": lambda: gauss_mean(lambda t: (2 / math.sqrt(math.pi) * np.exp(-(t**2))) ** 2),
    "tanh": lambda: gauss_mean(lambda t: (1 - np.tanh(t) ** 2) ** 2),
}


# ---- Hermite polynomials and coefficients -------------------------------------------------------
@pytest.mark.parametrize("j", range(9))
def test_hermite_polynomials_match_numpy(j):
    ours = sp.Poly(theory.hermite(j), sp.Symbol("x", real=True)).all_coeffs()[::-1]
    coeffs = np.zeros(j + 1)
    coeffs[j] = 1.0
    ref = hermite_e.herme2poly(coeffs)
    assert [int(c) for c in ours] == [int(round(c)) for c in ref]


@pytest.mark.parametrize("j", range(7))
@pytest.mark.parametrize("name", ["relu", "erf", "tanh"])
def test_hermite_coefficients_against_quadrature(name, j):
    got = float(theory.hermite_coefficients(name, 6)[j])
    assert abs(got - NUMERIC_COEFF[name](j)) < 1e-6


@pytest.mark.parametrize("name", ["relu", "erf", "tanh"])
def test_flipped_activation_flips_every_coefficient(name):
    plus = theory.hermite_coefficients(name, 6)
    minus = theory.hermite_coefficients(f"-{name}", 6)
    assert all(sp.simplify(a + b) == 0 for a, b in zip(plus, minus, strict=True))


def test_relu_and_erf_coefficients_are_exact():
    relu = theory.hermite_coefficients("relu", 6)
    phi0 = 1 / sp.sqrt(2 * sp.pi)  # sigma_j = phi(0) He_{j-2}(0) for j >= 2
    expected = (phi0, sp.Rational(1, 2), phi0, 0, -phi0, 0, 3 * phi0)
    assert all(sp.simplify(a - b) == 0 for a, b in zip(relu, expected, strict=True))
    erf1 = theory.hermite_coefficients("erf", 1)[1]
    assert sp.simplify(erf1 - 2 / sp.sqrt(3 * sp.pi)) == 0
    assert not any(c.has(sp.Float) for c in relu + theory.hermite_coefficients("erf", 6))


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("k", range(1, 7))
def test_polynomial_activation_coefficients_exact(k, sign):
    name = f"he{k}" if sign > 0 else f"-he{k}"
    coeffs = theory.hermite_coefficients(name, 8)
    expected = [sign * math.factorial(k) if j == k else 0 for j in range(9)]
    assert all(isinstance(c, sp.Integer) for c in coeffs)
    assert [int(c) for c in coeffs] == expected
    # the expansion sum_j sigma_j / j! He_j rebuilds the activation exactly
    rebuilt = sum(c / sp.factorial(j) * theory.hermite(j) for j, c in enumerate(coeffs))
    assert sp.expand(rebuilt - theory.activation_expr(name)) == 0


@pytest.mark.parametrize("k", range(1, 7))
def test_derivative_second_moment_polynomials(k):
    # E[He_k'(Z)^2] = k^2 E[He_{k-1}(Z)^2] = k^2 (k-1)! = k k!
    assert theory.derivative_second_moment(f"he{k}") == k * math.factorial(k)
    assert theory.derivative_second_moment(f"-he{k}") == k * math.factorial(k)


@pytest.mark.parametrize("name", ["relu", "erf", "tanh"])
def test_derivative_second_moment_against_quadrature(name):
    got = float(theory.derivative_second_moment(name))
    assert abs(got - NUMERIC_GRAD2[name]()) < 1e-6


# ---- latents -------------------------------------------------------------------------------
def _two_point(rho: float):
    s = math.sqrt(rho * (1 - rho))
    return np.array([(1 - rho) / s, -rho / s]), np.array([rho, 1 - rho])


_SKEW_ATOMS, _SKEW_PROBS = _two_point(0.2)
_LAG_X, _LAG_W = np.polynomial.laguerre.laggauss(40)  # exact for polynomials times e^-u


def _laplace_moment(p: int) -> float:
    # density e^{-|t|/b} / (2b), b = 1/sqrt 2: E[g^p] = b^p int_0^inf u^p e^{-u} du for even p
    b = 1 / math.sqrt(2)
    return 0.0 if p % 2 else float(np.sum(_LAG_W * (b * _LAG_X) ** p))


def _uniform_moment(p: int) -> float:
    half = math.sqrt(3)  # uniform on [-half, half]: Gauss-Legendre is exact for polynomials
    return float(np.sum(_GL_W * (half * _GL_X) ** p) / 2)


INDEPENDENT_MOMENT = {
    "rademacher": lambda p: 1.0 if p % 2 == 0 else 0.0,
    "gaussian": lambda p: float(scipy.stats.norm.moment(p)),
    "laplace": _laplace_moment,
    "uniform": _uniform_moment,
    "skewed": lambda p: float(np.sum(_SKEW_PROBS * _SKEW_ATOMS**p)),
}


@pytest.mark.parametrize("p", range(13))
@pytest.mark.parametrize("name", sorted(INDEPENDENT_MOMENT))
def test_latent_moments_against_scipy(name, p):
    got = float(theory.latent(name).moments[p])
    want = INDEPENDENT_MOMENT[name](p)
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    "name, fourth",
    [
        ("uniform", sp.Rational(9, 5)),
        ("laplace", 6),
        ("rademacher", 1),
        ("gaussian", 3),
        ("skewed", sp.Rational(13, 4)),
    ],
)
def test_latent_fourth_moment_exact(name, fourth):
    assert theory.latent(name).moments[4] == fourth


@pytest.mark.parametrize(
    "name, order, value",
    [
        ("rademacher", 3, 0),
        ("rademacher", 4, -2),
        ("rademacher", 6, 16),
        ("uniform", 4, sp.Rational(-6, 5)),
        ("laplace", 4, 3),
        ("gaussian", 3, 0),
        ("gaussian", 4, 0),
        ("gaussian", 6, 0),
        ("skewed", 3, sp.Rational(3, 2)),
        ("skewed", 4, sp.Rational(1, 4)),
    ],
)
def test_latent_cumulants(name, order, value):
    assert sp.simplify(theory.latent(name).cumulant(order) - value) == 0


@pytest.mark.parametrize("name", ["uniform", "laplace", "skewed"])
def test_latent_cumulant_4_against_scipy(name):
    # scipy's excess kurtosis is kappa_4 / sigma^4 = kappa_4 for a standardised law
    if name == "skewed":
        want = float(np.sum(_SKEW_PROBS * _SKEW_ATOMS**4)) - 3
    else:
        dist = {
            "uniform": scipy.stats.uniform(loc=-math.sqrt(3), scale=2 * math.sqrt(3)),
            "laplace": scipy.stats.laplace(scale=1 / math.sqrt(2)),
        }[name]
        want = float(dist.stats(moments="k"))
    assert math.isclose(float(theory.latent(name).cumulant(4)), want, rel_tol=1e-12)


# ---- spike Hermite moments ----------------------------------------------------------------------
def test_phase_rademacher_spike_moments_exact():
    mu = theory.spike_hermite_moments("phase", theory.latent("rademacher"))
    assert mu[0] == 1
    assert mu[1] == 0 and mu[2] == 0 and mu[3] == 0
    assert sp.simplify(mu[4] - (-2 * beta**2 / (1 + beta) ** 2)) == 0
    assert all(mu[j] == 0 for j in range(1, len(mu), 2))  # symmetric latent: no odd orders


@pytest.mark.parametrize("snr", [sp.Rational(1, 3), sp.Integer(2), sp.Integer(7)])
@pytest.mark.parametrize("name", ["rademacher", "uniform", "laplace", "skewed", "gaussian"])
def test_phase_spike_moments_are_scaled_cumulants(name, snr):
    # exact at three rational snr (symbolic beta for every latent is asserted by the docs script)
    lat = theory.latent(name)
    mu = theory.spike_hermite_moments("phase", lat, snr)
    r = snr / (1 + snr)
    assert mu[1] == 0 and mu[2] == 0  # phase task: same mean and variance as the noise class
    assert sp.simplify(mu[3] - lat.cumulant(3) * r ** sp.Rational(3, 2)) == 0
    assert sp.simplify(mu[4] - lat.cumulant(4) * r**2) == 0


def test_amplitude_and_mean_spike_moments_exact():
    lat = theory.latent("rademacher")
    amp = theory.spike_hermite_moments("amplitude", lat)
    mean = theory.spike_hermite_moments("mean", lat)
    for j in range(1, 9):
        # E[He_j(sqrt(1+b) z)] = (j-1)!! b^(j/2) for even j (Hermite scaling); E[He_j(z + c)] = c^j
        want_amp = sp.factorial2(j - 1) * beta ** sp.Rational(j, 2) if j % 2 == 0 else 0
        assert sp.simplify(amp[j] - want_amp) == 0
        assert sp.simplify(mean[j] - beta ** sp.Rational(j, 2)) == 0


def _sample_latent(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    if name == "rademacher":
        return rng.choice([-1.0, 1.0], size=size)
    if name == "uniform":
        return rng.uniform(-math.sqrt(3), math.sqrt(3), size=size)
    if name == "laplace":
        return rng.laplace(scale=1 / math.sqrt(2), size=size)
    if name == "skewed":
        return rng.choice(_SKEW_ATOMS, p=_SKEW_PROBS, size=size)
    return rng.standard_normal(size)


@pytest.mark.parametrize(
    "task, name, snr",
    [
        ("phase", "skewed", 2),
        ("phase", "rademacher", 5),
        ("phase", "uniform", 3),
        ("phase", "laplace", 1),
        ("amplitude", "rademacher", 2),
        ("mean", "rademacher", 2),
    ],
)
def test_spike_hermite_moments_monte_carlo(task, name, snr):
    rng = np.random.default_rng(20260516)
    size = 10**6
    z = rng.standard_normal(size)
    if task == "phase":
        x = (z + math.sqrt(snr) * _sample_latent(name, rng, size)) / math.sqrt(1 + snr)
    elif task == "amplitude":
        x = math.sqrt(1 + snr) * z
    else:
        x = z + math.sqrt(snr)
    mu = theory.spike_hermite_moments(task, theory.latent(name), sp.Integer(snr))
    for j in range(1, 7):
        values = he(j, x)
        se = values.std() / math.sqrt(size)
        assert abs(values.mean() - float(mu[j])) < 5 * se + 1e-12, (j, values.mean(), mu[j])


# ---- population loss -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "task, lat, act, k",
    [
        ("phase", "rademacher", "-he4", 4),
        ("phase", "rademacher", "he4", 4),
        ("phase", "rademacher", "relu", 4),
        ("phase", "skewed", "he3", 3),
        ("phase", "skewed", "relu", 4),  # relu has sigma_3 = 0: the skewness is invisible to it
        ("phase", "skewed", "tanh", 3),
        ("phase", "laplace", "he4", 4),
        ("amplitude", "rademacher", "he2", 2),
        ("amplitude", "rademacher", "relu", 2),
        ("mean", "rademacher", "he1", 1),
        ("mean", "rademacher", "relu", 1),
        ("phase", "gaussian", "-he4", None),
        ("phase", "rademacher", "erf", None),
        ("phase", "rademacher", "he3", None),
    ],
)
def test_information_exponent(task, lat, act, k):
    # numeric beta keeps this fast; the symbolic-beta exponents are printed (and so exercised) by
    # scripts/make_theory_docs.py, checked in test_theory_docs_up_to_date
    assert theory.PopulationLoss(task, lat, act, beta=SNR).information_exponent == k


def test_phase_rademacher_population_loss_exact():
    loss = theory.PopulationLoss("phase", "rademacher", "-he4")
    assert sp.simplify(loss.series + beta**2 / (1 + beta) ** 2 * m**4) == 0
    assert sp.simplify(loss.leading_coefficient - beta**2 / (1 + beta) ** 2) == 0
    at10 = theory.PopulationLoss("phase", "rademacher", "-he4", beta=10)
    assert math.isclose(float(at10.leading_coefficient), 100 / 121)


def test_relu_leading_coefficient_from_independent_coefficients():
    # a_4 = sigma_4 mu_4 / (2 * 4!) with sigma_4 = -phi(0) and mu_4 = -2 b^2 / (1+b)^2
    loss = theory.PopulationLoss("phase", "rademacher", "relu", beta=3)
    sigma4 = -1 / math.sqrt(2 * math.pi)
    mu4 = -2 * 9 / 16
    assert math.isclose(float(loss.leading_coefficient), sigma4 * mu4 / 48, rel_tol=1e-12)


@pytest.mark.parametrize(
    "task, lat, act, recoverable",
    [
        ("phase", "rademacher", "-he4", True),
        ("phase", "rademacher", "he4", False),
        ("phase", "rademacher", "relu", True),
        ("phase", "laplace", "he4", True),
        ("phase", "laplace", "-he4", False),
        ("phase", "skewed", "he3", True),
        ("phase", "skewed", "-he3", True),
        ("amplitude", "rademacher", "-he2", False),
        ("phase", "gaussian", "-he4", False),
    ],
)
def test_recoverable(task, lat, act, recoverable):
    assert theory.PopulationLoss(task, lat, act, beta=SNR).recoverable is recoverable


@pytest.mark.parametrize("lat, act, flipped", [("rademacher", "he4", "-he4"), ("laplace", "-he4", "he4")])
def test_unrecoverable_verdict_suggests_flipped_activation(lat, act, flipped):
    verdict = theory.PopulationLoss("phase", lat, act, beta=SNR).verdict
    assert "local minimum" in verdict
    assert verdict.endswith(f"(flip the activation's sign: {flipped})")


def test_no_signal_verdict_and_leading_coefficient_refused():
    loss = theory.PopulationLoss("phase", "gaussian", "-he4", beta=SNR)
    assert loss.verdict.startswith("no signal")
    with pytest.raises(ValueError, match="no signal"):
        _ = loss.leading_coefficient


@pytest.mark.parametrize(
    "task, lat, expected",
    [
        ("phase", "rademacher", "-he4"),
        ("phase", "skewed", "he3"),
        ("phase", "laplace", "he4"),
        ("phase", "uniform", "-he4"),
        ("amplitude", "rademacher", "he2"),
        ("mean", "rademacher", "he1"),
    ],
)
def test_recommended_activation(task, lat, expected):
    assert theory.recommended_activation(task, lat) == expected
    assert theory.PopulationLoss(task, lat, expected, beta=2).recoverable


def test_recommended_activation_refuses_gaussian_phase():
    with pytest.raises(ValueError, match="gaussian"):
        theory.recommended_activation("phase", "gaussian")


# ---- escape samples, schedule, thresholds -------------------------------------------------
@pytest.mark.parametrize("k", range(1, 7))
def test_escape_samples_leading_differentiates_back(k):
    n_esc = theory.escape_samples_leading(k)
    d = theory.dynamics
    rate = d.N / (d.delta * k * d.a_k * d.m1 ** (k - 1))
    assert sp.simplify(sp.diff(n_esc, theory.dynamics.m1) - rate) == 0
    assert sp.simplify(n_esc.subs(theory.dynamics.m1, theory.dynamics.m0)) == 0


def test_escape_samples_general_matches_leading():
    general = theory.escape_samples_general()
    rate = theory.dynamics.N / (
        theory.dynamics.delta
        * theory.dynamics.k_sym
        * theory.dynamics.a_k
        * theory.dynamics.m1 ** (theory.dynamics.k_sym - 1)
    )
    assert sp.simplify(sp.diff(general, theory.dynamics.m1) - rate) == 0
    for k in (3, 4, 5):
        assert sp.simplify(general.subs(theory.dynamics.k_sym, k) - theory.escape_samples_leading(k)) == 0


@pytest.mark.parametrize(
    "k, expected",
    [
        (1, theory.dynamics.delta0),
        (2, theory.dynamics.delta0 / sp.log(theory.dynamics.N)),
        (3, theory.dynamics.delta0 / (sp.sqrt(theory.dynamics.N) * sp.log(theory.dynamics.N))),
        (4, theory.dynamics.delta0 / (theory.dynamics.N * sp.log(theory.dynamics.N))),
        (6, theory.dynamics.delta0 / (theory.dynamics.N**2 * sp.log(theory.dynamics.N))),
    ],
)
def test_step_schedule(k, expected):
    assert sp.simplify(theory.step_schedule(k) - expected) == 0


LOG = sp.log(theory.dynamics.N)


@pytest.mark.parametrize(
    "k, lower, upper",
    [
        (1, theory.dynamics.N, theory.dynamics.N * LOG),
        (2, theory.dynamics.N * LOG, theory.dynamics.N * LOG**2),
        (3, theory.dynamics.N**2, theory.dynamics.N**2 * LOG**2),
        (4, theory.dynamics.N**3, theory.dynamics.N**3 * LOG**2),
        (5, theory.dynamics.N**4, theory.dynamics.N**4 * LOG**2),
    ],
)
def test_thresholds(k, lower, upper):
    # k >= 3: BAGJ's N^(k-1) and N^(k-1) log^2 N (the seed paper's N^3, N^3 log^2 N at k = 4)
    assert sp.simplify(theory.lower_threshold(k) - lower) == 0
    assert sp.simplify(theory.upper_threshold(k) - upper) == 0
    powers = theory.threshold_powers(k)
    for name, expr in (("lower", lower), ("upper", upper)):
        e, q = powers[name]
        assert sp.simplify(expr - theory.dynamics.N**e * LOG**q) == 0


@pytest.mark.parametrize(
    "task, lat, act", [("phase", "rademacher", "-he4"), ("amplitude", "rademacher", "he2")]
)
def test_numeric_thresholds_match_symbolic(task, lat, act):
    d = _dynamics(task, lat, act)
    dims = np.array([16, 64, 256])
    for name in ("lower", "upper"):
        expr = getattr(theory, f"{name}_threshold")(d.k)
        want = [float(expr.subs(theory.dynamics.N, int(v))) for v in dims]
        np.testing.assert_allclose(getattr(d, f"{name}_threshold")(dims), want, rtol=1e-12)


# ---- overlap dynamics -------------------------------------------------------------------------
def _dynamics(task, lat, act, snr=10, m_escape=theory.ESCAPE_OVERLAP):
    return theory.OverlapDynamics(theory.PopulationLoss(task, lat, act, beta=snr), m_escape)


PURE = [  # single-order population losses: the ODE has the drift of the closed form
    ("phase", "rademacher", "-he4", 0.5),
    ("phase", "laplace", "he4", 0.5),
    ("phase", "skewed", "he3", 0.2),
    ("amplitude", "rademacher", "he2", 0.2),
    ("mean", "rademacher", "he1", 0.2),
]


@pytest.mark.parametrize("task, lat, act, m_escape", PURE)
def test_ode_matches_leading_for_tiny_step(task, lat, act, m_escape):
    # tiny step: shrink/drift ~ 1e-4; m_escape keeps the (1 - m^2) factor below 2 %
    d = _dynamics(task, lat, act, m_escape=m_escape)
    dim = 64
    step = 1e-3 * d.step(dim)
    start = 0.05
    ode = d.ode_escape_samples(dim, step, start)
    lead = d.leading_escape_samples(dim, step, start)
    assert math.isfinite(ode)
    assert abs(ode / lead - 1) < 0.05
    assert ode >= lead  # (1 - m^2) and the shrink only slow the escape down


@pytest.mark.parametrize("factor, finite", [(0.9, True), (1.1, False), (10.0, False)])
def test_ode_infinite_when_shrink_dominates_at_start(factor, finite):
    d = _dynamics("phase", "rademacher", "-he4")
    dim, start = 64, 0.1
    # drift = shrink at the start for delta* = 2 k a m0^(k-2) (1 - m0^2) / s
    critical = 2 * d.k * float(d.a) * start ** (d.k - 2) * (1 - start**2) / float(d.s)
    ode = d.ode_escape_samples(dim, factor * critical, start)
    assert math.isfinite(ode) is finite
    assert math.isfinite(d.leading_escape_samples(dim, factor * critical, start))


def test_ode_odd_k_wrong_side_is_infinite():
    d = _dynamics("phase", "skewed", "he3")
    step = d.step(64)
    assert math.isfinite(d.ode_escape_samples(64, step, 0.1))
    assert d.ode_escape_samples(64, step, -0.1) == math.inf
    assert d.ode_escape_samples(64, step, 0.0) == math.inf


def test_ode_even_k_sign_irrelevant_and_zero_above_threshold():
    d = _dynamics("phase", "rademacher", "-he4")
    step = d.step(32)
    assert d.ode_escape_samples(32, step, -0.2) == d.ode_escape_samples(32, step, 0.2)
    assert d.ode_escape_samples(32, step, 0.7) == 0.0


@pytest.mark.parametrize("task, lat, act", [("phase", "skewed", "he3"), ("mean", "rademacher", "he1")])
def test_ode_odd_k_negative_coefficient_escapes_from_negative_side(task, lat, act):
    plus = _dynamics(task, lat, act)
    minus = _dynamics(task, lat, f"-{act}")
    assert minus.loss.favourable_sign == -1
    step = plus.step(64)
    want = plus.ode_escape_samples(64, step, 0.1)
    assert math.isclose(minus.ode_escape_samples(64, step, -0.1), want, rel_tol=1e-9)


def test_default_step_positive_for_negative_odd_coefficient():
    d = _dynamics("phase", "skewed", "-he3")
    assert d.default_delta0 > 0
    assert d.leading_escape_samples(64, abs(d.step(64)), -0.1) > 0


def test_verdict_of_negative_odd_coefficient_is_not_self_contradictory():
    verdict = theory.PopulationLoss("phase", "skewed", "-he3", beta=2).verdict
    assert "-m > 0" in verdict
    assert not ("a_k = -" in verdict and "> 0: m = 0" in verdict)


@pytest.mark.parametrize(
    "task, lat, act, snr",
    [
        ("phase", "rademacher", "-he4", 10),
        ("phase", "rademacher", "relu", 10),
        ("phase", "skewed", "he3", 10),
        ("phase", "skewed", "he3", 0.05),
        ("amplitude", "rademacher", "he2", 10),
        ("amplitude", "rademacher", "he2", 0.01),
        ("mean", "rademacher", "he1", 10),
        ("mean", "rademacher", "he1", 0.01),
    ],
)
def test_default_delta0_rule(task, lat, act, snr):
    # delta_0 = min(stability, small-step): drift / shrink >= 10 at m0 = N^-1/2 (leading drift,
    # no (1 - m^2)) and (delta_N / N) k a_k <= 1e-3, both at N = 16, with one of them tight
    d = _dynamics(task, lat, act, snr=snr)
    dim = theory.dynamics.REFERENCE_DIM
    step, start = d.step(dim), dim**-0.5
    k, a, s = d.k, float(d.a), float(d.s)
    ratio = (k * a * start ** (k - 1) * step / dim) / (step**2 / (2 * dim) * s * start)
    relative_drift = step / dim * k * a
    assert d.default_delta0 > 0
    assert ratio >= theory.dynamics.STABILITY_RATIO * (1 - 1e-9)
    assert relative_drift <= theory.dynamics.MAX_RELATIVE_DRIFT * (1 + 1e-9)
    assert math.isclose(ratio, theory.dynamics.STABILITY_RATIO, rel_tol=1e-9) or math.isclose(
        relative_drift, theory.dynamics.MAX_RELATIVE_DRIFT, rel_tol=1e-9
    )


@pytest.mark.parametrize(
    "k, dims, batches",
    [(4, (16, 64), (16, 64)), (3, (16, 64), (4, 8)), (2, (16, 256), (1, 1)), (1, (16, 256), (1, 1))],
)
def test_default_batch_size(k, dims, batches):
    combos = {
        4: ("phase", "rademacher", "-he4"),
        3: ("phase", "skewed", "he3"),
        2: ("amplitude", "rademacher", "he2"),
        1: ("mean", "rademacher", "he1"),
    }
    d = _dynamics(*combos[k])
    assert tuple(d.batch_size(n) for n in dims) == batches


@pytest.mark.parametrize("task, lat, act", [("phase", "rademacher", "-he4"), ("phase", "skewed", "he3")])
@pytest.mark.parametrize("dim", [16, 64, 256])
def test_escape_scale_is_log_n_times_leading_escape(task, lat, act, dim):
    d = _dynamics(task, lat, act)
    k, m1 = d.k, d.m_escape
    lead = d.leading_escape_samples(dim, d.step(dim), dim**-0.5)
    # exact: n_lead = N^(k-1) log N (1 - (m1^2 N)^(-(k-2)/2)) / ((k-2) k a delta0)
    want = math.log(dim) / (1 - (m1**2 * dim) ** (-(k - 2) / 2))
    assert math.isclose(d.escape_scale(dim) / lead, want, rel_tol=1e-9)


def test_symbolic_drift_shrink_noise():
    d = _dynamics("phase", "rademacher", "-he4")
    a = sp.Rational(100, 121)
    assert sp.simplify(d.drift - theory.dynamics.delta / theory.dynamics.N * (1 - m**2) * 4 * a * m**3) == 0
    assert sp.simplify(d.shrink + theory.dynamics.delta**2 / (2 * theory.dynamics.N) * 96 * m) == 0
    assert sp.simplify(d.noise_variance - theory.dynamics.delta**2 / theory.dynamics.N**2 * 96) == 0
    assert sp.simplify(d.rate - d.drift - d.shrink) == 0


# ---- random starts -----------------------------------------------------------------------------
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dim", [4, 16, 64, 256])
def test_start_quantiles_against_monte_carlo(dim, q):
    # w.u for w uniform on the sphere: z_1 / sqrt(z_1^2 + chi^2_{N-1}); the empirical CDF at the
    # predicted quantile must be q within 5 binomial standard errors.
    rng = np.random.default_rng(1000 + dim)
    size = 400_000
    z1 = rng.standard_normal(size)
    overlap = np.abs(z1) / np.sqrt(z1**2 + rng.chisquare(dim - 1, size))
    predicted = theory.median_abs_start(dim) if q == 0.5 else theory.start_quantile(dim, q)
    frac = float(np.mean(overlap <= predicted))
    assert abs(frac - q) < 5 * math.sqrt(q * (1 - q) / size)


def test_median_abs_start_is_the_half_quantile():
    for dim in (8, 100):
        assert math.isclose(theory.median_abs_start(dim), theory.start_quantile(dim, 0.5))


# ---- bad inputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gelu", "he7", "--he4", "sigmoid"])
def test_unknown_activation(name):
    with pytest.raises(ValueError, match=f"unknown activation '{name}'"):
        theory.hermite_coefficients(name, 4)
    with pytest.raises(ValueError, match="unknown activation"):
        theory.PopulationLoss("phase", "rademacher", name)


def test_activation_must_be_a_string():
    with pytest.raises(ValueError, match="4"):
        theory.parse_activation(4)


@pytest.mark.parametrize("name", ["cauchy", "rademacher:2", "gauss"])
def test_unknown_latent(name):
    with pytest.raises(ValueError, match=f"unknown latent '{name}'"):
        theory.latent(name)
    with pytest.raises(ValueError, match=name):
        theory.PopulationLoss("phase", name, "he4")


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_latent(spec):
    with pytest.raises(ValueError, match="non-empty"):
        theory.latent(spec)


@pytest.mark.parametrize("task", ["texture", "Phase", ""])
def test_unknown_task(task):
    with pytest.raises(ValueError, match=f"unknown task '{task}'"):
        theory.spike_hermite_moments(task, theory.latent("rademacher"))
    with pytest.raises(ValueError, match="unknown task"):
        theory.recommended_activation(task, "rademacher")


def test_unknown_task_rejected_at_construction():
    with pytest.raises(ValueError, match="unknown task 'texture'"):
        theory.PopulationLoss("texture", "rademacher", "he4")


@pytest.mark.parametrize(
    "spec, shown",
    [
        ("moments:0,1,0,0.5", "E[g^4]=1/2"),
        ("moments:0,1,1,1.5", "E[g^4]=3/2"),
        ("moments:0,1,-2,4", "E[g^3]=-2"),
    ],
)
def test_latent_moments_impossible(spec, shown):
    with pytest.raises(ValueError, match="belong to no") as info:
        theory.latent(spec)
    assert shown in str(info.value) and spec in str(info.value)


@pytest.mark.parametrize("spec", ["moments:0.5,1,0,3", "moments:0,2,0,3"])
def test_latent_moments_not_standardised(spec):
    with pytest.raises(ValueError, match="mean 0 and variance 1"):
        theory.latent(spec)


def test_latent_moments_accepted():
    lat = theory.latent("moments:0,1,0,2")
    assert lat.max_order == 4 and lat.cumulant(4) == -1
    with pytest.raises(ValueError, match="moment 5 unknown"):
        lat.cumulant(5)


@pytest.mark.parametrize("spec", ["skewed:1.5", "skewed:0", "skewed:abc"])
def test_skewed_parameter_out_of_range(spec):
    with pytest.raises(ValueError, match="RHO"):
        theory.latent(spec)


@pytest.mark.parametrize("snr", [0, -1, -0.5])
def test_snr_must_be_positive(snr):
    with pytest.raises(ValueError, match=f"snr must be positive, got {snr}"):
        theory.PopulationLoss("phase", "rademacher", "-he4", beta=snr)


def test_overlap_dynamics_bad_inputs():
    with pytest.raises(ValueError, match="numeric snr"):
        theory.OverlapDynamics(theory.PopulationLoss("phase", "rademacher", "-he4"))
    with pytest.raises(ValueError, match="local minimum"):
        theory.OverlapDynamics(theory.PopulationLoss("phase", "rademacher", "he4", beta=10))
    with pytest.raises(ValueError, match="1.5"):
        _dynamics("phase", "rademacher", "-he4", m_escape=1.5)


def test_hermite_negative_order():
    with pytest.raises(ValueError, match="-1"):
        theory.hermite(-1)


# ---- generated docs ---------------------------------------------------------------------------
_DOCS_TEST = "test_theory_docs_up_to_date"


@pytest.fixture(scope="module", autouse=True)
def docs_check(request):
    """`scripts/make_theory_docs.py --check` in a subprocess, started when this module starts.

    The check regenerates the whole page (about 20 s of one core, mostly sympy); starting it
    first lets the other tests of this file use the second core meanwhile. It starts only when
    the docs test is selected, and is killed (by its own pid) if still running at the end.
    """
    proc = log = None
    if any(item.name == _DOCS_TEST for item in request.session.items):
        log = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "make_theory_docs.py"), "--check"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    yield proc, log
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    if log is not None:
        log.close()


def test_theory_docs_up_to_date(docs_check):
    proc, log = docs_check
    code = proc.wait(timeout=300)
    log.seek(0)
    assert code == 0, log.read()


def test_population_force_and_ode_trajectory_agree_with_escape_quadrature():
    loss = theory.PopulationLoss("phase", "rademacher", "-he4", 10)
    dyn = theory.OverlapDynamics(loss)
    coeffs = dyn.population_gradient_coefficients
    # -phi'(m) = 4 |a_4| m^3 for the -He4 student of the phase task.
    assert coeffs[:3] == (0.0, 0.0, 0.0) and math.isclose(coeffs[3], 4 * abs(float(loss.leading_coefficient)))
    dim, step = 32, dyn.step(32)
    n_esc = dyn.ode_escape_samples(dim, step, dim**-0.5)
    traj = dyn.ode_trajectory(dim, step, dim**-0.5, [0.5 * n_esc, 0.999 * n_esc, 1.001 * n_esc])
    assert traj[0] < 0.5 and abs(traj[1] - 0.5) < 0.01 and traj[2] >= 0.499
    assert set(dyn.sde) == {"mu", "D"}
