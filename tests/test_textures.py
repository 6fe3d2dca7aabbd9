"""Amplitude-versus-phase protocol: surrogate test sets, patches and splits, dataset loaders,
students and training, curve analysis, the command-line script and the textures claims."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sims.loaders
import sims.networks
import sims.textures
from claims import textures as ct
from claims.cli import textures as texture_experiment


# --- surrogate test sets ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 8, 8, 1), (4, 7, 9, 3), (3, 16, 16, 2)])
def test_phase_randomise_keeps_amplitudes_and_is_real(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) + 0.3
    spec = sims.textures.phase_randomised_spectrum(x, np.random.default_rng(2))
    back = np.fft.ifft2(spec, axes=(1, 2))
    assert np.abs(back.imag).max() < 1e-12 * np.abs(back.real).max()  # Hermitian: real output
    y = sims.textures.phase_randomise(x, np.random.default_rng(2))
    assert y.dtype == x.dtype and y.shape == x.shape
    fx, fy = np.fft.fft2(x, axes=(1, 2)), np.fft.fft2(y, axes=(1, 2))
    np.testing.assert_allclose(np.abs(fy), np.abs(fx), atol=1e-10)  # every mode, every channel
    np.testing.assert_allclose(fy[:, 0, 0], fx[:, 0, 0], atol=1e-10)  # the mean is kept
    # The phases did change (not the identity) and the channels share one phase shift.
    assert np.abs(np.angle(fy * np.conj(fx))).mean() > 0.5
    if shape[-1] > 1:
        shift = np.angle(fy * np.conj(fx))
        np.testing.assert_allclose(np.exp(1j * shift[..., 0]), np.exp(1j * shift[..., 1]), atol=1e-8)


def test_noise_phases_antisymmetric_and_uniform():
    theta = sims.textures.noise_phases(np.random.default_rng(0), 400, 8, 8)[..., 0]
    flipped = np.roll(theta[:, ::-1, ::-1], 1, axis=(1, 2))  # theta at -k
    np.testing.assert_allclose(np.exp(1j * (theta + flipped)), 1.0, atol=1e-10)
    assert np.all(theta[:, 0, 0] == 0)
    generic = theta[:, 1, 2]  # not self-conjugate: uniform on the circle, mean resultant ~ 0
    assert abs(np.exp(1j * generic).mean()) < 4 / math.sqrt(generic.size)


def test_amplitude_equalise_keeps_phases_and_shares_spectrum():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 8, 8, 2)) * np.arange(1, 7)[:, None, None, None]
    amp, dc = sims.textures.mean_amplitude(x)
    y = sims.textures.amplitude_equalise(x, amp, dc)
    fx, fy = np.fft.fft2(x, axes=(1, 2)), np.fft.fft2(y, axes=(1, 2))
    np.testing.assert_allclose(np.abs(fy)[:, 1:], np.broadcast_to(amp[1:], fy[:, 1:].shape), rtol=1e-9)
    mask = np.ones(fx.shape, bool)
    mask[:, 0, 0] = False
    np.testing.assert_allclose(np.exp(1j * np.angle(fy[mask])), np.exp(1j * np.angle(fx[mask])), atol=1e-8)
    np.testing.assert_allclose(fy[:, 0, 0].real, np.broadcast_to(dc, (6, 2)), atol=1e-9)
    with pytest.raises(ValueError, match="does not match"):
        sims.textures.amplitude_equalise(x, amp[:4], dc)


# --- patches and splits ---------------------------------------------------------------------------


def test_texture_split_is_disjoint(monkeypatch):
    rows = np.repeat(np.arange(512.0)[:, None], 512, axis=1)  # pixel value = its row index
    monkeypatch.setattr(sims.textures, "load_textures", lambda names: {n: rows / 1000 for n in names})
    data = sims.textures.texture_data(patch=16, train_per_class=300, test_fraction=0.25)
    cut = sims.textures.split_rows(512, 16, 0.25)
    assert data.train_x.max() * 1000 < cut - 0.5  # every training pixel lies above the cut
    assert data.test_x.min() * 1000 > cut - 0.5  # every test pixel below it
    assert len(data.test_y) == 3 * (128 // 16) * (512 // 16)  # non-overlapping tiling
    assert np.bincount(data.test_y).tolist() == [256] * 3
    std = data.standardise()
    assert std.train_x.dtype == np.float32
    np.testing.assert_allclose(std.train_x.mean(axis=(1, 2)), 0, atol=1e-5)  # center="image"
    assert abs(std.train_x.std() - 1) < 1e-3


def test_real_textures_and_bad_inputs():
    data = sims.textures.texture_data(patch=8, train_per_class=10)
    assert data.classes == sims.textures.TEXTURE_NAMES and data.shape == (8, 8, 1)
    assert sims.textures.chance_level(data.test_y) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="patch"):
        sims.textures.texture_data(patch=2)
    with pytest.raises(ValueError, match="unknown texture"):
        sims.textures.texture_data(names=("brick", "wood"))
    with pytest.raises(ValueError, match="center"):
        data.standardise("pixel")


# --- loaders ----------------------------------------------------------------------------------


def _write_cifar(folder: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 20, n).astype(np.uint8)
    fine = rng.integers(0, 100, n).astype(np.uint8)
    img = rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8)
    planes = img.transpose(0, 3, 1, 2).reshape(n, 3072)  # R plane, G plane, B plane, row-major
    folder.mkdir(parents=True, exist_ok=True)
    recs = np.concatenate([coarse[:, None], fine[:, None], planes], axis=1)
    return recs, img, (coarse, fine)


def test_cifar100_binary(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    tr, img, (coarse, fine) = _write_cifar(folder, 7, 0)
    te, _, _ = _write_cifar(folder, 3, 1)
    tr.tofile(folder / "train.bin")
    te.tofile(folder / "test.bin")
    data = sims.loaders.load_cifar100(tmp_path)  # the parent folder works too
    np.testing.assert_array_equal(data.train_x, img)
    np.testing.assert_array_equal(data.train_y, fine)
    assert data.n_classes == 100 and len(data.test_y) == 3
    np.testing.assert_array_equal(sims.loaders.load_cifar100(folder, "coarse").train_y, coarse)
    assert len(sims.loaders.load_cifar100(folder, limit_train=2).train_y) == 2
    (folder / "test.bin").write_bytes(te.tobytes()[:-5])
    with pytest.raises(ValueError, match="test.bin.*not a positive multiple"):
        sims.loaders.load_cifar100(folder)
    bad = te.copy()
    bad[0, 1] = 150  # fine label out of range
    bad.tofile(folder / "test.bin")
    with pytest.raises(ValueError, match="out of range"):
        sims.loaders.load_cifar100(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no train.bin"):
        sims.loaders.load_cifar100(tmp_path / "empty")
    with pytest.raises(ValueError, match="does not exist"):
        sims.loaders.load_cifar100(tmp_path / "missing")


def _write_folder(root: Path, split: str, cls: str, n: int, ext: str, color) -> None:
    d = root / split / cls
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (20 + i, 12), color).save(d / f"im{i}{ext}")


def test_image_folder(tmp_path):
    root = tmp_path / "imgs"
    for split in ("train", "val"):
        _write_folder(root, split, "cat", 3, ".JPEG", (200, 10, 10))
        _write_folder(root, split, "dog", 2, ".png", (10, 10, 200))
    data = sims.loaders.load_image_folder(root, size=8)
    assert data.classes == ("cat", "dog") and data.train_x.shape == (5, 8, 8, 3)
    assert data.train_y.tolist() == [0, 0, 0, 1, 1]
    assert data.train_x[0, 4, 4, 0] > 150 and data.train_x[-1, 4, 4, 2] > 150
    assert len(sims.loaders.load_image_folder(root, size=8, limit_per_class=1).train_y) == 2
    (root / "val" / "dog" / "broken.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        sims.loaders.load_image_folder(root, size=8)
    (root / "val" / "dog" / "broken.png").unlink()
    (root / "val" / "bird").mkdir()
    with pytest.raises(ValueError, match="differ"):
        sims.loaders.load_image_folder(root, size=8)
    (root / "train" / "bird").mkdir()
    with pytest.raises(ValueError, match="holds no image files"):
        sims.loaders.load_image_folder(root, size=8)
    with pytest.raises(ValueError, match="split folder"):
        sims.loaders.load_image_folder(root, size=8, test_split="test")
    with pytest.raises(ValueError, match="does not exist"):
        sims.loaders.load_image_folder(tmp_path / "nothing")


# --- students and training ----------------------------------------------------------------------


def _toy(n=256, side=6, seed=0):
    """Two classes that differ in contrast (an amplitude cue): learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, side, side, 1)) * np.where(y, 2.0, 0.5)[:, None, None, None]
    return x.astype(np.float32), y


