"""The Optuna study of a sweep: where it is stored, how it is locked, created, budgeted and reaped.

- :mod:`~sweeps.study.url`: which storage (journal file, SQLite, PostgreSQL) a ``--storage`` means.
- :mod:`~sweeps.study.storage`: opening it, checked first, with heartbeats on PostgreSQL.
- :mod:`~sweeps.study.locks`: the study-wide lock around creation, reservation and finalising.
- :mod:`~sweeps.study.samplers`: the sampler and pruner of a ``[sweep]`` table.
- :mod:`~sweeps.study.lifecycle`: create, resume, join (:class:`StudyHandle`).
- :mod:`~sweeps.study.budget`: the exact global budget, retries counted once.
- :mod:`~sweeps.study.reaper`: failing and re-queueing the trials of dead processes.
"""

from sweeps.study.budget import accounted, is_done, is_retry, originals, requeue, reserve, retried_numbers
from sweeps.study.handle import StudyHandle
from sweeps.study.journal import batched_reports
from sweeps.study.lifecycle import create_or_resume, load, with_sampler
from sweeps.study.locks import study_lock
from sweeps.study.reaper import reap
from sweeps.study.samplers import make_pruner, make_sampler
from sweeps.study.storage import open_storage, probe_storage
from sweeps.study.url import StorageURL, resolve_storage

__all__ = [
    "StorageURL",
    "StudyHandle",
    "accounted",
    "batched_reports",
    "create_or_resume",
    "is_done",
    "is_retry",
    "load",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "originals",
    "probe_storage",
    "reap",
    "requeue",
    "reserve",
    "resolve_storage",
    "retried_numbers",
    "study_lock",
    "with_sampler",
]
