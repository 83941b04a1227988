"""Helpers of the sweep tests: tiny sweep configs, the environment of `bplab`, and reading the stores.

Every test runs `bplab` as a subprocess with ``cwd=tmp_path``, so the embedded stores (the Optuna
journal, ``mlflow.db``, ``mlartifacts``) are that folder's. The process and PostgreSQL helpers are
the shared ones (``tests.conftest``), re-exported here for the tests that import them from this module.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from tests.support.processes import bplab, clean_env, wait_for

__all__ = ["bplab", "journal_study", "mlflow_runs", "wait_for", "write_config"]

# Two epochs of XOR with at most two architectures: a trial is dominated by tracking, not training.
TINY = """
[experiment]
name = "{name}"
[data]
dataset = "xor"
[model]
hidden = [3]
[train]
lr = 5.0
batch_size = 4
epochs = {epochs}
gradcheck_every = 0
[sweep]
n_trials = {n_trials}
{sweep_extra}
[sweep.space]
lr = [0.5, 10.0]
n_layers = [1, 1]
width = [2, 3]
{space_extra}
"""


def write_config(folder: Path, *, name="tiny", n_trials=4, epochs=2, sweep_extra="", space_extra="") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(
        TINY.format(
            name=name, n_trials=n_trials, epochs=epochs, sweep_extra=sweep_extra, space_extra=space_extra
        )
    )
    return path


@pytest.fixture
def env(jax_cache: Path) -> dict[str, str]:
    """The environment of a `bplab` subprocess: clean, with the session's compilation cache."""
    return clean_env(jax_cache)


def journal_study(folder: Path, name: str) -> optuna.Study:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(
            str(folder / "optuna.journal"),
            lock_obj=optuna.storages.journal.JournalFileOpenLock(str(folder / "optuna.journal")),
        )
    )
    return optuna.load_study(study_name=name, storage=storage)


def mlflow_runs(uri: str) -> list:
    client = MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exps, max_results=5000))


def journal_appends(monkeypatch: pytest.MonkeyPatch) -> list[list[dict]]:
    """Every append to an Optuna journal file from now on, as its list of records (in order)."""
    appends: list[list[dict]] = []
    append_logs = optuna.storages.journal.JournalFileBackend.append_logs

    def spy(self, logs: list[dict]) -> None:
        appends.append(list(logs))
        append_logs(self, logs)

    monkeypatch.setattr(optuna.storages.journal.JournalFileBackend, "append_logs", spy)
    return appends
