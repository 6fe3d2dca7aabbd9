"""Scale-out and reliability: resumable sweeps under SIGKILL, stale or foreign cell files, bad input,
determinism over devices, several processes (jax.distributed) and job arrays (submitit).

Extends the bad-input table of tests/test_scripts.py (no entry repeated here)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import default_compiler_env

import claims
import sims
from claims import distributed
from claims.cli import sweep as scaling_sweep


ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


# A tiny sweep: two cells, two seeds, a short budget (the numbers, not the physics, are tested).
TINY = ["--profile", "smoke", "--N", "8", "12", "--seeds", "2", "--budget-factor", "0.3", "--no-progress"]


def tiny_experiment() -> claims.Experiment:
    return claims.Experiment(
        claims.SweepConfig.from_profile("smoke", dims=(8, 12), seeds=2, budget_factor=0.3)
    )


# The same for the power-law task: two N, alpha 0 and 1 (four cells), through the same cell loop.
TINY_POWERLAW = [
    "--task", "powerlaw", "--profile", "smoke", "--N", "8", "12", "--seeds", "2", "--alpha", "0", "1",
    "--placement", "aligned", "--budget-factor", "0.05", "--no-progress",
]  # fmt: skip


def tiny_powerlaw() -> claims.powerlaw.PowerlawExperiment:
    config = claims.powerlaw.PowerlawConfig.from_profile(
        "smoke", dims=(8, 12), seeds=2, alphas=(0.0, 1.0), placements=("aligned",), budget_factor=0.05
    )
    return claims.powerlaw.PowerlawExperiment(config)


# And the amplitude-phase task: two readouts at N = 8 and 12 (four cells of the two-direction engine).
TINY_AMPLITUDE_PHASE = [
    "--task", "amplitude-phase", "--profile", "smoke", "--N", "8", "12", "--seeds", "2",
    "--budget-factor", "0.05", "--no-progress",
]  # fmt: skip


def tiny_amplitude_phase() -> claims.amplitude_phase.APExperiment:
    config = claims.amplitude_phase.APConfig.from_profile(
        "smoke", dims_amplitude=(8, 12), dims_phase=(8, 12), seeds=2, budget_factor=0.05
    )
    return claims.amplitude_phase.APExperiment(config)


TASKS = {
    # task: (flags, experiment, the first cell's file)
    "phase": (TINY, tiny_experiment, "cell_N00008.nc"),
    "powerlaw": (TINY_POWERLAW, tiny_powerlaw, "cell_N00008_alpha0.000_aligned.nc"),
    "amplitude-phase": (TINY_AMPLITUDE_PHASE, tiny_amplitude_phase, "cell_N00008_amplitude.nc"),
}


def cell_arrays(folder: Path) -> dict:
    """The numbers of every cell file under `folder` (provenance such as times left out)."""
    out = {}
    for path in sorted((Path(folder) / "cells").glob("*.nc")):
        ds = sims.load_cell(path)
        out[path.name] = {v: np.asarray(ds[v].values) for v in ds.data_vars} | {
            "config_hash": ds.attrs["config_hash"]
        }
    return out


def assert_same_cells(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name]["config_hash"] == b[name]["config_hash"], name
        for var, value in a[name].items():
            if var != "config_hash":
                assert np.array_equal(value, b[name][var], equal_nan=True), (name, var)


def no_temporaries(folder: Path) -> bool:
    return not [p for p in Path(folder).rglob("*") if p.name.endswith(".tmp")]


def script(name: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        **kw,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny sweep's cells from one uninterrupted, single-process, in-process run."""
    out = tmp_path_factory.mktemp("reference")
    claims.run_cells(tiny_experiment(), out, progress=False)
    return out, cell_arrays(out)


class _References(dict):
    """Reference cells per task, computed the first time a test asks for that task."""

    def __init__(self, phase, factory):
        super().__init__(phase=phase)
        self.factory = factory

    def __missing__(self, task):
        out = self.factory.mktemp(f"reference-{task}")
        claims.run_cells(TASKS[task][1](), out, progress=False)
        self[task] = (out, cell_arrays(out))
        return self[task]


