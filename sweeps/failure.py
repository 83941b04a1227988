"""Which kind of failure ended a trial: one stable category per exception, whatever raised it.

A worker keeps every failure inside its trial and goes on; the category decides what happens next.
``oom``, ``exception`` and ``bad_config`` are the trial's own (its params are queued once more, then
given up on); ``tracking_unavailable`` is the MLflow server's (queued again); ``storage_unavailable``
is the Optuna storage's, and only that one stops a worker, when reconnecting fails.

:func:`classify` looks at the exception, the exceptions it was raised from, and where it was raised
(the packages in its traceback), never at a live store, so it is a pure function with unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy.exc
from optuna.exceptions import StorageInternalError

from experiments.errors import BadInput
from experiments.names import BAD_CONFIG, EXCEPTION, OOM, STORAGE_UNAVAILABLE, TRACKING_UNAVAILABLE

OOM_MARKERS = ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory")
# MLflow's own words when its REST client got no answer (``mlflow.utils.rest_utils``).
TRACKING_MARKERS = ("API request to", "Max retries exceeded", "Connection refused")
TRACKING_ERROR_CODES = ("TEMPORARILY_UNAVAILABLE",)
# Named, not imported: mlflow is imported only under experiments/tracking.
TRACKING_TYPES = ("TrackingUnavailable",)
NETWORK_TYPES = ("ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout")
DATABASE_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, StorageInternalError)


class StorageLost(Exception):
    """The Optuna storage stopped answering and did not come back: the worker must stop."""


def chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions it was raised from or during, innermost last, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def root_cause(error: BaseException) -> str:
    """``"TypeName: first line"`` of the innermost exception behind ``error``: the driver's own words
    (``database "x" does not exist``), not a wrapper's guess."""
    *_, inner = chain(error)
    lines = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _type_names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def _packages(error: BaseException) -> set[str]:
    """The top-level packages whose code the exception passed through (``mlflow``, ``optuna`` …)."""
    out = set()
    tb = error.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if "/site-packages/" in path:
            out.add(path.split("/site-packages/", 1)[1].split("/", 1)[0])
        tb = tb.tb_next
    return out


def _is_oom(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    # jax.errors.JaxRuntimeError (XlaRuntimeError before jax 0.4.36) says RESOURCE_EXHAUSTED.
    return isinstance(error, RuntimeError) and any(m in str(error) for m in OOM_MARKERS)


def _is_tracking(error: BaseException) -> bool:
    names = _type_names(error)
    if names & set(TRACKING_TYPES):
        return True
    if "MlflowException" in names:
        code = str(getattr(error, "error_code", ""))
        return code in TRACKING_ERROR_CODES or any(m in str(error) for m in TRACKING_MARKERS)
    # requests' connection errors: only MLflow talks HTTP inside a trial.
    return bool(names & set(NETWORK_TYPES)) and "requests" in type(error).__module__


def _is_storage(error: BaseException) -> bool:
    packages = _packages(error)
    if isinstance(error, DATABASE_ERRORS):
        return "mlflow" not in packages or "optuna" in packages
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return "mlflow" not in packages
    return isinstance(error, OSError) and "optuna" in packages  # the journal file's I/O


def classify(error: BaseException) -> str:
    """The ``bplab.failure`` category of an exception that ended a trial.

    Returns:
      ``oom`` (``MemoryError``, XLA ``RESOURCE_EXHAUSTED``), ``tracking_unavailable`` (the MLflow
      server did not answer), ``storage_unavailable`` (the Optuna storage did not answer),
      ``bad_config`` (the sampled point is not a valid config), else ``exception``.
    """
    errors = list(chain(error))
    if any(_is_oom(e) for e in errors):
        return OOM
    if any(_is_tracking(e) for e in errors):
        return TRACKING_UNAVAILABLE
    if any(_is_storage(e) for e in errors):
        return STORAGE_UNAVAILABLE
    if isinstance(error, BadInput):
        return BAD_CONFIG
    return EXCEPTION
