"""The report of a suite run: its title, its facts and its table, as strings, Markdown and HTML.

Pure rendering. The same rows feed the parent run's ``report.md``, ``report.html`` and
``report.json`` and the table ``bplab regress`` prints, so all of them say the same thing.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from experiments.regression.rules import Check
from experiments.regression.suite import Suite

REPORT_COLUMNS = ("case", "metric", "baseline", "now", "delta", "limit", "result")


def fmt(x: float | None) -> str:
    """A number for the report (``—`` when missing)."""
    return "—" if x is None else f"{x:.6g}"


def fmt_delta(c: Check) -> str:
    """``+0.0012 (+3.1%)`` or ``—``."""
    d = c.delta
    if d is None:
        return "—"
    pct = f" ({100 * d / abs(c.baseline):+.3g}%)" if c.baseline else ""
    return f"{d:+.3g}{pct}"


def report_title(suite_name: str, failed_cases: Sequence[str]) -> str:
    """``Regression suite `regression`: PASSED`` (or FAILED with the cases)."""
    verdict = f"FAILED ({', '.join(failed_cases)})" if failed_cases else "PASSED"
    return f"Regression suite `{suite_name}`: {verdict}"


def report_facts(
    suite: Suite, baseline: Mapping[str, Any], env: Mapping[str, Any], *, fault: str | None = None
) -> dict[str, str]:
    """Where the numbers come from: the suite, the baseline and its environment, this environment.

    Args:
      fault: the name of a planted backward pass, when one ran (such a report must not be trusted).
    """
    base_env = baseline.get("environment", {})
    facts = {
        "suite": str(suite.path),
        "baseline": f"{suite.baseline_path} (updated {baseline.get('updated_at', 'never')}, "
        f"jax {base_env.get('jax_version', '?')} on {base_env.get('backend', '?')})",
        "now": f"jax {env['jax_version']} on {env['backend']} ({env['device_kind']}), "
        f"commit {env.get('git_commit', 'unknown')}",
    }
    if fault:
        facts["planted fault"] = f"{fault} (test-only)"
    return facts


def report_rows(checks: Sequence[Check]) -> list[list[str]]:
    """The table as strings, in :data:`REPORT_COLUMNS` order (notes go after the result)."""
    out = []
    for c in checks:
        result = c.result if not c.note else f"{c.result}: {c.note}"
        out.append([c.case, c.metric, fmt(c.baseline), fmt(c.now), fmt_delta(c), c.limit, result])
    return out


def report_records(checks: Sequence[Check]) -> list[dict[str, str]]:
    """The rows as ``{column: text}`` dicts (``report.json``)."""
    return [dict(zip(REPORT_COLUMNS, row)) for row in report_rows(checks)]


def report_markdown(title: str, facts: Mapping[str, str], checks: Sequence[Check]) -> str:
    """The report as Markdown: a heading, the facts as a list, the table."""

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {cell(v)}" for k, v in facts.items()]
    lines += ["", "| " + " | ".join(REPORT_COLUMNS) + " |", "|" + "---|" * len(REPORT_COLUMNS)]
    lines += ["| " + " | ".join(cell(s) for s in row) + " |" for row in report_rows(checks)]
    return "\n".join(lines) + "\n"


def report_html(title: str, facts: Mapping[str, str], checks: Sequence[Check]) -> str:
    """The report as a self-contained HTML page; failed rows are highlighted."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in REPORT_COLUMNS)
    body = []
    for c, row in zip(checks, report_rows(checks)):
        cls = {"FAIL": "fail", "pass": "pass"}.get(c.result, "info")
        body.append(f'<tr class="{cls}">' + "".join(f"<td>{e(s)}</td>" for s in row) + "</tr>")
    fact_items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in facts.items())
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "tr.fail{background:#fdd}tr.pass{background:#efe}tr.info{color:#666}"
    )
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{style}</style></head><body>\n<h1>{e(title)}</h1>\n<ul>{fact_items}</ul>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
        "</body></html>\n"
    )
