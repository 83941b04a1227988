"""Creating, resuming and joining a study.

The study holds everything a joining worker needs, in its user attributes: the resolved base config
(``bplab.config``), the budget (``bplab.n_trials``), the MLflow tracking URI and the parent run id.
So ``bplab worker`` needs nothing but the study's name and storage.
"""

from __future__ import annotations

import logging
import warnings

import optuna

from experiments.config import RunConfig
from experiments.errors import BadInput
from experiments.names import (
    ATTR_BUDGET,
    ATTR_CONFIG,
    ATTR_PARENT,
    ATTR_SAMPLER_SEED,
    ATTR_SAMPLERS,
    ATTR_SOURCE,
    ATTR_TRACKING,
)
from experiments.process import process_identity
from sweeps.changes import check_same_sweep
from sweeps.space import SweepSpec, parse_sweep
from sweeps.study.handle import StudyHandle
from sweeps.study.locks import study_lock
from sweeps.study.samplers import derive_seed, make_pruner, make_sampler
from sweeps.study.storage import open_storage
from sweeps.study.url import StorageURL


class _NoFallbackNote(logging.Filter):
    """Drops Optuna's note that it reads trials one by one after a database error.

    Optuna reads a study's trials with one ``IN`` query and, when the database raises, logs the
    whole error as a warning (it assumes too many variables) and tries one query per trial. When the
    database is gone, that multi-line warning came before bplab's one-line error (a worker whose
    database was dropped at that moment); the fallback's own error is what bplab reports.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Caught an error from sqlalchemy")


RDB_LOGGER = "optuna.storages._rdb.storage"  # Optuna's RDB storage logs under its module's name


# What Optuna prints in every bplab process that opens a study, decided here once.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)
logging.getLogger(RDB_LOGGER).addFilter(_NoFallbackNote())


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
            check_same_sweep(base.source, name, attrs[ATTR_CONFIG], base.to_dict())
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


def claim_seed(handle: StudyHandle, *, worker_index: int = 0) -> int | None:
    """This process's sampler seed (``None`` when the sweep has no ``seed``), claimed under the study
    lock: the study counts its samplers, and the seed derives from the sweep's seed, the trials
    already there and that count, so no two processes, and no resume, share a random stream.
    The inputs and the seed are stored on the study as ``bplab.sampler_seed.<n>``."""
    if handle.spec.seed is None:
        return None
    study = handle.study
    with study_lock(handle.url, handle.name):
        sequence = int(study.user_attrs.get(ATTR_SAMPLERS, 0))
        n_existing = len(study.get_trials(deepcopy=False))
        seed = derive_seed(handle.spec.seed, n_existing=n_existing, sequence=sequence)
        study.set_user_attr(ATTR_SAMPLERS, sequence + 1)
        record = {"seed": seed, "n_existing": n_existing, "worker_index": worker_index, **process_identity()}
        study.set_user_attr(f"{ATTR_SAMPLER_SEED}.{sequence}", record)
    return seed


def with_sampler(handle: StudyHandle, *, worker_index: int = 0) -> StudyHandle:
    """Re-opens the study with this process's sampler (seeded by :func:`claim_seed`) and pruner
    (Optuna does not store them)."""
    max_epochs = handle.spec.max_epochs(handle.base.train.epochs)
    handle.sampler_seed = claim_seed(handle, worker_index=worker_index)
    handle.study = optuna.load_study(
        study_name=handle.name,
        storage=handle.study._storage,  # the same storage object, with its heartbeat settings
        sampler=make_sampler(handle.spec, seed=handle.sampler_seed),
        pruner=make_pruner(handle.spec, max_epochs=max_epochs),
    )
    return handle
