"""Every registered claim runs at the smoke tier (through `scripts/verify.py`, once per module) and
returns one of the three verdicts with its pre-registered rule; no test here requires a scientific
claim to hold (smoke is for software). The claim layer's bookkeeping: registrations, controls, replicates
and the family-wise summary. The sweep configuration refuses bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import claims
from claims.cli import verify as verify_command


# Under pytest-xdist (`make test` runs 2 workers), the tests of one group of claims (one module) go to
# one worker, so that the session fixture below runs `verify.py --tier smoke` once per group, and the
# groups spread over both workers.

ROOT = Path(__file__).resolve().parents[1]
CODE_CHECKS = (
    "frequency_principle.deep_identity_layer",
    "frequency_principle.deep_permuted_floor",
    "textures.surrogates_exact",
)
CONTROLS = {
    "frequency_principle.filtering_control": "frequency_principle.filtering_low_first",
    "frequency_principle.deep_untrained_control": "frequency_principle.deep_layers_lower_frequency",
    "frequency_principle.deep_random_label_control": "frequency_principle.deep_layers_lower_frequency",
    "textures.phase_trained_control": "textures.amplitude_before_phase",
    "spectral_bias.weight_norms_control": "spectral_bias.weight_norms_grow",
    "engines.reduced_chain_control": "engines.reduced_vs_full",
    "powerlaw.speedup_spread_control": "powerlaw.speedup_aligned",
    "scaling.no_escape_control": "scaling.upper_bound",
    "engines.moment_matched_control": "engines.moment_matched_vs_reduced",
}


def _verify():
    return verify_command


GROUPS: dict[str, list[str]] = {}
for _name, _claim in claims.REGISTRY.items():
    # the topic (claims.<topic> or claims.<topic>.<part>): the claims of one topic share runs
    GROUPS.setdefault(_claim.check.__module__.split(".")[1], []).append(_name)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """`smoke_run(group)`: run `verify.py --tier smoke` once for the claims of one module (claims of
    a module share runs), so that `-k MODULE` checks one group in a few minutes."""
    done = {}

    def run(group):
        if group not in done:
            out = tmp_path_factory.mktemp(f"verify-{group}")
            # one device: the two test workers already use both cores
            argv = [sys.executable, str(ROOT / "scripts" / "verify.py"), "--tier", "smoke", "--devices", "1"]
            argv += ["--out", str(out)]
            for name in GROUPS[group]:
                argv += ["--claim", name]
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
            assert proc.returncode == 0, proc.stderr
            results = {r["name"]: r for r in json.loads((out / "results.json").read_text())["claims"]}
            done[group] = (out, proc.stdout, results)
        return done[group]

    return run


def _in_group(group: str):
    return pytest.mark.xdist_group(f"verify-{group}")


@pytest.mark.parametrize("group", [pytest.param(g, marks=_in_group(g)) for g in GROUPS])
def test_verify_prints_a_verdict_for_every_claim(group, smoke_run):
    out, stdout, results = smoke_run(group)
    assert set(results) == set(GROUPS[group])
    for name in GROUPS[group]:
        assert f"] {name} (root seed 0, " in stdout
    report = (out / "report.md").read_text()
    assert report.count("## `") == len(GROUPS[group]) and "not evidence" in report


@pytest.mark.parametrize(
    "group, name",
    [pytest.param(g, n, id=f"{g}:{n}", marks=_in_group(g)) for g, names in GROUPS.items() for n in names],
)
def test_claim_runs_and_returns_a_verdict_with_its_rule(group, name, smoke_run):
    result = smoke_run(group)[2][name]
    assert "traceback" not in result["details"], result["details"].get("traceback")
    assert result["verdict"] in (claims.HOLDS, claims.FAILS, claims.UNDECIDED)
    assert (
        result["passed"]
        is {claims.HOLDS: True, claims.FAILS: False, claims.UNDECIDED: None}[result["verdict"]]
    )
    assert result["rule"] == claims.REGISTRY[name].rule_text
    reg = claims.REGISTRY[name].registration
    if reg is not None:  # the registered rule decided, from the returned estimate
        assert result["details"]["outcome"] == result["verdict"]
    if result["figure"]:
        with open(result["figure"], "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", list(claims.REGISTRY))
def test_claim_is_preregistered_with_reasons_and_a_root_seed(name):
    claim = claims.REGISTRY[name]
    reg = claim.registration
    assert reg is not None, f"{name} has no Registration"
    assert reg.prediction and reg.statistic and reg.rule.text and reg.rationale
    assert set(reg.tiers) == set(claims.TIERS) and all(reg.tiers.values())
    assert 0 < reg.rule.alpha <= 0.025
    assert claim.replicable, f"{name} takes no root seed"


def test_code_checks_left_the_claim_count_and_every_control_is_registered():
    assert not set(CODE_CHECKS) & set(claims.REGISTRY)
    controls = {n: c.registration.guards for n, c in claims.REGISTRY.items() if n.endswith("_control")}
    assert controls == CONTROLS
    for guarded in controls.values():
        assert guarded in claims.REGISTRY and not guarded.endswith("_control")
    with pytest.raises(ValueError, match="must end in _control"):
        reg = claims.REGISTRY["powerlaw.speedup_spread_control"].registration
        claims.register("x.plain_claim", "s", "s", reg)(lambda tier, out: {})


def test_unknown_tier_and_bad_root_seed_are_refused(tmp_path):
    claim = claims.REGISTRY["data.kappa4"]
    with pytest.raises(ValueError, match="tier"):
        claim.run("huge", tmp_path)
    with pytest.raises(ValueError, match="root seed -1"):
        claim.run("smoke", tmp_path, root_seed=-1)


def test_replicates_use_independent_root_seeds_and_report_holm(tmp_path, capsys):
    verify = _verify()
    out = tmp_path / "rep"
    argv = ["--claim", "data.kappa4", "--claim", "data.hermite4_overlap", "--replicates", "2"]
    assert verify.main([*argv, "--root-seed", "3", "--out", str(out)]) == 0
    payload = json.loads((out / "results.json").read_text())
    rows = [r for r in payload["claims"] if r["name"] == "data.kappa4"]
    assert [r["root_seed"] for r in rows] == [3, 4] and rows[0]["measurement"] != rows[1]["measurement"]
    rep = payload["replicates"]
    assert rep["root_seeds"] == [3, 4] and rep["independent_runs"] == 2  # both claims read one run per seed
    assert (out / "seed-3").is_dir() and (out / "seed-4").is_dir()
    row = rep["claims"]["data.kappa4"]
    assert row["runs"] == 2 and row["pvalue"] == pytest.approx(verify.replicate_pvalue(row["held"], 2, 0.025))
    assert "| `data.kappa4` |" in (out / "report.md").read_text()
    assert verify.main(["--replicates", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--replicates 0" in capsys.readouterr().err


def test_replicate_pvalue_and_holm():
    verify = _verify()
    assert verify.replicate_pvalue(0, 3, 0.025) == 1.0
    assert verify.replicate_pvalue(3, 3, 0.025) == pytest.approx(0.025**3)
    assert verify.replicate_pvalue(1, 3, 0.025) == pytest.approx(1 - 0.975**3)
    # Holm: 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05; a large p stops the chain
    assert verify.holm({"a": 0.01, "b": 0.02, "c": 0.04}) == {"a": True, "b": True, "c": True}
    assert verify.holm({"a": 0.01, "b": 0.03, "c": 0.04}) == {"a": True, "b": False, "c": False}


def test_list_prints_prediction_statistic_and_rule(capsys):
    assert _verify().main(["--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(claims.REGISTRY)
    for line, (name, claim) in zip(lines, claims.REGISTRY.items(), strict=True):
        assert line.startswith(name) and claim.rule_text in line
        if claim.registration:
            assert claim.registration.prediction in line and claim.registration.statistic in line


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
