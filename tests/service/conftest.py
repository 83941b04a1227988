"""Fixtures of the service tests: fresh PostgreSQL databases, free ports, real processes, the suite.

PostgreSQL is the machine's server on 127.0.0.1:5432 (trust auth for ``postgres``); every database
a test makes has a unique name and is dropped afterwards. Processes are started in their own
process group so a server's worker processes go down with it at teardown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest
import tomli_w

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BPLAB = str(VENV_BIN / "bplab")
SUITE = REPO / "experiments" / "configs" / "regression.toml"
BASELINE = REPO / "experiments" / "baselines" / "regression.json"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


# --- PostgreSQL -----------------------------------------------------------------------------------


class Databases:
    """Unique databases on the local server; :meth:`drop_all` removes them whatever happened."""

    def __init__(self) -> None:
        self.names: list[str] = []

    @staticmethod
    def _execute(sql: str) -> None:
        conn = psycopg2.connect(**PG)
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def name(self, label: str) -> str:
        """A unique name, remembered for the drop (the test or a script creates it)."""
        name = f"bplab_t_{label}_{uuid.uuid4().hex[:10]}"
        self.names.append(name)
        return name

    def create(self, label: str) -> str:
        """Creates and returns a fresh database."""
        name = self.name(label)
        self._execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_all(self) -> None:
        for name in self.names:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()


@pytest.fixture
def databases() -> Iterator[Databases]:
    dbs = Databases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


# --- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Started subprocesses with their logs; each is stopped (its whole process group) at teardown."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, argv: list[str], *, env: dict[str, str], cwd: Path, name: str) -> subprocess.Popen:
        log = self.folder / f"{name}-{len(self.started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc.log = log  # type: ignore[attr-defined]
        self.started.append((proc, log))
        return proc

    @staticmethod
    def log_tail(proc: subprocess.Popen, n: int = 4000) -> str:
        return Path(proc.log).read_text(errors="replace")[-n:]  # type: ignore[attr-defined]

    def stop_all(self) -> None:
        for proc, _ in reversed(self.started):
            if proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass


@pytest.fixture
def procs(tmp_path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, proc=None):
    """Polls ``predicate`` until it returns something truthy; fails with ``proc``'s log if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: process exited {proc.returncode}:\n{Procs.log_tail(proc)}")
        time.sleep(0.5)
    tail = f":\n{Procs.log_tail(proc)}" if proc is not None else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what}{tail}")


def http_status(url: str, *, auth: tuple[str, str] | None = None, host: str | None = None) -> int:
    """The HTTP status of a GET (0 when nothing answers)."""
    req = urllib.request.Request(url)
    if auth:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    if host:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


# --- bplab ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def jax_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("jax-cache")


def clean_env(jax_cache: Path, **extra: str) -> dict[str, str]:
    """This environment without any store, credential or fault setting, plus ``extra``."""
    drop = ("MLFLOW_", "BPLAB_", "POSTGRES_", "OPTUNA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        BPLAB_JAX_CACHE=str(jax_cache),
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
        MPLBACKEND="Agg",
    )
    env.update(extra)
    return env


def bplab(args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300):
    """Runs the real ``bplab`` binary; returns the completed process (text output)."""
    return subprocess.run(
        [BPLAB, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


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
