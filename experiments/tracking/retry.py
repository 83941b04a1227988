"""How long a write waits out a tracking server that stopped answering, and which errors are worth it.

A server restart, a dropped connection or a locked sqlite file is transient: the background writer
keeps the run's points and retries with backoff for ``BPLAB_TRACKING_RETRY_S`` seconds (default
:data:`DEFAULT_RETRY_S`, 120 s: long enough for a server or container restart, short enough that a
dead server fails the run within minutes). A refusal (HTTP 4xx: bad value, no such run, no
permission) is not retried, nor is a full disk under a local store (waiting does not free it): both
fail at once. When the window closes the run fails with :class:`TrackingUnavailable`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from mlflow.exceptions import MlflowException

from experiments.errors import TrackingUnavailable
from experiments.failures import is_disk_full, root_cause
from experiments.tracking.store import tracking_uri

RETRY_ENV = "BPLAB_TRACKING_RETRY_S"
DEFAULT_RETRY_S = 120.0
_FIRST_DELAY_S, _MAX_DELAY_S = 0.25, 5.0

T = TypeVar("T")


def retry_window_s() -> float:
    """``BPLAB_TRACKING_RETRY_S`` in seconds (``0`` retries never), or :data:`DEFAULT_RETRY_S`."""
    text = os.environ.get(RETRY_ENV, "").strip()
    try:
        return max(0.0, float(text)) if text else DEFAULT_RETRY_S
    except ValueError:
        return DEFAULT_RETRY_S


def is_transient(error: BaseException) -> bool:
    """A connection problem or a server-side error (retry), not a refusal of the request (HTTP 4xx)
    nor a full disk."""
    if is_disk_full(error):
        return False
    if isinstance(error, MlflowException):
        return not 400 <= error.get_http_status_code() < 500
    return isinstance(error, OSError)  # requests' connection errors are OSErrors


def one_line(error: BaseException) -> str:
    """The error's message on one line, cut short (MLflow's carry whole URLs and urllib3 chains)."""
    return " ".join(str(error).split())[:300]


def retrying(write: Callable[[], T], *, window_s: float, stop: threading.Event | None = None) -> T:
    """Calls ``write`` until it succeeds, retrying transient errors with backoff for ``window_s``.

    Args:
      write: one store call (a ``log_batch``, an upload, ``set_terminated``).
      window_s: how long after the first failure it keeps trying.
      stop: set it to give up at once (the process is exiting).

    Raises:
      TrackingUnavailable: still failing when the window closed.
      Exception: a non-transient error, at once.
    """
    first_failure, delay = None, _FIRST_DELAY_S
    while True:
        try:
            return write()
        except Exception as e:
            if is_disk_full(e):
                raise TrackingUnavailable(
                    f"MLflow's store at {tracking_uri()} has no room to write: {root_cause(e)}"
                ) from e
            if not is_transient(e):
                raise
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            left = window_s - (now - first_failure)
            if left <= 0 or (stop is not None and stop.is_set()):
                raise TrackingUnavailable(
                    f"MLflow at {tracking_uri()} did not answer for {now - first_failure:.0f} s "
                    f"({RETRY_ENV}={window_s:g}); last error: {one_line(e)}"
                ) from e
            if stop is not None:
                stop.wait(min(delay, left))
            else:
                time.sleep(min(delay, left))
            delay = min(delay * 2, _MAX_DELAY_S)
