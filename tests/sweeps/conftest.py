"""Helpers for the sweep tests: tiny configs, the real `bplab` binary in a temp folder, the stores.

Every test runs `bplab` as a subprocess with ``cwd=tmp_path``, so the embedded stores (the Optuna
journal, ``mlflow.db``, ``mlartifacts``) are that folder's. The JAX compilation cache is shared by
the session (in a temp folder, not the user's home) so repeated architectures compile once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

BPLAB = str(Path(sys.executable).with_name("bplab"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

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


@pytest.fixture(scope="session")
def jax_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("jax-cache")


@pytest.fixture
def env(jax_cache) -> dict[str, str]:
    e = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "BPLAB_OPTUNA_STORAGE", "BPLAB_FAULT")
    }
    e["BPLAB_JAX_CACHE"] = str(jax_cache)
    e["PYTHONUNBUFFERED"] = "1"
    e["COLUMNS"] = "200"
    return e


class Procs:
    """Started subprocesses, all killed at teardown whatever the test did."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
        p = subprocess.Popen(
            [BPLAB, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.procs.append(p)
        return p

    def cleanup(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.cleanup()


def bplab(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess:
    return subprocess.run([BPLAB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def journal_study(folder: Path, name: str) -> optuna.Study:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(
            str(folder / "optuna.journal"),
            lock_obj=optuna.storages.journal.JournalFileOpenLock(str(folder / "optuna.journal")),
        )
    )
    return optuna.load_study(study_name=name, storage=storage)


def mlflow_runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exps, max_results=5000))


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database on 127.0.0.1:5432 for one test, dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"bplab_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg2.connect(PG_ADMIN, connect_timeout=5)
    except psycopg2.OperationalError as e:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {e}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
