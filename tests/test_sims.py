"""Tests of the numerical side: data model, latents, activations, engine, statistics, files."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import default_compiler_env, sample_moment_se, within_se

import sims
import theory


# ---- Fourier data model ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(16,), (15,), (8, 8), (5, 5), (6, 4)])
def test_fourier_coordinates_are_orthonormal(shape):
    basis = sims.FourierBasis(shape)
    x = jax.random.normal(jax.random.key(0), (5, *shape))
    c = basis.from_pixels(x)
    assert c.shape == (5, basis.dim)
    np.testing.assert_allclose(basis.to_pixels(c), x, atol=1e-5)
    np.testing.assert_allclose((c**2).sum(-1), (x.reshape(5, -1) ** 2).sum(-1), rtol=1e-5)
    # Coordinates of the identity: the transform is an orthogonal matrix.
    eye = jnp.eye(basis.dim).reshape(basis.dim, *shape)
    mat = np.asarray(basis.from_pixels(eye))
    np.testing.assert_allclose(mat @ mat.T, np.eye(basis.dim), atol=1e-5)
    assert basis.n_self + 2 * basis.n_pairs == basis.dim
    assert np.all(np.diff(basis.frequencies[: basis.n_self]) >= 0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shape"):
        sims.FourierBasis((1,))
    with pytest.raises(ValueError, match="shape"):
        sims.FourierBasis((2, 2, 2))


def test_noise_variants_have_unit_power_and_fixed_amplitudes_are_exact():
    basis = sims.FourierBasis((8, 8))
    n = 20000
    g = np.asarray(sims.draw_noise(jax.random.key(1), basis, (n,), "gaussian"))
    mean, se = sample_moment_se(g[:, 5], 2)
    assert within_se(mean, 1.0, se)
    f = sims.draw_noise(jax.random.key(2), basis, (100,), "fixed_amplitude")
    np.testing.assert_allclose(basis.amplitudes(f), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown noise"):
        sims.draw_noise(jax.random.key(0), basis, (2,), "pink")


def test_spike_has_unit_norm_and_flat_amplitudes():
    basis = sims.FourierBasis((32,))
    u = sims.draw_spike(jax.random.key(3), basis)
    assert abs(float(u @ u) - 1) < 1e-6
    amps = np.asarray(basis.amplitudes(u)) * basis.dim
    np.testing.assert_allclose(amps, 1.0, rtol=1e-4)


def test_pixel_signals_of_both_classes_are_real_and_labelled():
    basis = sims.FourierBasis((8, 8))
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    u = sims.draw_spike(jax.random.key(0), basis)
    x, y = sims.sample_inputs(jax.random.key(1), task, basis, u, 1000)
    pix = basis.to_pixels(x)
    assert pix.shape == (1000, 8, 8) and pix.dtype == jnp.float32
    assert set(np.unique(np.asarray(y))) == {-1.0, 1.0}
    assert 0.4 < float((y > 0).mean()) < 0.6


# ---- latents --------------------------------------------------------------------------------
LATENTS = ["rademacher", "uniform", "laplace", "skewed", "skewed:0.1", "gaussian", "moments:0,1,0.5,3"]


@pytest.mark.parametrize("name", LATENTS)
def test_latent_sampler_moments_match_theory(name):
    sampler = sims.latent_sampler(name)
    exact = theory.latent(name)
    g = np.asarray(sampler.sample(jax.random.key(7), (400_000,)), float)
    for p in range(1, 5):
        assert math.isclose(sampler.moment(p), float(exact.moments[p]), abs_tol=1e-9), (name, p)
        mean, se = sample_moment_se(g, p)
        assert within_se(mean, float(exact.moments[p]), se), (name, p, mean)


def test_quadrature_reproduces_moments_and_refuses_impossible_ones():
    atoms, probs = sims.quadrature_from_moments([1, 0, 1, 0.3, 2.5, -0.2, 9.0])
    for p, target in enumerate([1, 0, 1, 0.3, 2.5, -0.2, 9.0]):
        assert math.isclose(float(np.sum(probs * atoms**p)), target, abs_tol=1e-8)
    with pytest.raises(ValueError, match="no distribution"):
        sims.quadrature_from_moments([1, 0, 1, 1, 1.5])
    with pytest.raises(ValueError, match="finite"):
        sims.quadrature_from_moments([1, 0, 1, float("nan"), 3])


@pytest.mark.parametrize("bad", ["student-t", "moments:0.1,1,0,2", "moments:0,2,0,3", "skewed:1.5", ""])
def test_bad_latents_name_the_value(bad):
    with pytest.raises(ValueError) as err:
        sims.latent_sampler(bad)
    assert repr(bad) in str(err.value) or "non-empty" in str(err.value)


# ---- activations ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["he1", "he2", "he3", "-he4", "he5", "he6", "relu", "tanh", "erf"])
def test_activation_derivative_matches_autodiff(name):
    x = jnp.linspace(-3, 3, 41) + 0.013
    fn, d = sims.activation(name), sims.activation_derivative(name)
    auto = jax.vmap(jax.grad(fn))(x)
    np.testing.assert_allclose(d(x), auto, rtol=1e-4, atol=1e-4)


def test_activation_hermite_coefficients_match_theory():
    nodes = np.linspace(-12, 12, 240_001)  # a dense grid: ReLU's kink defeats Gauss-Hermite
    weights = np.exp(-(nodes**2) / 2)
    weights = weights / weights.sum()
    for name in ("relu", "erf", "-he4"):
        sig = np.asarray(sims.activation(name)(jnp.asarray(nodes, jnp.float32)), float)
        exact = theory.hermite_coefficients(name, 4)
        for j in range(5):
            he = np.asarray(sims.hermite_prob(j, jnp.asarray(nodes)), float)
            assert math.isclose(float(np.sum(weights * sig * he)), float(exact[j]), abs_tol=1e-4)


# ---- engine ---------------------------------------------------------------------------------
def _engine(dim=16, **kw):
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    return sims.OnlineSGD(dim, task, "-he4", batch=kw.pop("batch", dim), **kw)


def test_seed_alone_reproduces_its_trajectory_bit_for_bit():
    eng = _engine(start="conditioned")
    batch = eng.run([4e-4], np.arange(4), 60_000, n_checkpoints=12)
    alone = eng.run([4e-4], [2], 60_000, n_checkpoints=12)
    np.testing.assert_array_equal(batch["initial_overlap"][0, 2], alone["initial_overlap"][0, 0])
    np.testing.assert_array_equal(batch["escape_samples"][0, 2], alone["escape_samples"][0, 0])
    a, b = batch["overlap"][0, 2], alone["overlap"][0, 0]
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() >= 3
    np.testing.assert_array_equal(a[both], b[both])


def test_steps_share_data_and_escape_is_consistent_with_overlaps():
    eng = _engine(start="conditioned")
    out = eng.run([2e-4, 4e-4], np.arange(6), 150_000, n_checkpoints=24)
    np.testing.assert_array_equal(out["initial_overlap"][0], out["initial_overlap"][1])
    np.testing.assert_allclose(np.abs(out["initial_overlap"]), 0.25, rtol=1e-5)
    esc = out["escape_samples"]
    assert np.all(out["max_abs_overlap"][np.isfinite(esc)] >= 0.5)
    assert np.all(out["max_abs_overlap"][~np.isfinite(esc)] < 0.5)
    assert np.all(esc[np.isfinite(esc)] % eng.batch == 0)
    # The larger step escapes sooner (drift per sample is proportional to the step).
    assert np.nanmedian(esc[1]) < np.nanmedian(esc[0])


def test_images_escape_like_signals():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    eng = sims.OnlineSGD(16, task, "-he4", batch=16, start="conditioned", shape=(4, 4))
    out = eng.run([4.3e-4], np.arange(8), 250_000, n_checkpoints=8)
    esc = out["escape_samples"][0]
    assert np.mean(np.isfinite(esc)) >= 0.75
    # Same model up to an orthogonal change of basis: medians near the ODE's 8.2e4 samples.
    assert 4e4 < np.nanmedian(esc) < 2e5


def test_fixed_amplitude_noise_runs_and_stays_on_the_sphere():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    eng = sims.OnlineSGD(16, task, "-he4", batch=16, start="conditioned", noise="fixed_amplitude")
    out = eng.run([4.3e-4], np.arange(4), 20_000, n_checkpoints=4)
    assert out["finite"].all() and np.all(np.abs(out["overlap"][np.isfinite(out["overlap"])]) <= 1 + 1e-5)


def test_random_start_takes_the_favourable_sign():
    task = sims.SpikeTask.make("phase", 10.0, "skewed")
    eng = sims.OnlineSGD(16, task, "he3", batch=16, favourable_sign=-1)
    out = eng.run([1e-3], np.arange(16), 16, n_checkpoints=2)
    assert np.all(out["initial_overlap"] < 0)


# ---- reduced engine, SDE rung, devices --------------------------------------------------------
@pytest.mark.parametrize("df", [2, 5, 62])
def test_chisquare_sampler_has_the_chi_square_law(df):
    import scipy.stats

    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(3), s))(jnp.arange(4000))
    x = np.asarray(jax.jit(jax.vmap(lambda k: sims.chisquare(k, df)))(keys), float)
    assert scipy.stats.kstest(x, scipy.stats.chi2(df).cdf).pvalue > 1e-3
    assert within_se(x.mean(), df, x.std() / math.sqrt(x.size), 4)


@pytest.mark.parametrize("df", [2, 62])
@pytest.mark.parametrize("forced", [False, True])
def test_chisquare_from_candidates_has_the_chi_square_law(df, forced):
    """The block engines' sampler: two pre-drawn candidates, then (forced here by candidates that are
    always rejected) the counter-hash rejection loop; both paths give the chi-square law."""
    import scipy.stats

    n = 4000
    words = np.asarray(jax.random.bits(jax.random.key(5), (n, 5), jnp.uint32))
    x = sims.normal_from_words(jnp.asarray(words[:, :2]))
    u = 1 - sims.uniform_from_words(jnp.asarray(words[:, 2:4]))
    if forced:  # v = (1 + c x)^3 < 0: rejected
        x = jnp.full_like(x, -1e3)
    draw = jax.jit(jax.vmap(lambda sd, a, b: sims.chisquare_from(sd, a, b, df)))
    v = np.asarray(draw(jnp.asarray(words[:, 4]), x, u), float)
    assert scipy.stats.kstest(v, scipy.stats.chi2(df).cdf).pvalue > 1e-3
    assert within_se(v.mean(), df, v.std() / math.sqrt(v.size), 4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normals_and_uniforms_from_words(dtype):
    import scipy.stats

    with jax.enable_x64(dtype == "float64"):
        f = 2 if dtype == "float64" else 1
        words = jax.random.bits(jax.random.key(6), (20000 * f,), jnp.uint32)
        z = np.asarray(sims.normal_from_words(words, jnp.dtype(dtype)))
        u = np.asarray(sims.uniform_from_words(words, jnp.dtype(dtype)))
    assert z.dtype == np.dtype(dtype) and z.size == 20000 and np.all(np.isfinite(z))
    assert np.all((u >= 0) & (u < 1))
    assert scipy.stats.kstest(z, "norm").pvalue > 1e-3
    assert scipy.stats.kstest(u, "uniform").pvalue > 1e-3


def test_reduced_random_start_is_the_overlap_of_a_uniform_unit_vector():
    import scipy.stats

    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    eng = sims.ReducedSGD(20, task, "-he4", batch=1)
    m0 = eng.initial_state(eng.seed_keys(0, np.arange(3000)))[0]
    # m0^2 ~ Beta(1/2, (N-1)/2) for w uniform on the sphere.
    p = scipy.stats.kstest(np.asarray(m0, float) ** 2, scipy.stats.beta(0.5, 9.5).cdf).pvalue
    assert p > 1e-3


def test_reduced_engine_refuses_non_isotropic_noise():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    with pytest.raises(ValueError, match="exact only for gaussian"):
        sims.ReducedSGD(16, task, "-he4", noise="fixed_amplitude")
    assert sims.reduced_is_exact("gaussian") and not sims.reduced_is_exact("fixed_amplitude")


@pytest.mark.slow  # the registered claim dynamics.ladder checks the same in the fast tier
def test_reduced_and_sde_rungs_escape_near_the_ode():
    """Loose sanity check at N = 32 (the KS comparison with the full engine is a registered claim)."""
    exp = _experiment_for(32)
    kw = dict(batch=exp.batch(32), start="conditioned")
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    dyn = exp.dynamics
    red = sims.ReducedSGD(32, task, exp.activation, **kw)
    sde = sims.OverlapSDE(
        32,
        task,
        exp.activation,
        **kw,
        force_coefficients=dyn.population_gradient_coefficients,
        gradient_scale=float(exp.loss.gradient_scale),
    )
    ode = dyn.ode_escape_samples(32, exp.step(32), 32**-0.5)
    for eng in (red, sde):
        out = eng.run([exp.step(32)], np.arange(48), 3 * ode, n_checkpoints=8)
        esc = out["escape_samples"][0]
        assert np.mean(np.isfinite(esc)) > 0.9
        assert 0.7 < np.nanmedian(esc) / ode < 1.4, (eng.name, np.nanmedian(esc) / ode)
        assert np.all(np.abs(out["overlap"][np.isfinite(out["overlap"])]) <= 1)


def test_sde_rung_validates_its_coefficients():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    with pytest.raises(ValueError, match="force_coefficients"):
        sims.OverlapSDE(16, task, "-he4")
    with pytest.raises(ValueError, match="gradient_scale"):
        sims.OverlapSDE(16, task, "-he4", force_coefficients=(0.0, 1.0), gradient_scale=-1.0)


def test_devices_argument_is_validated():
    with pytest.raises(ValueError, match="local device"):
        _engine().run([1e-4], [0], 100, devices=99)
    with pytest.raises(ValueError, match="only threefry2x32 keys can be sharded"):
        _engine(prng_impl="philox4x32").run([1e-4], [0], 100, devices=2)


@pytest.mark.slow  # tests/test_reliability.py checks the reduced engine in the fast tier
def test_one_and_two_cpu_devices_give_bitwise_the_same_numbers():
    import subprocess
    import sys

    code = """
