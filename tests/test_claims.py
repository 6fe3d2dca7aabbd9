"""Every registered claim holds at the smoke tier (run once through `scripts/verify.py`); the
sweep configuration refuses bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import claims


# Under pytest-xdist (`make test` runs 2 workers), every test of this module goes to one worker, so
# the session fixture below runs `verify.py --tier smoke` once.
pytestmark = pytest.mark.xdist_group("verify-smoke")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smoke_verification(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify.py"), "--tier", "smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())["claims"]}
    return out, proc.stdout, results


def test_verify_prints_a_verdict_for_every_claim(smoke_verification):
    out, stdout, results = smoke_verification
    assert set(results) == set(claims.REGISTRY)
    for name in claims.REGISTRY:
        assert f"] {name} (" in stdout
    report = (out / "report.md").read_text()
    assert report.count("## `") == len(claims.REGISTRY)


@pytest.mark.parametrize("name", list(claims.REGISTRY))
def test_claim_holds_at_smoke_tier(name, smoke_verification):
    result = smoke_verification[2][name]
    assert "traceback" not in result["details"], result["details"].get("traceback")
    assert result["passed"] is True, f"{name}: {result['measurement']} (needs {result['comparison']})"
    if result["figure"]:
        with open(result["figure"], "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_unknown_tier_is_refused(tmp_path):
    with pytest.raises(ValueError, match="tier"):
        next(iter(claims.REGISTRY.values())).run("huge", tmp_path)


BAD_CONFIGS = [
    ({"task": "colour"}, "unknown task 'colour'"),
    ({"latent": "cauchy"}, "unknown latent 'cauchy'"),
    ({"activation": "sigmoid"}, "unknown activation 'sigmoid'"),
    ({"latent": "moments:0.2,1,0,3"}, "mean 0.2"),
    ({"latent": "moments:0,1.5,0,3"}, "variance 1.5"),
    ({"dims": (3, 8)}, "N value 3"),
    ({"dims": ()}, "at least one"),
    ({"dims": (8, 8)}, "repeats"),
    ({"seeds": 0}, "--seeds 0"),
    ({"step0": -1.0}, "--step -1.0"),
    ({"step0": 0.0}, "--step 0.0"),
    ({"snr": -2.0}, "--snr -2.0"),
    ({"budget_factor": 0.0}, "--budget-factor 0.0"),
    ({"engine": "warp"}, "unknown engine 'warp'"),
    ({"engine": "reduced", "noise": "fixed_amplitude"}, "--engine reduced is exact only for gaussian"),
    ({"start": "zero"}, "unknown start 'zero'"),
    ({"noise": "pink"}, "unknown noise 'pink'"),
    ({"chunk": 0}, "--chunk 0"),
    ({"batch": 0}, "--batch 0"),
    ({"root_seed": -1}, "--root-seed -1"),
    ({"inputs": "video"}, "unknown inputs 'video'"),
    ({"inputs": "image", "dims": (16, 20)}, "--N 20 is not a square"),
    ({"dims": (4, 8), "start": "conditioned"}, "--N 4 with --start conditioned"),
]


@pytest.mark.parametrize("override, message", BAD_CONFIGS)
def test_bad_sweep_configuration_names_the_value(override, message):
    with pytest.raises(claims.UsageError) as err:
        claims.SweepConfig.from_profile("smoke", **override) if "dims" not in override or override[
            "dims"
        ] else claims.SweepConfig(**override).validated()
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_profile_is_refused():
    with pytest.raises(claims.UsageError, match="profile 'huge'"):
        claims.SweepConfig.from_profile("huge")


def test_a_task_the_student_cannot_see_is_refused_before_running():
    exp = claims.Experiment(claims.SweepConfig(latent="gaussian").validated())
    with pytest.raises(claims.UsageError, match="no activation"):
        exp.dynamics


def test_theory_drives_schedule_budget_and_activation():
    phase = claims.Experiment(claims.SweepConfig().validated())
    skewed = claims.Experiment(claims.SweepConfig(latent="skewed").validated())
    assert (phase.activation, phase.k) == ("-he4", 4)
    assert (skewed.activation, skewed.k) == ("he3", 3)
    # The schedule falls as N^-(k-2)/2 / log N, and the budget grows as N^(k-1) log^2 N.
    assert math.isclose(
        phase.step(64) / phase.step(16), (16 / 64) * math.log(16) / math.log(64), rel_tol=1e-9
    )
    assert math.isclose(
        phase.budget(64) / phase.budget(16),
        64**3 * math.log(64) ** 2 / (16**3 * math.log(16) ** 2),
        rel_tol=1e-3,
    )
    unrecoverable = claims.Experiment(claims.SweepConfig(activation="he4").validated())
    assert not unrecoverable.loss.recoverable and unrecoverable.budget(16) == phase.budget(16)
