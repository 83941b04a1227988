"""The Optuna study of a sweep: where it is stored, how it is created, budgeted and kept honest.

Storage (``--storage`` or ``BPLAB_OPTUNA_STORAGE``; the first one given wins):

- unset: a journal file ``optuna.journal`` in the working folder. Several local processes append to
  it under a file lock, so a 4-worker sweep never meets SQLite's "database is locked".
- ``postgresql://…`` (or ``postgresql+psycopg2://…``): Optuna's RDB storage with heartbeats. A worker
  that dies mid-trial stops beating; a survivor fails its trial and re-queues the same params.
- ``sqlite:///…`` and ``journal:PATH`` / ``PATH.journal`` are taken too (one machine only).

The study holds everything a joining worker needs, in its user attributes: the resolved base config
(``bplab.config``), the budget (``bplab.n_trials``), the MLflow tracking URI and the parent run id.

The budget is global and exact. Before each trial a worker takes a study-wide lock (a file lock beside
a journal or SQLite file, a PostgreSQL advisory lock otherwise), re-queued trials first, and asks for a
new trial only while fewer than ``n_trials`` original trials exist. A retry (a re-queued trial, marked
by Optuna's ``failed_trial`` system attribute) takes the place of the trial it repeats, so it is not
counted twice. (Optuna's ``MaxTrialsCallback`` stops a worker only after a trial ends, so K workers
can overshoot by K − 1: hence the lock.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from experiments.config import RunConfig
from experiments.errors import BadInput
from sweeps.objective import ATTR_HOST, ATTR_PID, ATTR_PID_START, pid_start_time
from sweeps.space import SweepSpec, grid_space, parse_sweep

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)

ENV_STORAGE = "BPLAB_OPTUNA_STORAGE"
DEFAULT_JOURNAL = "optuna.journal"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
# Study user attributes.
ATTR_CONFIG = "bplab.config"
ATTR_SOURCE = "bplab.source"
ATTR_BUDGET = "bplab.n_trials"
ATTR_TRACKING = "bplab.tracking_uri"
ATTR_PARENT = "bplab.parent_run_id"


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
        return StorageURL("postgresql", "postgresql+psycopg2://" + text.split("://", 1)[1])
    if text.startswith("postgresql+"):
        return StorageURL("postgresql", text)
    if text.startswith("sqlite:///"):
        path = text.removeprefix("sqlite:///")
        return StorageURL("sqlite", "sqlite:///" + str((cwd / path).resolve()))
    if "://" not in text and text.endswith(".journal"):
        return StorageURL("journal", str((cwd / text).resolve()))
    raise BadInput(
        f"--storage {text!r}: expected a postgresql:// URL, sqlite:///PATH, or a PATH.journal file"
    )


def probe_storage(url: StorageURL) -> None:
    """Checks a database storage answers, writing nothing (so a bad ``--storage`` leaves no trace).

    Raises:
      BadInput: one line with the driver's reason.
    """
    if url.kind != "postgresql":
        return
    import sqlalchemy
    import sqlalchemy.exc

    engine = sqlalchemy.create_engine(
        url.target, poolclass=sqlalchemy.pool.NullPool, connect_args={"connect_timeout": 10}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as e:
        reason = getattr(e, "orig", None) or e
        first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(e).__name__
        raise BadInput(f"--storage {url.redacted()}: cannot reach the database: {first}") from None
    finally:
        engine.dispose()


class _HeartbeatRetry:
    """The heartbeat-stale callback: re-queue the trial's params (as Optuna's retry callback) and mark
    its orphaned MLflow run FAILED, so the run and the trial agree."""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        requeue(study, trial)
        from sweeps.reconcile import reconcile_trial_run

        reconcile_trial_run(study, trial, failure="worker_lost")


def open_storage(url: StorageURL, *, heartbeat: int = 10) -> optuna.storages.BaseStorage:
    """Optuna's storage for ``url``; PostgreSQL gets heartbeats every ``heartbeat`` seconds, a grace
    period of three beats, and the retry callback.

    Raises:
      BadInput: the database cannot be reached (one line, before any run opens).
    """
    if url.kind == "journal":
        Path(url.target).parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(
            url.target, lock_obj=optuna.storages.journal.JournalFileOpenLock(url.target)
        )
        return optuna.storages.JournalStorage(backend)
    import sqlalchemy.exc

    kwargs: dict[str, Any] = {}
    if url.heartbeat_capable:
        kwargs = dict(heartbeat_interval=heartbeat, grace_period=3 * heartbeat)
        kwargs["heartbeat_stale_trial_callback"] = _HeartbeatRetry()
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    else:
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        with _creation_lock(url):  # two workers creating the tables at once is the classic race
            return optuna.storages.RDBStorage(url.target, engine_kwargs=engine_kwargs, **kwargs)
    except sqlalchemy.exc.OperationalError as e:
        first = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
        raise BadInput(f"--storage {url.redacted()}: cannot reach the database: {first}") from None


# --- the study-wide lock ---------------------------------------------------------------------------

_pg_engines: dict[str, Any] = {}
_local = threading.local()


def _pg_engine(url: str):
    import sqlalchemy

    if url not in _pg_engines:
        _pg_engines[url] = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    return _pg_engines[url]


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a study name."""
    return zlib.crc32(f"bplab:{name}".encode()) - 2**31


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def study_lock(url: StorageURL, name: str) -> Iterator[None]:
    """Serialises the few critical sections of a study (creation, reserving a trial, finalising)
    across every process of every machine that shares the storage."""
    if url.kind == "postgresql":
        import sqlalchemy

        with _pg_engine(url.target).connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(name)})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(name)})
                conn.commit()
        return
    path = url.target.removeprefix("sqlite:///")
    with _file_lock(Path(f"{path}.bplab-lock")):
        yield