@pytest.mark.parametrize("model", ["two-layer", "cnn"])
def test_training_learns_and_is_reproducible(model):
    x, y = _toy()
    tx, ty = _toy(200, seed=1)
    net = sims.networks.make_model(model, 2, hidden=32, width=4)
    cfg = sims.networks.TrainConfig(steps=60, batch=32, lr=0.1, seeds=2, n_eval=4, eval_chunk=64)
    run = sims.networks.train(net, x, y, {"original": (tx, ty)}, cfg, progress=False)
    assert run["accuracy"].shape == (2, len(run["steps"]), 1) and run["steps"][0] == 0
    assert run["accuracy"][:, -1, 0].min() > 0.8  # chance is 0.5
    if model == "cnn":
        return
    alone = sims.networks.train(
        net,
        x,
        y,
        {"original": (tx, ty)},
        sims.networks.TrainConfig(**{**vars(cfg), "seeds": 1}),
        progress=False,
    )
    np.testing.assert_allclose(alone["accuracy"][0], run["accuracy"][0], atol=1.5 / len(ty))


@pytest.mark.parametrize("shape", [(5, 9, 7, 1), (2, 3, 6, 6, 4)])
def test_patch_convolution_is_flax_convolution(shape):
    """`Conv3x3` (im2col by slicing, for fast kernel gradients on CPU) computes flax's 3 x 3 'same'
    convolution with the same parameters, and the same gradients, to float32 rounding; extra
    leading axes are batch axes."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    x = jnp.asarray(np.random.default_rng(1).standard_normal(shape), jnp.float32)
    ours, ref = sims.networks.Conv3x3(5), nn.Conv(5, (3, 3))
    params = ours.init(jax.random.key(0), x)
    params["params"]["bias"] = jnp.linspace(-1, 1, 5)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, ref.init(jax.random.key(0), x))
    a, b = ours.apply(params, x), ref.apply(params, x)
    assert a.shape == b.shape == shape[:-1] + (5,)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    loss = lambda m: lambda p: jnp.sum(jnp.sin(m.apply(p, x)))
    ga, gb = jax.grad(loss(ours))(params), jax.grad(loss(ref))(params)
    for u, v in zip(jax.tree.leaves(ga), jax.tree.leaves(gb), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-4)


def test_bad_config():  # divergence is tested through the script (test_script_bad_input)
    with pytest.raises(ValueError, match="lr"):
        sims.networks.TrainConfig(lr=-1.0)
    with pytest.raises(ValueError, match="unknown model"):
        sims.networks.make_model("resnet", 2)


# --- curve analysis -------------------------------------------------------------------------------


def test_crossing_definitions():
    steps = np.array([0, 1, 2, 4, 8, 16])
    mask = np.array([[0, 1, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(sims.textures.first_sustained(mask, steps)[[0, 2]], [4, 0])
    assert np.isnan(sims.textures.first_sustained(mask, steps)[1])  # a last-step crossing is unconfirmed
    acc = np.array([[0.33, 0.34, 0.5, 0.6, 0.7, 0.8]])
    # threshold 1/3 + 3 sqrt(2/9/100) = 0.475
    assert sims.textures.leave_chance_steps(acc, steps, 1 / 3, 100)[0] == 2
    delay = sims.textures.paired_log_delay([10, 10, np.nan, np.nan], [100, np.nan, 5, np.nan])
    np.testing.assert_allclose(delay, [1.0, np.inf, -np.inf, 0.0])
    med, lo, hi = sims.textures.median_ci_signed([1.0, 2.0, np.inf, np.inf, np.inf])
    assert med == np.inf and lo >= 1.0 and hi == np.inf
    rng = np.random.default_rng(0)
    gap = np.where(steps >= 4, 0.2, 0.0) + 0.01 * rng.standard_normal((8, steps.size))
    step, lo, hi, frac = sims.textures.curve_separation(gap, np.zeros_like(gap), steps)
    assert step == 4 and lo <= 4 <= hi and frac > 0.9
    none = sims.textures.curve_separation(0.01 * rng.standard_normal((8, 6)), np.zeros((8, 6)), steps)
    assert np.isnan(none[0])


# --- script and claims --------------------------------------------------------------------------


def test_script_two_layer_and_cnn(tmp_path, capsys):
    common = ["--seeds", "2", "--steps", "40", "--n-eval", "5", "--train-per-class", "60", "--no-progress"]
    assert texture_experiment.main(["--patch", "8", "--out", str(tmp_path / "a"), *common]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert set(summary["leave_chance"]) == set(sims.textures.TEST_SET_NAMES)
    # the verdict is the registered rule applied to the censoring-aware delay, and says so
    want = ct.TEXTURE_RULE.passed(summary["phase_delay_censored"])
    assert summary["verdict"]["holds"] is want and ct.TEXTURE_RULE.text in summary["verdict"]["reason"]
    assert "provenance" in summary
    assert (tmp_path / "a" / "results.nc").exists() and (tmp_path / "a" / "textures.png").exists()
    args = ["--model", "cnn", "--width", "4", "--patch", "8", "--out", str(tmp_path / "b"), *common]
    assert texture_experiment.main(args) == 0
    assert "leaves chance at step" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--model", "vgg"], "unknown model"),
        (["--dataset", "mnist"], "unknown dataset"),
        (["--dataset", "cifar100:/does/not/exist"], "does not exist"),
        (["--lr", "-1"], "lr=-1"),
        (["--seeds", "1"], "at least 2 seeds"),
        (["--lr", "1e9", "--steps", "20", "--patch", "8", "--train-per-class", "30"], "lower the learning"),
    ],
)
def test_script_bad_input(tmp_path, capsys, argv, words):
    assert texture_experiment.main([*argv, "--no-progress", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err
    assert not (tmp_path / "o" / "summary.json").exists()


@pytest.mark.parametrize("patch", [16, 32])
def test_surrogates_are_exact(patch):
    """Code check (was the claim textures.surrogates_exact): phase-randomised patches keep every
    Fourier amplitude and are real; amplitude-equalised patches keep every phase and share one
    amplitude spectrum across classes (float64)."""
    data = sims.textures.texture_data(patch, train_per_class=200).standardise()
    x = data.test_x.astype(np.float64)
    spec = sims.textures.phase_randomised_spectrum(x, np.random.default_rng(0))
    back = np.fft.ifft2(spec, axes=(1, 2))
    assert np.abs(back.imag).max() / np.abs(back.real).max() < 1e-9
    fx = np.fft.fft2(x, axes=(1, 2))
    amp_err = np.abs(np.abs(np.fft.fft2(back.real, axes=(1, 2))) - np.abs(fx)).max()
    assert amp_err < 1e-9 * np.abs(fx).max()
    amp, dc = sims.textures.mean_amplitude(data.train_x.astype(np.float64))
    eq = sims.textures.amplitude_equalise(x, amp, dc)
    fe = np.fft.fft2(eq, axes=(1, 2))
    big = (np.abs(fx) > 1e-6 * np.abs(fx).max()) & (np.abs(fe) > 1e-6 * np.abs(fe).max())
    big[:, 0, 0, :] = False  # the zero-frequency coefficient is set to the reference mean
    assert np.abs(np.angle(fe[big] * np.conj(fx[big]))).max() < 1e-6
    for c in range(data.n_classes):
        assert np.abs(np.abs(fe[data.test_y == c]) - amp[None]).max() / amp.max() < 1e-6


def test_censored_delay_and_verdict():
    budget = 1000
    early = [100] * 8
    d = ct.censored_log_delay(early, [1000] * 8, budget)
    assert d["lo"] == pytest.approx(1.0) and d["hi"] == pytest.approx(1.0)
    d = ct.censored_log_delay(early, [None] * 8, budget)  # phase-only never: delay >= 1, no upper end
    assert d["lo"] == pytest.approx(1.0) and d["hi"] is None
    assert ct.verdict({"phase_delay_censored": d})["holds"] is True
    d = ct.censored_log_delay([None] * 8, [100] * 8, budget)  # amplitude-only never: delay <= -1
    assert d["lo"] is None and d["hi"] == pytest.approx(-1.0)
    assert ct.verdict({"phase_delay_censored": d})["holds"] is False
    assert ct.verdict({"phase_delay_censored": d}, ct.TEXTURE_CONTROL_RULE)["holds"] is True
    d = ct.censored_log_delay([None] * 8, [None] * 8, budget)  # neither: nothing to decide
    assert d["lo"] is None and d["hi"] is None and ct.verdict({"phase_delay_censored": d})["holds"] is None
    mixed = ct.censored_log_delay([100, 200, 100, 200], [200, 100, 200, 100], budget)
    assert ct.verdict({"phase_delay_censored": mixed})["outcome"] == "UNDECIDED"
