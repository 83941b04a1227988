"""Settings, fixtures and the ``integration`` marker shared by every test folder.

Implicit rank promotion is an error (the classic silent-broadcast bug). The plain helpers live in
:mod:`tests.support` and are re-exported here, so ``from tests.conftest import bplab`` works.

``integration`` marks every test that starts a service, a subprocess or a browser; ``make test-fast``
deselects them. A test is marked when it lives in ``tests/service/``, when its module says
``pytestmark = pytest.mark.integration``, when it uses a conftest fixture of :data:`SPAWNING_FIXTURES`,
or when its code (or a same-module function or fixture it calls) uses :data:`SPAWNING_HELPERS`,
``subprocess`` or playwright.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import Databases, Server, session_server, stop_session_server
from tests.support.processes import (
    BPLAB,
    REPO,
    XLA_THREADS,
    BplabProcs,
    Procs,
    bplab,
    clean_env,
    free_port,
    http_status,
    jax_is_cpu_only,
    make_session_caches,
    run_bplab,
    session_jax_cache,
    wait_for,
    with_test_xla_flags,
)

__all__ = [
    "BPLAB", "REPO", "Databases", "Procs", "Server", "bplab", "clean_env", "free_port", "http_status",
    "run_bplab", "wait_for",
]  # fmt: skip

# XLA reads its flags when it compiles the first program, which no test has done yet (see TEST_XLA_FLAGS).
if jax_is_cpu_only():
    os.environ["XLA_FLAGS"] = with_test_xla_flags(os.environ.get("XLA_FLAGS"))

INTEGRATION_FOLDERS = ("service",)
# Conftest fixtures that start a process or a server, or exist only for tests that do.
SPAWNING_FIXTURES = frozenset({"procs", "env", "jax_cache", "pg_server", "pg_url", "databases"})
# Helpers whose use in a test's code (resolved in its module) means it runs a process.
SPAWNING_HELPERS = (bplab, run_bplab, BPLAB, Procs, BplabProcs)
SUBPROCESS_CALLS = frozenset({"run", "Popen", "call", "check_call", "check_output"})


def _code_names(fn, module, seen: set) -> set[str]:
    """The global and attribute names ``fn`` uses, following same-module functions it calls."""
    code = getattr(fn, "__code__", None)
    if code is None or fn in seen:
        return set()
    seen.add(fn)
    names = set(code.co_names)
    consts = [c for c in code.co_consts if inspect.iscode(c)]  # nested functions and lambdas
    while consts:
        inner = consts.pop()
        names |= set(inner.co_names)
        consts += [c for c in inner.co_consts if inspect.iscode(c)]
    for name in list(names):
        callee = getattr(module, name, None)
        if inspect.isfunction(callee) and callee.__module__ == module.__name__:
            names |= _code_names(callee, module, seen)
    return names


def _reaches_a_process(fn, seen: set) -> bool:
    module = inspect.getmodule(fn)
    if module is None:
        return False
    names = _code_names(fn, module, seen)
    used = [getattr(module, name, None) for name in names]
    if any(obj is helper for obj in used for helper in SPAWNING_HELPERS):
        return True
    if any(getattr(obj, "__module__", "").startswith("playwright") for obj in used):
        return True  # a browser
    return getattr(module, "subprocess", None) is subprocess and bool(names & SUBPROCESS_CALLS)


def _spawns(item: pytest.Function) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    name2defs = info.name2fixturedefs if info is not None else {}
    fns = [item.function]
    for name in item.fixturenames:
        fixturedef = name2defs.get(name, [None])[-1]  # the definition that applies to this item
        if fixturedef is None:
            continue
        if name in SPAWNING_FIXTURES and fixturedef.func.__module__.endswith("conftest"):
            return True
        if fixturedef.func.__module__.startswith("tests."):  # not pytest's own tmp_path, monkeypatch, …
            fns.append(fixturedef.func)
    seen: set = set()
    return any(_reaches_a_process(fn, seen) for fn in fns)


# Seconds per file of a recent whole run (``make test-durations`` rewrites it); a file not in it is
# guessed at from its tests: one that starts processes costs seconds (imports alone), one that
# does not, a fraction of a second.
DURATIONS = Path(__file__).with_name("durations.json")
GUESS_S = {"integration": 5.0, "other": 0.3}


def _file_costs(items: list[pytest.Item]) -> dict[str, float]:
    root = Path(__file__).parent.parent
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    guess: dict[str, float] = {}
    for item in items:
        kind = "integration" if item.get_closest_marker("integration") else "other"
        name = Path(item.path).relative_to(root).as_posix()
        guess[name] = guess.get(name, 0.0) + GUESS_S[kind]
    return {name: known.get(name, g) for name, g in guess.items()}


def _longest_files_first(items: list[pytest.Item]) -> None:
    """Orders the files by cost, most first, keeping each file's own order.

    ``make test`` hands out whole files (``--dist loadfile --no-loadscope-reorder``); a long file
    handed out last would keep the run going on one worker while the others sit idle.
    """
    root = Path(__file__).parent.parent
    cost = _file_costs(items)
    items.sort(key=lambda item: -cost[Path(item.path).relative_to(root).as_posix()])  # stable


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        if item.get_closest_marker("integration"):
            continue
        folder = Path(item.path).relative_to(root).parts[0]
        if folder in INTEGRATION_FOLDERS or (isinstance(item, pytest.Function) and _spawns(item)):
            item.add_marker(pytest.mark.integration)
    _longest_files_first(items)


def _runs_tests(config: pytest.Config) -> bool:
    """False in xdist's controller, which only hands test files to its workers."""
    return hasattr(config, "workerinput") or getattr(config.option, "dist", "no") == "no"


