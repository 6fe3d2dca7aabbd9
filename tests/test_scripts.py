"""End-to-end tests of the command-line scripts: outputs, resumption, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import claims
from claims.cli import sweep as sweep_command


# Under pytest-xdist, this module's tests share one worker and so its session fixtures run once.
pytestmark = pytest.mark.xdist_group("scripts")

ROOT = Path(__file__).resolve().parents[1]


def run_script(name: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    proc = run_script("scaling_sweep.py", "--profile", "smoke", "--no-progress", "--out", str(out))
    return out, proc


def test_smoke_sweep_writes_summary_cells_and_figures(smoke_sweep):
    out, proc = smoke_sweep
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in claims.SUMMARY_KEYS:
        assert key in summary
    assert summary["information_exponent"] == 4 and summary["recoverable"] is True
    assert summary["predicted_exponent"] == 3
    assert [c["N"] for c in summary["cells"]] == [12, 16, 24]
    for cell in summary["cells"]:
        assert {
            "seeds",
            "budget",
            "escaped_fraction",
            "median_escape_samples",
            "theory_escape_samples",
        } <= set(cell)
        assert cell["seeds"] == 8
    if summary["fit"] is None:  # too few N passed the chance control: the verdict says so
        assert summary["verdict"]["lower_bound"] == "undecided" and "usable N" in summary["verdict"]["reason"]
    else:
        for key in ("exponent", "log_power"):
            assert {"value", "lo", "hi"} <= set(summary["fit"][key])
        assert {"lower", "upper"} <= set(summary["bounds"])
        assert summary["bounds"]["lower"]["margin"] == claims.MARGIN
    assert isinstance(summary["verdict"]["reason"], str) and summary["verdict"]["reason"]
    assert summary["provenance"]["jax_version"]
    assert (out / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "scaling.pdf").read_bytes()[:4] == b"%PDF"
    assert len(list((out / "cells").glob("cell_N?????.nc"))) == 3  # the signal cells; controls beside
    assert all(c.name.endswith("_null.nc") for c in (out / "cells").glob("cell_N?????_*.nc"))
    assert summary["start"] == "random" and summary["verdict"]["lower_bound"] in claims.VERDICTS
    assert "verdict:" in proc.stdout and "margin eps" in proc.stdout and "random start" in proc.stdout


def test_step_scan_reports_the_best_step_per_n(tmp_path):
    out = tmp_path / "scan"
    proc = run_script(
        "scaling_sweep.py", "--profile", "smoke", "--N", "12", "16", "--seeds", "6",
        "--step-scan", "1", "8", "64", "--step-log-power", "0", "--budget-factor", "1", "--null-seeds", "0",
        "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [e["N"] for e in summary["step_scan"]] == [12, 16]
    for entry in summary["step_scan"]:
        assert {"best_factor", "best_median", "per_factor", "ode_best_factor"} <= set(entry)
        assert [p["factor"] for p in entry["per_factor"]] == [1.0, 8.0, 64.0]
        for p in entry["per_factor"]:
            assert {"factor", "step", "escaped_fraction", "median", "eligible", "reason"} <= set(p)
    assert summary["theory"]["step_log_power"] == 0.0
    if summary["step_scan_fit"]:
        assert [p["factor"] for p in summary["step_scan_fit"]["per_factor"]] == [1.0, 8.0, 64.0]
    assert "_boot" not in json.dumps(summary)
    for name in ("lower", "upper"):
        if summary["bounds"]:
            assert summary["bounds"][name]["basis"] == "step scan"
    assert (out / "step_scan.png").read_bytes()[:4] == b"\x89PNG"
    assert "F=" in proc.stdout or "factor" in proc.stdout


def test_rerun_skips_finished_cells_and_recomputes_corrupt_ones(smoke_sweep):
    out, _ = smoke_sweep
    cells = sorted((out / "cells").glob("*.nc"))
    stamps = {p: p.stat().st_mtime_ns for p in cells}
    cells[0].write_bytes(b"corrupt")
    proc = run_script("scaling_sweep.py", "--profile", "smoke", "--no-progress", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert cells[0].stat().st_mtime_ns != stamps[cells[0]]
    assert all(p.stat().st_mtime_ns == stamps[p] for p in cells[1:])
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


BAD_ARGS = [
    (["--task", "colour"], "colour"),
    (["--latent", "cauchy"], "cauchy"),
    (["--activation", "sigmoid"], "sigmoid"),
    (["--N", "3", "8"], "N value 3"),
    (["--seeds", "0"], "--seeds 0"),
    (["--step", "-0.5"], "--step -0.5"),
    (["--latent", "moments:0.5,1.25,0,3"], "mean 0.5"),
    (["--latent", "moments:0,2,0,6"], "variance 2"),
    (["--latent", "gaussian"], "gaussian"),
    (["--profile", "huge"], "huge"),
    (["--engine", "warp"], "warp"),
    (["--step", "1e40", "--N", "8"], "NaN"),
    (["--budget-factor", "1e5", "--N", "8", "24"], "--budget-factor"),
    (["--root-seed", "99999999999999999999"], "--root-seed"),
    (["--N", "abc"], "invalid int value: 'abc'"),
    (["--snr", "0"], "--snr 0"),
]  # the new flags' bad values are tested in-process (tests/test_verdicts.py)


# Two cases as real processes (the exit status and stderr of the script); the rest in-process,
# through the same `main` (a process per case cost about 5 s each).
SUBPROCESS_CASES = {"colour", "NaN"}


@pytest.mark.parametrize("args, needle", BAD_ARGS)
def test_bad_input_exits_2_with_one_line_and_no_files(tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    argv = ["--profile", "smoke", "--no-progress", "--out", str(out), *args]
    if needle in SUBPROCESS_CASES:
        proc = run_script("scaling_sweep.py", *argv)
        code, stderr = proc.returncode, proc.stderr
    else:
        try:
            code = sweep_command.main(argv)
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code
        stderr = capsys.readouterr().err
    assert code == 2, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], stderr
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_unwritable_output_folder_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_script("scaling_sweep.py", "--profile", "smoke", "--out", str(blocker / "sub"))
    assert proc.returncode == 2 and "not a folder" in proc.stderr
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        proc = run_script("scaling_sweep.py", "--profile", "smoke", "--out", str(locked / "x"))
        assert proc.returncode == 2 and "not writable" in proc.stderr


def test_help_explains_every_flag():
    proc = run_script("scaling_sweep.py", "--help")
    assert proc.returncode == 0
    for flag in (
        "--task",
        "--latent",
        "--activation",
        "--snr",
        "--N",
        "--seeds",
        "--engine",
        "--start",
        "--profile",
        "--out",
    ):
        assert flag in proc.stdout


def test_verify_refuses_unknown_tier_and_claim(tmp_path):
    assert run_script("verify.py", "--tier", "huge").returncode == 2
    assert run_script("verify.py", "--claim", "nope", "--out", str(tmp_path)).returncode == 2


@pytest.mark.slow  # kept out of the 10-minute fast tier
def test_float64_sweep_runs_and_is_recorded(tmp_path):
    proc = run_script(
        "scaling_sweep.py",
        "--profile",
        "smoke",
        "--N",
        "8",
        "12",
        "16",
        "--seeds",
        "4",
        "--float64",
        "--no-progress",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["dtype"] == "float64"
    for cell in summary["cells"]:
        assert cell["escaped_fraction"] > 0.5


@pytest.mark.slow
def test_benchmark_script_runs_in_quick_mode(tmp_path):
    argv = ["--quick", "--out", str(tmp_path / "bench.md"), "--json", str(tmp_path / "bench.json")]
    proc = run_script("bench_engine.py", *argv, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "bench.md").read_text()
    assert "engine/floor" in report and "Network training throughput" in report
    payload = json.loads((tmp_path / "bench.json").read_text())
    assert payload["reduced_over_floor"] and all(r["ratio"] > 0 for r in payload["reduced_over_floor"])
    assert payload["coloured_over_floor"] and all(r["ratio"] > 0 for r in payload["coloured_over_floor"])
    assert "Coloured engine (power-law task)" in report
    assert payload["chains_vs_numpy"] and all(
        r["numpy_over_moment_matched"] > 0 for r in payload["chains_vs_numpy"]
    )
    assert "NumPy loops of the same algorithms" in report
    assert {r["model"] for r in payload["networks"]} == {"two-layer", "cnn", "rahaman-mlp"}
    assert all(0 < r["fraction_of_matmul"] for r in payload["networks"])


def test_benchmark_many_seeds_mode_times_the_reduced_engine_in_large_chunks(tmp_path):
    bad = run_script("bench_engine.py", "--quick", "--many-seeds", "0", timeout=120)
    assert bad.returncode == 2 and "seed count" in bad.stderr
    argv = ["--quick", "--many-seeds", "8", "32", "--json", str(tmp_path / "many.json")]
    proc = run_script("bench_engine.py", *argv, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Reduced engine with many seeds" in proc.stdout
    rows = json.loads((tmp_path / "many.json").read_text())["reduced_many_seeds"]
    assert [(r["seeds"], r["chunk"]) for r in rows] == [(8, 8), (32, 32)]
    assert all(r["ns_per_sample"] > 0 and r["batch"] == r["N"] == 16 for r in rows)


@pytest.mark.slow  # kept out of the 10-minute fast tier
def test_negative_activation_can_follow_the_flag_with_a_space(tmp_path):
    proc = run_script(
        "scaling_sweep.py",
        "--profile",
        "smoke",
        "--N",
        "8",
        "12",
        "16",
        "--latent",
        "skewed",
        "--activation",
        "-he3",
        "--no-progress",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["information_exponent"] == 3 and summary["theory"]["activation"] == "-he3"
    # The favourable side is m < 0: the theory must predict a finite escape from there.
    assert all(c["theory_escape_samples"] is not None for c in summary["cells"])
