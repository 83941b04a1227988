"""The life of a run: its experiment, opening, ending, resuming, and reading it back.

A run ends with the status that happened (``FINISHED``, ``FAILED``, ``KILLED``); ending it first
writes the metrics its background writer still holds. Sweeps keep one parent run, resumed by id,
and find its children again by the parent tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import mlflow
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_RUN_NOTE

from experiments.errors import BadInput
from experiments.tracking import writer
from experiments.tracking.store import artifact_root, client, is_http, tracking_uri
from experiments.tracking.ui import DEFAULT_UI_PORT, HOST

STATUSES = ("FINISHED", "FAILED", "KILLED")
EXPERIMENT_KIND = "mlflow.experimentKind"  # MLflow's tag: which UI an experiment opens on
_PAGE = 1000  # runs per search_runs page


def _safe_dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"


def experiment_id(name: str) -> str:
    """The id of experiment ``name``, created (with its artifact folder beside a sqlite store) if new."""
    c = client()
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = artifact_root()
    location = f"{root}/{_safe_dir_name(name)}" if root else None
    try:
        # The kind tells MLflow 3's UI to open on the runs table (training), not the GenAI trace views.
        return c.create_experiment(
            name, artifact_location=location, tags={EXPERIMENT_KIND: "custom_model_development"}
        )
    except mlflow.exceptions.MlflowException:
        exp = c.get_experiment_by_name(name)  # another process created it meanwhile
        if exp is None:
            raise
        return exp.experiment_id


def start_run(
    experiment: str,
    *,
    run_name: str | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str = "",
) -> str:
    """Opens a run (status RUNNING) in ``experiment``, nested under ``parent_run_id`` if given."""
    all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if parent_run_id:
        all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    if run_name:
        all_tags[MLFLOW_RUN_NAME] = run_name
    if description:
        all_tags[MLFLOW_RUN_NOTE] = description
    run = client().create_run(experiment_id(experiment), tags=all_tags, run_name=run_name)
    return run.info.run_id


def end_run(run_id: str, status: str = "FINISHED") -> None:
    """Ends a run with ``FINISHED``, ``FAILED`` or ``KILLED``, after writing its queued metrics."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    writer.close(run_id)
    client().set_terminated(run_id, status=status)


def resume_run(run_id: str) -> None:
    """Sets a terminated run back to RUNNING (a sweep that resumes keeps its one parent run)."""
    client().update_run(run_id, status="RUNNING")


def get_run(run_id: str):
    """The MLflow ``Run`` (for status and tags in tests and reports)."""
    return client().get_run(run_id)


def run_status(run_id: str) -> str:
    """``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``."""
    return client().get_run(run_id).info.status


def experiment_of(run_id: str) -> str:
    """The experiment id of a run."""
    return client().get_run(run_id).info.experiment_id


def child_runs(parent_run_id: str) -> list[dict[str, Any]]:
    """Every run nested under ``parent_run_id``: ``{"run_id", "status", "tags", "metrics"}`` each."""
    c = client()
    exp = experiment_of(parent_run_id)
    out, token = [], None
    while True:
        page = c.search_runs(
            [exp],
            filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'",
            max_results=_PAGE,
            page_token=token,
        )
        out += [
            {
                "run_id": r.info.run_id,
                "status": r.info.status,
                "tags": dict(r.data.tags),
                "metrics": dict(r.data.metrics),
            }
            for r in page
        ]
        token = page.token
        if not token:
            return out


def run_record(run_id: str) -> dict[str, Any]:
    """``{"run_id", "status", "experiment_id", "params", "tags", "metrics"}`` of a run (last values).

    Raises:
      BadInput: no such run in the store in use.
    """
    try:
        run = client().get_run(run_id)
    except mlflow.exceptions.MlflowException as e:
        reason = " ".join(str(e).split())[:200]
        raise BadInput(f"run {run_id!r} not found in {tracking_uri()}: {reason}") from None
    return {
        "run_id": run.info.run_id,
        "status": run.info.status,
        "experiment_id": run.info.experiment_id,
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "metrics": dict(run.data.metrics),
    }


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    """Every ``(step, value)`` of one metric, by step (the last write wins when a step repeats)."""
    points = sorted(client().get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    return sorted({m.step: m.value for m in points}.items())


def run_url(run_id: str) -> str:
    """Where the run is seen in a browser: the server's page, or what ``bplab ui`` serves locally."""
    exp = experiment_of(run_id)
    base = tracking_uri().rstrip("/") if is_http() else f"http://{HOST}:{DEFAULT_UI_PORT}"
    return f"{base}/#/experiments/{exp}/runs/{run_id}"
