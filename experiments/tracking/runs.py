"""The life of a run: its experiment, opening, ending, resuming, and reading it back.

A run ends with the status that happened (``FINISHED``, ``FAILED``, ``KILLED``); ending it first
writes the metrics its background writer still holds. Sweeps keep one parent run, resumed by id,
and find its children again by the parent tag.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import mlflow
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_RUN_NOTE

from experiments.errors import BadInput
from experiments.process import process_tags
from experiments.tracking import system_metrics, writer
from experiments.tracking.conventions import default_run_name, experiment_name, source_tags
from experiments.tracking.links import run_link
from experiments.tracking.store import artifact_root, client, tracking_uri

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
    log_system_metrics: bool | None = None,
) -> str:
    """Opens a run (status RUNNING) in ``experiment``, nested under ``parent_run_id`` if given.

    Args:
      experiment: the experiment name; an unset or ``default`` name defers to ``MLFLOW_EXPERIMENT_NAME``.
        A child run goes where its parent is.
      run_name: default ``<experiment>-<4 hex>`` (:func:`run_name` makes one from a config).
      parent_run_id: the run to nest under.
      tags: extra tags; they override the defaults (process identity, ``mlflow.user``,
        ``mlflow.source.name``, ``mlflow.source.git.commit``).
      description: the run's note.
      log_system_metrics: sample ``system/*`` metrics until the run ends; ``None`` follows
        ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``.
    """
    all_tags = {str(k): str(v) for k, v in {**source_tags(), **process_tags(), **(tags or {})}.items()}
    if parent_run_id:
        all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
        exp_id = _parent_experiment(tracking_uri(), parent_run_id)
    else:
        exp_id = experiment_id(experiment_name(experiment))
    run_name = run_name or default_run_name(experiment_name(experiment))
    all_tags[MLFLOW_RUN_NAME] = run_name
    if description:
        all_tags[MLFLOW_RUN_NOTE] = description
    run_id = client().create_run(exp_id, tags=all_tags, run_name=run_name).info.run_id
    if system_metrics.enabled_by_env() if log_system_metrics is None else log_system_metrics:
        system_metrics.start(run_id)
    return run_id


def end_run(run_id: str, status: str = "FINISHED", *, wait: bool = True) -> None:
    """Ends a run with ``FINISHED``, ``FAILED`` or ``KILLED`` once its queued writes are stored.

    With ``wait=False`` the caller moves on at once (a sweep's next trial trains meanwhile); the run
    stays RUNNING until its points and artifacts are written, so its status never runs ahead of them.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    system_metrics.stop(run_id)
    writer.end_run(run_id, status, wait=wait)


def resume_run(run_id: str, *, log_system_metrics: bool | None = None) -> None:
    """Sets a terminated run back to RUNNING (a sweep that resumes keeps its one parent run);
    ``log_system_metrics`` as in :func:`start_run`, continuing the run's earlier samples."""
    client().update_run(run_id, status="RUNNING")
    if system_metrics.enabled_by_env() if log_system_metrics is None else log_system_metrics:
        system_metrics.start(run_id, resume=True)


def get_run(run_id: str):
    """The MLflow ``Run`` (for status and tags in tests and reports)."""
    return client().get_run(run_id)


def run_status(run_id: str) -> str:
    """``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``."""
    return client().get_run(run_id).info.status


def experiment_of(run_id: str) -> str:
    """The experiment id of a run."""
    return client().get_run(run_id).info.experiment_id


@functools.lru_cache(maxsize=64)
def _parent_experiment(uri: str, run_id: str) -> str:
    """:func:`experiment_of` for a parent run, read once: a run never changes experiment, and a sweep
    opens every child under the same parent (one store round trip less per trial)."""
    return experiment_of(run_id)


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
    """The run's page in the UI (the server's, ``BPLAB_UI_URL``, or ``bplab ui``'s default port),
    opening on the training view (:mod:`.links`)."""
    return run_link(experiment_of(run_id), run_id)
