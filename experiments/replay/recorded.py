"""What a logged run recorded, read back from the store: config, environment, curves, final weights.

The resolved config (the ``config.toml`` artifact) carries ``train.seed``, the one seed of the data
split, the initialisation and the shuffles; the final weights come from ``params.npz``, read with
``allow_pickle=False``.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments import tracking
from experiments.config import RunConfig
from experiments.errors import BadInput
from experiments.replay.compare import ENV_KEYS

CURVE_PREFIXES = ("grad_norm/",)
CURVES = ("train_loss", "val_loss", "val_accuracy")


@dataclass
class Recorded:
    """What the run recorded: config, environment, curves, final weights (``None`` if not logged)."""

    run_id: str
    status: str
    config: RunConfig
    environment: dict[str, str]
    curves: dict[str, list[tuple[int, float]]]
    weights: dict[str, np.ndarray] | None


def curve_names(metric_keys: Sequence[str]) -> list[str]:
    """The recorded metrics a replay compares, in a stable order."""
    fixed = [k for k in CURVES if k in metric_keys]
    grads = sorted(k for k in metric_keys if k.startswith(CURVE_PREFIXES))
    return fixed + grads


def weights_from_npz(path: Path) -> dict[str, np.ndarray]:
    """``W1, b1, …`` from a ``params.npz`` (no pickles)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k[:1] in ("W", "b") and k[1:].isdigit()}


def read_recorded(run_id: str) -> Recorded:
    """Reads a run back from the store in use.

    Raises:
      BadInput: no such run, or it has no ``config.toml`` artifact (not a ``bplab train`` run).
    """
    tracking.ensure_reachable()
    record = tracking.run_record(run_id)
    with tempfile.TemporaryDirectory() as tmp:
        config_path = tracking.download_artifact(run_id, "config.toml", tmp)
        if config_path is None:
            raise BadInput(f"run {run_id} has no config.toml artifact; only bplab train runs can be replayed")
        source = f"run {run_id} config.toml"
        try:
            cfg = RunConfig.from_dict(tomllib.loads(config_path.read_text(encoding="utf-8")), source)
        except tomllib.TOMLDecodeError as e:
            raise BadInput(f"{source}: TOML syntax error: {e}") from None
        npz = tracking.download_artifact(run_id, "params.npz", tmp)
        weights = weights_from_npz(npz) if npz is not None else None
    curves = {k: tracking.metric_history(run_id, k) for k in curve_names(list(record["metrics"]))}
    env = {k: record["params"][k] for k in ENV_KEYS if k in record["params"]}
    return Recorded(run_id, record["status"], cfg, env, curves, weights)
