"""A suite run: one parent MLflow run, a child per case, the judged rows and the report artifacts.

Every case's data is loaded (and the store reached) before the parent run opens, so bad input opens
nothing. The parent ends FINISHED when every rule held, FAILED otherwise, KILLED on SIGINT/SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from experiments import names, tracking
from experiments.environment import environment
from experiments.errors import failure_tags
from experiments.regression.cases import run_case
from experiments.regression.report import (
    report_facts,
    report_html,
    report_markdown,
    report_records,
    report_title,
)
from experiments.regression.rules import Check, failed_run, judge
from experiments.regression.suite import Suite
from experiments.run import prepare
from experiments.run.ending import end_unfinished
from experiments.signals import terminate_as_interrupt

Log = Callable[[str], None]


@dataclass
class SuiteResult:
    """What a suite run produced: the parent run, every case's numbers, the report rows.

    Attributes:
      report_url: the parent run in the MLflow UI (its ``report.md`` and ``report.html``).
    """

    suite: Suite
    parent_run_id: str
    measured: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    child_runs: dict[str, str] = field(default_factory=dict)
    report_url: str = ""

    @property
    def passed(self) -> bool:
        """Every gated rule held."""
        return all(c.passed for c in self.checks)

    @property
    def failed_cases(self) -> list[str]:
        """Names of the cases with a failed rule, in suite order."""
        return list(dict.fromkeys(c.case for c in self.checks if not c.passed))

    @property
    def title(self) -> str:
        """``Regression suite `regression`: PASSED`` (or FAILED with the cases)."""
        return report_title(self.suite.name, self.failed_cases)


def run_suite(
    suite: Suite, baseline: Mapping[str, Any], *, grad: Callable | None = None, log: Log | None = None
) -> SuiteResult:
    """Runs every case under one parent run and logs the report; returns the result.

    Args:
      baseline: the numbers to judge against (see ``load_baseline``).
      grad: the manual backward pass, with ``backprop_core.backward``'s signature (``None``: that
        one). Tests plant a bug here; the parent run is then tagged ``bplab.fault``.
      log: called with one line per finished case (``None``: say nothing).

    Raises:
      BadInput: a case's data, an unreachable store or refused credentials (before any run opens).
      KeyboardInterrupt: SIGINT/SIGTERM; the parent run ends KILLED.
    """
    datasets = {case.name: prepare(case.config, track=True) for case in suite.cases}  # preflight
    tracking.ensure_reachable(experiment=suite.name)  # the parent run's experiment is the suite's
    fault = grad.__name__ if grad is not None else None
    env = environment()
    tags = {names.TAG_KIND: names.KIND_REGRESSION, names.TAG_SUITE: suite.name}
    if fault:
        tags[names.TAG_FAULT] = fault
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    parent = tracking.start_run(suite.name, run_name=f"{suite.name} {stamp}", tags=tags)
    result = SuiteResult(suite, parent)
    try:
        with terminate_as_interrupt():
            params = {"suite": str(suite.path), "baseline": str(suite.baseline_path)}
            tracking.log_params(parent, {**params, "cases": ",".join(c.name for c in suite.cases), **env})
            for case in suite.cases:
                t0 = time.perf_counter()
                measured, child, failure = run_case(case, parent, datasets[case.name], grad=grad)
                rows = judge(case, measured, baseline.get("cases", {}).get(case.name, {}))
                if failure:
                    rows.insert(0, failed_run(case.name, failure))
                result.measured[case.name] = measured
                result.checks += rows
                ok = all(r.passed for r in rows)
                if child:
                    result.child_runs[case.name] = child
                    tracking.set_tags(child, {names.TAG_CASE_PASSED: str(ok).lower()})
                if log is not None:
                    verdict = "pass" if ok else "FAIL"
                    log(f"case {case.name} ({case.kind}): {verdict} in {time.perf_counter() - t0:.1f}s")
            _log_report(result, report_facts(suite, baseline, env, fault=fault))
    except BaseException as e:  # KILLED on SIGINT/SIGTERM, FAILED with the reason otherwise
        end_unfinished(parent, e)
        raise
    result.report_url = tracking.run_url(parent)
    return result


def _log_report(result: SuiteResult, facts: Mapping[str, str]) -> None:
    """Report artifacts, summary metrics, the ``regression.passed`` tag and the parent's status."""
    parent, checks = result.parent_run_id, result.checks
    tracking.log_text(parent, report_markdown(result.title, facts, checks), "report.md")
    tracking.log_text(parent, report_html(result.title, facts, checks), "report.html")
    tracking.log_dict(parent, report_records(checks), "report.json")
    summary = {
        "regression/checks": sum(c.gated for c in checks),
        "regression/failed_checks": sum(not c.passed for c in checks),
        "regression/failed_cases": len(result.failed_cases),
    }
    tracking.log_metrics(parent, summary, step=0, synchronous=True)
    tags = {names.TAG_SUITE_PASSED: str(result.passed).lower()}
    if not result.passed:
        tags[names.TAG_FAILED_CASES] = ",".join(result.failed_cases)
        reason = "; ".join(f"{c.case} {c.metric}" for c in checks if not c.passed)
        tags.update(failure_tags(names.REGRESSION, reason))
    tracking.set_tags(parent, tags)
    tracking.end_run(parent, "FINISHED" if result.passed else "FAILED")
