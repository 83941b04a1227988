"""The trained net as an MLflow 3 LoggedModel, and the registry entry of a sweep's best one.

A LoggedModel is listed in the experiment's Models tab, found by ``mlflow.search_logged_models``,
and carries the run's params and its final metrics. ``mlflow.pyfunc.log_model`` would attach it to
the fluent "active run"; our runs are opened by id, so the model is created in the run's experiment
with the run as its source, then saved through ``Model.log(model_id=…, run_id=…)``.
``runs:/<run_id>/model`` and ``models:/<model_id>`` both load it.

The signature lists one column per input, of any type: MLflow then passes float32, float64 and
integer arrays and DataFrames of that width on as a DataFrame, and the model computes in float64.
A tensor signature refuses every dtype but its own, and ``double`` columns refuse int64 (unless
every value is 0 or 1). MLflow refuses narrower input; wider input it cuts to the first columns.
"""

from __future__ import annotations

import importlib.util
import tempfile
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow.models import Model, ModelSignature
from mlflow.types.schema import AnyType, ColSpec, Schema, TensorSpec
from mlflow.utils import requirements_utils

from experiments.errors import BadInput
from experiments.names import TAG_BEST_TRIAL, TAG_KIND, TAG_TRIAL
from experiments.tracking import model, writer
from experiments.tracking.artifacts import download_artifact
from experiments.tracking.runs import child_runs, experiment_of
from experiments.tracking.store import client

MODEL_NAME = "model"  # the LoggedModel's name, and the path in ``runs:/<run_id>/model``
MODEL_TYPE = "bplab-mlp"
WEIGHTS_FILE = "params.npz"  # the run artifacts :func:`log_model_for` reads
CONFIG_FILE = "config.toml"


def signature(n_inputs: int, n_outputs: int) -> ModelSignature:
    """``n_inputs`` unnamed columns of any type in; a ``(rows, n_outputs)`` float tensor out."""
    return ModelSignature(
        inputs=Schema([ColSpec(AnyType()) for _ in range(n_inputs)]),
        outputs=Schema([TensorSpec(np.dtype("float64"), (-1, n_outputs))]),
    )


def _core_folder() -> str:
    """The ``backprop_core`` package folder, found without importing it (and JAX with it)."""
    return str(Path(importlib.util.find_spec("backprop_core").origin).parent)


def prepare_model_logging() -> None:
    """Does ahead what the first :func:`log_pyfunc_model` of a process pays before it writes
    anything: MLflow checks the requirements against the environment through a map of every
    installed package to its modules, built once per process from the distributions' metadata
    (0.5 s of a sweep's end, on the 2-core machine). A thread can build it while trials train.

    The map's builder is private to MLflow; where a version has none, this does nothing.
    """
    build = getattr(requirements_utils, "_init_modules_to_packages_map", None)
    if build is not None:
        build()


def log_pyfunc_model(
    run_id: str, *, weights: Path, config_toml: str, step: int = 0, input_example=None
) -> str:
    """Logs the trained net as the run's LoggedModel ``model``; returns ``runs:/<run_id>/model``.

    Nothing is pickled: the model is "from code" (:mod:`experiments.tracking.model`), the weights
    and input scaling travel as an ``.npz``, the config as TOML, ``backprop_core`` as code.

    Args:
      run_id: the run that trained it (may be finished).
      weights: the ``.npz`` of :func:`~experiments.tracking.model.save_weights`.
      config_toml: the resolved config (its ``[model]`` section says activation and cost).
      step: the epoch whose metrics the model carries (the last one).
      input_example: a few raw input rows, shown in the UI and checked against the signature.
    """
    params, _, _ = model.load_weights(weights)
    writer.flush(run_id)  # the model takes the run's metrics at ``step``: they must be written first
    c = client()
    logged = c.create_logged_model(
        experiment_id=experiment_of(run_id),
        name=MODEL_NAME,
        source_run_id=run_id,
        params=dict(c.get_run(run_id).data.params),
        model_type=MODEL_TYPE,
    )
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / CONFIG_FILE
        config_path.write_text(config_toml, encoding="utf-8")
        with warnings.catch_warnings():
            # MLflow suggests type hints for data validation; the signature already says the shapes.
            warnings.simplefilter("ignore", UserWarning)
            Model.log(
                artifact_path=None,
                name=MODEL_NAME,
                flavor=mlflow.pyfunc,
                flavor_name="pyfunc.ModelFromCode",
                run_id=run_id,
                model_id=logged.model_id,
                step=step,
                python_model=model.__file__,
                artifacts={"weights": str(weights), "config": str(config_path)},
                code_paths=[_core_folder()],
                # listed, not inferred: inference would load the model in a subprocess (slow)
                pip_requirements=[f"mlflow=={mlflow.__version__}", "numpy", "pandas", "jax", "jaxlib"],
                signature=signature(params[0][0].shape[1], params[-1][0].shape[0]),
                input_example=None if input_example is None else np.asarray(input_example, np.float64),
            )
    return f"runs:/{run_id}/{MODEL_NAME}"


