"""Power-law spectra (issue 4): coloured data model, engine gradient, shell hierarchy, participation
ratio, the sweep's command line, and the registered claims at the smoke tier."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
import xarray as xr
from conftest import within_se

import claims.powerlaw as cp
import sims
import sims.powerlaw
import theory
import theory.powerlaw
from claims.cli.sweep import main as sweep_main


ROOT = Path(__file__).resolve().parents[1]
BETA = 10.0
TASK = sims.SpikeTask.make("phase", BETA, "rademacher")
LOSS = theory.PopulationLoss("phase", "rademacher", "-he4", BETA)


@pytest.mark.parametrize("shape", [(16,), (6, 6)])
@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_spectrum_normalised_and_matches_theory(shape, alpha):
    basis = sims.FourierBasis(shape)
    c = sims.powerlaw.power_spectrum(basis, alpha)
    assert c.sum() == pytest.approx(basis.dim)
    order = np.argsort(basis.frequencies, kind="stable")
    assert np.all(np.diff(c[order]) <= 1e-12)  # non-increasing in radial frequency
    assert np.sort(c) == pytest.approx(np.sort(theory.powerlaw.variances(shape, alpha)))
    if alpha == 0:
        assert c == pytest.approx(np.ones(basis.dim))


def test_bad_inputs_are_refused():
    basis = sims.FourierBasis((16,))
    with pytest.raises(ValueError, match="alpha"):
        sims.powerlaw.power_spectrum(basis, -1.0)
    with pytest.raises(ValueError, match="placement"):
        sims.powerlaw.parse_placement("top3")
    with pytest.raises(ValueError, match="K must"):
        sims.powerlaw.parse_placement("topK:40", 16)
    with pytest.raises(ValueError, match="preactivation"):
        sims.powerlaw.ColouredSGD(16, TASK, "-he4", preactivation="batchnorm")


def test_classes_share_the_power_spectrum():
    """Per-mode mean |X_k|^2 equal between classes and equal to P_k (z-scores, family-wise 99.9%)."""
    basis = sims.FourierBasis((16,))
    spec = sims.powerlaw.power_spectrum(basis, 1.5)
    u = sims.powerlaw.draw_placed_spike(jax.random.key(0), basis, spec, "aligned")
    n = 30_000
    xs = sims.powerlaw.sample_coloured_class(jax.random.key(1), TASK, basis, spec, u, n, True)
    xn = sims.powerlaw.sample_coloured_class(jax.random.key(2), TASK, basis, spec, u, n, False)
    a_s, a_n = (np.asarray(basis.amplitudes(x), float) for x in (xs, xn))
    z = (a_s.mean(0) - a_n.mean(0)) / np.sqrt(a_s.var(0) / n + a_n.var(0) / n)
    ns = basis.n_self
    target = np.concatenate([spec[:ns], spec[ns : ns + basis.n_pairs]])
    zt = (a_s.mean(0) - target) / np.sqrt(a_s.var(0) / n)
    limit = scipy.stats.norm.isf(0.0005 / z.size)
    assert np.abs(z).max() <= limit
    assert np.abs(zt).max() <= limit


def test_non_gaussianity_sits_along_the_spike():
    """In whitened coordinates x / sqrt(c) the excess kurtosis along u is kappa_4; orthogonal
    directions (and every direction of the noise class) are Gaussian."""
    basis = sims.FourierBasis((16,))
    spec = sims.powerlaw.power_spectrum(basis, 1.0)
    u = sims.powerlaw.draw_placed_spike(jax.random.key(3), basis, spec, "aligned")
    n = 120_000
    x = np.asarray(
        sims.powerlaw.sample_coloured_class(jax.random.key(4), TASK, basis, spec, u, n, True), float
    )
    xw = x / np.sqrt(spec)
    u = np.asarray(u, float)
    v = np.random.default_rng(0).normal(size=u.size)
    v -= (v @ u) * u
    v /= np.linalg.norm(v)
    kappa = -2 * BETA**2 / (1 + BETA) ** 2
    for direction, target in ((u, kappa), (v, 0.0)):
        p = xw @ direction
        k4 = p**4 - 3  # variance 1 in whitened coordinates
        est, se = k4.mean(), k4.std() / math.sqrt(n)
        assert abs(est - target) <= 5 * se, (est, target, se)
    # the input-space direction C^-1/2 u carries it: its normalised projection has the same kurtosis
    d = u / np.sqrt(spec)
    p = x @ d / math.sqrt(d @ (spec * d))
    assert abs((p**4).mean() - 3 - kappa) <= 5 * (p**4).std() / math.sqrt(n)


@pytest.mark.parametrize("placement", ["aligned", "spread", "topK:4"])
@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_conditioned_start_and_typical_overlap(placement, alpha):
    basis = sims.FourierBasis((32,))
    spec = sims.powerlaw.power_spectrum(basis, alpha)
    u = sims.powerlaw.draw_placed_spike(jax.random.key(5), basis, spec, placement)
    assert float(jnp.linalg.norm(u)) == pytest.approx(1.0, rel=1e-5)
    m0 = sims.powerlaw.typical_start_overlap(u, spec)
    w = sims.powerlaw.conditioned_start(jax.random.normal(jax.random.key(6), (32,)), u, spec, m0)
    assert float(jnp.linalg.norm(w)) == pytest.approx(1.0, rel=1e-5)
    assert float(sims.powerlaw.effective_overlap(w, u, spec)) == pytest.approx(float(m0), rel=1e-4)
    assert float(sims.powerlaw.effective_overlap(3 * w, u, spec)) == pytest.approx(float(m0), rel=1e-4)
    if placement == "spread":  # flat amplitudes: u^T C u = tr C / N exactly
        assert float(m0) == pytest.approx(1 / math.sqrt(32), rel=1e-4)


def test_exact_start_moment_is_one_over_n_for_white_inputs_and_matches_a_monte_carlo():
    """`start_overlap_weights`: K_i = 1/N for C = I (the isotropic E[m0^2] = 1/N), and for a
    power-law spectrum sum K_i u_i^2 is the mean of m_eff^2 over random unit w (NumPy Monte Carlo,
    independent of the engine), within 4 standard errors."""
    np.testing.assert_allclose(theory.powerlaw.start_overlap_weights(np.ones(24)), 1 / 24, rtol=1e-8)
    rng = np.random.default_rng(3)
    c = theory.powerlaw.variances((64,), 1.5)
    u = np.sqrt(c) * rng.standard_normal(64)
    u /= np.linalg.norm(u)
    z = rng.standard_normal((100_000, 64))
    m2 = (z @ (np.sqrt(c) * u)) ** 2 / ((z * z) @ c)
    exact = float(u**2 @ theory.powerlaw.start_overlap_weights(c))
    assert within_se(m2.mean(), exact, m2.std() / math.sqrt(m2.size), 4.0)
    # and H1 is only a leading-order statement: off by more than the Monte Carlo's resolution
    assert abs(exact / float(u**2 @ c / c.sum()) - 1) > 20 * m2.std() / math.sqrt(m2.size) / exact


@pytest.mark.parametrize("alpha", [0.0, 2.0])
def test_engine_random_starts_have_the_exact_start_moment(alpha):
    """The coloured engine's random starts (its own `initial_state`, 4096 seeds, N = 32): mean
    m_eff(0)^2 equals the exact expectation given each seed's spike, within 4 standard errors."""
    task = sims.SpikeTask.make("phase", 10.0, "rademacher")
    eng = sims.powerlaw.ColouredSGD(32, task, "-he4", batch=32, alpha=alpha, start="random")
    starts = sims.powerlaw.start_overlaps(eng, 4096, root_seed=11)
    assert np.all(starts["m0"] >= 0) and starts["u2"].shape == (4096, 32)
    m2 = starts["m0"] ** 2
    exact = starts["u2"] @ theory.powerlaw.start_overlap_weights(eng.spectrum)
    assert within_se(m2.mean(), exact.mean(), m2.std() / math.sqrt(m2.size), 4.0)


