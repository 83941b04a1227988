"""The best trial of a finished (or running) sweep, read back from its study alone.

Everything needed to reproduce it is in the storage: the base config the sweep stored, the trial's
params, and the MLflow run the worker recorded on the trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from experiments.config import RunConfig
from experiments.errors import BadInput
from experiments.names import ATTR_CONFIG, ATTR_RUN_ID, ATTR_SOURCE, ATTR_TRACKING
from sweeps.space import SweepSpec, parse_sweep
from sweeps.study.storage import open_storage
from sweeps.study.url import StorageURL
from sweeps.suggest import config_values


@dataclass(frozen=True)
class SweepStudy:
    """A bplab study opened for reading: the study, its base config and validated ``[sweep]``."""

    study: optuna.Study
    base: RunConfig
    spec: SweepSpec
    tracking_uri: str


@dataclass(frozen=True)
class Best:
    """The best trial: its number, objective value, params, MLflow run and the config that reproduces it."""

    study: str
    number: int
    value: float
    metric: str
    direction: str
    params: dict[str, Any]
    run_id: str | None
    config: RunConfig
    tracking_uri: str


def bplab_studies(url: StorageURL) -> list[str]:
    """The names of the studies in ``url`` that ``bplab sweep`` created (they hold a config)."""
    if url.kind == "journal" and not Path(url.target).exists():
        return []
    summaries = optuna.get_all_study_summaries(open_storage(url))
    return [s.study_name for s in summaries if ATTR_CONFIG in s.user_attrs]


def open_sweep(url: StorageURL, name: str | None) -> SweepStudy:
    """The study ``name`` of ``url`` (``None``: the only bplab study there).

    Raises:
      BadInput: no such study, none at all, or several and no name given.
    """
    names = bplab_studies(url)
    if name is None:
        if len(names) != 1:
            found = f"; name one of: {', '.join(names)}" if names else ""
            raise BadInput(f"{len(names) or 'no'} sweep studies in {url.redacted()}{found}")
        name = names[0]
    if name not in names:
        known = f"; known: {', '.join(names)}" if names else ""
        raise BadInput(f"study {name!r}: no such sweep in {url.redacted()}{known}")
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    attrs = study.user_attrs
    base = RunConfig.from_dict(attrs[ATTR_CONFIG], attrs.get(ATTR_SOURCE, f"study {name}"))
    return SweepStudy(study, base, parse_sweep(base.sweep, base.source), attrs.get(ATTR_TRACKING, ""))


def best_trial(url: StorageURL, name: str | None) -> Best:
    """The best complete trial of the sweep ``name`` (see :func:`open_sweep`).

    Raises:
      BadInput: no such study, or no complete trial yet.
    """
    sweep = open_sweep(url, name)
    study = sweep.study
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        raise BadInput(f"study {study.study_name!r} has no complete trial yet")
    trial = study.best_trial
    return Best(
        study=study.study_name,
        number=trial.number,
        value=float(trial.value),
        metric=sweep.spec.metric,
        direction=sweep.spec.direction,
        params=dict(trial.params),
        run_id=trial.user_attrs.get(ATTR_RUN_ID),
        config=sweep.base.with_values(config_values(trial.params)),
        tracking_uri=sweep.tracking_uri,
    )
