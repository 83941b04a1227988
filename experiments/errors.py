"""How things fail on purpose. The CLI maps the roots to exit codes: ``BadInput`` 2, ``CheckFailed`` 1.

A run that ends FAILED raises a :class:`RunFailed` subclass whose ``kind`` is the ``bplab.failure``
tag; :func:`failure_reason` is the one-line text every layer writes for an unexpected exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experiments import names

REASON_MAX_CHARS = 500


class BadInput(Exception):
    """Bad usage or input (exit 2): one line saying what and where, raised before any run opens."""


class CheckFailed(Exception):
    """A check did not pass (exit 1): gradients disagree, a regression was found, a replay differs."""


class StopRun(Exception):
    """Raised by an ``on_epoch`` callback to stop the run early (e.g. an Optuna prune).

    The runner ends the MLflow run with ``status``, sets ``tags`` plus ``bplab.stop_reason``, and
    re-raises this exception to the caller.
    """

    def __init__(self, status: str = "KILLED", tags: Mapping[str, Any] | None = None, reason: str = ""):
        super().__init__(reason or f"run stopped ({status})")
        self.status = status
        self.tags = dict(tags or {})
        self.reason = reason


class RunFailed(CheckFailed):
    """A run ended FAILED for a reason of its own (exit 1 from the CLI).

    Attributes:
      run_id: the MLflow run (``None`` when untracked).
      kind: the ``bplab.failure`` tag value.
      message: the ``bplab.failure_reason`` tag value.
    """

    kind = "failed"

    def __init__(self, message: str, run_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.run_id = run_id


class Diverged(RunFailed):
    """The training loss became NaN or infinite."""

    kind = names.DIVERGED


class GradientMismatch(RunFailed):
    """The periodic manual-vs-autodiff check exceeded the tolerance."""

    kind = names.GRADIENT_MISMATCH


def failure_reason(error: BaseException) -> str:
    """``"TypeName: the message on one line"``, cut to what a tag holds comfortably."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"[:REASON_MAX_CHARS]


def failure_tags(category: str, reason: str) -> dict[str, str]:
    """The two tags a FAILED run carries."""
    return {names.TAG_FAILURE: category, names.TAG_FAILURE_REASON: reason[:REASON_MAX_CHARS]}


class TrackingUnavailable(RunFailed):
    """The MLflow store stopped answering and did not come back within the retry window."""

    kind = names.TRACKING_UNAVAILABLE


class OutOfMemory(RunFailed):
    """The run ran out of memory (host or device) although it passed the up-front size check.

    Raised from the ``MemoryError`` or XLA runtime error, which stays its ``__cause__``.
    """

    kind = names.OOM