def test_h3_asymptotic_escape_law():
    """H3: n ~ PR^2 N log N, so N^3 log N for white inputs and N log N once PR is bounded."""
    assert theory.powerlaw.h3_escape_scaling(0.0) == (3, 1)
    assert theory.powerlaw.h3_escape_scaling(0.5) == (3, -1)
    assert theory.powerlaw.h3_escape_scaling(1.0) == (1, 5)
    assert theory.powerlaw.h3_escape_scaling(1.5) == (1, 1)
    assert theory.powerlaw.h3_escape_scaling(2.0, 2) == (1, 5)  # natural images: the (log N)^2 edge


@pytest.mark.parametrize("normalised", [True, False])
def test_descent_direction_is_minus_the_gradient(normalised):
    basis = sims.FourierBasis((12,))
    spec = sims.powerlaw.power_spectrum(basis, 1.0)
    sc = jnp.sqrt(jnp.asarray(spec, jnp.float32))
    u = sims.powerlaw.draw_placed_spike(jax.random.key(9), basis, spec, "aligned")
    k = jax.random.split(jax.random.key(10), 4)
    w = jax.random.normal(k[0], (12,))
    z = jax.random.normal(k[1], (5, 12))
    shift = jax.random.normal(k[2], (5,))
    y = jax.random.rademacher(k[3], (5,), jnp.float32)
    sigma, dsigma = sims.activation("-he4"), sims.activation_derivative("-he4")

    def loss(w):
        x = sc * (z + shift[:, None] * u)
        lam = x @ w
        if normalised:
            lam = lam / jnp.linalg.norm(sc * w)
        return jnp.sum(-y * sigma(lam))

    got = np.asarray(sims.powerlaw.descent_direction(w, u, sc, z, shift, y, dsigma, normalised))
    want = -np.asarray(jax.grad(loss)(w))
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())


