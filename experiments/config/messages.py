"""pydantic's validation errors as the one line a user sees: ``<source>: <key> must be <want>, got <value>``.

Only the first problem is reported, in the order a reader meets them: an unknown section, then
section by section an unknown key before a bad value, keys in the order the section declares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from experiments.config.schema import SECTION_CLASSES, SECTIONS, Want
from experiments.errors import BadInput
from experiments.validate import invalid

_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")
_TOO_SMALL = ("greater_than_equal", "greater_than")


def type_name(value: Any) -> str:
    """``an integer``, ``a list``, …: the kind of a TOML value, for messages."""
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _order(error: Mapping[str, Any]) -> tuple[int, int]:
    loc = error["loc"]
    if len(loc) == 1 and error["type"] in _UNKNOWN:
        return (-1, 0)
    section = SECTIONS.index(loc[0]) if loc[0] in SECTIONS else len(SECTIONS)
    return (section, 0 if error["type"] in _UNKNOWN else 1)


def _want(section: str, key: str, errors: list[Mapping[str, Any]]) -> str:
    field = SECTION_CLASSES[section].__pydantic_fields__[key]
    want = next(m for m in field.metadata if isinstance(m, Want))
    if want.too_small and all(e["type"] in _TOO_SMALL for e in errors):
        return want.too_small
    return want.text


def bad_input(error: ValidationError, raw: Mapping[str, Any], source: str) -> BadInput:
    """The one-line :class:`BadInput` for the first problem ``error`` found in the config ``raw``.

    Args:
      error: what validating ``raw`` raised.
      raw: the nested dict that was validated (the values are quoted from it, as the user wrote them).
      source: where the config came from, the start of the line.
    """
    errors = sorted(error.errors(), key=_order)
    first = errors[0]
    loc = first["loc"]
    name = loc[0]
    if len(loc) == 1:
        if first["type"] in _UNKNOWN:
            return BadInput(f"{source}: unknown section [{name}]; expected one of {', '.join(SECTIONS)}")
        return BadInput(f"{source}: {name} must be a table, got {type_name(raw[name])}")
    key = loc[1]
    if first["type"] in _UNKNOWN:
        known = ", ".join(sorted(SECTION_CLASSES[name].__pydantic_fields__))
        return BadInput(f"{source}: unknown key {name}.{key}; {name} takes {known}")
    same_key = [e for e in errors if e["loc"][:2] == (name, key)]
    return invalid(source, f"{name}.{key}", _want(name, key, same_key), raw[name][key])
