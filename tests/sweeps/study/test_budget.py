"""The budget's arithmetic: a retry takes the place of the trial it repeats."""

from __future__ import annotations

from optuna.trial import TrialState

from sweeps.study.budget import accounted, is_done, originals
from tests.sweeps.trials import make_trial, with_a_retried_failure


def test_a_retry_is_not_counted_twice():
    trials = with_a_retried_failure()
    assert originals(trials) == 3
    assert [t.number for t in accounted(trials)] == [0, 2, 3]
    assert is_done(trials, 3) and not is_done(trials, 4)


def test_a_waiting_retry_keeps_the_study_open():
    trials = [make_trial(0, TrialState.FAIL), make_trial(1, TrialState.WAITING, retry_of=0)]
    assert originals(trials) == 1 and not is_done(trials, 1)
