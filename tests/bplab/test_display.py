"""The sweep's plain-text lines: params, the status line, a finished trial."""

from __future__ import annotations

import pytest

from bplab.display import REASON_CHARS, fmt_params, fmt_seconds, status_line, trial_line
from sweeps.progress import Snapshot, TrialSummary, progress


def test_params_read_like_the_config():
    params = {"lr": 0.51234, "n_layers": 2, "width_1": 30, "width_2": 20, "init": "scaled"}
    assert fmt_params(params) == "lr=0.5123 hidden=[30, 20] init=scaled"
    assert fmt_params({}) == "-"


def test_seconds():
    assert (fmt_seconds(None), fmt_seconds(5.4), fmt_seconds(75)) == ("?", "5s", "1m15s")


def test_status_line_before_any_trial_completes():
    snap = Snapshot((TrialSummary(0, "FAIL"),), frozenset({0}))
    line = status_line(progress(snap, budget=3, direction="minimize", elapsed=1.0), "val_loss")
    assert "no complete trial yet" in line and "1/3 done" in line


def test_trial_lines_say_how_each_trial_ended():
    lr = {"lr": 0.5}
    assert trial_line(TrialSummary(1, "COMPLETE", 0.25, lr), "val_loss") == (
        "trial 1 COMPLETE: val_loss=0.25 | lr=0.5"
    )
    assert trial_line(TrialSummary(2, "PRUNED", params=lr, last_step=3), "val_loss") == (
        "trial 2 PRUNED: pruned at epoch 3 | lr=0.5"
    )
    assert trial_line(TrialSummary(3, "FAIL", params=lr, failure="diverged"), "val_loss") == (
        "trial 3 FAIL: failed (diverged) | lr=0.5"
    )
    assert trial_line(TrialSummary(4, "FAIL", params=lr), "m").endswith("failed (error) | lr=0.5")
    why = "RestException: BAD_REQUEST: (psycopg2.errors.UniqueViolation) duplicate key value " + "x " * 200
    line = trial_line(TrialSummary(5, "FAIL", params=lr, failure="exception", reason=why), "m")
    assert line.startswith("trial 5 FAIL: failed (exception): RestException: BAD_REQUEST: (psycopg2")
    shown = line.split(": ", 2)[2].rsplit(" | ", 1)[0]
    assert shown.endswith("[...]") and len(shown) <= REASON_CHARS < len(why)  # the run's tags hold it whole


def test_the_status_line_counts_poison_trials_only_when_there_are_some():
    snap = Snapshot((TrialSummary(0, "FAIL", failure="oom"), TrialSummary(1, "FAIL")), frozenset({0, 1}))

    def line(snap: Snapshot) -> str:
        return status_line(progress(snap, budget=2, direction="minimize", elapsed=1.0), "val_loss")

    assert "poison" not in line(snap)
    assert "2 failed, 1 poison" in line(Snapshot(snap.trials, snap.counted, poison=frozenset({0})))


def test_the_live_panel_lists_each_running_trial_at_its_epoch():
    from bplab.display import running_lines
    from sweeps.progress import Snapshot, TrialSummary

    trials = [
        TrialSummary(3, "RUNNING", params={"lr": 0.5123, "n_layers": 1, "width_1": 30}, last_step=4),
        TrialSummary(1, "COMPLETE", value=0.9),
        TrialSummary(2, "RUNNING", params={"lr": 2.0}),
    ]
    snap = Snapshot(trials=tuple(trials), counted=frozenset({1}))
    assert running_lines(snap, 30).splitlines() == [
        "trial 2  epoch 0/30  lr=2",
        "trial 3  epoch 4/30  lr=0.5123 hidden=[30]",
    ]
    assert running_lines(Snapshot(trials=(), counted=frozenset()), 30) == "-"


def test_before_any_trial_finishes_the_eta_is_counted_in_epochs():
    from bplab.display import epoch_eta
    from sweeps.progress import Snapshot, TrialSummary, progress

    snap = Snapshot(trials=(TrialSummary(0, "RUNNING", last_step=10),), counted=frozenset())
    p = progress(snap, budget=2, direction="maximize", elapsed=5.0)
    assert epoch_eta(snap, p, 20) == pytest.approx(5.0 / 10 * (2 * 20 - 10))
    assert epoch_eta(snap, p, None) is None