import jax
jax.config.update("jax_num_cpu_devices", 2)
import numpy as np, sims
task = sims.SpikeTask.make("phase", 10.0, "rademacher")
for cls in (sims.OnlineSGD, sims.ReducedSGD):
    e = cls(16, task, "-he4", batch=16, start="conditioned")
    a = e.run([3e-3, 5e-3], np.arange(5), 20000, n_checkpoints=8, devices=1)
    b = e.run([3e-3, 5e-3], np.arange(5), 20000, n_checkpoints=8, devices=2)
    for k in ("initial_overlap", "overlap", "escape_samples", "max_abs_overlap"):
        assert np.array_equal(a[k], b[k], equal_nan=True), (cls.name, k)
print("ok", len(jax.devices()))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=default_compiler_env()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["ok", "2"]


def _experiment_for(dim):
    import claims

    return claims.Experiment(claims.SweepConfig(dims=(dim,), seeds=4, start="conditioned").validated())


def test_progress_is_reported():
    calls = []
    _engine().run([1e-4], [0], 5000, n_checkpoints=10, progress=lambda s, d: calls.append((s, d)))
    assert len(calls) >= 5 and calls[-1][0] >= 5000


def test_huge_step_produces_non_finite_flag():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    eng = sims.OnlineSGD(8, task, "he6", batch=8)
    out = eng.run([1e37], [0, 1], 800, n_checkpoints=4)
    assert not out["finite"].any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dim": 3}, "N=3"),
        ({"batch": 0}, "batch"),
        ({"noise": "pink"}, "noise"),
        ({"start": "zero"}, "start"),
        ({"dtype": "float16"}, "dtype"),
        ({"m_escape": 1.5}, "escape"),
    ],
)
def test_engine_refuses_bad_configuration(kwargs, match):
    dim = kwargs.pop("dim", 16)
    with pytest.raises(ValueError, match=match):
        _engine(dim=dim, **kwargs)


