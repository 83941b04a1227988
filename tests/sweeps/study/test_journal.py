"""A journal a crash cut short heals on open (a backup, one warning line, nothing before the cut
lost); a journal that cannot be written is refused in one line."""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from optuna.storages.journal import _file as journal_file
from optuna.storages.journal._file import RENAME_FILE_SUFFIX
from optuna.storages.journal._storage import JournalOperation

from experiments.errors import BadInput
from experiments.signals import terminate_as_interrupt
from sweeps.study import journal
from sweeps.study.journal import (
    INTERMEDIATE_VALUE,
    HeldThroughSignals,
    batched_reports,
    healed,
    intact,
    journal_storage,
)
from sweeps.study.storage import open_storage, probe_storage
from sweeps.study.url import StorageURL
from tests.sweeps.conftest import bplab, journal_appends, write_config
from tests.sweeps.inprocess import bplab_main, use_tmp_stores


def _journal_with_trials(path: Path, n: int = 3) -> list[float]:
    study = optuna.create_study(storage=journal_storage(path), study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
    return [t.value for t in study.trials]


def _cut_last_line(path: Path) -> bytes:
    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last + (len(data) - last) // 2])  # half of the last record
    return data[:last]


def test_a_cut_last_line_is_dropped_after_a_backup_and_one_warning(tmp_path, caplog):
    path = tmp_path / "optuna.journal"
    values = _journal_with_trials(path)
    before_cut = _cut_last_line(path)
    cut = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="bplab"):
        study = optuna.load_study(study_name="s", storage=journal_storage(path))
    assert path.read_bytes() == before_cut
    (backup,) = tmp_path.glob("optuna.journal.bak-*")
    assert backup.read_bytes() == cut
    (record,) = caplog.records
    assert "dropped 1 record(s) cut short" in record.getMessage() and backup.name in record.getMessage()
    assert [t.value for t in study.trials][:2] == values[:2]  # the cut was in the last trial's end
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)  # and it takes new trials
    again = optuna.load_study(study_name="s", storage=journal_storage(path))
    assert len(again.trials) == len(study.trials)
    assert len(list(tmp_path.glob("optuna.journal.bak-*"))) == 1  # healed once


def test_a_record_glued_onto_a_cut_one_is_kept():
    a, b, c = (f'{{"op_code":{i},"worker_id":"w"}}'.encode() for i in range(3))
    glued = a + b"\n" + b[:7] + c + b"\n"
    assert not intact(glued) and intact(a + b"\n" + c + b"\n")
    assert healed(glued) == (a + b"\n" + c + b"\n", 1)
    assert healed(a + b"\n" + b) == (a + b"\n" + b + b"\n", 0)  # whole, only its newline lost
    assert healed(a + b"\n\x00\x00\n") == (a + b"\n", 1)


def test_an_intact_journal_is_not_touched(tmp_path):
    path = tmp_path / "j.journal"
    _journal_with_trials(path, 1)
    data = path.read_bytes()
    journal_storage(path)
    assert path.read_bytes() == data and not list(tmp_path.glob("*.bak-*"))


def test_a_journal_that_cannot_be_written_is_refused_in_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    for target in (tmp_path / "file" / "optuna.journal", tmp_path / "file" / "deeper" / "x.journal"):
        url = StorageURL("journal", str(target))
        with pytest.raises(
            BadInput, match=r"^--storage .*: cannot write the journal there \(.*is not a folder\)$"
        ):
            probe_storage(url)
        with pytest.raises(BadInput, match="cannot write the journal there"):
            open_storage(url)
    with pytest.raises(BadInput, match=r"\(a folder\)"):
        probe_storage(StorageURL("journal", str(tmp_path)))


