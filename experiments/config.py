"""Run configs: a TOML file validated into frozen objects before anything runs.

A config has the sections ``[experiment] [data] [model] [train]`` and an optional ``[sweep]``::

    [experiment]
    name = "digits"

    [data]
    dataset = "digits"          # xor | digits | iris | breast_cancer | diabetes | file
    # path = "my.csv"           # only with dataset = "file" (.npz with X, y; or .csv, last column y)

    [model]
    hidden = [30]               # hidden widths; input and output widths come from the data
    activation = "sigmoid"      # sigmoid | tanh | relu
    cost = "quadratic"          # quadratic | cross_entropy | softmax_cross_entropy
    init = "normal"             # normal: N(0, 1) as the notes; scaled: N(0, 1/n_in)

    [train]
    lr = 3.0
    batch_size = 10
    epochs = 30

Every key is checked (unknown keys, wrong types, impossible values) and a problem raises
:class:`experiments.errors.BadInput` with one line naming the file and the key. ``--set key=value``
overrides go through the same checks; their values are TOML literals (``train.lr=0.5``,
``model.hidden=[30,20]``), and a bare word is taken as a string (``model.activation=tanh``).

The ``[sweep]`` table is kept as a read-only mapping and not validated here: ``sweeps`` owns it.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli_w

from backprop_core import ACTIVATIONS, COSTS, DTYPES, INITS
from experiments.errors import BadInput

DATASETS = ("xor", "digits", "iris", "breast_cancer", "diabetes", "file")
TASKS = ("auto", "classification", "regression")
SCALINGS = ("minmax", "standard", "none")
GRAD_MODES = ("manual", "autodiff")
SECTIONS = ("experiment", "data", "model", "train", "sweep")


@dataclass(frozen=True)
class ExperimentConfig:
    """``[experiment]``: where the run is filed.

    Attributes:
      name: the MLflow experiment name.
      description: free text, logged as the run's description.
    """

    name: str = "default"
    description: str = ""


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: which data and how it is split and scaled.

    Attributes:
      dataset: a bundled set (``xor``, ``digits``, ``iris``, ``breast_cancer``, ``diabetes``) or ``file``.
      path: the user file when ``dataset = "file"``: ``.npz`` with arrays ``X`` and ``y``, or ``.csv``
        whose last column is the target. Relative paths are taken from the working folder.
      task: ``classification`` (targets one-hot), ``regression`` (targets scaled into (0, 1)) or
        ``auto`` (classification when the target is integer-valued with at most 50 distinct values).
      val_fraction, test_fraction: shares of the rows held out (stratified for classes).
      scale: input scaling fitted on the training split only: ``minmax`` to [0, 1], ``standard``
        to zero mean and unit variance, or ``none``.
    """

    dataset: str = "digits"
    path: str = ""
    task: str = "auto"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    scale: str = "minmax"


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: the network.

    Attributes:
      hidden: hidden-layer widths, e.g. ``(30,)``; the input and output widths come from the data.
      activation: hidden activation (and output activation unless the cost fixes one).
      cost: the cost function.
      init: ``normal`` (every weight N(0, 1), the notes) or ``scaled`` (``W^l`` from N(0, 1/n_{l−1})).
    """

    hidden: tuple[int, ...] = (30,)
    activation: str = "sigmoid"
    cost: str = "quadratic"
    init: str = "normal"


@dataclass(frozen=True)
class TrainConfig:
    """``[train]``: mini-batch SGD.

    Attributes:
      lr: the learning rate α.
      batch_size: mini-batch size; at most the number of training rows.
      epochs: number of passes over the training set.
      seed: seeds the split, the initial weights and the shuffles.
      grad: ``manual`` (BP1–BP4) or ``autodiff`` (``jax.grad``).
      dtype: ``float32`` or ``float64``.
      gradcheck_every: compare manual against autodiff gradients every this many epochs (0: only at
        the end of the run).
    """

    lr: float = 3.0
    batch_size: int = 10
    epochs: int = 30
    seed: int = 0
    grad: str = "manual"
    dtype: str = "float32"
    gradcheck_every: int = 5


def _freeze(value: Any) -> Any:
    """Deep read-only copy of a TOML value: tables become mappingproxies, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    """The inverse of :func:`_freeze`: plain dicts and lists, ready for ``tomli_w``."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class RunConfig:
    """A validated run config. Build it with :func:`load_config` or :meth:`from_dict`.

    Attributes:
      experiment, data, model, train: the validated sections.
      sweep: the raw ``[sweep]`` table, read-only and unvalidated (``sweeps`` validates it).
      source: where the config came from (a path or a description), used in messages.
    """

    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sweep: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<config>"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str) -> RunConfig:
        """Validates a nested dict (as TOML parses it); raises ``BadInput`` naming ``source`` and the key."""
        if not isinstance(d, Mapping):
            raise BadInput(f"{source}: the config must be a table")
        for name in d:
            if name not in SECTIONS:
                raise BadInput(f"{source}: unknown section [{name}]; expected one of {', '.join(SECTIONS)}")
        sections = {}
        for name, section_cls in _SECTION_CLASSES.items():
            table = d.get(name, {})
            if not isinstance(table, Mapping):
                raise BadInput(f"{source}: {name} must be a table, got {_type_name(table)}")
            sections[name] = _build_section(section_cls, name, table, source)
        sweep = d.get("sweep", {})
        if not isinstance(sweep, Mapping):
            raise BadInput(f"{source}: sweep must be a table, got {_type_name(sweep)}")
        cfg = cls(**sections, sweep=_freeze(sweep), source=source)
        _check_cross_section(cfg)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict that ``tomli_w`` can write and :meth:`from_dict` reads back."""
        d: dict[str, Any] = {}
        for name in _SECTION_CLASSES:
            section = dataclasses.asdict(getattr(self, name))
            d[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        if self.sweep:
            d["sweep"] = _thaw(self.sweep)
        return d

    def to_toml(self) -> str:
        """The resolved config as TOML; ``bplab train`` accepts it back."""
        return tomli_w.dumps(self.to_dict())

    def with_values(self, values: Mapping[str, Any]) -> RunConfig:
        """A copy with dotted keys replaced (``{"train.lr": 0.1}``), validated like a file."""
        d = self.to_dict()
        for key, value in values.items():
            _set_dotted(d, key, value, self.source)
        return RunConfig.from_dict(d, self.source)

    def flat(self) -> dict[str, Any]:
        """Flattened ``section.key`` → scalar or string (lists written as ``[30, 20]``), for MLflow params."""
        out: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, Mapping):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            elif isinstance(value, list | tuple):
                out[prefix] = "[" + ", ".join(str(v) for v in value) + "]"
            else:
                out[prefix] = value

        walk("", self.to_dict())
        return out


