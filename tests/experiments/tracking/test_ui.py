"""The UI server: refused before anything starts when it cannot work, served on loopback until the
block ends (SIGTERM ends it like Ctrl-C), and the one URL line ``bplab ui`` prints."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from bplab import ui as ui_verb
from experiments import tracking
from experiments.errors import BadInput
from experiments.tracking import ui
from tests.support.processes import free_port, wait_for


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_port_is_free(busy_port):
    assert not ui.port_is_free(busy_port)
    assert ui.port_is_free(free_port())


def test_the_server_command_serves_the_store_on_loopback(store):
    cmd = ui.ui_command(5123)
    assert cmd[:4] == [sys.executable, "-m", "mlflow", "server"]
    args = dict(zip(cmd[4::2], cmd[5::2], strict=True))
    assert args == {
        "--backend-store-uri": f"sqlite:///{store}",
        "--host": "127.0.0.1",
        "--port": "5123",
        "--workers": "1",
        "--uvicorn-opts": "--log-level warning --no-access-log",
        "--artifacts-destination": str(store.parent / "mlartifacts"),
    }
    assert ui.ui_env()["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_the_server_keeps_the_users_warning_filters(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "error::ResourceWarning")
    assert ui.ui_env()["PYTHONWARNINGS"] == f"error::ResourceWarning,{ui.QUIET_WARNINGS}"
    monkeypatch.delenv("PYTHONWARNINGS")
    assert ui.ui_env()["PYTHONWARNINGS"] == ui.QUIET_WARNINGS


@pytest.mark.parametrize("port", [0, 65536])
def test_a_bad_port_is_refused(store, port):
    with pytest.raises(BadInput, match=f"--port {port}: must be between 1 and 65535"), tracking.serve(port):
        pass


def test_a_busy_port_is_refused(store, busy_port):
    with pytest.raises(BadInput, match=r"the port is in use on 127\.0\.0\.1"), tracking.serve(busy_port):
        pass


def test_an_unusable_store_is_refused_before_a_server_starts(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}")
    monkeypatch.setattr(ui.subprocess, "Popen", None)  # would fail loudly if reached
    with pytest.raises(BadInput, match="does not exist"), tracking.serve(free_port()):
        pass


def test_a_tracking_server_serves_its_own_ui(monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    monkeypatch.setattr(ui, "ensure_reachable", lambda: "http://mlflow.example:5000")
    with tracking.serve(5000) as served:
        assert served == tracking.Server(url="http://mlflow.example:5000", store="http://mlflow.example:5000")
        assert served.wait() == 0
    monkeypatch.setattr(ui_verb, "latest_experiment", lambda: "4")
    ui_verb.command(5000)
    assert capsys.readouterr().out == (
        "MLflow UI (served by the tracking server): "
        "http://mlflow.example:5000/#/experiments/4/runs?workflowType=machine_learning\n"
    )


def test_the_ui_opens_on_the_latest_experiment_with_runs(experiment, monkeypatch):
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    tracking.start_run(experiment)
    assert ui.latest_experiment() == tracking.experiment_id(experiment)
    named = tracking.experiment_id(f"{experiment}-named")  # no runs, but named by MLflow's variable
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", f"{experiment}-named")
    assert ui.latest_experiment() == named


@pytest.mark.integration
def test_served_until_the_block_ends_and_sigterm_acts_like_ctrl_c(store):
    port = free_port()
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), tracking.serve(port) as served:
        assert served.url == f"http://127.0.0.1:{port}" and served.store == f"sqlite:///{store}"
        with urllib.request.urlopen(f"{served.url}/health", timeout=10) as r:
            assert r.status == 200
        os.kill(os.getpid(), signal.SIGTERM)
    assert served.process.poll() is not None  # stopped on the way out
    with pytest.raises(OSError):  # nothing answers there any more
        urllib.request.urlopen(f"{served.url}/health", timeout=2)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.integration
def test_a_server_that_dies_at_start_is_bad_input(store, monkeypatch):
    monkeypatch.setattr(ui, "ui_command", lambda port: [sys.executable, "-c", "raise SystemExit(3)"])
    with (
        pytest.raises(BadInput, match=r"the MLflow UI did not start on http://127\.0\.0\.1:"),
        tracking.serve(free_port()),
    ):
        pass


@pytest.mark.integration
def test_stopping_a_group_stops_its_children():
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child = int(proc.stdout.readline())
    ui.stop_process_group(proc, timeout_s=5)
    assert proc.returncode is not None
    wait_for(lambda: _gone(child), timeout=10, what=f"pid {child} to end")


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (ended, not yet reaped by whoever adopted it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True
