"""One sqlite store for the tracking tests: creating MLflow's schema takes seconds, a run milliseconds.

Tests share the store and keep apart by experiment name (:func:`experiment`).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    from experiments import tracking

    uri = f"sqlite:///{tmp_path_factory.mktemp('tracking') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        tracking.ensure_reachable()  # creates the schema once
    return uri


@pytest.fixture
def store(_store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``MLFLOW_TRACKING_URI`` set to the shared sqlite store; returns the database file."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", _store_uri)
    return Path(_store_uri.removeprefix("sqlite:///"))


@pytest.fixture
def experiment(store: Path) -> str:
    """A name no other test uses."""
    return f"t-{uuid.uuid4().hex[:8]}"
