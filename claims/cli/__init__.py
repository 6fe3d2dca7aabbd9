"""The verifier's commands. Each module has a `main(argv) -> exit code` and is installed as a
console script (`[project.scripts]` in pyproject.toml); `python scripts/X.py` runs the same `main`
through a thin wrapper.

| command | module | wrapper |
|---|---|---|
| `fourier-sweep` | `claims.cli.sweep` | `scripts/scaling_sweep.py` |
| `fourier-launch-array` | `claims.cli.launch_array` | `scripts/launch_array.py` |
| `fourier-verify` | `claims.cli.verify` | `scripts/verify.py` |
| `fourier-amplitude-phase` | `claims.cli.amplitude_phase` | `scripts/amplitude_phase.py` |
| `fourier-frequency-principle` | `claims.cli.frequency_principle` | `scripts/frequency_principle.py` |
| `fourier-spectral-bias` | `claims.cli.spectral_bias` | `scripts/spectral_bias.py` |
| `fourier-textures` | `claims.cli.textures` | `scripts/texture_experiment.py` |
| `fourier-bench` | `claims.cli.bench` | `scripts/bench_engine.py` |
| `fourier-theory-docs` | `claims.cli.theory_docs` | `scripts/make_theory_docs.py` |

Shared behaviour (`claims.cli._common`): bad input gives one line on stderr and exit code 2.
"""
