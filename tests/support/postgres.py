"""PostgreSQL for the tests: the machine's server, or a throwaway cluster when none answers.

The server is ``127.0.0.1:$BPLAB_TEST_PG_PORT`` (default 5432, trust auth for ``postgres``). When
nothing answers there but the PostgreSQL binaries are installed, one throwaway cluster serves the
whole session: ``initdb`` into a temp folder, trust auth, its unix socket in that folder, started on
a free loopback port and removed at the end. Either way every test makes its own uniquely named
databases and drops them afterwards.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from tests.support.processes import free_port

PORT_ENV = "BPLAB_TEST_PG_PORT"
USER = "postgres"


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server with trust auth for ``postgres`` on the loopback address."""

    port: int
    host: str = "127.0.0.1"

    def connect(self, dbname: str = "postgres", *, timeout: int = 5):
        return psycopg2.connect(
            host=self.host, port=self.port, user=USER, dbname=dbname, connect_timeout=timeout
        )

    def url(self, dbname: str, *, driver: str = "postgresql+psycopg2") -> str:
        """The SQLAlchemy URL of one of its databases."""
        return f"{driver}://{USER}@{self.host}:{self.port}/{dbname}"

    def answers(self) -> bool:
        try:
            self.connect(timeout=3).close()
        except psycopg2.OperationalError:
            return False
        return True


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (newest version first), or ``None``."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    return Path(folders[-1]) if folders and Path(folders[-1], "initdb").exists() else None


class Cluster:
    """A throwaway cluster in a temp folder; :meth:`stop` shuts it down and deletes it.

    ``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user.
    """

    def __init__(self, bin_dir: Path, *, port: int) -> None:
        self.bin_dir = bin_dir
        self.server = Server(port)
        self.folder = Path(tempfile.mkdtemp(prefix="bplab-pg-"))
        self.data = self.folder / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.folder, USER, USER)
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "60", "start")

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", USER, "--", *argv]
        r = subprocess.run(argv, cwd=self.folder, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"{tool} failed ({r.returncode}): {r.stderr or r.stdout}")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


_session: dict[str, object] = {}


def session_server() -> Server | None:
    """The session's server (started on first use when a throwaway is needed), or ``None``."""
    if "server" not in _session:
        server = Server(int(os.environ.get(PORT_ENV, "5432")))
        if not server.answers():
            bin_dir = binaries()
            server = None
            if bin_dir is not None:
                cluster = Cluster(bin_dir, port=free_port())
                atexit.register(stop_session_server)  # backstop if the session hook never runs
                _session["cluster"] = cluster
                server = cluster.server
        _session["server"] = server
    return _session["server"]  # type: ignore[return-value]


def stop_session_server() -> None:
    """Stops the throwaway cluster, if this session started one."""
    cluster = _session.pop("cluster", None)
    _session.pop("server", None)
    if cluster is not None:
        cluster.stop()  # type: ignore[attr-defined]


class Databases:
    """Unique databases on a server; :meth:`drop_all` removes them whatever happened."""

    def __init__(self, server: Server | None = None) -> None:
        self.server = server or session_server()
        if self.server is None:
            raise RuntimeError("no PostgreSQL answers and no binaries to start one")
        self.names: list[str] = []

    def _execute(self, sql: str) -> None:
        conn = self.server.connect()
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
