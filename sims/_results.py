"""Result files: one netCDF file per sweep cell, written atomically, with full provenance.

Every file carries the cell's configuration (JSON), its hash, the schema version, the package,
JAX and jaxlib versions, the PRNG implementation and the engine. A file is reused only if its
configuration hash and schema version match; it is never unpickled (netCDF via h5netcdf).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path

import jax
import numpy as np
import xarray as xr


SCHEMA_VERSION = 1


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("fourier-verifier")
    except Exception:  # noqa: BLE001 - running from a source tree
        return "0+unknown"


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def provenance() -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "package_version": package_version(),
        "jax_version": jax.__version__,
        "jaxlib_version": getattr(jax.lib, "__version__", "unknown") if hasattr(jax, "lib") else "unknown",
        "backend": jax.default_backend(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_target(path: Path):
    """Yield a temporary path beside `path`; on success it is renamed onto `path` (atomic on POSIX),
    on any error it is removed, so a reader never sees a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_cell(path: Path, run: dict, steps, seeds, config: dict) -> xr.Dataset:
    """Store one cell's run (the dict returned by `OnlineSGD.run`) as netCDF, atomically."""
    steps, seeds = np.asarray(steps, float), np.asarray(seeds, np.int64)
    ds = xr.Dataset(
        {
            "initial_overlap": (("step", "seed"), run["initial_overlap"]),
            "overlap": (("step", "seed", "checkpoint"), run["overlap"]),
            "escape_samples": (("step", "seed"), run["escape_samples"]),
            "max_abs_overlap": (("step", "seed"), run["max_abs_overlap"]),
            "finite": (("step", "seed"), run["finite"].astype(np.int8)),
        },
        coords={
            "step": steps,
            "seed": seeds,
            "checkpoint_samples": ("checkpoint", run["checkpoint_samples"]),
        },
    )
    ds["escape_samples"].attrs["meaning"] = "first sample count with |m| >= m_escape; NaN: no escape"
    attrs = provenance()
    attrs.update(
        config=json.dumps(config, sort_keys=True),
        config_hash=config_hash(config),
        engine=config.get("engine", "full"),
        prng_impl=config.get("prng_impl", "threefry2x32"),
        wall_seconds=float(run["wall_seconds"]),
        compile_seconds=float(run.get("compile_seconds", 0.0)),
    )
    ds.attrs.update(attrs)
    with atomic_target(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return ds


def read_cell(path: Path, config: dict | None = None) -> xr.Dataset | None:
    """Load a cell file; None if it is missing, unreadable, or written for another config/schema."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception:  # noqa: BLE001 - a corrupt file is recomputed
        return None
    if int(ds.attrs.get("schema_version", -1)) != SCHEMA_VERSION:
        return None
    if config is not None and ds.attrs.get("config_hash") != config_hash(config):
        return None
    return ds
