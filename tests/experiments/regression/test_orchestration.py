"""The parent run: a case that raises fails alone, an interrupt ends everything KILLED."""

from __future__ import annotations

import pytest

from experiments.regression import cases, load_suite, run_suite
from tests.experiments.regression.suites import GRADCHECK_XOR, mini_suite, runs_of


def _raise(error: BaseException):
    def measure(*args, **kwargs):
        raise error

    return measure


def test_a_case_that_raises_is_a_failed_case_and_the_suite_goes_on(tmp_path, sqlite_store, monkeypatch):
    monkeypatch.setattr(cases, "measure_gradcheck", _raise(RuntimeError("boom\nat line 2")))
    suite = load_suite(mini_suite(tmp_path, [GRADCHECK_XOR, {**GRADCHECK_XOR, "name": "again"}]))
    lines = []

    result = run_suite(suite, {"cases": {}}, log=lines.append)

    assert [c.metric for c in result.checks if c.case == "again"] == ["run", "max_rel_err", "fd_rel_err"]
    assert result.checks[0].note == "exception: RuntimeError: boom at line 2"
    assert result.failed_cases == ["gradcheck-xor-float64", "again"] and len(lines) == 2
    assert lines[0].startswith("case gradcheck-xor-float64 (gradcheck): FAIL in ")
    _, (parent,), children = runs_of(sqlite_store)
    assert parent.info.status == "FAILED" and parent.data.tags["bplab.failure"] == "regression"
    assert {c.info.status for c in children} == {"FAILED"}
    assert children[0].data.tags["bplab.failure_reason"] == "RuntimeError: boom at line 2"


def test_an_interrupt_ends_the_case_and_the_parent_killed(tmp_path, sqlite_store, monkeypatch):
    monkeypatch.setattr(cases, "measure_gradcheck", _raise(KeyboardInterrupt()))
    suite = load_suite(mini_suite(tmp_path, [GRADCHECK_XOR]))

    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, {"cases": {}})

    _, (parent,), (child,) = runs_of(sqlite_store)
    assert parent.info.status == "KILLED" and child.info.status == "KILLED"
    assert parent.data.tags["bplab.stop_reason"] == "interrupted (SIGINT or SIGTERM)"
