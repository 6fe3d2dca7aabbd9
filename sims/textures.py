"""Texture patches and the three test sets of the amplitude-versus-phase protocol.

Images are arrays of shape (n, H, W, C) (channels last, float32 after `standardise`). The three
test sets built from one set of test images:

- **original**: the images themselves;
- **phase-randomised** (amplitude information only): every image keeps the modulus of its 2-D DFT in
  every mode and channel; its phases are shifted by the phases of the DFT of a real white-noise image
  (one noise image per test image, shared by its channels so that cross-channel spectra survive).
  The noise phases are antisymmetric (theta_-k = -theta_k), so the new spectrum is Hermitian and its
  inverse DFT is real. A uniform phase plus any fixed phase is again uniform, so each phase is
  uniformly distributed. The zero-frequency coefficient (the image mean) is left untouched;
- **amplitude-equalised** (phase information only): every image keeps its phases; the modulus of
  every mode is replaced by the mean modulus over a reference set (the training images of all
  classes, per channel), so all classes share one amplitude spectrum. The zero-frequency coefficient
  (a mean, not a phase) is replaced by the reference set's mean coefficient, so phase-only images
  carry no first-order (brightness) information either.

With `ImageData.standardise(center="image")` (the default) every image has mean zero, so the
zero-frequency coefficient is 0 in all three test sets and only the non-zero frequencies differ.

Textures: the grayscale natural textures bundled with scikit-image (brick, grass, gravel; 512 x 512,
no download). Each texture image is cut into a top part (training) and a disjoint bottom part
(test). Training patches are random crops of the top part; test patches tile the bottom part
without overlap, so no test pixel is ever seen in training and test patches do not share pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np


TEXTURE_NAMES = ("brick", "grass", "gravel")
TEST_SET_NAMES = ("original", "phase_randomised", "amplitude_equalised")
CENTER_NAMES = ("image", "dataset")


@dataclasses.dataclass(frozen=True)
class ImageData:
    """Train and test images with integer labels; `classes` names the labels.

    Arrays are (n, H, W, C); `standardise` turns them into float32 with zero mean and unit variance
    per channel (statistics of the training images).
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self):
        for split, x, y in (("train", self.train_x, self.train_y), ("test", self.test_x, self.test_y)):
            if x.ndim != 4:
                raise ValueError(f"{split} images must have shape (n, H, W, C), got {x.shape}")
            if len(x) != len(y) or len(x) == 0:
                raise ValueError(f"{split}: {len(x)} images but {len(y)} labels (need the same, > 0)")
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(f"train images {self.train_x.shape[1:]} and test {self.test_x.shape[1:]} differ")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.train_x.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def standardise(self, center: str = "image") -> ImageData:
        """float32 images with unit variance per channel (training statistics).

        `center="image"` subtracts every image's own per-channel mean (its zero-frequency Fourier
        coefficient becomes 0, so no test set carries mean-brightness information);
        `center="dataset"` subtracts the per-channel mean of the training images only.
        """
        if center not in CENTER_NAMES:
            raise ValueError(f"unknown center {center!r}: use one of {', '.join(CENTER_NAMES)}")

        def centred(a):
            a = a.astype(np.float64)
            return a - a.mean(axis=(1, 2), keepdims=True) if center == "image" else a

        x = centred(self.train_x)
        mean = np.zeros(x.shape[-1]) if center == "image" else x.mean(axis=(0, 1, 2))
        std = x.std(axis=(0, 1, 2))
        std = np.where(std > 0, std, 1.0)
        f = lambda a: ((centred(a) - mean) / std).astype(np.float32)
        return dataclasses.replace(self, train_x=f(self.train_x), test_x=f(self.test_x))


def chance_level(labels: np.ndarray) -> float:
    """Accuracy of the best constant guess: the frequency of the most common test label."""
    counts = np.bincount(np.asarray(labels, np.int64))
    return float(counts.max() / counts.sum())


def load_textures(names=TEXTURE_NAMES) -> dict[str, np.ndarray]:
    """The bundled scikit-image textures as float64 arrays in [0, 1], shape (512, 512)."""
    import skimage.data

    out = {}
    for name in names:
        if name not in TEXTURE_NAMES:
            raise ValueError(f"unknown texture {name!r}: use some of {', '.join(TEXTURE_NAMES)}")
        img = np.asarray(getattr(skimage.data, name)(), np.float64)
        if img.ndim == 3:
            img = img[..., :3].mean(axis=-1)
        out[name] = img / 255.0
    return out


