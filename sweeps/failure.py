"""Which kind of failure ended a trial: one stable category per exception, whatever raised it.

A worker keeps every failure inside its trial and goes on; the category decides what happens next.
``oom``, ``exception`` and ``bad_config`` are the trial's own (its params are queued once more, then
given up on); ``tracking_unavailable`` is the MLflow server's (queued again); ``storage_unavailable``
is the Optuna storage's, and only that one stops a worker, when reconnecting fails.

The categories of any run (``oom``, ``tracking_unavailable``) are :mod:`experiments.failures`'s, which
``bplab train`` uses too; this module adds the two only a sweep has: the Optuna storage, and a sampled
point that is no valid config. :func:`classify` looks at the exception, the exceptions it was raised
from, and where it was raised (the packages in its traceback), never at a live store, so it is a pure
function with unit tests.
"""

from __future__ import annotations

import sqlalchemy.exc
from optuna.exceptions import StorageInternalError

from experiments import failures
from experiments.errors import BadInput
from experiments.failures import chain, root_cause
from experiments.names import BAD_CONFIG, EXCEPTION, STORAGE_UNAVAILABLE

__all__ = ["StorageLost", "chain", "classify", "root_cause"]

DATABASE_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, StorageInternalError)


class StorageLost(Exception):
    """The Optuna storage stopped answering and did not come back: the worker must stop."""


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


def _is_storage(error: BaseException) -> bool:
    # MLflow's sqlite/PostgreSQL store raises the same sqlalchemy errors: where they were raised says
    # whose they are.
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
    category = failures.classify(error)
    if category != EXCEPTION:
        return category
    if any(_is_storage(e) for e in chain(error)):
        return STORAGE_UNAVAILABLE
    if isinstance(error, BadInput):
        return BAD_CONFIG
    return EXCEPTION