@pytest.fixture(scope="module")
def references(reference, tmp_path_factory):
    """The reference cells of every task in TASKS (the phase task's is `reference`)."""
    return _References(reference, tmp_path_factory)


# ---------------------------------------------------------------- 3. resumable, lossless sweeps


# The phase task in the fast tier; the others (same cell loop) with `make test-all`.
SLOW_OTHER_TASKS = [t if t == "phase" else pytest.param(t, marks=pytest.mark.slow) for t in TASKS]


@pytest.mark.parametrize("task", SLOW_OTHER_TASKS)
def test_sigkill_at_a_random_moment_then_rerun_skips_finished_cells_and_matches(references, task, tmp_path):
    flags, _, first_cell = TASKS[task]
    _, expected = references[task]
    seed = int(os.environ.get("KILL_SEED", random.randrange(10**6)))
    delay = random.Random(seed).uniform(0.0, 2.0)
    out = tmp_path / "out"
    proc = script("scaling_sweep.py", *flags, "--cells-only", "--out", str(out))
    first = out / "cells" / first_cell
    deadline = time.monotonic() + 240
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)  # a random moment after the first cell: inside the second cell, or after it
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    finished = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "cells").glob("*.nc")}
    assert first_cell in finished, f"KILL_SEED={seed}"
    rerun = script("scaling_sweep.py", *flags, "--cells-only", "--out", str(out))
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    for name, stamp in finished.items():  # finished cells were reused, not rewritten
        p = out / "cells" / name
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp, f"{name} rewritten (KILL_SEED={seed})"
    assert no_temporaries(out), f"KILL_SEED={seed}"
    assert_same_cells(cell_arrays(out), expected)


