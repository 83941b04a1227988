"""TOML in and out, and the read-only form a config keeps its free-form ``[sweep]`` table in."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli_w

from experiments.errors import BadInput


def read_toml(path: str | Path, *, kind: str = "config") -> dict[str, Any]:
    """A TOML file as a dict.

    Args:
      path: the file.
      kind: what the file is, for the message (``config``, ``suite``).

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


def dumps(d: Mapping[str, Any]) -> str:
    """A nested dict (tuples and mappingproxies allowed) as TOML text."""
    return tomli_w.dumps(thaw(d))


def freeze(value: Any) -> Any:
    """Deep read-only copy of a TOML value: tables become mappingproxies, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: plain dicts and lists, ready for ``tomli_w``."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value