def split_rows(height: int, patch: int, test_fraction: float) -> int:
    """Row index separating the training part (above) from the test part (below)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    cut = int(round(height * (1 - test_fraction)))
    if cut < patch or height - cut < patch:
        raise ValueError(
            f"patch {patch} does not fit in both parts of a {height}-row image cut at row {cut}: "
            "use a smaller --patch or another test fraction"
        )
    return cut


def texture_data(
    patch: int = 32,
    train_per_class: int = 2000,
    test_fraction: float = 0.5,
    names=TEXTURE_NAMES,
    seed: int = 0,
) -> ImageData:
    """Grayscale texture patches: random training crops above the cut, tiled test patches below it.

    **Arguments:**
    - `patch`: side of the square patches (4 to 128).
    - `train_per_class`: random crops per texture from its training part.
    - `test_fraction`: fraction of each image's rows reserved for testing.
    - `names`: which textures (the classes, in this order).
    - `seed`: for the crop positions.

    **Returns:** an `ImageData` with (n, patch, patch, 1) arrays in [0, 1] (call `standardise`).
    """
    if not 4 <= int(patch) <= 128:
        raise ValueError(f"patch must be between 4 and 128 pixels, got {patch}")
    if int(train_per_class) < 1:
        raise ValueError(f"train_per_class must be positive, got {train_per_class}")
    patch = int(patch)
    images = load_textures(names)
    rng = np.random.default_rng(seed)
    tr_x, tr_y, te_x, te_y = [], [], [], []
    for label, name in enumerate(names):
        img = images[name]
        height, width = img.shape
        cut = split_rows(height, patch, test_fraction)
        rows = rng.integers(0, cut - patch + 1, train_per_class)
        cols = rng.integers(0, width - patch + 1, train_per_class)
        tr_x.append(np.stack([img[r : r + patch, c : c + patch] for r, c in zip(rows, cols, strict=True)]))
        tr_y.append(np.full(train_per_class, label))
        test = [
            img[r : r + patch, c : c + patch]
            for r in range(cut, height - patch + 1, patch)
            for c in range(0, width - patch + 1, patch)
        ]
        te_x.append(np.stack(test))
        te_y.append(np.full(len(test), label))
    return ImageData(
        name="textures",
        train_x=np.concatenate(tr_x)[..., None],
        train_y=np.concatenate(tr_y),
        test_x=np.concatenate(te_x)[..., None],
        test_y=np.concatenate(te_y),
        classes=tuple(names),
    )


def _spectrum(x: np.ndarray) -> np.ndarray:
    """2-D DFT over the spatial axes of (n, H, W, C) images (complex128)."""
    return np.fft.fft2(np.asarray(x, np.float64), axes=(1, 2))


def noise_phases(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """Phases of the DFT of n real white-noise images, shape (n, H, W, 1), zero at frequency 0.

    They are antisymmetric (theta_-k = -theta_k modulo 2 pi) because the noise is real; on the other
    self-conjugate modes (Nyquist rows/columns) they are 0 or pi, which keeps those coefficients real.
    """
    noise = rng.standard_normal((n, height, width))
    theta = np.angle(np.fft.fft2(noise, axes=(1, 2)))
    theta[:, 0, 0] = 0.0
    return theta[..., None]


def phase_randomised_spectrum(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The Hermitian spectrum of the phase-randomised images (before the inverse DFT)."""
    spec = _spectrum(x)
    theta = noise_phases(rng, x.shape[0], x.shape[1], x.shape[2])
    return spec * np.exp(1j * theta)


def phase_randomise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Amplitude-only surrogates: same |DFT| in every mode and channel, random phases, real output."""
    if x.ndim != 4:
        raise ValueError(f"images must have shape (n, H, W, C), got {x.shape}")
    spec = phase_randomised_spectrum(x, rng)
    return np.fft.ifft2(spec, axes=(1, 2)).real.astype(x.dtype)


def mean_amplitude(x: np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Mean DFT modulus over the images, shape (H, W, C), and the mean zero-frequency coefficient
    (real, one per channel)."""
    total = np.zeros(x.shape[1:], np.float64)
    dc = np.zeros(x.shape[-1], np.float64)
    for start in range(0, len(x), batch):
        spec = _spectrum(x[start : start + batch])
        total += np.abs(spec).sum(axis=0)
        dc += spec[:, 0, 0, :].real.sum(axis=0)
    return total / len(x), dc / len(x)


