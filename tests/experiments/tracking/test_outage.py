"""A real ``mlflow server`` killed in the middle of a run: back within the window, every epoch's point is
stored and the run FINISHED; gone for good, the run fails with one ``TrackingUnavailable`` line."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from experiments.config import load_config
from experiments.errors import TrackingUnavailable
from experiments.run import train_run
from tests.support.processes import CONFIGS, Procs, free_port, start_mlflow_server

pytestmark = pytest.mark.integration

EPOCHS = 4  # killed at epoch 2: two more epochs are written while it is away or back


class Server:
    """``mlflow server`` on sqlite at a fixed port: started, killed and started again."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs = Procs(folder)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        backend = f"sqlite:///{self.folder / 'mlflow.db'}"
        self.proc, _ = start_mlflow_server(self.procs, backend, self.folder, port=self.port)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.procs.stop_all()


@pytest.fixture(scope="module")
def _server(tmp_path_factory):
    """One server for the module (each start costs seconds): the first test restarts it, the last kills it."""
    srv = Server(tmp_path_factory.mktemp("mlflow-server"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server(_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", _server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the writer's own retry is under test
    return _server


def _train(on_epoch):
    cfg = load_config(CONFIGS / "xor.toml", [f"train.epochs={EPOCHS}", "train.gradcheck_every=0"])
    return train_run(cfg, artifacts="light", on_epoch=on_epoch)


def test_a_server_back_within_the_window_gets_every_point(server, monkeypatch):
    monkeypatch.setenv("BPLAB_TRACKING_RETRY_S", "120")
    restarted = threading.Thread(target=server.start)

    def on_epoch(epoch, metrics):
        if epoch == 2:
            server.kill()
            restarted.start()  # comes back while the run goes on and waits at its end

    result = _train(on_epoch)
    restarted.join()
    client = MlflowClient(server.url)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(result.run_id, "train_loss")) == list(
        range(1, EPOCHS + 1)
    )
    assert run.data.params["train.lr"] and "params.npz" in {
        a.path for a in client.list_artifacts(result.run_id)
    }


def test_a_server_that_stays_away_fails_the_run_in_one_line(server, monkeypatch):
    monkeypatch.setenv("BPLAB_TRACKING_RETRY_S", "3")
    t0 = time.monotonic()
    with pytest.raises(TrackingUnavailable) as failed:
        _train(lambda epoch, metrics: server.kill() if epoch == 2 else None)
    assert time.monotonic() - t0 < 60
    message = str(failed.value)
    assert "\n" not in message and server.url in message and "BPLAB_TRACKING_RETRY_S=3" in message
    assert failed.value.kind == "tracking_unavailable"
