"""The ``[sweep]`` and ``[sweep.space]`` tables, validated into a frozen :class:`SweepSpec`.

The config loader keeps ``[sweep]`` raw; this module checks it the same way the loader checks the
other sections (one :class:`~experiments.errors.BadInput` line naming the file and the key)::

    [sweep]
    n_trials = 30             # the study's global budget (complete + pruned + failed)
    timeout = 600             # seconds, optional
    sampler = "tpe"           # tpe | random | grid | cmaes
    pruner = "median"         # median | hyperband | none
    metric = "val_loss"       # val_loss | val_accuracy | train_loss, reported every epoch
    direction = "minimize"    # default: maximize for an accuracy, minimize otherwise
    seed = 0                  # the sampler's seed, optional
    grid_points = 3           # values per range when sampler = "grid"

    [sweep.space]
    lr = [0.05, 10.0]         # log-uniform range of the learning rate α
    n_layers = [1, 2]         # number of hidden layers (inclusive range)
    width = [16, 128]         # width of each hidden layer (inclusive range)
    width_log = true          # sample widths log-uniformly
    width_step = 32           # or: widths on a lattice (low, low + step, …), so architectures repeat
    batch_size = [10, 32]     # optional: choices
    activation = ["sigmoid", "tanh"]   # optional: choices
    init = ["normal", "scaled"]        # optional: choices
    epochs = [10, 30]         # optional: inclusive range

No Optuna here: turning the spec into ``trial.suggest_*`` calls lives in :mod:`sweeps.objective`, and
the grid sampler's points in :mod:`sweeps.grid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backprop_core import ACTIVATIONS, INITS
from experiments.config.toml_io import thaw
from experiments.errors import BadInput
from experiments.validate import choice, expect, int_at_least, invalid, is_int, is_number

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband", "none")
METRICS = ("val_loss", "val_accuracy", "train_loss")
DIRECTIONS = ("minimize", "maximize")
SWEEP_KEYS = (
    "n_trials",
    "timeout",
    "sampler",
    "pruner",
    "metric",
    "direction",
    "seed",
    "grid_points",
    "space",
)
SPACE_KEYS = (
    "lr",
    "n_layers",
    "width",
    "width_log",
    "width_step",
    "batch_size",
    "activation",
    "init",
    "epochs",
)


@dataclass(frozen=True)
class Range:
    """An inclusive range of numbers; ``log`` samples it log-uniformly, ``step`` on a lattice."""

    low: float
    high: float
    log: bool = False
    step: int = 1


@dataclass(frozen=True)
class SearchSpace:
    """What a trial chooses.

    Attributes:
      lr: the learning rate α, always log-uniform.
      n_layers: the number of hidden layers.
      width: the width of each hidden layer, chosen per layer.
      batch_size, activation, init: choices, or ``None`` to keep the base config's value.
      epochs: a range, or ``None`` to keep the base config's value.
    """

    lr: Range = Range(0.01, 10.0, log=True)
    n_layers: Range = Range(1, 2)
    width: Range = Range(8, 128, log=True)
    batch_size: tuple[int, ...] | None = None
    activation: tuple[str, ...] | None = None
    init: tuple[str, ...] | None = None
    epochs: Range | None = None


@dataclass(frozen=True)
class SweepSpec:
    """A validated ``[sweep]`` table (see the module docstring for the keys and defaults)."""

    space: SearchSpace = SearchSpace()
    n_trials: int = 20
    timeout: float | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    metric: str = "val_loss"
    direction: str = "minimize"
    seed: int | None = None
    grid_points: int = 3

    def max_epochs(self, base_epochs: int) -> int:
        """The most epochs a trial can run (the pruner's maximum resource)."""
        return int(self.space.epochs.high) if self.space.epochs else base_epochs


def _pair(table: Mapping[str, Any], name: str, source: str, *, integer: bool, positive: bool) -> Range | None:
    """``[low, high]`` with ``low ≤ high`` (``low < high`` for floats); ``None`` when absent."""
    if name not in table:
        return None
    key, value = f"sweep.space.{name}", table[name]
    kind = "integers" if integer else "numbers"
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(is_int(v) if integer else is_number(v) for v in value)
    )
    if not ok:
        raise invalid(source, key, f"[low, high] with two {kind}", thaw(value))
    low, high = value
    if positive and low <= 0:
        raise invalid(source, key, f"a range of positive {kind}", thaw(value))
    if low > high or (not integer and low == high):
        order = "low ≤ high" if integer else "low < high"
        raise invalid(source, key, f"[low, high] with {order}", thaw(value))
    return Range(low, high)