def test_engine_refuses_bad_steps_and_seeds():
    eng = _engine()
    with pytest.raises(ValueError, match="positive"):
        eng.run([0.0], [0], 100)
    with pytest.raises(ValueError, match="seeds"):
        eng.run([1e-4], [-1], 100)


# ---- statistics -----------------------------------------------------------------------------
def test_median_ci_handles_censoring():
    est = sims.median_ci([1, 2, 3, np.nan, np.nan])
    assert est.value == 3 and est.hi == np.inf
    est = sims.median_ci([np.nan] * 3 + [1.0])
    assert est.value == np.inf


def test_power_law_fit_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    dims = [16, 32, 64, 128, 256]
    samples = [5 * d**3 * np.exp(rng.normal(0, 0.3, 24)) for d in dims]
    fit = sims.power_law_fit(dims, samples)
    e = fit["exponent"]
    assert e.lo <= 3 <= e.hi and e.hi - e.lo < 0.5
    slope = sims.ratio_slope_fit(dims, samples, exponent=3, log_power=2)["slope"]
    assert slope.hi < 0  # n ~ N^3 exactly: n/(N^3 log^2 N) falls
    logp = sims.log_power_fit(dims, samples, exponent=3)["log_power"]
    assert logp.lo <= 0 <= logp.hi


