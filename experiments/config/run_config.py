"""The validated, frozen run config that every layer reads (``cfg.train.lr``, ``cfg.flat()``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from experiments.config.messages import bad_input
from experiments.config.overrides import set_dotted
from experiments.config.schema import (
    SECTION_CLASSES,
    ConfigFile,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TrainConfig,
)
from experiments.config.toml_io import dumps, freeze, thaw
from experiments.errors import BadInput


@dataclass(frozen=True)
class RunConfig:
    """A validated run config. Build it with :func:`experiments.config.load_config` or :meth:`from_dict`.

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
        """Validates a nested dict (as TOML parses it).

        Raises:
          BadInput: one line naming ``source`` and the first bad key (unknown, wrong type, impossible).
        """
        if not isinstance(d, Mapping):
            raise BadInput(f"{source}: the config must be a table")
        raw = thaw(d)
        try:
            parsed = ConfigFile.model_validate(raw)
        except ValidationError as e:
            raise bad_input(e, raw, source) from None
        sections = {name: getattr(parsed, name) for name in SECTION_CLASSES}
        cfg = cls(**sections, sweep=freeze(parsed.sweep), source=source)
        _check_cross_section(cfg)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict that ``tomli_w`` can write and :meth:`from_dict` reads back."""
        d: dict[str, Any] = {}
        for name in SECTION_CLASSES:
            section = dataclasses.asdict(getattr(self, name))
            d[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        if self.sweep:
            d["sweep"] = thaw(self.sweep)
        return d

    def to_toml(self) -> str:
        """The resolved config as TOML; ``bplab train`` accepts it back."""
        return dumps(self.to_dict())

    def with_values(self, values: Mapping[str, Any]) -> RunConfig:
        """A copy with dotted keys replaced (``{"train.lr": 0.1}``), validated like a file."""
        d = self.to_dict()
        for key, value in values.items():
            set_dotted(d, key, value, self.source)
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


def _check_cross_section(cfg: RunConfig) -> None:
    """Checks that involve more than one key (the batch size against the data is checked with the data)."""
    src = cfg.source
    if cfg.data.dataset == "file" and not cfg.data.path:
        raise BadInput(f'{src}: data.path is required with data.dataset = "file"')
    if cfg.data.dataset != "file" and cfg.data.path:
        raise BadInput(f'{src}: data.path is only used with data.dataset = "file"')
    if cfg.data.val_fraction + cfg.data.test_fraction >= 0.9:
        raise BadInput(f"{src}: data.val_fraction + data.test_fraction must leave at least 10% to train")
