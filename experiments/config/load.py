"""A config file read, overridden and validated in one call: the entry point of every verb."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from experiments.config.overrides import parse_override, set_dotted
from experiments.config.run_config import RunConfig
from experiments.config.toml_io import read_toml


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
        set_dotted(d, key, value, source)
    return RunConfig.from_dict(d, source)
