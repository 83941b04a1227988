"""``bplab bench``'s measurement: every row once, as a JSON-ready dict; nothing printed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from experiments.bench.epochs import bench_epochs, bench_numpy
from experiments.bench.settings import FULL, QUICK, Settings
from experiments.bench.steps import bench_steps
from experiments.environment import environment


def measure(*, quick: bool, settings: Settings | None = None) -> dict[str, Any]:
    """Runs every measurement once.

    Args:
      quick: fewer repeats and smaller epochs (a smoke run; the result says so).
      settings: how hard to measure; default :data:`QUICK` or :data:`FULL` after ``quick``.

    Returns:
      ``env`` (:func:`experiments.environment.environment`), ``quick``, ``settings`` and ``rows``
      (one :class:`experiments.bench.row.Row` each, as a dict).
    """
    settings = settings or (QUICK if quick else FULL)
    rows = [*bench_steps(settings), *bench_epochs(settings), bench_numpy(settings)]
    return result(rows, settings=settings, quick=quick)


def result(rows, *, settings: Settings, quick: bool) -> dict[str, Any]:
    """The JSON-ready result of measured rows."""
    return {
        "env": environment(),
        "quick": quick,
        "settings": asdict(settings),
        "rows": [asdict(r) for r in rows],
    }