_SECTION_CLASSES = {
    "experiment": ExperimentConfig,
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
}


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _build_section(section_cls, name: str, table: Mapping[str, Any], source: str):
    """One section's dataclass from its table, each key type-checked and range-checked."""
    known = {f.name for f in fields(section_cls)}
    for key in table:
        if key not in known:
            raise BadInput(f"{source}: unknown key {name}.{key}; {name} takes {', '.join(sorted(known))}")
    values = {}
    for f in fields(section_cls):
        if f.name in table:
            values[f.name] = _check_value(f"{name}.{f.name}", table[f.name], source)
    return section_cls(**values)


def _expect(ok: bool, key: str, value: Any, want: str, source: str) -> None:
    if not ok:
        raise BadInput(f"{source}: {key} must be {want}, got {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, int | float)) and not isinstance(v, bool)


def _choice(key: str, value: Any, choices: Sequence[str], source: str) -> str:
    _expect(isinstance(value, str) and value in choices, key, value, f"one of {', '.join(choices)}", source)
    return value


def _check_value(key: str, value: Any, source: str) -> Any:
    """Validates (and normalises) one value by its dotted key; raises ``BadInput``."""
    match key:
        case "experiment.name":
            _expect(isinstance(value, str) and value.strip() != "", key, value, "a non-empty string", source)
            return value
        case "experiment.description" | "data.path":
            _expect(isinstance(value, str), key, value, "a string", source)
            return value
        case "data.dataset":
            return _choice(key, value, DATASETS, source)
        case "data.task":
            return _choice(key, value, TASKS, source)
        case "data.scale":
            return _choice(key, value, SCALINGS, source)
        case "data.val_fraction" | "data.test_fraction":
            _expect(_is_number(value) and 0 <= value < 1, key, value, "a number in [0, 1)", source)
            return float(value)
        case "model.hidden":
            _expect(
                isinstance(value, list | tuple) and all(_is_int(w) for w in value),
                key,
                value,
                "a list of integer widths, e.g. [30]",
                source,
            )
            _expect(
                all(w >= 1 for w in value), key, value, "positive widths (a zero width has no units)", source
            )
            return tuple(value)
        case "model.activation":
            return _choice(key, value, tuple(ACTIVATIONS), source)
        case "model.cost":
            return _choice(key, value, tuple(COSTS), source)
        case "model.init":
            return _choice(key, value, INITS, source)
        case "train.lr":
            _expect(
                _is_number(value) and math.isfinite(value) and value > 0, key, value, "a number > 0", source
            )
            return float(value)
        case "train.batch_size" | "train.epochs":
            _expect(_is_int(value) and value >= 1, key, value, "an integer ≥ 1", source)
            return value
        case "train.seed" | "train.gradcheck_every":
            _expect(_is_int(value) and value >= 0, key, value, "an integer ≥ 0", source)
            return value
        case "train.grad":
            return _choice(key, value, GRAD_MODES, source)
        case "train.dtype":
            return _choice(key, value, tuple(DTYPES), source)
    raise BadInput(f"{source}: unknown key {key}")  # unreachable for keys of the dataclasses


def _check_cross_section(cfg: RunConfig) -> None:
    """Checks that involve more than one key (the batch size against the data is checked with the data)."""
    src = cfg.source
    if cfg.data.dataset == "file" and not cfg.data.path:
        raise BadInput(f'{src}: data.path is required with data.dataset = "file"')
    if cfg.data.dataset != "file" and cfg.data.path:
        raise BadInput(f'{src}: data.path is only used with data.dataset = "file"')
    if cfg.data.val_fraction + cfg.data.test_fraction >= 0.9:
        raise BadInput(f"{src}: data.val_fraction + data.test_fraction must leave at least 10% to train")


def _set_dotted(d: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Sets ``d["train"]["lr"]`` from ``"train.lr"``; only ``sweep.*`` keys may be nested deeper."""
    parts = key.split(".")
    if len(parts) < 2 or not all(parts):
        raise BadInput(f"{source}: override key {key!r} must look like section.key, e.g. train.lr")
    section = parts[0]
    if section not in SECTIONS:
        raise BadInput(
            f"{source}: unknown section in override {key!r}; expected one of {', '.join(SECTIONS)}"
        )
    if section != "sweep" and len(parts) != 2:
        raise BadInput(f"{source}: unknown key {key}")
    table = d.setdefault(section, {})
    if not isinstance(table, dict):
        raise BadInput(f"{source}: {section} must be a table, got {_type_name(table)}")
    for part in parts[1:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise BadInput(f"{source}: cannot set {key}: {part} is not a table")
    table[parts[-1]] = _thaw(value)


def parse_override(text: str, source: str) -> tuple[str, Any]:
    """``"train.lr=0.5"`` → ``("train.lr", 0.5)``; the value is a TOML literal or else a bare string."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise BadInput(f"{source}: override {text!r} must look like key=value, e.g. train.lr=0.5")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word such as tanh
    return key, value


def read_toml(path: str | Path, *, kind: str = "config") -> dict[str, Any]:
    """A TOML file as a dict.

    Raises:
      BadInput: the file is missing, unreadable or not TOML; one line naming the file.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{path}: no such {kind} file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"{path}: TOML syntax error: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read: {e}") from None


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Reads, overrides and validates a TOML config.

    Args:
      path: the TOML file.
      overrides: ``"section.key=value"`` strings applied in order (values are TOML literals).

    Returns:
      The frozen :class:`RunConfig` (``source`` is ``str(path)``).

    Raises:
      BadInput: a missing or unreadable file, a TOML syntax error, an unknown key, a wrong type or
        an impossible value; the one-line message names the file and the key.
    """
    source = str(path)
    d = read_toml(path)
    for text in overrides:
        key, value = parse_override(text, source)
        _set_dotted(d, key, value, source)
    return RunConfig.from_dict(d, source)
