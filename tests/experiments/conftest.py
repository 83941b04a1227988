"""Fixtures of the experiments tests: small configs and a sqlite store in the test's folder.

The process helpers are the shared ones (``tests.conftest``), re-exported for ``from .conftest import``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments import tracking
from tests.support.processes import BPLAB, CONFIGS, REPO, clean_env, free_port, run_bplab

__all__ = ["BPLAB", "CONFIGS", "REPO", "TINY", "clean_env", "free_port", "run_bplab"]

# A small, quick classification run: iris, one hidden layer of 5, 3 epochs.
TINY = [
    "--set", "model.hidden=[5]",
    "--set", "train.epochs=3",
    "--set", "train.gradcheck_every=1",
    "--set", "train.batch_size=8",
    "--set", "train.lr=0.5",
]  # fmt: skip


@pytest.fixture
def iris_config(tmp_path: Path) -> Path:
    """A small iris config written into the test's folder."""
    path = tmp_path / "iris.toml"
    path.write_text(
        '[experiment]\nname = "iris-test"\n\n[data]\ndataset = "iris"\n\n'
        '[model]\nhidden = [5]\nactivation = "sigmoid"\ncost = "quadratic"\ninit = "scaled"\n\n'
        "[train]\nlr = 0.5\nbatch_size = 8\nepochs = 3\nseed = 0\ngradcheck_every = 1\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An in-process store: ``MLFLOW_TRACKING_URI`` pointing at a fresh, empty sqlite store in
    ``tmp_path`` (bplab copies it from the empty store in the session's cache)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking.ensure_reachable()
    return uri


@pytest.fixture
def unopened_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``MLFLOW_TRACKING_URI`` pointing at a sqlite file that does not exist yet; returns its path.

    For tests that prove bad input is refused before the store is even opened (the file stays absent).
    """
    path = tmp_path / "unopened" / "mlflow.db"
    path.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}")
    return path
