"""Helpers of the service tests: the shipped regression suite's path.

The process and PostgreSQL helpers are the shared ones (``tests.conftest``), re-exported here for
the tests that import them from this module.
"""

from __future__ import annotations

from tests.support.postgres import Databases
from tests.support.processes import REPO, Procs, bplab, clean_env, free_port, http_status, wait_for

__all__ = [
    "REPO", "SUITE", "Databases", "Procs", "bplab", "clean_env", "free_port", "http_status", "wait_for",
]  # fmt: skip

SUITE = REPO / "experiments" / "configs" / "regression.toml"