@contextlib.contextmanager
def _creation_lock(url: StorageURL) -> Iterator[None]:
    import sqlalchemy.exc

    if url.kind != "postgresql":
        yield
        return
    try:
        cm = study_lock(url, "__tables__")
        cm.__enter__()
    except sqlalchemy.exc.OperationalError:
        yield  # unreachable: let RDBStorage raise the error the caller turns into one line
        return
    try:
        yield
    finally:
        cm.__exit__(None, None, None)


# --- sampler, pruner ------------------------------------------------------------------------------


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus its ``study.stop()`` when the grid is used up: that call is only
    legal inside ``study.optimize``, and our ask-and-tell loop ends on the study's budget instead."""

    def after_trial(self, study, trial, state, values) -> None:
        try:
            super().after_trial(study, trial, state, values)
        except RuntimeError as e:
            if "Study.stop" not in str(e):
                raise


def make_sampler(spec: SweepSpec, *, worker_index: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler of ``spec``. Workers get distinct seeds so they do not propose the same points."""
    seed = None if spec.seed is None else spec.seed + worker_index
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "grid":
        return _GridSampler(grid_space(spec), seed=seed)
    if spec.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401  (Optuna's CMA-ES sampler needs it)
        except ImportError:
            raise BadInput("sweep.sampler = cmaes needs the `cmaes` package: pip install cmaes") from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(spec: SweepSpec, *, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner of ``spec``; the step it sees is the epoch."""
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1))
    # Let a few trials finish and every trial train a little before comparing medians.
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, max_epochs // 5))


# --- the study ------------------------------------------------------------------------------------


@dataclass
class StudyHandle:
    """An open study with what the sweep stored in it."""

    url: StorageURL
    study: optuna.Study
    base: RunConfig
    spec: SweepSpec
    budget: int
    tracking_uri: str
    parent_run_id: str | None

    @property
    def name(self) -> str:
        return self.study.study_name


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    """A config dict without the keys a resume may change (the budget and the time limit)."""
    d = json.loads(json.dumps(d))
    d.get("sweep", {}).pop("n_trials", None)
    d.get("sweep", {}).pop("timeout", None)
    return d


def create_or_resume(
    url: StorageURL,
    name: str,
    base: RunConfig,
    spec: SweepSpec,
    *,
    tracking_uri: str,
    heartbeat: int = 10,
) -> StudyHandle:
    """Creates the study once, or resumes it; races between processes starting together are safe.

    Raises:
      BadInput: the study exists with a different config (a resume must run the same sweep).
    """
    storage = open_storage(url, heartbeat=heartbeat)
    with study_lock(url, name):
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                direction=spec.direction,
                load_if_exists=True,
            )
        except optuna.exceptions.DuplicatedStudyError:  # another machine won the race: join it
            study = optuna.load_study(study_name=name, storage=storage)
        attrs = study.user_attrs
        if ATTR_CONFIG in attrs:
            if _comparable(attrs[ATTR_CONFIG]) != _comparable(base.to_dict()):
                raise BadInput(
                    f"{base.source}: study {name!r} already holds a different sweep; "
                    "resume it with its own config or pick a new --study"
                )
            tracking_uri = attrs.get(ATTR_TRACKING, tracking_uri)
        else:
            study.set_user_attr(ATTR_CONFIG, base.to_dict())
            study.set_user_attr(ATTR_SOURCE, base.source)
            study.set_user_attr(ATTR_TRACKING, tracking_uri)
        if study.direction.name.lower() != spec.direction:
            raise BadInput(f"{base.source}: study {name!r} was created to {study.direction.name.lower()}")
        study.set_user_attr(ATTR_BUDGET, spec.n_trials)  # the requested total: a resume may raise it
    return StudyHandle(url, study, base, spec, spec.n_trials, tracking_uri, attrs.get(ATTR_PARENT))


