"""``bplab regress`` end to end: planted bugs are caught and never baselined, regressions exit 1.

The suites are small ones made of the shipped suite's own cases (so the shipped baseline applies), on
an embedded MLflow store in the test's folder. They run in-process through ``bplab.app.main``; a
planted bug enters as ``grad=`` by replacing the verb's library call. One subprocess test checks the
installed binary's exit-code wiring.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from bplab import regress as regress_verb
from bplab.app import main
from experiments.regression import SuiteResult, load_suite, regress
from experiments.regression.rules import info, near
from tests.experiments.regression.suites import (
    BASELINE,
    GRADCHECK_XOR,
    artifact_text,
    mini_suite,
    runs_of,
    shipped_case,
)
from tests.mutants import bp2_no_sigma_prime
from tests.support.processes import run_bplab


@pytest.fixture
def store(sqlite_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's sqlite store, with the test's folder as the working folder."""
    monkeypatch.chdir(tmp_path)
    return sqlite_store


def bplab_main(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """``bplab ARGV`` in this process: ``(exit code, stdout, stderr)``."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def test_planted_backprop_bug_is_caught_reported_and_never_baselined(tmp_path, store, monkeypatch, capsys):
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(BASELINE.read_bytes())
    suite = mini_suite(tmp_path, [shipped_case("xor"), GRADCHECK_XOR], baseline=baseline)
    monkeypatch.setattr(regress_verb, "regress", functools.partial(regress, grad=bp2_no_sigma_prime))

    rc, out, err = bplab_main(["regress", str(suite), "--update-baseline"], capsys)

    assert rc == 1, out + err
    assert err.startswith("bplab: check failed: not updating") and len(err.strip().splitlines()) == 1
    assert "FAILED (xor, gradcheck-xor-float64)" in out and "report: run " in out
    assert baseline.read_bytes() == BASELINE.read_bytes()  # a broken backward pass is not a baseline
    client, (parent,), children = runs_of(store)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["regression.passed"] == "false"
    assert parent.data.tags["bplab.fault"] == "bp2_no_sigma_prime"
    assert parent.data.tags["regression.failed_cases"] == "xor,gradcheck-xor-float64"
    by_case = {c.data.tags["regression.case"]: c for c in children}
    assert by_case["xor"].info.status == "FAILED"
    assert by_case["xor"].data.tags["bplab.failure"] == "gradient_mismatch"
    assert by_case["gradcheck-xor-float64"].data.tags["bplab.failure_reason"].startswith("BP2 disagrees")
    assert {c.data.tags["bplab.fault"] for c in children} == {"bp2_no_sigma_prime"}
    report = artifact_text(client, parent.info.run_id, tmp_path)
    assert "FAILED (xor, gradcheck-xor-float64)" in report
    assert "| xor | run | — | — | — | finishes | FAIL: gradient_mismatch" in report
    assert "- **planted fault**: bp2_no_sigma_prime (test-only)" in report
    row = next(
        line for line in report.splitlines() if line.startswith("| gradcheck-xor-float64 | max_rel_err")
    )
    assert row.endswith("| ≤ 1e-10 | FAIL |")
    html = artifact_text(client, parent.info.run_id, tmp_path, "report.html")
    assert '<tr class="fail"><td>xor</td><td>run</td>' in html


# the rewritten baseline is the shipped one to the last bit: the programs a user runs
@pytest.mark.optimized
def test_unmeetable_baseline_fails_then_update_baseline_rewrites_it(tmp_path, store, capsys):
    baseline = tmp_path / "baseline.json"
    data = json.loads(BASELINE.read_text())
    data["cases"]["xor"]["test_loss"] = 1e-9  # a loss this run cannot reach
    baseline.write_text(json.dumps(data))
    suite = mini_suite(tmp_path, [shipped_case("xor")], baseline=baseline)

    rc, out, err = bplab_main(["regress", str(suite)], capsys)

    assert rc == 1, out + err
    assert "regression in xor: xor test_loss: now" in err and "baseline 1e-09" in err
    assert out.startswith("case xor (train): FAIL in ")
    client, (parent,), (child,) = runs_of(store)
    assert parent.data.tags["regression.passed"] == "false" and "bplab.fault" not in parent.data.tags
    assert child.info.status == "FINISHED" and child.data.tags["regression.case_passed"] == "false"
    report = artifact_text(client, parent.info.run_id, tmp_path)
    rows = {line.split(" | ")[1]: line for line in report.splitlines() if line.startswith("| xor |")}
    assert rows["test_loss"].endswith("FAIL |") and "| 1e-09 |" in rows["test_loss"]
    assert rows["train_loss"].endswith("pass |") and rows["gradcheck/max_rel_err"].endswith("pass |")
    assert "planted fault" not in report

    rc, out, err = bplab_main(["regress", str(suite), "--update-baseline"], capsys)
    assert rc == 0, out + err
    assert out.rstrip().endswith(f"baseline updated: {baseline}")
    updated = json.loads(baseline.read_text())
    assert (
        updated["cases"]["xor"]["test_loss"] == json.loads(BASELINE.read_text())["cases"]["xor"]["test_loss"]
    )
    assert updated["environment"]["backend"] == "cpu"


@pytest.mark.parametrize(
    ("args", "last_line"),
    [([], "regression suite passed: 1 checks"), (["--update-baseline"], "baseline updated: {baseline}")],
)
def test_a_passing_run_prints_the_table_the_report_and_the_verdict(
    tmp_path, monkeypatch, capsys, args, last_line
):
    suite = load_suite(mini_suite(tmp_path, [shipped_case("xor")]))
    checks = [near("xor", "test_loss", 0.1, 0.1, rel=0, abs_=0), info("xor", "speed", 1, 2)]
    result = SuiteResult(suite, "r123", checks=checks, report_url="http://mlflow/r123")
    calls = []
    monkeypatch.setattr(regress_verb, "regress", lambda *a, **kw: calls.append((a, kw)) or result)

    rc, out, err = bplab_main(["regress", "some-suite", *args], capsys)

    assert rc == 0 and err == "" and calls[0][0] == ("some-suite",)
    assert calls[0][1]["update_baseline"] == bool(args)
    lines = out.rstrip().splitlines()
    assert "Regression suite `regression`: PASSED" in lines[0]
    assert lines[-2] == "report: run r123 (report.md, report.html): http://mlflow/r123"
    assert lines[-1] == last_line.format(baseline=suite.baseline_path)


def test_bad_input_is_one_line_exit_2_and_opens_no_run(tmp_path, unopened_store, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc, out, err = bplab_main(["regress", "no-such-suite"], capsys)
    assert rc == 2 and out == ""
    assert (
        err
        == "bplab: error: no-such-suite: no such suite file (nor experiments/configs/no-such-suite.toml)\n"
    )
    assert not unopened_store.exists()  # the store was not even opened


@pytest.mark.integration
def test_the_installed_binary_exits_2_on_bad_input(tmp_path):
    r = run_bplab(
        ["regress", "no-such-suite"], tmp_path, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'm.db'}"
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "no such suite file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.db").exists()
