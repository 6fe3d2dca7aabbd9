"""JAX's persistent compilation cache, so that reruns skip the 1-5 s compile per N."""

from __future__ import annotations

import os
from pathlib import Path


def enable_compilation_cache() -> Path | None:
    """Point JAX at a per-user cache folder (FOURIER_VERIFIER_CACHE or ~/.cache/...); best effort."""
    import jax

    folder = Path(
        os.environ.get(
            "FOURIER_VERIFIER_CACHE",
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fourier-verifier" / "jax",
        )
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except OSError:
        return None
    return folder