def load(url: StorageURL, name: str, *, heartbeat: int = 10, worker_index: int = 0) -> StudyHandle:
    """Joins an existing study with nothing but its name and storage (``bplab worker``).

    Raises:
      BadInput: no such study, or one not created by ``bplab sweep``.
    """
    storage = open_storage(url, heartbeat=heartbeat)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        known = f"; known: {', '.join(names)}" if names else ""
        raise BadInput(f"--study {name!r}: no such study in {url.redacted()}{known}") from None
    attrs = study.user_attrs
    if ATTR_CONFIG not in attrs:
        raise BadInput(f"--study {name!r}: not a bplab sweep (no stored config); start it with `bplab sweep`")
    base = RunConfig.from_dict(attrs[ATTR_CONFIG], attrs.get(ATTR_SOURCE, f"study {name}"))
    spec = parse_sweep(base.sweep, base.source)
    return with_sampler(
        StudyHandle(
            url,
            study,
            base,
            spec,
            int(attrs.get(ATTR_BUDGET, spec.n_trials)),
            attrs.get(ATTR_TRACKING, ""),
            attrs.get(ATTR_PARENT),
        ),
        worker_index=worker_index,
    )


def with_sampler(handle: StudyHandle, *, worker_index: int = 0) -> StudyHandle:
    """Re-opens the study with this worker's sampler and pruner (Optuna does not store them)."""
    max_epochs = handle.spec.max_epochs(handle.base.train.epochs)
    handle.study = optuna.load_study(
        study_name=handle.name,
        storage=handle.study._storage,  # the same storage object, with its heartbeat settings
        sampler=make_sampler(handle.spec, worker_index=worker_index),
        pruner=make_pruner(handle.spec, max_epochs=max_epochs),
    )
    return handle


# --- the budget -----------------------------------------------------------------------------------


def is_retry(trial: FrozenTrial) -> bool:
    """A re-queued trial (by the heartbeat callback, the reaper or an interrupt) repeats another."""
    return "failed_trial" in trial.system_attrs


def retried_numbers(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of the trials that a later trial repeats."""
    out: set[int] = set()
    for t in trials:
        out.update(t.system_attrs.get("retry_history", []))
    return out


def originals(trials: Sequence[FrozenTrial]) -> int:
    """How much of the budget is spent: trials that are not retries, in any state."""
    return sum(not is_retry(t) for t in trials)


def accounted(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The finished trials that count: complete, pruned and failed, minus failures that were retried
    (their retry stands for them)."""
    superseded = retried_numbers(trials)
    return [t for t in trials if t.state in FINISHED and t.number not in superseded]


def is_done(trials: Sequence[FrozenTrial], budget: int) -> bool:
    """The budget is spent and nothing is running or waiting."""
    busy = any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    return not busy and originals(trials) >= budget


def reserve(handle: StudyHandle) -> optuna.Trial | None:
    """Takes the next trial under the study lock: a re-queued one first, else a new one while the
    budget allows; ``None`` when neither. The trial is stamped with this process's host and pid."""
    from sweeps.objective import process_identity

    with study_lock(handle.url, handle.name):
        trials = handle.study.get_trials(deepcopy=False)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        budget = int(handle.study.user_attrs.get(ATTR_BUDGET, handle.budget))
        if not waiting and originals(trials) >= budget:
            return None
        trial = handle.study.ask()  # pops a waiting trial when there is one
        for key, value in process_identity().items():
            trial.set_user_attr(key, value)
        return trial


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queues a failed trial's params again, marked as a retry the way Optuna's own
    ``RetryHeartbeatStaleTrialCallback`` marks it (``failed_trial``, ``retry_history``), but without
    the failed trial's user attributes: its failure label and process belong to the attempt that failed.
    """
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    system_attrs = {
        **trial.system_attrs,
        "failed_trial": trial.system_attrs.get("failed_trial", trial.number),
    }
    system_attrs["retry_history"] = history
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            system_attrs=system_attrs,
        )
    )


# --- the reaper (journal and SQLite: no heartbeats) ------------------------------------------------


def process_alive(host: str | None, pid: int | None, start: int | None, *, this_host: str) -> bool:
    """Whether the process that holds a trial still runs. Another host's process is assumed alive
    (a journal is one machine's store); a reused pid is told apart by its start time."""
    if host != this_host or pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or pid_start_time(pid) == start


def reap(handle: StudyHandle) -> list[int]:
    """Fails RUNNING trials whose process is gone, re-queues their params and marks their MLflow
    runs FAILED (``bplab.failure=worker_lost``). Returns the reaped trial numbers.

    PostgreSQL studies use heartbeats instead (:func:`optuna.storages.fail_stale_trials`).
    """
    import socket

    from sweeps.reconcile import reconcile_trial_run

    if handle.url.heartbeat_capable:
        optuna.storages.fail_stale_trials(handle.study)
        return []
    this_host = socket.gethostname()
    reaped = []
    with study_lock(handle.url, handle.name):
        for t in handle.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            a = t.user_attrs
            if process_alive(a.get(ATTR_HOST), a.get(ATTR_PID), a.get(ATTR_PID_START), this_host=this_host):
                continue
            frozen = handle.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            if frozen.state == TrialState.FAIL:
                requeue(handle.study, frozen)
                reaped.append(t.number)
    for number in reaped:
        reconcile_trial_run(handle.study, handle.study.trials[number], failure="worker_lost")
    return reaped
