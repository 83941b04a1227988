"""``bplab regress``: runs the regression suite, prints its table and where the report is."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from experiments.compile_cache import enable_compilation_cache
from experiments.regression import SuiteFailed, SuiteResult, regress
from experiments.regression.report import REPORT_COLUMNS, report_rows


def print_report(result: SuiteResult) -> None:
    """The report table (failed rows in red) and the line with the parent run's URL."""
    table = Table(title=result.title)
    for col in REPORT_COLUMNS:
        table.add_column(col, justify="right" if col in ("baseline", "now", "delta") else "left")
    for c, row in zip(result.checks, report_rows(result.checks)):
        table.add_row(*row, style="red" if not c.passed else None)
    Console(width=140).print(table)
    print(f"report: run {result.parent_run_id} (report.md, report.html): {result.report_url}")


def command(suite, *, update_baseline: bool) -> None:
    """Runs the suite; a regression raises (exit 1) after the table is printed."""
    enable_compilation_cache()
    try:
        result = regress(suite, update_baseline=update_baseline, log=print)
    except SuiteFailed as e:
        print_report(e.result)
        raise
    print_report(result)
    if update_baseline:
        print(f"baseline updated: {result.suite.baseline_path}")
    else:
        print(f"regression suite passed: {sum(c.gated for c in result.checks)} checks")
