"""``run_sweep`` as a library: it reports to its observer, returns a result, and prints nothing."""

from __future__ import annotations

import json

import optuna
from optuna.storages.journal._storage import JournalOperation

from sweeps.progress import Snapshot
from sweeps.result import Ending, Opened
from sweeps.study.journal import INTERMEDIATE_VALUE
from sweeps.sweep import run_sweep
from tests.sweeps.conftest import journal_appends, journal_study, write_config
from tests.sweeps.inprocess import use_tmp_stores


class Recorder:
    """An observer that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def opened(self, study: Opened) -> None:
        self.events.append(("opened", study))

    def trials_changed(self, snapshot: Snapshot) -> None:
        self.events.append(("trials", len(snapshot.trials)))

    def closed(self) -> None:
        self.events.append(("closed", None))


def test_a_sweep_reports_to_its_observer_and_returns_its_result(tmp_path, monkeypatch, capsys):
    use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="lib", n_trials=2, epochs=2, sweep_extra='pruner = "none"')
    recorder = Recorder()

    result = run_sweep(cfg, observer=recorder)

    kinds = [kind for kind, _ in recorder.events]
    assert kinds[0] == "opened" and kinds[-1] == "closed" and kinds.count("closed") == 1
    opened = recorder.events[0][1]
    assert (opened.study, opened.budget, opened.metric, opened.direction) == (
        "lib",
        2,
        "val_loss",
        "minimize",
    )
    assert opened.storage == str(tmp_path / "optuna.journal")
    counts = [n for kind, n in recorder.events if kind == "trials"]
    # before the first trial, after each one, and (at most every 0.5 s) after an epoch in between
    assert counts[0] == 0 and counts[-1] == 2 and counts == sorted(counts) and {0, 1, 2} <= set(counts)
    assert opened.max_epochs == 2
    assert result.ending == Ending.DONE and result.exit_code == 0
    assert (result.progress.done, result.progress.complete) == (2, 2) and len(result.snapshot.trials) == 2
    assert journal_study(tmp_path, "lib").user_attrs["bplab.parent_run_id"] in result.parent_url
    assert capsys.readouterr().out == ""  # the library prints nothing; the CLI presents the result


def test_a_trials_reports_share_journal_appends_and_are_in_before_its_state(tmp_path, monkeypatch):
    use_tmp_stores(monkeypatch, tmp_path)
    epochs = 3
    cfg = write_config(tmp_path, name="reports", n_trials=3, epochs=epochs, sweep_extra='pruner = "none"')
    monkeypatch.setattr(optuna.trial.Trial, "should_prune", lambda self: self.number == 1)  # at epoch 1
    appends = journal_appends(monkeypatch)

    assert run_sweep(cfg).exit_code == 0

    ops = [[r["op_code"] for r in logs] for logs in appends]
    with_reports = [o.count(INTERMEDIATE_VALUE) for o in ops if INTERMEDIATE_VALUE in o]
    assert with_reports == [1, epochs - 1, 1, 1, epochs - 1]  # the first at once; the old code: 1 each
    records = [json.loads(line) for line in (tmp_path / "optuna.journal").read_bytes().splitlines()]
    for t in journal_study(tmp_path, "reports").get_trials():
        assert len(t.intermediate_values) == (1 if t.number == 1 else epochs)
        mine = [i for i, r in enumerate(records) if r.get("trial_id") == t._trial_id]
        reported = [i for i in mine if records[i]["op_code"] == INTERMEDIATE_VALUE]
        finished = [i for i in mine if records[i]["op_code"] == JournalOperation.SET_TRIAL_STATE_VALUES]
        assert max(reported) < finished[-1]  # its curve is in before it is told
