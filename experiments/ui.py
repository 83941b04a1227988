"""``bplab ui``: the MLflow UI over the store in use, on 127.0.0.1.

For an embedded store (sqlite, or a database URI) it starts ``mlflow server`` on loopback, waits until
it answers, prints the URL and keeps serving until Ctrl-C or SIGTERM (which stop the server too).
For a tracking server (``MLFLOW_TRACKING_URI=http://…``) the UI is already served there: it prints
that URL and returns.
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

from experiments import tracking
from experiments.errors import BadInput
from experiments.signals import terminate_as_interrupt

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0


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


def serve(port: int = tracking.DEFAULT_UI_PORT) -> int:
    """Serves the UI until interrupted; returns the server's exit status (0 when stopped by us).

    Raises:
      BadInput: a bad port, a port already in use, an unreachable store, or a server that does not start.
    """
    if not 1 <= port <= 65535:
        raise BadInput(f"--port {port}: must be between 1 and 65535")
    uri = tracking.tracking_uri()
    if tracking.is_http(uri):
        tracking.ensure_reachable()
        print(f"MLflow UI (served by the tracking server): {uri}", flush=True)
        return 0
    if not port_is_free(port):
        raise BadInput(f"--port {port}: the port is in use on {HOST}; pick another with --port")
    tracking.ensure_reachable()  # creates the sqlite store if it is new, so the UI opens on it
    url = f"http://{HOST}:{port}"
    with terminate_as_interrupt():
        # The server's own chatter goes to stderr, so stdout carries just the URL line.
        # Its own session, so stopping it stops the whole tree (uvicorn workers and all).
        proc = subprocess.Popen(
            tracking.ui_command(port, HOST), stdout=sys.stderr, env=ui_env(), start_new_session=True
        )
        try:
            if not wait_until_up(url, proc):
                raise BadInput(f"the MLflow UI did not start on {url} (store {uri})")
            print(f"MLflow UI for {uri}: {url}  (Ctrl-C to stop)", flush=True)
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            _stop(proc)


def ui_env() -> dict[str, str]:
    """The server's environment: no background job runner (the UI does not need MLflow's GenAI jobs,
    and on a laptop it would add a dozen processes)."""
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


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


def _stop(proc: subprocess.Popen) -> None:
    stop_process_group(proc)