def _choices(table: Mapping[str, Any], name: str, source: str, check, want: str) -> tuple | None:
    if name not in table:
        return None
    key, value = f"sweep.space.{name}", table[name]
    if not (isinstance(value, list | tuple) and value and all(check(v) for v in value)):
        raise invalid(source, key, want, thaw(value))
    if len(set(value)) != len(value):
        raise invalid(source, key, "a list without repeated values", thaw(value))
    return tuple(value)


def _drawn_from(table: Mapping[str, Any], name: str, source: str, options) -> tuple | None:
    check = lambda v: isinstance(v, str) and v in options  # noqa: E731
    return _choices(table, name, source, check, f"a non-empty list drawn from {', '.join(options)}")


def _only_known(table: Mapping[str, Any], section: str, keys: tuple[str, ...], source: str) -> None:
    for key in table:
        if key not in keys:
            raise BadInput(f"{source}: unknown key {section}.{key}; {section} takes {', '.join(keys)}")


def parse_space(table: Mapping[str, Any], source: str) -> SearchSpace:
    """Validates ``[sweep.space]``; absent keys keep :class:`SearchSpace`'s defaults."""
    if not isinstance(table, Mapping):
        raise invalid(source, "sweep.space", "a table", thaw(table))
    _only_known(table, "sweep.space", SPACE_KEYS, source)
    default = SearchSpace()
    lr = _pair(table, "lr", source, integer=False, positive=True)
    n_layers = _pair(table, "n_layers", source, integer=True, positive=True)
    width = _pair(table, "width", source, integer=True, positive=True)
    width_log = table.get("width_log", default.width.log if width is None else False)
    if not isinstance(width_log, bool):
        raise invalid(source, "sweep.space.width_log", "true or false", width_log)
    width = width or default.width
    width_step = int_at_least("sweep.space.width_step", table.get("width_step", 1), 1, source)
    if width_step > 1 and width_log:
        # Optuna samples a stepped integer uniformly only; a silent fallback would surprise.
        raise BadInput(f"{source}: sweep.space.width_step > 1 cannot be combined with width_log = true")
    if (width.high - width.low) % width_step:
        raise BadInput(
            f"{source}: sweep.space.width_step = {width_step} must divide width's span "
            f"{int(width.high)} − {int(width.low)}"
        )
    epochs = _pair(table, "epochs", source, integer=True, positive=True)
    batch_size = _choices(
        table, "batch_size", source, lambda v: is_int(v) and v >= 1, "a non-empty list of integers ≥ 1"
    )
    activation = _drawn_from(table, "activation", source, ACTIVATIONS)
    init = _drawn_from(table, "init", source, INITS)
    return SearchSpace(
        lr=Range(lr.low, lr.high, log=True) if lr else default.lr,
        n_layers=n_layers or default.n_layers,
        width=Range(width.low, width.high, log=width_log, step=width_step),
        batch_size=batch_size,
        activation=activation,
        init=init,
        epochs=epochs,
    )


def parse_sweep(table: Mapping[str, Any], source: str) -> SweepSpec:
    """Validates the raw ``[sweep]`` table of a config.

    Args:
      table: ``RunConfig.sweep`` (may be empty: every key has a default).
      source: the config's file, named in messages.

    Returns:
      The frozen :class:`SweepSpec`.

    Raises:
      BadInput: one line naming ``source`` and the offending ``sweep.*`` key.
    """
    _only_known(table, "sweep", SWEEP_KEYS, source)
    get = table.get
    n_trials = int_at_least("sweep.n_trials", get("n_trials", SweepSpec.n_trials), 1, source)
    timeout = get("timeout")
    if timeout is not None:
        expect(
            is_number(timeout) and timeout > 0, "sweep.timeout", timeout, "a number of seconds > 0", source
        )
    sampler = choice("sweep.sampler", get("sampler", SweepSpec.sampler), SAMPLERS, source)
    pruner = choice("sweep.pruner", get("pruner", SweepSpec.pruner), PRUNERS, source)
    metric = choice("sweep.metric", get("metric", SweepSpec.metric), METRICS, source)
    # An accuracy is better when higher, a loss when lower.
    direction = get("direction", "maximize" if metric.endswith("accuracy") else "minimize")
    expect(direction in DIRECTIONS, "sweep.direction", direction, "minimize or maximize", source)
    seed = get("seed")
    if seed is not None:
        int_at_least("sweep.seed", seed, 0, source)
    grid_points = int_at_least("sweep.grid_points", get("grid_points", SweepSpec.grid_points), 1, source)
    return SweepSpec(
        space=parse_space(get("space", {}), source),
        n_trials=n_trials,
        timeout=float(timeout) if timeout is not None else None,
        sampler=sampler,
        pruner=pruner,
        metric=metric,
        direction=direction,
        seed=seed,
        grid_points=grid_points,
    )
