"""``bplab runs reconcile`` after a ``bplab train`` lost its MLflow store mid-run: a dropped database
and a full disk, both caused from outside the product. The run must end up FAILED, never RUNNING.

(A run whose process is alive is never touched: ``test_runs.py`` holds that test.)
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import psycopg2
import pytest
from mlflow.tracking import MlflowClient

from tests.support.processes import BPLAB, CONFIGS, clean_env, wait_for
from tests.sweeps.inprocess import bplab_main

pytestmark = pytest.mark.integration

LONG_TRAIN = [
    "train",
    str(CONFIGS / "xor.toml"),
    "--set",
    "train.epochs=1000000",
    "--set",
    "train.gradcheck_every=0",
]
RETRY = {"BPLAB_TRACKING_RETRY_S": "2"}  # a lost store fails the run in 2 s, not the default 2 min


def pg_running(pg_server, db: str) -> list[str]:
    """The RUNNING runs of an MLflow PostgreSQL store, read without MLflow (nothing while its schema
    is still being created)."""
    try:
        conn = pg_server.connect(db)
    except psycopg2.OperationalError:
        return []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT run_uuid FROM runs WHERE status = 'RUNNING'")
            return [r[0] for r in cur.fetchall()]
    except psycopg2.Error:
        return []
    finally:
        conn.close()


def admin(pg_server, *statements: str) -> None:
    conn = pg_server.connect()
    conn.autocommit = True  # ALTER DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def test_a_run_whose_database_was_dropped_is_ended_once_it_is_back(
    procs, tmp_path, pg_server, databases, monkeypatch, capsys
):
    """ "Dropped" as a client sees it: every session on the database is cut and it no longer exists
    under its name (renamed away, so its rows survive), until it is restored under that name, as from
    a backup. (A database really dropped takes its runs with it: nothing would be left to reconcile.)
    """
    db, away = databases.create("mlflow"), databases.name("away")  # both dropped at teardown
    url = pg_server.url(db)
    train = procs.start(LONG_TRAIN, cwd=tmp_path, env=clean_env(MLFLOW_TRACKING_URI=url, **RETRY), name="t")
    (run_id,) = wait_for(lambda: pg_running(pg_server, db), timeout=120, what="a RUNNING run", proc=train)

    admin(
        pg_server,
        f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false',  # so the train cannot reconnect before the rename
        f"SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = '{db}'",
        f'ALTER DATABASE "{db}" RENAME TO "{away}"',
    )
    assert train.wait(60) != 0, procs.log_tail(train)  # its store is gone: the train fails
    admin(
        pg_server,
        f'ALTER DATABASE "{away}" RENAME TO "{db}"',
        f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true',
    )
    assert pg_running(pg_server, db) == [run_id]  # nobody could end it while the database was gone

    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # in-process: the binary's is test_runs.py's
    rc, out, err = bplab_main(["runs", "reconcile"], capsys)

    assert rc == 0, err
    assert f"ended FAILED run {run_id} " in out
    run = MlflowClient(url).get_run(run_id)
    assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == "worker_lost"
    assert pg_running(pg_server, db) == []


def statuses(db) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT run_uuid, status FROM runs"))


needs_prlimit = pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs util-linux prlimit")


def full_disk_train(tmp_path, **run):
    """``bplab train`` on a disk that fills up: ``RLIMIT_FSIZE`` (``prlimit --fsize``) lets the MLflow
    sqlite file grow 128 KiB past its empty schema, then every write fails with EFBIG (Python ignores
    SIGXFSZ). The default tracking retry window (120 s) applies: a full disk must not wait it out."""
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    MlflowClient(uri).search_experiments()  # the schema first: the limit leaves room for a run only
    limit = db.stat().st_size + 128 * 1024
    argv = ["prlimit", f"--fsize={limit}", "--", BPLAB, *LONG_TRAIN]
    env = clean_env(MLFLOW_TRACKING_URI=uri)
    # a retried full disk would take 2 × 120 s (the run's writes, then its FAILED ending)
    train = subprocess.run(argv, cwd=tmp_path, env=env, text=True, timeout=100, check=False, **run)
    return train, db, limit, uri


@needs_prlimit
def test_a_run_whose_disk_filled_up_ends_failed_never_running(tmp_path, monkeypatch, capsys):
    """Its output goes to pipes, which the limit does not cover, so only the store fills up."""
    train, db, limit, uri = full_disk_train(tmp_path, capture_output=True)

    assert train.returncode == 1, train.stderr[-2000:]
    assert train.stderr.strip().splitlines()[-1].startswith("bplab: error: MLflow's store at ")
    assert "no room to write" in train.stderr and "disk I/O error" in train.stderr
    assert "Traceback" not in train.stderr  # one line, not MLflow's traceback per retried write
    assert db.stat().st_size <= limit  # the store really filled up (and not beyond)
    ((run_id, before),) = statuses(db).items()
    assert before in ("RUNNING", "FAILED")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # in-process: the binary's is test_runs.py's
    rc, out, err = bplab_main(["runs", "reconcile"], capsys)

    assert rc == 0, err
    run = MlflowClient(uri).get_run(run_id)
    assert run.info.status == "FAILED"
    if before == "RUNNING":  # the train could not write its own ending: reconcile did
        assert f"ended FAILED run {run_id} " in out
        assert run.data.tags["bplab.failure"] == "worker_lost"
    else:  # the train ended it itself, with the store's failure category
        assert run.data.tags.get("bplab.failure") not in (None, "", "worker_lost")


@needs_prlimit
def test_a_full_disk_under_the_progress_output_is_one_line_too(tmp_path):
    """``bplab train > log``, the log on the same full disk: the progress print is refused (EFBIG)."""
    log = tmp_path / "train.log"
    with log.open("w") as out:
        train, _db, _limit, _uri = full_disk_train(tmp_path, stdout=out, stderr=subprocess.PIPE)

    assert train.returncode == 1, train.stderr[-2000:]
    assert "Traceback" not in train.stderr, train.stderr[-2000:]
    assert train.stderr.strip().splitlines()[-1].startswith("bplab: error: "), train.stderr[-2000:]
    assert "no room to write" in train.stderr
