"""Where a study lives: ``--storage``, else ``BPLAB_OPTUNA_STORAGE``, else a journal file here.

- unset: a journal file ``optuna.journal`` in the working folder. Several local processes append to
  it under a file lock, so a 4-worker sweep never meets SQLite's "database is locked".
- ``postgresql://…`` (or ``postgresql+psycopg2://…``): Optuna's RDB storage with heartbeats, shared
  by workers on many machines.
- ``sqlite:///…`` and ``journal:PATH`` / ``PATH.journal`` are taken too (one machine only).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy.engine
import sqlalchemy.exc

from experiments.errors import BadInput

ENV_STORAGE = "BPLAB_OPTUNA_STORAGE"
DEFAULT_JOURNAL = "optuna.journal"
# Optuna's RDB schema keeps a study name in a VARCHAR(512) (``studies.study_name``); PostgreSQL refuses
# a longer one mid-creation. A journal stores it in JSON: no limit.
STUDY_NAME_MAX = {"sqlite": 512, "postgresql": 512}


@dataclass(frozen=True)
class StorageURL:
    """A resolved storage: ``kind`` is ``journal``, ``sqlite`` or ``postgresql``; ``target`` is the
    journal/database path or the database URL."""

    kind: str
    target: str

    @property
    def heartbeat_capable(self) -> bool:
        """Only the RDB storage on a server records heartbeats across machines."""
        return self.kind == "postgresql"

    def redacted(self) -> str:
        """The URL without its password, for tags and messages."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.target)


def resolve_storage(storage: str | None, *, cwd: Path | None = None) -> StorageURL:
    """``--storage``, else ``BPLAB_OPTUNA_STORAGE``, else a journal file in the working folder.

    Raises:
      BadInput: a URL of a kind Optuna cannot share between processes here (e.g. ``mysql://``).
    """
    cwd = cwd or Path.cwd()
    text = storage or os.environ.get(ENV_STORAGE) or ""
    if not text:
        return StorageURL("journal", str(cwd / DEFAULT_JOURNAL))
    if text.startswith("journal:"):
        return StorageURL("journal", str((cwd / text.removeprefix("journal:")).resolve()))
    if text.startswith(("postgresql://", "postgres://")):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the driver we ship is psycopg2.
        return checked_database_url(
            StorageURL("postgresql", "postgresql+psycopg2://" + text.split("://", 1)[1])
        )
    if text.startswith("postgresql+"):
        return checked_database_url(StorageURL("postgresql", text))
    if text.startswith("sqlite:///"):
        path = text.removeprefix("sqlite:///")
        return StorageURL("sqlite", "sqlite:///" + str((cwd / path).resolve()))
    if "://" not in text and text.endswith(".journal"):
        return StorageURL("journal", str((cwd / text).resolve()))
    raise BadInput(
        f"--storage {text!r}: expected a postgresql:// URL, sqlite:///PATH, or a PATH.journal file"
    )


def checked_database_url(url: StorageURL) -> StorageURL:
    """``url`` if SQLAlchemy can parse it (host, port in 1–65535), else one line saying what is wrong.

    Raises:
      BadInput: e.g. ``postgresql://u:p@h:notaport/db`` or an unclosed ``[::1`` host.
    """
    try:
        parsed = sqlalchemy.engine.make_url(url.target)
    except (ValueError, sqlalchemy.exc.ArgumentError) as e:
        reason = " ".join(str(e).split())
        raise BadInput(
            f"--storage {url.redacted()}: not a valid database URL ({reason}); "
            "expected postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"
        ) from None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise BadInput(f"--storage {url.redacted()}: port {parsed.port} is not in 1..65535")
    return url


def check_study_name(url: StorageURL, name: str) -> None:
    """Refuses a study name the storage cannot hold, before anything is created.

    Raises:
      BadInput: an empty name, or one longer than the storage's column.
    """
    limit = STUDY_NAME_MAX.get(url.kind)
    if not name.strip():
        raise BadInput("--study: the study name is empty")
    if limit is not None and len(name) > limit:
        raise BadInput(
            f"--study {name[:40]!r}…: {len(name)} characters; a {url.kind} storage holds at most {limit}"
        )
