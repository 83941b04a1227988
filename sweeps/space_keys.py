"""Dotted config keys in ``[sweep.space]``: any ``section.key`` of a run config, with a distribution.

``"train.batch_size" = {choices = [10, 20]}`` or ``"train.lr" = {low = 0.01, high = 10, log = true}``.
The key must exist in the config, and every value the distribution can offer at its edges (each
choice, each bound) must pass the config's own validation, so a space that can only produce bad
runs is refused before the sweep opens anything. Points that fail only in combination with the rest
of the config (e.g. a batch larger than this dataset) fail their own trial as ``bad_config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from experiments.config.messages import bad_input
from experiments.config.schema import SECTION_CLASSES, ConfigFile
from experiments.errors import BadInput
from experiments.validate import invalid
from sweeps.space_schema import DISTRIBUTION, Distribution

SEARCHABLE = ("data", "model", "train")


def quoted(key: str) -> str:
    """``sweep.space."train.lr"``: how the key is written in TOML, for messages."""
    return f'sweep.space."{key}"'


def config_key(key: str, source: str) -> tuple[str, str]:
    """``"train.lr"`` → ``("train", "lr")`` when the config has that key.

    Raises:
      BadInput: not ``section.key``, a section a trial cannot vary, or a key the section lacks.
    """
    section, _, name = key.partition(".")
    if section not in SEARCHABLE or not name or "." in name:
        raise BadInput(
            f"{source}: unknown key {quoted(key)}; a dotted key names a config key in "
            f"{', '.join(SEARCHABLE)}, e.g. train.batch_size"
        )
    fields = SECTION_CLASSES[section].__pydantic_fields__
    if name not in fields:
        raise BadInput(f"{source}: unknown key {quoted(key)}; {section} takes {', '.join(sorted(fields))}")
    return section, name


def distribution(key: str, value: Any, source: str) -> Distribution:
    """The validated distribution of the dotted ``key``; its edge values checked as the config would.

    Raises:
      BadInput: one line naming ``source`` and the key.
    """
    section, name = config_key(key, source)
    if not isinstance(value, Mapping):
        raise invalid(source, quoted(key), DISTRIBUTION, value)
    try:
        dist = Distribution.model_validate(dict(value))
    except ValidationError as e:
        errors = e.errors()
        first = next((x for x in errors if x["type"] == "value_error"), None)
        want = str(first["ctx"]["error"]) if first else DISTRIBUTION
        raise invalid(source, quoted(key), want, dict(value)) from None
    edges = dist.choices if dist.choices is not None else [dist.low, dist.high]
    for point in edges:
        raw = {section: {name: point}}
        try:
            ConfigFile.model_validate(raw)
        except ValidationError as e:
            why = str(bad_input(e, raw, source)).removeprefix(f"{source}: ")
            raise BadInput(f"{source}: {quoted(key)} offers {point!r}, but {why}") from None
    return dist
