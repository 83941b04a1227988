"""One case of the suite as a child run of the suite's parent run, measured but not judged.

A ``train`` case is an ordinary tracked training run; a ``gradcheck`` or ``throughput`` case is a
child run this module opens, fills with its measurements and closes. An unexpected exception inside
a case is a failed case, not the end of the suite: the nightly report should list every case.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from experiments import names, tracking
from experiments.data import Dataset
from experiments.errors import REASON_MAX_CHARS, RunFailed, failure_reason, failure_tags
from experiments.regression.measure import measure_gradcheck, measure_throughput
from experiments.regression.suite import Case
from experiments.run import train_run
from experiments.run.ending import end_unfinished

CaseOutcome = tuple[dict[str, float], str | None, str]  # (numbers, child run id, failure or "")


def case_tags(case: Case) -> dict[str, str]:
    """The tags of a case's child run."""
    return {names.TAG_KIND: names.KIND_REGRESSION, names.TAG_CASE: case.name, names.TAG_CASE_KIND: case.kind}


def _run_train_case(case: Case, parent_run_id: str, grad: Callable | None) -> CaseOutcome:
    """Trains the case as a child run."""
    try:
        result = train_run(
            case.config,
            parent_run_id=parent_run_id,
            tags=case_tags(case),
            run_name=case.name,
            grad=grad,
        )
    except RunFailed as e:
        return {}, e.run_id, f"{e.kind}: {e.message}"
    measured = dict(result.final)
    measured["gradcheck/max_rel_err"] = float(result.gradcheck.max_rel_err)
    return measured, result.run_id, ""


def _run_measured_case(case: Case, parent_run_id: str, ds: Dataset, grad: Callable | None) -> CaseOutcome:
    """A gradcheck or throughput case as a child run that this module opens and closes."""
    tags = case_tags(case)
    if grad is not None:
        tags[names.TAG_FAULT] = grad.__name__  # as train_run tags its runs: nobody trusts such a run
    run_id = tracking.start_run(
        case.config.experiment.name, run_name=case.name, parent_run_id=parent_run_id, tags=tags
    )
    status, failure = "FINISHED", ""
    try:
        tracking.log_params(run_id, case.config.flat())
        if case.kind == "gradcheck":
            measured, table, failure = measure_gradcheck(case, ds, grad=grad)
            tracking.log_dict(run_id, table, "gradcheck.json")
            tracking.log_table(run_id, table, "gradcheck_table.json")
            metrics = {f"gradcheck/{k}": v for k, v in measured.items() if math.isfinite(v)}
            if failure:
                status = "FAILED"
                tracking.set_tags(run_id, failure_tags(names.GRADIENT_MISMATCH, failure))
        else:
            measured = measure_throughput(case, ds, grad=grad)
            metrics = {f"throughput/{k}": v for k, v in measured.items()}
        tracking.log_metrics(run_id, metrics, step=0, synchronous=True)
    except BaseException as e:
        end_unfinished(run_id, e)
        raise
    tracking.end_run(run_id, status)
    return measured, run_id, failure


def run_case(case: Case, parent_run_id: str, ds: Dataset, *, grad: Callable | None = None) -> CaseOutcome:
    """Runs one case as a child of ``parent_run_id``.

    Args:
      ds: the case's data, loaded before the parent run opened.
      grad: the manual backward pass (``None``: ``backprop_core.backward``).

    Returns:
      ``(numbers, child run id or None, failure reason or "")``.
    """
    try:
        if case.kind == "train":
            return _run_train_case(case, parent_run_id, grad)
        return _run_measured_case(case, parent_run_id, ds, grad)
    except Exception as e:
        return {}, None, f"{names.EXCEPTION}: {failure_reason(e)}"[:REASON_MAX_CHARS]
