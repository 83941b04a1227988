"""The MLflow UI over the store in use, served on 127.0.0.1 by an ``mlflow server`` process.

For an embedded store (sqlite, or a database URI) :func:`serve` starts ``mlflow server`` on
loopback, in its own session so stopping it stops the whole tree, and yields once it answers.
For a tracking server (``MLFLOW_TRACKING_URI=http://…``) the UI is already served there: nothing
is started. Presenting the URL is the caller's part.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from experiments.errors import BadInput
from experiments.signals import terminate_as_interrupt
from experiments.tracking.conventions import EXPERIMENT_NAME_ENV
from experiments.tracking.links import DEFAULT_UI_PORT, HOST
from experiments.tracking.store import (
    ARTIFACTS_DIR,
    client,
    ensure_reachable,
    is_http,
    sqlite_path,
    tracking_uri,
)

STARTUP_TIMEOUT_S = 60.0
# Browsing one run page made uvicorn print ~40 access lines into the terminal of `bplab ui`.
QUIET_SERVER = "--log-level warning --no-access-log"
# MLflow 3.17's server imports starlette's deprecated WSGI middleware: a warning for MLflow, not the user.
QUIET_WARNINGS = "ignore:starlette.middleware.wsgi is deprecated"


@dataclass(frozen=True)
class Server:
    """A UI being served.

    Attributes:
      url: where a browser opens it.
      store: the tracking URI it shows.
      process: the ``mlflow server`` started for it; ``None`` when a tracking server serves the UI.
    """

    url: str
    store: str
    process: subprocess.Popen | None = None

    def wait(self) -> int:
        """Blocks until the server exits; its exit status (0 at once when nothing was started)."""
        return self.process.wait() if self.process is not None else 0


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether nothing listens on ``host:port`` yet."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_up(
    url: str, proc: subprocess.Popen | None = None, timeout_s: float = STARTUP_TIMEOUT_S
) -> bool:
    """Polls ``url/health`` until it answers 200, the process exits or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def latest_experiment() -> str | None:
    """The experiment a fresh UI opens on: ``MLFLOW_EXPERIMENT_NAME``'s, else the one with the latest
    run, else ``None`` (the experiments list)."""
    c = client()
    named = os.environ.get(EXPERIMENT_NAME_ENV, "").strip()
    exp = c.get_experiment_by_name(named) if named else None
    if exp is not None:
        return exp.experiment_id
    ids = [e.experiment_id for e in c.search_experiments(max_results=1000)]
    latest = c.search_runs(ids, order_by=["attributes.start_time DESC"], max_results=1) if ids else []
    return latest[0].info.experiment_id if latest else None


def ui_command(port: int, host: str = HOST) -> list[str]:
    """The ``mlflow server`` command that serves the UI over the store in use.

    For a sqlite store the server's own default artifact root is the ``mlartifacts`` folder beside
    the database, so experiments created from the UI land where ``bplab train`` puts them. The
    server logs warnings and errors, not a line per request (:data:`QUIET_SERVER`).
    """
    uri = tracking_uri()
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", uri,
        "--host", host,
        "--port", str(port),
        "--workers", "1",
        "--uvicorn-opts", QUIET_SERVER,
    ]  # fmt: skip
    db = sqlite_path(uri)
    if db is not None:
        cmd += ["--artifacts-destination", str(db.resolve().parent / ARTIFACTS_DIR)]
    return cmd


# No background job runner: bplab uses none of MLflow's GenAI jobs, and it would add a dozen processes.
NO_JOB_RUNNER = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def ui_env() -> dict[str, str]:
    """The server's environment: this one, without MLflow's job runner (:data:`NO_JOB_RUNNER`) and
    MLflow's own deprecation warning (:data:`QUIET_WARNINGS`, after the user's filters)."""
    warnings = ",".join(w for w in (os.environ.get("PYTHONWARNINGS"), QUIET_WARNINGS) if w)
    return {**os.environ, **NO_JOB_RUNNER, "PYTHONWARNINGS": warnings}


def stop_process_group(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGTERM to the process group ``proc`` leads (started with ``start_new_session=True``), then
    SIGKILL if anything is left after ``timeout_s``; waits for ``proc``."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        proc.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)  # stragglers of the group, if any
    proc.wait()


@contextlib.contextmanager
def serve(port: int = DEFAULT_UI_PORT) -> Iterator[Server]:
    """Serves the UI for the duration of the block; yields once it answers.

    Within the block SIGTERM raises ``KeyboardInterrupt`` like Ctrl-C; leaving the block, however
    it is left, stops the server.

    Raises:
      BadInput: a bad port, a port already in use, an unreachable store, or a server that does not start.
    """
    if not 1 <= port <= 65535:
        raise BadInput(f"--port {port}: must be between 1 and 65535")
    uri = tracking_uri()
    if is_http(uri):
        ensure_reachable()
        yield Server(url=uri, store=uri)
        return
    if not port_is_free(port):
        raise BadInput(f"--port {port}: the port is in use on {HOST}; pick another with --port")
    ensure_reachable()  # creates the sqlite store if it is new, so the UI opens on it
    url = f"http://{HOST}:{port}"
    with terminate_as_interrupt():
        # The server's own chatter goes to stderr, so stdout carries just the caller's URL line.
        proc = subprocess.Popen(ui_command(port), stdout=sys.stderr, env=ui_env(), start_new_session=True)
        try:
            if not wait_until_up(url, proc):
                raise BadInput(f"the MLflow UI did not start on {url} (store {uri})")
            yield Server(url=url, store=uri, process=proc)
        finally:
            stop_process_group(proc)
