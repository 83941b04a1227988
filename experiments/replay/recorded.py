"""What a logged run recorded, read back from the store: config, environment, curves, final weights.

The resolved config (the ``config.toml`` artifact, or for a run stopped before it was written, the
params logged at its start) carries ``train.seed``, the one seed of the data split, the
initialisation and the shuffles; the final weights come from ``params.npz``, read with
``allow_pickle=False``.
"""

from __future__ import annotations

import tempfile
import tomllib
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments import tracking
from experiments.config import RunConfig
from experiments.data.loaders import one_line
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


def weights_from_npz(path: Path, source: str) -> dict[str, np.ndarray]:
    """``W1, b1, …`` from a ``params.npz`` (no pickles); ``source`` names it in messages.

    Raises:
      BadInput: a truncated or corrupt file, or an array that is not numeric (an object array would
        need unpickling, which is refused).
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            weights = {k: f[k] for k in f.files if k[:1] in ("W", "b") and k[1:].isdigit()}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise BadInput(f"{source}: cannot read as .npz: {one_line(e)}") from None
    for name, array in weights.items():
        if not np.issubdtype(array.dtype, np.number):
            raise BadInput(f"{source}: {name} must be numeric, got dtype {array.dtype}")
    return weights


def config_from_params(params: Mapping[str, str], source: str) -> RunConfig | None:
    """The run's config rebuilt from its logged params (``train.lr`` …), for a run that ended before
    its ``config.toml`` artifact was written (KILLED, FAILED); ``None`` when the params lack a key.

    Every key of every section is logged at the start of a run, each value as ``str()`` writes it
    (floats round-trip exactly), so the rebuilt config is the one that ran.
    """
    d: dict[str, dict] = {}
    for section, table in RunConfig().to_dict().items():
        d[section] = {}
        for key, default in table.items():
            text = params.get(f"{section}.{key}")
            if text is None:
                return None
            d[section][key] = _typed(text, default)
    return RunConfig.from_dict(d, source)


def _typed(text: str, default: object) -> object:
    """A logged param back to the type of the config key's default (a string stays as written)."""
    if isinstance(default, str):
        return text
    if isinstance(default, bool):
        return text == "True"
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # the config's own validation names the key


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
            cfg = config_from_params(record["params"], f"run {run_id} params")
            if cfg is None:
                raise BadInput(
                    f"run {run_id} has no config.toml artifact and no config params; "
                    "only bplab train runs can be replayed"
                )
        else:
            source = f"run {run_id} config.toml"
            try:
                cfg = RunConfig.from_dict(tomllib.loads(config_path.read_text(encoding="utf-8")), source)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise BadInput(f"{source}: TOML syntax error: {one_line(e)}") from None
        npz = tracking.download_artifact(run_id, "params.npz", tmp)
        weights = weights_from_npz(npz, f"run {run_id} params.npz") if npz is not None else None
    curves = {k: tracking.metric_history(run_id, k) for k in curve_names(list(record["metrics"]))}
    env = {k: record["params"][k] for k in ENV_KEYS if k in record["params"]}
    return Recorded(run_id, record["status"], cfg, env, curves, weights)
