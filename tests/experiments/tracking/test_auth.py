"""A read-only user of an authenticated ``mlflow server`` is refused by the preflight, before any
run is opened; a user who may edit the experiment is not."""

from __future__ import annotations

import base64
import json
import os
import signal
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from bplab.app import main
from experiments import tracking
from experiments.errors import BadInput
from experiments.tracking.store import check_write_access
from tests.support.processes import CONFIGS, Procs, start_mlflow_server

pytestmark = pytest.mark.integration

ADMIN = ("admin", "admin-password-123")
BOB = ("bob", "bob-password-1234")


def _post(url: str, path: str, body: dict, auth: tuple[str, str]) -> None:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """An ``mlflow server --app-name basic-auth`` (default permission READ) on sqlite, with user bob."""
    folder = tmp_path_factory.mktemp("auth-server")
    ini = folder / "basic_auth.ini"
    settings = {
        "default_permission": "READ",
        "database_uri": f"sqlite:///{folder / 'auth.db'}",
        "admin_username": ADMIN[0],
        "admin_password": ADMIN[1],
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
    }
    ini.write_text("[mlflow]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    procs = Procs(folder)
    try:
        _server, url = start_mlflow_server(
            procs, f"sqlite:///{folder / 'mlflow.db'}", folder, "--app-name", "basic-auth",
            MLFLOW_AUTH_CONFIG_PATH=str(ini), MLFLOW_FLASK_SERVER_SECRET_KEY="test-secret",
        )  # fmt: skip
        _post(url, "/api/2.0/mlflow/users/create", {"username": BOB[0], "password": BOB[1]}, ADMIN)
        yield url
    finally:
        for proc in procs.started:  # nothing to keep: no graceful stop needed
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _as(monkeypatch, url: str, user: tuple[str, str]) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", user[1])


def test_a_read_only_user_is_refused_before_writing(auth_server, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    _as(monkeypatch, auth_server, ADMIN)
    exp_id = MlflowClient(auth_server).create_experiment("xor")
    tracking.ensure_reachable(experiment="xor")  # the admin may write

    _as(monkeypatch, auth_server, BOB)
    tracking.ensure_reachable()  # reading is allowed
    with pytest.raises(
        BadInput, match=r"lets user 'bob' only READ experiment 'xor'; writing runs needs EDIT"
    ):
        tracking.ensure_reachable(experiment="xor")
    check_write_access("bob's own new experiment")  # its creator will manage it
    MlflowClient(auth_server).create_experiment("bobs")  # bob manages it; the admin has no grant on it
    _as(monkeypatch, auth_server, ADMIN)
    check_write_access("bobs")  # an admin may write anywhere
    _as(monkeypatch, auth_server, BOB)

    capsys.readouterr()
    # `bplab train` in-process: the binary's exit 2 on bad input is tested in test_cli.py.
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(CONFIGS / "xor.toml"), "--set", "train.epochs=2"])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        f"bplab: error: MLflow at {auth_server} lets user 'bob' only READ experiment 'xor'"
    )
    _as(monkeypatch, auth_server, ADMIN)
    assert MlflowClient(auth_server).search_runs([exp_id]) == []  # nothing was opened

    grant = {"username": BOB[0], "resource_type": "experiment", "resource_id": exp_id, "permission": "EDIT"}
    _post(auth_server, "/api/3.0/mlflow/users/permissions/grant", grant, ADMIN)
    _as(monkeypatch, auth_server, BOB)
    tracking.ensure_reachable(experiment="xor")


def test_without_credentials_nothing_is_checked_beyond_the_read(auth_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    with pytest.raises(BadInput, match=r"HTTP 401"):
        tracking.ensure_reachable(experiment="xor")  # check_access's refusal, as before
