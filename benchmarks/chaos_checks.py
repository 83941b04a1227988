"""What the chaos benchmark asserts about the stores once the workers are gone.

Each check reads only the stores (the study's trials, the parent's child runs), never a worker's
log: killed processes cannot be trusted to have reported anything, so agreement has to be visible
in what they left behind. The Optuna ↔ MLflow table is the README's ("Trial states and run statuses
agree").
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from experiments.names import (
    ATTR_FAILURE,
    ATTR_HOST,
    ATTR_PID,
    ATTR_PID_START,
    ATTR_RUN_ID,
    INTERRUPTED,
    TAG_FAILURE,
    TAG_TRIAL,
    TAG_TRIAL_STATE,
)
from experiments.process import process_alive
from sweeps.study.budget import FINISHED, accounted, is_retry, originals

SHOWN = 5  # mismatches listed in a failed check's detail


@dataclass(frozen=True)
class Check:
    """One PASS/FAIL line of the report."""

    name: str
    ok: bool
    detail: str


def agrees(state: TrialState, status: str, tags: dict[str, str]) -> bool:
    """Whether a trial's Optuna state and its run's MLflow status agree (the README's table):
    COMPLETE ↔ FINISHED, PRUNED ↔ KILLED tagged ``optuna.state=PRUNED``, FAIL ↔ FAILED, or KILLED
    for an interrupted trial."""
    if state == TrialState.COMPLETE:
        return status == "FINISHED"
    if state == TrialState.PRUNED:
        return status == "KILLED" and tags.get(TAG_TRIAL_STATE) == "PRUNED"
    if state == TrialState.FAIL:
        return status == "FAILED" or (status == "KILLED" and tags.get(TAG_FAILURE) == INTERRUPTED)
    return False  # a trial still RUNNING or WAITING at the end agrees with nothing


def budget(trials: Sequence[FrozenTrial], n_trials: int) -> Check:
    """Exactly ``n_trials`` originals, each accounted for by a finished trial (itself or its retry),
    and nothing running or waiting."""
    spent, counted = originals(trials), len(accounted(trials))
    busy = [t for t in trials if t.state not in FINISHED]
    ok = spent == n_trials and counted == n_trials and not busy
    detail = f"originals {spent}, accounted {counted}, unfinished {len(busy)} (budget {n_trials})"
    if busy:
        detail += ": " + "; ".join(_unfinished(t) for t in busy[:SHOWN])
    return Check("budget exact", ok, detail)


def _unfinished(trial: FrozenTrial) -> str:
    """``trial 7 RUNNING, process gone``: whether anyone is still working on an unfinished trial."""
    a = trial.user_attrs
    host, pid, start = a.get(ATTR_HOST), a.get(ATTR_PID), a.get(ATTR_PID_START)
    if pid is None:  # its worker died while reserving it, before stamping its process
        return f"trial {trial.number} {trial.state.name}, no process recorded"
    alive = process_alive(host, pid, start, this_host=socket.gethostname())
    return f"trial {trial.number} {trial.state.name}, process {pid} {'alive' if alive else 'gone'}"


def agreement(trials: Sequence[FrozenTrial], runs: Sequence[dict[str, Any]]) -> Check:
    """Every child run's status agrees with its trial's state, and every trial that recorded a run id
    has that run, agreeing."""
    by_number = {t.number: t for t in trials}
    by_id = {r["run_id"]: r for r in runs}
    bad: list[str] = []
    for run in runs:
        number = run["tags"].get(TAG_TRIAL, "")
        trial = by_number.get(int(number)) if number.isdigit() else None
        if trial is None:
            bad.append(f"run {run['run_id'][:8]} names no trial ({number!r})")
        elif not agrees(trial.state, run["status"], run["tags"]):
            tag = run["tags"].get(TAG_TRIAL_STATE, "?")
            bad.append(f"trial {trial.number} {trial.state.name} vs run {run['status']} (tag {tag})")
    recorded = [t for t in trials if ATTR_RUN_ID in t.user_attrs]
    for t in recorded:
        if t.user_attrs[ATTR_RUN_ID] not in by_id:
            bad.append(f"trial {t.number}: run {t.user_attrs[ATTR_RUN_ID][:8]} is not a child of the parent")
    detail = f"{len(runs)} child runs, {len(recorded)} trials with a run id, {len(bad)} disagree"
    if bad:
        detail += ": " + "; ".join(bad[:SHOWN])
    return Check("Optuna state == MLflow status", not bad, detail)


def nothing_running(runs: Sequence[dict[str, Any]], parent_status: str) -> Check:
    """No child run and not the parent run is left RUNNING."""
    running = [r["run_id"][:8] for r in runs if r["status"] == "RUNNING"]
    ok = not running and parent_status != "RUNNING"
    detail = f"parent {parent_status}, {len(running)} child runs RUNNING"
    if running:
        detail += ": " + ", ".join(running[:SHOWN])
    return Check("nothing left RUNNING", ok, detail)


def tally(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    """Counts for the note: states, retries, and the failure categories of failed trials."""
    states = Counter(t.state.name for t in trials)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    failures = Counter(t.user_attrs.get(ATTR_FAILURE, "(no bplab.failure)") for t in failed)
    return {
        "trials": len(trials),
        "retries": sum(is_retry(t) for t in trials),
        **{f"state {name}": n for name, n in sorted(states.items())},
        **{f"failed: {name}": n for name, n in sorted(failures.items())},
    }
