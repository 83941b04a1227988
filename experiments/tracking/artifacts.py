"""Files a run keeps: configs, tables, plots and weights (the model is :mod:`.logged_model`'s).

Small artifacts are written straight from memory (``log_text``, ``log_dict``, ``log_table``). A run's
own files can instead be queued (:func:`log_files_later`): written and uploaded in one call by the
run's background writer, so training goes on while they travel, and the run ends once they are in.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS

from experiments.tracking.store import client
from experiments.tracking.writer import set_tags, submit


def log_artifact(run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
    """Uploads one local file."""
    client().log_artifact(run_id, str(path), artifact_path)


def log_artifacts(run_id: str, folder: str | Path, artifact_path: str | None = None) -> None:
    """Uploads a local folder's contents."""
    client().log_artifacts(run_id, str(folder), artifact_path)


def log_text(run_id: str, text: str, artifact_file: str) -> None:
    """Writes ``text`` as the artifact ``artifact_file`` (e.g. ``config.toml``)."""
    client().log_text(run_id, text, artifact_file)


def log_dict(run_id: str, data: Any, artifact_file: str) -> None:
    """Writes JSON-able ``data`` as the artifact ``artifact_file`` (``.json``)."""
    client().log_dict(run_id, data, artifact_file)


def log_table(run_id: str, rows: Iterable[Mapping[str, Any]], artifact_file: str) -> None:
    """Logs rows as an MLflow table (shown in the UI) at ``artifact_file`` (``.json``)."""
    rows = list(rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    client().log_table(run_id, {c: [row.get(c) for row in rows] for c in columns}, artifact_file)


def table_json(rows: Iterable[Mapping[str, Any]]) -> dict[str, list]:
    """Rows in the format ``mlflow.log_table`` writes (pandas' ``split``): ``{"columns", "data"}``.

    Every column of every row, in first-seen order; a missing cell or a non-finite float is ``null``.
    """
    rows = list(rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {"columns": columns, "data": [[cell(row.get(c)) for c in columns] for row in rows]}


def log_files_later(run_id: str, write: Callable[[Path], object], *, tables: Iterable[str] = ()) -> None:
    """Queues the run's files: ``write(folder)`` fills a temporary folder, uploaded in one call.

    Both happen in the run's background writer (retried while the store is away); the run ends after
    them. ``tables`` are files of :func:`table_json` rows, tagged as ``mlflow.log_table`` tags its
    tables, so MLflow's UI shows them as tables.
    """
    tables = list(tables)
    if tables:
        set_tags(
            run_id, {MLFLOW_LOGGED_ARTIFACTS: json.dumps([{"path": t, "type": "table"} for t in tables])}
        )

    def upload() -> None:
        folder = Path(tempfile.mkdtemp(prefix="bplab-artifacts-"))
        try:
            write(folder)
            client().log_artifacts(run_id, str(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    submit(run_id, upload)


def download_artifact(run_id: str, artifact_path: str, dst_dir: str | Path) -> Path | None:
    """Downloads one artifact into ``dst_dir``; ``None`` when the run has no such artifact."""
    try:
        return Path(client().download_artifacts(run_id, artifact_path, str(dst_dir)))
    except (mlflow.exceptions.MlflowException, OSError):
        return None
