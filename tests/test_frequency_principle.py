"""Frequency principle: the Gaussian filtering method, LFR and its permutation floor, per-layer
normalisation, 1-D peak errors, the CLI's input checks, and every claim at the smoke tier."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

import claims.frequency_principle as fpc
import sims.frequency_principle
from claims.registry import REGISTRY


ROOT = Path(__file__).resolve().parents[1]
CLAIMS = [name for name in REGISTRY if name.startswith("frequency_principle.")]


def _cloud(n=120, d=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, d)).astype(np.float32)


def test_smoother_is_a_true_gaussian_in_the_distance():
    x = _cloud(40, 3)
    d2 = np.asarray(sims.frequency_principle.squared_distances(jnp.asarray(x)), np.float64)
    delta = 0.4
    k = np.asarray(sims.frequency_principle.gaussian_smoother(jnp.asarray(d2), delta), np.float64)
    dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1).astype(np.float64))
    gauss = np.exp(-(dist**2) / (2 * delta**2))
    laplace = np.exp(-dist / (2 * delta**2))  # the original code's "Gaussian RBF"
    assert np.allclose(k.sum(1), 1.0, atol=1e-5)
    assert np.allclose(k, gauss / gauss.sum(1, keepdims=True), atol=1e-5)
    assert not np.allclose(k, laplace / laplace.sum(1, keepdims=True), atol=1e-3)


def test_lfr_limits_and_reference():
    x = _cloud()
    y = np.sin(3 * x[:, 0]) + 0.3 * x[:, 1]
    d2 = sims.frequency_principle.squared_distances(jnp.asarray(x))
    deltas = np.array([1e-4, 0.05, 0.2, 50.0])
    lfr = np.asarray(sims.frequency_principle.lfr_from_d2(d2, y, deltas))
    assert np.all(np.isfinite(lfr))
    assert lfr[0] == pytest.approx(1.0, abs=1e-5)  # far below the NN distance: identity, not 0/0
    assert lfr[-1] < 1e-3  # far above the diameter: the (removed) mean only
    assert np.all(np.diff(lfr) < 0)
    assert np.allclose(lfr, sims.frequency_principle.lfr_reference(x, y, deltas), rtol=1e-4, atol=1e-6)


def test_lfr_decreases_with_target_frequency_inside_the_window():
    x = _cloud(600, 2, seed=1)
    w = np.array([0.6, 0.8])
    s = sims.frequency_principle.distance_scales(x)
    delta = math.sqrt(s["nearest_neighbour"] * s["pairwise"]) / 3  # inside [NN, pairwise]
    d2 = sims.frequency_principle.squared_distances(jnp.asarray(x))
    vals = [
        float(sims.frequency_principle.lfr_from_d2(d2, np.sin(k * np.pi * x @ w), [delta])[0])
        for k in (1, 2, 4, 8)
    ]
    assert np.all(np.diff(vals) < 0), vals


def test_permutation_floor_is_the_expectation():
    x = _cloud(60, 2, seed=2)
    y = np.cos(4 * x[:, 0])
    d2 = sims.frequency_principle.squared_distances(jnp.asarray(x))
    delta = 0.15
    floor = float(sims.frequency_principle.lfr_floor_from_d2(d2, [delta])[0])
    k = np.asarray(sims.frequency_principle.gaussian_smoother(d2, delta), np.float64)
    rng = np.random.default_rng(3)
    perms = np.stack([y[rng.permutation(60)] for _ in range(400)])  # (draws, n)
    perms = perms - perms.mean(1, keepdims=True)
    draws = ((perms @ k.T) ** 2).sum(1) / (perms**2).sum(1)
    se = draws.std(ddof=1) / math.sqrt(draws.size)
    assert abs(draws.mean() - floor) <= 4 * se
    assert (
        float(sims.frequency_principle.lfr_from_d2(d2, y, [delta])[0]) > floor + 10 * draws.std()
    )  # structure is visible


def test_layer_normalisation_is_invariant_to_scale_rotation_and_padding():
    x, y, _ = sims.frequency_principle.load_digits_subset(80)
    iu = tuple(jnp.asarray(a) for a in np.triu_indices(80, 1))
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(64, 64)))
    rel = np.array([0.3, 0.5])
    base = np.asarray(
        sims.frequency_principle.lfr_from_d2(
            sims.frequency_principle.normalised_d2(jnp.asarray(x), iu)[0], y, rel
        )
    )
    moved = jnp.asarray(np.pad(3.7 * x @ q, ((0, 0), (0, 9))), jnp.float32)
    other = np.asarray(
        sims.frequency_principle.lfr_from_d2(sims.frequency_principle.normalised_d2(moved, iu)[0], y, rel)
    )
    assert np.allclose(base, other, rtol=2e-3)


def test_filter_errors_of_perfect_and_null_fits():
    x, y, _ = sims.frequency_principle.load_digits_subset(50)
    d2 = sims.frequency_principle.squared_distances(jnp.asarray(x))
    k = jnp.stack([sims.frequency_principle.gaussian_smoother(d2, d) for d in (0.8, 1.5)])
    lo, hi = sims.frequency_principle.filter_errors(k, jnp.asarray(y), jnp.asarray(y))
    assert np.allclose(lo, 0) and np.allclose(hi, 0)
    lo, hi = sims.frequency_principle.filter_errors(k, jnp.asarray(y), jnp.zeros_like(jnp.asarray(y)))
    assert np.allclose(lo, 1, atol=1e-5) and np.allclose(hi, 1, atol=1e-5)


def test_peaks_and_first_below():
    x = np.linspace(-5, 5, 101)
    spec = np.abs(np.fft.fft(np.asarray(sims.frequency_principle.xu_target_1d(x))))[:50]
    assert sims.frequency_principle.select_peaks(spec).tolist() == [2, 5, 8]
    steps = np.array([0, 10, 20, 30])
    curve = np.array([[1.0, 1.0], [0.05, 0.5], [0.2, 0.05], [0.05, 0.5]])
    assert sims.frequency_principle.first_below(curve, steps, 0.1).tolist() == [
        30.0,
        np.inf,
    ]  # must stay below


def test_filtering_analysis_reads_each_delta_own_column():
    """The original heatmaps showed the last delta for every delta (a stale index); check the
    per-delta analysis uses each column's own errors."""
    steps = np.arange(0, 50, 10)
    e = np.ones((5, 3, 2))
    e_low, e_high = e.copy(), e.copy()
    e_low[1:, :, 0] = 0.01  # delta 0: low converges at step 10
    e_low[3:, :, 1] = 0.01  # delta 1: low converges at step 30
    e_high[4:, :, :] = 0.01  # high converges at step 40 for both
    ds = xr.Dataset(
        {
            "e_low": (("step", "seed", "delta"), e_low),
            "e_high": (("step", "seed", "delta"), e_high),
            "lfr_target": (("delta",), [0.5, 0.2]),
            "lfr_floor": (("delta",), [0.01, 0.001]),
        },
        coords={"step": steps, "seed": np.arange(3), "delta": [1.0, 2.0]},
        attrs={
            "median_nearest_neighbour_distance": 1.0,
            "median_pairwise_distance": 2.0,
            "wall_seconds": 0.0,
        },
    )
    rows = fpc.analyse_filtering(ds)["deltas"]
    assert [r["median_t_low"] for r in rows] == [10.0, 30.0]
    assert [r["ratio_t_high_over_t_low"]["value"] for r in rows] == pytest.approx([4.0, 4 / 3])


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="seeds=1"):
        fpc.config_for("deep", "smoke", seeds=1)
    with pytest.raises(ValueError, match="unknown experiment"):
        fpc.config_for("2d", "smoke")
    with pytest.raises(ValueError, match="multiple"):
        fpc.config_for("1d", "smoke", steps=801)
    with pytest.raises(ValueError, match="samples=5000"):
        fpc.config_for("filtering", "smoke", samples=5000)
    with pytest.raises(ValueError, match="activation"):
        sims.frequency_principle.Trainer((1, 4, 1), "sigmoid", 1e-3)


