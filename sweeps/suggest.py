"""A point of the search space: Optuna's ``trial.suggest_*`` calls, and their params as config keys.

The short keys keep their historic parameter names (``lr``, ``n_layers``, ``width_1``…, ``batch_size``,
``activation``, ``init``, ``epochs``), so studies and dashboards made before dotted keys still read
the same. A dotted key is its own parameter name (``train.batch_size``). Optuna's categorical
choices must be ``None``, booleans, numbers or strings, so a list choice (``model.hidden``) is
offered as its JSON text and read back by :func:`config_values`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import optuna

from experiments.config.toml_io import thaw
from sweeps.space import Param, SearchSpace

_SHORT_CHOICES = (
    ("batch_size", "train.batch_size"),
    ("activation", "model.activation"),
    ("init", "model.init"),
)


def _categorical(choice: Any) -> Any:
    """A choice as Optuna can store it: scalars as they are, anything else as JSON text."""
    if choice is None or isinstance(choice, bool | int | float | str):
        return choice
    return json.dumps(thaw(choice))


def _suggest_param(trial: optuna.Trial, p: Param) -> Any:
    if p.choices is not None:
        return trial.suggest_categorical(p.key, [_categorical(c) for c in p.choices])
    if p.integer:
        return trial.suggest_int(p.key, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    return trial.suggest_float(p.key, float(p.low), float(p.high), step=p.step, log=p.log)


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Asks the trial for one point of ``space``; returns Optuna's params (``lr``, ``width_1``, …).

    A retried trial already carries its params, and ``suggest_*`` hands them back unchanged, so a
    retry trains the same network with the same learning rate.
    """
    params: dict[str, Any] = {}
    if space.param("train.lr") is None:
        params["lr"] = trial.suggest_float("lr", space.lr.low, space.lr.high, log=space.lr.log)
    if space.param("model.hidden") is None:
        n_layers = trial.suggest_int("n_layers", int(space.n_layers.low), int(space.n_layers.high))
        params["n_layers"] = n_layers
        for l in range(1, n_layers + 1):
            params[f"width_{l}"] = trial.suggest_int(
                f"width_{l}",
                int(space.width.low),
                int(space.width.high),
                step=space.width.step,
                log=space.width.log,
            )
    for name, _ in _SHORT_CHOICES:
        if getattr(space, name):
            params[name] = trial.suggest_categorical(name, list(getattr(space, name)))
    if space.epochs:
        params["epochs"] = trial.suggest_int("epochs", int(space.epochs.low), int(space.epochs.high))
    for p in space.params:
        params[p.key] = _suggest_param(trial, p)
    return params


def _decoded(value: Any) -> Any:
    """A JSON-encoded list choice back as the list; any other value unchanged."""
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def config_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's params → the dotted config keys of ``RunConfig.with_values``.

    ``{"lr": 0.5, "n_layers": 2, "width_1": 30, "width_2": 20}`` →
    ``{"train.lr": 0.5, "model.hidden": [30, 20]}``; a dotted param is its own config key.
    """
    values: dict[str, Any] = {}
    if "lr" in params:
        values["train.lr"] = float(params["lr"])
    if "n_layers" in params:
        values["model.hidden"] = [int(params[f"width_{l}"]) for l in range(1, int(params["n_layers"]) + 1)]
    for name, key in _SHORT_CHOICES:
        if name in params:
            values[key] = params[name]
    if "epochs" in params:
        values["train.epochs"] = int(params["epochs"])
    values.update({name: _decoded(v) for name, v in params.items() if "." in name})
    return values
