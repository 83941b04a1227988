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

No Optuna here: turning the spec into ``trial.suggest_*`` calls lives in :mod:`sweeps.objective`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backprop_core import ACTIVATIONS, INITS
from experiments.errors import BadInput

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


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _fail(source: str, key: str, want: str, value: Any) -> BadInput:
    return BadInput(f"{source}: {key} must be {want}, got {value!r}")


def _pair(table: Mapping[str, Any], name: str, source: str, *, integer: bool, positive: bool) -> Range | None:
    """``[low, high]`` with ``low ≤ high`` (``low < high`` for floats); ``None`` when absent."""
    if name not in table:
        return None
    key, value = f"sweep.space.{name}", table[name]
    kind = "integers" if integer else "numbers"
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_is_int(v) if integer else _is_number(v) for v in value)
    )
    if not ok:
        raise _fail(source, key, f"[low, high] with two {kind}", _plain(value))
    low, high = value
    if positive and low <= 0:
        raise _fail(source, key, f"a range of positive {kind}", _plain(value))
    if low > high or (not integer and low == high):
        raise _fail(
            source,
            key,
            "[low, high] with low < high" if not integer else "[low, high] with low ≤ high",
            _plain(value),
        )
    return Range(low, high)


def _choices(table: Mapping[str, Any], name: str, source: str, check, want: str) -> tuple | None:
    if name not in table:
        return None
    key, value = f"sweep.space.{name}", table[name]
    if not (isinstance(value, list | tuple) and value and all(check(v) for v in value)):
        raise _fail(source, key, want, _plain(value))
    if len(set(value)) != len(value):
        raise _fail(source, key, "a list without repeated values", _plain(value))
    return tuple(value)


def _plain(value: Any) -> Any:
    """Frozen TOML (tuples, mappingproxies) back to lists and dicts, so messages read like the file."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def parse_space(table: Mapping[str, Any], source: str) -> SearchSpace:
    """Validates ``[sweep.space]``; absent keys keep :class:`SearchSpace`'s defaults."""
    if not isinstance(table, Mapping):
        raise _fail(source, "sweep.space", "a table", _plain(table))
    for key in table:
        if key not in SPACE_KEYS:
            raise BadInput(
                f"{source}: unknown key sweep.space.{key}; sweep.space takes {', '.join(SPACE_KEYS)}"
            )
    default = SearchSpace()
    lr = _pair(table, "lr", source, integer=False, positive=True)
    n_layers = _pair(table, "n_layers", source, integer=True, positive=True)
    width = _pair(table, "width", source, integer=True, positive=True)
    width_log = table.get("width_log", default.width.log if width is None else False)
    if not isinstance(width_log, bool):
        raise _fail(source, "sweep.space.width_log", "true or false", width_log)
    width = width or default.width
    width_step = table.get("width_step", 1)
    if not _is_int(width_step) or width_step < 1:
        raise _fail(source, "sweep.space.width_step", "an integer ≥ 1", width_step)
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
        table, "batch_size", source, lambda v: _is_int(v) and v >= 1, "a non-empty list of integers ≥ 1"
    )
    activation = _choices(
        table,
        "activation",
        source,
        lambda v: isinstance(v, str) and v in ACTIVATIONS,
        f"a non-empty list drawn from {', '.join(ACTIVATIONS)}",
    )
    init = _choices(
        table,
        "init",
        source,
        lambda v: isinstance(v, str) and v in INITS,
        f"a non-empty list drawn from {', '.join(INITS)}",
    )
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
    for key in table:
        if key not in SWEEP_KEYS:
            raise BadInput(f"{source}: unknown key sweep.{key}; sweep takes {', '.join(SWEEP_KEYS)}")
    get = table.get
    n_trials = get("n_trials", SweepSpec.n_trials)
    if not (_is_int(n_trials) and n_trials >= 1):
        raise _fail(source, "sweep.n_trials", "an integer ≥ 1", n_trials)
    timeout = get("timeout")
    if timeout is not None and not (_is_number(timeout) and timeout > 0):
        raise _fail(source, "sweep.timeout", "a number of seconds > 0", timeout)
    sampler = get("sampler", SweepSpec.sampler)
    if sampler not in SAMPLERS:
        raise _fail(source, "sweep.sampler", f"one of {', '.join(SAMPLERS)}", sampler)
    pruner = get("pruner", SweepSpec.pruner)
    if pruner not in PRUNERS:
        raise _fail(source, "sweep.pruner", f"one of {', '.join(PRUNERS)}", pruner)
    metric = get("metric", SweepSpec.metric)
    if metric not in METRICS:
        raise _fail(source, "sweep.metric", f"one of {', '.join(METRICS)}", metric)
    # An accuracy is better when higher, a loss when lower.
    direction = get("direction", "maximize" if metric.endswith("accuracy") else "minimize")
    if direction not in DIRECTIONS:
        raise _fail(source, "sweep.direction", "minimize or maximize", direction)
    seed = get("seed")
    if seed is not None and not (_is_int(seed) and seed >= 0):
        raise _fail(source, "sweep.seed", "an integer ≥ 0", seed)
    grid_points = get("grid_points", SweepSpec.grid_points)
    if not (_is_int(grid_points) and grid_points >= 1):
        raise _fail(source, "sweep.grid_points", "an integer ≥ 1", grid_points)
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


def grid_values(r: Range, points: int, *, integer: bool) -> list[float] | list[int]:
    """``points`` values spanning ``r`` (log-spaced when ``r.log``), for the grid sampler.

    Integer ranges with no more than ``points`` values are listed whole.
    """
    if integer and r.high - r.low + 1 <= points:
        return list(range(int(r.low), int(r.high) + 1))
    if points == 1:
        return [int(r.low) if integer else r.low]
    if r.log:
        lo, hi = math.log(r.low), math.log(r.high)
        values = [math.exp(lo + (hi - lo) * i / (points - 1)) for i in range(points)]
    else:
        values = [r.low + (r.high - r.low) * i / (points - 1) for i in range(points)]
    values[0], values[-1] = r.low, r.high  # exact ends, so the grid stays inside the distribution
    return sorted({round(v) for v in values}) if integer else values


def grid_space(spec: SweepSpec) -> dict[str, list]:
    """The grid sampler's search space, with the parameter names :mod:`sweeps.objective` suggests.

    Every ``width_l`` up to the largest ``n_layers`` is on the grid, so grid points that differ only in
    the width of a layer a shallower trial does not have run the same network twice.
    """
    s = spec.space
    grid: dict[str, list] = {"lr": grid_values(s.lr, spec.grid_points, integer=False)}
    grid["n_layers"] = grid_values(s.n_layers, spec.grid_points, integer=True)
    widths = grid_values(s.width, spec.grid_points, integer=True)
    widths = sorted(
        {int(s.width.low) + s.width.step * round((w - s.width.low) / s.width.step) for w in widths}
    )
    for l in range(1, int(s.n_layers.high) + 1):
        grid[f"width_{l}"] = widths
    if s.batch_size:
        grid["batch_size"] = list(s.batch_size)
    if s.activation:
        grid["activation"] = list(s.activation)
    if s.init:
        grid["init"] = list(s.init)
    if s.epochs:
        grid["epochs"] = grid_values(s.epochs, spec.grid_points, integer=True)
    return grid
