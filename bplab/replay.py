"""``bplab replay``: re-run a logged run and compare; the table of every quantity, then the verdict."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from experiments.compile_cache import enable_compilation_cache
from experiments.replay import ReplayFailed, ReplayResult, replay

COLUMNS = ("quantity", "compared", "first mismatch", "recorded", "replayed", "max rel diff", "result")


def command(run_id: str, *, rtol: float | None) -> ReplayResult:
    """Replays the run and prints the table; a mismatch raises (exit 1) after the table is printed."""
    enable_compilation_cache()
    try:
        result = replay(run_id, rtol=rtol)
    except ReplayFailed as e:
        print_table(e.result)
        raise
    print_table(result)
    print(f"replay of run {run_id} matches: {len(result.comparisons)} quantities ({result.mode})")
    return result


def print_table(result: ReplayResult) -> None:
    """One row per compared quantity (mismatches in red), and why the replay ended early if it did."""
    table = Table(title=f"replay of run {result.run_id} ({result.mode})")
    for col in COLUMNS:
        table.add_column(col)
    for c in result.comparisons:
        table.add_row(
            c.name,
            str(c.compared),
            "—" if c.first_mismatch is None else f"epoch {c.first_mismatch}",
            "—" if c.recorded is None else f"{c.recorded:.9g}",
            "—" if c.replayed is None else f"{c.replayed:.9g}",
            f"{c.max_rel_diff:.3g}",
            ("match" if c.matched else "MISMATCH") + (f": {c.note}" if c.note else ""),
            style=None if c.matched else "red",
        )
    Console(width=140).print(table)
    if result.failure:
        print(f"the replay ended early: {result.failure}")