def test_bplab_sweep_heals_a_cut_journal_and_goes_on(tmp_path, env, monkeypatch):
    from bplab.sweep import sweep_command

    cfg = write_config(tmp_path, name="heal", n_trials=1)
    use_tmp_stores(monkeypatch, tmp_path)  # the journal's first sweep in-process; the healing one is `bplab`
    assert sweep_command(cfg, [], out=io.StringIO()) == 0
    journal = tmp_path / "optuna.journal"
    _cut_last_line(journal)
    r = bplab(["sweep", cfg, "--n-trials", "2"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    (line,) = [x for x in r.stderr.splitlines() if "cut short by a crash" in x]
    assert line.startswith(f"bplab: journal {journal}: dropped 1 record(s)")
    assert len(list(tmp_path.glob("optuna.journal.bak-*"))) == 1
    study = optuna.load_study(study_name="heal", storage=journal_storage(journal))
    assert sum(t.state.is_finished() for t in study.trials) >= 2


def test_bplab_sweep_refuses_a_journal_under_a_file(tmp_path, monkeypatch, capsys):
    cfg = write_config(tmp_path, name="ro")
    (tmp_path / "file").write_text("")
    use_tmp_stores(monkeypatch, tmp_path)  # in-process: the binary's exit 2 is checked in test_url.py
    rc, _out, err = bplab_main(["sweep", cfg, "--storage", "file/optuna.journal"], capsys)
    assert rc == 2
    assert err.strip().splitlines() == [
        f"bplab: error: --storage {tmp_path / 'file' / 'optuna.journal'}: cannot write the journal there "
        f"({tmp_path / 'file'} is not a folder)"
    ]
    assert not (tmp_path / "mlflow.db").exists()


def test_a_signal_inside_an_append_takes_effect_after_it_whole(tmp_path, monkeypatch):
    """Optuna's lock removes its file a second time when an interrupt lands just after it removed it
    (its cleanup), and the ``FileNotFoundError`` takes the interrupt's place; here the signal arrives
    there, and must still stop the program, after a whole append that leaves no lock behind."""
    path = tmp_path / "optuna.journal"
    study = optuna.create_study(storage=journal_storage(path), study_name="s")
    sent = []

    def unlink_then_signal(p, *args, **kwargs):
        os.unlink(p, *args, **kwargs)
        if str(p).endswith(RENAME_FILE_SUFFIX) and not sent:
            sent.append(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)
            sum(i for i in range(1000))  # the handler runs here, inside the lock's release

    monkeypatch.setattr(journal_file, "os", SimpleNamespace(**{**vars(os), "unlink": unlink_then_signal}))
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        study.set_user_attr("note", "written")
    assert sent
    assert optuna.load_study(study_name="s", storage=journal_storage(path)).user_attrs == {"note": "written"}
    assert [p.name for p in tmp_path.iterdir()] == ["optuna.journal"]  # no lock left for the others


def test_a_stop_while_waiting_for_a_held_lock_takes_effect_at_once_and_leaves_the_lock(tmp_path):
    """A process killed in mid-append leaves its lock until the grace period (30 s) breaks it; a
    Ctrl-C in another process waiting for it stops that process at once, and does not remove the lock
    (Optuna's own wait removes it, though another process may hold it)."""
    path = tmp_path / "optuna.journal"
    study = optuna.create_study(storage=journal_storage(path), study_name="s")
    lock = tmp_path / "optuna.journal.lock"
    lock.touch()  # held by another process
    timer = threading.Timer(0.3, signal.raise_signal, args=(signal.SIGINT,))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        study.set_user_attr("note", "never written")
    assert time.monotonic() - start < 10  # not the 30 s grace period
    assert lock.exists()
    lock.unlink()
    assert optuna.load_study(study_name="s", storage=journal_storage(path)).user_attrs == {}


def test_a_lock_left_by_a_killed_process_is_broken_after_the_grace_period(tmp_path, caplog):
    path = tmp_path / "optuna.journal"
    path.touch()
    (tmp_path / "optuna.journal.lock").touch()
    lock = HeldThroughSignals(str(path), grace_period=3)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bplab"):
        assert lock.acquire()
    lock.release()
    assert time.monotonic() - start > 3
    assert [p.name for p in tmp_path.iterdir()] == ["optuna.journal"]
    assert [r.getMessage() for r in caplog.records] == [
        f"bplab: journal lock {tmp_path / 'optuna.journal.lock'} unchanged for 3 s: breaking it"
    ]


def test_reports_in_a_batch_share_appends_in_the_threads_order(tmp_path, monkeypatch):
    path = tmp_path / "optuna.journal"
    storage = journal_storage(path)
    study = optuna.create_study(storage=storage, study_name="s")
    a, b = study.ask(), study.ask()
    other = optuna.load_study(study_name="s", storage=journal_storage(path))  # another process's view
    appends = journal_appends(monkeypatch)

    def values(trial):
        return other.trials[trial.number].intermediate_values

    with batched_reports(storage)():
        a.report(0.5, 1)
        b.report(0.25, 1)
        assert values(a) == {} and values(b) == {} and appends == []  # waiting
        assert a.should_prune() is False  # the trial's own values are there (Optuna keeps them on it)
        a.set_user_attr("note", "now")  # another record: the reports go with it, before it
        assert values(a) == {1: 0.5} and values(b) == {1: 0.25} and other.trials[a.number].user_attrs
        with batched_reports(storage)():  # nested: the outer block writes
            b.report(0.125, 2)
        assert values(b) == {1: 0.25}
        thread = threading.Thread(target=b.report, args=(0.0625, 3))
        thread.start()
        thread.join()
        assert values(b) == {1: 0.25, 3: 0.0625}  # another thread's reports do not wait
    assert values(b) == {1: 0.25, 2: 0.125, 3: 0.0625}
    assert [[(r["op_code"], r.get("step")) for r in logs] for logs in appends] == [
        [(INTERMEDIATE_VALUE, 1), (INTERMEDIATE_VALUE, 1), (JournalOperation.SET_TRIAL_USER_ATTR, None)],
        [(INTERMEDIATE_VALUE, 3)],  # the other thread's, at once
        [(INTERMEDIATE_VALUE, 2)],  # the block's last, at its end
    ]


def test_with_every_s_reports_are_written_at_most_that_often_the_first_at_once(tmp_path, monkeypatch):
    path = tmp_path / "optuna.journal"
    storage = journal_storage(path)
    trial = optuna.create_study(storage=storage, study_name="s").ask()
    other = optuna.load_study(study_name="s", storage=journal_storage(path))
    clock = [100.0]
    monkeypatch.setattr(journal, "time", SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep))

    def written():
        return other.trials[0].intermediate_values

    with batched_reports(storage, every_s=1.0)():
        trial.report(0.5, 1)
        assert written() == {1: 0.5}  # the first: at once
        clock[0] += 0.5
        trial.report(0.4, 2)
        clock[0] += 0.4
        trial.report(0.3, 3)
        assert written() == {1: 0.5}
        clock[0] += 0.1  # a second since the last append: this one writes those waiting too
        trial.report(0.2, 4)
        assert written() == {1: 0.5, 2: 0.4, 3: 0.3, 4: 0.2}
        clock[0] += 0.9
        trial.report(0.1, 5)
        assert len(written()) == 4
    assert written() == {1: 0.5, 2: 0.4, 3: 0.3, 4: 0.2, 5: 0.1}  # the block's end


def test_reports_are_not_batched_on_a_database(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    study = optuna.create_study(storage=storage, study_name="s")
    t = study.ask()
    with batched_reports(storage)():
        t.report(0.5, 1)
        assert storage.get_trial(t._trial_id).intermediate_values == {1: 0.5}
