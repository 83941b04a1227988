"""MLflow, behind a small interface: the only package that imports it.

Everything takes explicit run ids, never MLflow's fluent "active run", so a sweep can hold a parent
run and child runs at once. ``from experiments import tracking`` and call what is listed here:

- :mod:`.store`: which store (``tracking_uri``), whether it answers (``ensure_reachable``).
- :mod:`.runs`: a run's life (``start_run``, ``end_run``, ``resume_run``) and reading it back.
- :mod:`.writer`: metrics through a background writer, params and tags.
- :mod:`.artifacts`: files, tables and the pyfunc model of a run.
- :mod:`.model`: the weights file and the pyfunc model MLflow loads.
- :mod:`.ui`: the MLflow UI server.
"""

from experiments.tracking.artifacts import (
    download_artifact,
    log_artifact,
    log_artifacts,
    log_dict,
    log_pyfunc_model,
    log_table,
    log_text,
)
from experiments.tracking.model import load_weights, predict_outputs, save_weights
from experiments.tracking.runs import (
    STATUSES,
    child_runs,
    end_run,
    experiment_id,
    experiment_of,
    get_run,
    metric_history,
    resume_run,
    run_record,
    run_status,
    run_url,
    start_run,
)
from experiments.tracking.store import (
    ARTIFACTS_DIR,
    DEFAULT_URI,
    artifact_root,
    check_access,
    client,
    ensure_reachable,
    is_http,
    sqlite_path,
    tracking_uri,
)
from experiments.tracking.ui import DEFAULT_UI_PORT, Server, serve
from experiments.tracking.writer import MAX_PARAM_LEN, flush, log_metrics, log_params, set_tags

__all__ = [
    "ARTIFACTS_DIR",
    "DEFAULT_UI_PORT",
    "DEFAULT_URI",
    "MAX_PARAM_LEN",
    "STATUSES",
    "Server",
    "artifact_root",
    "check_access",
    "child_runs",
    "client",
    "download_artifact",
    "end_run",
    "ensure_reachable",
    "experiment_id",
    "experiment_of",
    "flush",
    "get_run",
    "is_http",
    "load_weights",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_metrics",
    "log_params",
    "log_pyfunc_model",
    "log_table",
    "log_text",
    "metric_history",
    "predict_outputs",
    "resume_run",
    "run_record",
    "run_status",
    "run_url",
    "save_weights",
    "serve",
    "set_tags",
    "sqlite_path",
    "start_run",
    "tracking_uri",
]
