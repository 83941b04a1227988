"""The study-wide lock: the few critical sections of a study (creating it, reserving a trial,
finalising) run in one process at a time, across every machine that shares the storage.

A PostgreSQL advisory lock on a server storage; a file lock beside a journal or SQLite file.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy
import sqlalchemy.exc

from sweeps.study.url import StorageURL, check_study_name

TABLES_LOCK = "__tables__"  # the lock held while a process creates Optuna's tables
_pg_engines: dict[str, Any] = {}


def _pg_engine(url: str) -> sqlalchemy.engine.Engine:
    if url not in _pg_engines:
        _pg_engines[url] = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    return _pg_engines[url]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a study name."""
    return zlib.crc32(f"bplab:{name}".encode()) - 2**31


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def advisory_lock(database: str, name: str) -> Iterator[None]:
    """PostgreSQL's session advisory lock keyed by ``name``, held for the block."""
    key = {"k": lock_key(name)}
    with _pg_engine(database).connect() as conn:
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), key)
        try:
            yield
        finally:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), key)
            conn.commit()


@contextlib.contextmanager
def study_lock(url: StorageURL, name: str) -> Iterator[None]:
    """Serialises a critical section of study ``name`` across every process sharing ``url``.

    Raises:
      BadInput: a study name the storage cannot hold (every creation passes here first).
    """
    check_study_name(url, name)
    if url.kind == "postgresql":
        with advisory_lock(url.target, name):
            yield
        return
    path = url.target.removeprefix("sqlite:///")
    with file_lock(Path(f"{path}.bplab-lock")):
        yield


@contextlib.contextmanager
def creation_lock(url: StorageURL) -> Iterator[None]:
    """Held while Optuna creates its tables: two workers creating them at once is the classic race.

    An unreachable server takes no lock, so the storage itself raises the error callers report.
    """
    if url.kind != "postgresql":
        yield
        return
    lock = study_lock(url, TABLES_LOCK)
    try:
        lock.__enter__()
    except sqlalchemy.exc.OperationalError:
        yield
        return
    try:
        yield
    finally:
        lock.__exit__(None, None, None)
