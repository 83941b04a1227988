"""``--set key=value`` overrides: TOML literals (or bare words) written into a config's nested dict."""

from __future__ import annotations

import tomllib
from typing import Any

from experiments.config.messages import type_name
from experiments.config.schema import SECTIONS
from experiments.config.toml_io import thaw
from experiments.errors import BadInput


def parse_override(text: str, source: str) -> tuple[str, Any]:
    """``"train.lr=0.5"`` → ``("train.lr", 0.5)``; the value is a TOML literal or else a bare string.

    Raises:
      BadInput: ``text`` has no ``=`` or no key.
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise BadInput(f"{source}: override {text!r} must look like key=value, e.g. train.lr=0.5")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word such as tanh
    return key, value


def key_parts(key: str) -> list[str] | None:
    """A TOML dotted key's parts, quotes honoured: ``sweep.space."train.lr"`` → ``["sweep", "space",
    "train.lr"]`` (a sweep space names config keys with dots); ``None`` if it is not one key."""
    if "\n" in key or "\r" in key:
        return None
    try:
        node: Any = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        return None
    parts = []
    while isinstance(node, dict):
        if len(node) != 1:
            return None
        ((name, node),) = node.items()
        parts.append(name)
    return parts


def set_dotted(d: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Sets ``d["train"]["lr"]`` from ``"train.lr"``; only ``sweep.*`` keys may be nested deeper.

    Raises:
      BadInput: the key is not ``section.key`` of a known section, or a part of it is not a table.
    """
    parts = key_parts(key)
    if parts is None or len(parts) < 2 or not all(parts):
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
        raise BadInput(f"{source}: {section} must be a table, got {type_name(table)}")
    for part in parts[1:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise BadInput(f"{source}: cannot set {key}: {part} is not a table")
    table[parts[-1]] = thaw(value)
