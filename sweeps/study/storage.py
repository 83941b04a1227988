"""Opening a study's storage: checked before anything is written, with heartbeats on PostgreSQL.

On PostgreSQL every worker beats for its trial; a worker that dies stops beating, and a survivor's
reaper (:mod:`sweeps.study.reaper`) fails its trial, queues the same params again and ends its
orphaned MLflow run FAILED.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
import sqlalchemy.exc

from experiments.errors import BadInput
from sweeps.study.handle import StudyHandle
from sweeps.study.journal import check_journal_place, journal_storage
from sweeps.study.locks import creation_lock
from sweeps.study.url import StorageURL


def _unreachable(url: StorageURL, error: sqlalchemy.exc.SQLAlchemyError) -> BadInput:
    """One line with the driver's own reason (its first line), else the error's type."""
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return BadInput(f"--storage {url.redacted()}: cannot reach the database: {first}")


def probe_storage(url: StorageURL) -> None:
    """Checks a journal can be written and a database answers, writing nothing (so a bad
    ``--storage`` leaves no trace).

    Raises:
      BadInput: one line with the driver's reason.
    """
    if url.kind == "journal":
        check_journal_place(Path(url.target))
    if url.kind != "postgresql":
        return
    engine = sqlalchemy.create_engine(
        url.target, poolclass=sqlalchemy.pool.NullPool, connect_args={"connect_timeout": 10}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as e:
        raise _unreachable(url, e) from None
    finally:
        engine.dispose()


def heartbeat_interval(handle: StudyHandle) -> int | None:
    """Seconds between a trial's heartbeats; ``None`` where the storage keeps none (journal, SQLite)."""
    return handle.study._storage.get_heartbeat_interval() if handle.url.heartbeat_capable else None


def open_storage(url: StorageURL, *, heartbeat: int = 10) -> optuna.storages.BaseStorage:
    """Optuna's storage for ``url``; PostgreSQL gets heartbeats every ``heartbeat`` seconds and a grace
    period of three beats (no stale callback: the reaper fails, labels and re-queues stale trials).

    Raises:
      BadInput: the database cannot be reached (one line, before any run opens).
    """
    if url.kind == "journal":
        return journal_storage(Path(url.target))
    kwargs: dict[str, Any] = {}
    if url.heartbeat_capable:
        kwargs = dict(heartbeat_interval=heartbeat, grace_period=3 * heartbeat)
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    else:
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        with creation_lock(url):
            return optuna.storages.RDBStorage(url.target, engine_kwargs=engine_kwargs, **kwargs)
    except sqlalchemy.exc.OperationalError as e:
        raise _unreachable(url, e) from None
