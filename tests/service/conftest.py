"""Helpers of the service tests: mini regression suites built from the shipped one.

The process and PostgreSQL helpers are the shared ones (``tests.conftest``), re-exported here for
the tests that import them from this module.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w

from tests.support.postgres import Databases
from tests.support.processes import REPO, Procs, bplab, clean_env, free_port, http_status, wait_for

__all__ = [
    "BASELINE", "REPO", "SUITE", "Databases", "Procs", "bplab", "clean_env", "free_port", "http_status",
    "mini_suite", "shipped_case", "wait_for",
]  # fmt: skip

SUITE = REPO / "experiments" / "configs" / "regression.toml"
BASELINE = REPO / "experiments" / "baselines" / "regression.json"


def mini_suite(
    folder: Path, cases: list[dict], *, baseline: Path = BASELINE, name: str = "regression"
) -> Path:
    """A suite file in ``folder`` with ``cases`` (dicts as in the TOML), configs resolved absolutely."""
    fixed = []
    for case in cases:
        case = dict(case)
        case["config"] = str((SUITE.parent / case["config"]).resolve())
        fixed.append(case)
    path = folder / f"{name}-mini.toml"
    path.write_text(tomli_w.dumps({"suite": {"name": name, "baseline": str(baseline)}, "case": fixed}))
    return path


def shipped_case(name: str) -> dict:
    """A case of the shipped suite, as its TOML table (so its baseline numbers apply)."""
    cases = tomllib.loads(SUITE.read_text())["case"]
    return next(c for c in cases if c["name"] == name)
