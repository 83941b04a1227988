"""Links into the MLflow UI that open on the training views, whatever the browser remembers.

MLflow 3's UI keeps a "workflow type" per browser (``machine_learning`` or ``genai``, GenAI when
nothing is stored) and shows a fresh profile the GenAI pages (traces, evaluations) first. The UI
reads ``workflowType`` from the query of its hash route, so every link carries
``?workflowType=machine_learning``.

Where the UI is: a tracking server (``MLFLOW_TRACKING_URI=http…``) serves its own UI; otherwise
``BPLAB_UI_URL`` says where ``bplab ui --port N`` serves (a process that trains cannot know), else
the default ``http://127.0.0.1:5000``.
"""

from __future__ import annotations

import os

from experiments.tracking.store import is_http, tracking_uri

HOST = "127.0.0.1"
DEFAULT_UI_PORT = 5000
UI_URL_ENV = "BPLAB_UI_URL"
WORKFLOW_QUERY = "workflowType=machine_learning"


def ui_base(port: int | None = None) -> str:
    """The UI's root URL, without a trailing slash.

    Args:
      port: the port ``bplab ui`` serves on; given, it wins over ``BPLAB_UI_URL``.
    """
    if is_http():
        return tracking_uri().rstrip("/")
    if port is not None:
        return f"http://{HOST}:{port}"
    return (os.environ.get(UI_URL_ENV, "").strip() or f"http://{HOST}:{DEFAULT_UI_PORT}").rstrip("/")


def experiment_link(experiment_id: str | None, *, base: str | None = None) -> str:
    """The runs table of an experiment (the experiments list when ``experiment_id`` is ``None``)."""
    route = f"/experiments/{experiment_id}/runs" if experiment_id else "/experiments"
    return f"{base or ui_base()}/#{route}?{WORKFLOW_QUERY}"


def run_link(experiment_id: str, run_id: str, *, base: str | None = None) -> str:
    """The run page (overview, metrics, artifacts) of ``run_id`` in ``experiment_id``."""
    return f"{base or ui_base()}/#/experiments/{experiment_id}/runs/{run_id}?{WORKFLOW_QUERY}"


def model_link(experiment_id: str, model_id: str, *, base: str | None = None) -> str:
    """The page of a logged model (its metrics, params and the runs that produced it)."""
    return f"{base or ui_base()}/#/experiments/{experiment_id}/models/{model_id}?{WORKFLOW_QUERY}"
