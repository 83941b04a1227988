"""Which data a run saw: its three splits as MLflow dataset inputs (what ``mlflow.log_input`` writes).

Each split is one dataset input with the data's name, a digest of the split's arrays (equal digests:
the same rows, scaled the same way), the source (the scikit-learn loader, the user's file, or the
generator of a built-in set), its shape in the profile, and the context ``training``,
``validation`` or ``test``. The run page lists them; ``search_runs`` can filter on them.
"""

from __future__ import annotations

import contextlib
import warnings
import weakref
from pathlib import Path

from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

with warnings.catch_warnings():
    # mlflow.data's numpy dataset imports MLflow's GenAI dataset types, which warn about type hints.
    warnings.simplefilter("ignore", UserWarning)
    from mlflow.data.numpy_dataset import from_numpy

from experiments.tracking.store import client

SKLEARN_SETS = ("digits", "iris", "breast_cancer", "diabetes")
# How PostgreSQL, SQLite and MySQL word a unique-key violation (MLflow passes the database's message on).
UNIQUE_VIOLATION = ("duplicate key value", "UNIQUE constraint failed", "Duplicate entry")
CONTEXTS = {"train": "training", "val": "validation", "test": "test"}

_inputs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # dataset -> ((dataset, path), inputs)


def dataset_source(dataset: str, path: str = ""):
    """The source of a ``[data]`` section: the file's absolute path as a local source, else the
    scikit-learn loader or bplab's generator as a code source."""
    if dataset == "file":
        with warnings.catch_warnings():
            # MLflow registers its local-file source twice and warns that the path matches both.
            warnings.simplefilter("ignore", UserWarning)
            return resolve_dataset_source(str(Path(path).resolve()))
    loader = f"sklearn.datasets.load_{dataset}" if dataset in SKLEARN_SETS else f"bplab.data.{dataset}"
    return CodeDatasetSource(tags={"loader": loader})


def dataset_inputs(ds, data_cfg) -> list[DatasetInput]:
    """One :class:`DatasetInput` per split of ``ds`` (an :class:`experiments.data.Dataset`).

    Kept per dataset object: a sweep's trials share their process's data, and hashing a large set
    (60k × 784) takes ~0.1 s, which would otherwise be paid by every trial.

    Args:
      ds: the split dataset (``x_train``, ``y_train``, … and ``name``).
      data_cfg: the ``[data]`` section (``dataset``, ``path``) it was loaded from.
    """
    key = (data_cfg.dataset, data_cfg.path)
    try:
        cached = _inputs.get(ds)
    except TypeError:  # not weak-referable (a stand-in object): nothing is kept
        cached = None
    if cached is not None and cached[0] == key:
        return cached[1]
    source = dataset_source(data_cfg.dataset, data_cfg.path)
    inputs = []
    for split, context in CONTEXTS.items():
        data = from_numpy(
            getattr(ds, f"x_{split}"), targets=getattr(ds, f"y_{split}"), source=source, name=ds.name
        )
        tags = [InputTag(key=MLFLOW_DATASET_CONTEXT, value=context)]
        inputs.append(DatasetInput(dataset=data._to_mlflow_entity(), tags=tags))
    with contextlib.suppress(TypeError):
        _inputs[ds] = (key, inputs)
    return inputs


def log_dataset(run_id: str, ds, data_cfg) -> None:
    """Logs the three splits of ``ds`` as the run's dataset inputs (see :func:`dataset_inputs`)."""
    inputs = dataset_inputs(ds, data_cfg)
    try:
        client().log_inputs(run_id, datasets=inputs)
    except MlflowException as e:
        if not created_meanwhile(e):
            raise
        client().log_inputs(run_id, datasets=inputs)  # the dataset exists now: this links it


def created_meanwhile(error: MlflowException) -> bool:
    """Whether ``log_inputs`` failed because another run created the same dataset meanwhile.

    MLflow looks an experiment's dataset up, then inserts it if it was missing. Two runs that log
    the same new dataset at once (the first trials of two sweep workers) can both miss it; the
    second insert then breaks the unique key and its whole call is rolled back.
    """
    message = str(error)
    return "INSERT INTO datasets" in message and any(phrase in message for phrase in UNIQUE_VIOLATION)
