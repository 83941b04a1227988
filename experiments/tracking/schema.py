"""A new sqlite store starts as a copy of an empty one.

MLflow builds a new store's schema by running its migrations, a second or two of a first ``bplab
train`` or ``sweep`` in a fresh folder; copying a file takes milliseconds. The empty store is built
once per MLflow version, in the user's cache (``~/.cache/bplab/mlflow-schema``), by MLflow itself.
The copy is made what MLflow would have made: its Default experiment keeps its artifacts in
``./mlruns`` of the working folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from experiments.user_cache import private_dir, user_cache


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the folder itself for the block (no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing it lets go of the lock


def seed_new_store(db: Path) -> None:
    """Puts an empty store at ``db`` when there is none; without a usable cache, does nothing (MLflow
    then builds the schema itself). Call it holding :func:`folder_lock` on the store's folder."""
    if db.exists():
        return
    template = _template()
    if template is None:
        return
    staged = db.with_name(f".{db.name}.{os.getpid()}.new")
    try:
        shutil.copyfile(template, staged)
        with contextlib.closing(sqlite3.connect(staged)) as conn, conn:
            default_home = (Path.cwd() / "mlruns" / "0").as_posix()
            conn.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (default_home,)
            )
        os.link(staged, db)  # never over a store that a process outside bplab made meanwhile
    except OSError:
        pass  # that process made it first, or the folder refuses: MLflow's own path follows
    finally:
        staged.unlink(missing_ok=True)


@functools.cache
def _template() -> Path | None:
    """The cached empty store of this MLflow version, built on first use; ``None`` without a cache."""
    try:
        folder = private_dir(user_cache("mlflow-schema"))
    except OSError:
        return None  # a read-only home
    if folder is None:
        return None
    path = folder / f"mlflow-{mlflow.__version__}.db"
    with folder_lock(folder):  # one process builds it; the others wait and copy
        if not path.exists():
            building = folder / f".building-{os.getpid()}.db"
            building.unlink(missing_ok=True)
            MlflowClient(f"sqlite:///{building}").search_experiments(max_results=1)  # runs the migrations
            os.replace(building, path)
    return path
