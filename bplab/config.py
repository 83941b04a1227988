"""``bplab config``: a config resolved and validated (sweep included), or the JSON Schema for editors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.config import json_schema, load_config
from experiments.errors import BadInput
from sweeps.space import parse_sweep
from sweeps.space_schema import json_schema as sweep_schema


def schema() -> dict[str, Any]:
    """The config file's JSON Schema with the ``[sweep]`` table's rules in place of a free table."""
    full = json_schema()
    full["properties"]["sweep"] = sweep_schema()
    return full


def command(config: Path | None, overrides: Sequence[str] = (), *, schema_only: bool) -> None:
    """Prints the JSON Schema (``--schema``), or the resolved config as TOML after validating it all.

    Raises:
      BadInput: no config given without ``--schema``, or a bad config or ``[sweep]`` (exit 2).
    """
    if schema_only:
        print(json.dumps(schema(), indent=2, ensure_ascii=False))
        return
    if config is None:
        raise BadInput("bplab config needs a CONFIG file (or --schema)")
    cfg = load_config(config, overrides)
    if cfg.sweep:
        parse_sweep(cfg.sweep, cfg.source)
    print(cfg.to_toml(), end="")
