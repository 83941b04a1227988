"""The running trials of a sweep, each at its epoch, and an ETA counted in epochs: for the live panel.

Each trial reports its metric to Optuna every epoch, so a snapshot of the study already says where
every running trial is (``TrialSummary.last_step``). Counting epochs instead of finished trials
gives an ETA from the first epoch on, and one that does not jump when a long trial finishes.
"""

from __future__ import annotations

from bplab.display import fmt_params
from sweeps.progress import Snapshot, TrialSummary


def running(snap: Snapshot) -> list[TrialSummary]:
    """The trials being trained now, oldest first."""
    return sorted((t for t in snap.trials if t.state == "RUNNING"), key=lambda t: t.number)


def running_lines(snap: Snapshot, *, max_epochs: int, limit: int = 8) -> str:
    """``trial 4  epoch 3/30  lr=0.51 hidden=[30]`` per running trial (at most ``limit``), or ``-``."""
    trials = running(snap)
    lines = [
        f"trial {t.number}  epoch {t.last_step or 0}/{max_epochs}  {fmt_params(t.params)}"
        for t in trials[:limit]
    ]
    if len(trials) > limit:
        lines.append(f"… and {len(trials) - limit} more")
    return "\n".join(lines) or "-"


def epochs_done(snap: Snapshot, *, max_epochs: int) -> int:
    """Epochs trained so far: a finished trial counts whole (a pruned or failed one as far as it got)."""
    total = 0
    for t in snap.trials:
        if t.state == "COMPLETE":
            total += max_epochs if t.last_step is None else max(t.last_step, 1)
        elif t.state in ("PRUNED", "FAIL", "RUNNING"):
            total += t.last_step or 0
    return total


def epoch_eta(
    snap: Snapshot, *, budget: int, max_epochs: int, elapsed: float, epochs_before: int = 0
) -> float | None:
    """Seconds left, if every trial still to come trained all ``max_epochs`` at this process's rate.

    Pruning only makes the sweep end sooner, so this is an upper estimate. ``None`` before the
    first epoch of this process (``epochs_before`` were trained when it started).
    """
    done = epochs_done(snap, max_epochs=max_epochs)
    new = done - epochs_before
    if new <= 0:
        return None
    finished = sum(t.finished for t in snap.trials if t.number in snap.counted)
    started_left = sum(max_epochs - (t.last_step or 0) for t in running(snap))
    waiting = max(budget - finished - len(running(snap)), 0)
    return elapsed / new * (started_left + waiting * max_epochs)
