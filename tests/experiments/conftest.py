"""Helpers for the experiments tests: the real `bplab` in a subprocess, and stores in temp folders."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "experiments" / "configs"
BPLAB = Path(sys.executable).parent / "bplab"

# A small, quick classification run: iris, one hidden layer of 5, 3 epochs.
TINY = [
    "--set", "model.hidden=[5]",
    "--set", "train.epochs=3",
    "--set", "train.gradcheck_every=1",
    "--set", "train.batch_size=8",
    "--set", "train.lr=0.5",
]  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without MLflow/bplab settings that would leak between tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BPLAB_"))}
    env["JAX_PLATFORMS"] = "cpu"
    env.update(extra)
    return env


def run_bplab(args: list[str], cwd: Path, *, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """Runs the installed `bplab` with ``args`` in ``cwd`` and captures its output."""
    return subprocess.run(
        [str(BPLAB), *map(str, args)],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    """An in-process store: ``MLFLOW_TRACKING_URI`` pointing at a fresh sqlite file in ``tmp_path``."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("BPLAB_FAULT", raising=False)
    return uri
