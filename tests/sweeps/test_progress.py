"""A sweep's counts: retried failures are not counted, the best trial is the best complete one."""

from __future__ import annotations

from optuna.trial import TrialState

from sweeps.progress import progress, snapshot
from tests.sweeps.trials import make_trial, with_a_retried_failure


def test_counts_leave_out_a_retried_failure():
    snap = snapshot(with_a_retried_failure())
    assert snap.counted == {0, 2, 3} and [t.state for t in snap.trials] == [
        "COMPLETE",
        "FAIL",
        "PRUNED",
        "COMPLETE",
    ]
    p = progress(snap, budget=3, direction="minimize", elapsed=10.0)
    assert (p.done, p.complete, p.pruned, p.failed, p.best_number) == (3, 2, 1, 0, 3)
    assert p.eta == 0.0


def test_eta_counts_only_the_trials_finished_since_this_process_started():
    snap = snapshot([make_trial(n, TrialState.COMPLETE, value=1.0) for n in range(3)])
    p = progress(snap, budget=6, direction="minimize", elapsed=10.0, done_before=2)
    assert p.eta == 30.0  # one trial in 10 s, three to go


def test_a_summary_keeps_what_the_views_show():
    t = make_trial(0, TrialState.COMPLETE, value=0.5)
    t.user_attrs.update({"bplab.test_accuracy": 0.9, "bplab.run_id": "abc"})
    t.intermediate_values.update({1: 0.7, 2: 0.5})
    s = snapshot([t]).trials[0]
    assert (s.value, s.test_accuracy, s.run_id, s.last_step, s.finished) == (0.5, 0.9, "abc", 2, True)


def test_params_that_failed_the_same_way_twice_count_as_one_poison_trial():
    first = make_trial(0, TrialState.FAIL)
    first.user_attrs["bplab.failure"] = "oom"
    retry = make_trial(1, TrialState.FAIL, retry_of=0)
    retry.user_attrs["bplab.failure"] = "oom"
    retry.system_attrs["bplab_failures"] = ["oom"]
    snap = snapshot([first, retry])
    assert (snap.counted, snap.poison) == ({1}, {1})
    p = progress(snap, budget=1, direction="minimize", elapsed=1.0)
    assert (p.done, p.failed, p.poison) == (1, 1, 1)
