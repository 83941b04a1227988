"""A sweep's trials as plain data, and its counts, best trial and ETA: pure functions of them.

Every worker and every view (the live panel, the plain lines, the final report, the parent run's
tags) counts through :func:`progress`, so they all agree. Views get a :class:`Snapshot` (plain
values, no Optuna objects), so they need nothing of Optuna.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from experiments.names import (
    ATTR_FAILURE,
    ATTR_REASON,
    ATTR_RUN_ID,
    ATTR_TEST_ACCURACY,
    DIVERGED,
    GRADIENT_MISMATCH,
)
from sweeps.study.budget import accounted, is_poison

FINISHED_STATES = ("COMPLETE", "PRUNED", "FAIL")


@dataclass(frozen=True)
class TrialSummary:
    """One trial as views and results see it.

    Attributes:
      number: Optuna's trial number; state: ``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING``, ``WAITING``.
      value: the objective (complete trials); params: Optuna's params (``lr``, ``width_1``, …).
      failure: the ``bplab.failure`` label of a failed trial; reason: its one line for people.
      test_accuracy: of a complete trial.
      run_id: its MLflow run; last_step: the last epoch it reported (a pruned trial stopped there).
    """

    number: int
    state: str
    value: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    reason: str | None = None
    test_accuracy: float | None = None
    run_id: str | None = None
    last_step: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


@dataclass(frozen=True)
class Snapshot:
    """Every trial of a study at one moment; ``counted`` holds the numbers that count towards the
    budget (finished, and not superseded by a retry); ``poison`` the failed ones whose params were
    given up on (they failed the same way twice)."""

    trials: tuple[TrialSummary, ...]
    counted: frozenset[int]
    poison: frozenset[int] = frozenset()


def summarize(t: FrozenTrial) -> TrialSummary:
    """The plain summary of one Optuna trial."""
    steps = t.intermediate_values
    return TrialSummary(
        number=t.number,
        state=t.state.name,
        value=t.value if t.state == TrialState.COMPLETE else None,
        params=dict(t.params),
        failure=t.user_attrs.get(ATTR_FAILURE),
        reason=t.user_attrs.get(ATTR_REASON),
        test_accuracy=t.user_attrs.get(ATTR_TEST_ACCURACY),
        run_id=t.user_attrs.get(ATTR_RUN_ID),
        last_step=max(steps) if steps else None,
    )


def snapshot(trials: Sequence[FrozenTrial]) -> Snapshot:
    """``trials`` as plain data, with the ones that count towards the budget."""
    counted = accounted(trials)
    return Snapshot(
        tuple(summarize(t) for t in trials),
        frozenset(t.number for t in counted),
        frozenset(t.number for t in counted if is_poison(t)),
    )


@dataclass(frozen=True)
class Progress:
    """A sweep's counts and best trial at one moment.

    Attributes:
      budget: the requested total; done: finished trials that count (retried failures excluded).
      complete, pruned, failed, running: by state; diverged, gradient_bugs: failures by label.
      poison: failed trials whose params were given up on (the same failure twice).
      best_number, best_value, best_params: the best complete trial, if any.
      elapsed, eta: seconds; ``eta`` is ``None`` until a trial has finished.
    """

    budget: int
    done: int
    complete: int
    pruned: int
    failed: int
    running: int
    diverged: int
    gradient_bugs: int
    best_number: int | None
    best_value: float | None
    best_params: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0
    eta: float | None = None
    poison: int = 0


def best_trials(trials: Sequence[TrialSummary], direction: str, k: int = 5) -> list[TrialSummary]:
    """The ``k`` best complete trials, best first."""
    complete = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    return sorted(complete, key=lambda t: t.value, reverse=direction == "maximize")[:k]


def progress(
    snap: Snapshot, *, budget: int, direction: str, elapsed: float, done_before: int = 0
) -> Progress:
    """Counts a snapshot; the ETA extrapolates from the trials finished since this process started
    (``done_before`` were finished when it did), so a resumed sweep does not look instantly fast."""
    counted = [t for t in snap.trials if t.number in snap.counted]
    failures = [t.failure for t in counted if t.state == "FAIL"]
    best = best_trials(snap.trials, direction, k=1)
    done = len(counted)
    new = done - done_before
    eta = elapsed / new * max(budget - done, 0) if new > 0 else None
    return Progress(
        budget=budget,
        done=done,
        complete=sum(t.state == "COMPLETE" for t in counted),
        pruned=sum(t.state == "PRUNED" for t in counted),
        failed=len(failures),
        running=sum(t.state == "RUNNING" for t in snap.trials),
        diverged=failures.count(DIVERGED),
        gradient_bugs=failures.count(GRADIENT_MISMATCH),
        best_number=best[0].number if best else None,
        best_value=best[0].value if best else None,
        best_params=dict(best[0].params) if best else {},
        elapsed=elapsed,
        eta=eta,
        poison=len(snap.poison & snap.counted),
    )
