"""``bplab gradcheck``: the gradient-check table, and the equation that disagrees."""

from __future__ import annotations

import math
import sys

from rich.console import Console
from rich.table import Table

from experiments import tracking
from experiments.compile_cache import enable_compilation_cache
from experiments.gradcheck.check import TensorCheck
from experiments.gradcheck.command import GradcheckFailed, GradcheckResult, run_gradcheck

COLUMNS = ("stage", "tensor", "equation", "manual vs autodiff", "autodiff vs FD", "status")


def command(config, overrides=(), *, x64: bool, epochs: int) -> GradcheckResult:
    """Runs the check, prints its table and, when every tensor agrees, the ``ok:`` line.

    Raises:
      BadInput: bad config, data or ``--epochs`` (exit 2).
      GradcheckFailed: the located equation (exit 1), after the table is printed.
    """
    enable_compilation_cache()
    try:
        result = run_gradcheck(config, overrides, x64=x64, epochs=epochs)
    except GradcheckFailed as e:
        print_table(e.result)
        print_url(e.result.run_id, file=sys.stderr)
        raise
    print_table(result)
    print(
        f"ok: manual gradients agree with jax.grad within {result.tolerance:g} ({result.config.train.dtype})"
    )
    print_url(result.run_id)
    return result


def print_url(run_id: str | None, *, file=None) -> None:
    """The run's page, when the check was tracked."""
    if run_id:
        print(f"run {run_id}: {tracking.run_url(run_id)}", file=file or sys.stdout)


def print_table(result: GradcheckResult) -> None:
    """One row per stage and tensor, 110 columns wide."""
    cfg = result.config
    table = Table(title=f"gradcheck {cfg.source} ({cfg.train.dtype}, batch of {result.batch})")
    for col in COLUMNS:
        table.add_column(col, justify="right" if "vs" in col else "left")
    for stage in result.stages:
        for row in stage.result.rows:
            table.add_row(stage.name, *format_row(row))
    Console(width=110).print(table)


def format_row(r: TensorCheck) -> list[str]:
    """A row's cells: tensor, equation, the two errors, ok/FAIL."""
    fd = "—" if math.isnan(r.fd_rel_err) else f"{r.fd_rel_err:.2e}"
    return [r.tensor, r.equation, f"{r.rel_err:.2e}", fd, "ok" if r.ok else "FAIL"]
