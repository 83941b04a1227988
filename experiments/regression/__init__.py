"""The regression suite: pinned cases, a versioned baseline, one parent run with a report.

- :mod:`~experiments.regression.suite`: the suite file (``Case``, ``Suite``, ``load_suite``).
- :mod:`~experiments.regression.baseline`: the baseline file (load, write).
- :mod:`~experiments.regression.rules`: the rule each number keeps (``Check``, ``judge``).
- :mod:`~experiments.regression.report`: the report as text, Markdown and HTML.
- :mod:`~experiments.regression.measure`: what gradcheck and throughput cases measure.
- :mod:`~experiments.regression.cases`: one case as a child run.
- :mod:`~experiments.regression.orchestration`: the parent run (``run_suite``, ``SuiteResult``).
- :mod:`~experiments.regression.command`: ``bplab regress`` as a library call (``regress``).
"""

from experiments.regression.command import SuiteFailed, regress
from experiments.regression.orchestration import SuiteResult, run_suite
from experiments.regression.suite import Case, Suite, load_suite, resolve_suite_path

__all__ = [
    "Case",
    "Suite",
    "SuiteFailed",
    "SuiteResult",
    "load_suite",
    "regress",
    "resolve_suite_path",
    "run_suite",
]
