"""Which store is used, where its artifacts go, and the refusal of stores that cannot be used."""

from __future__ import annotations

import os
import time

import mlflow
import pytest

from experiments import tracking
from experiments.errors import BadInput
from experiments.tracking import store as store_module
from tests.support.processes import free_port


def test_default_is_sqlite_in_the_working_folder(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri() == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "  ")
    assert tracking.tracking_uri() == "sqlite:///mlflow.db"


@pytest.mark.parametrize(
    ("uri", "http"),
    [
        ("http://127.0.0.1:5000", True),
        ("HTTPS://mlflow.example", True),
        ("sqlite:///x.db", False),
        ("postgresql+psycopg2://u@h/db", False),
    ],
)
def test_is_http(uri, http):
    assert tracking.is_http(uri) is http


def test_sqlite_path_and_artifact_root(tmp_path):
    db = tmp_path / "sub" / "x.db"
    assert tracking.sqlite_path(f"sqlite:///{db}") == db
    assert tracking.sqlite_path("sqlite://") == tracking.sqlite_path("sqlite:///mlflow.db")
    assert tracking.sqlite_path("http://h:1") is None
    assert tracking.artifact_root(f"sqlite:///{db}") == (db.parent / "mlartifacts").as_uri()
    assert tracking.artifact_root("http://h:1") is None


def test_one_client_per_uri(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")  # a client of a server connects lazily
    first = tracking.client()
    assert tracking.client() is first
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:2")
    assert tracking.client() is not first


def test_a_missing_folder_is_refused_before_anything_is_written(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'nope' / 'mlflow.db'}")
    with pytest.raises(BadInput, match=r"cannot reach MLflow at .*does not exist"):
        tracking.ensure_reachable()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_refused(monkeypatch, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    with pytest.raises(BadInput, match="not writable"):
        tracking.ensure_reachable()


def test_the_shared_store_answers(store):
    assert tracking.ensure_reachable() == f"sqlite:///{store}"


def test_a_silent_server_is_given_up_on_after_the_timeout(monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    t0 = time.monotonic()
    with pytest.raises(BadInput, match=rf"cannot reach MLflow at {uri} .*is the server running"):
        tracking.ensure_reachable(timeout_s=1.0)
    assert time.monotonic() - t0 < 5


def test_check_access_reads_nothing_from_an_embedded_store(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    tracking.check_access()
    assert not (tmp_path / "never.db").exists()


class _Refusing:
    def __init__(self, code: int):
        self.code = code

    def search_experiments(self, **_):
        error = mlflow.exceptions.MlflowException("refused")
        error.get_http_status_code = lambda: self.code
        raise error


@pytest.mark.parametrize(
    ("code", "needle"), [(401, "MLFLOW_TRACKING_PASSWORD"), (403, "refused user 'ann': HTTP 403")]
)
def test_check_access_names_the_refusal(monkeypatch, code, needle):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    monkeypatch.setattr(store_module, "client", lambda: _Refusing(code))
    with pytest.raises(BadInput, match=needle):
        tracking.check_access()
