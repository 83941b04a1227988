"""What a sweep or a worker tells its caller: events while it runs, a result when it returns.

The library prints nothing. A caller passes a :class:`SweepObserver` (the CLI draws a live panel or
plain lines from it) and gets a :class:`SweepResult` back (the CLI prints the final report from it).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sweeps.progress import Progress, Snapshot


class Ending(enum.Enum):
    """How a ``run_sweep`` or ``run_worker`` call ended."""

    READY = "ready"  # the study and parent run exist; no local worker was asked for
    NOTHING_TO_DO = "nothing_to_do"  # a worker joined a study whose budget is spent
    DONE = "done"  # the budget is spent; this process wrote the results on the parent run
    TIMED_OUT = "timed_out"  # the time limit stopped it; the results so far are on the parent run
    OTHERS_RUNNING = "others_running"  # this process is done; the last worker writes the results
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM; the running trial was failed and queued again
    STORAGE_LOST = "storage_lost"  # the Optuna storage stopped answering; the trial in flight is reaped later


@dataclass(frozen=True)
class Opened:
    """A study ready to run trials: its name, redacted storage, budget, objective and parent run."""

    study: str
    storage: str
    budget: int
    metric: str
    direction: str
    parent_run_id: str
    max_epochs: int | None = None  # the most epochs a trial trains (the live view's "epoch k/N")


@dataclass(frozen=True)
class SweepResult:
    """The end of a ``run_sweep`` or ``run_worker`` call.

    Attributes:
      ending: how it ended; study, storage, budget, metric, direction: as in :class:`Opened`.
      progress: the counts when it ended (``None`` for ``READY``, ``NOTHING_TO_DO``, ``STORAGE_LOST``).
      snapshot: every trial of the study when it ended (what the final report lists), when counted.
      parent_url: the parent run in the MLflow UI, once the results are written.
      lost_workers: names of spawned workers that ended abnormally (their trials were re-queued).
      reason: one line saying why it stopped (``STORAGE_LOST``).
      parent_run_id: the sweep's parent MLflow run.
    """

    ending: Ending
    study: str
    storage: str
    budget: int
    metric: str
    direction: str
    progress: Progress | None = None
    snapshot: Snapshot | None = None
    parent_url: str | None = None
    lost_workers: Sequence[str] = ()
    reason: str | None = None
    parent_run_id: str | None = None

    @property
    def exit_code(self) -> int:
        """0 success, 1 a trial found a gradient bug or the storage was lost, 130 interrupted."""
        if self.ending == Ending.INTERRUPTED:
            return 130
        if self.ending == Ending.STORAGE_LOST:
            return 1
        finished = self.ending in (Ending.DONE, Ending.TIMED_OUT)
        return 1 if finished and self.progress is not None and self.progress.gradient_bugs else 0


class SweepObserver(Protocol):
    """Receives a sweep's events, in this order: ``opened`` once, ``trials_changed`` before the first
    trial and after every change, ``closed`` once the local workers stopped (however they stopped)."""

    def opened(self, study: Opened) -> None: ...

    def trials_changed(self, snapshot: Snapshot) -> None: ...

    def closed(self) -> None: ...


class Silent:
    """The observer that ignores every event (the default)."""

    def opened(self, study: Opened) -> None:
        pass

    def trials_changed(self, snapshot: Snapshot) -> None:
        pass

    def closed(self) -> None:
        pass
