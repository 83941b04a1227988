"""The regression suite: its rules and report (pure), and `bplab regress` catching planted regressions.

The end-to-end runs use small suites made of the shipped suite's own cases (so the shipped baseline
applies) on an embedded MLflow store in a temp folder; the whole shipped suite runs, green, through
the service in test_stack_native.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from experiments import regression as reg
from experiments.errors import BadInput
from tests.service.conftest import BASELINE, SUITE, bplab, clean_env, mini_suite, shipped_case

# --- rules and report, pure -----------------------------------------------------------------------


def test_near_is_two_sided_and_needs_a_baseline():
    assert reg.near("c", "m", 1.04, 1.0, rel=0.05, abs_=0.0).passed
    assert reg.near("c", "m", 0.96, 1.0, rel=0.05, abs_=0.0).passed
    assert not reg.near("c", "m", 1.06, 1.0, rel=0.05, abs_=0.0).passed
    assert not reg.near("c", "m", 0.94, 1.0, rel=0.05, abs_=0.0).passed  # lower is a change too
    assert not reg.near("c", "m", math.nan, 1.0, rel=0.05, abs_=1.0).passed
    missing = reg.near("c", "m", 1.0, None, rel=0.05, abs_=0.0)
    assert not missing.passed and "no baseline" in missing.note


def test_absolute_and_fraction_rules():
    assert reg.at_most("c", "m", 1e-11, 5e-12, limit=1e-10).passed
    assert not reg.at_most("c", "m", 0.3, 5e-12, limit=1e-10).passed
    assert not reg.at_most("c", "m", None, 5e-12, limit=1e-10).passed
    assert reg.at_least_fraction("c", "m", 0.6, 1.0, fraction=0.5).passed
    assert not reg.at_least_fraction("c", "m", 0.4, 1.0, fraction=0.5).passed
    assert reg.info("c", "m", 1.0, 2.0).result == "info"


def test_judge_train_case_rows():
    case = reg.load_suite(SUITE).cases[0]
    base = {"train_loss": 0.1, "val_loss": 0.1, "test_loss": 0.1, "val_accuracy": 1.0, "test_accuracy": 1.0}
    now = {**base, "test_accuracy": 0.75, "gradcheck/max_rel_err": 1e-7}
    rows = {r.metric: r for r in reg.judge(case, now, base)}
    assert list(rows) == [
        "train_loss",
        "val_loss",
        "test_loss",
        "val_accuracy",
        "test_accuracy",
        "gradcheck/max_rel_err",
    ]
    assert not rows["test_accuracy"].passed and rows["test_accuracy"].delta == pytest.approx(-0.25)
    assert rows["gradcheck/max_rel_err"].passed and rows["gradcheck/max_rel_err"].absolute


def test_reports_have_the_columns_and_escape():
    checks = [
        reg.Check("xor", "test_loss", 0.1, 0.2, "±(0 + 0.05·|baseline|)", False),
        reg.Check("x<y>", "max_rel_err", None, 1e-16, "≤ 1e-10", True, absolute=True),
    ]
    md = reg.report_markdown("T", {"suite": "s"}, checks)
    assert "| case | metric | baseline | now | delta | limit | result |" in md
    assert "| xor | test_loss | 0.1 | 0.2 | +0.1 (+100%) | ±(0 + 0.05·\\|baseline\\|) | FAIL |" in md
    page = reg.report_html("T", {"suite": "s"}, checks)
    assert "x&lt;y&gt;" in page and '<tr class="fail">' in page


def test_suite_validation_is_one_line_naming_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[suite]\nname = "s"\n[[case]]\nname = "a"\nconfig = "x.toml"\nbogus = 1\n')
    with pytest.raises(BadInput, match=r"bad.toml: case 'a': unknown key 'bogus'"):
        reg.load_suite(bad)
    bad.write_text(
        f'[[case]]\nname = "a"\nconfig = "{SUITE.parent / "xor.toml"}"\n[case.tolerance]\nloss_rel = -1\n'
    )
    with pytest.raises(BadInput, match=r"tolerance.loss_rel = -1: must be a number ≥ 0"):
        reg.load_suite(bad)
    with pytest.raises(BadInput, match="no such suite"):
        reg.resolve_suite_path("no-such-suite")
    assert reg.resolve_suite_path("regression") == SUITE


def test_shipped_suite_has_the_required_cases_and_a_baseline_for_each():
    suite = reg.load_suite(SUITE)
    kinds = {c.name: c.kind for c in suite.cases}
    assert kinds == {
        "xor": "train",
        "digits": "train",
        "gradcheck-float64": "gradcheck",
        "throughput": "throughput",
    }
    assert next(c for c in suite.cases if c.kind == "gradcheck").config.train.dtype == "float64"
    baseline = reg.load_baseline(suite.baseline_path)
    assert suite.baseline_path == BASELINE
    for case in suite.cases:  # every judged metric has a number to be judged against
        rows = reg.judge(case, baseline["cases"][case.name], baseline["cases"][case.name])
        assert all(r.passed for r in rows), [r for r in rows if not r.passed]


# --- bplab regress, end to end --------------------------------------------------------------------


def runs_of(tmp_path: Path, experiment: str = "regression"):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id]) if exp else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return client, parents, [r for r in runs if r not in parents]


def report_of(client: MlflowClient, run_id: str, folder: Path, name: str = "report.md") -> str:
    return Path(client.download_artifacts(run_id, name, str(folder))).read_text()


GRADCHECK_XOR = {
    "name": "gradcheck-xor-float64",
    "kind": "gradcheck",
    "config": "xor.toml",
    "set": ['train.dtype="float64"'],
    "epochs": 0,
}


def test_planted_backprop_bug_is_caught_reported_and_never_baselined(tmp_path, jax_cache):
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(BASELINE.read_bytes())
    suite = mini_suite(tmp_path, [shipped_case("xor"), GRADCHECK_XOR], baseline=baseline)
    env = clean_env(jax_cache, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    env["BPLAB_FAULT"] = "bp2_no_sigma_prime"  # BP2 without ⊙ σ'(z^l)

    r = bplab(["regress", str(suite), "--update-baseline"], env=env, cwd=tmp_path)

    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.strip().startswith("bplab: check failed: not updating")
    assert len(r.stderr.strip().splitlines()) == 1
    assert baseline.read_bytes() == BASELINE.read_bytes()  # a broken backward pass is not a baseline
    client, (parent,), children = runs_of(tmp_path)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["regression.passed"] == "false"
    assert parent.data.tags["bplab.fault"] == "bp2_no_sigma_prime"
    assert parent.data.tags["regression.failed_cases"] == "xor,gradcheck-xor-float64"
    by_case = {c.data.tags["regression.case"]: c for c in children}
    assert by_case["xor"].info.status == "FAILED"
    assert by_case["xor"].data.tags["bplab.failure"] == "gradient_mismatch"
    assert by_case["gradcheck-xor-float64"].data.tags["bplab.failure_reason"].startswith("BP2 disagrees")
    report = report_of(client, parent.info.run_id, tmp_path)
    assert "FAILED (xor, gradcheck-xor-float64)" in report
    assert "| xor | run | — | — | — | finishes | FAIL: gradient_mismatch" in report
    assert "BPLAB_FAULT=bp2_no_sigma_prime" in report
    row = next(
        line for line in report.splitlines() if line.startswith("| gradcheck-xor-float64 | max_rel_err")
    )
    assert row.endswith("| ≤ 1e-10 | FAIL |")
    html = report_of(client, parent.info.run_id, tmp_path, "report.html")
    assert '<tr class="fail"><td>xor</td><td>run</td>' in html


def test_unmeetable_baseline_fails_then_update_baseline_rewrites_it(tmp_path, jax_cache):
    baseline = tmp_path / "baseline.json"
    data = json.loads(BASELINE.read_text())
    data["cases"]["xor"]["test_loss"] = 1e-9  # a loss this run cannot reach
    baseline.write_text(json.dumps(data))
    suite = mini_suite(tmp_path, [shipped_case("xor")], baseline=baseline)
    env = clean_env(jax_cache, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")

    r = bplab(["regress", str(suite)], env=env, cwd=tmp_path)

    assert r.returncode == 1, r.stdout + r.stderr
    assert "regression in xor: xor test_loss: now" in r.stderr and "baseline 1e-09" in r.stderr
    client, (parent,), (child,) = runs_of(tmp_path)
    assert parent.data.tags["regression.passed"] == "false"
    assert child.info.status == "FINISHED" and child.data.tags["regression.case_passed"] == "false"
    report = report_of(client, parent.info.run_id, tmp_path)
    rows = {line.split(" | ")[1]: line for line in report.splitlines() if line.startswith("| xor |")}
    assert rows["test_loss"].endswith("FAIL |") and "| 1e-09 |" in rows["test_loss"]
    assert rows["train_loss"].endswith("pass |") and rows["gradcheck/max_rel_err"].endswith("pass |")

    r = bplab(["regress", str(suite), "--update-baseline"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    updated = json.loads(baseline.read_text())
    assert (
        updated["cases"]["xor"]["test_loss"] == json.loads(BASELINE.read_text())["cases"]["xor"]["test_loss"]
    )
    assert updated["environment"]["backend"] == "cpu"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["regress", "no-such-suite"], "no such suite file"),
        (["schedule", "--cron", "61 * * * *"], "--cron '61 * * * *'"),
        (["schedule", "--cron", "0 3 * *"], "expected 5 fields"),
        (["replay", "0123456789abcdef"], "not found"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_opens_no_run(tmp_path, jax_cache, args, message):
    env = clean_env(jax_cache, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    r = bplab(args, env=env, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    _, parents, children = runs_of(tmp_path)
    assert parents == [] and children == []
