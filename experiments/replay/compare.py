"""How a replay's numbers are held against the recorded ones: exactly, or to a relative tolerance.

On the machine kind a run was recorded on (same backend, device kind and jax version) the same
program gives the same bits, so everything must match exactly. On another backend the arithmetic
differs in the last bits and SGD amplifies that over epochs, so values must agree to a relative
:data:`CROSS_BACKEND_RTOL`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CROSS_BACKEND_RTOL = 1e-3
ENV_KEYS = ("backend", "device_kind", "jax_version")


@dataclass(frozen=True)
class Comparison:
    """One compared quantity.

    Attributes:
      name: ``train_loss``, ``grad_norm/W1``, ``W1`` …
      compared: how many values (epochs for a curve, elements for weights).
      first_mismatch: the first epoch that differs (curves), ``None`` when none does.
      max_rel_diff: the largest relative difference seen.
      recorded, replayed: the two values at the first mismatch (curves; ``None`` otherwise).
      matched: within the tolerance everywhere, and nothing missing.
      note: why it did not match when the numbers do not say (missing values).
    """

    name: str
    compared: int
    first_mismatch: int | None
    max_rel_diff: float
    recorded: float | None
    replayed: float | None
    matched: bool
    note: str = ""


def rel_diff(a: float, b: float) -> float:
    """``|a − b| / max(|a|, |b|)``; 0 for two equal values (two NaNs count as equal), ``inf`` for one NaN."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def values_match(a: float, b: float, rtol: float) -> bool:
    """Exact (bitwise-equal floats) when ``rtol`` is 0, else relative difference ≤ ``rtol``."""
    return rel_diff(a, b) == 0.0 if rtol == 0 else rel_diff(a, b) <= rtol


def compare_curve(
    name: str, recorded: Sequence[tuple[int, float]], replayed: Mapping[int, float], rtol: float
) -> Comparison:
    """Compares a recorded ``[(epoch, value), …]`` with the replay's ``{epoch: value}``."""
    first, worst, at = None, 0.0, (None, None)
    missing = [step for step, _ in recorded if step not in replayed]
    for step, value in recorded:
        if step not in replayed:
            continue
        d = rel_diff(value, replayed[step])
        worst = max(worst, d)
        if first is None and not values_match(value, replayed[step], rtol):
            first, at = step, (value, replayed[step])
    note = f"the replay stopped before epoch {missing[0]}" if missing else ""
    ok = first is None and not missing and bool(recorded)
    if not recorded:
        note = "nothing recorded"
    return Comparison(name, len(recorded) - len(missing), first, worst, *at, ok, note)


def compare_arrays(name: str, recorded: np.ndarray, replayed: np.ndarray, rtol: float) -> Comparison:
    """Compares two weight tensors: exact equality when ``rtol`` is 0, else normwise relative difference."""
    if recorded.shape != replayed.shape:
        return Comparison(
            name, 0, None, math.inf, None, None, False, f"shape {recorded.shape} vs {replayed.shape}"
        )
    a, b = recorded.astype(np.float64), replayed.astype(np.float64)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    d = 0.0 if np.array_equal(a, b) else float(np.linalg.norm(a - b)) / (scale or 1.0)
    ok = np.array_equal(a, b) if rtol == 0 else d <= rtol
    return Comparison(name, a.size, None, d, None, None, bool(ok))


def missing_weights(name: str) -> Comparison:
    """A recorded weight tensor the replay has no counterpart for."""
    return Comparison(name, 0, None, math.inf, None, None, False, "no final weights")


def tolerance_for(
    recorded_env: Mapping[str, str], current_env: Mapping[str, str], rtol: float | None
) -> float:
    """``rtol`` if given; 0 (exact) on the recorded machine kind; :data:`CROSS_BACKEND_RTOL` elsewhere."""
    if rtol is not None:
        return rtol
    same = all(str(recorded_env.get(k)) == str(current_env.get(k)) for k in ENV_KEYS)
    return 0.0 if same else CROSS_BACKEND_RTOL