def amplitude_equalised_spectrum(x: np.ndarray, amplitude: np.ndarray, dc=None) -> np.ndarray:
    """The spectrum of the amplitude-equalised images: modulus `amplitude` with the images' own
    phases; the zero-frequency coefficient is set to `dc` (per channel) when given."""
    spec = _spectrum(x)
    mod = np.abs(spec)
    unit = np.where(mod > 0, spec / np.where(mod > 0, mod, 1.0), 1.0)
    out = np.asarray(amplitude)[None] * unit
    if dc is not None:
        out[:, 0, 0, :] = np.asarray(dc, np.float64)
    return out


def amplitude_equalise(x: np.ndarray, amplitude: np.ndarray, dc=None) -> np.ndarray:
    """Phase-only surrogates: own phases, the common mean amplitude spectrum, real output."""
    if x.ndim != 4:
        raise ValueError(f"images must have shape (n, H, W, C), got {x.shape}")
    if tuple(np.shape(amplitude)) != tuple(x.shape[1:]):
        raise ValueError(f"amplitude spectrum {np.shape(amplitude)} does not match images {x.shape[1:]}")
    spec = amplitude_equalised_spectrum(x, amplitude, dc)
    return np.fft.ifft2(spec, axes=(1, 2)).real.astype(x.dtype)


