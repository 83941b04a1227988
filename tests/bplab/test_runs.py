"""``bplab runs reconcile`` through the real binary: a SIGKILLed ``bplab train``, a live run beside
it, and a tracking server that died under a run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bplab.app import main
from experiments import tracking
from experiments.names import TAG_PID_START
from experiments.process import process_tags
from tests.support.processes import CONFIGS, Procs, clean_env, run_bplab, start_mlflow_server, wait_for

pytestmark = pytest.mark.integration

LONG_TRAIN = [
    "train",
    CONFIGS / "xor.toml",
    "--set",
    "train.epochs=1000000",
    "--set",
    "train.gradcheck_every=0",
]


def running_in(db: Path) -> list[str]:
    """The RUNNING runs of an MLflow sqlite file, read without MLflow (which would create its schema)."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return [r[0] for r in conn.execute("SELECT run_uuid FROM runs WHERE status = 'RUNNING'")]
    except sqlite3.Error:  # the schema is still being created
        return []


def sigkill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def reconcile_in_process(capsys) -> tuple[int, str]:
    """``bplab runs reconcile`` in this process (the binary's wiring is the test below's first call):
    its exit code and the start of its last line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["runs", "reconcile"])
    out = capsys.readouterr().out
    return exit_.value.code, out.strip().splitlines()[-1][: len("ended 0 run(s)")]


def test_a_sigkilled_train_is_ended_and_a_live_run_is_not(procs, tmp_path, monkeypatch, capsys):
    train = procs.start(LONG_TRAIN, cwd=tmp_path, env=clean_env(), name="train")
    (run_id,) = wait_for(
        lambda: running_in(tmp_path / "mlflow.db"), timeout=120, what="a RUNNING run", proc=train
    )
    sigkill(train)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    live = tracking.start_run("live")  # this test's own process: alive

    r = run_bplab(["runs", "reconcile"], tmp_path)

    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"ended FAILED run {run_id} "), r.stdout
    assert lines[1].startswith("ended 1 run(s) left RUNNING by a gone process")
    run = tracking.get_run(run_id)
    assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == "worker_lost"
    assert tracking.run_status(live) == "RUNNING"
    monkeypatch.chdir(tmp_path)
    assert reconcile_in_process(capsys) == (0, "ended 0 run(s)")  # nothing left to end, the live run either
    assert tracking.run_status(live) == "RUNNING"
    tracking.end_run(live)


def test_a_run_whose_server_died_is_ended_once_the_server_is_back(tmp_path, monkeypatch, capsys):
    procs = Procs(tmp_path)
    try:
        backend = f"sqlite:///{tmp_path / 'server.db'}"
        server, url = start_mlflow_server(procs, backend, tmp_path)
        train = procs.start(
            ["bplab", *map(str, LONG_TRAIN)], cwd=tmp_path, env=clean_env(MLFLOW_TRACKING_URI=url), name="t"
        )
        (run_id,) = wait_for(
            lambda: running_in(tmp_path / "server.db"), timeout=120, what="a run", proc=train
        )
        sigkill(server)  # the server dies first; then its client, with the run still RUNNING in the store
        sigkill(train)
        assert running_in(tmp_path / "server.db") == [run_id]

        _, url = start_mlflow_server(procs, backend, tmp_path)  # back, on the same store
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main(["runs", "reconcile"])  # in-process: the binary is the test above's
        out, err = capsys.readouterr()

        assert exit_.value.code == 0, err
        assert f"ended FAILED run {run_id} " in out
        run = MlflowClient(url).get_run(run_id)
        assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == "worker_lost"
    finally:
        for proc in procs.started:  # servers and a killed client: nothing to stop gracefully
            if proc.poll() is None:
                sigkill(proc)


def test_bplab_schedule_reconciles_at_start(procs, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    dead = tracking.start_run("nightly")
    me = process_tags()
    tracking.set_tags(dead, {TAG_PID_START: str(int(me.get(TAG_PID_START, "0")) + 1)})  # a reused pid

    sched = procs.start(["schedule", "--cron", "0 3 * * *"], cwd=tmp_path, env=clean_env(), name="schedule")
    wait_for(
        lambda: f"bplab schedule: ended FAILED run {dead} " in Procs.log_tail(sched, 20_000),
        timeout=120,
        what="the scheduler's reconcile line",
        proc=sched,
    )
    os.kill(sched.pid, signal.SIGTERM)
    assert sched.wait(60) == 0
    assert tracking.get_run(dead).data.tags["bplab.failure"] == "worker_lost"