def test_censored_cells_enter_fits_at_their_budget_as_a_lower_bound():
    rng = np.random.default_rng(1)
    dims = [8, 12, 16, 24]
    full = [10 * d**3 * np.exp(rng.normal(0, 0.2, 16)) for d in dims]
    budgets = [np.quantile(s, 0.95) for s in full]
    budgets[-1] = np.quantile(full[-1], 0.3)  # most seeds of the last cell run out of budget
    cut = [np.where(s <= b, s, np.nan) for s, b in zip(full, budgets, strict=True)]
    with pytest.raises(ValueError, match="budget"):
        sims.power_law_fit(dims, cut)
    censored = sims.power_law_fit(dims, cut, budgets=budgets)
    truth = sims.power_law_fit(dims, full)
    assert censored.censored_point and censored.censored_resamples > 0.9 * sims.N_BOOT
    assert censored["exponent"].hi < truth["exponent"].value  # biased low: a lower bound only


# ---- result files ---------------------------------------------------------------------------
def test_cell_files_round_trip_and_refuse_other_configs(tmp_path):
    eng = _engine()
    run = eng.run([1e-4], [0, 1], 2000, n_checkpoints=5)
    cfg = {"N": 16, "seeds": [0, 1], "step": 1e-4}
    path = tmp_path / "cell.nc"
    sims.write_cell(path, run, [1e-4], [0, 1], cfg)
    assert [p.name for p in tmp_path.iterdir()] == ["cell.nc"]  # no temporary left behind
    ds = sims.read_cell(path, cfg)
    np.testing.assert_array_equal(ds["initial_overlap"].values, run["initial_overlap"])
    for key in ("schema_version", "jax_version", "prng_impl", "config", "package_version", "engine"):
        assert key in ds.attrs
    assert sims.read_cell(path, dict(cfg, step=2e-4)) is None
    path.write_bytes(b"not a netcdf file")
    assert sims.read_cell(path, cfg) is None


