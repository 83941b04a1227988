"""The ``[sweep]`` and ``[sweep.space]`` tables, validated into a frozen :class:`SweepSpec`.

The config loader keeps ``[sweep]`` raw; this module checks it with the pydantic models of
:mod:`sweeps.space_schema` (one :class:`~experiments.errors.BadInput` line naming the file and key)::

    [sweep]
    n_trials = 30             # the study's global budget (complete + pruned + failed)
    timeout = 600             # seconds, optional
    sampler = "tpe"           # tpe | random | grid | cmaes
    pruner = "median"         # median | percentile (keeps the best 25%) | asha | hyperband | none
    metric = "val_loss"       # any metric the runs log: val_loss, val_accuracy, grad_norm/W1, …
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
    # any other config key, quoted, with a distribution (see sweeps.space_keys):
    "model.cost" = {choices = ["quadratic", "cross_entropy"]}
    "data.val_fraction" = {low = 0.1, high = 0.3}
    "model.hidden" = {choices = [[30], [64, 32]]}      # instead of n_layers and width

No Optuna here: turning the spec into ``trial.suggest_*`` calls lives in :mod:`sweeps.suggest`, and
the grid sampler's points in :mod:`sweeps.grid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from experiments.config.toml_io import freeze, thaw
from experiments.errors import BadInput
from experiments.validate import invalid
from sweeps.space_keys import distribution, quoted
from sweeps.space_schema import PRUNERS, SAMPLERS, Shorthand, SweepTable, validated

__all__ = ["PRUNERS", "SAMPLERS", "Param", "Range", "SearchSpace", "SweepSpec", "parse_space", "parse_sweep"]

# The config key each short key searches: a dotted key for the same config key would contradict it.
SHORTHAND_KEYS = {
    "lr": "train.lr",
    "n_layers": "model.hidden",
    "width": "model.hidden",
    "width_log": "model.hidden",
    "width_step": "model.hidden",
    "batch_size": "train.batch_size",
    "activation": "model.activation",
    "init": "model.init",
    "epochs": "train.epochs",
}


@dataclass(frozen=True)
class Range:
    """An inclusive range of numbers; ``log`` samples it log-uniformly, ``step`` on a lattice."""

    low: float
    high: float
    log: bool = False
    step: int = 1


@dataclass(frozen=True)
class Param:
    """A dotted config key and its distribution: ``choices``, or a range ``low``–``high``.

    Attributes:
      key: the config key (``train.batch_size``), also the Optuna parameter's name.
      integer: an integer range (both bounds integers); otherwise a float range.
    """

    key: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    integer: bool = False

    def largest(self) -> Any:
        """The largest value offered (the high bound, or the largest choice)."""
        return max(self.choices) if self.choices is not None else self.high


@dataclass(frozen=True)
class SearchSpace:
    """What a trial chooses.

    Attributes:
      lr: the learning rate α, always log-uniform.
      n_layers: the number of hidden layers.
      width: the width of each hidden layer, chosen per layer. With ``"model.hidden"`` in ``params``,
        ``n_layers`` and ``width`` are only the bounds of its choices (for memory checks and padding).
      batch_size, activation, init: choices, or ``None`` to keep the base config's value.
      epochs: a range, or ``None`` to keep the base config's value.
      params: the dotted config keys searched, each with its distribution.
    """

    lr: Range = Range(0.01, 10.0, log=True)
    n_layers: Range = Range(1, 2)
    width: Range = Range(8, 128, log=True)
    batch_size: tuple[int, ...] | None = None
    activation: tuple[str, ...] | None = None
    init: tuple[str, ...] | None = None
    epochs: Range | None = None
    params: tuple[Param, ...] = ()

    def param(self, key: str) -> Param | None:
        """The dotted ``key``'s distribution, when the space searches it."""
        return next((p for p in self.params if p.key == key), None)

    def largest_batch(self, default: int) -> int:
        """The largest batch a trial can get (``default``: the base config's, when not searched)."""
        p = self.param("train.batch_size")
        return int(max(self.batch_size or (p.largest() if p else default,)))


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
        if self.space.epochs:
            return int(self.space.epochs.high)
        epochs = self.space.param("train.epochs")
        return int(epochs.largest()) if epochs else base_epochs


