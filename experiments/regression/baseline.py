"""The baseline file: the numbers each case is judged against, versioned beside the suite.

``bplab regress --update-baseline`` rewrites it from a run (and the diff is reviewed like code). A
baseline that cannot be read, or that is not of the expected shape, is refused before the suite runs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from experiments.errors import BadInput
from experiments.regression.suite import Suite
from experiments.validate import invalid, is_number

BASELINE_FORMAT = 1


def load_baseline(path: Path) -> dict[str, Any]:
    """The baseline JSON, or an empty one when the file does not exist yet.

    Raises:
      BadInput: the file is not JSON or not of the expected shape.
    """
    if not path.exists():
        return {"format": BASELINE_FORMAT, "cases": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"{path}: not a readable baseline: {' '.join(str(e).split())}") from None
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, dict) or not all(
        isinstance(v, dict) and all(is_number(x) for x in v.values()) for v in cases.values()
    ):
        raise BadInput(f'{path}: expected {{"cases": {{case: {{metric: number}}}}}}')
    if not isinstance(data.get("environment", {}), dict):
        raise invalid(str(path), "environment", "a table", data["environment"])
    return data


def baseline_document(
    suite: Suite, measured: Mapping[str, Mapping[str, float]], environment: Mapping[str, Any]
) -> dict[str, Any]:
    """What ``--update-baseline`` writes: every case's measured numbers and where they came from."""
    return {
        "format": BASELINE_FORMAT,
        "suite": suite.name,
        "updated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": dict(environment),
        "cases": {name: dict(sorted(values.items())) for name, values in measured.items()},
    }


def write_baseline(path: Path, document: Mapping[str, Any]) -> None:
    """Writes the baseline atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