def _script():
    spec = importlib.util.spec_from_file_location("fp_script", ROOT / "scripts" / "frequency_principle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--experiment", "2d"], "unknown --experiment '2d'"),
        (["--tier", "huge"], "unknown tier 'huge'"),
        (["--seeds", "1"], "seeds=1"),
        (["--seeds", "many"], "invalid int value"),
    ],
)
def test_script_refuses_bad_input_with_one_line(argv, message, tmp_path, capsys):
    script = _script()
    try:
        code = script.main([*argv, "--out", str(tmp_path / "o")])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and "\n" not in err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    return tmp_path_factory.mktemp("fp-smoke")


@pytest.fixture(scope="module")
def tiny_deep():
    """A deep-FP run small enough for the fast tier (the code checks below read it)."""
    cfg = fpc.ConfigDeep(
        samples=60, depths=(2,), width=16, steps=40, record_every=20, seeds=2, n_delta=4, permutations=6
    )
    ds = fpc.run_deep(cfg)
    return ds, fpc.analyse_deep(ds)


def test_deep_identity_layer_reproduces_the_float64_input_lfr(tiny_deep):
    """Code check (was the claim frequency_principle.deep_identity_layer): layer 0, normalised inside
    the training loop in float32, gives the input-space LFR of an independent float64 computation."""
    ds, s = tiny_deep
    assert s["identity"]["max_relative_difference"] <= 1e-3
    assert np.all(np.isfinite(ds["lfr_input_reference"].values))


def test_deep_permuted_labels_sit_at_the_floor(tiny_deep):
    """Code check (was the claim frequency_principle.deep_permuted_floor): the LFR of randomly permuted labels
    averages to the exact floor (sum K^2 - 1) / (n - 1), in every layer, start and end."""
    _, s = tiny_deep
    p = s["permutation"]
    assert p["tests"] > 0 and p["draws_per_test"] == 12
    assert p["max_abs_z"] <= p["limit"], p


def test_filtering_ratio_treats_unreached_times_as_censored_bounds():
    budget = 100.0
    t_low = np.array([10.0, 10.0, 20.0, 20.0, 10.0, 10.0, 20.0, 20.0])
    never = np.full(8, np.inf)
    e = fpc.censored_ratio_ci(never, t_low, budget)  # high never converges: ratio >= budget / t_low
    assert e["lo"] >= 5.0 and e["hi"] is None
    e = fpc.censored_ratio_ci(t_low, never, budget)  # low never converges: ratio <= t_high / budget
    assert e["lo"] == 0.0 and e["hi"] <= 0.2
    e = fpc.censored_ratio_ci(2 * t_low, t_low, budget)
    assert e == {"value": 2.0, "lo": 2.0, "hi": 2.0, "n": 8}


@pytest.mark.slow
def test_smoke_results_carry_provenance(smoke_out):
    for name in CLAIMS:  # cached when the claims above ran in this module
        REGISTRY[name].run("smoke", smoke_out)
    files = sorted((smoke_out / "frequency-principle").glob("*.nc"))
    assert {f.stem for f in files} == set(fpc.EXPERIMENTS)
    with xr.open_dataset(files[0], engine="h5netcdf") as ds:
        assert ds.attrs["schema"] == fpc.SCHEMA
        assert "jax_version" in ds.attrs and "config_hash" in ds.attrs
