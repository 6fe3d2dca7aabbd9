"""Result files: one netCDF file per sweep cell, written atomically, with full provenance.

Every file carries the cell's configuration (JSON), its hash, the schema version, the package,
JAX and jaxlib versions, the PRNG implementation and the engine. A file is reused only if its
configuration hash and schema version match; it is never unpickled (netCDF via h5netcdf).

`cell_status` says why a file cannot be reused (missing, corrupt, other schema, other config);
`read_cell` turns that into None (the sweep recomputes the cell) and `load_cell` into a one-line
`CellFileError` (for readers that must not recompute, e.g. combining the cells of other processes).
A writer killed with SIGKILL may leave a hidden `.NAME.*.tmp` beside the target, never a partial
target; `remove_stale_temporaries` clears them before the cell is recomputed.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
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
CELL_VARIABLES = ("initial_overlap", "overlap", "escape_samples", "max_abs_overlap", "finite")


class CellFileError(ValueError):
    """A result file that cannot be used: one line naming the file, the reason and what to do."""


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
        "jaxlib_version": _jaxlib_version(),
        "backend": jax.default_backend(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _jaxlib_version() -> str:
    try:
        import jaxlib

        return str(jaxlib.__version__)
    except Exception:  # noqa: BLE001
        return "unknown"


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
        stop_samples=float(run.get("stop_samples", config.get("budget", np.nan))),
        wall_seconds=float(run["wall_seconds"]),
        compile_seconds=float(run.get("compile_seconds", 0.0)),
    )
    ds.attrs.update(attrs)
    with atomic_target(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return ds


def cell_status(
    path: Path, config: dict | None = None, variables: tuple[str, ...] = ()
) -> tuple[xr.Dataset | None, str]:
    """(dataset, "ok") for a reusable file, else (None, reason): `missing`, `corrupt (...)`,
    `schema version V (this code writes W)` or `written for another config`. `variables`: data
    variables the file must hold (e.g. `CELL_VARIABLES` for `write_cell` files)."""
    path = Path(path)
    if not path.exists():
        return None, "missing"
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception as err:  # noqa: BLE001 - any unreadable file is corrupt
        return None, f"corrupt ({type(err).__name__})"
    try:
        version = int(ds.attrs["schema_version"])
        stored = json.loads(ds.attrs["config"])
        stored_hash = str(ds.attrs["config_hash"])
    except (KeyError, TypeError, ValueError):
        return None, "corrupt (no provenance attributes)"
    if version != SCHEMA_VERSION:
        return None, f"schema version {version} (this code writes {SCHEMA_VERSION})"
    missing = [v for v in variables if v not in ds]
    if missing:
        return None, f"corrupt (no variable {missing[0]!r})"
    if config_hash(stored) != stored_hash:
        return None, "corrupt (its config does not match its hash)"
    if config is not None and stored_hash != config_hash(config):
        return None, "written for another config"
    return ds, "ok"


def read_cell(path: Path, config: dict | None = None) -> xr.Dataset | None:
    """Load a cell file; None if it is missing, unreadable, or written for another config/schema."""
    return cell_status(path, config)[0]


def load_cell(path: Path, config: dict | None = None, variables: tuple[str, ...] = ()) -> xr.Dataset:
    """Load a cell file or raise `CellFileError` (one line: the file, why, and what to do)."""
    ds, reason = cell_status(path, config, variables)
    if ds is None:
        raise CellFileError(
            f"result file {str(path)!r} is {reason}: delete it and rerun the sweep (the cell is recomputed)"
            if reason != "missing"
            else f"result file {str(path)!r} is missing: run the sweep (or the job for this cell) first"
        )
    return ds


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the hidden temporaries a killed writer of `path` left behind; returns them.

    Call it only from the process that owns `path` (one writer per cell)."""
    path = Path(path)
    stale = [Path(p) for p in glob.glob(str(path.parent / f".{glob.escape(path.name)}.*.tmp"))]
    for p in stale:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return stale
