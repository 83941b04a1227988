"""The rules: two-sided bands, absolute limits, fractions, and the rows of each kind of case."""

from __future__ import annotations

import math

import pytest

from experiments.regression.baseline import load_baseline
from experiments.regression.rules import at_least_fraction, at_most, info, judge, near
from experiments.regression.suite import load_suite
from tests.experiments.regression.suites import SUITE


def test_near_is_two_sided_and_needs_a_baseline():
    assert near("c", "m", 1.04, 1.0, rel=0.05, abs_=0.0).passed
    assert near("c", "m", 0.96, 1.0, rel=0.05, abs_=0.0).passed
    assert not near("c", "m", 1.06, 1.0, rel=0.05, abs_=0.0).passed
    assert not near("c", "m", 0.94, 1.0, rel=0.05, abs_=0.0).passed  # lower is a change too
    assert not near("c", "m", math.nan, 1.0, rel=0.05, abs_=1.0).passed
    missing = near("c", "m", 1.0, None, rel=0.05, abs_=0.0)
    assert not missing.passed and "no baseline" in missing.note


def test_absolute_and_fraction_rules():
    assert at_most("c", "m", 1e-11, 5e-12, limit=1e-10).passed
    assert not at_most("c", "m", 0.3, 5e-12, limit=1e-10).passed
    assert not at_most("c", "m", None, 5e-12, limit=1e-10).passed
    assert at_least_fraction("c", "m", 0.6, 1.0, fraction=0.5).passed
    assert not at_least_fraction("c", "m", 0.4, 1.0, fraction=0.5).passed
    assert info("c", "m", 1.0, 2.0).result == "info"


def test_judge_train_case_rows():
    case = load_suite(SUITE).cases[0]
    base = {"train_loss": 0.1, "val_loss": 0.1, "test_loss": 0.1, "val_accuracy": 1.0, "test_accuracy": 1.0}
    now = {**base, "test_accuracy": 0.75, "gradcheck/max_rel_err": 1e-7}
    rows = {r.metric: r for r in judge(case, now, base)}
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


def test_the_shipped_baseline_passes_every_rule_of_the_shipped_suite():
    suite = load_suite(SUITE)
    baseline = load_baseline(suite.baseline_path)
    for case in suite.cases:  # every judged metric has a number to be judged against
        rows = judge(case, baseline["cases"][case.name], baseline["cases"][case.name])
        assert all(r.passed for r in rows), [r for r in rows if not r.passed]
