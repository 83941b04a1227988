"""``bplab bench``: is manual backprop as fast as jax.grad on this machine? The table, markdown or JSON.

The rendering works without rich (plain aligned text), so a bare GPU box can render a saved result.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from experiments.bench import measure
from experiments.compile_cache import enable_compilation_cache

try:
    from rich.console import Console
    from rich.table import Table
except ImportError:  # the plain fallback keeps the GPU check script independent of rich
    Console = Table = None


def command(*, json_out: bool, quick: bool) -> dict[str, Any]:
    """Measures everything once, then prints the table (or the JSON and nothing else).

    Args:
      json_out: print the result as JSON and nothing else.
      quick: fewer repeats and smaller epochs (a smoke run; the table says so).

    Returns:
      The result of :func:`experiments.bench.measure`.
    """
    enable_compilation_cache()
    result = measure(quick=quick)
    if json_out:
        print(to_json(result))
    else:
        render(result)
    return result


def to_json(result: dict[str, Any]) -> str:
    """The result as indented JSON (non-ASCII kept: µs, ≥, ³)."""
    return json.dumps(result, indent=2, ensure_ascii=False)


def _fmt(x: float) -> str:
    if x >= 1e5:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """The table's cells, one list of strings per row (header first)."""
    out = [["measure", "ours", "baseline", "unit", "ratio", "IQR (n)", "target", "result"]]
    for r in result["rows"]:
        precise = r["kind"] in ("step", "peak")
        ratio = f"{r['ratio']:.3f}" if precise else f"{r['ratio']:.1f}×"
        q1, q3 = r["spread"]
        spread = (f"{q1:.3f}–{q3:.3f}" if precise else f"{q1:.1f}–{q3:.1f}") + f" ({r['repeats']})"
        verdict = "—" if r["met"] is None else ("pass" if r["met"] else "MISS")
        out.append(
            [
                r["name"],
                f"{_fmt(r['value'])} {r['value_label']}",
                f"{_fmt(r['baseline'])} {r['baseline_label']}",
                r["unit"],
                ratio,
                spread,
                r["target"],
                verdict,
            ]
        )
    return out


def title(result: dict[str, Any]) -> str:
    """One line: what ran where."""
    env = result["env"]
    mode = "quick" if result["quick"] else "full"
    return (
        f"bplab bench ({mode}) — jax {env['jax_version']}, backend {env['backend']}, "
        f"device {env['device_kind']}, {env['cpu_count']} CPUs"
    )


def notes(result: dict[str, Any]) -> str:
    """The table's footnote: how the numbers were taken, and what a quick run left out."""
    s = result["settings"]
    text = (
        "medians of n interleaved repeats after warm-up; ratio = median of the per-repeat "
        "ours / baseline (step rows: time ratio, below 1 = manual faster); IQR = its quartiles"
    )
    if result["quick"]:
        text += f"; QUICK: [784,30,10] epoch on {s['mnist_samples']:,} samples, not 60,000"
    return text


def to_markdown(result: dict[str, Any]) -> str:
    """The table as GitHub markdown, for docs/PERFORMANCE.md."""
    rows = table_rows(result)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return f"{title(result)}\n\n" + "\n".join(lines) + f"\n\n{notes(result)}\n"


def render(result: dict[str, Any], file=None) -> None:
    """Prints the table: with rich when it is installed, as plain aligned text otherwise."""
    file = file or sys.stdout
    rows = table_rows(result)
    if Table is None:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        print(title(result), file=file)
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)), file=file)
        print(notes(result), file=file)
        return
    table = Table(title=title(result), caption=notes(result))
    for i, head in enumerate(rows[0]):
        table.add_column(head, justify="left" if i in (0, 3, 6) else "right", no_wrap=i != 0)
    for r in rows[1:]:
        table.add_row(*r, style="red" if r[-1] == "MISS" else None)
    # A file or pipe gets a wide, uncoloured table instead of rich's 80-column default.
    console = Console(file=file, width=None if file.isatty() else 200)
    console.print(table)