def pytest_configure(config: pytest.Config) -> None:
    make_session_caches()  # before xdist starts its workers, which inherit them
    if not _runs_tests(config):
        return  # the controller starts the workers sooner without importing JAX (~2.5 s with MLflow)
    import jax  # here, not at the top: see above

    from experiments.collector import collect_less_often
    from experiments.compile_cache import enable_compilation_cache

    collect_less_often()  # as in bplab's processes: the workers hold JAX, MLflow and Optuna too

    jax.config.update("jax_numpy_rank_promotion", "raise")
    # In-process tests share compiled programs with the other workers and the processes they start
    # (measured: the whole suite 282 -> 269 s, 520 -> 491 CPU-s on 2 cores).
    enable_compilation_cache()
    # XLA's LLVM optimisation passes are about half of a small program's compile time, and the tests
    # compile thousands of small programs (`make test-fast`: 163.8 -> 137.2 s on 2 cores). The tests
    # check the equations to tolerances that do not depend on how LLVM optimised the code, so they
    # compile with most optimisations off, and so do the `bplab` processes they start (`clean_env`).
    # Tests of exact float32 values, marked `optimized`, run the programs a user runs.
    jax.config.update("jax_disable_most_optimizations", True)


@pytest.fixture(autouse=True)
def _optimized_programs(request: pytest.FixtureRequest) -> None:
    """A test marked ``optimized`` runs fully optimised programs, as ``bplab`` compiles them.

    The flag is not part of JAX's in-memory program caches, so they are cleared where it changes
    (between a marked test and an unmarked one, not between two marked ones); the persistent cache
    keys on it, so the programs come back from disk, not from the compiler.
    """
    import jax  # not at the top: see pytest_configure (loaded once per worker)

    off = request.node.get_closest_marker("optimized") is None
    if jax.config.read("jax_disable_most_optimizations") != off:
        jax.clear_caches()
        jax.config.update("jax_disable_most_optimizations", off)


@pytest.fixture(autouse=True)
def _one_trial_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeps run in a test's own process train one trial at a time (``BPLAB_LANES=1``, the default),
    whatever the developer's environment says: those tests count and order trials as one lane makes
    them (``tests/sweeps/test_lanes.py`` sets its own; ``clean_env`` drops it for ``bplab`` processes)."""
    monkeypatch.setenv("BPLAB_LANES", "1")


@pytest.fixture(autouse=True)
def _xla_pool_as_found() -> Iterator[None]:
    """Each test leaves ``NPROC`` (XLA's CPU pool size) and what this process set of it as it found
    them. A sweep run in the test's process sets both (:func:`experiments.cpu_threads.pool_for`); a
    value left behind without its record reads, to a later sweep in the same pytest worker, as the
    user's own ``NPROC``, and that sweep would train one trial at a time whatever it asked for."""
    from experiments import cpu_threads

    found = os.environ.get(XLA_THREADS), cpu_threads._ours[0]
    yield
    nproc, cpu_threads._ours[0] = found
    if nproc is None:
        os.environ.pop(XLA_THREADS, None)
    else:
        os.environ[XLA_THREADS] = nproc


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_session_server()


# --- processes ------------------------------------------------------------------------------------


@pytest.fixture
def no_nproc(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``NPROC`` (XLA's CPU pool size), none set by this process before, and a CPU-only JAX: where
    bplab decides the pool itself. ``_xla_pool_as_found`` puts both back after the test."""
    from experiments import cpu_threads

    os.environ.pop(XLA_THREADS, None)
    cpu_threads._ours[0] = None
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")


@pytest.fixture(scope="session")
def jax_cache() -> Path:
    """The session's JAX compilation cache (a temp folder, not the user's home)."""
    return session_jax_cache()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[BplabProcs]:
    """``procs.start([...bplab args], cwd=, env=)``; every process is stopped at teardown."""
    started = BplabProcs(tmp_path)
    yield started
    started.stop_all()  # pytest runs this whatever the test did


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Server:
    """The session's PostgreSQL: the local server, or a throwaway cluster; skips when neither."""
    pytest.importorskip("psycopg2")
    server = session_server()
    if server is None:
        pytest.skip("no PostgreSQL on 127.0.0.1 and no binaries to start a throwaway cluster")
    return server


@pytest.fixture
def databases(pg_server: Server) -> Iterator[Databases]:
    """Unique databases for one test, all dropped afterwards."""
    dbs = Databases(pg_server)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def pg_url(databases: Databases, pg_server: Server) -> str:
    """The SQLAlchemy URL of a fresh database, dropped after the test."""
    return pg_server.url(databases.create("test"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help=f"record each file's summed test time in {DURATIONS.name} (orders the next runs)",
    )


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if not config.getoption("--record-durations"):
        return
    totals: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport):
                name = report.nodeid.split("::", 1)[0]
                totals[name] = totals.get(name, 0.0) + report.duration
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    known.update(
        {name: round(seconds, 1) for name, seconds in totals.items()}
    )  # a partial run updates its files
    DURATIONS.write_text(json.dumps(dict(sorted(known.items())), indent=1) + "\n")
