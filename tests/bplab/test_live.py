"""The live panel's running trials and epoch-counted ETA, from plain snapshots."""

from __future__ import annotations

import pytest

from bplab.live import epoch_eta, epochs_done, running_lines
from sweeps.progress import Snapshot, TrialSummary


def _snap(*trials: TrialSummary) -> Snapshot:
    return Snapshot(trials, frozenset(t.number for t in trials if t.finished))


SNAP = _snap(
    TrialSummary(0, "COMPLETE", value=0.1, last_step=10),
    TrialSummary(1, "PRUNED", last_step=3),
    TrialSummary(2, "RUNNING", params={"lr": 0.5, "n_layers": 1, "width_1": 30}, last_step=4),
    TrialSummary(3, "RUNNING"),
)


def test_running_trials_show_their_epoch_and_params():
    text = running_lines(SNAP, max_epochs=10)
    assert text.splitlines() == ["trial 2  epoch 4/10  lr=0.5 hidden=[30]", "trial 3  epoch 0/10  -"]
    assert running_lines(_snap(), max_epochs=10) == "-"


def test_eta_counts_epochs_left_at_the_rate_so_far():
    assert epochs_done(SNAP, max_epochs=10) == 10 + 3 + 4
    # 17 epochs in 34 s: 2 s an epoch; left: 6 + 10 for the running, 10 for the one trial not started.
    assert epoch_eta(SNAP, budget=5, max_epochs=10, elapsed=34.0) == pytest.approx(2.0 * 26)
    assert epoch_eta(SNAP, budget=5, max_epochs=10, elapsed=1.0, epochs_before=17) is None
