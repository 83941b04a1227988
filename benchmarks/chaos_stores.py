"""The real stores of the chaos benchmark: a throwaway PostgreSQL database and an ``mlflow server``.

The claims under test are about what the stores end up holding, so both are the ones a team would
run: the Optuna study on PostgreSQL (heartbeats, row locks) and MLflow behind HTTP (so a worker that
dies mid-request leaves what a real client would). Both are created fresh and removed whatever
happens, so a failed run leaves nothing behind on the machine's server.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2

from experiments.tracking.ui import stop_process_group, ui_env, wait_until_up

SERVER_START_S = 180  # a loaded 2-core machine needs over a minute to import and migrate mlflow


def _execute(host: str, port: int, sql: str) -> None:
    """Runs ``sql`` outside a transaction (CREATE/DROP DATABASE refuse to run inside one)."""
    conn = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres", connect_timeout=10)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextlib.contextmanager
def postgres_database(*, host: str = "127.0.0.1", port: int = 5432) -> Iterator[str]:
    """A fresh database ``bplab_chaos_<pid>`` for the study; yields its SQLAlchemy URL and drops it
    (with ``FORCE``, in case a killed worker's connection lingers) at the end."""
    name = f"bplab_chaos_{os.getpid()}"
    _execute(host, port, f'CREATE DATABASE "{name}"')
    try:
        # psycopg2 named: a bare postgresql:// would let SQLAlchemy 2.1 pick psycopg 3.
        yield f"postgresql+psycopg2://postgres@{host}:{port}/{name}"
    finally:
        _execute(host, port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(folder: Path, *, workers: int = 2) -> Iterator[str]:
    """``mlflow server`` on sqlite in ``folder``, serving artifacts; yields its URL, stopped at the end.

    Raises:
      RuntimeError: the server did not answer ``/health`` in time (with its log's tail).
    """
    port, log = free_port(), folder / "mlflow-server.log"
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=ui_env(), start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(url, proc, timeout_s=SERVER_START_S):
            raise RuntimeError(f"mlflow server did not start:\n{log.read_text(errors='replace')[-3000:]}")
        yield url
    finally:
        stop_process_group(proc)