def make_test_sets(
    data: ImageData, seed: int = 0, batch: int = 4096
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The three test sets (original, phase-randomised, amplitude-equalised) with their labels.

    The equalising spectrum is the mean DFT modulus of the training images of all classes.
    """
    amp, dc = mean_amplitude(data.train_x, batch)
    rng = np.random.default_rng(seed)
    x = data.test_x
    rand = np.concatenate([phase_randomise(x[s : s + batch], rng) for s in range(0, len(x), batch)])
    equal = np.concatenate([amplitude_equalise(x[s : s + batch], amp, dc) for s in range(0, len(x), batch)])
    return {
        "original": (x, data.test_y),
        "phase_randomised": (rand, data.test_y),
        "amplitude_equalised": (equal, data.test_y),
    }


# --- learning-curve analysis -------------------------------------------------------------------------

Z_THRESHOLD = 3.0  # one-sided, about 0.13% per evaluation step under the null
SUSTAIN = 2  # consecutive evaluation steps a crossing must hold


def first_sustained(mask: np.ndarray, steps: np.ndarray, sustain: int = SUSTAIN) -> np.ndarray:
    """Per row of the boolean (seeds, steps) `mask`, the first step from which it is True at `sustain`
    consecutive evaluation steps; NaN if there is none (a crossing in the last `sustain - 1`
    evaluations cannot be confirmed and counts as none)."""
    mask = np.asarray(mask, bool)
    out = np.full(mask.shape[0], np.nan)
    for s, row in enumerate(mask):
        for i in range(row.size):
            if i + sustain <= row.size and row[i : i + sustain].all():
                out[s] = steps[i]
                break
    return out


def leave_chance_steps(acc: np.ndarray, steps, chance: float, n_test: int, z: float = Z_THRESHOLD):
    """Per seed, the first evaluation step at which accuracy exceeds chance by z binomial standard
    errors, sqrt(chance (1 - chance) / n_test), at `SUSTAIN` consecutive steps (NaN: never).

    `acc` is (seeds, steps) on one test set of `n_test` images.
    """
    threshold = chance + z * np.sqrt(chance * (1 - chance) / n_test)
    return first_sustained(np.asarray(acc) > threshold, np.asarray(steps))


def curve_separation(
    upper: np.ndarray,
    lower: np.ndarray,
    steps,
    z: float = Z_THRESHOLD,
    sustain: int = SUSTAIN,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
):
    """The step at which two learning curves separate, with a bootstrap interval over seeds.

    With d = `upper - lower` per seed and evaluation step (paired: same seed, same step), the
    separation step is the first step at which the seed-mean of d exceeds z standard errors of that
    mean (the sample standard deviation over seeds / sqrt(seeds)) at `sustain` consecutive steps.
    The interval: the same rule applied to the seed-means of bootstrap resamples of the seeds, with
    the threshold held at the full sample's z standard errors (a resample that never crosses counts
    as +inf); percentiles of those steps.

    **Returns:** (step, lo, hi, fraction of resamples that separated); NaN/inf when none does.
    """
    d = np.asarray(upper, float) - np.asarray(lower, float)
    steps = np.asarray(steps)
    seeds = d.shape[0]
    if seeds < 2:
        return np.nan, np.nan, np.nan, 0.0
    threshold = z * np.maximum(d.std(axis=0, ddof=1), 1e-12) / np.sqrt(seeds)
    point = first_sustained(d.mean(axis=0)[None] > threshold, steps, sustain)[0]
    idx = np.random.default_rng(seed).integers(0, seeds, size=(n_boot, seeds))
    boots = first_sustained(d[idx].mean(axis=1) > threshold, steps, sustain)
    boots = np.where(np.isfinite(boots), boots, np.inf)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha], method="lower")
    return float(point), float(lo), float(hi), float(np.isfinite(boots).mean())


def mean_curve_ci(acc: np.ndarray, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95):
    """Mean over seeds (axis 0) with a percentile-bootstrap interval over seeds: (mean, lo, hi)."""
    acc = np.asarray(acc, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, acc.shape[0], size=(n_boot, acc.shape[0]))
    boots = acc[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha], axis=0)
    return acc.mean(axis=0), lo, hi


def paired_log_delay(early, late) -> np.ndarray:
    """Per seed, log10(late) - log10(early) of two crossing steps (NaN = never crossed).

    A seed where only `late` never crossed counts as +inf (late came after the budget), one where
    only `early` never crossed as -inf, one where neither crossed as 0 (no evidence either way).
    Steps of 0 count as 1 on the log scale."""
    early, late = np.asarray(early, float), np.asarray(late, float)
    e_ok, l_ok = np.isfinite(early), np.isfinite(late)
    out = np.zeros(early.shape)
    both = e_ok & l_ok
    out[both] = np.log10(np.maximum(late[both], 1)) - np.log10(np.maximum(early[both], 1))
    out[e_ok & ~l_ok] = np.inf
    out[~e_ok & l_ok] = -np.inf
    return out


def median_ci_signed(values, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95):
    """Median with a percentile-bootstrap interval, for values that may be +inf or -inf (no NaN)."""
    v = np.asarray(values, float)
    big = 1e300
    w = np.clip(v, -big, big)
    rng = np.random.default_rng(seed)
    meds = np.median(w[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(meds, [alpha, 1 - alpha], method="lower")
    back = lambda m: float(np.sign(m) * np.inf) if abs(m) >= big / 4 else float(m)
    return back(float(np.median(w))), back(lo), back(hi)


def summarise(run: dict, chance: float, n_test: dict[str, int], z: float = Z_THRESHOLD) -> dict:
    """Crossing steps with intervals over seeds, from a `train` result on the three test sets.

    **Returns** (JSON-ready): `chance`, `z`, `sustain`, `seeds`; `leave_chance` per test set (median
    step over seeds with a 95% bootstrap interval, censored seeds counted as +inf, and the fraction
    of seeds that left chance); `separation` (`curve_separation` of the original over the
    phase-randomised accuracy, both minus their value at step 0); `phase_delay` (per-seed log10
    of the phase-only step over the amplitude-only step: median and interval); `final_accuracy`
    per test set (mean with interval).
    """
    from ._stats import median_ci

    steps = np.asarray(run["steps"])
    acc = np.asarray(run["accuracy"])
    names = list(run["set_names"])
    col = {k: acc[:, :, names.index(k)] for k in names}
    out = {"chance": chance, "z": z, "sustain": SUSTAIN, "seeds": int(acc.shape[0]), "leave_chance": {}}
    per_seed = {}
    for k in names:
        st = leave_chance_steps(col[k], steps, chance, n_test[k], z)
        per_seed[k] = st
        out["leave_chance"][k] = {
            "median_step": median_ci(st).as_dict(),
            "fraction": float(np.isfinite(st).mean()),
            "per_seed": [None if not np.isfinite(v) else int(v) for v in st],
        }
    if {"original", "phase_randomised"} <= set(names):
        # Gaps are measured from their value at initialisation (the untrained network's offset).
        o, r = col["original"], col["phase_randomised"]
        step, lo, hi, frac = curve_separation(o - o[:, :1], r - r[:, :1], steps)
        f = lambda v: None if not np.isfinite(v) else int(v)
        out["separation"] = {
            "step": f(step),
            "lo": f(lo),
            "hi": f(hi),
            "resamples_separated": frac,
            "z": Z_THRESHOLD,
        }
    if {"phase_randomised", "amplitude_equalised"} <= set(names):
        delay = paired_log_delay(per_seed["phase_randomised"], per_seed["amplitude_equalised"])
        med, lo, hi = median_ci_signed(delay)
        out["phase_delay"] = {
            "median_log10_ratio": med,
            "lo": lo,
            "hi": hi,
            "seeds": int(delay.size),
            "per_seed": [float(d) if np.isfinite(d) else ("inf" if d > 0 else "-inf") for d in delay],
        }
    out["final_accuracy"] = {}
    for k in names:
        m, lo, hi = mean_curve_ci(col[k][:, -1:])
        out["final_accuracy"][k] = {"value": float(m[0]), "lo": float(lo[0]), "hi": float(hi[0])}
    return out
