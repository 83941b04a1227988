"""Which kind of failure ended a run: a stable ``bplab.failure`` category, whatever raised it.

``bplab train`` and a sweep's trials end runs the same way, so the categories that do not depend on
a store's client live here, in the lowest layer that ends runs: ``oom`` (``MemoryError``, or XLA
saying RESOURCE_EXHAUSTED / out of memory) and ``tracking_unavailable`` (the MLflow server did not
answer); anything else is ``exception``. :mod:`sweeps.failure` adds the Optuna storage's category on
top, so there is one implementation of each test.

:func:`classify` looks at the exception and the exceptions it was raised from or during, never at a
live store, so it is a pure function with unit tests. Exception types of mlflow and requests are
recognised by name: mlflow is imported only under ``experiments/tracking``, and a classifier must not
pull a client in just to test ``isinstance``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from experiments.names import EXCEPTION, OOM, TRACKING_UNAVAILABLE

# XLA's words: ``RESOURCE_EXHAUSTED: Out of memory while trying to allocate …`` on an accelerator;
# on the CPU a refused allocation says ``INTERNAL: … Out of memory allocating N bytes``.
OOM_MARKERS = ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory")
# MLflow's own words when its REST client got no answer (``mlflow.utils.rest_utils``).
TRACKING_MARKERS = ("API request to", "Max retries exceeded", "Connection refused")
TRACKING_ERROR_CODES = ("TEMPORARILY_UNAVAILABLE",)
TRACKING_TYPES = ("TrackingUnavailable",)  # experiments.errors' own, also when re-raised as a copy
NETWORK_TYPES = ("ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout")
# No room to write: a full disk, a file-size limit, a quota; and SQLite's words for them (it reports
# a write refused with EFBIG as an I/O error).
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
DISK_FULL_MARKERS = ("database or disk is full", "disk I/O error")


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


def type_names(error: BaseException) -> set[str]:
    """The names of ``error``'s class and its bases."""
    return {cls.__name__ for cls in type(error).__mro__}


def is_oom(error: BaseException) -> bool:
    """``MemoryError`` (numpy, Python), or XLA's runtime error saying it ran out of memory."""
    if isinstance(error, MemoryError):
        return True
    # jax.errors.JaxRuntimeError (XlaRuntimeError before jax 0.4.36) is a RuntimeError.
    return isinstance(error, RuntimeError) and any(m in str(error) for m in OOM_MARKERS)


def is_tracking_unavailable(error: BaseException) -> bool:
    """The MLflow server gave no answer (refused, timed out, said it is unavailable).

    An ``MlflowException`` that is an answer (``Run 'x' not found``) is not an outage.
    """
    names = type_names(error)
    if names & set(TRACKING_TYPES):
        return True
    if "MlflowException" in names:
        code = str(getattr(error, "error_code", ""))
        return code in TRACKING_ERROR_CODES or any(m in str(error) for m in TRACKING_MARKERS)
    # requests' connection errors: only MLflow talks HTTP inside a run.
    return bool(names & set(NETWORK_TYPES)) and "requests" in type(error).__module__


def is_disk_full(error: BaseException) -> bool:
    """``error`` or what it was raised from says the disk (or a file-size limit) left no room to write:
    waiting does not help, unlike a server that stopped answering."""
    for e in chain(error):
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return True
        if any(m in str(e) for m in DISK_FULL_MARKERS):
            return True
    return False


def classify(error: BaseException) -> str:
    """The ``bplab.failure`` category of an unexpected exception that ended a run.

    Every exception of the chain counts (a ``ValueError`` raised while handling a ``MemoryError`` is
    still out of memory), and ``oom`` wins over ``tracking_unavailable``: an outage seen while
    reporting an OOM is not why the run failed.

    Returns:
      ``oom``, ``tracking_unavailable``, else ``exception``.
    """
    errors = list(chain(error))
    if any(is_oom(e) for e in errors):
        return OOM
    if any(is_tracking_unavailable(e) for e in errors):
        return TRACKING_UNAVAILABLE
    return EXCEPTION