def test_foreign_stale_and_corrupt_cell_files_are_recomputed_not_reused(reference, tmp_path):
    folder, expected = reference
    out = tmp_path / "out"
    shutil.copytree(folder, out)
    cells = out / "cells"
    # N=8: truncated (a writer without atomic rename, killed mid-file); plus a killed writer's temporary
    data = (cells / "cell_N00008.nc").read_bytes()
    (cells / "cell_N00008.nc").write_bytes(data[: len(data) // 2])
    stale = cells / ".cell_N00008.nc.abc123.tmp"
    stale.write_bytes(b"half")
    # N=12: same numbers, but stamped with an older schema version
    path12 = cells / "cell_N00012.nc"
    ds = xr.load_dataset(path12, engine="h5netcdf")
    ds.attrs["schema_version"] = sims.SCHEMA_VERSION - 1
    path12.unlink()
    ds.to_netcdf(path12, engine="h5netcdf")
    lines: list[str] = []
    claims.run_cells(tiny_experiment(), out, progress=False, log=lines.append)
    assert len(lines) == 2 and "corrupt" in lines[0] and "schema version" in lines[1], lines
    assert not stale.exists() and no_temporaries(out)
    assert_same_cells(cell_arrays(out), expected)
    assert xr.load_dataset(path12, engine="h5netcdf").attrs["schema_version"] == sims.SCHEMA_VERSION


def test_cell_status_names_each_reason_and_files_carry_provenance(reference, tmp_path):
    folder, _ = reference
    exp = tiny_experiment()
    path = claims.cell_path(folder, 8)
    cfg = exp.cell_config(8)
    ds, why = sims.cell_status(path, cfg, sims.CELL_VARIABLES)
    assert why == "ok"
    for key in ("schema_version", "package_version", "jax_version", "jaxlib_version", "prng_impl", "config"):
        assert key in ds.attrs, key
    assert json.loads(ds.attrs["config"]) == json.loads(json.dumps(cfg))
    for change in ({"root_seed": 1}, {"prng_impl": "rbg"}, {"engine_version": -1}, {"seeds": [0, 1, 2]}):
        assert sims.cell_status(path, {**cfg, **change})[1] == "written for another config", change
    assert sims.cell_status(tmp_path / "nope.nc")[1] == "missing"
    # a file whose stored config was edited by hand no longer matches its hash
    edited = tmp_path / "edited.nc"
    tampered = ds.copy()
    tampered.attrs["config"] = json.dumps({**cfg, "N": 9}, sort_keys=True)
    tampered.to_netcdf(edited, engine="h5netcdf")
    assert sims.cell_status(edited)[1].startswith("corrupt")


# ---------------------------------------------------------------- 5. bad input (CLI and Python API)


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _corrupt_cells(tmp_path: Path) -> str:
    out = tmp_path / "corrupt"
    (out / "cells").mkdir(parents=True)
    (out / "cells" / "cell_N00008.nc").write_bytes(b"\x89HDF\r\n garbage")
    return str(out)


# (flags, needle in the one-line error); `{tmp}` entries are built per test. None of these repeats
# the table in tests/test_scripts.py (16 entries there: unknown task/latent/activation/profile/engine,
# N 3, N abc, seeds 0, negative and NaN-producing steps, latents that are not mean 0 / variance 1,
# budget, root seed, snr), and test_scripts also covers the unwritable output folder.
BAD_CLI = [
    (
        "config-unknown-key",
        lambda t: ["--config", _write(t, "c.json", '{"sneeds": 4}')],
        "unknown key 'sneeds'",
    ),
    (
        "config-unknown-toml",
        lambda t: ["--config", _write(t, "c.toml", "colour = 1\n")],
        "unknown key 'colour'",
    ),
    ("config-bad-json", lambda t: ["--config", _write(t, "c.json", '{"N": [8,')], "not valid JSON"),
    ("config-missing", lambda t: ["--config", str(t / "absent.json")], "cannot read it"),
    (
        "config-wrong-type",
        lambda t: ["--config", _write(t, "c.json", '{"seeds": "many"}')],
        "'seeds' = 'many'",
    ),
    ("config-bad-N-list", lambda t: ["--config", _write(t, "c.json", '{"N": [8, "x"]}')], "list of integers"),
    ("config-bad-value", lambda t: ["--config", _write(t, "c.json", '{"latent": "cauchy"}')], "cauchy"),
    ("N-repeated", lambda t: ["--N", "8", "12", "8"], "repeats a dimension"),
    ("N-empty", lambda t: ["--N"], "expected at least one argument"),
    ("N-not-square-images", lambda t: ["--inputs", "image", "--N", "9", "12"], "--N 12 is not a square"),
    ("start-unknown", lambda t: ["--start", "sideways"], "sideways"),
    ("noise-unknown", lambda t: ["--noise", "pink"], "pink"),
    ("batch-zero", lambda t: ["--batch", "0"], "--batch 0"),
    ("devices-zero", lambda t: ["--devices", "0"], "--devices 0"),
    ("devices-too-many", lambda t: ["--devices", "64"], "--devices 64"),
    ("distributed-no-cluster", lambda t: ["--distributed"], "no cluster launcher"),
    ("distributed-partial", lambda t: ["--distributed", "--coordinator", "localhost:1234"], "needs all of"),
    (
        "coordinator-malformed",
        lambda t: [
            "--distributed",
            "--coordinator",
            "localhost",
            "--num-processes",
            "2",
            "--process-id",
            "0",
        ],
        "--coordinator 'localhost'",
    ),
    (
        "process-id-out-of-range",
        lambda t: ["--distributed", "--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"],
        "--process-id 2",
    ),
    ("process-id-alone", lambda t: ["--process-id", "1"], "need --distributed"),
    ("only-flags-clash", lambda t: ["--cells-only", "--summary-only"], "exclude each other"),
    ("summary-without-cells", lambda t: ["--summary-only", "--N", "8", "12"], "is missing"),
    (
        "corrupt-result-file",
        lambda t: ["--summary-only", "--N", "8", "--out", _corrupt_cells(t)],
        "is corrupt",
    ),
]


@pytest.mark.parametrize("make_args, needle", [b[1:] for b in BAD_CLI], ids=[b[0] for b in BAD_CLI])
def test_bad_cli_input_gives_one_line_and_leaves_no_output(tmp_path, capsys, monkeypatch, make_args, needle):
    for var in distributed.CLUSTER_ENV:
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "out"
    args = make_args(tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    argv = [
        "--profile",
        "smoke",
        "--no-progress",
        *(["--out", str(out)] if "--out" not in args else []),
        *args,
    ]
    try:
        code = scaling_sweep.main(argv)
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and needle in lines[0], err
    assert {p for p in tmp_path.rglob("*")} == before  # nothing written, not even an empty folder


BAD_API = [
    (
        "latent-not-unit-variance",
        lambda t: claims.SweepConfig.from_profile("smoke", latent="moments:0,1.5,0,3"),
        "variance 1.5",
    ),
    ("cell-file-corrupt", lambda t: sims_load(_corrupt_cells(t) + "/cells/cell_N00008.nc"), "is corrupt"),
    (
        "config-file-unknown-key",
        lambda t: claims.load_config_file(_write(t, "c.toml", "N = [8]\nx = 1\n")),
        "'x'",
    ),
    ("cell-outside-sweep", lambda t: claims.run_cells(tiny_experiment(), t / "o", False, dims=[99]), "N=99"),
    ("partition-bad-id", lambda t: distributed.check_arguments("h:1", 2, -1, env={}), "--process-id -1"),
    ("devices-engine", lambda t: tiny_experiment().engine(8).run([0.1], [0], 10, devices=5), "devices=5"),
]


def sims_load(path):
    return sims.load_cell(path)


@pytest.mark.parametrize("call, needle", [b[1:] for b in BAD_API], ids=[b[0] for b in BAD_API])
def test_bad_python_input_raises_one_line_value_error(tmp_path, call, needle):
    with pytest.raises(ValueError) as info:
        call(tmp_path)
    message = str(info.value)
    assert "\n" not in message and needle in message, message
    assert not (tmp_path / "o").exists()


def test_bad_input_table_is_at_least_fifteen_entries():
    assert len(BAD_CLI) + len(BAD_API) >= 15


def test_config_file_values_are_used_and_flags_override_them(tmp_path):
    cfg = _write(tmp_path, "c.toml", 'N = [8, 12]\nseeds = 3\nbudget-factor = 0.5\nlatent = "uniform"\n')
    args = scaling_sweep.parse_args(["--config", cfg, "--seeds", "5"])
    assert args.dims == [8, 12] and args.seeds == 5 and args.budget_factor == 0.5 and args.latent == "uniform"


def test_partition_balances_cost_and_covers_every_cell_once():
    dims, costs = [8, 12, 16, 24, 32], [1, 3, 8, 27, 64]
    for p in (1, 2, 3, 7):
        shares = distributed.partition(dims, costs, p)
        assert sorted(d for s in shares for d in s) == dims and len(shares) == p
    assert distributed.partition(dims, costs, 2) == [[32], [8, 12, 16, 24]]
    assert distributed.detect_cluster({"SLURM_JOB_ID": "1"}) == "SLURM"
    assert distributed.detect_cluster({}) is None


# ---------------------------------------------------------------- 1 and 4. devices and determinism

DETERMINISM = """
import jax, sys
jax.config.update("jax_num_cpu_devices", 2)
jax.config.update("jax_enable_x64", True)
import numpy as np, sims
task = sims.SpikeTask.make("phase", 10.0, "rademacher")
same = lambda a, b: bool(np.array_equal(a, b, equal_nan=True))
print("devices", jax.local_device_count())
ALL = sys.argv[1:] == ["all"]  # a seed alone on 2 devices: every engine (slow tier), else reduced-float64
coloured = lambda **kw: sims.ColouredSGD(alpha=1.0, placement="spread", **kw)  # no head start: slow escape
coloured.name = "coloured"
for cls, dtype in ((sims.ReducedSGD, "float64"), (sims.ReducedSGD, "float32"), (sims.OnlineSGD, "float32"),
                   (coloured, "float32")):
    eng = cls(dim=12, task=task, activation="-he4", batch=12, start="conditioned",
              favourable_sign=1, m_escape=0.5, dtype=dtype)
    run = lambda seeds, d: eng.run([0.5], np.asarray(seeds), 20000, n_checkpoints=48, devices=d)
    tag = f"{cls.name}-{dtype}"
    one, two = run([0, 1, 2, 3], 1), run([0, 1, 2, 3], 2)
    # the seed run alone: the batch's slowest to escape, so that there are checkpoints to compare
    lone = int(np.argmax(np.nan_to_num(one["escape_samples"][0], nan=np.inf)))
    alone = run([lone], 1)
    alone2 = run([lone], 2) if ALL or tag == "reduced-float64" else None
    keys = ("initial_overlap", "overlap", "escape_samples", "finite")
    print(tag + "-1-vs-2", all(same(one[k], two[k]) for k in keys))
    # alone vs in a batch: a chunk stops when all its seeds escaped, so compare the checkpoints both recorded
    for name, lone_run in (("alone-vs-batch", alone), ("alone-on-2-devices-vs-batch", alone2)):
        if lone_run is None:
            continue
        a, b = lone_run["overlap"][0, 0], one["overlap"][0, lone]
        both = np.isfinite(a) & np.isfinite(b)
        print(f"{tag}-{name}", bool(both.sum() >= 3 and same(a[both], b[both])
              and same(lone_run["escape_samples"][0, 0], one["escape_samples"][0, lone])), int(both.sum()),
              float(np.max(np.abs(a[both] - b[both]))))
    # the early stop is decided on the host over all devices: the same stop and escapes on 1 and 2
    if tag == "reduced-float64":
        stop = lambda d: eng.run([0.5], np.arange(16), 200000, n_checkpoints=24, devices=d, stop_after=3)
        s1, s2 = stop(1), stop(2)
        print("early-stop-1-vs-2", bool(same(s1["escape_samples"], s2["escape_samples"])
              and s1["stop_samples"] == s2["stop_samples"] and s1["stop_samples"] < 200000
              and np.isfinite(s1["escape_samples"]).sum() >= 3))
# the two-direction engines (vector overlap (m_v, m_u)) on the same driver
t2 = sims.TwoDirectionTask(0.5, 10.0, 0.5)
for cls in (sims.TwoDirectionSGD, sims.ReducedTwoDirectionSGD):
    eng = cls(12, t2, "he2-he4", batch=4, start="random", escape=(0.8, 0.5))
    run = lambda seeds, d: eng.run(0.5, np.asarray(seeds), 20000, n_checkpoints=16, devices=d)
    tag = ("reduced-" if cls is sims.ReducedTwoDirectionSGD else "") + "two-direction-float32"
    one, two, alone = run([0, 1, 2, 3], 1), run([0, 1, 2, 3], 2), run([1], 1)
    alone2 = run([1], 2) if ALL else None
    keys = ("initial_overlap_v", "initial_overlap_u", "escape_v", "escape_u", "overlap_v", "overlap_u",
            "finite")
    print(tag + "-1-vs-2", all(same(one[k], two[k]) for k in keys))
    for name, lone in (("alone-vs-batch", alone), ("alone-on-2-devices-vs-batch", alone2)):
        if lone is None:
            continue
        a, b = lone["overlap_u"][0], one["overlap_u"][1]
        both = np.isfinite(a) & np.isfinite(b)
        print(f"{tag}-{name}", bool(both.sum() >= 3 and same(a[both], b[both])
              and same(lone["escape_v"][0], one["escape_v"][1])
              and same(lone["escape_u"][0], one["escape_u"][1])),
              int(both.sum()), float(np.max(np.abs(a[both] - b[both]))))
"""


# the determinism tests share one worker, so that their fixture (a minute of runs) runs once
DETERMINISM_GROUP = pytest.mark.xdist_group("determinism")


def _determinism(*args) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", DETERMINISM, *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=default_compiler_env(),  # bitwise properties of the programs users run
    )
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())


@pytest.fixture(scope="module")
def determinism():
    return _determinism()


@pytest.fixture(scope="module")
def determinism_all():
    """Also a seed alone on two devices for every engine (two more compiled programs per engine)."""
    return _determinism("all")


RUNS = [
    "reduced-float64",
    "reduced-float32",
    "full-float32",
    "coloured-float32",
    "two-direction-float32",
    "reduced-two-direction-float32",
]


@DETERMINISM_GROUP
@pytest.mark.parametrize("run", RUNS)
def test_results_are_bitwise_identical_on_one_and_two_devices(determinism, run):
    assert determinism["devices"] == "2"
    assert determinism[f"{run}-1-vs-2"] == "True", determinism


@DETERMINISM_GROUP
def test_the_early_stop_is_the_same_on_one_and_two_devices(determinism):
    assert determinism["early-stop-1-vs-2"] == "True", determinism


@DETERMINISM_GROUP
@pytest.mark.parametrize("run", RUNS)
def test_a_seed_alone_is_bitwise_the_same_trajectory_as_in_a_batch(determinism, run):
    same, common, _ = determinism[f"{run}-alone-vs-batch"].split()
    assert int(common) >= 3 and same == "True", determinism


@DETERMINISM_GROUP
@pytest.mark.parametrize(
    "run", [r if r == "reduced-float64" else pytest.param(r, marks=pytest.mark.slow) for r in RUNS]
)
def test_a_seed_alone_on_two_devices_is_the_same_trajectory_as_in_a_batch(request, run):
    # the fast tier checks the reduced engine; the slow tier runs every engine
    results = request.getfixturevalue("determinism" if run == "reduced-float64" else "determinism_all")
    same, common, _ = results[f"{run}-alone-on-2-devices-vs-batch"].split()
    assert int(common) >= 3 and same == "True", results


# ---------------------------------------------------------------- 2. several processes and job arrays


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_two_local_processes_with_gloo_equal_one_process(references, task, tmp_path):
    flags, _, _ = TASKS[task]
    _, expected = references[task]
    out = tmp_path / "out"
    port = _free_port()
    common = [*flags, "--out", str(out), "--distributed", "--coordinator", f"localhost:{port}"]
    procs = [
        script("scaling_sweep.py", *common, "--num-processes", "2", "--process-id", str(i)) for i in (0, 1)
    ]
    results = [p.communicate(timeout=400) for p in procs]
    for p, (stdout, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, stdout + stderr
    assert "cells N=[12]" in results[0][0] and "cells N=[8]" in results[1][0]  # each did its share
    assert_same_cells(cell_arrays(out), expected)
    summary = json.loads((out / "summary.json").read_text())
    rows = (
        [c for r in summary["readouts"].values() for c in r["cells"]]
        if "readouts" in summary
        else summary["cells"]
    )
    assert sorted({c["N"] for c in rows}) == [8, 12]


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_job_array_with_submitit_local_executor_equals_one_process(references, task, tmp_path):
    flags, _, _ = TASKS[task]
    _, expected = references[task]
    out = tmp_path / "out"
    proc = script("launch_array.py", *flags, "--executor", "local", "--out", str(out))
    stdout, stderr = proc.communicate(timeout=400)
    assert proc.returncode == 0, stdout + stderr
    assert "submitted 2 jobs (LocalExecutor)" in stdout
    assert_same_cells(cell_arrays(out), expected)
    assert (out / "summary.json").exists() and no_temporaries(out)


@pytest.mark.slow  # the engines' bits on 1 and 2 devices are checked in the fast tier (DETERMINISM)
@pytest.mark.parametrize("task", ["powerlaw", "amplitude-phase"])
def test_cells_are_bitwise_the_same_on_one_and_two_devices(references, task, tmp_path):
    """Every task honours --devices: the cells of --devices 1 and --devices 2 are identical (and
    identical to the in-process reference). The phase task's engines are checked trajectory by
    trajectory in the determinism tests."""
    _, expected = references[task]
    for devices in ("1", "2"):
        out = tmp_path / f"d{devices}"
        flags = [*TASKS[task][0], "--devices", devices, "--cells-only", "--out", str(out)]
        proc = script("scaling_sweep.py", *flags)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stdout + stderr
        assert_same_cells(cell_arrays(out), expected)