def logged_model_id(run_id: str) -> str | None:
    """The id of the LoggedModel ``model`` that ``run_id`` produced, or ``None``."""
    found = client().search_logged_models(
        experiment_ids=[experiment_of(run_id)],
        filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_NAME}'",
        max_results=1,
    )
    return found[0].model_id if found else None


def log_model_for(run_id: str) -> str:
    """The LoggedModel of a run that kept only its weights (a sweep's trial), logged from its
    ``params.npz`` and ``config.toml`` artifacts; an existing one is reused. Returns its model id.

    Raises:
      BadInput: the run has no weights or config artifact.
    """
    existing = logged_model_id(run_id)
    if existing:
        return existing
    with tempfile.TemporaryDirectory() as tmp:
        weights = download_artifact(run_id, WEIGHTS_FILE, tmp)
        config = download_artifact(run_id, CONFIG_FILE, tmp)
        if weights is None or config is None:
            raise BadInput(f"run {run_id} has no {WEIGHTS_FILE} and {CONFIG_FILE} to make a model from")
        toml = config.read_text(encoding="utf-8")
        epochs = tomllib.loads(toml).get("train", {}).get("epochs", 0)
        log_pyfunc_model(run_id, weights=weights, config_toml=toml, step=epochs)
    return logged_model_id(run_id)


@dataclass(frozen=True)
class Registered:
    """A model version in the registry: ``models:/<name>@<alias>`` loads it."""

    name: str
    version: str
    alias: str
    run_id: str
    model_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


def best_trial_run(parent_run_id: str) -> str:
    """The run of a sweep's best trial (the parent's ``best.trial`` tag).

    Raises:
      BadInput: the run is not a finished sweep's parent.
    """
    best = client().get_run(parent_run_id).data.tags.get(TAG_BEST_TRIAL)
    if best is None:
        raise BadInput(f"run {parent_run_id} has no best trial (is it a sweep's parent run that ended?)")
    for child in child_runs(parent_run_id):
        if child["tags"].get(TAG_TRIAL) == best:
            return child["run_id"]
    raise BadInput(f"sweep run {parent_run_id}: no child run for its best trial {best}")


def register_best(run_id: str, name: str, *, alias: str = "champion") -> Registered:
    """Registers a run's model under ``name`` and points ``alias`` at the new version.

    Args:
      run_id: a sweep's parent run (its best trial's model is registered, logged first if the trial
        kept only weights) or any run with a model.
      name: the registered model's name (created if new).
      alias: set on the new version, moved from an older one.
    """
    tags = client().get_run(run_id).data.tags
    source_run = best_trial_run(run_id) if tags.get(TAG_KIND) == "sweep" else run_id
    model_id = log_model_for(source_run)
    c = client()
    try:
        c.create_registered_model(name)
    except mlflow.exceptions.MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    created = c.create_model_version(name, f"models:/{model_id}", run_id=source_run, model_id=model_id)
    version = str(created.version)
    c.set_registered_model_alias(name, alias, version)
    return Registered(name, version, alias, source_run, model_id)
