"""One line of the bench's table, as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from experiments.timing import Timings


@dataclass
class Row:
    """One line of the table: ``value`` is ours, ``baseline`` what it is compared with.

    ``value`` and ``baseline`` are medians over repeats, in ``unit``. ``ratio`` is the median of the
    per-repeat ratios (see :meth:`experiments.timing.Timings.ratio`), oriented as ``value / baseline``:
    for the step rows a time ratio (below 1, manual is faster), otherwise a throughput ratio (above 1,
    ours is faster). It is close to, but not exactly, ``value / baseline``. ``met`` is ``None`` where
    a row has no target. ``spread`` holds the quartiles of the per-repeat ratios and ``repeats`` their
    number: a wide spread means the machine was busy.
    """

    kind: str
    name: str
    value: float
    value_label: str
    baseline: float
    baseline_label: str
    unit: str
    ratio: float
    spread: tuple[float, float]
    repeats: int
    target: str
    met: bool | None


def compared(
    t: Timings,
    ours: str,
    theirs: str,
    *,
    kind: str,
    name: str,
    value: tuple[float, str],
    baseline: tuple[float, str],
    unit: str,
    target: str,
    meets: Callable[[float], bool] | None,
) -> Row:
    """A row whose ratio is ``time(ours) / time(theirs)`` per repeat, and whose verdict is ``meets(ratio)``.

    ``value`` and ``baseline`` are ``(number, label)`` pairs; ``meets=None`` for a row without target.
    """
    ratio = t.ratio(ours, theirs)
    return Row(
        kind=kind,
        name=name,
        value=value[0],
        value_label=value[1],
        baseline=baseline[0],
        baseline_label=baseline[1],
        unit=unit,
        ratio=ratio,
        spread=t.spread(ours, theirs),
        repeats=t.repeats,
        target=target,
        met=None if meets is None else meets(ratio),
    )
