"""Real processes for the tests: the installed ``bplab`` binary, servers, and polling on a condition.

Every process gets a clean environment (no store, credential or fault setting leaks in from the
shell) and the session's JAX compilation cache in a temp folder, never the user's home. Processes
are started in their own process group, so a server's children go down with it at teardown.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from experiments.cpu_threads import ENV as XLA_THREADS
from experiments.cpu_threads import cpu_only

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "experiments" / "configs"
VENV_BIN = Path(sys.executable).parent
BPLAB = str(VENV_BIN / "bplab")
# Settings that would point a test's process at a user's stores, credentials or planted bugs.
LEAKY_PREFIXES = ("MLFLOW_", "BPLAB_", "POSTGRES_", "OPTUNA_")
# XLA:CPU's classic fusion emitters compile a small program in about half the time of its newer
# ones (which are the default because their code runs faster: a padded digits epoch 3.8 ms against
# 5.8-7.8 ms). The tests compile thousands of small programs and run each briefly, so they, and the
# processes they start, use the classic ones. Both give the same numbers: the `optimized` tests of
# exact float32 values pass either way.
TEST_XLA_FLAGS = "--xla_cpu_use_fusion_emitters=false"


def jax_is_cpu_only() -> bool:
    """True when this process's JAX can only run on the CPU (:func:`experiments.cpu_threads.cpu_only`).
    Only then may the tests add :data:`TEST_XLA_FLAGS`: a GPU plugin parses ``XLA_FLAGS`` itself, and
    an unknown (CPU) flag makes it exit(1) silently under pytest's capture (seen on an H200: the core
    tests ended in 3 s with status 1 and no output)."""
    return cpu_only()


# Python that prints how many threads XLA's CPU client gave its pool (run it after a JAX computation).
PRINT_POOL_THREADS = """
import os
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(names.count("tf_XLAEigen"))
"""


def with_test_xla_flags(flags: str | None) -> str:
    """``flags`` (a value of ``XLA_FLAGS``) with :data:`TEST_XLA_FLAGS` added."""
    flags = flags or ""
    return flags if TEST_XLA_FLAGS in flags else f"{flags} {TEST_XLA_FLAGS}".strip()


# The session's caches, shared by the xdist workers (they inherit the environment of the process that
# made them): a program one worker's test compiled is not compiled again by another's, and the empty
# MLflow store bplab copies into new folders is built once. Never the user's home.
SESSION_CACHES = "TESTS_SESSION_CACHES"


def make_session_caches() -> None:
    """Creates the session's cache folders, removed when this (the first) process exits; points
    ``XDG_CACHE_HOME`` (bplab's user cache) and ``BPLAB_JAX_CACHE`` of this process and those it
    starts into them."""
    # imported here, like NO_JOB_RUNNER below: xdist's controller imports this module and should
    # not wait for JAX and MLflow to load (~2.5 s) before it starts the workers
    from experiments.compile_cache import ENV_CACHE

    if SESSION_CACHES not in os.environ:
        folder = tempfile.mkdtemp(prefix="bplab-test-caches-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ[SESSION_CACHES] = folder
        os.environ["XDG_CACHE_HOME"] = str(Path(folder) / "xdg")
        os.environ[ENV_CACHE] = str(Path(folder) / "jax")  # what clean_env hands the processes, too


def session_jax_cache() -> Path:
    """One compilation-cache folder for the whole test session."""
    make_session_caches()
    return Path(os.environ[SESSION_CACHES]) / "jax"


def clean_env(jax_cache: Path | None = None, **extra: str) -> dict[str, str]:
    """This environment without any store, credential or fault setting, plus ``extra``.

    Args:
      jax_cache: the compilation cache for ``BPLAB_JAX_CACHE``; the session's one when omitted.
      **extra: variables to set on top (they win).
    """
    # NPROC too: a sweep run in a test's process sets it there, and each process decides its own
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_PREFIXES) and k != XLA_THREADS}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        BPLAB_JAX_CACHE=str(jax_cache or session_jax_cache()),
        JAX_PLATFORMS="cpu",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
        MPLBACKEND="Agg",
        # as in-process (tests/conftest.py): the processes' programs compile in about half the time
        JAX_DISABLE_MOST_OPTIMIZATIONS="1",
        XLA_FLAGS=with_test_xla_flags(env.get("XLA_FLAGS")),
    )
    env.update(extra)
    return env


def python_prints(code: str, timeout: float = 120) -> str:
    """What ``code`` prints, run by a new interpreter in the repository with :func:`clean_env`:
    nothing imported yet, so a test can see what an import pulls in. Fails the test on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def bplab(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    """Runs the real ``bplab`` binary with ``args``; returns the completed process (text output)."""
    argv = [BPLAB, *map(str, args)]
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_bplab(args: list[str], cwd: Path, *, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """:func:`bplab` in a :func:`clean_env` with ``env`` added."""
    return bplab(args, cwd=cwd, env=clean_env(**env), timeout=timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Started subprocesses; each is stopped (its whole process group) at teardown.

    With a ``name`` a process writes stdout and stderr into ``folder/<name>-<i>.log`` (read it with
    :meth:`log_tail`); without one both are pipes, for ``communicate()``.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen] = []

    def start(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        name: str | None = None,
        preexec_fn: Callable[[], object] | None = None,
    ) -> subprocess.Popen:
        """Starts ``argv`` in a new process group (``preexec_fn``: run in the child first, piped only)."""
        if name is None:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True, preexec_fn=preexec_fn,
            )  # fmt: skip
        else:
            if self.folder is None:
                raise ValueError("Procs needs a folder for logged processes")
            log = self.folder / f"{name}-{len(self.started)}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            proc.log = log  # type: ignore[attr-defined]
        self.started.append(proc)
        return proc

    @staticmethod
    def log_tail(proc: subprocess.Popen, n: int = 4000) -> str:
        """The last ``n`` characters of a logged process's output ('' for a piped one)."""
        log = getattr(proc, "log", None)
        return Path(log).read_text(errors="replace")[-n:] if log else ""

    def stop_all(self) -> None:
        """SIGTERM to every live process group, SIGKILL to those still up after 20 s."""
        for proc in reversed(self.started):
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


def start_mlflow_server(
    procs: Procs, backend: str, folder: Path, *options: str, port: int | None = None, **env: str
) -> tuple[subprocess.Popen, str]:
    """``mlflow server`` on ``backend`` at ``port`` (a free loopback one by default; one worker,
    artifacts proxied into ``folder/artifacts``, output in ``folder``); returns it and its URL once
    ``/health`` answers. Its GenAI job runner is off, as in ``bplab ui`` and the compose service."""
    port = port or free_port()
    argv = [
        sys.executable, "-m", "mlflow", "server", *options, "--backend-store-uri", backend,
        "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    from experiments.tracking.ui import NO_JOB_RUNNER  # here, not at the top: see make_session_caches

    env = clean_env(**NO_JOB_RUNNER, **env)
    server = procs.start(argv, cwd=folder, env=env, name="mlflow")
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_status(url + "/health") == 200, timeout=180, what="mlflow server", proc=server)
    return server, url


class BplabProcs(Procs):
    """:class:`Procs` whose ``start`` takes the arguments of the ``bplab`` binary."""

    def start(self, args: list[str], **options: Any) -> subprocess.Popen:
        """``bplab args``; ``options`` as in :meth:`Procs.start`."""
        return super().start([BPLAB, *map(str, args)], **options)


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float,
    what: str = "condition",
    interval: float = 0.2,
    proc: subprocess.Popen | None = None,
):
    """Polls ``predicate`` until it returns something truthy, and returns that.

    Fails the test after ``timeout`` seconds, or as soon as ``proc`` (the process expected to make
    the condition true) exits, with the tail of its log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: process exited {proc.returncode}:\n{Procs.log_tail(proc)}")
        time.sleep(interval)  # polling interval, not synchronisation: the condition decides
    tail = f":\n{Procs.log_tail(proc)}" if proc is not None else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what}{tail}")


def http_status(url: str, *, auth: tuple[str, str] | None = None, host: str | None = None) -> int:
    """The HTTP status of a GET (0 when nothing answers)."""
    req = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    if host:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:  # an auth'd request hashes a password
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0