def _params(table: Mapping[str, Any], source: str) -> tuple[Param, ...]:
    """The dotted keys of ``table`` (the whole ``[sweep.space]``), each with its distribution."""
    params = []
    for key, value in table.items():
        if "." not in key:
            continue
        dist = distribution(key, value, source)
        clash = [short for short, target in SHORTHAND_KEYS.items() if target == key and short in table]
        if clash:
            raise BadInput(f"{source}: sweep.space.{clash[0]} and {quoted(key)} both search {key}; keep one")
        choices = freeze(dist.choices) if dist.choices is not None else None
        params.append(Param(key, choices, dist.low, dist.high, dist.step, dist.log, dist.integer))
    return tuple(params)


def _hidden_bounds(p: Param, source: str) -> tuple[Range, Range]:
    """``n_layers`` and ``width`` bounding the ``"model.hidden"`` choices."""
    if p.choices is None:
        raise invalid(source, quoted(p.key), "{choices = [[30], [64, 32], …]}", "a range")
    widths = [w for hidden in p.choices for w in hidden]
    depths = [len(hidden) for hidden in p.choices]
    return Range(min(depths), max(depths)), Range(min(widths), max(widths))


def parse_space(table: Mapping[str, Any], source: str) -> SearchSpace:
    """Validates ``[sweep.space]``; absent keys keep :class:`SearchSpace`'s defaults."""
    if not isinstance(table, Mapping):
        raise invalid(source, "sweep.space", "a table", thaw(table))
    raw = thaw(table)
    short = validated(Shorthand, {k: v for k, v in raw.items() if "." not in k}, "sweep.space", source)
    params = _params(raw, source)
    default = SearchSpace()
    width_log = short.width_log if short.width_log is not None else short.width is None
    width = Range(*short.width) if short.width else default.width
    width_step = short.width_step or 1
    if width_step > 1 and width_log:
        # Optuna samples a stepped integer uniformly only; a silent fallback would surprise.
        raise BadInput(f"{source}: sweep.space.width_step > 1 cannot be combined with width_log = true")
    if (width.high - width.low) % width_step:
        raise BadInput(
            f"{source}: sweep.space.width_step = {width_step} must divide width's span "
            f"{int(width.high)} − {int(width.low)}"
        )
    n_layers = Range(*short.n_layers) if short.n_layers else default.n_layers
    width = Range(width.low, width.high, log=width_log, step=width_step)
    hidden = next((p for p in params if p.key == "model.hidden"), None)
    if hidden:
        n_layers, width = _hidden_bounds(hidden, source)
    return SearchSpace(
        lr=Range(*short.lr, log=True) if short.lr else default.lr,
        n_layers=n_layers,
        width=width,
        batch_size=short.batch_size,
        activation=short.activation,
        init=short.init,
        epochs=Range(*short.epochs) if short.epochs else None,
        params=params,
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
    raw = thaw(table)
    t = validated(SweepTable, raw, "sweep", source)
    space = parse_space(raw.get("space", {}), source)
    if t.sampler == "grid" and space.params:
        raise BadInput(
            f"{source}: sweep.sampler = grid searches only the short keys ({', '.join(SHORTHAND_KEYS)}); "
            f"{quoted(space.params[0].key)} needs another sampler"
        )
    # An accuracy is better when higher, a loss when lower.
    direction = t.direction or ("maximize" if t.metric.endswith("accuracy") else "minimize")
    return SweepSpec(
        space=space,
        n_trials=t.n_trials,
        timeout=float(t.timeout) if t.timeout is not None else None,
        sampler=t.sampler,
        pruner=t.pruner,
        metric=t.metric,
        direction=direction,
        seed=t.seed,
        grid_points=t.grid_points,
    )