# ---- property-based checks ------------------------------------------------------------------
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=10, deadline=None)
@given(
    shape=st.one_of(st.tuples(st.integers(4, 40)), st.tuples(st.integers(2, 7), st.integers(2, 7))),
    seed=st.integers(0, 2**16),
)
def test_fourier_round_trip_for_any_shape(shape, seed):
    basis = sims.FourierBasis(shape)
    c = jax.random.normal(jax.random.key(seed), (2, basis.dim))
    back = basis.from_pixels(basis.to_pixels(c))
    np.testing.assert_allclose(back, c, atol=2e-5)


@settings(max_examples=40, deadline=None)
@given(
    atoms=st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=3, unique=True),
    weights=st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3),
)
def test_quadrature_recovers_any_three_point_law(atoms, weights):
    a, w = np.array(atoms), np.array(weights) / np.sum(weights)
    # Nearly coincident atoms make the law numerically a two-point (or one-point) law.
    assume(np.min(np.abs(a[:, None] - a[None, :]) + 10 * np.eye(3)) > 0.1)
    a = (a - np.sum(w * a)) / np.sqrt(np.sum(w * (a - np.sum(w * a)) ** 2))  # standardise
    assume(np.min(np.abs(a[:, None] - a[None, :]) + 10 * np.eye(3)) > 0.05)
    moments = [float(np.sum(w * a**p)) for p in range(6)]
    got_a, got_w = sims.quadrature_from_moments(moments)
    for p, target in enumerate(moments):
        assert math.isclose(float(np.sum(got_w * got_a**p)), target, rel_tol=1e-6, abs_tol=1e-6)


def test_reduced_engine_unrolls_whole_blocks_only_in_the_sweeps_shape_and_keeps_its_numbers():
    """At batch >= 256 the reduced engine unrolls a block's K <= 16 steps (docs/benchmarks.md); the
    unrolled loop must give the numbers of the rolled one (same steps, same draws), with checkpoints
    that cut blocks (masked, rolled) and without."""
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")

    class Rolled(sims.ReducedSGD):
        scan_unroll = 1

    assert sims.ReducedSGD(256, task, "-he4", batch=256).scan_unroll == 16
    assert sims.ReducedSGD(128, task, "-he4", batch=128).scan_unroll == 1  # K = 32: rolled
    kw = dict(steps=[3.0], seeds=np.arange(8), budget_samples=2_000_000)
    unrolled = sims.ReducedSGD(256, task, "-he4", batch=256).run(n_checkpoints=7, **kw)
    other_cuts = sims.ReducedSGD(256, task, "-he4", batch=256).run(n_checkpoints=40, **kw)
    rolled = Rolled(256, task, "-he4", batch=256).run(n_checkpoints=7, **kw)
    assert np.all(np.abs(unrolled["overlap"][..., -1]) > 0)
    np.testing.assert_allclose(unrolled["overlap"], rolled["overlap"], rtol=0, atol=1e-5)
    last = lambda run: run["overlap"][..., -1]
    np.testing.assert_allclose(last(unrolled), last(other_cuts), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.isnan(unrolled["escape_samples"]), np.isnan(rolled["escape_samples"]))
