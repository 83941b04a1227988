"""The report: its columns, escaping, title and facts."""

from __future__ import annotations

from experiments.regression.report import report_facts, report_html, report_markdown, report_title
from experiments.regression.rules import Check
from experiments.regression.suite import load_suite
from tests.experiments.regression.suites import SUITE

ENV = {"jax_version": "0.0", "backend": "cpu", "device_kind": "cpu", "git_commit": "abc"}


def test_reports_have_the_columns_and_escape():
    checks = [
        Check("xor", "test_loss", 0.1, 0.2, "±(0 + 0.05·|baseline|)", False),
        Check("x<y>", "max_rel_err", None, 1e-16, "≤ 1e-10", True, absolute=True),
    ]
    md = report_markdown("T", {"suite": "s"}, checks)
    assert "| case | metric | baseline | now | delta | limit | result |" in md
    assert "| xor | test_loss | 0.1 | 0.2 | +0.1 (+100%) | ±(0 + 0.05·\\|baseline\\|) | FAIL |" in md
    page = report_html("T", {"suite": "s"}, checks)
    assert "x&lt;y&gt;" in page and '<tr class="fail">' in page


def test_title_names_the_failed_cases():
    assert report_title("regression", []) == "Regression suite `regression`: PASSED"
    assert report_title("r", ["xor", "digits"]) == "Regression suite `r`: FAILED (xor, digits)"


def test_facts_say_where_the_numbers_come_from_and_flag_a_planted_fault():
    suite = load_suite(SUITE)
    baseline = {"updated_at": "2026-01-01T00:00:00Z", "environment": {"jax_version": "9", "backend": "gpu"}}
    facts = report_facts(suite, baseline, ENV)
    assert facts["baseline"].endswith("(updated 2026-01-01T00:00:00Z, jax 9 on gpu)")
    assert facts["now"] == "jax 0.0 on cpu (cpu), commit abc" and "planted fault" not in facts
    assert report_facts(suite, {}, ENV, fault="bp2")["planted fault"] == "bp2 (test-only)"
