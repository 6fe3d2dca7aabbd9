"""Spectral bias (Rahaman et al. 2019): spectra, weight norms, statistics, verdict rules, CLI, and
every claim at smoke scale."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import claims.spectral_bias as sbc
import sims.spectral_bias
from claims.registry import REGISTRY


ROOT = Path(__file__).resolve().parents[1]
CLAIMS = [n for n in REGISTRY if n.startswith("spectral_bias.")]


def _script():
    spec = importlib.util.spec_from_file_location(
        "spectral_bias_script", ROOT / "scripts" / "spectral_bias.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- spectra and the grid ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [64, 200])
def test_dft_amplitude_of_a_sine_is_its_amplitude(n):
    t = np.arange(n) / n
    rng = np.random.default_rng(n)
    for k in (1, 5, n // 2 - 1):
        a, phi = rng.uniform(0.1, 2.0), rng.uniform(0, 2 * np.pi)
        y = a * np.sin(2 * np.pi * k * t + phi) + 0.3 * np.sin(2 * np.pi * (k % 3 + 40 % (n // 2)) * t)
        if k == k % 3 + 40 % (n // 2):
            continue
        amp = np.asarray(sims.spectral_bias.amplitudes(jnp.asarray(y, jnp.float32), [k]))[0]
        assert abs(amp - a) < 1e-4 * max(1, a)


def test_normalised_amplitudes_of_the_target_are_one():
    cfg = sims.spectral_bias.FitConfig(freqs=(5, 10, 15, 20), amplitudes="increasing", n=200)
    y = sims.spectral_bias.phased_waves(jax.random.key(0), cfg)
    np.testing.assert_allclose(np.asarray(sims.spectral_bias.normalised_amplitudes(y, cfg)), 1.0, atol=1e-4)
    assert np.allclose(cfg.amps, [0.25, 0.5, 0.75, 1.0])


def test_flower_manifold():
    z = sims.spectral_bias.grid(400)
    circle = np.asarray(sims.spectral_bias.flower(z, 0))
    np.testing.assert_allclose(np.linalg.norm(circle, axis=1), 1.0, atol=1e-6)
    r = np.linalg.norm(np.asarray(sims.spectral_bias.flower(z, 4)), axis=1)
    assert abs(r.max() - 1.5) < 1e-3 and abs(r.min() - 0.5) < 1e-3


# --- networks and weight norms -----------------------------------------------------------------


def test_init_is_pytorch_uniform():
    params = sims.spectral_bias.init_mlp(jax.random.key(1), 1, 128, 5)
    assert len(params) == 6
    for w, b in params:
        bound = 1 / math.sqrt(w.shape[0])
        assert float(jnp.abs(w).max()) <= bound and float(jnp.abs(b).max()) <= bound
        assert float(jnp.abs(w).max()) > 0.9 * bound  # fills the interval


def test_sigma_max_is_the_true_largest_singular_value():
    params = sims.spectral_bias.init_mlp(jax.random.key(2), 1, 64, 3)
    sig = np.asarray(sims.spectral_bias.sigma_max(params))
    for s, (w, _) in zip(sig, params, strict=True):
        w = np.asarray(w, np.float64)
        assert s == pytest.approx(np.linalg.svd(w, compute_uv=False)[0], rel=1e-4)
        if min(w.shape) > 1:  # neither Frobenius nor the notebook's width x Rayleigh quotient
            assert s < 0.5 * np.linalg.norm(w)
    # a vector's largest singular value is its Euclidean norm
    assert sig[0] == pytest.approx(float(np.linalg.norm(np.asarray(params[0][0]))), rel=1e-5)


@pytest.mark.slow  # ~20 s of compilation on a loaded 2-core machine
def test_a_seed_trajectory_does_not_depend_on_the_other_seeds():
    cfg = sims.spectral_bias.FitConfig(
        freqs=(1, 2), n=16, width=8, depth=2, steps=40, record_every=10, lr=1e-2
    )
    both = sims.spectral_bias.train(cfg, [0, 1], track_norms=False)
    other = sims.spectral_bias.train(cfg, [1, 7], track_norms=False)  # same shapes: one compilation
    np.testing.assert_allclose(both["pred"][1], other["pred"][0], rtol=1e-5, atol=1e-6)
    assert both["loss"][0, -1] < both["loss"][0, 0]  # it trains
    assert not np.allclose(both["target"][0], both["target"][1])  # new phases per seed


def test_perturbation_response_is_one_at_zero_norm_and_drops_when_large():
    cfg = sims.spectral_bias.FitConfig(freqs=(1, 3), n=16, width=8, depth=2, steps=10, record_every=10)
    params = jax.tree_util.tree_map(
        lambda *a: jnp.stack(a), *[sims.spectral_bias.init_mlp(jax.random.key(s), 1, 8, 2) for s in range(2)]
    )
    resp = sims.spectral_bias.perturbation_response(cfg, params, [0.0, 100.0], 4, jax.random.key(0))
    assert resp.shape == (2, 2, 2)
    np.testing.assert_allclose(resp[:, 0], 1.0, rtol=1e-5)
    assert np.all(np.isfinite(resp))


# --- statistics and verdict rules --------------------------------------------------------------


def test_spearman_matches_scipy_and_ranks_never_reached_last():
    rng = np.random.default_rng(0)
    x, y = np.arange(10), rng.permutation(10).astype(float)
    assert sims.spectral_bias.spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y)[0])
    y2 = np.array([1, 2, np.nan, 3, np.nan], float)
    assert sims.spectral_bias.spearman(np.arange(5), y2) == pytest.approx(
        scipy.stats.spearmanr(range(5), [1, 2, 9, 3, 9])[0]
    )


def test_first_crossing():
    steps = np.array([10, 20, 30])
    v = np.array([[0.1, 0.6], [0.95, 0.4], [0.97, 0.3]])
    t = sims.spectral_bias.first_crossing(v, steps, 0.5)
    assert t[0] == 20 and t[1] == 10
    assert np.isnan(sims.spectral_bias.first_crossing(v, steps, 0.99)).all()


def _responses(slope_sign: float, seeds: int = 5, noise: float = 0.01):
    rng = np.random.default_rng(3)
    norms = np.linspace(0, 3, 7)
    freqs = np.arange(1, 6)
    base = 1 - slope_sign * 0.05 * norms[:, None] * (freqs[None, :] - 1)
    resp = base[None] + noise * rng.normal(size=(seeds, norms.size, freqs.size)) * (norms[None, :, None] > 0)
    return resp, freqs, norms


def test_decay_verdict_can_pass_and_fail():
    assert sbc.decay_verdict(*_responses(+1))["passed"] is True
    reversed_ = sbc.decay_verdict(*_responses(-1))
    assert reversed_["passed"] is False and reversed_["significant_rises"]
    flat = sbc.decay_verdict(*_responses(0))
    assert flat["passed"] is None  # no norm moves the response: nothing to decide


def test_settings_validate():
    assert sbc.settings(1, "full")["steps"] == 80_000 and sbc.settings(1, "full")["width"] == 256
    assert sbc.settings(5, "full")["n"] == 1000
    with pytest.raises(ValueError, match="seeds"):
        sbc.settings(1, "smoke", seeds=2)
    with pytest.raises(ValueError, match="tier"):
        sbc.settings(1, "huge")
    with pytest.raises(ValueError, match="freqs"):
        sims.spectral_bias.FitConfig(freqs=(5, 150), n=200)
    with pytest.raises(ValueError, match="multiple"):
        sims.spectral_bias.FitConfig(steps=1000, record_every=300)


def test_default_tier_frequencies():
    """The second freeze: experiment 1 on a geometric grid, experiment 2 on its own linear-spacing
    networks, experiment 5 with no target frequency a multiple of any petal count."""
    e1, e2, e5 = (sbc.settings(e, "default") for e in (1, 2, 5))
    ratios = np.diff(np.log(e1["freqs"]))
    assert np.all(ratios > np.log(1.25)) and e1["record_every"] == 25
    assert e2["freqs"] == sbc.LINEAR_FREQS and e2["samples"] == 400 and e2["steps"] == e1["steps"]
    assert all(k % L for k in e5["freqs"] for L in e5["petals"] if L)
    assert 2 * max(e5["freqs"]) < e5["n"]
    assert sbc.settings(1, "default", root_seed=910)["root_seed"] == 910


# --- command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--experiment", "3"], "--experiment"),
        (["--tier", "huge"], "--tier"),
        (["--seeds", "1"], "seeds"),
        (["--freqs", "5,500"], "freqs"),
        (["--width", "0"], "width"),
        (["--root-seed", "-1"], "--root-seed"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, needle, capsys, tmp_path):
    code = _script().main([*argv, "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and "\n" not in err


def test_cli_parser_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        _script().main(["--freqs", "a,b"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- claims at smoke scale ---------------------------------------------------------------------


def test_all_claims_registered():
    assert set(CLAIMS) == {
        "spectral_bias.low_frequencies_first",
        "spectral_bias.weight_norms_grow",
        "spectral_bias.weight_norms_control",
        "spectral_bias.high_frequencies_fragile",
        "spectral_bias.manifold_petals_help",
    }


# ---------------------------------------------------------------- checkpointed training


_CKPT_CFG = sims.spectral_bias.FitConfig(
    freqs=(1, 3), n=16, width=8, depth=2, steps=200, record_every=5
)  # 40 records in 20 chunks of 2


def _same_run(a: dict, b: dict) -> None:
    for k in ("pred", "loss", "amp", "sigma_max", "init_sigma_max", "target"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for u, v in zip(
        jax.tree_util.tree_leaves(a["params"]), jax.tree_util.tree_leaves(b["params"]), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_training_killed_after_a_checkpoint_resumes_bitwise(tmp_path, monkeypatch):
    seeds = np.array([3, 4])
    whole = sims.spectral_bias.train(_CKPT_CFG, seeds)
    path = tmp_path / "ckpt.npz"
    done = []

    def die_after_seven(n, total):
        done.append((n, total))
        if len(done) == 7:  # killed right after the 7th of 20 checkpoints
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sims.spectral_bias.train(
            _CKPT_CFG, seeds, checkpoint=path, checkpoint_seconds=0.0, on_chunk=die_after_seven
        )
    assert done[-1] == (14, 40)
    with np.load(path, allow_pickle=False) as f:
        assert f["rec_loss"].shape == (2, 14)  # 7 chunks of 2 records were kept
    resumed_chunks = []
    resumed = sims.spectral_bias.train(
        _CKPT_CFG, seeds, checkpoint=path, checkpoint_seconds=0.0,
        on_chunk=lambda n, t: resumed_chunks.append(n),
    )  # fmt: skip
    assert resumed_chunks == list(range(16, 41, 2))  # only the 13 missing chunks were trained
    _same_run(resumed, whole)
    # complete now: a third call trains nothing and returns the same records
    again = sims.spectral_bias.train(_CKPT_CFG, seeds, checkpoint=path, on_chunk=lambda n, t: 1 / 0)
    np.testing.assert_array_equal(again["loss"], whole["loss"])


def test_a_foreign_or_corrupt_checkpoint_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "ckpt.npz"
    whole = sims.spectral_bias.train(_CKPT_CFG, [5, 6], checkpoint=path)
    with pytest.warns(UserWarning, match="another run"):  # other seeds
        other = sims.spectral_bias.train(_CKPT_CFG, [7, 8], checkpoint=path)
    assert not np.array_equal(other["loss"], whole["loss"])
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="cannot resume"):
        fresh = sims.spectral_bias.train(_CKPT_CFG, [5, 6], checkpoint=path)
    _same_run(fresh, whole)
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_checkpoints_training_and_a_rerun_reuses_it(tmp_path, capsys):
    argv = [
        "--experiment", "1", "--tier", "smoke", "--seeds", "3", "--freqs", "1,2", "--n", "16",
        "--width", "8", "--depth", "2", "--steps", "100", "--record-every", "5",
        "--out", str(tmp_path / "o"), "--no-progress",
    ]  # fmt: skip
    assert _script().main(argv) == 0
    ckpts = sorted((tmp_path / "o" / "checkpoints").glob("train-*.npz"))
    assert len(ckpts) == 2  # equal and increasing amplitudes
    stamps = [p.stat().st_mtime_ns for p in ckpts]
    first = json.loads((tmp_path / "o" / "summary.json").read_text())["experiments"]["1"]
    sbc.config.forget_runs()  # a new process would start with an empty cache
    assert _script().main(argv) == 0
    assert [p.stat().st_mtime_ns for p in ckpts] == stamps  # complete checkpoints reused, not rewritten
    second = json.loads((tmp_path / "o" / "summary.json").read_text())["experiments"]["1"]
    assert second["estimate"] == first["estimate"]
    assert _script().main([*argv, "--no-checkpoint", "--out", str(tmp_path / "p")]) == 0
    assert not (tmp_path / "p" / "checkpoints").exists()
