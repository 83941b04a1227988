"""``run_sweep`` as a library: it reports to its observer, returns a result, and prints nothing."""

from __future__ import annotations

from sweeps.progress import Snapshot
from sweeps.result import Ending, Opened
from sweeps.sweep import run_sweep
from tests.sweeps.conftest import journal_study, write_config
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
