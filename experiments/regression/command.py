"""``bplab regress [SUITE] [--update-baseline]`` as a library call: run, judge, maybe re-baseline.

``--update-baseline`` rewrites the baseline from the run, unless an absolute rule (gradient
agreement, a failed run) broke: a broken backward pass never becomes the baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from experiments.environment import environment
from experiments.errors import CheckFailed
from experiments.regression.baseline import baseline_document, load_baseline, write_baseline
from experiments.regression.orchestration import Log, SuiteResult, run_suite
from experiments.regression.report import fmt
from experiments.regression.suite import load_suite, resolve_suite_path


class SuiteFailed(CheckFailed):
    """The suite ran and found a regression (or refused to re-baseline); ``result`` has the report."""

    def __init__(self, message: str, result: SuiteResult):
        super().__init__(message)
        self.result = result


def regress(
    suite: str | Path | None = None,
    *,
    update_baseline: bool = False,
    grad: Callable | None = None,
    log: Log | None = None,
) -> SuiteResult:
    """Runs a suite against its baseline, and with ``update_baseline`` writes the run as the new one.

    Args:
      suite: a suite file, or the name of one in ``experiments/configs/`` (default: ``regression``).
      update_baseline: write this run's numbers to the suite's baseline file (unless an absolute rule
        broke); relative rules that failed do not fail the call.
      grad: the manual backward pass (``None``: ``backprop_core.backward``); tests plant bugs here.
      log: called with one line per finished case.

    Returns:
      The :class:`SuiteResult`; with ``update_baseline``, the baseline has been written.

    Raises:
      BadInput: a bad suite, case config or baseline file; an unreachable store (no run is opened).
      SuiteFailed: a regression; with ``update_baseline``, an absolute rule that broke (a
        :class:`CheckFailed` carrying the result, so a caller can still show the report).
    """
    s = load_suite(resolve_suite_path(suite))
    baseline = load_baseline(s.baseline_path)
    result = run_suite(s, baseline, grad=grad, log=log)
    if update_baseline:
        broken = next((c for c in result.checks if c.absolute and not c.passed), None)
        if broken is not None:
            raise SuiteFailed(
                f"not updating {s.baseline_path}: {broken.case} {broken.metric} broke "
                f"({broken.note or fmt(broken.now) + ' ' + broken.limit})",
                result,
            )
        write_baseline(s.baseline_path, baseline_document(s, result.measured, environment()))
        return result
    if not result.passed:
        first = next(c for c in result.checks if not c.passed)
        detail = first.note or f"now {fmt(first.now)}, baseline {fmt(first.baseline)}, limit {first.limit}"
        raise SuiteFailed(
            f"regression in {', '.join(result.failed_cases)}: {first.case} {first.metric}: {detail} "
            f"(report: {result.report_url})",
            result,
        )
    return result
