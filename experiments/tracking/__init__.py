"""MLflow, behind a small interface: the only package that imports it.

Everything takes explicit run ids, never MLflow's fluent "active run", so a sweep can hold a parent
run and child runs at once. ``from experiments import tracking`` and call what is listed here:

- :mod:`.store`: which store (``tracking_uri``), whether it answers (``ensure_reachable``).
- :mod:`.runs`: a run's life (``start_run``, ``end_run``, ``resume_run``) and reading it back.
- :mod:`.writer`: metrics through a background writer, params and tags.
- :mod:`.conventions`: MLflow's metadata conventions (source tags, run names, the experiment).
- :mod:`.artifacts`: files and tables of a run; :mod:`.lineage`: the datasets it used.
- :mod:`.model`: the weights file and the pyfunc model MLflow loads; :mod:`.logged_model`: that
  model logged as an MLflow 3 LoggedModel, and registered.
- :mod:`.system_metrics`: ``system/*`` metrics of a run.
- :mod:`.ui`: the MLflow UI server; :mod:`.links`: URLs into it that open on the training views.
"""

from experiments.tracking.artifacts import (
    download_artifact,
    log_artifact,
    log_artifacts,
    log_dict,
    log_table,
    log_text,
)
from experiments.tracking.conventions import experiment_name, run_name, source_tags
from experiments.tracking.lineage import log_dataset
from experiments.tracking.links import experiment_link, model_link, run_link, ui_base
from experiments.tracking.logged_model import (
    Registered,
    best_trial_run,
    log_model_for,
    log_pyfunc_model,
    logged_model_id,
    prepare_model_logging,
    register_best,
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
from experiments.tracking.ui import DEFAULT_UI_PORT, Server, latest_experiment, serve
from experiments.tracking.writer import MAX_PARAM_LEN, flush, log_metrics, log_params, set_tags, settle

__all__ = [
    "ARTIFACTS_DIR",
    "DEFAULT_UI_PORT",
    "DEFAULT_URI",
    "MAX_PARAM_LEN",
    "STATUSES",
    "Registered",
    "Server",
    "artifact_root",
    "best_trial_run",
    "check_access",
    "child_runs",
    "client",
    "download_artifact",
    "end_run",
    "ensure_reachable",
    "experiment_id",
    "experiment_link",
    "experiment_name",
    "experiment_of",
    "flush",
    "get_run",
    "is_http",
    "latest_experiment",
    "load_weights",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_dict",
    "log_metrics",
    "log_model_for",
    "log_params",
    "log_pyfunc_model",
    "log_table",
    "log_text",
    "logged_model_id",
    "metric_history",
    "model_link",
    "predict_outputs",
    "prepare_model_logging",
    "register_best",
    "resume_run",
    "run_link",
    "run_name",
    "run_record",
    "run_status",
    "run_url",
    "save_weights",
    "serve",
    "set_tags",
    "settle",
    "source_tags",
    "sqlite_path",
    "start_run",
    "tracking_uri",
    "ui_base",
]
