"""A new sqlite store is a copy of the cached empty store, and is what MLflow itself would have made."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from experiments import tracking
from experiments.tracking import schema


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    schema._template.cache_clear()
    yield tmp_path / "cache" / "bplab" / "mlflow-schema"
    schema._template.cache_clear()


def _new_store(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    tracking.ensure_reachable()
    return folder / "mlflow.db"


def _rows(db: Path, query: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def test_a_new_store_is_the_cached_empty_store_with_its_own_default_experiment(tmp_path, cache, monkeypatch):
    first = _new_store(tmp_path / "a", monkeypatch)
    (template,) = cache.glob("mlflow-*.db")
    built = template.stat().st_mtime_ns
    second = _new_store(tmp_path / "b", monkeypatch)
    assert template.stat().st_mtime_ns == built  # built once, then copied

    for db in (first, second):
        home = (db.parent / "mlruns" / "0").as_posix()
        assert _rows(db, "SELECT experiment_id, name, artifact_location FROM experiments") == [
            (0, "Default", home)
        ]
    # The same schema version MLflow's own migrations reach, and a store MLflow works with.
    assert _rows(second, "SELECT * FROM alembic_version") == _rows(template, "SELECT * FROM alembic_version")
    client = MlflowClient(f"sqlite:///{second}")
    run = client.create_run(
        client.create_experiment("x", artifact_location=(tmp_path / "art").as_uri()).lstrip()
    )
    client.log_metric(run.info.run_id, "m", 1.0)
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_an_existing_store_is_left_as_it_is(tmp_path, cache, monkeypatch):
    db = _new_store(tmp_path / "a", monkeypatch)
    MlflowClient(f"sqlite:///{db}").create_experiment("kept")
    tracking.ensure_reachable()
    assert ("kept",) in _rows(db, "SELECT name FROM experiments")


def test_without_a_usable_cache_mlflow_builds_the_schema_itself(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    schema._template.cache_clear()
    try:
        db = _new_store(tmp_path / "a", monkeypatch)
    finally:
        schema._template.cache_clear()
    assert _rows(db, "SELECT name FROM experiments") == [("Default",)]
