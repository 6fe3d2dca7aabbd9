"""The moment-matched chain: its quadrature moments against Monte Carlo, its table, and its engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

import claims
import sims
from sims import moment_table, triple_moments


def _monte_carlo(task, activation, m, n=400_000, seed=0):
    """Per-sample triple t = (a x_u, a z_e, a^2) drawn directly from the data model (numpy)."""
    rng = np.random.default_rng(seed)
    z_u, z_e = rng.standard_normal(n), rng.standard_normal(n)
    y = rng.choice([-1.0, 1.0], n)
    lat = task.latent
    if lat.kind == "discrete":
        g = rng.choice(np.asarray(lat.atoms), n, p=np.asarray(lat.probs))
    elif lat.kind == "laplace":
        g = rng.laplace(size=n) / np.sqrt(2)
    else:
        g = rng.standard_normal(n)
    beta = task.snr
    x_s = (z_u + np.sqrt(beta) * g) / np.sqrt(1 + beta)
    x_u = np.where(y > 0, x_s, z_u)
    c = np.sqrt(1 - m * m)
    lam = np.asarray(m * x_u + c * z_e, np.float32)
    a = y * np.asarray(sims.activation_derivative(activation)(lam), float)
    return np.stack([a * x_u, a * z_e, a * a], axis=1)


@pytest.mark.parametrize(
    "latent, activation", [("rademacher", "-he4"), ("skewed", "he3"), ("gaussian", "he4"), ("laplace", "he2")]
)
@pytest.mark.parametrize("m", [0.0, 0.3, -0.8])
def test_quadrature_moments_match_monte_carlo(latent, activation, m):
    task = sims.SpikeTask.make("phase", 10.0, latent)
    mean, cov = triple_moments(task, activation, np.array([m]))
    t = _monte_carlo(task, activation, m)
    n = t.shape[0]
    se_mean = t.std(0) / np.sqrt(n)
    assert np.all(np.abs(mean[0] - t.mean(0)) <= 5 * se_mean + 1e-12), (mean[0], t.mean(0), se_mean)
    c_mc = np.cov(t.T)
    # standard error of a covariance entry: sd((t_i - mu_i)(t_j - mu_j)) / sqrt(n)
    d = t - t.mean(0)
    se_cov = np.array([[np.std(d[:, i] * d[:, j]) / np.sqrt(n) for j in range(3)] for i in range(3)])
    assert np.all(np.abs(cov[0] - c_mc) <= 6 * se_cov + 1e-9), (cov[0], c_mc, se_cov)


def test_polynomial_activation_moments_are_exact_with_few_nodes():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    m = np.linspace(-1, 1, 9)
    a = triple_moments(task, "-he4", m)  # the default: the fewest exact nodes (7 for He_4)
    b = triple_moments(task, "-he4", m, nodes=40)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-9, atol=1e-9)


def test_table_rows_are_mean_and_cholesky_factor_of_the_covariance():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    table = moment_table(task, "-he4", 65)
    mean, cov = triple_moments(task, "-he4", np.linspace(-1, 1, 65))
    np.testing.assert_allclose(table[:, :3], mean)
    low = np.zeros((65, 3, 3))
    low[:, np.tril_indices(3)[0], np.tril_indices(3)[1]] = table[:, 3:]
    np.testing.assert_allclose(low @ np.swapaxes(low, 1, 2), cov, atol=1e-9 * np.abs(cov).max())


def test_null_task_has_no_drift_at_zero_overlap():
    task = sims.SpikeTask.make("phase", 10.0, "rademacher", null=True)
    mean, _ = triple_moments(task, "-he4", np.array([0.0, 0.5]))
    np.testing.assert_allclose(mean[:, :2], 0.0, atol=1e-12)  # labels independent of the inputs


def _engine(**kw):
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    args = dict(dim=16, task=task, activation="-he4", batch=16, start="random", m_escape=0.5)
    return sims.MomentMatchedSGD(**{**args, **kw})


def test_engine_escapes_stays_in_range_and_a_seed_alone_is_the_same_trajectory():
    eng = _engine()
    both = eng.run([2.0], np.arange(4), 400_000, n_checkpoints=12)
    alone = eng.run([2.0], np.array([2]), 400_000, n_checkpoints=12)
    m = both["overlap"][np.isfinite(both["overlap"])]
    assert np.all(np.abs(m) <= 1) and np.all(both["finite"])
    assert np.isfinite(both["escape_samples"]).any()
    np.testing.assert_array_equal(alone["escape_samples"][0, 0], both["escape_samples"][0, 2])


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"table_size": 10}, "table_size"),
        ({"quadrature_nodes": 2}, "quadrature_nodes"),
        ({"covariance_scale": -1.0}, "covariance_scale"),
        ({"noise": "fixed_amplitude"}, "gaussian noise"),
        ({"activation": "relu"}, "polynomial"),
    ],
)
def test_bad_arguments_are_refused(kw, needle):
    with pytest.raises(ValueError, match=needle):
        _engine(**kw)


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"activation": "relu"}, "polynomial"),
        ({"noise": "fixed_amplitude"}, "only for gaussian noise"),
    ],
)
def test_sweep_config_refuses_what_the_moment_matched_chain_cannot_do(kw, needle):
    with pytest.raises(claims.UsageError, match=needle):
        claims.SweepConfig(dims=(16,), engine="moment-matched", **kw).validated()


def test_sweep_runs_on_the_moment_matched_chain_and_records_it(tmp_path):
    exp = claims.Experiment(
        claims.SweepConfig(dims=(16,), seeds=4, engine="moment-matched", null_seeds=0).validated()
    )
    cells = claims.run_cells(exp, tmp_path, progress=False)
    assert exp.engine_name(16) == "moment-matched"
    (ds,) = cells.values()
    assert "moment-matched" in json.dumps(dict(ds.attrs))


# ---------------------------------------------------------------- the benchmark's NumPy loops


def _one_step_laws(table, B, seeds=20_000, m=0.3, step=0.01):
    from claims.cli.bench_numpy import moment_matched_loop, reduced_loop

    m0 = np.full(seeds, m)
    a = reduced_loop(64, B, m0, 1, step, 10.0, seed=1) - m
    b = moment_matched_loop(table, 64, B, m0, 1, step, seed=2) - m
    se = np.sqrt(a.var() / seeds + b.var() / seeds)
    return abs(a.mean() - b.mean()) / se, b.std() / a.std()


@pytest.mark.parametrize("B", [64, 256])
def test_numpy_loops_of_the_benchmark_agree_with_each_other_and_catch_a_wrong_table(B):
    """The bench's NumPy reduced chain and NumPy moment-matched chain (on the engine's table) give
    one step of the same law (mean within 4 standard errors, spread within 5%) where the batch sum
    is close to Gaussian (step 0.01); a covariance 20% too large is caught by the same check."""
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    table = sims.MomentMatchedSGD(64, task, "-he4", batch=B, table_size=1025).moment_table
    z, ratio = _one_step_laws(table, B)
    assert z < 4 and 0.95 < ratio < 1.05, (z, ratio)
    wrong = table.copy()
    wrong[:, 3:] *= np.sqrt(1.2)
    _, ratio_wrong = _one_step_laws(wrong, B)
    assert ratio_wrong > 1.05, ratio_wrong