def test_hierarchy_reduces_to_the_isotropic_ode():
    dyn = theory.OverlapDynamics(LOSS)
    for dim in (16, 32):
        step = dyn.step(dim)
        c = np.ones(dim)
        h = theory.powerlaw.ShellHierarchy(LOSS, c, theory.powerlaw.placement_shell_power(c, "spread"))
        iso = dyn.ode_escape_samples(dim, step, 1 / math.sqrt(dim))
        assert h.typical_escape_samples(dim, step) == pytest.approx(iso, rel=0.02)


def test_hierarchy_batches_seeds_and_orders_placements():
    dyn = theory.OverlapDynamics(LOSS)
    dim, step = 32, dyn.step(32)
    c = theory.powerlaw.variances((dim,), 1.0)
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, dim))
    u = np.sqrt(c) * g
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = rng.normal(size=(3, dim))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    h = theory.powerlaw.ShellHierarchy(LOSS, c, u**2)
    together = h.escape_samples(h.state_of(w, u), dim, step)
    for j in range(3):
        hj = theory.powerlaw.ShellHierarchy(LOSS, c, u[j] ** 2)
        assert hj.escape_samples(hj.state_of(w[j], u[j]), dim, step)[0] == pytest.approx(
            together[j], rel=0.01
        )
    n = {
        p: theory.powerlaw.ShellHierarchy(
            LOSS, c, theory.powerlaw.placement_shell_power(c, p)
        ).typical_escape_samples(dim, step)
        for p in ("aligned", "spread")
    }
    assert n["aligned"] < n["spread"] / 2


@pytest.mark.parametrize(
    "alpha, d, expected",
    [
        (0.25, 1, (1, 0)),
        (0.5, 1, (1, -1)),
        (0.75, 1, (0.5, 0)),
        (1.0, 1, (0, 2)),
        (1.5, 1, (0, 0)),
        (1.0, 2, (1, -1)),
        (1.5, 2, (0.5, 0)),
        (2.0, 2, (0, 2)),
        (3.0, 2, (0, 0)),
    ],
)
def test_participation_ratio_scaling(alpha, d, expected):
    p, q = theory.powerlaw.pr_scaling(alpha, d)
    assert (float(p), float(q)) == pytest.approx(expected)


