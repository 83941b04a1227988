"""Files a run keeps: configs, tables, plots, weights, and the trained net as a pyfunc model.

Small artifacts are written straight from memory (``log_text``, ``log_dict``, ``log_table``); a
pyfunc model is saved to a temporary folder and uploaded with its code (:mod:`.model`).
"""

from __future__ import annotations

import importlib.util
import tempfile
import tomllib
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.models import infer_signature

from experiments.tracking import model
from experiments.tracking.store import client


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


def download_artifact(run_id: str, artifact_path: str, dst_dir: str | Path) -> Path | None:
    """Downloads one artifact into ``dst_dir``; ``None`` when the run has no such artifact."""
    try:
        return Path(client().download_artifacts(run_id, artifact_path, str(dst_dir)))
    except (mlflow.exceptions.MlflowException, OSError):
        return None


def _core_folder() -> str:
    """The ``backprop_core`` package folder, found without importing it (and JAX with it)."""
    spec = importlib.util.find_spec("backprop_core")
    return str(Path(spec.origin).parent)


def log_pyfunc_model(
    run_id: str, *, weights: Path, config_toml: str, artifact_path: str = "model", input_example=None
) -> str:
    """Logs the trained net as an MLflow pyfunc model and returns its ``runs:/…`` URI.

    The model is "from code" (:mod:`experiments.tracking.model`), so nothing is pickled: the weights
    and input scaling travel as an ``.npz`` artifact, the config as TOML, and ``backprop_core`` as
    code beside them. ``mlflow.pyfunc.load_model(uri).predict(X)`` gives the net's outputs ``a^L``
    for raw (unscaled) inputs ``X``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.toml"
        config_path.write_text(config_toml, encoding="utf-8")
        model_dir = Path(tmp) / artifact_path
        kwargs = {}
        if input_example is not None:
            section = tomllib.loads(config_toml)["model"]
            outputs = model.predict_outputs(
                weights, input_example, activation=section["activation"], cost=section["cost"]
            )
            kwargs["signature"] = infer_signature(input_example, outputs)
        with warnings.catch_warnings():
            # MLflow suggests type hints for data validation; the signature above already says the shapes.
            warnings.simplefilter("ignore", UserWarning)
            mlflow.pyfunc.save_model(
                str(model_dir),
                python_model=model.__file__,
                artifacts={"weights": str(weights), "config": str(config_path)},
                code_paths=[_core_folder()],
                # listed, not inferred: inference would load the model in a subprocess (slow)
                pip_requirements=[f"mlflow=={mlflow.__version__}", "numpy", "jax", "jaxlib"],
                **kwargs,
            )
        log_artifacts(run_id, model_dir, artifact_path)
    return f"runs:/{run_id}/{artifact_path}"
