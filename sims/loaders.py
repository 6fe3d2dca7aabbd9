"""Loaders for natural-image datasets already on disk (nothing is downloaded, nothing unpickled).

- **CIFAR-100, binary distribution**: a folder `cifar-100-binary/` holding `train.bin` and
  `test.bin`. Each record is 3074 bytes: the coarse label (0-19), the fine label (0-99), then
  3072 pixel bytes, the 1024 red values, the 1024 green values and the 1024 blue values of a
  32 x 32 image in row-major order. The path given may be that folder or its parent.
- **Image folders** (ImageNet style): `root/<split>/<class_name>/<image files>` with split `train`
  and a test split (`val` or `test`). Images are read with Pillow, converted to RGB, centre-cropped
  to a square and resized to `size` x `size`.

Both return `ImageData` (uint8 images, shape (n, H, W, 3)); call `.standardise()` before training.
Every problem with the files (missing, truncated, labels out of range, unreadable images, classes
that differ between splits) raises a one-line `ValueError` that names the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .textures import ImageData


CIFAR_RECORD = 2 + 3 * 32 * 32
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _cifar_folder(path: Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"CIFAR-100 path {str(path)!r} does not exist: give the cifar-100-binary folder")
    for folder in (path, path / "cifar-100-binary"):
        if (folder / "train.bin").is_file() or (folder / "test.bin").is_file():
            return folder
    raise ValueError(
        f"no train.bin or test.bin under {str(path)!r}: give the cifar-100-binary folder of the "
        "binary distribution (the Python/pickle distribution is not read)"
    )


def read_cifar100_bin(
    file: Path, label: str = "fine", limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 32, 32, 3) uint8 and labels of one CIFAR-100 binary file.

    **Arguments:**
    - `file`: `train.bin` or `test.bin`.
    - `label`: `fine` (100 classes) or `coarse` (20 superclasses).
    - `limit`: read at most this many records (the first ones).
    """
    if label not in ("fine", "coarse"):
        raise ValueError(f"label must be 'fine' or 'coarse', got {label!r}")
    file = Path(file)
    if not file.is_file():
        raise ValueError(f"CIFAR-100 file {str(file)!r} is missing")
    size = file.stat().st_size
    if size == 0 or size % CIFAR_RECORD:
        raise ValueError(
            f"{str(file)!r} has {size} bytes, not a positive multiple of the {CIFAR_RECORD}-byte "
            "CIFAR-100 record: the file is truncated or not CIFAR-100 binary"
        )
    count = size // CIFAR_RECORD if limit is None else min(int(limit), size // CIFAR_RECORD)
    raw = np.fromfile(file, dtype=np.uint8, count=count * CIFAR_RECORD).reshape(count, CIFAR_RECORD)
    coarse, fine = raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64)
    if coarse.max() >= 20 or fine.max() >= 100:
        raise ValueError(
            f"{str(file)!r} has labels out of range (coarse max {coarse.max()}, fine max {fine.max()}; "
            "expected < 20 and < 100): not a CIFAR-100 binary file (CIFAR-10 has one label byte)"
        )
    images = raw[:, 2:].reshape(count, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), (fine if label == "fine" else coarse)


def load_cifar100(
    path: Path, label: str = "fine", limit_train: int | None = None, limit_test: int | None = None
) -> ImageData:
    """CIFAR-100 from its binary distribution (train.bin and test.bin)."""
    folder = _cifar_folder(path)
    tr_x, tr_y = read_cifar100_bin(folder / "train.bin", label, limit_train)
    te_x, te_y = read_cifar100_bin(folder / "test.bin", label, limit_test)
    n = 100 if label == "fine" else 20
    return ImageData(f"cifar100-{label}", tr_x, tr_y, te_x, te_y, tuple(f"{label}{i}" for i in range(n)))


def _class_folders(split_dir: Path) -> list[Path]:
    classes = sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{str(split_dir)!r} has no class folders: expected {split_dir}/<class_name>/*.JPEG")
    return classes


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.name[0] != "."
    )


def read_image(file: Path, size: int) -> np.ndarray:
    """One image as (size, size, 3) uint8: RGB, centre-cropped to a square, resized (bilinear)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            img = img.convert("RGB")
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
            return np.asarray(img, np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read image {str(file)!r}: {err}") from None


def _read_split(split_dir: Path, classes: list[str], size: int, limit: int | None):
    xs, ys = [], []
    for label, name in enumerate(classes):
        files = _image_files(split_dir / name)
        if not files:
            raise ValueError(f"class folder {str(split_dir / name)!r} holds no image files")
        for file in files[:limit] if limit else files:
            xs.append(read_image(file, size))
            ys.append(label)
    return np.stack(xs), np.asarray(ys, np.int64)


def load_image_folder(
    root: Path,
    size: int = 64,
    train_split: str = "train",
    test_split: str | None = None,
    limit_per_class: int | None = None,
) -> ImageData:
    """An ImageNet-style folder tree `root/<split>/<class>/<images>` read into memory.

    **Arguments:**
    - `root`: the dataset folder.
    - `size`: side of the square images after centre crop and resize.
    - `train_split`: training split folder name.
    - `test_split`: test split folder name; default `val` if present, else `test`.
    - `limit_per_class`: read at most this many images per class and split (sorted by file name).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} does not exist: give root with root/train/<class>/")
    if not 4 <= int(size) <= 512:
        raise ValueError(f"image size must be between 4 and 512 pixels, got {size}")
    if limit_per_class is not None and int(limit_per_class) < 1:
        raise ValueError(f"limit_per_class must be positive, got {limit_per_class}")
    if test_split is None:
        test_split = "val" if (root / "val").is_dir() else "test"
    dirs = {}
    for split in (train_split, test_split):
        if not (root / split).is_dir():
            raise ValueError(f"split folder {str(root / split)!r} is missing: expected root/{split}/<class>/")
        dirs[split] = root / split
    classes = [p.name for p in _class_folders(dirs[train_split])]
    test_classes = [p.name for p in _class_folders(dirs[test_split])]
    if classes != test_classes:
        only = sorted(set(classes) ^ set(test_classes))
        raise ValueError(
            f"class folders of {train_split!r} and {test_split!r} differ (e.g. {only[:3]}): "
            "both splits need the same class names"
        )
    tr_x, tr_y = _read_split(dirs[train_split], classes, int(size), limit_per_class)
    te_x, te_y = _read_split(dirs[test_split], classes, int(size), limit_per_class)
    return ImageData(f"imagefolder-{root.name}", tr_x, tr_y, te_x, te_y, tuple(classes))