@pytest.mark.parametrize("alpha", [0.25, 0.75, 1.5])
def test_participation_ratio_slope_matches_the_asymptotics(alpha):
    dims = np.array([2**12, 2**16])
    prs = [theory.powerlaw.participation_ratio(theory.powerlaw.variances((int(n),), alpha)) for n in dims]
    slope = np.diff(np.log(prs))[0] / np.diff(np.log(dims))[0]
    p, _ = theory.powerlaw.pr_scaling(alpha, 1)
    assert slope == pytest.approx(float(p), abs=0.06)


# ---- command line ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, word",
    [
        (["--alpha", "-1"], "alpha"),
        (["--alpha", "nan"], "alpha"),
        (["--placement", "top3"], "placement"),
        (["--placement", "topK:99"], "K must"),
        (["--preactivation", "bn"], "preactivation"),
        (["--N", "3"], "--N"),
        (["--seeds", "0"], "--seeds"),
        (["--budget-factor", "-1"], "--budget-factor"),
        (["--batch", "4"], "--batch"),
        (["--step-scan", "1", "2"], "--step-scan"),
        (["--engine", "full"], "--engine"),
        (["--null-seeds", "4"], "--null-seeds"),
        (["--seeds", "8", "--stop-after", "9"], "--stop-after"),
        (["--stop-after", "0"], "--stop-after"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, word, tmp_path, capsys):
    out = tmp_path / "res"
    assert sweep_main(["--task", "powerlaw", *argv, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and word in err
    assert not out.exists()


def test_cli_tiny_sweep_writes_resumable_cells(tmp_path, capsys):
    out = tmp_path / "res"
    argv = [
        "--task",
        "powerlaw",
        "--N",
        "12",
        "16",
        "--seeds",
        "5",
        "--alpha",
        "0",
        "2",
        "--placement",
        "aligned",
        "--budget-factor",
        "0.05",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert sweep_main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(cp.SUMMARY_KEYS) <= set(summary)
    assert len(summary["cells"]) == 4 and all(r["seeds"] == 5 for r in summary["cells"])
    for r in summary["cells"]:  # the conditioned start imposes H1: reported as not tested
        t = r["start_overlap_squared"]
        assert not t["tested"] and t["measured"]["value"] == pytest.approx(t["h1"], rel=1e-4)
    assert (out / "powerlaw.png").exists()
    cells = sorted((out / "cells").glob("*.nc"))
    stamps = [p.stat().st_mtime_ns for p in cells]
    printed = capsys.readouterr().out
    assert "speed-up" in printed and "95% CI" in printed
    assert sweep_main(argv) == 0
    assert [p.stat().st_mtime_ns for p in cells] == stamps  # reused, not recomputed


def test_speedup_ratio_follows_the_one_censoring_policy():
    """A seed that did not escape sits at its budget: a ratio that leans on a censored median is a
    bound, so the interval end on the unknown side is NaN (never an invented 0 or +inf)."""
    rng = np.random.default_rng(3)
    ref = rng.uniform(900, 1100, 16)
    slow = np.full(16, np.nan)  # never escapes within its budget of 2000
    est = cp.ratio_of_medians(ref, slow, budgets=(5000, 2000))
    assert math.isnan(est.lo) and math.isnan(est.value)
    assert 0.45 < est.hi < 0.56  # at most median(ref) / budget: a real upper bound
    fast = rng.uniform(90, 110, 16)
    est = cp.ratio_of_medians(np.full(16, np.nan), fast, budgets=(5000, 5000))
    assert math.isnan(est.hi) and est.lo > 40  # at least budget / median(fast)
    est = cp.ratio_of_medians(ref, fast, budgets=(5000, 5000))
    assert 8 < est.lo < est.value < est.hi < 12
    with pytest.raises(ValueError, match="same seeds"):
        cp.ratio_of_medians(ref, fast[:3], budgets=(1, 1))


def test_stop_after_censors_the_slow_seeds_at_the_stop(tmp_path):
    """--stop-after K: the cell stops once K seeds escaped; the others are censored at the recorded
    stop (not at the budget), and without it the cell's config, hence its file, is unchanged."""
    out = tmp_path / "res"
    base = ["--task", "powerlaw", "--N", "16", "--seeds", "8", "--alpha", "0", "--start", "random"]
    base += ["--budget-factor", "4", "--out", str(out), "--no-progress"]
    assert sweep_main([*base, "--stop-after", "3"]) == 0
    (path,) = (out / "cells").glob("*.nc")
    ds = xr.open_dataset(path)
    cfg = json.loads(ds.attrs["config"])
    esc = ds["escape_samples"].values
    assert cfg["stop_after"] == 3 and np.sum(np.isfinite(esc)) >= 3
    assert ds.attrs["stop_samples"] < cfg["budget"] and np.nanmax(esc) <= ds.attrs["stop_samples"]
    (row,) = json.loads((out / "summary.json").read_text())["cells"]
    assert row["censored_at"] == ds.attrs["stop_samples"] and row["budget"] == cfg["budget"]
    exp = cp.PowerlawExperiment(cp.PowerlawConfig(dims=(16,), seeds=8, alphas=(0.0,)).validated())
    assert "stop_after" not in exp.cell_config(exp.cells()[0])


@pytest.mark.parametrize("flag", [["--alpha", "1"], ["--placement", "spread"], ["--preactivation", "plain"]])
def test_power_law_flags_are_refused_by_the_other_tasks(flag, tmp_path, capsys):
    out = tmp_path / "res"
    assert sweep_main(["--profile", "smoke", *flag, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag[0] in err and "does not apply" in err
    assert not out.exists()


def test_isotropic_reduced_step_is_the_coloured_step_at_alpha_0():
    """One SGD step of the coloured engine at C = I (normalised pre-activation), written in the
    chain's coordinates (G_u, G_e and the squared norm of the rest of G), gives the same overlap
    as `tangent_overlap_update`; the plain update (no radial projection) does not."""
    N, B, step = 24, 7, 40.0
    with jax.enable_x64(True):
        k = jax.random.split(jax.random.key(3), 5)
        u = jnp.zeros(N).at[0].set(1.0)
        e = jnp.zeros(N).at[1].set(1.0)
        m = 0.3
        c = math.sqrt(1 - m * m)
        w = m * u + c * e
        z = jax.random.normal(k[0], (B, N), jnp.float64)
        y = jax.random.rademacher(k[1], (B,), jnp.float64)
        g = jax.random.rademacher(k[2], (B,), jnp.float64)
        task = sims.SpikeTask.make("phase", 10.0, "rademacher")
        shift = jnp.where(y > 0, task.spike_coordinate(z[:, 0], g) - z[:, 0], 0.0)
        dsigma = sims.activation_derivative("-he4")
        direction = sims.powerlaw.descent_direction(w, u, jnp.ones(N), z, shift, y, dsigma, True)
        w_new = w + (step / N) * direction
        want = float(jnp.dot(w_new, u) / jnp.linalg.norm(w_new))
        x = z + shift[:, None] * u
        a = y * dsigma(x @ w)
        G = a @ x
        g_u, g_e = float(G @ u), float(G @ e)
        rest2 = float(jnp.sum((G - g_u * u - g_e * e) ** 2))
        s = float(jnp.sum(a * a))
        args = (m, c, g_u, g_e, s, rest2 / s, step / N)
        got = float(sims.powerlaw.tangent_overlap_update(*map(jnp.asarray, args)))
        plain = float(sims.overlap_update(*map(jnp.asarray, args)))
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert abs(plain - want) > 1e-4  # the check tells the two updates apart


def test_isotropic_reduced_engine_agrees_in_law_with_the_coloured_engine(tmp_path):
    """alpha = 0: escape samples of the reduced chain and of the coloured engine (random start,
    normalised pre-activation) from the same law (two-sample KS), and the reduced cell carries what
    the analysis reads (flat spectrum, spike e_0, w0 with the start overlap)."""
    exp = cp.PowerlawExperiment(
        cp.PowerlawConfig(dims=(12,), seeds=48, alphas=(0.0,), placements=("aligned",), start="random")
    )
    kw = dict(
        dim=12, task=exp.task, activation=exp.activation, batch=exp.batch(12), start="random",
        m_escape=exp.config.m_escape,
    )  # fmt: skip
    budget, step, seeds = exp.budget(12), exp.step(12), np.arange(48)
    red = sims.powerlaw.IsotropicReducedSGD(**kw).run([step], seeds, budget, n_checkpoints=4)
    col = sims.powerlaw.ColouredSGD(**kw, alpha=0.0).run([step], seeds, budget, n_checkpoints=4)
    a, b = red["escape_samples"][0], col["escape_samples"][0]
    a, b = np.where(np.isnan(a), np.inf, a), np.where(np.isnan(b), np.inf, b)
    assert np.isfinite(a).mean() > 0.5 and np.isfinite(b).mean() > 0.5
    assert scipy.stats.ks_2samp(a, b).pvalue > 1e-3
    m0 = red["initial_overlap"][0]
    assert np.all(m0 >= 0)
    np.testing.assert_allclose(red["w0"][0][:, 0], m0)
    np.testing.assert_allclose(np.linalg.norm(red["w0"][0], axis=1), 1.0, rtol=1e-6)
    assert np.all(red["spike"][0][:, 0] == 1) and np.all(red["spectrum"] == 1)
    assert exp.engine(12, 0.0, "aligned").name == "isotropic-reduced"
    cell = sims.powerlaw.write_powerlaw_cell(
        tmp_path / "cell.nc", red, {"engine": "isotropic-reduced", "seeds": list(range(48))}
    )
    assert cell.attrs["engine"] == "isotropic-reduced"  # provenance names the engine that ran
    coloured = cp.PowerlawExperiment(dataclasses.replace(exp.config, engine="coloured"))
    assert coloured.engine(12, 0.0, "aligned").name == "coloured"


def test_exponents_figure_needs_three_n_and_draws_censored_speedups(tmp_path):
    cfg = cp.PowerlawConfig(dims=(16, 32, 64), seeds=8, alphas=(0.0, 1.5), placements=("aligned",))
    exp = cp.PowerlawExperiment(cfg)
    est = lambda v, lo, hi: {"value": v, "lo": lo, "hi": hi, "n": 8, "confidence": 0.95}  # noqa: E731
    summary = {
        "fits": [
            {"alpha": 0.0, "placement": "aligned", "exponent": est(3.1, 2.9, 3.3), "theory_exponent": 3.0,
             "h3": {"exponent": 3, "log_power": 1}},
            {"alpha": 1.5, "placement": "aligned", "exponent": None, "reason": "fewer than 3 N"},
        ],
        "speedups": [
            {"N": 16, "alpha": 1.5, "placement": "aligned", "speedup": est(2.0, 1.1, 4.0),
             "theory_speedup": 2.5},
            {"N": 32, "alpha": 1.5, "placement": "aligned", "speedup": est(None, 3.0, None),
             "theory_speedup": None},
            {"N": 64, "alpha": 1.5, "placement": "aligned", "speedup": est(9.0, 5.0, None),
             "theory_speedup": 8.0},
        ],
    }  # fmt: skip
    paths = cp.exponents_figure(exp, summary, tmp_path / "exp")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)
    two = cp.PowerlawExperiment(dataclasses.replace(cfg, dims=(16, 32)))
    assert cp.exponents_figure(two, summary, tmp_path / "none") is None


def test_speedup_panel_without_an_alpha0_reference_says_so():
    """A run without alpha = 0 cells has no speed-up: the panel says so instead of empty axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from claims.powerlaw.figures import speedup_vs_n_panel

    fig, ax = plt.subplots()
    cfg = cp.PowerlawConfig(dims=(16, 32, 64), seeds=8, alphas=(2.0,), placements=("aligned",)).validated()
    speedup_vs_n_panel(ax, cfg, {"speedups": []}, "aligned", {2.0: "k"})
    assert not ax.axison and "no speed-up" in ax.texts[0].get_text()
    plt.close(fig)
