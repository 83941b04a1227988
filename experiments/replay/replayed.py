"""The recorded config trained again, untracked: a replay writes nothing to the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from experiments.config import RunConfig
from experiments.errors import RunFailed
from experiments.run import train_run


@dataclass
class Replayed:
    """The replay's per-epoch metrics, final weights, and how it ended (``failure`` empty if it finished)."""

    history: dict[int, dict[str, float]]
    weights: dict[str, np.ndarray] | None
    failure: str = ""


def replay_training(cfg: RunConfig, *, grad: Callable | None = None) -> Replayed:
    """Trains ``cfg`` again, untracked, keeping every epoch's metrics (also of a run that fails).

    Args:
      cfg: the recorded config.
      grad: a replacement for :func:`backprop_core.backward` (``None``: the real one).
    """
    history: dict[int, dict[str, float]] = {}

    def keep(epoch: int, metrics: dict[str, float]) -> None:
        history[epoch] = dict(metrics)

    try:
        result = train_run(cfg, on_metrics=keep, track=False, grad=grad)
    except RunFailed as e:
        return Replayed(history, None, f"{e.kind}: {e.message}")
    weights = {}
    for l, (W, b) in enumerate(result.params, start=1):
        weights[f"W{l}"], weights[f"b{l}"] = np.asarray(W), np.asarray(b)
    return Replayed(history, weights)
