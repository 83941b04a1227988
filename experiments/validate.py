"""The small value checks shared by configs, sweep spaces and regression suites.

Each failure is one ``BadInput`` line: ``<source>: <key> must be <want>, got <value>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from experiments.errors import BadInput


def is_int(v: Any) -> bool:
    """An integer, and not a bool (TOML's ``true`` is not a width)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite int or float, and not a bool."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def invalid(source: str, key: str, want: str, value: Any) -> BadInput:
    """The one-line error for a value that is not what ``key`` wants."""
    return BadInput(f"{source}: {key} must be {want}, got {value!r}")


def expect(ok: bool, key: str, value: Any, want: str, source: str) -> None:
    """Raises :func:`invalid` unless ``ok``."""
    if not ok:
        raise invalid(source, key, want, value)


def choice(key: str, value: Any, choices: Sequence[str], source: str) -> str:
    """``value`` when it is one of ``choices``."""
    expect(isinstance(value, str) and value in choices, key, value, f"one of {', '.join(choices)}", source)
    return value


def int_at_least(key: str, value: Any, minimum: int, source: str) -> int:
    """``value`` when it is an integer ≥ ``minimum``."""
    expect(is_int(value) and value >= minimum, key, value, f"an integer ≥ {minimum}", source)
    return value


def positive_number(key: str, value: Any, source: str) -> float:
    """``value`` as a float when it is a finite number > 0."""
    expect(is_number(value) and value > 0, key, value, "a number > 0", source)
    return float(value)
